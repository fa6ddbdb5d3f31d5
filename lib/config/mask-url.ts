/**
 * `url` with its password replaced by `***`, safe for logs and error messages (AMQP and database
 * URLs alike). Best effort on unparsable input (the `user:password@` part).
 */
export function maskUrlPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }
}
