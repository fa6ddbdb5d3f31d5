import { createInterface } from 'node:readline';
import { redact } from './secrets';

/** Where the CLI writes and how it asks; every line goes through secret redaction. */
export interface CliIo {
  /** A line of results (stdout). */
  out(line: string): void;
  /** A line of progress, warnings or errors (stderr). */
  err(line: string): void;
  /** Whether stdin is a terminal (confirmation prompts are possible). */
  readonly interactive: boolean;
  /** Asks a yes/no question; resolves true only for an explicit yes. */
  confirm(question: string): Promise<boolean>;
}

/** The process's stdin/stdout/stderr, redacting `secrets`. */
export function processIo(secrets: readonly string[]): CliIo {
  return {
    out: (line) => void process.stdout.write(redact(line, secrets) + '\n'),
    err: (line) => void process.stderr.write(redact(line, secrets) + '\n'),
    interactive: process.stdin.isTTY === true,
    confirm: (question) =>
      new Promise<boolean>((resolve) => {
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        rl.question(`${question} [y/N] `, (answer) => {
          rl.close();
          resolve(/^(y|yes)$/i.test(answer.trim()));
        });
      }),
  };
}
