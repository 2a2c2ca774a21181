/*
 * dcf-web: the browser side of the live dashboard of a dcf system.
 *
 * Plain ES2020, no dependencies, no build step. The server sends a strict
 * Content-Security-Policy, so nothing here uses inline handlers, inline style
 * attributes or eval; styles change through classes (and element.style for
 * the one positioned popover).
 *
 * Data flow: /api/config once; /api/status once for a fast first paint; then
 * the /api/events Server-Sent Events stream ("status" about once a second,
 * "log" for the event log). Every status document goes through applyStatus(),
 * which updates the DOM incrementally: the node cells are built once per
 * layout and afterwards a cell is only written when its own state or pid
 * changed. If the stream is down, /api/status is polled instead.
 */
'use strict';

(() => {
  // ------------------------------------------------------------ helpers

  const $ = (id) => document.getElementById(id);

  /** Make an element: h('td', {class: 'x', text: 'y', 'data-id': 3, click: fn}, ...children). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (typeof v === 'function') el.addEventListener(k, v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    el.append(...children.filter((c) => c != null));
    return el;
  }

  /** Write textContent only when it differs, to spare the browser needless work. */
  function setText(el, value) {
    const s = String(value);
    if (el.textContent !== s) el.textContent = s;
  }

  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const int = (v) => (isNum(v) ? String(Math.round(v)) : '—');
  // Thousands separated by commas, by hand: the first toLocaleString loads the locale data,
  // which cost the first frame some 80 ms.
  const grouped = (v) => (isNum(v) ? String(Math.round(v)).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : '—');
  const pad2 = (n) => String(n).padStart(2, '0');
  const parseJSON = (s) => { try { return JSON.parse(s); } catch { return null; } };

  /** A duration for people: 0.4 s, 12.5 s, 3m 07s, 2h 05m, 3d 04h. */
  function secs(s) {
    if (!isNum(s)) return '—';
    if (s < 60) return `${s.toFixed(1)} s`;
    const m = Math.floor(s / 60), hr = Math.floor(m / 60), d = Math.floor(hr / 24);
    if (m < 60) return `${m}m ${pad2(Math.floor(s % 60))}s`;
    if (hr < 24) return `${hr}h ${pad2(m % 60)}m`;
    return `${d}d ${pad2(hr % 24)}h`;
  }

  /** HH:MM:SS, local time, of a Unix time in seconds. */
  function clock(t) {
    const d = new Date(t * 1000);
    return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }

  /** Local time of a Unix time; the date is added when it is not today. */
  function when(t) {
    if (!isNum(t)) return '—';
    const d = new Date(t * 1000);
    if (d.toDateString() === new Date().toDateString()) return clock(t);
    return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${clock(t)}`;
  }

  // ------------------------------------------------------------ state

  /** What the automated browser test and the bench read: frames applied, the last document
   *  applied, and when the first was on screen (ms since the navigation started). */
  const view = { frames: 0, status: null, firstFrameMs: null };
  window.dcfView = view;

  const app = {
    control: false,    // /api/config: control buttons may be shown
    token: '',         // control token, from the URL fragment or pasted
    es: null,          // the EventSource
    lastFrameAt: 0,    // Date.now() of the last status document received
    polling: false,    // a fallback /api/status request is in flight
    lastPollAt: 0,
    tab: 'events',
  };

  // ------------------------------------------------------------ flash line and two-step buttons

  let flashTimer = 0;
  /** Show a transient message under the header; kind is 'ok' or 'error'. */
  function flash(message, kind = 'ok') {
    const el = $('flash');
    el.textContent = message;
    el.className = `flash ${kind}`;
    el.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 10000 : 5000);
  }

  /** A button for a disruptive action: the first click arms it, a second one within 3 s runs fn. */
  function armed(btn, fn) {
    let timer = 0;
    const disarm = () => {
      clearTimeout(timer);
      if (btn.dataset.label) btn.textContent = btn.dataset.label;
      delete btn.dataset.label;
      btn.classList.remove('armed');
    };
    btn.addEventListener('click', () => {
      if (!btn.classList.contains('armed')) {
        btn.dataset.label = btn.textContent;
        btn.textContent = 'Confirm?';
        btn.classList.add('armed');
        timer = setTimeout(disarm, 3000);
        return;
      }
      disarm();
      fn();
    });
  }

  // ------------------------------------------------------------ control

  const TOKEN_KEY = 'dcf-web-token';

  /** Take the token from "#token=..." once, keep it for this tab, and clear it from the address bar. */
  function readToken() {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (m) {
      let t = m[1];
      try { t = decodeURIComponent(t); } catch { /* keep it as it came */ }
      app.token = t;
      try { sessionStorage.setItem(TOKEN_KEY, t); } catch { /* storage disabled: memory only */ }
      history.replaceState(null, '', location.pathname + location.search);
    } else {
      try { app.token = sessionStorage.getItem(TOKEN_KEY) || ''; } catch { app.token = ''; }
    }
  }

  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = $('token-input').value.trim();
    if (!v) return;
    app.token = v;
    try { sessionStorage.setItem(TOKEN_KEY, v); } catch { /* memory only */ }
    $('token-input').value = '';
    $('token-form').hidden = true;
    flash('Control token set for this tab.');
  });

  /** POST /api/ctl/ACTION?params with the token; report the reply in the flash line. */
  async function ctl(action, params = {}) {
    if (!app.control) return false;
    if (!app.token) {
      $('token-form').hidden = false;
      $('token-input').focus();
      flash('Paste the control token first (printed by dcf-web as #token=…).', 'error');
      return false;
    }
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v != null && v !== '') query.set(k, v);
    const qs = query.toString();
    try {
      const res = await fetch(`/api/ctl/${action}${qs ? `?${qs}` : ''}`, {
        method: 'POST', headers: { 'X-DCF-Token': app.token }, cache: 'no-store',
      });
      const body = parseJSON(await res.text());
      if (res.ok && body && body.ok) {
        flash(body.message || `${action}: done`);
        return true;
      }
      flash((body && body.error) || `${action} failed (HTTP ${res.status})`, 'error');
      if (res.status === 401 || res.status === 403) $('token-form').hidden = false;
    } catch (err) {
      flash(`${action} failed: ${err.message}`, 'error');
    }
    return false;
  }

  async function loadConfig() {
    let cfg = {};
    try {
      const res = await fetch('/api/config', { cache: 'no-store' });
      if (res.ok) cfg = (await res.json()) || {};
    } catch { /* keep the defaults: no control */ }
    app.control = cfg.control === true;
    document.body.classList.toggle('control-on', app.control);
    if (!view.status && cfg.name) setText($('sys-name'), cfg.name);   // the instance, until the first frame
    setText($('version'), cfg.version ? `v${cfg.version}` : '');
    $('token-form').hidden = !(app.control && !app.token);
  }

  // ------------------------------------------------------------ header and overview

  function renderHeader(doc) {
    setText($('sys-name'), doc.name ?? '—');
    const st = $('sys-state');
    setText(st, doc.state ?? 'unknown');
    st.dataset.state = doc.state ?? '';
    setText($('uptime'), secs(doc.uptime_s));
    setText($('sup-pid'), doc.supervisor_pid ?? '—');
    $('exit-box').hidden = doc.exit_status == null;
    setText($('exit-status'), doc.exit_status ?? '—');
    const title = `${doc.name ?? 'dcf'} · ${doc.state ?? ''} · dcf`;
    if (document.title !== title) document.title = title;
  }

  const COUNT_KEYS = ['total', 'pending', 'queued', 'running', 'completed', 'quarantined', 'reclaimed'];

  function renderOverview(doc) {
    const t = doc.tasks || {};
    for (const k of COUNT_KEYS) setText($(`count-${k}`), int(t[k]));
    setText($('recovery-depth'), int(doc.recovery_queue_depth));
    setText($('rate'), isNum(doc.rate_per_s) ? doc.rate_per_s.toFixed(1) : '—');
    setText($('rate-note'), doc.rate_since_start ? 'since start'
      : isNum(doc.rate_window_s) ? `${+doc.rate_window_s.toFixed(1)} s` : '');

    // Finished = every outcome that is final: completed, quarantined, skipped.
    const done = (t.completed || 0) + (t.quarantined || 0) + (t.skipped || 0);
    const bar = $('progress');
    if (isNum(t.total) && t.total > 0 && !t.streaming) {
      bar.value = Math.min(1, done / t.total);
      setText($('progress-label'), `${(100 * done / t.total).toFixed(1)} % finished · ${grouped(done)} of ${grouped(t.total)}`);
    } else {
      bar.value = 0;
      setText($('progress-label'), t.streaming ? `streaming · ${grouped(done)} finished` : '');
    }
    renderPairs($('counters'), counterPairs(doc));
  }

  function counterPairs(doc) {
    const pairs = Object.entries(doc.counters || {}).map(([k, v]) => [k.replace(/_/g, ' '), grouped(v)]);
    pairs.push(['skipped', grouped(doc.tasks && doc.tasks.skipped)], ['invalid values', grouped(doc.invalid_values)]);
    for (const [p, v] of Object.entries(doc.queued_by_priority || {})) pairs.push([`queued, priority ${p}`, grouped(v)]);
    return pairs;
  }

  /** Fill a <dl> with [label, value] pairs; rebuilt only when the labels change. */
  function renderPairs(dl, pairs) {
    const key = pairs.map((p) => p[0]).join('\n');
    if (dl.dataset.key !== key) {
      dl.dataset.key = key;
      dl.replaceChildren(...pairs.map(([k]) => h('div', { class: 'kv' }, h('dt', { text: k }), h('dd'))));
    }
    pairs.forEach(([, v], i) => setText(dl.children[i].lastChild, v));
  }

  // ------------------------------------------------------------ charts

  const HISTORY_S = 300;        // the charts show the last five minutes
  const samples = [];           // {t, st, done, fail, rst, recl}: cumulative counts as received
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const C = {
    line: color('--chart-line'), grid: color('--line'), text: color('--muted'),
    fail: color('--c-fail'), rst: color('--c-restart'), recl: color('--c-reclaim'),
  };

  function recordSample(doc) {
    const t = doc.tasks || {}, c = doc.counters || {};
    // t places the sample on the time axis (this clock); st, the server's snapshot time, gives exact rates.
    const st = isNum(doc.created_unix_s) && isNum(doc.uptime_s) ? doc.created_unix_s + doc.uptime_s : null;
    const s = { t: Date.now() / 1000, st, done: t.completed, fail: c.failures, rst: c.restarts, recl: t.reclaimed };
    if (!isNum(s.done)) return;
    const last = samples[samples.length - 1];
    if (last && s.done < last.done) samples.length = 0;   // counts went back: another system
    samples.push(s);
    while (samples.length > 2 && (samples[0].t < s.t - HISTORY_S - 5 || samples.length > 3000)) samples.shift();
  }

  /** Per-interval points from the samples; intervals under 0.8 s are merged into the next. */
  function series() {
    const delta = (a, b) => (isNum(a) && isNum(b) ? Math.max(0, b - a) : 0);
    const pts = [];
    let a = samples[0];
    for (let i = 1; i < samples.length; i++) {
      const b = samples[i], dt = b.t - a.t;
      if (dt < 0.8) continue;
      const sdt = a.st != null && b.st != null ? b.st - a.st : 0;
      pts.push({
        t0: a.t, t: b.t, rate: delta(a.done, b.done) / (sdt > 0.2 ? sdt : dt),
        fail: delta(a.fail, b.fail), rst: delta(a.rst, b.rst), recl: delta(a.recl, b.recl),
      });
      a = b;
    }
    return pts;
  }

  /** Size a canvas's backing store to its CSS box times devicePixelRatio; a cleared 2D context. */
  function prepCanvas(cv) {
    const dpr = window.devicePixelRatio || 1;
    const w = cv.clientWidth, hgt = cv.clientHeight;
    if (!w || !hgt) return null;
    const bw = Math.round(w * dpr), bh = Math.round(hgt * dpr);
    if (cv.width !== bw || cv.height !== bh) { cv.width = bw; cv.height = bh; }
    const ctx = cv.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    ctx.font = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    return { ctx, w, h: hgt };
  }

  /** Round up to 1, 2 or 5 times a power of ten. */
  function niceCeil(v) {
    const e = 10 ** Math.floor(Math.log10(v)), f = v / e;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
  }

  /** Grid, y labels and the time axis (-5m … now); returns the x and y mappings. */
  function axes(g, max, integer) {
    // 1 → 0.2 steps, 2 → 0.5, 5 → 1; counts of events never get fractional steps.
    const lead = max / 10 ** Math.floor(Math.log10(max));
    const divs = integer && max < 5 ? max : lead === 2 ? 4 : 5;
    const { ctx, w, h: H } = g;
    const box = { l: 40, r: w - 6, t: 8, b: H - 18 };
    const now = Date.now() / 1000;
    const X = (t) => box.r - (box.r - box.l) * (now - t) / HISTORY_S;
    const Y = (v) => box.b - (box.b - box.t) * v / max;
    ctx.lineWidth = 1;
    ctx.strokeStyle = C.grid;
    ctx.fillStyle = C.text;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    ctx.beginPath();
    for (let i = 0; i <= divs; i++) {
      const v = max * i / divs, y = Math.round(Y(v)) + 0.5;
      ctx.moveTo(box.l, y);
      ctx.lineTo(box.r, y);
      ctx.fillText(Number.isInteger(v) ? String(v) : v.toFixed(1), box.l - 6, y);
    }
    ctx.stroke();
    ctx.textBaseline = 'top';
    ctx.textAlign = 'center';
    for (let m = 5; m >= 0; m--) {
      const x = X(now - m * 60);
      ctx.textAlign = m === 5 ? 'left' : m === 0 ? 'right' : 'center';
      ctx.fillText(m ? `−${m}m` : 'now', x, box.b + 5);
    }
    return { box, X, Y };
  }

  function waiting(g) {
    g.ctx.textAlign = 'center';
    g.ctx.textBaseline = 'middle';
    g.ctx.fillText('collecting samples…', g.w / 2, g.h / 2 - 8);
  }

  function drawThroughput(pts) {
    const g = prepCanvas($('chart-throughput'));
    if (!g) return;
    const max = niceCeil(Math.max(1, ...pts.map((p) => p.rate)));
    const { box, X, Y } = axes(g, max, false);
    if (pts.length < 1) { waiting(g); return; }
    const { ctx } = g;
    ctx.save();
    ctx.beginPath();
    ctx.rect(box.l, box.t, box.r - box.l, box.b - box.t);
    ctx.clip();
    ctx.beginPath();
    ctx.moveTo(X(pts[0].t0), Y(pts[0].rate));
    for (const p of pts) ctx.lineTo(X(p.t), Y(p.rate));
    ctx.lineJoin = 'round';
    ctx.lineWidth = 2;
    ctx.strokeStyle = C.line;
    ctx.stroke();
    ctx.lineTo(X(pts[pts.length - 1].t), box.b);
    ctx.lineTo(X(pts[0].t0), box.b);
    ctx.closePath();
    const fill = ctx.createLinearGradient(0, box.t, 0, box.b);
    fill.addColorStop(0, `${C.line}55`);
    fill.addColorStop(1, `${C.line}05`);
    ctx.fillStyle = fill;
    ctx.fill();
    ctx.restore();
  }

  function drawFaults(pts) {
    const g = prepCanvas($('chart-faults'));
    if (!g) return;
    const max = niceCeil(Math.max(1, ...pts.map((p) => p.fail + p.rst + p.recl)));
    const { box, X, Y } = axes(g, max, true);
    if (pts.length < 1) { waiting(g); return; }
    const { ctx } = g;
    for (const p of pts) {
      const x0 = Math.max(box.l, X(p.t0)), bw = Math.max(1, X(p.t) - x0 - 1);
      let y = box.b;
      for (const [v, col] of [[p.fail, C.fail], [p.rst, C.rst], [p.recl, C.recl]]) {
        if (!v) continue;
        const top = Y(v) - box.b;    // negative: bar height in y pixels
        ctx.fillStyle = col;
        ctx.fillRect(x0, y + top, bw, -top);
        y += top;
      }
    }
  }

  function drawCharts() {
    const pts = series();
    drawThroughput(pts);
    drawFaults(pts);
    const last = pts[pts.length - 1];
    const span = last ? last.t - pts[0].t0 : 0;
    const sum = (k) => pts.reduce((a, p) => a + p[k], 0);
    const avg = span > 0 ? pts.reduce((a, p) => a + p.rate * (p.t - p.t0), 0) / span : 0;
    setText($('tp-note'), last ? `now ${last.rate.toFixed(1)}/s · avg ${avg.toFixed(1)}/s` : '');
    setText($('n-fail'), sum('fail'));
    setText($('n-restart'), sum('rst'));
    setText($('n-reclaim'), sum('recl'));
  }

  new ResizeObserver(() => drawCharts()).observe(document.querySelector('.charts'));

  // ------------------------------------------------------------ networks grid

  const STATES = ['busy', 'idle', 'starting', 'down', 'failed', 'stopped', 'invalid'];
  const STATE_LABEL = { starting: 'restarting' };
  const ALERT_STATES = new Set(['down', 'failed']);
  const grid = $('grid');

  const net = {
    key: null,            // layout key: network ids and each node's (network, node)
    panels: new Map(),    // network id (or 'other') -> panel elements
    cells: [],            // cells[i] shows doc.nodes[i]
    shown: [],            // per-cell cache: the state last written to the cell
    pids: [],             // per-cell cache: the pid last written
    fails: [],            // per-cell cache: the node's failures count last seen
    nodes: [],            // doc.nodes of the last frame, for tooltips and the popover
    byName: new Map(),    // "net:node" -> index into nodes
    counts: {},
  };

  const nodeName = (n) => (n.network == null ? `Slot-${n.slot}` : `Network-${n.network} Node-${n.node ?? '?'}`);
  const nodeKey = (n) => (n.network == null ? `slot:${n.slot}` : `${n.network}:${n.node}`);

  /** "Network-1 Node-3 · busy · pid 4321 · Task-17 (running 0.4 s) · completed 5 · failures 1 · restarts 1" */
  function describe(n) {
    const parts = [nodeName(n), n.state];
    if (n.pid != null) parts.push(`pid ${n.pid}`);
    if (n.task != null) parts.push(`Task-${n.task}${isNum(n.task_running_s) ? ` (running ${secs(n.task_running_s)})` : ''}`);
    parts.push(`completed ${int(n.completed)}`, `failures ${int(n.failures)}`, `restarts ${int(n.restarts)}`);
    return parts.join(' · ');
  }

  // The legend doubles as a count of nodes by state.
  const legend = new Map(STATES.map((s) => {
    const count = h('b', { text: '0' });
    $('legend').append(h('span', { class: 'legend-item' },
      h('i', { class: 'swatch', 'data-state': s }), STATE_LABEL[s] || s, count));
    return [s, count];
  }));

  function layoutKey(doc) {
    let k = (doc.networks || []).map((n) => n.id).join(',') + '|';
    for (const n of doc.nodes || []) k += `${n.network}:${n.node},`;
    return k;
  }

  function makePanel(id) {
    const p = {
      root: h('article', { class: 'net', 'data-net-id': id }),
      paused: h('span', { class: 'badge b-paused', text: 'paused', hidden: true }),
      removed: h('span', { class: 'badge b-removed', text: 'removed', hidden: true }),
      alive: h('span', { class: 'net-alive' }),
      queue: h('b', { text: '—' }),
      completed: h('b', { text: '—' }),
      cells: h('div', { class: 'cells' }),
      isPaused: false,
    };
    const other = id === 'other';
    p.root.append(
      h('header', { class: 'net-head' }, h('h3', { text: other ? 'Unassigned slots' : `Network-${id}` }),
        p.paused, p.removed, p.alive),
      h('div', { class: 'net-stats' }, h('span', null, 'queue ', p.queue), h('span', null, 'completed ', p.completed)));
    if (!other) {
      p.pauseBtn = h('button', { type: 'button', class: 'btn sm', text: 'Pause',
        click: () => ctl(p.isPaused ? 'resume' : 'pause', { network: id }) });
      p.scaleIn = h('input', { type: 'number', min: 0, step: 1, class: 'scale-in', 'aria-label': `Nodes for Network-${id}` });
      const scale = h('button', { type: 'button', class: 'btn sm', text: 'Scale', click: () => {
        const k = p.scaleIn.value.trim();
        if (!/^\d+$/.test(k)) { flash('Type the number of nodes to scale to.', 'error'); p.scaleIn.focus(); return; }
        p.scaleIn.value = '';
        ctl('scale', { network: id, nodes: k });
      } });
      p.root.append(h('div', { class: 'ctl net-ctl' }, p.pauseBtn, p.scaleIn, scale));
    }
    p.root.append(p.cells);
    return p;
  }

  /** Rebuild panels and cells. A cell starts with the state its node had before, so changes still show. */
  function buildLayout(doc) {
    const nodes = doc.nodes || [];
    const before = new Map();
    net.byName.forEach((i, name) => before.set(name, [net.shown[i], net.pids[i]]));

    const groups = new Map();
    for (const n of doc.networks || []) groups.set(n.id, []);
    nodes.forEach((n, i) => {
      const id = n.network ?? 'other';
      if (!groups.has(id)) groups.set(id, []);
      groups.get(id).push(i);
    });

    net.panels.clear();
    net.byName.clear();
    net.cells = new Array(nodes.length);
    net.shown = new Array(nodes.length).fill(null);
    net.pids = new Array(nodes.length).fill(null);
    net.fails = new Array(nodes.length).fill(null);
    const frag = document.createDocumentFragment();
    for (const [id, members] of groups) {
      members.sort((a, b) => (nodes[a].node ?? 1e9) - (nodes[b].node ?? 1e9) || nodes[a].slot - nodes[b].slot);
      const p = makePanel(id);
      for (const i of members) {
        const n = nodes[i], name = nodeKey(n), prev = before.get(name);
        const c = document.createElement('div');
        c.className = 'cell';
        c.dataset.net = n.network ?? '';
        c.dataset.node = n.node ?? '';
        c.dataset.state = prev && prev[0] ? prev[0] : '';
        c.dataset.pid = prev && prev[1] != null ? prev[1] : '';
        c.dcfIndex = i;
        net.cells[i] = c;
        if (prev) [net.shown[i], net.pids[i]] = prev;
        net.byName.set(name, i);
        p.cells.append(c);
      }
      net.panels.set(id, p);
      frag.append(p.root);
    }
    grid.replaceChildren(frag);
    // Smaller cells as the count grows, so 4,096 nodes still fit on a screen or two.
    grid.classList.toggle('compact', nodes.length > 600 && nodes.length <= 1500);
    grid.classList.toggle('dense', nodes.length > 1500);
  }

  /** Ring a cell whose node just went down (or failed); the class goes at animationend. */
  function alertCell(c) {
    if (c.classList.contains('alert')) {
      c.classList.remove('alert');
      void c.offsetWidth;            // restart the animation
    }
    c.classList.add('alert');
  }
  grid.addEventListener('animationend', (e) => e.target.classList.remove('alert'));

  function updateCells(nodes) {
    const { cells, shown, pids, fails } = net;
    const counts = {};
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i], c = cells[i];
      const st = String(n.state ?? 'invalid');
      counts[st] = (counts[st] || 0) + 1;
      const was = shown[i];
      if (st !== was) {
        c.dataset.state = st;
        shown[i] = st;
        if (was && ALERT_STATES.has(st) && !ALERT_STATES.has(was)) alertCell(c);
      }
      // A death and restart between two frames shows only as one more failure: ring it too.
      const f = Number(n.failures) || 0;
      if (fails[i] != null && f > fails[i] && !c.classList.contains('alert')) alertCell(c);
      fails[i] = f;
      const pid = n.pid == null ? '' : String(n.pid);
      if (pid !== pids[i]) {
        c.dataset.pid = pid;
        pids[i] = pid;
      }
    }
    return counts;
  }

  function updatePanels(doc) {
    for (const n of doc.networks || []) {
      const p = net.panels.get(n.id);
      if (!p) continue;
      if (p.paused.hidden === !!n.paused) p.paused.hidden = !n.paused;
      if (p.removed.hidden === !!n.removed) p.removed.hidden = !n.removed;
      p.root.classList.toggle('is-paused', !!n.paused);
      p.root.classList.toggle('is-removed', !!n.removed);
      setText(p.alive, `${int(n.nodes_alive)}/${int(n.nodes)} alive`);
      setText(p.queue, grouped(n.queue_depth));
      setText(p.completed, grouped(n.completed));
      p.isPaused = !!n.paused;
      setText(p.pauseBtn, n.paused ? 'Resume' : 'Pause');
      p.pauseBtn.disabled = !!n.removed;
      if (p.scaleIn.placeholder !== int(n.nodes)) p.scaleIn.placeholder = int(n.nodes);
    }
    // Panels for nodes outside the networks list: their node count.
    for (const [id, p] of net.panels) {
      if (!(doc.networks || []).some((n) => n.id === id)) setText(p.alive, `${p.cells.childElementCount} nodes`);
    }
  }

  function renderNetworks(doc) {
    const nodes = doc.nodes || [];
    const key = layoutKey(doc);
    if (key !== net.key) {
      buildLayout(doc);
      net.key = key;
    }
    net.nodes = nodes;
    const counts = updateCells(nodes);
    for (const [s, el] of legend) setText(el, grouped(counts[s] || 0));
    updatePanels(doc);
    renderPopover();
  }

  // Tooltip: written when the pointer enters a cell, so 4,096 titles are not rewritten every second.
  grid.addEventListener('pointerover', (e) => {
    const c = e.target;
    if (!c.classList.contains('cell')) return;
    const n = net.nodes[c.dcfIndex];
    if (n) c.title = describe(n);
  });
  grid.addEventListener('click', (e) => {
    const c = e.target;
    if (c.classList.contains('cell') && net.nodes[c.dcfIndex]) openPopover(net.nodes[c.dcfIndex]);
  });

  // ------------------------------------------------------------ node popover

  const pop = $('node-pop');
  let popKey = null;        // nodeKey() of the node shown, kept across layout rebuilds
  let popCell = null;

  const POP_FIELDS = [
    ['pid', (n) => n.pid ?? '—'],
    ['task', (n) => (n.task == null ? '—' : `Task-${n.task}`)],
    ['running', (n) => secs(n.task_running_s)],
    ['heartbeat', (n) => (isNum(n.heartbeat_age_s) ? `${n.heartbeat_age_s.toFixed(2)} s ago` : '—')],
    ['completed', (n) => int(n.completed)],
    ['failures', (n) => int(n.failures)],
    ['restarts', (n) => int(n.restarts)],
    ['slot', (n) => n.slot ?? '—'],
  ];
  const popValues = POP_FIELDS.map(([label]) => {
    const dd = h('dd');
    $('pop-fields').append(h('div', { class: 'kv' }, h('dt', { text: label }), dd));
    return dd;
  });

  function openPopover(n) {
    popKey = nodeKey(n);
    pop.hidden = false;
    renderPopover();
    if (!popCell) return;
    // Beside the cell, kept inside the viewport.
    const r = popCell.getBoundingClientRect(), pw = pop.offsetWidth, ph = pop.offsetHeight;
    let x = r.right + 10;
    if (x + pw > window.innerWidth - 8) x = r.left - pw - 10;
    const y = Math.min(Math.max(8, r.top - 10), window.innerHeight - ph - 8);
    pop.style.left = `${Math.max(8, x) + window.scrollX}px`;
    pop.style.top = `${Math.max(8, y) + window.scrollY}px`;
  }

  function closePopover() {
    popKey = null;
    pop.hidden = true;
    if (popCell) popCell.classList.remove('sel');
    popCell = null;
  }

  function renderPopover() {
    if (popKey == null) return;
    const i = net.byName.get(popKey), n = i == null ? null : net.nodes[i];
    if (!n) { closePopover(); return; }
    const cell = net.cells[i];
    if (cell !== popCell) {
      if (popCell) popCell.classList.remove('sel');
      popCell = cell;
      cell.classList.add('sel');
    }
    setText($('pop-title'), nodeName(n));
    const chip = $('pop-state');
    setText(chip, n.state);
    chip.dataset.state = n.state;
    POP_FIELDS.forEach(([, fn], k) => setText(popValues[k], fn(n)));
    $('pop-restart').disabled = n.network == null || n.node == null;
  }

  $('pop-close').addEventListener('click', closePopover);
  armed($('pop-restart'), () => {
    const n = net.nodes[net.byName.get(popKey)];
    if (n) ctl('restart-node', { network: n.network, node: n.node });
  });
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') closePopover(); });
  document.addEventListener('click', (e) => {
    if (popKey != null && !pop.contains(e.target) && !e.target.classList.contains('cell')) closePopover();
  });
  window.addEventListener('resize', closePopover);

  $('pause-all').addEventListener('click', () => ctl('pause'));
  $('resume-all').addEventListener('click', () => ctl('resume'));

  // ------------------------------------------------------------ applying a status document

  function showBanner(text) {
    const b = $('banner');
    setText(b, text);
    b.hidden = !text;
  }

  /** Apply one /api/status document to the page. */
  function applyStatus(doc) {
    if (!doc || typeof doc !== 'object') return;
    app.lastFrameAt = Date.now();
    if (doc.consistent === false) {
      // Keep the last good view; say why it is not moving, and the system's state if given ("absent").
      const why = doc.error || 'no consistent snapshot';
      showBanner(view.status ? `${why} — showing the last good view.` : why);
      if (typeof doc.state === 'string') {
        setText($('sys-state'), doc.state);
        $('sys-state').dataset.state = doc.state;
      }
      return;
    }
    showBanner('');
    recordSample(doc);
    renderHeader(doc);
    renderOverview(doc);
    renderNetworks(doc);
    drawCharts();
    view.status = doc;
    view.frames += 1;
    if (view.firstFrameMs === null) view.firstFrameMs = performance.now();
  }

  // ------------------------------------------------------------ event log

  const EVENT_CAP = 500;
  const LEVELS = new Set(['error', 'warning', 'info']);
  const events = $('events');
  let lastLogT = -Infinity;          // the newest event time shown, and the texts shown at that time:
  let textsAtLast = new Set();       // a reconnect replays up to 200 events, skipped by these two
  let eventsSeen = 0;

  function onLog(ev) {
    if (!ev || typeof ev !== 'object') return;
    const t = isNum(ev.t) ? ev.t : Date.now() / 1000;
    const text = String(ev.text ?? '');
    if (t < lastLogT) return;
    if (t === lastLogT) {
      if (textsAtLast.has(text)) return;
    } else {
      lastLogT = t;
      textsAtLast = new Set();
    }
    textsAtLast.add(text);
    const level = LEVELS.has(ev.level) ? ev.level : 'info';
    events.prepend(h('li', { class: `ev lv-${level}` },
      h('time', { datetime: new Date(t * 1000).toISOString(), text: clock(t) }),
      h('span', { class: 'lv', text: level }),
      h('span', { class: 'tx', text })));
    while (events.childElementCount > EVENT_CAP) events.lastElementChild.remove();
    eventsSeen += 1;
    setText($('event-count'), `${grouped(eventsSeen)} received${eventsSeen > EVENT_CAP ? `, newest ${EVENT_CAP} shown` : ''}`);
  }

  $('event-level').addEventListener('change', (e) => {
    events.classList.toggle('min-warning', e.target.value === 'warning');
    events.classList.toggle('min-error', e.target.value === 'error');
  });

  // ------------------------------------------------------------ tasks

  const PAGE = 50;
  const TERMINAL = new Set(['done', 'failed', 'quarantined', 'cancelled', 'dep-failed']);
  const OUTPUT_CAP = 200000;        // characters of stdout/stderr shown (the end of it)
  const tasks = { before: null, stack: [], rows: [], seq: 0, selected: null, loadedAt: 0 };
  const tbody = $('task-rows');

  function taskMessage(text) {
    setText($('task-msg'), text);
    $('task-msg').hidden = !text;
  }

  async function loadTasks() {
    const seq = ++tasks.seq;
    const q = new URLSearchParams();
    const state = $('task-state').value;
    if (state) q.set('state', state);
    if (tasks.before != null) q.set('before', tasks.before);
    q.set('limit', PAGE);
    tasks.loadedAt = Date.now();
    let res, body;
    try {
      res = await fetch(`/api/tasks?${q}`, { cache: 'no-store' });
      body = parseJSON(await res.text());
    } catch (err) {
      if (seq === tasks.seq) taskMessage(`Could not load tasks: ${err.message}`);
      return;
    }
    if (seq !== tasks.seq) return;            // a newer request was made meanwhile
    if (!body || body.store === false || body.error || !Array.isArray(body.tasks)) {
      taskMessage((body && body.error) || `Could not load tasks (HTTP ${res.status}).`);
      tasks.rows = [];
      tbody.replaceChildren();
      updatePager();
      return;
    }
    taskMessage(body.tasks.length ? '' : 'No tasks here.');
    tasks.rows = body.tasks.map(taskFields);
    tbody.replaceChildren(...body.tasks.map(taskRow));
    updatePager();
    const sel = tasks.selected && tasks.rows.find((t) => t.id === tasks.selected.id);
    if (sel) showTaskHead(sel);
  }

  /** The fields shown, from the store's document (dcf-status --tasks --json's). */
  function taskFields(t) {
    const secs = (ns) => (ns ? ns / 1e9 : null);
    return Object.assign({}, t, {
      command: Array.isArray(t.argv) ? t.argv.join(' ') : '',
      outcome: t.end || '',
      submitted_unix_s: secs(t.submitted_ns),
      started_unix_s: secs(t.started_ns),
      ended_unix_s: secs(t.ended_ns),
    });
  }

  function taskRow(t) {
    const where = t.network == null ? '—' : `${t.network}/${t.node ?? '—'}`;
    return h('tr', { 'data-id': t.id, class: tasks.selected && tasks.selected.id === t.id ? 'sel' : null },
      h('td', { class: 'mono', text: t.id }),
      h('td', null, h('span', { class: 'tstate', 'data-state': t.state, text: t.state })),
      h('td', { class: 'cmd mono', title: t.command ?? '', text: t.command ?? '' }),
      h('td', { text: t.outcome ?? '' }),
      h('td', { class: 'num', text: int(t.attempts) }),
      h('td', { class: 'mono', text: where }),
      h('td', { class: 'time', text: when(t.submitted_unix_s) }),
      h('td', { class: 'time', text: when(t.started_unix_s) }),
      h('td', { class: 'time', text: when(t.ended_unix_s) }));
  }

  function updatePager() {
    $('task-newer').disabled = tasks.before == null;
    $('task-older').disabled = tasks.rows.length < PAGE;
    const r = tasks.rows;
    setText($('task-range'), r.length ? `Task-${r[0].id} … Task-${r[r.length - 1].id}${tasks.before == null ? ' (newest)' : ''}` : '');
  }

  $('task-state').addEventListener('change', () => { tasks.before = null; tasks.stack = []; loadTasks(); });
  $('task-refresh').addEventListener('click', loadTasks);
  $('task-older').addEventListener('click', () => {
    if (!tasks.rows.length) return;
    tasks.stack.push(tasks.before);
    tasks.before = tasks.rows[tasks.rows.length - 1].id;
    loadTasks();
  });
  $('task-newer').addEventListener('click', () => {
    tasks.before = tasks.stack.length ? tasks.stack.pop() : null;
    loadTasks();
  });
  tbody.addEventListener('click', (e) => {
    const tr = e.target.closest('tr');
    const t = tr && tasks.rows.find((r) => String(r.id) === tr.dataset.id);
    if (!t) return;
    for (const row of tbody.children) row.classList.toggle('sel', row === tr);
    openTask(t);
  });

  function showTaskHead(t) {
    tasks.selected = t;
    setText($('td-title'), `Task-${t.id}`);
    const st = $('td-state');
    setText(st, t.state);
    st.dataset.state = t.state;
    setText($('td-outcome'), [t.outcome, t.runs != null ? `runs ${t.runs}` : null,
      t.priority ? `priority ${t.priority}` : null].filter(Boolean).join(' · '));
    setText($('td-command'), t.command ?? '');
    $('td-cancel').disabled = TERMINAL.has(t.state);
    $('td-kill').disabled = t.state !== 'running';
  }

  function openTask(t) {
    showTaskHead(t);
    $('task-detail').hidden = false;
    loadOutput(t.id, 'stdout');
    loadOutput(t.id, 'stderr');
  }

  async function loadOutput(id, which) {
    const pre = $(`td-${which}`);
    pre.className = 'muted';
    pre.textContent = 'loading…';
    let text, res;
    try {
      res = await fetch(`/api/task/${encodeURIComponent(id)}/${which}`, { cache: 'no-store' });
      text = await res.text();
    } catch (err) {
      text = `could not load: ${err.message}`;
    }
    if (!tasks.selected || tasks.selected.id !== id) return;
    if (!res || !res.ok || !text) {
      pre.className = 'muted';
      pre.textContent = !res ? text : !res.ok ? (text.trim() || `not available (HTTP ${res.status})`) : '(empty)';
      return;
    }
    pre.className = '';
    pre.textContent = text.length > OUTPUT_CAP
      ? `… ${grouped(text.length - OUTPUT_CAP)} earlier characters not shown\n${text.slice(-OUTPUT_CAP)}` : text;
  }

  $('td-close').addEventListener('click', () => {
    tasks.selected = null;
    $('task-detail').hidden = true;
    for (const row of tbody.children) row.classList.remove('sel');
  });
  $('td-reload').addEventListener('click', () => {
    if (!tasks.selected) return;
    loadOutput(tasks.selected.id, 'stdout');
    loadOutput(tasks.selected.id, 'stderr');
  });
  const afterTaskCtl = (ok) => { if (ok) setTimeout(loadTasks, 800); };
  armed($('td-cancel'), () => tasks.selected && ctl('cancel', { id: tasks.selected.id }).then(afterTaskCtl));
  armed($('td-kill'), () => tasks.selected
    && ctl('kill', { id: tasks.selected.id, signal: $('td-signal').value }).then(afterTaskCtl));

  // ------------------------------------------------------------ hosts

  const hosts = { loadedAt: 0 };

  /** The hosts sharing the store (a PostgreSQL one), as the database knows them. */
  async function loadHosts() {
    hosts.loadedAt = Date.now();
    const msg = $('host-msg'), body = $('host-rows');
    let doc;
    try {
      const res = await fetch('/api/hosts', { cache: 'no-store' });
      doc = parseJSON(await res.text());
      if (!res.ok) throw new Error((doc && doc.error) || `HTTP ${res.status}`);
    } catch (e) {
      msg.textContent = `hosts: ${e.message}`;
      msg.hidden = false;
      return;
    }
    msg.hidden = doc.shared;
    if (!doc.shared) msg.textContent = 'One host: the store is not shared (several hosts share a PostgreSQL store).';
    body.replaceChildren(...doc.hosts.map((h) => {
      const tr = document.createElement('tr');
      const cells = [h.host, String(h.pid), new Date(h.started_ns / 1e6).toLocaleString(),
        `${(h.seen_ms_ago / 1000).toFixed(1)} s ago`, String(h.claimed), String(h.running),
        h.claimed + h.running === 0 ? '—' : h.lease_left_ms < 0 ? 'ended' : `${(h.lease_left_ms / 1000).toFixed(1)} s left`];
      cells.forEach((v, i) => {
        const td = document.createElement('td');
        td.textContent = v;
        if (i === 1 || (i >= 3 && i <= 5)) td.className = 'num';
        tr.appendChild(td);
      });
      tr.dataset.host = h.host;
      return tr;
    }));
  }

  // ------------------------------------------------------------ tabs

  function selectTab(name) {
    app.tab = name;
    for (const b of document.querySelectorAll('[role=tab]')) {
      const on = b.dataset.tab === name;
      b.setAttribute('aria-selected', String(on));
      $(`tab-${b.dataset.tab}`).hidden = !on;
    }
    if (name === 'tasks' && !tasks.loadedAt) loadTasks();
    if (name === 'hosts') loadHosts();
  }
  for (const b of document.querySelectorAll('[role=tab]')) b.addEventListener('click', () => selectTab(b.dataset.tab));

  // ------------------------------------------------------------ connection

  const isLive = () => app.es != null && app.es.readyState === EventSource.OPEN;

  function showConn() {
    const live = isLive();
    const el = $('conn'), state = live ? 'live' : 'reconnecting';
    if (el.dataset.conn !== state) el.dataset.conn = state;
    setText($('conn-text'), live ? 'live' : app.lastFrameAt ? 'reconnecting…' : 'connecting…');
  }

  function connect() {
    const es = new EventSource('/api/events');
    app.es = es;
    es.addEventListener('open', showConn);
    es.addEventListener('error', () => {
      showConn();
      // CONNECTING: the browser retries by itself. CLOSED (e.g. an HTTP error): start again later.
      if (es.readyState === EventSource.CLOSED && app.es === es) setTimeout(connect, 3000);
    });
    es.addEventListener('status', (e) => applyStatus(parseJSON(e.data)));
    es.addEventListener('log', (e) => onLog(parseJSON(e.data)));
  }

  /** One /api/status request: for the first paint, and while the stream is down. */
  async function pollStatus() {
    if (app.polling) return;
    app.polling = true;
    app.lastPollAt = Date.now();
    const asked = app.lastFrameAt;
    try {
      const res = await fetch('/api/status', { cache: 'no-store' });
      const doc = parseJSON(await res.text());
      if (app.lastFrameAt === asked) applyStatus(doc);    // skip it if the stream was faster
    } catch { /* the connection indicator already says it */ }
    app.polling = false;
  }

  function tick() {
    showConn();
    if (!isLive() && Date.now() - app.lastFrameAt > 3000 && Date.now() - app.lastPollAt > 3000) pollStatus();
    // Keep the first page of tasks fresh while it is on screen.
    if (app.tab === 'tasks' && tasks.before == null && !document.hidden && Date.now() - tasks.loadedAt > 5000) loadTasks();
    if (app.tab === 'hosts' && !document.hidden && Date.now() - hosts.loadedAt > 3000) loadHosts();
  }

  // ------------------------------------------------------------ start

  readToken();
  loadConfig();
  pollStatus();
  connect();
  selectTab('events');
  setInterval(tick, 1000);
})();
