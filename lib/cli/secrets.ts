import { maskUrlPassword } from '../config/mask-url';

/** Environment variables whose URLs may carry credentials. */
export const SECRET_URL_VARIABLES = ['MESSAGING_AMQP_URL', 'DATABASE_URL'] as const;

/** `url` with its password replaced by `***` (best effort on unparsable input). */
export const maskUrl = maskUrlPassword;

/** The passwords (raw and percent-decoded) in the URL variables of `env`. */
export function secretsOf(env: Record<string, string | undefined>): string[] {
  const out = new Set<string>();
  for (const name of SECRET_URL_VARIABLES) {
    const url = env[name];
    const m = url ? /\/\/[^:@/]*:([^@/]+)@/.exec(url) : null;
    if (!m) continue;
    out.add(m[1]);
    try {
      out.add(decodeURIComponent(m[1]));
    } catch {
      /* not percent-encoded */
    }
  }
  return [...out].filter((s) => s.length >= 3);
}

/** Replaces every secret in `text` with `***`, and masks any URL password left. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:@/\s]*:)[^@/\s]+@/gi, '$1***@');
}
