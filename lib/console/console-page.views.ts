/**
 * The first half of the page's script: DOM and formatting helpers and the views of the snapshot
 * and of a journey. Plain browser JavaScript in a string (no build step). Rule for everything
 * shown: data from the API is set with `textContent` or as a text node, never parsed as HTML, and
 * never used to look up a property (Maps and `Object.entries` only).
 */
export const CONSOLE_SCRIPT_VIEWS = String.raw`
  var $ = function (id) { return document.getElementById(id); };

  /** An element: props from this script only (class, text, onclick, attributes); children are nodes or text. */
  function h(tag, props) {
    var el = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v === undefined || v === null || v === false) return;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = String(v);
        else if (k === 'onclick') el.addEventListener('click', v);
        else el.setAttribute(k, String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function add(el, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { add(el, c); }); return; }
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  function replace(el, children) { el.textContent = ''; add(el, children); }

  function num(n) { return typeof n === 'number' && isFinite(n) ? n.toLocaleString('en-US') : '—'; }
  function plural(n, word) { return num(n) + ' ' + word + (n === 1 ? '' : 's'); }
  function dur(ms) {
    if (typeof ms !== 'number' || !isFinite(ms)) return '—';
    if (ms < 1000) return Math.round(ms) + ' ms';
    var s = Math.round(ms / 1000);
    if (s < 60) return s + ' s';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + (s % 60) + ' s';
    var hr = Math.floor(m / 60);
    if (hr < 48) return hr + ' h ' + (m % 60) + ' min';
    return Math.floor(hr / 24) + ' d ' + (hr % 24) + ' h';
  }
  function ago(iso) {
    var t = Date.parse(iso);
    if (!isFinite(t)) return '—';
    var d = Date.now() - t;
    return d < 5000 ? 'just now' : dur(d) + ' ago';
  }
  function clock(iso) { var t = new Date(iso); return isNaN(t.getTime()) ? String(iso) : t.toLocaleString('en-GB'); }
  function clip(text, max) { text = String(text); return text.length > max ? text.slice(0, max) + '\n… (' + (text.length - max) + ' more characters)' : text; }
  function short(id) { id = String(id); return id.length > 14 ? id.slice(0, 8) + '…' + id.slice(-4) : id; }

  function card(label, value, detail, tone, key) {
    return h('div', { class: 'card ' + (tone || ''), 'data-card': key },
      h('div', { class: 'label', text: label }), h('div', { class: 'value', text: value }),
      h('div', { class: 'detail', text: detail || '' }));
  }

  /** The cards at the top: what an operator checks first. */
  function renderCards(s, groups) {
    var t = s.transport;
    var dead = 0;
    groups.forEach(function (g) { dead += g.count; });
    var depth = s.deadLetterQueue ? s.deadLetterQueue.depth : undefined;
    var behind = s.subscribers.filter(function (x) { return x.queue && x.queue.depth > 0; }).length;
    var o = s.outbox;
    var outbox = o
      ? card('Outbox lag', dur(o.oldestPendingAgeMs), num(o.pending) + ' pending · ' + num(o.failed) + ' failed' +
          (o.relay && o.relay.running ? '' : ' · relay not running here'),
          o.failed > 0 || o.oldestPendingAgeMs > 60000 ? 'bad' : o.oldestPendingAgeMs > 5000 ? 'warn' : 'ok', 'outbox')
      : card('Outbox', 'off', 'no transactional outbox configured', '', 'outbox');
    var breaches = s.breaches || [];
    replace($('cards'), [
      card('Transport', t.connected ? 'connected' : 'DOWN', t.name + (t.statsError ? ' · ' + t.statsError : ''),
        t.connected ? 'ok' : 'bad', 'transport'),
      card('Failure groups', num(groups.length), groups.length ? plural(dead, 'dead letter') + ' waiting' : 'nothing failing',
        groups.length ? 'bad' : 'ok', 'groups'),
      card('Dead-letter queue', depth === undefined ? '—' : num(depth), s.deadLetterQueue && s.deadLetterQueue.name
        ? s.deadLetterQueue.name : 'depth unknown', depth > 0 ? 'bad' : depth === 0 ? 'ok' : '', 'dlq'),
      outbox,
      card('Subscribers', num(s.subscribers.length), behind ? behind + ' with messages waiting' : 'all caught up',
        behind ? 'warn' : 'ok', 'subscribers'),
      card('Thresholds', breaches.length ? num(breaches.length) + (breaches.length === 1 ? ' breach' : ' breaches') : 'none',
        breaches.map(function (b) { return b.message; }).join(' · ') || 'nothing over its limit', breaches.length ? 'bad' : 'ok',
        'breaches'),
    ]);
  }

  /**
   * The subscribers table. "Last min": how many were handled / failed in the last minute (since the
   * page opened, when that is less), from the counters of earlier refreshes (history, oldest first).
   */
  function renderSubscribers(s, history) {
    var now = Date.parse(s.takenAt) || Date.now();
    history = history.filter(function (sample) { return now - sample.at <= 60000; });
    var base = history[0];
    var counts = new Map();
    var rows = s.subscribers.map(function (x) {
      counts.set(x.subscriber, { handled: x.handled, failed: x.failed });
      var p = base ? base.counts.get(x.subscriber) : undefined;
      var since = function (cur, old) { return p && cur >= old ? cur - old : undefined; };
      var handledLastMin = p ? since(x.handled, p.handled) : undefined;
      var failedLastMin = p ? since(x.failed, p.failed) : undefined;
      var q = x.queue;
      var inFlight = typeof x.inFlight === 'number' ? num(x.inFlight) : '—';
      return h('tr', { class: x.deadLettered > 0 || failedLastMin > 0 ? 'failing' : '', 'data-subscriber': x.subscriber },
        h('td', { class: 'mono', text: x.subscriber }),
        h('td', { class: 'n' + (q && q.depth > 0 ? ' warn' : ''), text: q ? num(q.depth) : '—' }),
        h('td', { class: 'n' + (q && q.consumers === 0 ? ' bad' : ''), text: q ? num(q.consumers) : '—' }),
        h('td', { class: 'n c-inflight', text: inFlight }),
        h('td', { class: 'n' + (x.currentLagMs > 60000 ? ' bad' : x.currentLagMs > 5000 ? ' warn' : ''), text: dur(x.currentLagMs) }),
        h('td', { class: 'n', text: num(x.handled) }),
        h('td', { class: 'n', text: num(handledLastMin) }),
        h('td', { class: 'n' + (x.failed > 0 ? ' bad' : ''), text: num(x.failed) }),
        h('td', { class: 'n' + (failedLastMin > 0 ? ' bad' : ''), text: num(failedLastMin) }),
        h('td', { class: 'n' + (x.deadLettered > 0 ? ' bad' : ''), text: num(x.deadLettered) }),
        h('td', { class: 'n', text: x.durationMs ? dur(x.durationMs.p99) : '—' }));
    });
    if (rows.length === 0) rows = [h('tr', null, h('td', { colspan: '11', class: 'muted', text: 'No subscribers in this service.' }))];
    // the column shows once the snapshot carries in-flight counts
    var table = $('subscribers');
    table.className = s.subscribers.some(function (x) { return typeof x.inFlight === 'number'; }) ? '' : 'no-inflight';
    replace(table.querySelector('tbody'), rows);
    history.push({ at: now, counts: counts });
    return history;
  }

  function renderJourney(j) {
    if (!j.total) {
      return h('div', { class: 'empty', text: 'No message found for ' + j.query +
        '. The outbox and inbox of this service record what it published and handled (until their retention removes it).' });
    }
    return [
      h('p', { class: 'journey-summary' }, plural(j.total, 'message'),
        j.correlationId ? [' with correlation id ', h('code', { text: j.correlationId })] : null),
      j.deadLettersTruncated ? h('p', { class: 'notice warn', role: 'status', 'data-notice': 'truncated',
        text: 'Partial: only the ' + num(j.deadLettersScanned) + ' oldest dead letters of the queue were read; ' +
          'dead letters of this journey that are newer are not shown.' }) : null,
      h('ul', null, j.roots.map(function (m) { return renderJourneyMessage(m, 0); })),
    ];
  }

  function renderJourneyMessage(m, depth) {
    var lines = [];
    var o = m.outbox;
    if (o) {
      lines.push(h('div', { class: 'jm-line' }, 'Outbox: ',
        h('span', { class: 'tag ' + (o.status === 'sent' ? 'ok' : o.status === 'failed' ? 'bad' : 'warn'), text: o.status }),
        (o.sentAt ? ' ' + clock(o.sentAt) : '') + (o.attempts > 0 ? ' · ' + plural(o.attempts, 'failed publish attempt') : '') +
        (o.lastError ? ' · last error: ' + o.lastError : '')));
    }
    (m.handledBy || []).forEach(function (x) {
      lines.push(h('div', { class: 'jm-line' }, h('span', { class: 'tag ok', text: 'handled' }), ' by ',
        h('code', { text: x.subscriber }), ' at ' + clock(x.processedAt)));
    });
    (m.deadLetters || []).forEach(function (d) {
      var settled = d.status === 'replayed' || d.status === 'purged';
      lines.push(h('div', { class: 'jm-line' },
        h('span', { class: 'tag ' + (settled ? 'muted' : 'bad'), text: settled ? 'dead letter, ' + d.status + (d.statusBy ? ' by ' + d.statusBy : '') : 'dead letter' }), ' in ',
        h('code', { text: d.subscriber }), ' after ' + plural(d.attempts, 'attempt') + ': ',
        h('span', { class: 'error', text: d.error.name + ': ' + d.error.message })));
    });
    if (lines.length === 0) lines.push(h('div', { class: 'jm-line muted', text: 'No subscriber of this service recorded handling it.' }));
    var failed = (m.deadLetters || []).some(function (d) { return d.status !== 'replayed' && d.status !== 'purged'; });
    var children = m.children || [];
    return h('li', { class: 'jm', 'data-message-id': m.id },
      h('div', { class: 'jm-card' + (failed ? ' failed' : '') },
        h('div', { class: 'jm-head' }, h('span', { class: 'jm-type', text: m.type }), h('code', { text: m.id }),
          m.source ? h('span', { class: 'muted', text: 'from ' + m.source }) : null,
          m.time ? h('span', { class: 'muted', text: clock(m.time) }) : null),
        lines),
      children.length && depth < 40
        ? h('ul', null, children.map(function (c) { return renderJourneyMessage(c, depth + 1); })) : null);
  }
`;
