// The jobnet dashboard (docs/http.md §12): Preact + htm and uPlot from npm, served by the node
// from its binary. It uses the public HTTP API only; live updates come over GET /api/ws.
import { h, render } from './vendor/preact.module.js';
import { useEffect, useRef, useState, useCallback } from './vendor/hooks.module.js';
import htm from './vendor/htm.module.js';
import uPlot from './vendor/uPlot.esm.js';

const html = htm.bind(h);
const STATES = ['waiting', 'queued', 'delayed', 'running', 'succeeded', 'failed', 'dead', 'cancelled'];
const FINAL = new Set(['succeeded', 'dead', 'cancelled']);

// ---- the API, with the bearer token the user gave (kept for this tab only) ----
const auth = {
  get token() { return sessionStorage.getItem('jobnet.token') || ''; },
  set token(t) { t ? sessionStorage.setItem('jobnet.token', t) : sessionStorage.removeItem('jobnet.token'); },
  listeners: new Set(),
  ask() { auth.listeners.forEach(f => f()); },
};

async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  const used = auth.token;  // a 401 to an older token (answered after a new one was given) asks nothing
  if (used) headers.Authorization = 'Bearer ' + used;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await r.json(); } catch (e) { /* an empty or non-JSON body */ }
  if (r.status === 401 && used === auth.token) auth.ask();
  if (!r.ok) {
    const err = new Error((data && data.error && data.error.message) || r.status + ' ' + r.statusText);
    err.status = r.status;
    throw err;
  }
  return data;
}

// ---- times: in the viewer's zone, UTC on hover ----
function Time({ ms }) {
  if (!ms) return html`<span class="muted">-</span>`;
  const d = new Date(ms);
  return html`<time datetime=${d.toISOString()} title=${d.toISOString()}>${d.toLocaleString()}</time>`;
}
function State({ s }) { return html`<span class="state s-${s}">${s}</span>`; }
function Progress({ pct }) {
  return html`<div class="progress" role="progressbar" aria-valuenow=${pct} aria-valuemin="0" aria-valuemax="100">
    <div style=${'width:' + Math.max(0, Math.min(100, pct)) + '%'}></div></div>`;
}
function short(v, max = 4096) {
  const s = typeof v === 'string' ? v : JSON.stringify(v, null, 2);
  return s.length > max ? s.slice(0, max) + `\n… (${s.length - max} more characters)` : s;
}

// GET /api/events read with fetch (it can send the token; EventSource cannot): calls onEvent
// with each event's JSON until the returned function aborts the request. Used for streams the
// page ends itself (a job's timeline, the backfill): ending a fetch closes its connection, where
// the WebSocket face, which never reads client frames, would not answer a close frame.
function sseStream(path, onEvent) {
  const ctl = new AbortController();
  const used = auth.token;
  const headers = used ? { Authorization: 'Bearer ' + used } : {};
  fetch(path, { headers, signal: ctl.signal }).then(async (r) => {
    if (r.status === 401 && used === auth.token) auth.ask();
    if (!r.ok || !r.body) return;
    const reader = r.body.getReader(), dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const data = block.split('\n').filter(l => l.startsWith('data:')).map(l => l.slice(5)).join('\n');
        const named = block.split('\n').find(l => l.startsWith('event:'));
        if (data && !named) { try { onEvent(JSON.parse(data)); } catch (e) { /* not JSON */ } }
      }
    }
  }).catch(() => {});
  return () => ctl.abort();
}

// ---- live updates: one WebSocket, resumed from its last seq after a loss ----
const live = {
  listeners: new Set(), statusListeners: new Set(), recent: [], lastSeq: null, connected: false,
  start() {
    const since = live.lastSeq === null ? 'now' : String(live.lastSeq);
    const q = new URLSearchParams({ since });
    if (auth.token) q.set('access_token', auth.token);
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/api/ws?' + q);
    let opened = false;
    ws.onopen = () => { opened = true; live.retry = 0; live.setConnected(true); };
    ws.onmessage = (m) => {
      let e; try { e = JSON.parse(m.data); } catch (x) { return; }
      if (e.event === 'subscribed' && live.lastSeq === null) live.backfill(e.since);
      if (e.event === 'subscribed') live.lastSeq = e.since;
      if (e.event === 'heartbeat' || e.event === 'gap') live.lastSeq = e.next;
      if (e.event !== 'task_update') return;
      live.lastSeq = e.seq;
      live.recent.unshift(e);
      live.recent.length = Math.min(live.recent.length, 50);
      live.listeners.forEach(f => f(e));
    };
    ws.onclose = () => {
      live.setConnected(false);
      live.retry = Math.min((live.retry || 0) + 1, 5);
      setTimeout(live.start, opened ? 500 : 1000 * live.retry);  // back off while the node is away
    };
  },
  setConnected(c) { live.connected = c; live.statusListeners.forEach(f => f(c)); },
  // The events just before the page opened (the last 200 up to `upTo`), so the overview shows the
  // most recent jobs at once: a second WebSocket, closed once it has reached `upTo`.
  backfill(upTo) {
    if (upTo === 0) return;
    const old = [];
    const stop = sseStream('/api/events?since=' + Math.max(0, upTo - 200), (e) => {
      if (e.seq <= upTo) old.unshift({ ...e, update: e.event, event: 'task_update' });
      if (e.seq >= upTo) {
        stop();
        live.recent = [...live.recent, ...old].slice(0, 50);
        live.listeners.forEach(f => f(null));
      }
    });
  },
};

function useLive(onEvent) {
  const ref = useRef(onEvent);
  ref.current = onEvent;
  useEffect(() => {
    const f = (e) => ref.current(e);
    live.listeners.add(f);
    return () => live.listeners.delete(f);
  }, []);
}

// Loads `load()` now, every `everyMs` and after live events (at most every 500 ms).
function usePoll(load, deps, everyMs = 5000) {
  const [state, setState] = useState({ data: null, error: null });
  const pending = useRef(null);
  const run = useCallback(() => {
    load().then(data => setState({ data, error: null }), error => setState(s => ({ data: s.data, error })));
  }, deps);
  useEffect(() => {
    run();
    const t = setInterval(run, everyMs);
    return () => { clearInterval(t); clearTimeout(pending.current); };
  }, [run]);
  useLive(() => {
    if (pending.current) return;
    pending.current = setTimeout(() => { pending.current = null; run(); }, 500);
  });
  return [state, run];
}

// ---- routing by the URL's hash: #/, #/jobs?state=..., #/jobs/ID, #/queues, #/workers, #/schedules ----
function parseHash() {
  const [path, query] = (location.hash.slice(1) || '/').split('?');
  return { path, params: new URLSearchParams(query || '') };
}
function useRoute() {
  const [route, setRoute] = useState(parseHash());
  useEffect(() => {
    const f = () => setRoute(parseHash());
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return route;
}
const go = (hash) => { location.hash = hash; };

// ---- Overview ----
// Each job's newest event, newest first (`events` is newest first).
function latestPerJob(events) {
  const seen = new Set();
  return events.filter(e => !seen.has(e.id) && seen.add(e.id));
}

function Chart({ series }) {
  const box = useRef(null), plot = useRef(null);
  useEffect(() => {
    const width = () => Math.max(280, box.current.clientWidth - 8);
    plot.current = new uPlot({
      width: width(), height: 180,
      series: [{}, { label: 'finished/s', stroke: '#2557d6', width: 2 }, { label: 'failed/s', stroke: '#b42318', width: 2 }],
      axes: [{ stroke: '#8a93a3' }, { stroke: '#8a93a3' }],
    }, [[], [], []], box.current);
    const onResize = () => plot.current.setSize({ width: width(), height: 180 });
    addEventListener('resize', onResize);
    return () => { removeEventListener('resize', onResize); plot.current.destroy(); };
  }, []);
  useEffect(() => { if (plot.current) plot.current.setData(series); }, [series]);
  return html`<div ref=${box} aria-label="throughput chart"></div>`;
}

function Overview() {
  const [{ data, error }] = usePoll(() => api('/api/nodes'), [], 2000);
  const [series, setSeries] = useState([[], [], []]);
  const last = useRef(null);
  const [, tick] = useState(0);
  useLive(() => tick(n => n + 1));
  useEffect(() => {
    if (!data) return;
    const totals = { finished: 0, failed: 0 };
    for (const n of data.nodes) if (n.jobs) {
      totals.finished += (n.jobs.succeeded || 0) + (n.jobs.dead || 0) + (n.jobs.cancelled || 0);
      totals.failed += (n.jobs.dead || 0) + (n.jobs.failed || 0);
    }
    const now = Date.now() / 1000;
    if (last.current) {
      const dt = Math.max(0.5, now - last.current.t);
      const rate = (k) => Math.max(0, (totals[k] - last.current[k]) / dt);
      setSeries(([t, a, b]) => [[...t, now].slice(-150), [...a, rate('finished')].slice(-150), [...b, rate('failed')].slice(-150)]);
    }
    last.current = { t: now, ...totals };
  }, [data]);
  const counts = {};
  for (const s of STATES) counts[s] = 0;
  for (const n of (data ? data.nodes : [])) for (const s of STATES) counts[s] += (n.jobs && n.jobs[s]) || 0;
  return html`
    ${error && html`<p class="error">${error.message}</p>`}
    <div class="cards">
      ${STATES.map(s => html`<a class="card" href=${'#/jobs?state=' + s} style="text-decoration:none;color:inherit">
        <div class="l">${s}</div><div class="n s-${s}">${counts[s]}</div></a>`)}
    </div>
    <section><h2>Throughput (last 5 minutes)</h2><${Chart} series=${series} /></section>
    <section><h2>Nodes</h2>
      <table><thead><tr><th>Node</th><th>State</th><th>Workers busy/total</th><th>Queued</th><th class="hide-narrow">Endpoint</th><th>Last seen</th></tr></thead>
      <tbody>${(data ? data.nodes : []).map(n => html`<tr>
        <td>${n.node || '?'}${n.self ? ' (this node)' : ''}</td><td><${State} s=${n.state} /></td>
        <td>${n.busy ?? '-'}/${n.workers ?? '-'}</td>
        <td>${n.jobs ? (n.jobs.queued || 0) + (n.jobs.delayed || 0) : '-'}</td>
        <td class="hide-narrow">${n.endpoint}</td>
        <td>${n.self ? 'now' : html`<${Time} ms=${n.last_seen} />`}</td></tr>`)}</tbody></table>
    </section>
    <section><h2>Recent jobs</h2>
      ${live.recent.length === 0 ? html`<p class="muted">No job events yet.</p>` : html`
      <table><thead><tr><th>Job</th><th>Type</th><th>Queue</th><th>State</th><th>At</th></tr></thead>
      <tbody>${latestPerJob(live.recent).slice(0, 20).map(e => html`<tr>
        <td><a href=${'#/jobs/' + e.id}>${e.id}</a></td><td>${e.type}</td><td>${e.queue}</td>
        <td><${State} s=${e.state} />${e.update === 'progress' ? html` ${e.progress}%` : ''}</td><td><${Time} ms=${e.at} /></td></tr>`)}</tbody></table>`}
    </section>`;
}

// ---- Jobs ----
// Unix ms as a datetime-local input's value (the viewer's zone, to the minute); '' for none.
function localInput(ms) {
  if (!ms) return '';
  const d = new Date(Number(ms)), p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function Jobs({ params }) {
  // from/to: the created-at range, Unix ms (the API's created_from/created_to).
  const filter = { state: params.get('state') || '', queue: params.get('queue') || '', type: params.get('type') || '',
                   from: params.get('from') || '', to: params.get('to') || '' };
  const [pages, setPages] = useState(['']);  // the `after` cursor of each page seen
  const after = pages[pages.length - 1];
  const key = JSON.stringify(filter) + after;
  const [{ data, error }, reload] = usePoll(() => {
    const q = new URLSearchParams({ limit: '50' });
    for (const k of ['state', 'queue', 'type']) if (filter[k]) q.set(k, filter[k]);
    if (filter.from) q.set('created_from', filter.from);
    if (filter.to) q.set('created_to', filter.to);
    if (after) q.set('after', after);
    return api('/api/jobs?' + q);
  }, [key], 5000);
  useEffect(() => setPages(['']), [JSON.stringify(filter)]);
  const set = (k, v) => {
    const q = new URLSearchParams(filter);
    if (v) q.set(k, v); else q.delete(k);
    for (const [kk, vv] of [...q]) if (!vv) q.delete(kk);
    go('#/jobs?' + q);
  };
  const [lookup, setLookup] = useState('');
  const [bulkMsg, setBulkMsg] = useState('');
  // A bulk retry or cancel of the filtered set (one queue; the type and state filters apply),
  // after a confirmation that says how many jobs it touches (counted by listing them).
  const bulk = async (action) => {
    const states = filter.state ? [filter.state] : action === 'cancel' ? ['waiting', 'queued', 'delayed'] : ['dead', 'failed', 'cancelled'];
    let n = 0, more = false;
    try {
      for (const st of states) {
        let after = '';
        for (let page = 0; page < 10; page++) {
          const q = new URLSearchParams({ state: st, queue: filter.queue, limit: '1000' });
          if (filter.type) q.set('type', filter.type);
          if (after) q.set('after', after);
          const r = await api('/api/jobs?' + q);
          n += r.jobs.length;
          if (!r.next || r.jobs.length < 1000) break;
          after = r.next;
          if (page === 9) more = true;
        }
      }
    } catch (e) { setBulkMsg(e.message); return; }
    const what = `${more ? 'over ' : ''}${n} ${states.join('/')} job${n === 1 ? '' : 's'} of queue ${filter.queue}` +
                 (filter.type ? ` of type ${filter.type}` : '');
    if (n === 0) { setBulkMsg(`No ${states.join('/')} jobs match.`); return; }
    if (!confirm(`${action === 'cancel' ? 'Cancel' : 'Retry'} ${what}?`)) return;
    // One bulk request per state (a cancel names its state: queued, then delayed).
    let touched = 0, matched = 0;
    try {
      for (const st of (action === 'cancel' || filter.state ? states : [null])) {
        const body = { action, queue: filter.queue };
        if (filter.type) body.type = filter.type;
        if (st) body.state = st;
        const r = await api('/api/jobs/bulk', { method: 'POST', body });
        touched += r.touched;
        matched += r.matched;
      }
      setBulkMsg(`${action === 'cancel' ? 'Cancelled' : 'Retried'} ${touched} of ${matched} matching jobs.`);
      reload();
    } catch (e) { setBulkMsg(e.message); }
  };
  return html`
    <form class="filters" onSubmit=${(e) => { e.preventDefault(); if (lookup.trim()) go('#/jobs/' + lookup.trim()); }}>
      <label>State<select value=${filter.state} onChange=${(e) => set('state', e.target.value)}>
        <option value="">any</option>${STATES.map(s => html`<option value=${s}>${s}</option>`)}</select></label>
      <label>Queue<input value=${filter.queue} placeholder="any" onChange=${(e) => set('queue', e.target.value.trim())} /></label>
      <label>Type<input value=${filter.type} placeholder="any" onChange=${(e) => set('type', e.target.value.trim())} /></label>
      <label>Created from<input type="datetime-local" value=${localInput(filter.from)}
        onChange=${(e) => set('from', e.target.value ? String(new Date(e.target.value).getTime()) : '')} /></label>
      <label>to<input type="datetime-local" value=${localInput(filter.to)}
        onChange=${(e) => set('to', e.target.value ? String(new Date(e.target.value).getTime() + 59999) : '')} /></label>
      <label>Job id<input value=${lookup} placeholder="n1-42" onInput=${(e) => setLookup(e.target.value)} /></label>
      <button type="submit">Open</button>
      ${filter.queue && !filter.from && !filter.to && html`<span class="row write">
        <button type="button" onClick=${() => bulk('retry')}>Retry matching…</button>
        <button type="button" class="danger" onClick=${() => bulk('cancel')}>Cancel matching…</button></span>`}
    </form>
    ${bulkMsg && html`<p role="status">${bulkMsg}</p>`}
    ${error && html`<p class="error">${error.message}</p>`}
    <section>
      <table><thead><tr><th>Id</th><th>Type</th><th>Queue</th><th>State</th><th>Attempts</th><th class="hide-narrow">Created</th><th class="hide-narrow">Result / error</th></tr></thead>
      <tbody>${(data ? data.jobs : []).map(j => html`<tr>
        <td><a href=${'#/jobs/' + j.id}>${j.id}</a></td><td>${j.type}</td><td>${j.queue}</td>
        <td><${State} s=${j.state} /></td><td>${j.attempts}/${j.max_attempts}</td>
        <td class="hide-narrow"><${Time} ms=${j.created_at} /></td>
        <td class="wrap hide-narrow">${j.error ? html`<span class="error">${short(j.error, 120)}</span>` : short(j.result, 120)}</td></tr>`)}</tbody></table>
      ${data && data.jobs.length === 0 ? html`<p class="muted">No jobs match.</p>` : ''}
      <div class="row" style="margin-top:.5rem">
        <button disabled=${pages.length < 2} onClick=${() => setPages(p => p.slice(0, -1))}>Previous</button>
        <button disabled=${!data || !data.next || data.jobs.length < 50} onClick=${() => setPages(p => [...p, data.next])}>Next</button>
        <span class="muted">page ${pages.length}, oldest first</span>
      </div>
    </section>`;
}

// The flow a job was submitted in: each job's name, state and what it waits for.
function FlowSection({ id, flow }) {
  const [{ data, error }] = usePoll(() => api('/api/flows/' + encodeURIComponent(id)), [id], 3000);
  if (error && !data) return html`<section><h2>Flow ${flow}</h2><p class="error">${error.message}</p></section>`;
  if (!data) return html`<section><h2>Flow ${flow}</h2><p class="muted">Loading…</p></section>`;
  const names = Object.fromEntries(data.jobs.map(j => [j.id, j.flow_name || j.id]));
  return html`
    <section><h2>Flow ${flow}</h2>
      <table><thead><tr><th>Name</th><th>Job</th><th>State</th><th>After</th></tr></thead>
      <tbody>${data.jobs.map(j => html`<tr class=${j.id === id ? 'current' : ''}>
        <td>${j.flow_name || ''}</td><td><a href=${'#/jobs/' + encodeURIComponent(j.id)}>${j.id}</a></td>
        <td><${State} s=${j.state} /></td>
        <td>${(j.depends_on || []).map(p => names[p] || p).join(', ')}</td></tr>`)}</tbody></table>
    </section>`;
}

function JobPage({ id }) {
  const [{ data: job, error }, reload] = usePoll(() => api('/api/jobs/' + encodeURIComponent(id)), [id], 3000);
  const [events, setEvents] = useState([]);
  const [msg, setMsg] = useState('');
  useEffect(() => {  // the job's whole timeline, then live, on a stream of its own
    setEvents([]);
    return sseStream('/api/events?since=0&job=' + encodeURIComponent(id), (e) => {
      setEvents(v => [...v, { ...e, update: e.event }].slice(-500));
      reload();
    });
  }, [id]);
  const act = async (what, method, path) => {
    if (!confirm(`${what} job ${id}?`)) return;
    try { await api(path, { method }); setMsg(`${what}: done`); reload(); } catch (e) { setMsg(`${what}: ${e.message}`); }
  };
  if (error && !job) return html`<p class="error">${error.message}</p>`;
  if (!job) return html`<p class="muted">Loading ${id}…</p>`;
  const isImage = typeof job.result === 'object' && job.result && typeof job.result.blob === 'string';
  return html`
    <section>
      <div class="row"><h2 style="margin:0">Job ${job.id}</h2><${State} s=${job.state} />
        <button class="write" disabled=${!['dead', 'failed', 'cancelled'].includes(job.state)}
          onClick=${() => act('Retry', 'POST', `/api/jobs/${encodeURIComponent(id)}/retry`)}>Retry</button>
        <button class="write danger" disabled=${FINAL.has(job.state)}
          onClick=${() => act('Cancel', 'DELETE', `/api/jobs/${encodeURIComponent(id)}`)}>Cancel</button>
        <span class="muted">${msg}</span></div>
      ${job.state === 'running' ? html`<div class="row" style="margin:.5rem 0"><${Progress} pct=${job.progress || 0} /> <span>${job.progress || 0}% ${job.progress_message || ''}</span></div>` : ''}
      <dl class="kv">
        <dt>Type</dt><dd>${job.type}</dd><dt>Queue</dt><dd>${job.queue}</dd>
        <dt>Attempts</dt><dd>${job.attempts} of ${job.max_attempts}</dd><dt>Priority</dt><dd>${job.priority}</dd>
        <dt>Created</dt><dd><${Time} ms=${job.created_at} /></dd><dt>Started</dt><dd><${Time} ms=${job.started_at} /></dd>
        <dt>Finished</dt><dd><${Time} ms=${job.finished_at} /></dd>
        ${job.run_at ? html`<dt>Runs at</dt><dd><${Time} ms=${job.run_at} /></dd>` : ''}
        ${job.key ? html`<dt>Key</dt><dd>${job.key}</dd>` : ''}
        ${job.depends_on ? html`<dt>After</dt><dd>${job.depends_on.map((p, i) => html`${i ? ', ' : ''}<a href=${'#/jobs/' + encodeURIComponent(p)}>${p}</a>`)}
          ${job.state === 'waiting' ? html` <span class="muted">(${job.parents_waiting} still to finish)</span>` : ''}
          ${job.on_parent_failure === 'run' ? html` <span class="muted">(runs even if one fails)</span>` : ''}</dd>` : ''}
      </dl>
    </section>
    ${job.error && html`<section><h2>Error</h2><pre class="error">${short(job.error)}</pre></section>`}
    ${job.flow ? html`<${FlowSection} id=${id} flow=${job.flow} />` : ''}
    <section><h2>Result</h2>
      ${isImage ? html`<img alt="result image" style="max-width:100%" src=${`/api/jobs/${encodeURIComponent(id)}/result`} />`
                : html`<pre>${short(job.result)}</pre>`}
      <a href=${`/api/jobs/${encodeURIComponent(id)}/result`}>raw result</a></section>
    <section><h2>Timeline</h2>
      <table><thead><tr><th>At</th><th>State</th><th>Attempt</th><th>Node</th><th>Detail</th></tr></thead>
      <tbody>${events.map(e => html`<tr><td><${Time} ms=${e.at} /></td><td><${State} s=${e.state} /></td>
        <td>${e.attempt}</td><td>${e.node || ''}</td>
        <td class="wrap">${e.update === 'progress' ? `${e.progress}% ${e.progress_message || ''}` : (e.error || '')}</td></tr>`)}</tbody></table>
    </section>`;
}

// ---- Queues and workers ----
function Queues() {
  const [{ data, error }, reload] = usePoll(() => api('/api/queues'), [], 3000);
  const [msg, setMsg] = useState('');
  const [editing, setEditing] = useState(null);  // {name, concurrency, rate, weight} being edited
  const act = async (name, verb) => {
    try { await api(`/api/queues/${encodeURIComponent(name)}/${verb}`, { method: 'POST' }); setMsg(''); reload(); } catch (e) { setMsg(e.message); }
  };
  const save = async (e) => {
    e.preventDefault();
    const body = { concurrency: Number(editing.concurrency), rate: Number(editing.rate), weight: Number(editing.weight) };
    try { await api(`/api/queues/${encodeURIComponent(editing.name)}`, { method: 'PUT', body }); setMsg(''); setEditing(null); reload(); } catch (x) { setMsg(x.message); }
  };
  const field = (key, label, min) => html`<label>${label} <input type="number" min=${min} required value=${editing[key]}
    aria-label=${label} onInput=${(e) => setEditing({ ...editing, [key]: e.target.value })} /></label>`;
  return html`${(error || msg) && html`<p class="error">${msg || error.message}</p>`}
    <section><h2>Queues</h2>
    <table><thead><tr><th>Queue</th><th>Queued</th><th>Delayed</th><th>Running</th><th>Dead</th><th>Oldest wait</th>
      <th class="hide-narrow">Concurrency</th><th class="hide-narrow">Rate</th><th class="hide-narrow">Weight</th><th></th></tr></thead>
    <tbody>${(data ? data.queues : []).map(q => html`<tr>
      <td><a href=${'#/jobs?queue=' + encodeURIComponent(q.name)}>${q.name}</a>${q.paused ? html` <span class="error">paused</span>` : ''}</td>
      <td>${q.queued}</td><td>${q.delayed}</td><td>${q.running}</td><td>${q.dead}</td>
      <td>${(q.oldest_wait_ms / 1000).toFixed(1)} s</td>
      <td class="hide-narrow">${q.concurrency || 'none'}</td><td class="hide-narrow">${q.rate || 'none'}</td><td class="hide-narrow">${q.weight}</td>
      <td><button class="admin" onClick=${() => act(q.name, q.paused ? 'resume' : 'pause')}>${q.paused ? 'Resume' : 'Pause'}</button>
        <button class="admin" onClick=${() => setEditing({ name: q.name, concurrency: q.concurrency, rate: q.rate, weight: q.weight })}>Limits</button></td></tr>`)}</tbody></table>
    ${editing && html`<form class="row admin" onSubmit=${save} aria-label="queue limits">
      <strong>${editing.name}</strong>${field('concurrency', 'Concurrency (0: none)', 0)}${field('rate', 'Rate/s (0: none)', 0)}${field('weight', 'Weight', 1)}
      <button type="submit">Save</button><button type="button" onClick=${() => setEditing(null)}>Cancel</button></form>`}</section>`;
}

function Workers() {
  const [{ data, error }, reload] = usePoll(() => api('/api/workers'), [], 2000);
  const [size, setSize] = useState('');
  const [bounds, setBounds] = useState({ min: '', max: '' });
  const [msg, setMsg] = useState('');
  const resize = async (e) => {
    e.preventDefault();
    try { await api('/api/workers', { method: 'POST', body: { workers: Number(size) } }); setMsg(''); reload(); } catch (x) { setMsg(x.message); }
  };
  const autoscale = async (min, max) => {  // min 0: off
    try { await api('/api/workers/autoscale', { method: 'PUT', body: { min, max } }); setMsg(''); reload(); } catch (x) { setMsg(x.message); }
  };
  const scaling = data && data.autoscale;
  return html`${(error || msg) && html`<p class="error">${msg || error.message}</p>`}
    <section><div class="row"><h2 style="margin:0">Worker slots of ${data ? data.node : '…'}: ${data ? data.workers : ''}</h2>
      <form class="row admin" onSubmit=${resize}><input type="number" min="1" max="1024" required value=${size}
        placeholder="new size" aria-label="new pool size" onInput=${(e) => setSize(e.target.value)} /><button type="submit">Resize</button></form></div>
    <div class="row"><span id="autoscale">${scaling ? `Autoscaling between ${scaling.min} and ${scaling.max} workers` : 'Autoscaling off'}</span>
      <form class="row admin" onSubmit=${(e) => { e.preventDefault(); autoscale(Number(bounds.min), Number(bounds.max)); }}>
        <input type="number" min="1" max="1024" required value=${bounds.min} placeholder="min" aria-label="autoscale min"
          onInput=${(e) => setBounds(b => ({ ...b, min: e.target.value }))} />
        <input type="number" min="1" max="1024" required value=${bounds.max} placeholder="max" aria-label="autoscale max"
          onInput=${(e) => setBounds(b => ({ ...b, max: e.target.value }))} />
        <button type="submit">Autoscale</button>
        <button type="button" disabled=${!scaling} onClick=${() => autoscale(0, 0)}>Off</button></form></div>
    <table><thead><tr><th>Slot</th><th>State</th><th>Job</th><th>Queue</th><th>Type</th><th>Since</th></tr></thead>
    <tbody>${(data ? data.slots : []).map(s => html`<tr><td>${s.id}</td><td>${s.state}${s.retiring ? ' (retiring)' : ''}</td>
      <td>${s.job ? html`<a href=${'#/jobs/' + s.job}>${s.job}</a>` : ''}</td><td>${s.queue}</td><td>${s.type}</td>
      <td><${Time} ms=${s.since} /></td></tr>`)}</tbody></table></section>
    ${data && data.external && data.external.length > 0 && html`<section><h2>External workers</h2>
    <table><thead><tr><th>Id</th><th>Name</th><th>Types</th><th>Running</th><th>State</th><th class="hide-narrow">Lease</th><th>Jobs</th></tr></thead>
    <tbody>${data.external.map(w => html`<tr><td>${w.id}</td><td>${w.name}</td><td>${w.types.join(', ')}</td>
      <td>${w.running}/${w.capacity}</td><td>${w.polling ? 'polling' : w.running > 0 ? 'working' : 'idle'}</td>
      <td class="hide-narrow">${w.lease_ms} ms</td>
      <td>${w.jobs.map((j, i) => html`${i > 0 ? ', ' : ''}<a href=${'#/jobs/' + j}>${j}</a>`)}${w.running > w.jobs.length ? ' …' : ''}</td></tr>`)}</tbody></table></section>`}`;
}

function Schedules() {
  const [{ data, error }, reload] = usePoll(() => api('/api/schedules'), [], 5000);
  const [msg, setMsg] = useState('');
  const act = async (name, verb) => {
    try { await api(`/api/schedules/${encodeURIComponent(name)}/${verb}`, { method: 'POST' }); setMsg(''); reload(); } catch (e) { setMsg(e.message); }
  };
  const list = data ? data.schedules : [];
  return html`${(error || msg) && html`<p class="error">${msg || error.message}</p>`}
    ${data && data.unreachable.length > 0 && html`<p class="error">Not answering: ${data.unreachable.join(', ')}</p>`}
    <section><h2>Schedules</h2>
    ${data && list.length === 0 ? html`<p class="muted">No schedules (jobnet schedule add).</p>` : html`
    <table><thead><tr><th>Name</th><th>Spec</th><th>Type</th><th class="hide-narrow">Queue</th><th class="hide-narrow">Node</th>
      <th>Next fire</th><th class="hide-narrow">Last fire</th><th class="hide-narrow">Fires</th><th></th></tr></thead>
    <tbody>${list.map(sc => html`<tr>
      <td>${sc.name}${sc.paused ? html` <span class="error">paused</span>` : ''}</td><td>${sc.spec}</td><td>${sc.type}</td>
      <td class="hide-narrow">${sc.queue}</td><td class="hide-narrow">${sc.node}</td>
      <td>${sc.paused ? '-' : html`<${Time} ms=${sc.next_fire} />`}</td>
      <td class="hide-narrow"><${Time} ms=${sc.last_fire} />${sc.last_job ? html` (<a href=${'#/jobs/' + sc.last_job}>${sc.last_job}</a>)` : ''}</td>
      <td class="hide-narrow">${sc.fires}</td>
      <td><button class="admin" onClick=${() => act(sc.name, sc.paused ? 'resume' : 'pause')}>${sc.paused ? 'Resume' : 'Pause'}</button></td></tr>`)}</tbody></table>`}
    </section>`;
}

// ---- the frame ----
function TokenDialog({ onDone }) {
  const [value, setValue] = useState('');
  return html`<section><h2>This node needs a token</h2>
    <form class="row" onSubmit=${(e) => { e.preventDefault(); auth.token = value.trim(); whoami(); onDone(); }}>
      <input type="password" autocomplete="off" aria-label="bearer token" placeholder="token or JWT"
        value=${value} onInput=${(e) => setValue(e.target.value)} style="min-width:20rem" />
      <button class="primary" type="submit">Use it</button></form>
    <p class="muted">Kept in this tab only (sessionStorage). Tokens are configured on the node (docs/http.md §7).</p></section>`;
}

function App() {
  const route = useRoute();
  const [connected, setConnected] = useState(live.connected);
  const [needToken, setNeedToken] = useState(false);
  const [, redraw] = useState(0);
  useEffect(() => {
    live.statusListeners.add(setConnected);
    setConnected(live.connected);  // it may have opened before this effect ran
    const ask = () => setNeedToken(true);
    auth.listeners.add(ask);
    const keys = (e) => {
      if (e.target.closest('input,select,textarea') || e.ctrlKey || e.metaKey || e.altKey) return;
      const to = { 1: '#/', 2: '#/jobs', 3: '#/queues', 4: '#/workers', 5: '#/schedules' }[e.key];
      if (to) go(to);
    };
    addEventListener('keydown', keys);
    return () => { live.statusListeners.delete(setConnected); auth.listeners.delete(ask); removeEventListener('keydown', keys); };
  }, []);
  const { path, params } = route;
  let page;
  if (path === '/' || path === '') page = html`<${Overview} />`;
  else if (path === '/jobs') page = html`<${Jobs} params=${params} />`;
  else if (path.startsWith('/jobs/')) page = html`<${JobPage} id=${decodeURIComponent(path.slice(6))} />`;
  else if (path === '/queues') page = html`<${Queues} />`;
  else if (path === '/workers') page = html`<${Workers} />`;
  else if (path === '/schedules') page = html`<${Schedules} />`;
  else page = html`<p>No page ${path}. <a href="#/">Overview</a></p>`;
  const tab = (href, label, key) => html`<a href=${href} title=${'key ' + key}
    aria-current=${(href === '#/' ? path === '/' || path === '' : ('#' + path).startsWith(href)) ? 'page' : undefined}>${label}</a>`;
  return html`
    ${!connected && html`<div class="banner" role="status">Live updates lost: the node does not answer. Reconnecting…</div>`}
    <header><span class="brand">jobnet</span>
      <nav>${tab('#/', 'Overview', 1)}${tab('#/jobs', 'Jobs', 2)}${tab('#/queues', 'Queues', 3)}${tab('#/workers', 'Workers', 4)}${tab('#/schedules', 'Schedules', 5)}</nav>
      <span class="who">${location.host}${auth.token ? html` · <a href="#" onClick=${(e) => { e.preventDefault(); auth.token = ''; redraw(n => n + 1); }}>forget token</a>` : ''}</span>
    </header>
    <main>${needToken ? html`<${TokenDialog} onDone=${() => { setNeedToken(false); redraw(n => n + 1); }} />` : page}</main>`;
}

// What the viewer may do (GET /api/whoami): write and admin controls are hidden without the
// scope (the face still checks every request).
async function whoami() {
  try {
    const me = await api('/api/whoami');
    document.body.classList.toggle('no-write', !me.write);
    document.body.classList.toggle('no-admin', !me.admin);
    document.body.dataset.who = me.name || '';
  } catch (e) { /* 401: the token dialog shows */ }
}
auth.listeners.add(() => setTimeout(whoami, 0));

whoami();
live.start();
render(html`<${App} />`, document.getElementById('app'));
