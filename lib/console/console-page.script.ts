import { CONSOLE_SCRIPT_VIEWS } from './console-page.views';

/**
 * The second half of the page's script: the API calls, the failure groups (updated in place, so a
 * refresh never swaps a button under the operator's pointer), the actions and the sign-in.
 */
const CONSOLE_SCRIPT_APP = String.raw`
  var config = JSON.parse($('console-config').textContent);
  var base = location.pathname.replace(/\/+$/, '');
  var TOKEN_KEY = 'messaging-console-token:' + base;
  var state = { paused: false, timer: null, loading: null, history: [], groups: new Map(), groupsRead: null, loadError: false };

  function token() { try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; } }
  function setToken(value) { try { if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ } }

  /** A call to the console's API; rejects with the server's message and status. \`headers\`, if given, gets the answer's headers. */
  function api(method, path, body, headers) {
    var seeHeaders = headers;
    headers = { 'Accept': 'application/json', 'X-Messaging-Console': '1' };
    if (token()) headers['X-Messaging-Console-Token'] = token();
    var init = { method: method, headers: headers, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) { headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(base + '/api/' + path, init).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (res.ok) { if (seeHeaders) seeHeaders(res.headers); return data; }
        var message = data && typeof data === 'object' ? data.message : undefined;
        if (Array.isArray(message)) message = message.join('; ');
        var err = new Error(typeof message === 'string' && message ? message : res.status + ' ' + res.statusText);
        err.status = res.status;
        err.reason = data && typeof data === 'object' ? data.reason : undefined;
        throw err;
      });
    });
  }
  function enc(id) { return encodeURIComponent(id); }

  function banner(kind, text) {
    var b = $('banner');
    b.className = 'banner ' + kind;
    b.textContent = text;
    b.hidden = false;
    state.loadError = false;
  }

  /**
   * Reloads the snapshot, and the failure groups when they may have changed: the dead-letter queue's
   * depth moved, 30 s passed, or forced (after an action). Reading the groups reads the dead-letter
   * queue, which a page left open all night should not do every few seconds.
   */
  function refresh(force) {
    if (state.loading) return state.loading;
    clearTimeout(state.timer);
    state.loading = api('GET', 'overview').then(function (overview) {
      var depth = overview.deadLetterQueue ? overview.deadLetterQueue.depth : undefined;
      var g = state.groupsRead;
      if (force !== true && g && depth !== undefined && depth === g.depth && Date.now() - g.at < 30000) return [overview, g.groups];
      var scan = {};
      return api('GET', 'groups', undefined, function (headers) {
        scan.scanned = headers.get('X-Dead-Letters-Scanned');
        scan.truncated = headers.get('X-Dead-Letters-Truncated') === 'true';
      }).then(function (groups) {
        renderTruncated(scan);
        state.groupsRead = { depth: depth, at: Date.now(), groups: groups };
        return [overview, groups];
      });
    }).then(function (r) {
      $('service').textContent = r[0].service;
      var c = $('connection');
      c.textContent = r[0].transport.connected ? r[0].transport.name + ' connected' : r[0].transport.name + ' DOWN';
      c.className = 'pill ' + (r[0].transport.connected ? 'ok' : 'bad');
      renderCards(r[0], r[1]);
      renderGroups(r[1]);
      state.history = renderSubscribers(r[0], state.history);
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString('en-GB');
      if (state.loadError) { $('banner').hidden = true; state.loadError = false; }
    }).catch(function (err) {
      if (err.reason === 'console-token') {
        setToken('');
        signIn(err.status === 403 ? 'That token was not accepted.' : '');
        return;
      }
      if (err.status === 401 || err.status === 403) {
        banner('bad', 'Not allowed: ' + err.message + '. Sign in to the application again, then reload this page.');
        state.loadError = true;
        return;
      }
      banner('bad', 'Cannot load the console data: ' + err.message + ' (retrying)');
      state.loadError = true;
    }).then(function () {
      state.loading = null;
      if (!state.paused && !$('main').hidden) state.timer = setTimeout(refresh, config.refreshIntervalMs);
    });
    return state.loading;
  }
  /** A refresh that starts after the one under way, if any (so that it shows an action's effect). */
  function refreshNow() { return Promise.resolve(state.loading).then(function () { return refresh(true); }); }

  /** The notice above the groups when they were built from only part of the dead-letter queue. */
  function renderTruncated(scan) {
    var notice = $('groups-truncated');
    notice.hidden = !scan.truncated;
    notice.textContent = scan.truncated
      ? 'Partial: the dead-letter queue holds more than the ' + num(Number(scan.scanned)) + ' oldest dead letters read. ' +
        'The groups and counts below cover those only; groups of newer dead letters may be missing. Retry or purge the groups shown, then reload.'
      : '';
  }

  function renderGroups(groups) {
    var box = $('groups');
    var count = $('groups-count');
    count.textContent = num(groups.length);
    count.className = 'count' + (groups.length ? ' bad' : '');
    // a tab in the background still tells how many problems there are
    document.title = (groups.length ? '(' + groups.length + ') ' : '') + config.title;
    var seen = new Set();
    groups.forEach(function (g, i) {
      seen.add(g.id);
      var e = state.groups.get(g.id);
      if (!e) { e = makeGroup(g); state.groups.set(g.id, e); }
      updateGroup(e, g);
      if (box.children[i] !== e.el) box.insertBefore(e.el, box.children[i] || null);
    });
    state.groups.forEach(function (e, id) { if (!seen.has(id)) { e.el.remove(); state.groups.delete(id); } });
    var empty = box.querySelector('.empty');
    if (groups.length === 0 && !empty) box.appendChild(h('div', { class: 'empty ok', text: 'No failures: no dead letters are waiting.' }));
    if (groups.length > 0 && empty) empty.remove();
  }

  function makeGroup(g) {
    var e = { id: g.id };
    e.title = h('div', { class: 'group-title' });
    e.count = h('div', { class: 'group-count' });
    e.message = h('div', { class: 'group-message mono' });
    e.meta = h('div', { class: 'group-meta' });
    e.result = h('div', { class: 'result', hidden: 'hidden', 'aria-live': 'polite' });
    e.dry = h('button', { type: 'button', 'data-action': 'dry-run', onclick: function () { dryRun(e, 'groups/' + enc(e.id) + '/dry-run', { sample: config.dryRunSample }); } }, 'Dry run');
    e.retry = h('button', { type: 'button', class: 'primary', 'data-action': 'retry', onclick: function () { retry(e, 'groups/' + enc(e.id) + '/retry', e.retry); } }, 'Retry');
    e.purge = h('button', { type: 'button', class: 'danger', 'data-action': 'purge', onclick: function () { purge(e); } }, 'Purge…');
    e.example = h('div');
    e.el = h('article', { class: 'group', 'data-group-id': g.id },
      h('div', { class: 'group-head' }, e.title, e.count), e.message, e.meta,
      h('div', { class: 'actions' }, e.dry, e.retry, e.purge), e.result,
      h('details', null, h('summary', null, 'Example dead letter'), e.example));
    return e;
  }

  function updateGroup(e, g) {
    e.group = g;
    replace(e.title, [h('span', { class: 'err', text: g.errorName }), ' in ', h('span', { class: 'mono', text: g.subscriber })]);
    e.count.textContent = plural(g.count, 'dead letter');
    e.message.textContent = g.normalizedMessage || '(no error message)';
    replace(e.meta, [
      g.topFrame ? h('span', null, 'at ', h('code', { text: g.topFrame })) : null,
      h('span', { title: clock(g.firstSeenAt), text: 'first ' + ago(g.firstSeenAt) }),
      h('span', { title: clock(g.lastSeenAt), text: 'last ' + ago(g.lastSeenAt) }),
      h('span', { text: Object.entries(g.types || {}).map(function (t) { return t[0] + ' ×' + num(t[1]); }).join(', ') }),
    ]);
    if (!e.retry.disabled) e.retry.textContent = 'Retry all ' + num(g.count);
    if (e.exampleId !== g.example.id) { e.exampleId = g.example.id; replace(e.example, renderExample(e, g.example)); }
  }

  function renderExample(e, dl) {
    var env = dl.envelope || null;
    var rows = [['Dead-letter id', dl.id], ['Message id', dl.messageId], ['Type', dl.type],
      ['Correlation id', env && env.correlationId], ['Causation id', env && env.causationId], ['Source', env && env.source],
      ['Attempts', dl.attempts], ['Dead-lettered', clock(dl.deadLetteredAt)], ['Queue', dl.sourceQueue]];
    var correlation = env && typeof env.correlationId === 'string' ? env.correlationId : undefined;
    return [
      h('dl', { class: 'kv' }, rows.filter(function (r) { return r[1] !== undefined && r[1] !== null && r[1] !== ''; })
        .map(function (r) { return [h('dt', { text: r[0] }), h('dd', { class: 'mono', text: String(r[1]) })]; })),
      h('div', { class: 'actions' },
        correlation ? h('button', { type: 'button', 'data-action': 'journey', onclick: function () { trace(correlation); } }, 'Follow its journey') : null,
        h('button', { type: 'button', 'data-action': 'dry-run-one', onclick: function () { dryRun(e, 'dead-letters/' + enc(dl.id) + '/dry-run', undefined, true); } }, 'Dry run this one'),
        h('button', { type: 'button', 'data-action': 'retry-one', onclick: function (ev) { retry(e, 'dead-letters/' + enc(dl.id) + '/retry', ev.currentTarget); } }, 'Retry this one')),
      h('div', { class: 'label-small', text: 'Error' }),
      h('div', { class: 'error', text: dl.error.name + ': ' + dl.error.message }),
      dl.error.stack ? h('pre', { text: clip(dl.error.stack, 4000) }) : null,
      h('div', { class: 'label-small', text: env ? 'Payload (data)' : 'Body (could not be decoded)' }),
      h('pre', { text: clip(env ? JSON.stringify(env.data, null, 2) : dl.body, 8000) }),
    ];
  }

  function busy(button, text) { var label = button.textContent; button.disabled = true; button.textContent = text; return function () { button.disabled = false; button.textContent = label; }; }

  function dryRun(e, path, body, one) {
    var done = busy(e.dry, 'Dry running…');
    api('POST', path, body).then(function (r) {
      var results = r.results;
      var ok = results.filter(function (x) { return x.outcome === 'would-succeed'; }).length;
      var bad = results.length - ok;
      var tone = bad === 0 ? 'would-succeed' : ok === 0 ? 'would-fail' : 'mixed';
      var of = !one && e.group && e.group.count > results.length ? ' (a sample: ' + results.length + ' of ' + num(e.group.count) + ')' : '';
      var subject = results.length === 1 ? 'it' : 'all ' + results.length;
      var headline = results.length === 0 ? 'Dry run: nothing to try.'
        : bad === 0 ? 'Dry run' + of + ': ' + subject + ' would succeed now. Retrying should work.'
        : ok === 0 ? 'Dry run' + of + ': ' + subject + ' would still fail. Do not retry yet.'
        : 'Dry run' + of + ': ' + ok + ' would succeed, ' + bad + ' would still fail. Look at the failures before retrying.';
      e.result.className = 'result ' + tone;
      e.result.setAttribute('data-outcome', tone);
      replace(e.result, [h('strong', { text: headline }), h('ul', null, results.map(function (x) {
        return h('li', null, h('span', { class: 'tag ' + (x.outcome === 'would-succeed' ? 'ok' : 'bad'), text: x.outcome }), ' ',
          h('code', { text: short(x.messageId || x.deadLetterId) }),
          x.error ? [' ', h('span', { class: 'error', text: x.error.name + ': ' + x.error.message })] : null,
          x.captured && x.captured.length ? ' · would publish ' + x.captured.map(function (c) { return c.type; }).join(', ') : '',
          ' · ' + dur(x.durationMs));
      }))]);
      e.result.hidden = false;
    }).catch(function (err) {
      e.result.className = 'result would-fail';
      e.result.setAttribute('data-outcome', 'error');
      replace(e.result, 'Dry run not possible: ' + err.message);
      e.result.hidden = false;
    }).then(done);
  }

  function retry(e, path, button) {
    var done = busy(button, 'Retrying…');
    var g = e.group;
    api('POST', path).then(function (r) {
      banner('ok', 'Sent ' + plural(r.retried, 'dead letter') + ' of ' + g.errorName + ' in ' + g.subscriber +
        ' back to the subscriber. Watch its queue drain in the table below.');
      e.result.hidden = true;
      return refreshNow();
    }).catch(function (err) { banner('bad', 'Retry failed: ' + err.message); }).then(done);
  }

  function purge(e) {
    var done = busy(e.purge, 'Checking…');
    api('GET', 'groups/' + enc(e.id)).then(function (r) {
      if (!r.purgeToken) throw new Error('the group has nothing to purge any more');
      var g = r.group;
      $('confirm-title').textContent = 'Purge ' + plural(g.count, 'dead letter') + '?';
      replace($('confirm-text'), ['Every dead letter of ', h('b', { text: g.errorName }), ' in ', h('code', { text: g.subscriber }),
        ' (' + g.normalizedMessage + ') will be deleted.']);
      return confirmed().then(function (ok) {
        if (!ok) return undefined;
        return api('POST', 'groups/' + enc(e.id) + '/purge', { token: r.purgeToken }).then(function (res) {
          banner('ok', 'Purged ' + plural(res.purged, 'dead letter') + ' of ' + g.errorName + ' in ' + g.subscriber + '.');
          return refreshNow();
        });
      });
    }).catch(function (err) { banner('bad', (err.status === 409 ? 'Not purged: ' : 'Purge failed: ') + err.message); }).then(done);
  }

  function confirmed() {
    var d = $('confirm');
    return new Promise(function (resolve) {
      d.addEventListener('close', function once() { d.removeEventListener('close', once); resolve(d.returnValue === 'ok'); });
      d.returnValue = '';
      d.showModal();
      $('confirm-cancel').focus();
    });
  }

  function trace(id) {
    if (!id) return;
    $('journey-id').value = id;
    history.replaceState(null, '', '#journey=' + enc(id));
    var box = $('journey');
    replace(box, h('div', { class: 'muted', text: 'Tracing ' + id + '…' }));
    $('journey-block').scrollIntoView({ block: 'start' });
    api('GET', 'journey?id=' + enc(id))
      .then(function (j) { replace(box, renderJourney(j)); })
      .catch(function (err) { replace(box, h('div', { class: 'error', text: 'Could not trace ' + id + ': ' + err.message })); });
  }

  function signIn(message) {
    clearTimeout(state.timer);
    $('main').hidden = true;
    $('login').hidden = false;
    $('login-error').hidden = !message;
    $('login-error').textContent = message || '';
    $('token-input').focus();
  }

  function start() {
    if (config.tokenRequired && !token()) { signIn(''); return; }
    $('login').hidden = true;
    $('main').hidden = false;
    $('signout').hidden = !config.tokenRequired;
    refresh();
    var m = /^#journey=(.+)$/.exec(location.hash);
    if (m) { try { trace(decodeURIComponent(m[1])); } catch (e) { /* a malformed link */ } }
  }

  $('login-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    setToken($('token-input').value);
    $('token-input').value = '';
    start();
  });
  $('signout').addEventListener('click', function () { setToken(''); signIn(''); });
  $('pause').addEventListener('click', function () {
    state.paused = !state.paused;
    $('pause').textContent = state.paused ? 'Resume refresh' : 'Pause refresh';
    if (state.paused) clearTimeout(state.timer); else refresh();
  });
  $('journey-form').addEventListener('submit', function (ev) { ev.preventDefault(); trace($('journey-id').value.trim()); });
  document.title = config.title;
  start();
`;

/** The page's whole script (inline, allowed by its hash in the page's CSP). */
export const CONSOLE_SCRIPT = `(function () {\n'use strict';\n${CONSOLE_SCRIPT_VIEWS}\n${CONSOLE_SCRIPT_APP}\n})();\n`;
