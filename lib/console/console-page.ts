import { createHash } from 'node:crypto';
import type { ResolvedConsoleOptions } from './console-options.interface';
import { CONSOLE_SCRIPT } from './console-page.script';
import { CONSOLE_STYLE } from './console-page.style';

/** What the page's script reads from the page (a JSON block, not code). */
export interface ConsolePageConfig {
  title: string;
  refreshIntervalMs: number;
  tokenRequired: boolean;
  dryRunSample: number;
}

function hashOf(source: string): string {
  return `'sha256-${createHash('sha256').update(source, 'utf8').digest('base64')}'`;
}

/**
 * The page's Content-Security-Policy: only its own inline script and style (by hash), requests to
 * its own origin, no frames, no plugins, no form posts elsewhere. Data from the wire is only ever
 * set as text, and even a mistake there could not load or run anything.
 */
export const CONSOLE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src ${hashOf(CONSOLE_SCRIPT)}`,
  `style-src ${hashOf(CONSOLE_STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** HTML-escapes text for an element's content or a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON for a `<script type="application/json">` block: nothing in it can close the element. */
export function jsonForScriptBlock(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The whole page: markup, style and script, and the options the script needs. */
export function renderConsolePage(options: ResolvedConsoleOptions): string {
  const config: ConsolePageConfig = {
    title: options.title,
    refreshIntervalMs: options.refreshIntervalMs,
    tokenRequired: options.tokenDigest !== undefined,
    dryRunSample: options.dryRunSample,
  };
  const title = escapeHtml(options.title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${title}</title>
<style>${CONSOLE_STYLE}</style>
</head>
<body>
<header class="top">
  <div class="brand"><h1 id="title">${title}</h1><span id="service" class="service"></span></div>
  <div class="status">
    <span id="connection" class="pill">connecting…</span>
    <span id="updated" class="muted"></span>
    <button id="pause" type="button" class="quiet">Pause refresh</button>
    <button id="signout" type="button" class="quiet" hidden>Forget token</button>
  </div>
</header>
<div id="banner" class="banner" role="status" hidden></div>
<section id="login" class="login" hidden>
  <form id="login-form" class="panel">
    <h2>Sign in</h2>
    <p>This console is protected by a token (ask whoever set up the service: option <code>token</code> of <code>MessagingConsoleModule</code>).</p>
    <label for="token-input">Console token</label>
    <input id="token-input" type="password" autocomplete="current-password" required>
    <button type="submit" class="primary">Sign in</button>
    <p id="login-error" class="error" hidden></p>
    <p class="muted">Kept in this browser tab only, sent with each request in a header.</p>
  </form>
</section>
<main id="main" hidden>
  <section class="cards" id="cards" aria-label="Health at a glance"></section>
  <section class="block" id="failures" aria-labelledby="failures-title">
    <div class="block-head">
      <h2 id="failures-title">Failure groups <span id="groups-count" class="count"></span></h2>
      <p class="hint">Dead letters that failed in one subscriber for one cause. <b>Dry run</b> runs the handler on a sample inside a transaction that is always rolled back, its publishes captured (PostgreSQL outbox only); writes outside the message's transaction fail the dry run, and calls to outside systems are not undone (handlers can check <code>MessageContext.isDryRun</code>). Then <b>Retry</b> sends the group back to that subscriber.</p>
    </div>
    <p id="groups-truncated" class="notice warn" role="status" hidden></p>
    <div id="groups" class="groups"></div>
  </section>
  <section class="block" id="subscribers-block" aria-labelledby="subscribers-title">
    <div class="block-head"><h2 id="subscribers-title">Subscribers</h2>
      <p class="hint">"Last min": in the last minute (since the page opened, if that is shorter). Lag now: roughly how long the oldest waiting message has waited.</p></div>
    <div class="table-wrap"><table id="subscribers">
      <thead><tr><th>Subscriber</th><th class="n">Queue depth</th><th class="n">Consumers</th><th class="n c-inflight">In flight</th><th class="n">Lag now</th><th class="n">Handled</th><th class="n">Handled, last min</th><th class="n">Failed</th><th class="n">Failed, last min</th><th class="n">Dead-lettered</th><th class="n">p99 time</th></tr></thead>
      <tbody></tbody>
    </table></div>
  </section>
  <section class="block" id="journey-block" aria-labelledby="journey-title">
    <div class="block-head"><h2 id="journey-title">Message journey</h2>
      <p class="hint">Follow one order across services: who published what, who handled it, what failed.</p></div>
    <form id="journey-form" class="search">
      <label for="journey-id" class="sr">Correlation id or message id</label>
      <input id="journey-id" type="search" placeholder="Correlation id or message id" autocomplete="off" spellcheck="false" maxlength="200" required>
      <button type="submit" class="primary">Trace</button>
    </form>
    <div id="journey" class="journey"></div>
  </section>
</main>
<dialog id="confirm" class="dialog">
  <form method="dialog">
    <h2 id="confirm-title">Purge?</h2>
    <p id="confirm-text"></p>
    <p class="warn">Purged dead letters are deleted from the queue and cannot be replayed.</p>
    <div class="actions"><button value="cancel" id="confirm-cancel">Cancel</button><button value="ok" id="confirm-ok" class="danger">Purge</button></div>
  </form>
</dialog>
<script type="application/json" id="console-config">${jsonForScriptBlock(config)}</script>
<script>${CONSOLE_SCRIPT}</script>
</body>
</html>
`;
}
