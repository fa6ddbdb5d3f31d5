import { maskUrlPassword } from '../../config/mask-url';

/**
 * Returns the URL with its password replaced by `***`, safe for logs and error messages.
 * Works on unparsable input too (best effort on the `user:password@` part).
 */
export const maskAmqpUrl: (url: string) => string = maskUrlPassword;

/** The secrets (password, raw and decoded) of an AMQP URL, to scrub from any text we surface. */
export function urlSecrets(url: string): string[] {
  const secrets = new Set<string>();
  const match = /\/\/[^:@/]*:([^@/]*)@/.exec(url);
  if (match && match[1]) {
    secrets.add(match[1]);
    try {
      secrets.add(decodeURIComponent(match[1]));
    } catch {
      /* not percent-encoded */
    }
  }
  return [...secrets].filter((s) => s.length > 0);
}

/** Replaces every occurrence of the given secrets in `text` by `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}
