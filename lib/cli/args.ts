/** Parsed command line: positional words and `--flag` / `--flag value` options. */
export interface ParsedArgs {
  /** Words that are not options, in order (`dlq`, `replay`, an id…). */
  positionals: string[];
  /** Options by name without dashes; `true` for a flag without value. */
  flags: Record<string, string | true>;
}

/** Options that take a value (everything else is a boolean flag). */
const WITH_VALUE = new Set(['subscriber', 'error', 'type', 'limit', 'group', 'token']);

/** Thrown for a malformed command line (exit code 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Parses `argv` (without node and the script); `--name=value` and `--name value` both work. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const positionals: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h') {
      flags.help = true;
      continue;
    }
    if (arg === '-y') {
      flags.yes = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (!/^[a-z][a-z-]*$/.test(name)) throw new UsageError(`invalid option ${arg}`);
    if (WITH_VALUE.has(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '' || (eq < 0 && value.startsWith('--')))
        throw new UsageError(`--${name} needs a value`);
      flags[name] = value;
    } else {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
    }
  }
  return { positionals, flags };
}

/** The string value of option `name`, if given. */
export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** Fails on options not in `allowed`. */
export function onlyFlags(args: ParsedArgs, allowed: readonly string[]): void {
  for (const name of Object.keys(args.flags)) {
    if (!allowed.includes(name))
      throw new UsageError(`unknown option --${name} (accepted: ${allowed.map((a) => `--${a}`).join(', ') || 'none'})`);
  }
}
