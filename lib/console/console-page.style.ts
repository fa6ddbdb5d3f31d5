/** The console page's style sheet (inline, allowed by its hash in the page's CSP). */
export const CONSOLE_STYLE = String.raw`
:root { --fg: #1d2433; --muted: #5b6475; --line: #dde1e8; --bg: #f4f6f9; --panel: #fff;
  --bad: #b42318; --bad-bg: #fef3f2; --ok: #067647; --ok-bg: #ecfdf3; --warn: #b54708; --warn-bg: #fffaeb;
  --accent: #1f4fd1; --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); background: var(--bg); }
code, .mono { font-family: var(--mono); font-size: 13px; }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 17px; margin: 0 0 4px; }
button { font: inherit; font-size: 14px; padding: 6px 12px; border-radius: 6px; border: 1px solid var(--line);
  background: #fff; color: var(--fg); cursor: pointer; }
button:hover:not(:disabled) { border-color: #b6bdc9; background: #f8f9fb; }
button:disabled { opacity: .55; cursor: progress; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.primary:hover:not(:disabled) { background: #1a43b3; }
button.danger { color: var(--bad); border-color: #f1b5b0; }
button.danger:hover:not(:disabled) { background: var(--bad-bg); }
button.quiet { border-color: transparent; background: transparent; color: var(--muted); }
input { font: inherit; padding: 7px 10px; border: 1px solid #c5cbd6; border-radius: 6px; min-width: 0; }
input:focus, button:focus-visible { outline: 2px solid #8aa6f0; outline-offset: 1px; }
.top { display: flex; justify-content: space-between; align-items: center; gap: 16px; flex-wrap: wrap;
  padding: 12px 24px; background: #111827; color: #f3f4f6; }
.top .muted, .top button.quiet { color: #aeb6c4; }
.brand { display: flex; align-items: baseline; gap: 12px; }
.service { font-family: var(--mono); color: #c9d2e3; }
.status { display: flex; align-items: center; gap: 12px; }
.pill { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 13px; font-weight: 600;
  background: #374151; color: #e5e7eb; }
.pill.ok { background: var(--ok-bg); color: var(--ok); }
.pill.bad { background: var(--bad-bg); color: var(--bad); }
.muted { color: var(--muted); }
.banner { margin: 12px 24px 0; padding: 10px 14px; border-radius: 8px; border: 1px solid #b7c7f5; background: #eef3ff; }
.banner.bad { border-color: #f1b5b0; background: var(--bad-bg); color: var(--bad); }
.banner.ok { border-color: #a6e3c0; background: var(--ok-bg); color: var(--ok); }
main { max-width: 1280px; margin: 0 auto; padding: 16px 24px 48px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin-bottom: 20px; }
.card { background: var(--panel); border: 1px solid var(--line); border-left: 4px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card .label { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.card .value { font-size: 24px; font-weight: 650; margin: 2px 0; }
.card .detail { font-size: 13px; color: var(--muted); }
.card.ok { border-left-color: #32a565; }
.card.bad { border-left-color: var(--bad); }
.card.bad .value { color: var(--bad); }
.card.warn { border-left-color: #e79b2d; }
.block { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; margin-bottom: 20px; }
.block-head { margin-bottom: 12px; }
.hint { margin: 0; color: var(--muted); font-size: 13px; max-width: 900px; }
.count { display: inline-block; min-width: 24px; padding: 0 8px; border-radius: 999px; background: #e5e9f0;
  font-size: 13px; text-align: center; vertical-align: 2px; }
.count.bad { background: var(--bad); color: #fff; }
.notice.warn { margin: 0 0 10px; padding: 10px 14px; border-radius: 8px; border: 1px solid #f0d08a; background: #fff8e6; color: #7a5200; }
.empty { padding: 16px; border: 1px dashed var(--line); border-radius: 8px; color: var(--muted); text-align: center; }
.empty.ok { color: var(--ok); border-color: #a6e3c0; background: var(--ok-bg); }
.groups { display: grid; gap: 12px; }
.group { border: 1px solid #f1c9c5; border-left: 4px solid var(--bad); border-radius: 8px; padding: 12px 14px; background: #fffdfd; }
.group-head { display: flex; justify-content: space-between; gap: 12px; align-items: baseline; flex-wrap: wrap; }
.group-title { font-size: 16px; font-weight: 650; }
.group-title .err { color: var(--bad); }
.group-count { font-size: 14px; font-weight: 600; color: var(--bad); white-space: nowrap; }
.group-message { margin: 6px 0 2px; padding: 6px 8px; background: #f6f7f9; border-radius: 6px; white-space: pre-wrap; word-break: break-word; }
.group-meta { font-size: 13px; color: var(--muted); display: flex; gap: 14px; flex-wrap: wrap; margin: 4px 0 8px; }
.actions { display: flex; gap: 8px; flex-wrap: wrap; align-items: center; }
.result { margin-top: 10px; padding: 8px 12px; border-radius: 6px; font-size: 14px; }
.result.would-succeed { background: var(--ok-bg); color: var(--ok); }
.result.would-fail { background: var(--bad-bg); color: var(--bad); }
.result.mixed { background: var(--warn-bg); color: var(--warn); }
.result ul { margin: 6px 0 0; padding-left: 18px; color: var(--fg); }
.result li { margin: 2px 0; }
details { margin-top: 8px; }
summary { cursor: pointer; color: var(--accent); font-size: 14px; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; font-size: 13px; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; word-break: break-all; }
pre { margin: 4px 0; padding: 8px 10px; background: #0f172a; color: #e2e8f0; border-radius: 6px; overflow: auto;
  max-height: 320px; font-family: var(--mono); font-size: 12.5px; white-space: pre-wrap; word-break: break-word; }
.table-wrap { overflow-x: auto; }
.no-inflight .c-inflight { display: none; }
.label-small { margin-top: 10px; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { padding: 7px 10px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); font-weight: 600;
  white-space: normal; vertical-align: bottom; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.failing td:first-child { box-shadow: inset 3px 0 0 var(--bad); }
td.bad { color: var(--bad); font-weight: 600; }
td.warn { color: var(--warn); font-weight: 600; }
.search { display: flex; gap: 8px; margin-bottom: 12px; max-width: 640px; }
.search input { flex: 1; font-family: var(--mono); font-size: 14px; }
.journey ul { list-style: none; margin: 0; padding-left: 22px; border-left: 2px solid var(--line); }
.journey > ul { padding-left: 0; border-left: 0; }
.jm { margin: 8px 0; }
.jm-card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; background: #fff; }
.jm-card.failed { border-color: #f1b5b0; background: #fffafa; }
.jm-head { display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.jm-type { font-weight: 650; }
.jm-line { font-size: 13px; margin-top: 3px; }
.tag { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; font-weight: 600; background: #e5e9f0; }
.tag.ok { background: var(--ok-bg); color: var(--ok); }
.tag.bad { background: var(--bad-bg); color: var(--bad); }
.tag.warn { background: var(--warn-bg); color: var(--warn); }
.error { color: var(--bad); }
.warn { color: var(--warn); }
.login { display: flex; justify-content: center; padding: 48px 16px; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 20px 24px; width: 420px; display: grid; gap: 8px; }
.dialog { border: 1px solid var(--line); border-radius: 10px; padding: 20px 24px; max-width: 520px; }
.dialog::backdrop { background: rgba(17, 24, 39, .45); }
.dialog .actions { justify-content: flex-end; margin-top: 12px; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
`;
