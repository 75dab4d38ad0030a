// otwatch dashboard: a dependency-free single-page app. It talks only to
// the JSON API under /api (see /api/openapi.json) and builds the DOM with
// createElement/textContent (never innerHTML), so the strict CSP holds.
'use strict';
(function () {
  const S = { csrf: '', user: '', role: '', events: null, newAlerts: 0, inv: null, invAt: 0, kinds: null, mapStop: null };
  const view = () => document.getElementById('view');

  // ---------- DOM helpers ----------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, kids);
    return el;
  }
  const SVGNS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    setAttrs(el, attrs);
    append(el, kids);
    return el;
  }
  function setAttrs(el, attrs) {
    if (!attrs) return;
    for (const k of Object.keys(attrs)) {
      const v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') el.textContent = v;
      else if (k === 'class') el.setAttribute('class', v);
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
  }
  function append(el, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === null || k === undefined || k === false) continue;
      el.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
    }
  }
  // emptyRow explains an empty table in a row across its columns
  function emptyRow(cols, text) { return h('tr', { class: 'empty-row' }, h('td', { colspan: String(cols), class: 'muted empty', text })); }
  const NO_CAPTURE = 'No capture interface: nothing is being monitored. Name the SPAN or TAP ports under interfaces: in the configuration.';
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
  function fmtTime(t) { return t ? String(t).replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/Z$/, ' UTC') : ''; }
  function fmtNum(n) { return (n || 0).toLocaleString('en-US'); }
  function sevClass(n) { return n >= 9 ? 'crit' : n >= 7 ? 'high' : n >= 4 ? 'med' : 'low'; }
  function sevBadge(n) { return h('span', { class: 'sev ' + sevClass(n), title: 'severity ' + n, text: String(n) }); }
  function fmtDur(sec) {
    const d = Math.floor(sec / 86400), hh = Math.floor(sec % 86400 / 3600), m = Math.floor(sec % 3600 / 60);
    return (d ? d + 'd ' : '') + hh + 'h ' + m + 'm';
  }
  function fmtBytes(b) {
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return b.toFixed(i ? 1 : 0) + ' ' + u[i];
  }
  function debounce(fn, ms) { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; }

  // ---------- API ----------
  class APIError extends Error { constructor(status, msg) { super(msg); this.status = status; } }
  async function api(method, path, body) {
    const opt = { method, credentials: 'same-origin', headers: { 'Accept': 'application/json' } };
    if (method !== 'GET') {
      opt.headers['X-CSRF-Token'] = S.csrf;
      if (body instanceof Blob) { // a file, sent as it is (update bundles)
        opt.headers['Content-Type'] = 'application/octet-stream';
        opt.body = body;
      } else if (body !== undefined) {
        opt.headers['Content-Type'] = 'application/json';
        opt.body = typeof body === 'string' ? body : JSON.stringify(body);
      }
    }
    const r = await fetch(path, opt);
    if (r.status === 204) return null;
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!r.ok) {
      if (r.status === 401 && !path.startsWith('/api/login') && !path.startsWith('/api/setup')) {
        showLogin('Your session ended: log in again.');
      }
      throw new APIError(r.status, (data && data.error) || r.statusText);
    }
    return data;
  }
  async function inventory(force) {
    if (!S.inv || force || Date.now() - S.invAt > 15000) {
      S.inv = await api('GET', '/api/inventory');
      S.invAt = Date.now();
      S.byIP = new Map();
      for (const a of S.inv.assets || []) for (const ip of a.ips || []) S.byIP.set(ip, a);
    }
    return S.inv;
  }
  function assetLink(ip) {
    if (!ip) return '';
    const a = S.byIP && S.byIP.get(ip);
    return a ? h('a', { href: '#/asset/' + encodeURIComponent(a.id), text: ip }) : ip;
  }

  // ---------- shell ----------
  function shell(show) {
    document.getElementById('top').classList.toggle('hidden', !show);
  }
  function setActive(page) {
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === page);
    document.getElementById('nav').classList.remove('open');
  }
  function errorBox(e) { return h('p', { class: 'error', role: 'alert', text: 'Error: ' + (e && e.message ? e.message : e) }); }

  // ---------- setup and login ----------
  async function showSetup(csrf) {
    shell(false);
    const err = h('p', { class: 'error', id: 'setup-error' });
    const form = h('form', { id: 'setup-form' },
      h('p', { text: 'First start: create the administrator. The one-time setup token was printed on the console where otwatch started.' }),
      h('label', {}, 'Setup token', h('input', { id: 'setup-token', autocomplete: 'off', required: true })),
      h('label', {}, 'Administrator user name', h('input', { id: 'setup-user', autocomplete: 'username', required: true, value: 'admin' })),
      h('label', {}, 'Password (at least 12 characters)', h('input', { id: 'setup-pass', type: 'password', autocomplete: 'new-password', required: true, minlength: '12' })),
      h('label', {}, 'Repeat password', h('input', { id: 'setup-pass2', type: 'password', autocomplete: 'new-password', required: true })),
      h('button', { id: 'setup-submit', type: 'submit', text: 'Create administrator' }), err);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const p1 = document.getElementById('setup-pass').value, p2 = document.getElementById('setup-pass2').value;
      if (p1 !== p2) { err.textContent = 'The passwords differ.'; return; }
      S.csrf = csrf;
      try {
        await api('POST', '/api/setup', { token: document.getElementById('setup-token').value.trim(), user: document.getElementById('setup-user').value.trim(), password: p1 });
        showLogin('Administrator created: log in.');
      } catch (e) { err.textContent = e.message; }
    });
    clear(view()).appendChild(h('div', { class: 'login panel' }, h('h1', { text: 'Welcome to otwatch' }), form));
  }

  async function showLogin(msg) {
    shell(false);
    if (S.events) { S.events.close(); S.events = null; }
    S.user = ''; S.role = '';
    let info;
    try { info = await api('GET', '/api/login'); } catch (e) { clear(view()).appendChild(errorBox(e)); return; }
    if (info.setup_needed) {
      const st = await api('GET', '/api/setup');
      return showSetup(st.csrf);
    }
    const err = h('p', { class: 'error', id: 'login-error' });
    const form = h('form', { id: 'login-form' },
      msg ? h('p', { class: 'notice', text: msg }) : null,
      h('label', {}, 'User name', h('input', { id: 'login-user', autocomplete: 'username', required: true })),
      h('label', {}, 'Password', h('input', { id: 'login-pass', type: 'password', autocomplete: 'current-password', required: true })),
      h('button', { id: 'login-submit', type: 'submit', text: 'Log in' }), err);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      S.csrf = info.csrf;
      try {
        const r = await api('POST', '/api/login', { user: document.getElementById('login-user').value.trim(), password: document.getElementById('login-pass').value });
        loggedIn(r);
        if (!location.hash || location.hash === '#/login') location.hash = '#/overview'; else route();
      } catch (e) {
        err.textContent = e.message;
        try { info = await api('GET', '/api/login'); } catch (e2) { /* keep the message */ }
      }
    });
    clear(view()).appendChild(h('div', { class: 'login panel' }, h('h1', { text: 'otwatch — log in' }), form));
  }

  function loggedIn(r) {
    S.csrf = r.csrf || S.csrf; S.user = r.user; S.role = r.role;
    document.getElementById('who').textContent = r.user + ' (' + r.role + ')';
    shell(true);
    startEvents();
  }

  async function logout() {
    try { await api('POST', '/api/logout'); } catch (e) { /* ended anyway */ }
    S.csrf = ''; S.inv = null;
    location.hash = '#/login';
    showLogin('You are logged out.');
  }

  // ---------- live updates ----------
  function startEvents() {
    if (S.events || !window.EventSource) return;
    const es = new EventSource('/api/events');
    es.addEventListener('alert', () => {
      S.newAlerts++;
      const b = document.getElementById('new-alerts');
      b.textContent = String(S.newAlerts); b.classList.remove('hidden');
    });
    es.addEventListener('counters', (ev) => {
      let d; try { d = JSON.parse(ev.data); } catch (e) { return; }
      for (const k of Object.keys(d)) {
        const el = document.querySelector('[data-live="' + k + '"]');
        if (el) el.textContent = fmtNum(d[k]);
      }
    });
    es.addEventListener('asset', () => { S.invAt = 0; });
    es.onerror = () => { if (!S.user) es.close(); };
    S.events = es;
  }

  // ---------- overview ----------
  async function pageOverview(el) {
    const [inv, stats, health, recent] = await Promise.all([inventory(true), api('GET', '/api/alerts/stats'), api('GET', '/api/health'),
      api('GET', '/api/alerts?limit=8')]);
    const card = (n, label, live) => h('div', { class: 'card' }, h('div', { class: 'num', 'data-live': live || null, text: fmtNum(n) }), h('div', { class: 'lbl', text: label }));
    const roles = {};
    for (const a of inv.assets) for (const r of a.roles || []) roles[r] = (roles[r] || 0) + 1;
    el.appendChild(h('h1', { text: 'Overview' }));
    const set = await api('GET', '/api/settings').catch(() => null);
    if (set && set.maintenance_until && new Date(set.maintenance_until) > new Date()) {
      el.appendChild(h('p', { id: 'maint-banner', class: 'warn', text: 'Maintenance window until ' + fmtTime(set.maintenance_until) + ' (' + set.maintenance_by + ': '
        + set.maintenance_reason + '): engineering alerts are lowered.' }));
    }
    const det = health.detection;
    if (det && det.learning > 0) {
      const n = det.learning + det.detecting, until = det.learning_until ? ' until ' + fmtTime(det.learning_until) + ' at the earliest' : '';
      el.appendChild(h('p', { id: 'learning-banner', class: 'warn', text: det.detecting === 0
        ? 'Detection is off: ' + (n === 1 ? 'the asset is' : 'all ' + n + ' assets are') + ' still learning' + until + '. No behaviour alert (new function, unseen target, value out of range, burst) can be raised until learning ends.'
        : det.learning + ' of ' + n + ' assets still learning' + until + ': no behaviour alert is raised for ' + (det.learning === 1 ? 'it' : 'them') + ' yet.' }));
    }
    el.appendChild(h('div', { class: 'cards', id: 'overview-cards' },
      card(inv.assets.length, 'assets'), card(inv.links.length, 'links'), card(stats.total, 'alerts', 'alerts'), card(stats.open, 'open alerts'),
      card(health.packets, 'packets', 'packets'), card(health.drops, 'drops', 'drops'), card(health.transactions, 'transactions')));
    const chart = h('div', { class: 'panel' }, h('h2', { text: 'Alerts over time' + (stats.bucket_s ? ' (per ' + fmtStep(stats.bucket_s) + ', UTC)' : '') }),
      histogram(stats.histogram || [], stats.bucket_s));
    const sev = h('table', {}, h('tr', {}, h('th', { text: 'Severity' }), h('th', { text: 'Alerts' })),
      Object.keys(stats.by_severity || {}).sort((a, b) => b - a).map(k => h('tr', {}, h('td', {}, sevBadge(+k)), h('td', { text: fmtNum(stats.by_severity[k]) }))),
      Object.keys(stats.by_severity || {}).length ? null : emptyRow(2, 'No alert yet.'));
    const kinds = Object.entries(stats.by_kind || {}).sort((a, b) => b[1] - a[1]).slice(0, 8);
    const kindT = h('table', {}, h('tr', {}, h('th', { text: 'Kind' }), h('th', { text: 'Alerts' })),
      kinds.map(([k, n]) => h('tr', {}, h('td', {}, h('a', { href: '#/alerts?kind=' + encodeURIComponent(k), text: k })), h('td', { text: fmtNum(n) }))),
      kinds.length ? null : emptyRow(2, 'No alert yet.'));
    const roleT = h('table', {}, h('tr', {}, h('th', { text: 'Role' }), h('th', { text: 'Assets' })),
      Object.entries(roles).sort((a, b) => b[1] - a[1]).map(([r, n]) => h('tr', {}, h('td', {}, h('span', { class: 'tag role', text: r })), h('td', { text: String(n) }))),
      Object.keys(roles).length ? null : emptyRow(2, 'No role inferred yet: roles come from the traffic each asset sends and answers.'));
    const cap = h('table', {}, h('tr', {}, h('th', { text: 'Interface' }), h('th', { text: 'Packets' }), h('th', { text: 'Drops' })),
      (health.interfaces || []).map(i => h('tr', {}, h('td', { text: i.name }), h('td', { text: fmtNum(i.packets) }), h('td', { class: i.drops ? 'error' : '', text: fmtNum(i.drops) }))),
      (health.interfaces || []).length ? null : emptyRow(3, NO_CAPTURE));
    const latest = h('table', {}, (recent.alerts || []).length ? null : emptyRow(3, det && det.detecting === 0 ? 'No alert yet: every asset is still learning, so only network alerts (new hosts, scans, protocol errors) can be raised.' : 'No alert yet. Alerts appear here the moment one is raised.'),
      (recent.alerts || []).map(r => h('tr', {}, h('td', {}, sevBadge(r.alert.severity)), h('td', { class: 'mono', text: fmtTime(r.alert.ts) }),
      h('td', {}, h('a', { href: '#/alerts?id=' + encodeURIComponent(r.alert.id), text: foldedMessage(r.alert.message).text }), foldBadge(r.alert.message)))));
    el.appendChild(chart);
    el.appendChild(h('div', { class: 'grid2' },
      h('div', { class: 'panel' }, h('h2', { text: 'Latest alerts' }), latest),
      h('div', { class: 'panel' }, h('h2', { text: 'Capture health' }), h('p', {}, 'Drop rate: ', h('b', { text: health.packets ? (100 * health.drops / (health.packets + health.drops)).toFixed(3) + ' %' : '0 %' }), ' · uptime ' + fmtDur(health.uptime_s || 0)), cap),
      h('div', { class: 'panel' }, h('h2', { text: 'By severity' }), sev),
      h('div', { class: 'panel' }, h('h2', { text: 'Top alert kinds' }), kindT),
      h('div', { class: 'panel' }, h('h2', { text: 'Asset roles' }), roleT)));
  }

  // histogram draws alerts per bucket on the data's own time: a run of 4
  // or more empty buckets (a replay of captures years apart, a quiet
  // night) shrinks to a gap marker saying how long nothing happened
  function histogram(buckets, bucketS) {
    const W = 900, H = 180, L = 36, B = 22;
    const svgEl = s('svg', { class: 'chart', id: 'alert-histogram', viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'alerts over time' });
    if (!buckets.length) { svgEl.appendChild(s('text', { x: 10, y: 20, text: 'No alert yet: alerts are counted here as they are raised.' })); return svgEl; }
    const slots = [];
    for (let i = 0; i < buckets.length;) {
      let j = i;
      while (j < buckets.length && buckets[j].count === 0) j++;
      if (j - i >= 4) { slots.push({ gap: true, from: buckets[i].start, n: j - i }); i = j; continue; }
      slots.push(buckets[i]); i++;
    }
    const max = Math.max(1, ...buckets.map(b => b.count));
    const bw = (W - L) / slots.length;
    const stepMs = (bucketS || 60) * 1000;
    const span = Date.parse(buckets[buckets.length - 1].start) - Date.parse(buckets[0].start);
    svgEl.appendChild(s('line', { class: 'axis', x1: L, y1: H - B, x2: W, y2: H - B }));
    svgEl.appendChild(s('text', { x: 2, y: 12, text: String(max) }));
    svgEl.appendChild(s('text', { x: 2, y: H - B, text: '0' }));
    let lastLabel = -Infinity, afterGap = true;
    const labels = new Set();
    slots.forEach((b, i) => {
      const x = L + i * bw;
      if (b.gap) {
        svgEl.appendChild(s('g', { class: 'gap' }, s('rect', { class: 'gap', x: x + 1, y: 4, width: Math.max(bw - 2, 1), height: H - B - 4 }),
          s('text', { class: 'gap-mark', x: x + bw / 2, y: H - B - 6, 'text-anchor': 'middle', text: '⋯' }),
          s('title', { text: 'no alert for ' + fmtDur(b.n * (bucketS || 60)) + ' from ' + fmtTime(b.from) })));
        afterGap = true;
        return;
      }
      const bh = (H - B - 8) * b.count / max;
      const r = s('rect', { class: 'bar ' + (b.count ? sevClass(b.max_severity) : ''), x: x + 1, y: H - B - bh, width: Math.max(bw - 2, 1), height: bh, 'data-t': String(Date.parse(b.start)) });
      r.appendChild(s('title', { text: fmtTime(b.start) + ': ' + b.count + ' alerts, max severity ' + b.max_severity }));
      svgEl.appendChild(r);
      if (x - lastLabel >= 120) {
        const text = fmtTick(Date.parse(b.start), stepMs, afterGap, span);
        if (!labels.has(text)) {
          labels.add(text);
          svgEl.appendChild(s('text', { class: 'xtick', x, y: H - 6, text }));
          lastLabel = x; afterGap = false;
        }
      }
    });
    return svgEl;
  }

  // ---------- assets ----------
  function assetName(a) {
    const id = a.identity || {};
    for (const k of ['product_name', 'module_name', 'model_name', 'application_name', 'order_number']) if (id[k]) return id[k].value;
    return '';
  }
  function assetProtos(a) {
    const seen = new Set();
    return (a.protocols || []).map(p => p.proto + ' ' + p.side).filter(x => !seen.has(x) && seen.add(x));
  }
  async function pageAssets(el, params) {
    const inv = await inventory(true);
    const counts = (await api('GET', '/api/alerts/stats')).by_asset || {};
    const roles = [...new Set(inv.assets.flatMap(a => a.roles || []))].sort();
    const protos = [...new Set(inv.assets.flatMap(a => (a.protocols || []).map(p => p.proto)))].sort();
    const st = { sort: params.get('sort') || 'ip', dir: params.get('dir') === 'desc' ? -1 : 1, q: params.get('q') || '', role: params.get('role') || '', proto: params.get('proto') || '' };
    const rows = inv.assets.map(a => ({ a, ip: (a.ips || [])[0] || '', name: assetName(a), vendor: a.vendor || '', roles: (a.roles || []).join(' '),
      protos: assetProtos(a).join(', '), last: a.last_seen || '', alerts: (a.ips || []).reduce((n, ip) => n + (counts[ip] || 0), 0), packets: a.packets || 0 }));
    const ipKey = ip => ip.split('.').map(x => x.padStart(3, '0')).join('.');
    const cols = [['ip', 'Address'], ['name', 'Identity'], ['vendor', 'Vendor', 'col-opt'], ['roles', 'Roles'], ['protos', 'Protocols'], ['alerts', 'Open alerts'], ['packets', 'Packets', 'col-opt'], ['last', 'Last seen', 'col-opt']];
    const tbody = h('tbody', { id: 'assets-body' });
    const countEl = h('span', { class: 'muted', id: 'assets-count' });
    const PAGE = 200;
    st.page = 0;
    const prev = h('button', { type: 'button', class: 'secondary small', text: '‹ Previous', onclick: () => { st.page--; draw(); } });
    const next = h('button', { type: 'button', class: 'secondary small', text: 'Next ›', onclick: () => { st.page++; draw(); } });
    const head = h('tr', {}, cols.map(([k, label, cls]) => h('th', { class: 'sortable ' + (cls || ''), 'data-key': k, text: label, onclick: () => {
      st.dir = st.sort === k ? -st.dir : 1; st.sort = k; draw();
    } })));
    function draw() {
      const q = st.q.toLowerCase();
      let list = rows.filter(r => (!st.role || (r.a.roles || []).includes(st.role)) && (!st.proto || (r.a.protocols || []).some(p => p.proto === st.proto)) &&
        (!q || JSON.stringify(r.a).toLowerCase().includes(q)));
      const k = st.sort;
      list.sort((x, y) => {
        let a = x[k], b = y[k];
        if (k === 'ip') { a = ipKey(a); b = ipKey(b); }
        return (a < b ? -1 : a > b ? 1 : 0) * st.dir;
      });
      for (const th of head.children) {
        th.classList.toggle('sorted-asc', th.dataset.key === k && st.dir > 0);
        th.classList.toggle('sorted-desc', th.dataset.key === k && st.dir < 0);
      }
      const pages = Math.max(1, Math.ceil(list.length / PAGE));
      st.page = Math.min(st.page, pages - 1);
      const from = st.page * PAGE, shown = list.slice(from, from + PAGE);
      countEl.textContent = (list.length ? (from + 1) + '–' + (from + shown.length) + ' of ' : '') + list.length + ' assets' + (list.length !== rows.length ? ' (' + rows.length + ' in all)' : '');
      prev.disabled = st.page === 0; next.disabled = st.page >= pages - 1;
      clear(tbody);
      const frag = document.createDocumentFragment();
      for (const r of shown) {
        frag.appendChild(h('tr', { class: 'clickable asset-row', 'data-id': r.a.id, onclick: () => { location.hash = '#/asset/' + encodeURIComponent(r.a.id); } },
          h('td', { class: 'mono' }, r.a.ips.join(', '), r.a.mac ? h('div', { class: 'muted', text: r.a.mac }) : null),
          h('td', { class: 'identity', text: r.name }), h('td', { class: 'col-opt', text: r.vendor }),
          h('td', {}, (r.a.roles || []).map(x => h('span', { class: 'tag role', text: x }))),
          h('td', {}, assetProtos(r.a).map(x => h('span', { class: 'tag', text: x }))),
          h('td', {}, r.alerts ? h('a', { href: '#/alerts?asset=' + encodeURIComponent(r.ip), onclick: ev => ev.stopPropagation(), text: String(r.alerts) }) : '0'),
          h('td', { class: 'col-opt', text: fmtNum(r.packets) }), h('td', { class: 'col-opt mono', text: fmtTime(r.last) })));
      }
      if (!shown.length) frag.appendChild(emptyRow(cols.length, rows.length ? 'No asset matches the search and filters.' : 'No asset seen yet: assets appear as soon as they send or answer traffic on a monitored interface.'));
      tbody.appendChild(frag);
    }
    const search = h('input', { id: 'asset-search', type: 'search', placeholder: 'search address, identity, vendor…', value: st.q, oninput: debounce(ev => { st.q = ev.target.value; st.page = 0; draw(); }, 150) });
    const roleSel = h('select', { id: 'asset-role', onchange: ev => { st.role = ev.target.value; st.page = 0; draw(); } }, h('option', { value: '', text: 'any role' }), roles.map(r => h('option', { value: r, text: r, selected: r === st.role })));
    const protoSel = h('select', { id: 'asset-proto', onchange: ev => { st.proto = ev.target.value; st.page = 0; draw(); } }, h('option', { value: '', text: 'any protocol' }), protos.map(r => h('option', { value: r, text: r, selected: r === st.proto })));
    el.appendChild(h('h1', { text: 'Assets' }));
    el.appendChild(h('div', { class: 'toolbar' }, h('label', {}, 'Search', search), h('label', {}, 'Role', roleSel), h('label', {}, 'Protocol', protoSel), h('div', { class: 'pager' }, prev, countEl, next)));
    el.appendChild(h('div', { class: 'table-wrap' }, h('table', { id: 'assets-table' }, h('thead', {}, head), tbody)));
    draw();
    // devices known only from LLDP: switches, PROFINET devices that talk to no one the SPAN port sees
    if ((inv.neighbors || []).length) {
      el.appendChild(h('div', { class: 'panel' }, h('h2', { text: 'Other devices (LLDP only)' }),
        h('table', { id: 'neighbors-table' }, h('tr', {}, ['MAC', 'Vendor', 'System', 'Description', 'Capabilities', 'Management', 'Seen'].map(t => h('th', { text: t }))),
          inv.neighbors.map(n => h('tr', { class: 'neighbor-row' }, h('td', { class: 'mono', text: n.mac }), h('td', { text: n.vendor || '' }),
            h('td', { text: n.system_name || n.chassis_id }), h('td', { text: n.system_description || '' }), h('td', { text: (n.capabilities || []).join(', ') }),
            h('td', { class: 'mono', text: (n.management_addresses || []).join(', ') }), h('td', { class: 'mono', text: fmtTime(n.last_seen) }))))));
    }
  }

  async function pageAsset(el, id) {
    const inv = await inventory(true);
    const want = id.toLowerCase();
    const a = inv.assets.find(x => x.id === id) || inv.assets.find(x => (x.ips || []).includes(id)) || inv.assets.find(x => x.id === 'ip:' + id) ||
      inv.assets.find(x => (x.mac || '').toLowerCase() === want);
    if (!a) {
      el.appendChild(h('h1', {}, h('a', { href: '#/assets', text: 'Assets' }), ' › ', id));
      el.appendChild(h('p', { class: 'notice empty', text: 'No asset ' + id + ' in the inventory: an asset is addressed by its IP address, its MAC address or its id, and appears once it has been seen on the monitored network.' }));
      return;
    }
    el.dataset.asset = a.id;
    const ip = (a.ips || [])[0];
    const [al, base] = await Promise.all([api('GET', '/api/alerts?limit=100&asset=' + encodeURIComponent(ip)),
      api('GET', '/api/baseline/' + encodeURIComponent(ip)).catch(() => null)]);
    el.appendChild(h('h1', {}, h('a', { href: '#/assets', text: 'Assets' }), ' › ', (a.ips || []).join(', '), ' ', assetName(a) ? h('span', { class: 'muted', text: assetName(a) }) : null));
    const ident = Object.keys(a.identity || {}).sort().map(k => {
      const v = a.identity[k], src = v.source || {};
      return h('tr', {}, h('td', { text: k }), h('td', { class: 'mono', text: v.value }),
        h('td', { class: 'muted', text: [src.proto, src.message, src.frame ? 'frame ' + src.frame : '', fmtTime(src.ts)].filter(Boolean).join(' · ') }));
    });
    const roleRows = (a.roles || []).map(r => h('tr', {}, h('td', {}, h('span', { class: 'tag role', text: r })), h('td', { text: (a.role_evidence || {})[r] || '' })));
    const protoRows = (a.protocols || []).map(p => h('tr', {}, h('td', { text: p.proto }), h('td', { text: p.side }), h('td', { text: p.port ? String(p.port) : '' }), h('td', { text: fmtNum(p.transactions) })));
    const peers = inv.links.filter(l => l.client === a.id || l.server === a.id).map(l => {
      const other = l.client === a.id ? l.server : l.client;
      const o = inv.assets.find(x => x.id === other);
      const oName = o ? ((o.ips || [])[0] || o.mac || other) + (assetName(o) ? ' ' + assetName(o) : '') : other.replace(/^ip:/, '');
      return h('tr', {}, h('td', { text: l.client === a.id ? 'to' : 'from' }), h('td', {}, h('a', { class: 'peer', href: '#/asset/' + encodeURIComponent(o && (o.ips || [])[0] || other), text: oName })),
        h('td', { text: l.proto }), h('td', { class: 'mono', text: Object.entries(l.ops || {}).map(([k, v]) => k + '×' + v).join(' ') }));
    });
    el.appendChild(h('div', { class: 'grid2' },
      h('div', { class: 'panel' }, h('h2', { text: 'Identity' }),
        h('dl', { class: 'kv' }, h('dt', { text: 'id' }), h('dd', { class: 'mono', text: a.id }), h('dt', { text: 'MAC' }), h('dd', { class: 'mono', text: a.mac || '—' }),
          h('dt', { text: 'vendor' }), h('dd', { text: a.vendor || '—' }), h('dt', { text: 'VLANs' }), h('dd', { text: (a.vlans || []).join(', ') || '—' }),
          h('dt', { text: 'zone' }), h('dd', { text: a.zone ? a.zone + (a.level != null ? ' (level ' + a.level + ')' : '') : '—' }),
          h('dt', { text: 'services' }), h('dd', { class: 'mono', id: 'asset-services', text: (a.services || []).join(' ') || '—' }),
          h('dt', { text: 'seen' }), h('dd', { text: fmtTime(a.first_seen) + ' → ' + fmtTime(a.last_seen) })),
        ident.length ? h('table', { id: 'identity-table' }, h('tr', {}, h('th', { text: 'Field' }), h('th', { text: 'Value' }), h('th', { text: 'Source (provenance)' })), ident)
          : h('p', { class: 'muted', text: 'No identity fields seen yet.' })),
      h('div', { class: 'panel' }, h('h2', { text: 'Roles and why' }), roleRows.length ? h('table', {}, roleRows) : h('p', { class: 'muted', text: 'No role inferred.' }),
        h('h2', { text: 'Protocols' }), h('table', {}, h('tr', {}, h('th', { text: 'Protocol' }), h('th', { text: 'Side' }), h('th', { text: 'Port' }), h('th', { text: 'Transactions' })), protoRows)),
      h('div', { class: 'panel' }, h('h2', { text: 'Baseline' }), base ? baselineSummary(base) : h('p', { class: 'muted', text: 'No baseline: this asset is not a server.' })),
      h('div', { class: 'panel' }, h('h2', { text: 'Links' }), h('table', {}, peers))));
    el.appendChild(h('div', { class: 'panel', id: 'asset-alerts' }, h('h2', {}, 'Alerts (' + al.total + ', newest first) ', h('a', { href: '#/alerts?asset=' + encodeURIComponent(ip), text: 'open in alerts' })),
      al.alerts.length ? alertTable(al.alerts, () => route()) : h('p', { class: 'muted empty', text: 'No alert on this asset.' })));
    if (ip) await assetTrends(el, ip, al.alerts);
    const adv = await advisoriesReport().catch(() => null);
    const risk = adv && (adv.patch_first.find(x => x.asset === a.id) || adv.undecided.find(x => x.asset === a.id));
    if (risk) {
      el.appendChild(h('div', { class: 'panel', id: 'asset-vulns' }, h('h2', {}, 'Vulnerabilities ', h('a', { href: '#/patch', text: 'patch-first list' })),
        risk.rank ? h('p', {}, h('b', { text: '#' + risk.rank + ' to patch, risk ' + risk.score + ': ' }), risk.cves.map(cveTag)) : null,
        risk.rank ? riskDetail(risk) : h('p', { class: 'muted', text: 'No advisory decided. Missing: ' + ((risk.match.missing || []).join('; ') || 'nothing') + '. To check by hand: ' + ((risk.match.possible || []).map(m => m.advisory).join(', ') || 'none') + '.' })));
    }
  }

  // ---------- time-series plots (plain SVG) ----------
  const TICKS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000].map(x => x * 1000);
  function timeTicks(x0, x1, want) {
    const span = Math.max(1, x1 - x0);
    const step = TICKS.find(s => span / s <= want) || TICKS[TICKS.length - 1];
    const out = [];
    for (let t = Math.ceil(x0 / step) * step; t <= x1 && out.length < 40; t += step) out.push(t);
    return { step, ticks: out };
  }
  // fmtTick labels a tick: the date where the axis spans days, the time of
  // day to the step's precision, the full date on the first tick
  function fmtTick(t, step, first, span) {
    const iso = new Date(t).toISOString();
    const day = iso.slice(0, 10), hms = step < 60000 ? iso.slice(11, 19) : iso.slice(11, 16);
    if (step >= 86400000) return day;
    if (first) return day + ' ' + hms;
    return span >= 86400000 ? iso.slice(5, 10) + ' ' + hms : hms;
  }
  function niceRange(lo, hi) {
    if (!isFinite(lo) || !isFinite(hi)) return [0, 1];
    if (lo === hi) { const d = Math.abs(lo) * 0.1 || 1; return [lo - d, hi + d]; }
    const pad = (hi - lo) * 0.08;
    return [lo - pad, hi + pad];
  }
  function fmtVal(v) {
    if (!isFinite(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a >= 1e7 || a < 1e-3) ? v.toExponential(3) : String(+v.toPrecision(7));
  }
  // tsPlot draws samples over [x0, x1] (ms). opts: kind 'value' or 'count',
  // band {min, max} (the learned range), marks [{t, sev, title}], label.
  function tsPlot(opts) {
    const W = opts.width || 1000, H = opts.height || 200, R = 12, T = 14, B = 30;
    const x0 = opts.x0, x1 = Math.max(opts.x1, opts.x0 + 1);
    const samples = opts.samples || [];
    let lo = Infinity, hi = -Infinity;
    for (const p of samples) { lo = Math.min(lo, opts.kind === 'count' ? 0 : p.min); hi = Math.max(hi, p.max); }
    for (const x of opts.extra || []) for (const p of x.samples) { hi = Math.max(hi, p.max); }
    if (opts.band) { lo = Math.min(lo, opts.band.min); hi = Math.max(hi, opts.band.max); }
    if (opts.kind === 'count') lo = 0;
    const cstep = Math.max(1, Math.ceil(hi * 1.05 / 4));
    const [y0, y1] = opts.kind === 'count' ? [0, cstep * 4] : niceRange(lo, hi);
    const Y = v => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
    // value labels to the precision the axis needs; the margin fits them
    const yd = Math.max(0, Math.min(6, Math.ceil(-Math.log10((y1 - y0) / 4)) + 1));
    const yLabels = [0, 1, 2, 3, 4].map(i => {
      const v = y0 + (y1 - y0) * i / 4;
      return { v, text: opts.kind === 'count' ? String(Math.round(v)) : Math.abs(v) >= 1e15 ? v.toExponential(4) : v.toLocaleString('en-US', { maximumFractionDigits: yd }) };
    });
    const L = Math.max(48, 10 + 6.5 * Math.max(...yLabels.map(l => l.text.length)));
    const X = t => L + (t - x0) / (x1 - x0) * (W - L - R);
    const svg = s('svg', { class: 'tsplot ' + (opts.cls || ''), viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': opts.label || '',
      'data-x0': String(x0), 'data-x1': String(x1), 'data-points': String(samples.length) });
    if (opts.id) svg.id = opts.id;
    svg.appendChild(s('rect', { class: 'plot-bg', x: L, y: T, width: W - L - R, height: H - T - B }));
    if (opts.band) {
      const bt = Y(opts.band.max), bb = Y(opts.band.min);
      svg.appendChild(s('rect', { class: 'band', x: L, y: Math.min(bt, bb) - (bt === bb ? 1.5 : 0), width: W - L - R, height: Math.max(3, Math.abs(bb - bt)),
        'data-min': String(opts.band.min), 'data-max': String(opts.band.max) },
        s('title', { text: 'learned range ' + fmtVal(opts.band.min) + ' … ' + fmtVal(opts.band.max) + (opts.band.class ? ' (' + opts.band.class + ')' : '') })));
    }
    // axes: time below, values left
    const tt = timeTicks(x0, x1, 7);
    tt.ticks.forEach((t, i) => {
      svg.appendChild(s('line', { class: 'grid', x1: X(t), x2: X(t), y1: T, y2: H - B }));
      svg.appendChild(s('text', { class: 'xtick', x: X(t), y: H - B + 14, 'text-anchor': 'middle', text: fmtTick(t, tt.step, i === 0, x1 - x0) }));
    });
    for (const l of yLabels) {
      svg.appendChild(s('line', { class: 'grid', x1: L, x2: W - R, y1: Y(l.v), y2: Y(l.v) }));
      svg.appendChild(s('text', { class: 'ytick', x: L - 4, y: Y(l.v) + 3, 'text-anchor': 'end', text: l.text }));
    }
    svg.appendChild(s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
    svg.appendChild(s('text', { class: 'xlabel', x: W - R, y: H - 2, 'text-anchor': 'end', text: 'UTC · ' + (opts.stepLabel || '') }));
    // gaps: stretches with no sample longer than a fifth of the axis
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1].t, b = samples[i].t;
      if (b - a > (x1 - x0) / 5) {
        svg.appendChild(s('rect', { class: 'gap', x: X(a) + 2, y: T, width: Math.max(0, X(b) - X(a) - 4), height: H - T - B },
          s('title', { text: 'nothing seen for ' + fmtDur((b - a) / 1000) })));
      }
    }
    const stepPx = Math.max(1.5, (opts.stepMs || 1000) / (x1 - x0) * (W - L - R) * 0.8);
    const tip = (p, what) => fmtTime(new Date(p.t).toISOString()) + '\n' + what;
    if (opts.kind === 'count') {
      const drawBars = (list, cls) => {
        for (const p of list) {
          svg.appendChild(s('rect', { class: 'bar ' + cls, x: X(p.t), y: Y(p.n), width: stepPx, height: Math.max(0.5, Y(0) - Y(p.n)), 'data-t': String(p.t) },
            s('title', { text: tip(p, p.n + ' ' + cls + ' (per ' + (opts.stepLabel || 'bucket') + ')') })));
        }
      };
      drawBars(samples, opts.countName || 'transactions');
      for (const x of opts.extra || []) drawBars(x.samples, x.name);
    } else {
      let path = '';
      samples.forEach((p, i) => { path += (i ? ' H' + X(p.t).toFixed(1) + ' V' : 'M' + X(p.t).toFixed(1) + ' ') + Y(p.last).toFixed(1); });
      if (samples.length > 1) svg.appendChild(s('path', { class: 'hold', d: path }));
      for (const p of samples) {
        if (p.min !== p.max) svg.appendChild(s('line', { class: 'whisker', x1: X(p.t), x2: X(p.t), y1: Y(p.min), y2: Y(p.max) }));
        const out = opts.band && (p.min < opts.band.min || p.max > opts.band.max);
        svg.appendChild(s('circle', { class: 'pt' + (out ? ' out' : ''), cx: X(p.t), cy: Y(p.last), r: 3.5, 'data-t': String(p.t), 'data-v': String(p.last) },
          s('title', { text: tip(p, 'value ' + fmtVal(p.last) + (p.n > 1 ? ' (' + p.n + ' values, ' + fmtVal(p.min) + ' … ' + fmtVal(p.max) + ')' : '') +
            (opts.writers && opts.writers.length ? '\nwritten by ' + opts.writers.join(', ') : '') + (out ? '\noutside the learned range' : '')) })));
      }
    }
    for (const m of opts.marks || []) {
      if (m.t < x0 || m.t > x1) continue;
      svg.appendChild(s('line', { class: 'alert-mark ' + sevClass(m.sev), x1: X(m.t), x2: X(m.t), y1: T, y2: H - B, 'data-t': String(m.t) }, s('title', { text: m.title })));
    }
    return svg;
  }
  const fmtStep = sec => sec >= 86400 ? (sec / 86400) + ' d' : sec >= 3600 ? (sec / 3600) + ' h' : sec >= 60 ? (sec / 60) + ' min' : sec + ' s';
  function pointName(p) {
    return (p.unit ? 'unit ' + p.unit + ' · ' : '') + (p.id || (p.space + ' ' + p.address + (p.bit != null ? '.' + p.bit : ''))) + (p.field ? ' ' + p.field : '');
  }
  const alertMarks = list => list.map(r => ({ t: Date.parse(r.alert.ts), sev: r.alert.severity, title: fmtTime(r.alert.ts) + '\n' + (r.alert.severity) + ' · ' + r.alert.kind + '\n' + r.alert.message, alert: r.alert }));
  function onPoint(a, p) {
    return (a.targets || []).some(t => t.id ? t.id === p.id : t.space === p.space && t.address != null && p.address >= t.address && p.address < t.address + (t.count || 1));
  }

  // assetTrends adds the traffic and process-value panels of an asset.
  async function assetTrends(el, ip, alertsList) {
    let list;
    try { list = await api('GET', '/api/series?asset=' + encodeURIComponent(ip)); } catch (e) { if (e.status === 501) return; throw e; }
    const marks = alertMarks(alertsList);
    const traffic = list.series.filter(x => x.traffic && x.traffic.asset === ip);
    const own = m => traffic.find(x => !x.traffic.client && x.traffic.metric === m);
    const links = traffic.filter(x => x.traffic.client && x.traffic.metric === 'transactions');
    const tpanel = h('div', { class: 'panel', id: 'asset-traffic' }, h('h2', { text: 'Traffic over time' }));
    el.appendChild(tpanel);
    if (!own('transactions')) {
      tpanel.appendChild(h('p', { class: 'muted empty', text: 'No transactions served by this asset yet: traffic appears here as soon as a client talks to it.' }));
    } else {
      const holder = h('div', {});
      const sel = h('select', { id: 'traffic-link' }, h('option', { value: '', text: 'all clients' }),
        links.map(l => h('option', { value: l.traffic.client + '|' + l.traffic.proto, text: 'from ' + l.traffic.client + ' (' + l.traffic.proto + ')' })));
      const draw = async () => {
        const [client, proto] = sel.value.split('|');
        const pick = m => client ? traffic.find(x => x.traffic.client === client && x.traffic.proto === proto && x.traffic.metric === m) : own(m);
        const tx = await api('GET', '/api/series/data?max_points=300&key=' + encodeURIComponent(pick('transactions').key));
        const wr = pick('writes') ? await api('GET', '/api/series/data?max_points=300&key=' + encodeURIComponent(pick('writes').key) + '&since=' + encodeURIComponent(tx.since) + '&until=' + encodeURIComponent(tx.until)) : null;
        const x0 = Date.parse(tx.since), x1 = Date.parse(tx.until);
        clear(holder).appendChild(tsPlot({ id: 'traffic-plot', kind: 'count', x0, x1, samples: tx.samples, stepMs: tx.step_s * 1000, stepLabel: fmtStep(tx.step_s),
          extra: wr ? [{ name: 'writes', samples: wr.samples }] : [], marks, label: 'transactions of ' + ip + ' over time', height: 180 }));
        holder.appendChild(h('p', { class: 'legend' }, h('span', {}, h('span', { class: 'sw tx' }), 'transactions'), h('span', {}, h('span', { class: 'sw wr' }), 'writes and commands'),
          h('span', {}, h('span', { class: 'sw al' }), 'alerts'), h('span', { class: 'muted', text: 'per ' + fmtStep(tx.step_s) + ', ' + fmtTime(tx.since) + ' → ' + fmtTime(tx.until) })));
      };
      sel.addEventListener('change', () => draw().catch(e => holder.appendChild(errorBox(e))));
      tpanel.appendChild(h('div', { class: 'toolbar' }, h('label', {}, 'Link', sel)));
      tpanel.appendChild(holder);
      await draw();
    }
    // process values: the points written to or reported by the asset
    const points = list.series.filter(x => x.point).sort((a, b) => a.point.space.localeCompare(b.point.space) || a.point.address - b.point.address || a.point.source.localeCompare(b.point.source));
    const vpanel = h('div', { class: 'panel', id: 'asset-values' }, h('h2', { text: 'Process values (' + points.length + ')' }));
    el.appendChild(vpanel);
    if (!points.length) {
      vpanel.appendChild(h('p', { class: 'muted empty', text: 'No value written to or reported by this asset yet. Values appear when a client writes a register, coil, data block item, DNP3 point or OPC UA node, or the device reports one.' }));
      return;
    }
    const MAXPLOTS = 24;
    const grid = h('div', { class: 'plots' });
    vpanel.appendChild(grid);
    if (points.length > MAXPLOTS) vpanel.appendChild(h('p', { class: 'muted', text: 'The first ' + MAXPLOTS + ' of ' + points.length + ' points are drawn.' }));
    const data = await Promise.all(points.slice(0, MAXPLOTS).map(x => api('GET', '/api/series/data?max_points=200&key=' + encodeURIComponent(x.key))));
    data.forEach((d, i) => {
      const p = points[i].point;
      const x0 = Date.parse(d.since), x1 = Date.parse(d.until);
      const b = d.band;
      const head = h('div', { class: 'plot-head' }, h('b', { text: pointName(p) }), ' ', h('span', { class: 'tag', text: p.proto }), h('span', { class: 'tag src-' + p.source, text: p.source === 'write' ? 'written' : p.source === 'read' ? 'read back' : 'reported' }),
        b ? h('span', { class: 'muted', text: ' learned ' + (b.distinct && b.distinct.length ? '{' + b.distinct.map(fmtVal).join(', ') + '}' : fmtVal(b.min) + ' … ' + fmtVal(b.max)) + ' · ' + b.class }) : h('span', { class: 'muted', text: ' no learned range' }),
        (points[i].writers || []).length ? h('span', { class: 'muted', text: ' · by ' + points[i].writers.join(', ') }) : null);
      grid.appendChild(h('figure', { class: 'plot', 'data-key': points[i].key }, head,
        tsPlot({ kind: 'value', cls: 'value-plot', x0, x1, samples: d.samples, band: b, stepMs: d.step_s * 1000, stepLabel: fmtStep(d.step_s), writers: points[i].writers,
          marks: marks.filter(m => onPoint(m.alert, p)), label: pointName(p) + ' over time', width: 600, height: 220 })));
    });
  }

  // engineering operations an operator should not find learned as normal
  const ENGINEERING = new Set(['control', 'program_download', 'program_upload', 'firmware_update', 'stop', 'start', 'restart']);
  function learnedEngineering(b) {
    return (b.functions || []).filter(f => ENGINEERING.has(f.op));
  }
  function engineeringBadge(b) {
    const n = learnedEngineering(b).length;
    return n ? h('span', { class: 'badge warnbadge', title: 'engineering functions learned as normal', text: '⚠ ' + n }) : null;
  }
  function engineeringWarning(b) {
    const fs = learnedEngineering(b);
    if (!fs.length) return null;
    const ops = [...new Set(fs.map(f => f.op.replace(/_/g, ' ')))].join(', ');
    return h('p', { class: 'notice learned-engineering' }, h('span', { class: 'badge warnbadge', text: '⚠ learned ' + ops }), ' ',
      'The baseline learned ' + fs.length + ' engineering function' + (fs.length === 1 ? '' : 's') + ' (' + ops + ') as normal: they raise no alert. ',
      h('a', { href: '#/baseline?asset=' + encodeURIComponent(b.server), text: 'Review them' }), ' and relearn the asset if they were not planned work.');
  }
  function modelWords(p) {
    const m = p.model || {}, v = x => fmtVal(x);
    const what = m.distinct && m.distinct.length ? (m.distinct.length === 1 ? 'always ' + v(m.distinct[0]) : 'one of ' + m.distinct.map(v).join(', '))
      : 'from ' + v(m.min) + ' to ' + v(m.max);
    return what + ' · ' + fmtNum(m.count) + ' writes, ' + fmtNum(m.changes) + ' changes' + (m.rising && m.changes ? ', only rising' : '') + ', last ' + v(m.last);
  }
  function baselineSummary(b) {
    return h('div', {},
      h('dl', { class: 'kv' }, h('dt', { text: 'state' }), h('dd', {}, h('b', { text: b.state })), h('dt', { text: 'first seen' }), h('dd', { text: fmtTime(b.first_seen) }),
        h('dt', { text: 'last new key' }), h('dd', { text: fmtTime(b.last_new_key) }), h('dt', { text: 'protocols' }), h('dd', { text: Object.entries(b.protocols || {}).map(([k, v]) => k + ' ' + v).join(', ') }),
        h('dt', { text: 'clients' }), h('dd', { text: String((b.links || []).length) }), h('dt', { text: 'functions' }), h('dd', { text: String((b.functions || []).length) }),
        h('dt', { text: 'written spaces' }), h('dd', { text: (b.writes || []).map(w => w.proto + (w.unit ? ' unit ' + w.unit : '') + ' ' + w.space + ' ' + (w.ranges || []).map(r => r.lo === r.hi ? r.lo : r.lo + '-' + r.hi).join(',')).join('; ') || 'none' }),
          h('dt', { text: 'value models' }), h('dd', { text: String((b.points || []).length) })),
      engineeringWarning(b),
      h('p', {}, h('a', { href: '#/baseline?asset=' + encodeURIComponent(b.server), text: 'full baseline' })));
  }

  // ---------- alerts ----------
  // foldedMessage splits "3 more times between T1 and T2: what happened"
  // into what happened, and the repeats for a badge
  function foldedMessage(msg) {
    const m = /^(\d+) more times? (at \S+|between \S+ and \S+): ([\s\S]*)$/.exec(msg || '');
    return m ? { text: m[3], more: +m[1], when: m[2] } : { text: msg || '', more: 0 };
  }
  function foldBadge(msg) {
    const f = foldedMessage(msg);
    return f.more ? h('span', { class: 'badge fold', title: f.more + ' more ' + (f.more === 1 ? 'time ' : 'times ') + f.when, text: '+' + f.more }) : null;
  }
  function alertTable(recs, refresh) {
    const admin = S.role === 'admin';
    const tbody = h('tbody', {});
    for (const r of recs) {
      const a = r.alert;
      const state = r.marked_normal ? 'normal (' + r.marked_normal.user + ')' : r.acknowledged ? 'acknowledged (' + r.acknowledged.user + ')' : 'open';
      const detail = h('tr', { class: 'detail hidden' }, h('td', { colspan: '7' }, alertDetail(a)));
      const act = async (path, btn) => {
        btn.disabled = true;
        try { await api('POST', '/api/alerts/' + encodeURIComponent(a.id) + '/' + path); refresh(); } catch (e) { btn.disabled = false; btn.title = e.message; alert(e.message); }
      };
      const ack = admin && !r.acknowledged ? h('button', { class: 'small secondary ack', type: 'button', text: 'Acknowledge' }) : null;
      const normal = admin && !r.marked_normal ? h('button', { class: 'small normal', type: 'button', text: 'Mark normal', title: 'the transaction joins the baseline' }) : null;
      if (ack) ack.addEventListener('click', ev => { ev.stopPropagation(); act('ack', ack); });
      if (normal) normal.addEventListener('click', ev => { ev.stopPropagation(); act('normal', normal); });
      tbody.appendChild(h('tr', { class: 'clickable alert-row', 'data-id': a.id, 'data-ts': String(Date.parse(a.ts)), 'data-state': r.marked_normal ? 'normal' : r.acknowledged ? 'acknowledged' : 'open',
        onclick: () => detail.classList.toggle('hidden') },
        h('td', {}, sevBadge(a.severity)), h('td', { class: 'mono time', text: fmtTime(a.ts) }), h('td', { class: 'kind', title: a.kind, text: a.kind.replace(/_/g, ' ') }),
        h('td', { class: 'mono' }, assetLink(a.asset)), h('td', { class: 'message' }, foldedMessage(a.message).text, foldBadge(a.message)), h('td', { class: 'state', text: state }),
        h('td', { class: 'row-actions' }, ack, ' ', normal)));
      tbody.appendChild(detail);
    }
    return h('div', { class: 'table-wrap' }, h('table', { class: 'alerts-table' },
      h('thead', {}, h('tr', {}, ['Sev', 'Time', 'Kind', 'Asset', 'Message', 'State', ''].map(t => h('th', { text: t })))), tbody));
  }

  function alertDetail(a) {
    const ep = e => e ? e.ip + (e.port ? ':' + e.port : '') + (e.mac ? ' (' + e.mac + ')' : '') : '';
    return h('dl', { class: 'kv' },
      h('dt', { text: 'id' }), h('dd', { class: 'mono', text: a.id }),
      h('dt', { text: 'key' }), h('dd', { class: 'mono', text: a.key }),
      a.proto ? [h('dt', { text: 'transaction' }), h('dd', { text: [a.proto, a.op, a.code !== undefined ? 'code ' + a.code : '', a.unit ? 'unit ' + a.unit : ''].filter(Boolean).join(' · ') })] : null,
      a.client ? [h('dt', { text: 'client' }), h('dd', { class: 'mono', text: ep(a.client) })] : null,
      a.server ? [h('dt', { text: 'server' }), h('dd', { class: 'mono', text: ep(a.server) })] : null,
      a.targets ? [h('dt', { text: 'targets' }), h('dd', { class: 'mono', text: JSON.stringify(a.targets) })] : null,
      a.values ? [h('dt', { text: 'values' }), h('dd', { class: 'mono', text: JSON.stringify(a.values) })] : null,
      h('dt', { text: 'frames (evidence)' }), h('dd', { class: 'mono' }, (a.frames || []).join(', '), ' ',
        (a.frames || []).length ? h('a', { class: 'evidence', href: '/api/alerts/' + encodeURIComponent(a.id) + '/evidence', download: 'otwatch-alert-' + a.id + '.pcap', onclick: ev => ev.stopPropagation(), text: 'download pcap' }) : null),
      a.mitre ? [h('dt', { text: 'ATT&CK for ICS' }), h('dd', { text: a.mitre.join(', ') })] : null,
      a.regulation ? [h('dt', { text: 'regulation' }), h('dd', { text: a.regulation })] : null,
      a.incident ? [h('dt', { text: 'incident' }), h('dd', {}, h('a', { href: '#/incidents?id=' + encodeURIComponent(a.incident), text: a.incident }))] : null,
      a.learning ? [h('dt', { text: 'learning' }), h('dd', { text: 'raised while the asset was still learning' })] : null);
  }

  async function pageAlerts(el, params) {
    if (!S.kinds) S.kinds = await api('GET', '/api/kinds');
    await inventory(false);
    S.newAlerts = 0; document.getElementById('new-alerts').classList.add('hidden');
    const f = {};
    for (const k of ['id', 'severity', 'kind', 'asset', 'since', 'until', 'state', 'text', 'incident', 'offset']) f[k] = params.get(k) || '';
    const limit = 100;
    const go = (patch) => {
      const p = new URLSearchParams();
      const nf = Object.assign({}, f, patch);
      if (!('offset' in (patch || {}))) nf.offset = '';
      for (const k of Object.keys(nf)) if (nf[k]) p.set(k, nf[k]);
      location.hash = '#/alerts' + (p.toString() ? '?' + p : '');
    };
    const toISO = v => v ? new Date(v + 'Z').toISOString() : '';
    const fromISO = v => v ? v.slice(0, 16) : '';
    const sevSel = h('select', { id: 'f-severity', onchange: ev => go({ severity: ev.target.value }) }, h('option', { value: '', text: 'any' }),
      [10, 9, 8, 7, 6, 5, 4, 3, 2].map(n => h('option', { value: String(n), text: '≥ ' + n, selected: String(n) === f.severity })));
    const kindSel = h('select', { id: 'f-kind', onchange: ev => go({ kind: ev.target.value }) }, h('option', { value: '', text: 'any kind' }),
      S.kinds.map(k => h('option', { value: k.kind, text: k.kind, selected: k.kind === f.kind })));
    const stateSel = h('select', { id: 'f-state', onchange: ev => go({ state: ev.target.value }) },
      [['', 'any state'], ['open', 'open'], ['acknowledged', 'acknowledged'], ['normal', 'marked normal']].map(([v, t]) => h('option', { value: v, text: t, selected: v === f.state })));
    const asset = h('input', { id: 'f-asset', placeholder: 'IP address', value: f.asset, size: '14', onchange: ev => go({ asset: ev.target.value.trim() }) });
    const text = h('input', { id: 'f-text', type: 'search', placeholder: 'message text', value: f.text, onchange: ev => go({ text: ev.target.value.trim() }) });
    const since = h('input', { id: 'f-since', type: 'datetime-local', value: fromISO(f.since), onchange: ev => go({ since: toISO(ev.target.value) }) });
    const until = h('input', { id: 'f-until', type: 'datetime-local', value: fromISO(f.until), onchange: ev => go({ until: toISO(ev.target.value) }) });
    el.appendChild(h('h1', { text: 'Alerts' }));
    el.appendChild(h('div', { class: 'toolbar' }, h('label', {}, 'Severity', sevSel), h('label', {}, 'Kind', kindSel), h('label', {}, 'State', stateSel),
      h('label', {}, 'Asset', asset), h('label', {}, 'Since (UTC)', since), h('label', {}, 'Until (UTC)', until), h('label', {}, 'Text', text),
      h('button', { type: 'button', class: 'secondary', text: 'Clear', onclick: () => { location.hash = '#/alerts'; } })));
    if (f.id || f.incident) el.appendChild(h('p', { class: 'notice' }, f.id ? 'Showing alert ' + f.id : 'Showing incident ' + f.incident, ' · ', h('a', { href: '#/alerts', text: 'all alerts' })));
    const q = new URLSearchParams();
    for (const k of Object.keys(f)) if (f[k]) q.set(k, f[k]);
    q.set('limit', String(limit));
    const t0 = performance.now();
    const res = await api('GET', '/api/alerts?' + q);
    const off = +f.offset || 0;
    const pager = h('div', { class: 'pager' },
      h('button', { type: 'button', class: 'secondary', text: '‹ Newer', disabled: off === 0, onclick: () => go({ offset: String(Math.max(0, off - limit)) }) }),
      h('span', { id: 'alerts-count', text: res.total ? (off + 1) + '–' + (off + res.alerts.length) + ' of ' + fmtNum(res.total) : 'no alerts match' }),
      h('button', { type: 'button', class: 'secondary', text: 'Older ›', disabled: off + limit >= res.total, onclick: () => go({ offset: String(off + limit) }) }));
    el.appendChild(pager);
    el.appendChild(res.alerts.length ? alertTable(res.alerts, () => route()) : h('p', { class: 'notice empty', text: [...q.keys()].some(k => k !== 'limit')
      ? 'No alert matches these filters.' : 'No alert yet. Alerts appear here the moment one is raised; assets that still learn raise only network alerts.' }));
    el.dataset.renderMs = String(Math.round(performance.now() - t0));
  }

  // ---------- incidents ----------
  // narrativeLines is a narrative's lines, a long one cut at its sentences
  function narrativeLines(text) {
    return (text || '').split(/\n+/).flatMap(l => l.length > 160 ? l.split(/(?<=\.)\s+(?=[A-Z0-9])/) : [l]).map(x => x.trim()).filter(Boolean);
  }
  // incidentSteps is an incident's events in time order: a strip of marks
  // on the incident's own time, then each step, who did what to whom
  function incidentSteps(inc) {
    const ev = (inc.events || []).slice().sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
    if (!ev.length) return null;
    const x0 = Date.parse(ev[0].ts), x1 = Math.max(Date.parse(ev[ev.length - 1].ts), x0 + 1000);
    const W = 1000, H = 44, L = 10, R = 10, X = t => L + (t - x0) / (x1 - x0) * (W - L - R);
    const strip = s('svg', { class: 'steps-strip', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'steps of the incident over time' });
    strip.appendChild(s('line', { class: 'axis', x1: L, x2: W - R, y1: 16, y2: 16 }));
    const tt = timeTicks(x0, x1, 6);
    tt.ticks.forEach((t, i) => strip.appendChild(s('text', { class: 'xtick', x: X(t), y: 38, 'text-anchor': X(t) < L + 80 ? 'start' : X(t) > W - R - 80 ? 'end' : 'middle',
      text: fmtTick(t, tt.step, i === 0, x1 - x0) })));
    ev.forEach((e, i) => strip.appendChild(s('circle', { class: 'step ' + sevClass(e.severity), cx: X(Date.parse(e.ts)), cy: 16, r: 5, 'data-t': String(Date.parse(e.ts)) },
      s('title', { text: (i + 1) + '. ' + fmtTime(e.ts) + ' · ' + e.kind.replace(/_/g, ' ') + '\n' + foldedMessage(e.message).text }))));
    return h('div', { class: 'steps-wrap' }, strip,
      h('ol', { class: 'steps' }, ev.map(e => h('li', { class: 'step', 'data-ts': String(Date.parse(e.ts)) },
        h('span', { class: 'mono', text: fmtTime(e.ts) }), ' ', sevBadge(e.severity), ' ', h('b', { text: e.kind.replace(/_/g, ' ') }), ' · ',
        e.alert ? h('a', { href: '#/alerts?id=' + encodeURIComponent(e.alert), text: foldedMessage(e.message).text }) : foldedMessage(e.message).text, foldBadge(e.message)))),
      inc.events_skipped ? h('p', { class: 'muted', text: inc.events_skipped + ' more alerts between these steps: see the incident\'s alerts.' }) : null);
  }
  async function pageIncidents(el, params) {
    const list = await api('GET', '/api/incidents');
    const focus = params.get('id');
    el.appendChild(h('h1', { text: 'Incidents' }));
    if (!list.length) { el.appendChild(h('p', { class: 'notice empty', text: 'No incident: alerts that follow each other on the same assets are grouped into incidents here, with their steps in order.' })); return; }
    const t = list.map(i => [Date.parse(i.first), Date.parse(i.last)]);
    const lo = Math.min(...t.map(x => x[0])), hi = Math.max(...t.map(x => x[1]), lo + 1000);
    const W = 1000, rowH = 14, shown = list.slice(0, 60);
    const tl = s('svg', { class: 'timeline', viewBox: '0 0 ' + W + ' ' + (shown.length * rowH + 24), role: 'img', 'aria-label': 'incident timeline' });
    shown.forEach((inc, i) => {
      const x1 = (Date.parse(inc.first) - lo) / (hi - lo) * (W - 20) + 10, x2 = (Date.parse(inc.last) - lo) / (hi - lo) * (W - 20) + 10;
      const r = s('rect', { class: 'inc', x: x1, y: i * rowH + 2, width: Math.max(x2 - x1, 4), height: rowH - 4, fill: ({ crit: '#c62828', high: '#e8590c', med: '#f0a500', low: '#4f83cc' })[sevClass(inc.max_severity)] });
      r.appendChild(s('title', { text: inc.id + ' · ' + inc.source + ' · ' + fmtTime(inc.first) }));
      r.addEventListener('click', () => { const c = document.getElementById('inc-' + inc.id); if (c) c.scrollIntoView(); });
      tl.appendChild(r);
    });
    const tt = timeTicks(lo, hi, 6);
    tt.ticks.forEach((t, i) => {
      const x = (t - lo) / (hi - lo) * (W - 20) + 10;
      tl.appendChild(s('line', { class: 'grid', x1: x, x2: x, y1: 0, y2: shown.length * rowH + 4 }));
      tl.appendChild(s('text', { class: 'xtick', x, y: shown.length * rowH + 18, 'font-size': '11', fill: '#5d6d7e', 'text-anchor': i ? 'middle' : 'start', text: fmtTick(t, tt.step, i === 0, hi - lo) }));
    });
    el.appendChild(h('div', { class: 'panel' }, h('h2', { text: 'Timeline' + (list.length > shown.length ? ' (newest ' + shown.length + ')' : '') }), tl));
    for (const inc of list.slice(0, 200)) {
      if (focus && inc.id !== focus) continue;
      el.appendChild(h('div', { class: 'panel incident ' + sevClass(inc.max_severity), id: 'inc-' + inc.id },
        h('h2', {}, sevBadge(inc.max_severity), ' ', inc.source, ' ', h('span', { class: 'muted', text: '· score ' + inc.score + ' · ' + fmtTime(inc.first) + ' → ' + fmtTime(inc.last) })),
        h('ul', { class: 'narrative' }, narrativeLines(inc.narrative).map(l => h('li', { text: l }))),
        incidentSteps(inc),
        h('p', {}, (inc.kinds || []).map(k => h('span', { class: 'tag', text: k })), ' ', (inc.assets || []).map(x => h('span', { class: 'tag role' }, assetLink(x)))),
        h('a', { href: '#/alerts?incident=' + encodeURIComponent(inc.id), text: (inc.alert_count || inc.alerts.length) + ((inc.alert_count || inc.alerts.length) === 1 ? ' alert' : ' alerts') })));
    }
  }

  // ---------- baseline ----------
  async function pageBaseline(el, params) {
    const doc = await api('GET', '/api/baseline');
    const sel = params.get('asset') || '';
    el.appendChild(h('h1', { text: 'Baseline' }));
    const diffOut = h('div', { id: 'diff-out' });
    const file = h('input', { type: 'file', id: 'diff-file', accept: 'application/json,.json' });
    file.addEventListener('change', async () => {
      clear(diffOut);
      const fl = file.files[0]; if (!fl) return;
      try {
        const r = await api('POST', '/api/baseline/diff', await fl.text());
        diffOut.appendChild(r.changes.length ? h('pre', { text: r.changes.join('\n') }) : h('p', { text: 'No difference: the file equals the current baseline.' }));
      } catch (e) { diffOut.appendChild(errorBox(e)); }
    });
    el.appendChild(h('div', { class: 'panel' },
      h('p', {}, doc.assets.length + ' server assets, ' + doc.network.hosts.length + ' known hosts; network learning since ' + fmtTime(doc.network.start) + '. '),
      h('div', { class: 'toolbar' }, h('a', { href: '/api/baseline?download=1', download: 'otwatch-baseline.json' }, h('button', { type: 'button', id: 'export', text: 'Export baseline (JSON)' })),
        h('label', {}, 'Diff against a baseline file', file)), diffOut));
    const pick = h('select', { id: 'baseline-asset', onchange: ev => { location.hash = '#/baseline?asset=' + encodeURIComponent(ev.target.value); } },
      h('option', { value: '', text: 'choose an asset…' }), doc.assets.map(a => h('option', { value: a.server, text: a.server + ' (' + a.state + ')', selected: a.server === sel })));
    el.appendChild(h('div', { class: 'toolbar' }, h('label', {}, 'Asset', pick)));
    const rows = doc.assets.filter(a => !sel || a.server === sel);
    if (!sel) {
      el.appendChild(h('div', { class: 'table-wrap' }, h('table', {}, h('tr', {}, ['Server', 'State', 'Protocols', 'Clients', 'Functions', 'Written spaces', 'Points'].map(t => h('th', { text: t }))),
        rows.length ? null : emptyRow(7, 'No baseline yet: a server asset gets one as soon as a client talks to it, learned until the learning period ends.'),
        rows.map(a => h('tr', { class: 'clickable', onclick: () => { location.hash = '#/baseline?asset=' + encodeURIComponent(a.server); } },
          h('td', { class: 'mono', text: a.server }), h('td', { text: a.state }), h('td', { text: Object.keys(a.protocols || {}).join(', ') }),
          h('td', { text: String(a.links.length) }), h('td', {}, String(a.functions.length), engineeringBadge(a)), h('td', { text: String(a.writes.length) }), h('td', { text: String(a.points.length) }))))));
      return;
    }
    const a = rows[0];
    if (!a) { el.appendChild(h('p', { text: 'No baseline for ' + sel })); return; }
    el.appendChild(h('div', { class: 'panel' }, h('h2', {}, 'Baseline of ', assetLink(a.server)), baselineSummary(a)));
    el.appendChild(h('div', { class: 'panel' }, h('h2', { text: 'Functions' }), h('div', { class: 'table-wrap' }, h('table', { id: 'baseline-functions' },
      h('tr', {}, ['Client', 'Protocol', 'Unit', 'Op', 'Code', 'Subcode', 'Count', 'Period', 'Targets'].map(t => h('th', { text: t }))),
      a.functions.map(f => h('tr', {}, h('td', { class: 'mono', text: f.client }), h('td', { text: f.proto }), h('td', { text: f.unit }), h('td', { text: f.op }),
        h('td', { text: String(f.code) }), h('td', { text: f.subcode !== undefined ? String(f.subcode) : '' }), h('td', { text: fmtNum(f.count) }),
        h('td', { text: f.period_s ? f.period_s.toFixed(2) + ' s' : '' }),
        h('td', { class: 'mono', text: Object.entries(f.targets || {}).map(([sp, rs]) => sp + ' ' + rs.map(r => r.lo === r.hi ? r.lo : r.lo + '-' + r.hi).join(',')).join('; ') })))))));
    el.appendChild(h('div', { class: 'panel' }, h('h2', { text: 'Clients' }), h('table', {}, h('tr', {}, ['Client', 'Protocol', 'Count', 'First', 'Last'].map(t => h('th', { text: t }))),
      a.links.map(l => h('tr', {}, h('td', { class: 'mono' }, assetLink(l.client)), h('td', { text: l.proto }), h('td', { text: fmtNum(l.count) }), h('td', { text: fmtTime(l.first) }), h('td', { text: fmtTime(l.last) }))))));
    if (a.points.length) {
      el.appendChild(h('div', { class: 'panel' }, h('h2', { text: 'Written points' }), h('table', {}, h('tr', {}, ['Protocol', 'Space', 'Address', 'Class', 'Learned values'].map(t => h('th', { text: t }))),
        a.points.map(p => h('tr', {}, h('td', { text: p.proto }), h('td', { text: p.space }), h('td', { text: p.id || String(p.address) }), h('td', { text: p.class }), h('td', { class: 'model', text: modelWords(p) }))))));
    }
  }

  // ---------- system and settings ----------
  async function pageSystem(el) {
    const hl = await api('GET', '/api/health');
    el.appendChild(h('h1', { text: 'System and settings' }));
    el.appendChild(h('div', { class: 'grid2' },
      h('div', { class: 'panel' }, h('h2', { text: 'System' }), h('dl', { class: 'kv', id: 'system-info' },
        h('dt', { text: 'version' }), h('dd', { class: 'mono', text: hl.version + (hl.slot ? ' (root slot ' + hl.slot + ')' : '') }), h('dt', { text: 'started' }), h('dd', { text: fmtTime(hl.started) }),
        h('dt', { text: 'uptime' }), h('dd', { text: fmtDur(hl.uptime_s) }), h('dt', { text: 'learning mode' }), h('dd', { text: hl.mode || '—' }),
        h('dt', { text: 'detection' }), h('dd', { id: 'detection-state', text: !hl.detection ? '—' : hl.detection.detecting + ' assets detecting, ' + hl.detection.learning + ' learning'
          + (hl.detection.learning && hl.detection.learning_until ? ' (until ' + fmtTime(hl.detection.learning_until) + ' at the earliest)' : '') }),
        h('dt', { text: 'packets' }), h('dd', { 'data-live': 'packets', text: fmtNum(hl.packets) }), h('dt', { text: 'drops' }), h('dd', { 'data-live': 'drops', text: fmtNum(hl.drops) }),
        h('dt', { text: 'transactions' }), h('dd', { text: fmtNum(hl.transactions) }), h('dt', { text: 'flows' }), h('dd', { text: fmtNum(hl.flows) }),
        hl.disk ? [h('dt', { text: 'disk' }), h('dd', { text: fmtBytes(hl.disk.free_bytes) + ' free of ' + fmtBytes(hl.disk.total_bytes) + ' (' + hl.disk.path + ')' })] : null,
        Object.keys(hl.limits_hit || {}).length ? [h('dt', { text: 'limits hit' }), h('dd', { class: 'mono', text: JSON.stringify(hl.limits_hit) })] : null)),
      h('div', { class: 'panel' }, h('h2', { text: 'Interfaces' }), h('table', {}, h('tr', {}, ['Name', 'State', 'Packets', 'Drops', 'Bytes'].map(t => h('th', { text: t }))),
        (hl.interfaces || []).map(i => h('tr', {}, h('td', { text: i.name }), h('td', { text: i.up ? 'up' : 'down' }), h('td', { text: fmtNum(i.packets) }), h('td', { text: fmtNum(i.drops) }), h('td', { text: fmtBytes(i.bytes || 0) }))),
        (hl.interfaces || []).length ? null : emptyRow(5, NO_CAPTURE))),
      h('div', { class: 'panel' }, h('h2', { text: 'Your session' }), h('p', { text: S.user + ' · role ' + S.role }))));
    const settings = await api('GET', '/api/settings').catch(() => null);
    if (settings) {
      const admin = S.role === 'admin';
      const mode = h('select', { id: 'set-mode', disabled: !admin }, [['auto', 'auto: learn, then detect'], ['learn', 'learn only'], ['detect', 'detect (baseline frozen)']].map(([v, t]) => h('option', { value: v, text: t, selected: v === settings.mode })));
      const sys = h('textarea', { id: 'set-syslog', rows: '3', cols: '40', disabled: !admin, placeholder: 'udp://10.0.0.5:514 (one per line)' });
      sys.value = (settings.syslog || []).join('\n');
      const msg = h('p', { id: 'settings-msg' });
      // maintenance window: planned engineering work lowers the engineering alerts until it ends
      const isActive = st => st.maintenance_until && new Date(st.maintenance_until) > new Date();
      const maintText = st => isActive(st) ? 'Maintenance window until ' + fmtTime(st.maintenance_until) + ', declared by ' + st.maintenance_by + ': ' + st.maintenance_reason
        + '. Engineering alerts (downloads, stops, new functions) are lowered; attacks are not.' : 'No maintenance window.';
      const active = isActive(settings);
      const hours = h('input', { id: 'set-maint-hours', type: 'number', min: '0', max: '168', step: '0.5', disabled: !admin,
        value: active ? String(Math.round((new Date(settings.maintenance_until) - new Date()) / 360000) / 10) : '0' });
      const reason = h('input', { id: 'set-maint-reason', maxlength: '200', size: '30', disabled: !admin, placeholder: 'planned work, e.g. replace CPU in cell 3' });
      reason.value = active ? settings.maintenance_reason || '' : '';
      const maintState = h('p', { id: 'maint-state', class: active ? 'warn' : 'muted', text: maintText(settings) });
      const form = h('form', { id: 'settings-form', class: 'toolbar' }, h('label', {}, 'Learning mode', mode), h('label', {}, 'Syslog destinations', sys),
        h('label', {}, 'Maintenance window (hours, 0 ends it)', hours), h('label', {}, 'Planned work', reason),
        admin ? h('button', { type: 'submit', id: 'settings-save', text: 'Save settings' }) : null);
      form.addEventListener('submit', async ev => {
        ev.preventDefault();
        try {
          const h1 = parseFloat(hours.value) || 0;
          const body = { mode: mode.value, syslog: sys.value.split('\n').map(x => x.trim()).filter(Boolean) };
          if (h1 > 0) {
            body.maintenance_until = active && Math.abs(new Date(settings.maintenance_until) - new Date() - h1 * 3600000) < 180000
              ? settings.maintenance_until : new Date(Date.now() + h1 * 3600000).toISOString();
            body.maintenance_reason = reason.value.trim();
          }
          const saved = await api('PUT', '/api/settings', body);
          if (saved) { maintState.textContent = maintText(saved); maintState.className = isActive(saved) ? 'warn' : 'muted'; }
          msg.className = ''; msg.textContent = 'Saved.';
        } catch (e) { msg.className = 'error'; msg.textContent = e.message; }
      });
      el.appendChild(h('div', { class: 'panel' }, h('h2', { text: 'Settings' }), form, maintState, msg));
    }
    // appliance updates: A/B root slots; the daemon stores the bundle, the appliance installs it
    const upd = await api('GET', '/api/system/update').catch(() => null);
    if (upd && upd.supported) {
      const umsg = h('p', { id: 'update-msg', class: 'muted', text: 'State: ' + upd.state + (upd.detail ? ' (' + upd.detail + ')' : '')
        + (upd.last_step ? '. Last step: ' + upd.last_step.step + ' ' + (upd.last_step.version || '') + ' at ' + fmtTime(upd.last_step.ts) + ': ' + upd.last_step.detail : '') });
      const slotsTable = h('table', { id: 'slots-table' }, h('tr', {}, ['Slot', 'Version', 'State', ''].map(t => h('th', { text: t }))),
        upd.slots.map(s => h('tr', {}, h('td', { text: s.name }), h('td', { class: 'mono', text: s.version || '—' }),
          h('td', { text: s.state + (s.state === 'trial' ? ' (' + s.tries_left + ' boots left)' : '') }), h('td', { text: s.running ? 'running' : '' }))));
      let form = null;
      if (S.role === 'admin') {
        const file = h('input', { id: 'update-file', type: 'file', accept: '.otwb' });
        const down = h('input', { id: 'update-downgrade', type: 'checkbox' });
        form = h('form', { id: 'update-form', class: 'toolbar' }, file, h('label', {}, down, ' allow an older version'),
          h('button', { type: 'submit', id: 'update-upload', text: 'Upload and install' }));
        form.addEventListener('submit', async ev => {
          ev.preventDefault();
          if (!file.files.length) { umsg.className = 'error'; umsg.textContent = 'Choose a bundle (.otwb) first.'; return; }
          if (!confirm('Install ' + file.files[0].name + '? The appliance verifies it, writes the other slot and reboots into it: monitoring pauses for the reboot.')) return;
          try {
            umsg.className = 'muted'; umsg.textContent = 'Uploading…';
            const r = await api('POST', '/api/system/update' + (down.checked ? '?allow_downgrade=1' : ''), file.files[0]);
            umsg.className = ''; umsg.textContent = 'Stored ' + r.version + ' for ' + r.arch + ': ' + r.detail;
          } catch (e) { umsg.className = 'error'; umsg.textContent = e.message; }
        });
      }
      el.appendChild(h('div', { class: 'panel' }, h('h2', { text: 'Software update' }),
        h('p', { class: 'muted', text: 'Two root slots: a new version is written to the one not running and must run healthy for a minute after booting, else the appliance goes back to the previous one by itself.' }),
        slotsTable, form, umsg));
    }
    if (S.role !== 'admin') return;
    const [users, tokens, audit] = await Promise.all([api('GET', '/api/users'), api('GET', '/api/tokens'), api('GET', '/api/audit?limit=50')]);
    const uErr = h('p', { class: 'error' });
    const nu = h('input', { id: 'new-user', placeholder: 'user name' }), np = h('input', { id: 'new-pass', type: 'password', placeholder: 'password (12+)', autocomplete: 'new-password' });
    const nr = h('select', { id: 'new-role' }, h('option', { value: 'viewer', text: 'viewer' }), h('option', { value: 'admin', text: 'admin' }));
    const addUser = h('form', { class: 'toolbar' }, nu, np, nr, h('button', { type: 'submit', text: 'Add user' }));
    addUser.addEventListener('submit', async ev => {
      ev.preventDefault();
      try { await api('POST', '/api/users', { user: nu.value.trim(), password: np.value, role: nr.value }); route(); } catch (e) { uErr.textContent = e.message; }
    });
    const tokOut = h('div', {});
    const tn = h('input', { id: 'token-name', placeholder: 'token name' });
    const addTok = h('form', { class: 'toolbar' }, tn, h('button', { type: 'submit', text: 'Create API token' }));
    addTok.addEventListener('submit', async ev => {
      ev.preventDefault();
      try {
        const r = await api('POST', '/api/tokens', { name: tn.value.trim() });
        clear(tokOut).appendChild(h('p', { class: 'notice' }, 'Copy this token now, it is not shown again: ', h('code', { class: 'mono', id: 'new-token', text: r.token })));
      } catch (e) { clear(tokOut).appendChild(errorBox(e)); }
    });
    const del = (path) => async () => { if (!confirm('Delete ' + decodeURIComponent(path.split('/').pop()) + '?')) return; try { await api('DELETE', path); route(); } catch (e) { alert(e.message); } };
    el.appendChild(h('div', { class: 'grid2' },
      h('div', { class: 'panel' }, h('h2', { text: 'Users' }), h('table', {}, users.map(u => h('tr', {}, h('td', { text: u.name }), h('td', { text: u.role }), h('td', { text: fmtTime(u.created) }),
        h('td', {}, u.name === S.user ? '' : h('button', { type: 'button', class: 'small secondary', text: 'Delete', onclick: del('/api/users/' + encodeURIComponent(u.name)) }))))), addUser, uErr),
      h('div', { class: 'panel' }, h('h2', { text: 'API tokens' }), h('p', { class: 'muted', text: 'For automation: send "Authorization: Bearer <token>". A token acts with its user\'s role.' }),
        h('table', {}, tokens.map(t => h('tr', {}, h('td', { text: t.name }), h('td', { text: t.user }), h('td', { text: fmtTime(t.created) }),
          h('td', {}, h('button', { type: 'button', class: 'small secondary', text: 'Revoke', onclick: del('/api/tokens/' + encodeURIComponent(t.id)) })))),
          tokens.length ? null : emptyRow(4, 'No API token: create one below for a script or a SIEM to read the API.')), addTok, tokOut)));
    el.appendChild(h('div', { class: 'panel' }, h('h2', { text: 'Audit log (latest 50)' }), h('div', { class: 'table-wrap' }, h('table', { id: 'audit-table' },
      h('tr', {}, ['Time', 'User', 'Address', 'Action', 'Target', 'Result'].map(t => h('th', { text: t }))),
      audit.map(e => h('tr', {}, h('td', { class: 'mono', text: fmtTime(e.ts) }), h('td', { text: e.user }), h('td', { class: 'mono', text: e.addr }), h('td', { text: e.action }),
        h('td', { class: 'mono', text: e.target || '' }), h('td', { class: e.ok ? '' : 'error', text: e.ok ? 'ok' : (e.detail || 'failed') })))))));
  }

  // ---------- network map ----------
  const ROLE_COLORS = { plc: '#1565c0', rtu: '#6a1b9a', opcua_server: '#00838f', hmi: '#2e7d32', scada_master: '#ef6c00', engineering_workstation: '#c62828', historian: '#795548', opcua_client: '#558b2f' };
  function roleColor(a) { for (const r of a.roles || []) if (ROLE_COLORS[r]) return ROLE_COLORS[r]; return '#90a4ae'; }
  function subnetOf(a) {
    if (a.zone) return 'zone ' + a.zone + (a.level != null ? ' · level ' + a.level : ''); // the plant's own segmentation first
    const ip = (a.ips || [])[0] || '';
    if (a.vlans && a.vlans.length) return 'VLAN ' + a.vlans[0] + ' · ' + ip.split('.').slice(0, 3).join('.') + '.0/24';
    return ip.includes('.') ? ip.split('.').slice(0, 3).join('.') + '.0/24' : ip.split(':').slice(0, 4).join(':') + '::/64';
  }
  const WRITE_OPS = ['write', 'control', 'program_download', 'firmware_update', 'stop', 'start', 'restart'];

  async function pageMap(el) {
    const inv = await inventory(true);
    el.appendChild(h('h1', { text: 'Network map' }));
    const fitBtn = h('button', { type: 'button', class: 'small secondary', id: 'map-fit', text: 'Fit' });
    el.appendChild(h('div', { class: 'legend' }, Object.entries(ROLE_COLORS).map(([r, c]) => { const sw = h('span', { class: 'sw' }); sw.style.background = c; return h('span', {}, sw, r); }),
      h('span', {}, h('b', { class: 'error', text: '- - -' }), ' writes / control'),
      h('span', {}, h('b', { class: 'attack-sw', text: '━━' }), ' attack path to a vulnerable asset (ringed)'), h('span', { class: 'muted', text: 'edge width: traffic · drag to move, wheel or pinch to zoom' }), fitBtn));
    const wrap = h('div', { class: 'map-wrap' });
    const side = h('div', { class: 'map-side', id: 'map-side' }, h('p', { class: 'muted', text: inv.assets.length + ' assets, ' + inv.links.length + ' links. Click a node.' }));
    const svgEl = s('svg', { id: 'map', role: 'img', 'aria-label': 'network map' });
    wrap.appendChild(svgEl); wrap.appendChild(side); el.appendChild(wrap);
    const W = wrap.clientWidth || 1000, H = wrap.clientHeight || 600;
    // nodes, grouped by subnet
    const groups = new Map();
    const nodes = inv.assets.map((a, i) => {
      const g = subnetOf(a);
      if (!groups.has(g)) groups.set(g, []);
      const n = { a, i, g, x: 0, y: 0, vx: 0, vy: 0, deg: 0 };
      groups.get(g).push(n);
      return n;
    });
    const byId = new Map(nodes.map(n => [n.a.id, n]));
    const edgesMap = new Map();
    for (const l of inv.links) {
      const a = byId.get(l.client), b = byId.get(l.server);
      if (!a || !b || a === b) continue;
      const k = a.i < b.i ? a.i + '-' + b.i : b.i + '-' + a.i;
      let e = edgesMap.get(k);
      if (!e) { e = { s: a, t: b, n: 0, write: false, protos: new Set(), ops: {} }; edgesMap.set(k, e); }
      for (const [op, c] of Object.entries(l.ops || {})) { e.n += c; e.ops[op] = (e.ops[op] || 0) + c; if (WRITE_OPS.includes(op) && c > 0) e.write = true; }
      e.protos.add(l.proto);
    }
    const edges = [...edgesMap.values()];
    for (const e of edges) { e.s.deg++; e.t.deg++; }
    // groups are packed in rows (biggest first), sized by their member
    // count; nodes start on a sunflower spiral around the group centre.
    // With zones at Purdue levels, each level is a row of its own, the
    // highest on top, the groups outside every zone in the last row
    const levelOf = new Map();
    for (const [g, members] of groups) {
      const lv = members.find(n => n.a.zone && n.a.level != null);
      levelOf.set(g, lv ? lv.a.level : null);
    }
    const purdue = [...levelOf.values()].some(v => v !== null);
    const lvKey = g => levelOf.get(g) === null ? -1 : levelOf.get(g);
    const gl = [...groups.entries()].sort((x, y) => (purdue ? lvKey(y[0]) - lvKey(x[0]) : 0) || y[1].length - x[1].length);
    const spacing = nodes.length > 300 ? 16 : 46;
    const radius = m => spacing * 0.62 * Math.sqrt(m.length) + 40;
    const area = gl.reduce((a, [, m]) => a + Math.pow(2 * radius(m) + 80, 2), 0);
    const rowW = Math.max(2 * radius(gl.length ? gl[0][1] : []) + 80, Math.sqrt(area) * W / H * 0.9);
    const centres = new Map();
    const rowStart = purdue ? 150 : 0, levelRows = [];
    let cx0 = rowStart, cy0 = 0, rowH = 0, prevLevel;
    for (const [g, members] of gl) {
      const box = 2 * radius(members) + 80;
      const newLevel = purdue && lvKey(g) !== prevLevel;
      if ((cx0 > rowStart && cx0 + box > rowW) || (newLevel && cx0 > rowStart)) { cx0 = rowStart; cy0 += rowH; rowH = 0; }
      if (newLevel) { levelRows.push({ level: levelOf.get(g), y: cy0 + box / 2 }); prevLevel = lvKey(g); }
      const c = { x: cx0 + box / 2, y: cy0 + box / 2 };
      centres.set(g, c);
      members.forEach((n, j) => {
        const ang = j * 2.399963, rr = spacing * 0.62 * Math.sqrt(j + 0.5);
        n.x = c.x + rr * Math.cos(ang); n.y = c.y + rr * Math.sin(ang);
      });
      cx0 += box; rowH = Math.max(rowH, box);
    }
    const maxN = Math.max(1, ...edges.map(e => e.n));
    const viewport = s('g', {});
    const hulls = s('g', {}), edgeG = s('g', {}), nodeG = s('g', {}), labelG = s('g', {});
    viewport.append(hulls, edgeG, nodeG, labelG);
    svgEl.appendChild(viewport);
    for (const r of levelRows) {
      hulls.appendChild(s('text', { class: 'level-label', x: 0, y: r.y, 'data-level': r.level === null ? '' : String(r.level),
        text: r.level === null ? 'not in a zone' : 'Purdue level ' + r.level }));
    }
    const hullEls = gl.map(([g]) => {
      const r = s('rect', { class: 'subnet', rx: 10, ry: 10 });
      const t = s('text', { class: 'subnet-label', text: g });
      hulls.append(r, t);
      return { g, r, t };
    });
    const small = nodes.length > 300;
    // a big map bundles the links between two subnets into one group edge;
    // a node's own links show when it is selected
    const groupEdges = new Map();
    for (const e of edges) {
      e.bundled = small && e.s.g !== e.t.g;
      if (!e.bundled) continue;
      const k = e.s.g < e.t.g ? e.s.g + '|' + e.t.g : e.t.g + '|' + e.s.g;
      let ge = groupEdges.get(k);
      if (!ge) { ge = { a: e.s.g < e.t.g ? e.s.g : e.t.g, b: e.s.g < e.t.g ? e.t.g : e.s.g, n: 0, links: 0, write: false }; groupEdges.set(k, ge); }
      ge.n += e.n; ge.links++; ge.write = ge.write || e.write;
    }
    const maxG = Math.max(1, ...[...groupEdges.values()].map(g => g.n));
    for (const ge of groupEdges.values()) {
      ge.el = s('line', { class: 'group-edge' + (ge.write ? ' write' : ''), 'stroke-width': (2 + 10 * Math.log1p(ge.n) / Math.log1p(maxG)).toFixed(2) });
      ge.el.appendChild(s('title', { text: ge.a + ' ↔ ' + ge.b + ': ' + ge.links + ' links' + (ge.write ? ', with writes' : '') }));
      edgeG.appendChild(ge.el);
    }
    for (const e of edges) {
      e.el = s('line', { class: 'edge' + (e.write ? ' write' : '') + (e.bundled ? ' bundled' : ''), 'stroke-width': (1 + 5 * Math.log1p(e.n) / Math.log1p(maxN)).toFixed(2) });
      e.el.appendChild(s('title', { text: e.s.a.id + ' ↔ ' + e.t.a.id + ' · ' + [...e.protos].join(', ') + ' · ' + Object.entries(e.ops).map(([k, v]) => k + '×' + v).join(' ') }));
      edgeG.appendChild(e.el);
    }
    let selected = null;
    for (const n of nodes) {
      n.el = s('circle', { class: 'node', r: small ? 4 : Math.min(6 + 1.5 * Math.sqrt(n.deg), 16), fill: roleColor(n.a), 'data-id': n.a.id });
      n.el.appendChild(s('title', { text: (n.a.ips || []).join(', ') + ' ' + (n.a.roles || []).join(', ') + ' ' + assetName(n.a) }));
      n.el.addEventListener('click', ev => { ev.stopPropagation(); select(n); });
      n.el.addEventListener('pointerdown', ev => startDrag(ev, n));
      nodeG.appendChild(n.el);
      if (!small) { n.label = s('text', { class: 'node-label', text: (n.a.ips || [])[0] || n.a.id }); labelG.appendChild(n.label); }
    }
    function select(n) {
      if (selected) selected.el.classList.remove('selected');
      selected = n; n.el.classList.add('selected');
      const links = edges.filter(e => e.s === n || e.t === n);
      for (const e of edges) if (e.bundled) e.el.classList.toggle('shown', e.s === n || e.t === n);
      clear(side).appendChild(h('div', {},
        h('h2', {}, h('a', { href: '#/asset/' + encodeURIComponent(n.a.id), text: (n.a.ips || []).join(', ') })),
        h('p', {}, (n.a.roles || []).map(r => h('span', { class: 'tag role', text: r })), ' ', assetName(n.a)),
        h('p', { class: 'muted', text: n.g }),
        h('table', {}, links.map(e => { const o = e.s === n ? e.t : e.s; return h('tr', {}, h('td', { class: 'mono', text: (o.a.ips || [])[0] }), h('td', { class: e.write ? 'error' : '', text: [...e.protos].join(',') + ' ' + fmtNum(e.n) })); }))));
    }
    // simulation: springs on links, repulsion inside a subnet, pull to the subnet centre
    let alpha = 1;
    function tick() {
      for (const [g, members] of groups) {
        const c = centres.get(g);
        if (members.length > 80) continue; // big groups keep their spiral
        for (let i = 0; i < members.length; i++) {
          const a = members[i];
          for (let j = i + 1; j < members.length; j++) {
            const b = members[j];
            let dx = a.x - b.x, dy = a.y - b.y, d2 = dx * dx + dy * dy;
            if (d2 > 40000) continue;
            if (d2 < 0.01) { dx = Math.random() - 0.5; dy = Math.random() - 0.5; d2 = 0.5; }
            const f = 300 * alpha / d2;
            a.vx += dx * f; a.vy += dy * f; b.vx -= dx * f; b.vy -= dy * f;
          }
          a.vx += (c.x - a.x) * 0.02 * alpha; a.vy += (c.y - a.y) * 0.02 * alpha;
        }
      }
      for (const e of edges) {
        if (e.s.g !== e.t.g || groups.get(e.s.g).length > 80) continue; // cross-subnet links do not pull groups apart
        const dx = e.t.x - e.s.x, dy = e.t.y - e.s.y, d = Math.sqrt(dx * dx + dy * dy) || 1;
        const f = (d - 60) / d * 0.05 * alpha;
        e.s.vx += dx * f; e.s.vy += dy * f; e.t.vx -= dx * f; e.t.vy -= dy * f;
      }
      for (const n of nodes) {
        if (n.fixed) { n.vx = n.vy = 0; continue; }
        n.vx *= 0.6; n.vy *= 0.6;
        n.x += Math.max(-20, Math.min(20, n.vx)); n.y += Math.max(-20, Math.min(20, n.vy));
      }
      alpha *= 0.97;
    }
    function draw() {
      for (const e of edges) { e.el.setAttribute('x1', e.s.x.toFixed(1)); e.el.setAttribute('y1', e.s.y.toFixed(1)); e.el.setAttribute('x2', e.t.x.toFixed(1)); e.el.setAttribute('y2', e.t.y.toFixed(1)); }
      for (const n of nodes) {
        n.el.setAttribute('cx', n.x.toFixed(1)); n.el.setAttribute('cy', n.y.toFixed(1));
        if (n.label) { n.label.setAttribute('x', (n.x + 9).toFixed(1)); n.label.setAttribute('y', (n.y + 3).toFixed(1)); }
      }
      const centre = new Map();
      for (const hl of hullEls) {
        const m = groups.get(hl.g);
        let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
        for (const n of m) { x0 = Math.min(x0, n.x); y0 = Math.min(y0, n.y); x1 = Math.max(x1, n.x); y1 = Math.max(y1, n.y); }
        hl.r.setAttribute('x', x0 - 20); hl.r.setAttribute('y', y0 - 30); hl.r.setAttribute('width', x1 - x0 + 40 + (small ? 0 : 60)); hl.r.setAttribute('height', y1 - y0 + 50);
        hl.t.setAttribute('x', x0 - 14); hl.t.setAttribute('y', y0 - 14);
        centre.set(hl.g, { x: (x0 + x1) / 2, y: (y0 + y1) / 2 });
      }
      for (const ge of groupEdges.values()) {
        const a = centre.get(ge.a), b = centre.get(ge.b);
        ge.el.setAttribute('x1', a.x.toFixed(1)); ge.el.setAttribute('y1', a.y.toFixed(1)); ge.el.setAttribute('x2', b.x.toFixed(1)); ge.el.setAttribute('y2', b.y.toFixed(1));
      }
    }
    const pre = nodes.length > 500 ? 25 : 80;
    for (let i = 0; i < pre; i++) tick();
    draw();
    let raf = 0, running = true;
    let interacted = false, settledFit = false;
    function loop() {
      if (!running) return;
      if (alpha > 0.02) { tick(); draw(); } else if (!settledFit) { settledFit = true; if (!interacted) fit(); }
      raf = requestAnimationFrame(loop);
    }
    raf = requestAnimationFrame(loop);
    S.mapStop = () => { running = false; cancelAnimationFrame(raf); };
    // pan, zoom, drag
    let tx = 0, ty = 0, k = 1;
    const applyView = () => viewport.setAttribute('transform', 'translate(' + tx.toFixed(1) + ',' + ty.toFixed(1) + ') scale(' + k.toFixed(3) + ')');
    function fit() {
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const n of nodes) { x0 = Math.min(x0, n.x); y0 = Math.min(y0, n.y); x1 = Math.max(x1, n.x); y1 = Math.max(y1, n.y); }
      if (!nodes.length) return;
      x0 -= 30; y0 -= 40; x1 += small ? 30 : 90; y1 += 30;
      const availW = W > 800 ? W - 300 : W;
      k = Math.max(0.1, Math.min(2, availW / (x1 - x0), H / (y1 - y0)));
      tx = (availW - (x1 - x0) * k) / 2 - x0 * k; ty = (H - (y1 - y0) * k) / 2 - y0 * k;
      applyView();
    }
    fit();
    fitBtn.addEventListener('click', fit);
    const toWorld = (ev) => { const r = svgEl.getBoundingClientRect(); return { x: (ev.clientX - r.left - tx) / k, y: (ev.clientY - r.top - ty) / k }; };
    let drag = null;
    function startDrag(ev, n) { ev.stopPropagation(); interacted = true; drag = { n }; n.fixed = true; svgEl.setPointerCapture(ev.pointerId); }
    const pointers = new Map();
    let pinch = null;
    svgEl.addEventListener('pointerdown', ev => {
      pointers.set(ev.pointerId, ev);
      if (pointers.size === 2) { const [a, b] = [...pointers.values()]; pinch = { d: Math.hypot(a.clientX - b.clientX, a.clientY - b.clientY), k }; drag = null; return; }
      interacted = true;
      if (!drag) { drag = { pan: true, x: ev.clientX - tx, y: ev.clientY - ty }; svgEl.setPointerCapture(ev.pointerId); }
    });
    svgEl.addEventListener('pointermove', ev => {
      if (pointers.has(ev.pointerId)) pointers.set(ev.pointerId, ev);
      if (pinch && pointers.size === 2) { const [a, b] = [...pointers.values()]; k = Math.max(0.1, Math.min(6, pinch.k * Math.hypot(a.clientX - b.clientX, a.clientY - b.clientY) / pinch.d)); applyView(); return; }
      if (!drag) return;
      if (drag.pan) { tx = ev.clientX - drag.x; ty = ev.clientY - drag.y; applyView(); return; }
      const p = toWorld(ev); drag.n.x = p.x; drag.n.y = p.y; alpha = Math.max(alpha, 0.3); draw();
    });
    const end = ev => { pointers.delete(ev.pointerId); if (pointers.size < 2) pinch = null; if (drag && drag.n) drag.n.fixed = false; drag = null; };
    svgEl.addEventListener('pointerup', end); svgEl.addEventListener('pointercancel', end);
    svgEl.addEventListener('wheel', ev => {
      ev.preventDefault(); interacted = true;
      const r = svgEl.getBoundingClientRect(), mx = ev.clientX - r.left, my = ev.clientY - r.top;
      const nk = Math.max(0.1, Math.min(6, k * (ev.deltaY < 0 ? 1.15 : 1 / 1.15)));
      tx = mx - (mx - tx) * nk / k; ty = my - (my - ty) * nk / k; k = nk; applyView();
    }, { passive: false });
    svgEl.dataset.nodes = String(nodes.length); svgEl.dataset.edges = String(edges.length);
    await markVulnerable(nodes, edges, byId, svgEl);
  }

  // ---------- patch first: assets ranked against imported advisories ----------
  async function advisoriesReport() {
    try { return await api('GET', '/api/advisories'); } catch (e) { if (e.status === 404) return null; throw e; }
  }
  function cveTag(c) {
    return h('span', { class: 'tag cve' + (c.kev ? ' kev' : '') + (c.cvss >= 9 ? ' critical' : ''), 'data-cve': c.id,
      title: [c.title, c.vector, c.kev ? 'known exploited (CISA KEV, added ' + c.kev_added + ')' : '', c.remedy ? 'remedy: ' + c.remedy : ''].filter(Boolean).join('\n'),
      text: c.id + (c.cvss ? ' ' + c.cvss.toFixed(1) : '') + (c.kev ? ' KEV' : '') });
  }
  function nodeText(id) { const a = S.inv && S.inv.assets.find(x => x.id === id); return a ? (a.ips || []).join(',') || id : id.replace(/^ip:/, ''); }
  function pathView(p) {
    if (!p.hops.length) return h('span', { class: 'path' }, h('b', { text: nodeText(p.entry) }), ' is itself an entry point (' + p.why + ')');
    const parts = [h('b', { text: nodeText(p.entry) }), h('span', { class: 'muted', text: ' (' + p.why + ')' })];
    for (const hop of p.hops) parts.push(h('span', { class: 'hop', text: ' → ' + hop.proto + (hop.ops && hop.ops.length ? ' [' + hop.ops.join(',') + ']' : '') + ' → ' }), h('b', { text: nodeText(hop.to) }));
    return h('span', { class: 'path' }, parts);
  }
  function evidenceText(e) { return e.field + ' = ' + e.value + ' (' + [e.proto, e.message, e.frame ? 'frame ' + e.frame : ''].filter(Boolean).join(', ') + ')'; }
  function riskDetail(r) {
    return h('div', { class: 'patch-detail', 'data-asset': r.asset },
      h('h3', { text: 'Why rank ' + r.rank + ' (score ' + r.score + ')' }),
      h('ul', { class: 'reasons' }, r.reasons.map(x => h('li', {}, h('b', { text: '+' + x.points + ' ' }), x.why))),
      h('h3', { text: 'Path from an entry point' }),
      (r.paths || []).length ? h('ul', { class: 'paths' }, r.paths.map(p => h('li', {}, pathView(p)))) : h('p', { class: 'muted', text: 'No observed path from an entry point.' }),
      h('h3', { text: 'Advisories (' + r.match.affected.length + ')' }),
      h('table', { class: 'matches' }, h('tr', {}, ['Advisory', 'Product and range', 'Match', 'CVEs', 'Evidence'].map(t => h('th', { text: t }))),
        r.match.affected.map(m => h('tr', { class: 'match-row', 'data-advisory': m.advisory },
          h('td', {}, m.url ? h('a', { href: m.url, rel: 'noreferrer', target: '_blank', text: m.advisory }) : m.advisory, h('div', { class: 'muted', text: m.title })),
          h('td', {}, m.product, h('div', { class: 'mono', text: m.range })),
          h('td', {}, h('span', { class: 'tag conf-' + m.confidence, text: m.confidence }), ' ' + m.how, h('div', { class: 'muted', text: m.reason })),
          h('td', {}, (m.cves || []).map(cveTag)),
          h('td', { class: 'mono evidence' }, (m.evidence || []).map(e => h('div', { text: evidenceText(e) })))))),
      r.match.possible && r.match.possible.length ? h('p', { class: 'muted', text: r.match.possible.length + ' more advisories fit the product but cannot be decided: ' + r.match.possible.map(m => m.advisory + ' (' + m.reason + ')').join('; ') }) : null,
      h('h3', { text: 'Who reaches it' }),
      h('table', { class: 'clients' }, h('tr', {}, ['Client', 'Zone', 'Protocols', 'Ops', 'Outside its zone', 'Entry'].map(t => h('th', { text: t }))),
        (r.exposure.clients || []).map(c => h('tr', {}, h('td', { class: 'mono', text: c.ips.join(',') }), h('td', { text: c.zone ? c.zone + (c.level != null ? ' (L' + c.level + ')' : '') : 'unzoned' }),
          h('td', { text: c.protos.join(', ') }), h('td', { class: 'mono', text: Object.entries(c.ops || {}).map(([k, v]) => k + '×' + v).join(' ') }),
          h('td', { text: c.outside || '' }), h('td', { text: c.entry || '' })))),
      (r.exposure.services || []).length ? h('p', {}, 'Answers on ', h('span', { class: 'mono', text: r.exposure.services.join(', ') })) : null,
      (r.exposure.talks_out || []).length ? h('p', {}, 'Calls out: ', h('span', { class: 'mono', text: r.exposure.talks_out.join(', ') })) : null);
  }
  async function pagePatch(el) {
    await inventory(false);
    const r = await advisoriesReport();
    el.appendChild(h('h1', { text: 'Patch first' }));
    if (!r) { el.appendChild(h('p', { class: 'muted', text: 'Advisories are not available on this backend.' })); return; }
    const f = r.feed;
    el.appendChild(h('p', { id: 'feed-summary' }, f.advisories ? fmtNum(f.advisories) + ' advisories (' + fmtNum(f.products) + ' product entries, newest ' + fmtTime(f.newest).slice(0, 10) + ')' : 'No advisories imported',
      ' · ', f.kev_version ? 'KEV catalog ' + f.kev_version + ' (' + fmtNum(f.kev_entries) + ' entries)' : 'no KEV catalog', f.imported ? ' · imported ' + fmtTime(f.imported) : ''));
    for (const n of r.notes || []) el.appendChild(h('p', { class: 'notice', text: n }));
    if (S.role === 'admin') el.appendChild(uploadPanel());
    const rows = r.patch_first.map(x => {
      const detail = h('tr', { class: 'detail hidden' }, h('td', { colspan: '8' }, riskDetail(x)));
      const row = h('tr', { class: 'clickable patch-row', 'data-asset': x.asset, 'data-rank': String(x.rank), onclick: () => detail.classList.toggle('hidden') },
        h('td', { class: 'rank', text: String(x.rank) }), h('td', {}, h('span', { class: 'sev ' + sevClass(Math.round(x.score / 10)), text: String(x.score) })),
        h('td', { class: 'mono' }, h('a', { href: '#/asset/' + encodeURIComponent(x.asset), onclick: ev => ev.stopPropagation(), text: x.ips.join(', ') })),
        h('td', { text: x.identity }), h('td', { text: (x.roles || []).join(', ') }),
        h('td', {}, x.kev && x.kev.length ? h('span', { class: 'tag kev', text: x.kev.length + ' KEV' }) : '', ' ', x.max_cvss ? 'CVSS ' + x.max_cvss.toFixed(1) : ''),
        h('td', { class: 'cves' }, x.cves.slice(0, 6).map(cveTag), x.cves.length > 6 ? ' +' + (x.cves.length - 6) : ''),
        h('td', {}, x.paths && x.paths.length ? pathView(x.paths[0]) : h('span', { class: 'muted', text: 'no path observed' })));
      return [row, detail];
    });
    el.appendChild(h('div', { class: 'table-wrap' }, h('table', { id: 'patch-table' },
      h('thead', {}, h('tr', {}, ['#', 'Risk', 'Address', 'Identity', 'Roles', 'Exploited / severity', 'CVEs', 'Path'].map(t => h('th', { text: t })))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: '8', class: 'muted', text: 'No asset matches an imported advisory.' }))))));
    if ((r.undecided || []).length) {
      el.appendChild(h('div', { class: 'panel' }, h('h2', { text: 'Identity seen, nothing decided (' + r.undecided.length + ')' }),
        h('table', { id: 'undecided-table' }, h('tr', {}, ['Address', 'Identity', 'To check by hand', 'Missing, or why nothing matched'].map(t => h('th', { text: t }))),
          r.undecided.map(x => h('tr', { class: 'undecided-row', 'data-asset': x.asset }, h('td', { class: 'mono', text: x.ips.join(', ') }), h('td', { text: x.identity || '—' }),
            h('td', { text: (x.match.possible || []).map(m => m.advisory).join(', ') || '—' }), h('td', { text: (x.match.missing || []).concat(x.match.notes || []).join('; ') || '—' }))))));
    }
  }
  function uploadPanel() {
    const files = h('input', { id: 'adv-files', type: 'file', multiple: true, accept: '.json,.sha256,.sha512,.asc,SHA256SUMS,SHA512SUMS' });
    const dir = h('input', { id: 'adv-dir', type: 'file', webkitdirectory: true });
    const out = h('div', { id: 'adv-result' });
    const btn = h('button', { id: 'adv-import', type: 'button', text: 'Import' });
    btn.addEventListener('click', async () => {
      const list = [...files.files, ...dir.files];
      if (!list.length) { out.textContent = 'Choose files or a folder first.'; return; }
      btn.disabled = true; clear(out);
      try {
        const read = await Promise.all(list.map(async f => ({ name: f.webkitRelativePath || f.name, content: await f.text() })));
        const batches = batchUpload(read);
        const problems = [];
        for (let i = 0; i < batches.length; i++) {
          out.textContent = 'Importing batch ' + (i + 1) + ' of ' + batches.length + '…';
          const res = await api('POST', '/api/advisories', { files: batches[i] });
          problems.push(...res.problems);
          clear(out).appendChild(h('p', { class: 'import-summary', text: res.summary }));
          out.appendChild(h('p', { class: 'import-changes', text: res.changes }));
        }
        if (problems.length) out.appendChild(h('ul', { id: 'adv-problems', class: 'error' }, problems.map(p => h('li', { text: p.file + ': ' + p.error }))));
        out.appendChild(h('button', { type: 'button', class: 'small secondary', id: 'adv-reload', text: 'Show the new ranking', onclick: () => route() }));
      } catch (e) { clear(out).appendChild(errorBox(e)); }
      btn.disabled = false;
    });
    return h('div', { class: 'panel', id: 'adv-upload' }, h('h2', { text: 'Import advisories (admin)' }),
      h('p', { class: 'muted', text: 'CSAF 2.0 documents and CISA\'s KEV catalog, with their .sha256/.sha512/.asc files or a SHA256SUMS file: checked, stored, and recorded in the audit log with the bundle\'s digest. Re-importing replaces.' }),
      h('div', { class: 'toolbar' }, h('label', {}, 'Files', files), h('label', {}, 'or a folder', dir), btn), out);
  }
  // batchUpload cuts the files into requests under the 4 MiB body cap,
  // keeping each document with its hash and signature files and giving
  // every batch its folder's SUMS files.
  function batchUpload(files) {
    const LIMIT = 3 << 20;
    const sums = files.filter(f => /(^|\/)SHA(256|512)SUMS$/.test(f.name));
    const groups = new Map();
    for (const f of files) {
      if (sums.includes(f)) continue;
      const key = f.name.replace(/\.(sha256|sha512|asc)$/, '');
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(f);
    }
    const out = [];
    let cur = [], size = 0;
    const sumsFor = batch => sums.filter(s => { const d = s.name.replace(/[^/]*$/, ''); return batch.some(f => f.name.startsWith(d) && !f.name.slice(d.length).includes('/')); });
    for (const g of groups.values()) {
      const n = g.reduce((a, f) => a + f.content.length, 0);
      if (cur.length && size + n > LIMIT) { out.push(cur.concat(sumsFor(cur))); cur = []; size = 0; }
      cur.push(...g); size += n;
    }
    if (cur.length || !out.length) out.push(cur.concat(sumsFor(cur)));
    return out;
  }
  // markVulnerable draws the patch list on the map: vulnerable assets, entry points and the attack paths
  async function markVulnerable(nodes, edges, byId, svgEl) {
    const r = await advisoriesReport().catch(() => null);
    if (!r) return;
    let vulns = 0, attack = 0, entries = 0;
    for (const e of r.entries || []) { const n = byId.get(e.node); if (n) { n.el.classList.add('entry'); entries++; } }
    for (const x of r.patch_first) {
      const n = byId.get(x.asset);
      if (!n) continue;
      n.el.classList.add('vuln'); vulns++;
      n.el.appendChild(s('title', { text: '#' + x.rank + ' to patch: ' + x.cves.length + ' CVEs' + (x.kev && x.kev.length ? ', ' + x.kev.length + ' known exploited' : '') + ', risk ' + x.score }));
      for (const p of x.paths || []) for (const hop of p.hops) {
        const a = byId.get(hop.from), b = byId.get(hop.to);
        const e = a && b && edges.find(e => (e.s === a && e.t === b) || (e.s === b && e.t === a));
        if (e && !e.el.classList.contains('attack')) { e.el.classList.add('attack'); attack++; }
      }
    }
    svgEl.dataset.vulns = String(vulns); svgEl.dataset.attack = String(attack); svgEl.dataset.entries = String(entries);
  }

  // ---------- router ----------
  const pages = { overview: pageOverview, assets: pageAssets, map: pageMap, patch: pagePatch, alerts: pageAlerts, incidents: pageIncidents, baseline: pageBaseline, system: pageSystem };
  let routeSeq = 0;
  async function route() {
    const seq = ++routeSeq;
    if (S.mapStop) { S.mapStop(); S.mapStop = null; }
    const hash = location.hash.replace(/^#\/?/, '') || 'overview';
    const [path, qs] = hash.split('?');
    const params = new URLSearchParams(qs || '');
    if (path === 'login') { showLogin(); return; }
    if (!S.user) {
      try { loggedIn(await api('GET', '/api/session')); } catch (e) { if (e.status !== 401) clear(view()).appendChild(errorBox(e)); return; }
    }
    const [page, arg] = path.split('/');
    const el = h('div', { class: 'page', id: 'page-' + page });
    setActive(page === 'asset' ? 'assets' : page);
    clear(view()).appendChild(el);
    try {
      if (page === 'asset') await pageAsset(el, decodeURIComponent(arg || ''));
      else if (pages[page]) await pages[page](el, params);
      else el.appendChild(h('p', { text: 'No such page.' }));
    } catch (e) {
      if (e.status === 401) return;
      el.appendChild(errorBox(e));
    }
    if (seq !== routeSeq) return; // a newer navigation won
    el.dataset.ready = '1';
    document.title = 'otwatch · ' + page;
  }

  document.addEventListener('DOMContentLoaded', () => {
    document.getElementById('logout').addEventListener('click', logout);
    document.getElementById('menu-toggle').addEventListener('click', () => document.getElementById('nav').classList.toggle('open'));
    window.addEventListener('hashchange', route);
    route();
  });
})();
