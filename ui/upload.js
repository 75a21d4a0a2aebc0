// The upload view: files and folders dropped or picked are listed at once (verdicts arrive as
// validation finishes, off the page's thread), then uploaded with per-file and overall progress.
// The list is virtual: only the rows on screen exist in the DOM, so 10,000 files stay smooth.
// Problems sort to the top, the counts filter the list, and a row opens its details below it.

import * as api from './api.js';

const $ = (id) => document.getElementById(id);
const ROW = 56;
let ctx;

/** Every file listed, in arrival order; byPath finds a row from an upload event. */
let files = [];
let byPath = new Map();
let validating = 0;
let running = null; // the run under way, see start()
/** How the last run ended: null, 'done' or 'cancelled'. */
let lastEnd = null;
/** The filter chosen with the counts: 'all', 'ok', 'warn', 'reject', 'failed' or 'cancelled'. */
let filter = 'all';
/** Indices into `files` in the order shown (problems first), filtered; rebuilt when stale. */
let order = [];
let orderStale = true;
/** The path whose details show under the list, and the path whose row should have focus. */
let selected = null;
let focusPath = null;

const KIND_LABEL = { image: 'image', video: 'video', audio: 'audio', pdf: 'PDF', text: 'text', markdown: 'Markdown', html: 'HTML', dicom: 'DICOM', nrrd: 'NRRD', nifti: 'NIfTI' };
/** Files better opened elsewhere than uploaded: lists for Cloud import, tables for the builder. */
const LIST_EXT = /\.json$/i;
const TABLE_EXT = /\.(csv|tsv|xlsx|xls)$/i;

export function size(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024; let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function duration(s) {
  if (!Number.isFinite(s)) return '…';
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

const n = (x) => x.toLocaleString();
const plural = (x, one, many = `${one}s`) => `${n(x)} ${x === 1 ? one : many}`;
function fileName(p) { return p.split(/[\\/]/).pop(); }

/** A problem in the app's words: a short line for the row, and the detail the checks found. */
function problemText(p, f) {
  switch (p.code) {
    case 'variable-bitrate':
      return 'Its bitrate varies, so annotation timings would drift. Convert it to WAV, or choose “upload anyway”.';
    case 'audio-needs-conversion':
      return 'This audio must be converted to WAV before annotators can play it accurately.';
    case 'will-convert':
      return 'Will be converted to WAV (constant bitrate) before it is sent.';
    case 'free-format-mp3':
    case 'undecodable-audio':
      return 'This audio cannot be played accurately and cannot be converted here: export it as WAV or constant-bitrate MP3.';
    default: {
      // The checks' own words, without what only the command line can do.
      const m = p.message.replace(/\s*\(?--[a-z-]+(?: [a-z]+)?[^;)]*\)?/g, '');
      // A message that starts with the file's name keeps it as it is spelled.
      return f && m.startsWith(fileName(f.path)) ? m : m.charAt(0).toUpperCase() + m.slice(1);
    }
  }
}

/** What the checks found beyond the short line: the measured detail (first clause). */
function problemDetail(p) {
  if (!['variable-bitrate', 'audio-needs-conversion', 'will-convert'].includes(p.code)) return '';
  return p.message.split(';')[0].replace(/^will be converted to 16-bit PCM WAV before upload: /, '');
}

/** The category a file is counted and filtered under. */
function category(f) {
  if (f.state === 'failed') return 'failed';
  if (f.state === 'cancelled') return 'cancelled';
  if (f.verdict === 'reject') return 'reject';
  if (f.verdict === 'checking') return 'checking';
  if (f.verdict === 'warn') return 'warn';
  return 'ok';
}
const RANK = { failed: 0, reject: 1, warn: 2, cancelled: 3, checking: 4, ok: 5 };

function badgeOf(f) {
  switch (f.state) {
    case 'failed': return ['reject', 'failed'];
    case 'cancelled': return ['neutral', 'not sent'];
    case 'skipped': return ['neutral', 'skipped'];
    case 'uploaded': return ['ok', 'uploaded'];
    default:
      if (f.verdict === 'reject') return ['reject', 'rejected'];
      if (f.verdict === 'warn') return ['warn', 'warning'];
      if (f.verdict === 'checking') return ['neutral', 'checking'];
      return ['ok', 'ok'];
  }
}

/** What a row says: the worst problem in the app's words, or what happened to the file. */
function verdictText(f) {
  if (f.state === 'failed') return f.error;
  if (f.state === 'cancelled') return 'Not sent: the upload was cancelled.';
  if (f.state === 'skipped') return f.error ? `Skipped: ${f.error}.` : 'Skipped: the project already holds this file.';
  if (f.state === 'uploaded') return f.convert ? 'In the project, converted to WAV.' : 'In the project.';
  if (f.verdict === 'checking') return 'Checking…';
  const p = f.problems?.[0];
  if (!p) return 'Ready to upload.';
  return problemText(p, f);
}

const pct = (f) => Math.floor((100 * (f.sent || 0)) / Math.max(f.total || 1, 1));

function stateText(f) {
  switch (f.state) {
    case 'converting': return 'converting to WAV…';
    case 'uploading': return `sending ${pct(f)}%`;
    case 'sent': return 'sent · registering…';
    case 'uploaded': return 'in the project';
    case 'failed': return 'failed';
    case 'cancelled': return 'not sent';
    case 'rejected': return 'not uploaded';
    case 'skipped': return 'skipped';
    case 'checking': return '';
    default: return f.verdict === 'reject' ? 'not uploaded' : 'ready';
  }
}

function isVbr(f) {
  return f.verdict === 'reject' && f.problems?.some((p) => p.code === 'variable-bitrate' || p.code === 'audio-needs-conversion');
}

/** A button that applies the fix a problem offers to this file alone. */
function fixFor(f) {
  if (running || f.state === 'uploaded' || !isVbr(f)) return null;
  const b = document.createElement('button');
  b.className = 'small';
  b.dataset.testid = 'fix-convert';
  b.textContent = 'Convert to WAV';
  b.addEventListener('click', (e) => { e.stopPropagation(); convertFiles([f.path]); });
  return b;
}

function rowElement(f, pos) {
  const el = document.createElement('div');
  el.className = `file-row${selected === f.path ? ' selected' : ''}`;
  el.style.top = `${pos * ROW}px`;
  el.tabIndex = -1;
  el.setAttribute('role', 'listitem');
  el.dataset.testid = 'file-row';
  el.dataset.path = f.path;
  el.dataset.externalId = f.externalId;
  el.dataset.verdict = f.verdict;
  el.dataset.state = f.state;
  el.dataset.kind = f.kind || '';
  el.dataset.position = pos;
  el.dataset.steps = (f.steps ?? []).map(([k]) => k).join('>');
  const thumb = f.thumb ? Object.assign(document.createElement('img'), { src: f.thumb, loading: 'lazy', alt: '' }) : document.createElement('div');
  thumb.className = 'thumb';
  thumb.dataset.testid = 'file-thumb';
  if (!f.thumb) thumb.textContent = f.format || '?';
  const name = document.createElement('div');
  name.innerHTML = '<div class="name"></div><div class="path"></div>';
  name.firstChild.textContent = f.externalId;
  name.lastChild.textContent = f.path;
  const kind = document.createElement('div');
  kind.dataset.testid = 'file-kind';
  kind.textContent = f.kind ? KIND_LABEL[f.kind] || f.kind : 'unknown';
  const sz = document.createElement('div');
  sz.textContent = size(f.size);
  const verdict = document.createElement('div');
  verdict.className = 'verdict';
  verdict.dataset.testid = 'file-verdict';
  const [cls, label] = badgeOf(f);
  const badge = document.createElement('span');
  badge.className = `badge ${cls}`;
  badge.textContent = label;
  verdict.append(badge, ' ', verdictText(f));
  const state = document.createElement('div');
  state.className = 'state';
  state.dataset.testid = 'file-state';
  state.textContent = stateText(f);
  // The fix sits beside the state, not in the (clamped) reason, so it is always visible.
  const fix = fixFor(f);
  if (fix) state.append(document.createElement('br'), fix);
  if (f.state === 'uploading') {
    const mini = document.createElement('div');
    mini.className = 'mini';
    const fill = document.createElement('div');
    fill.style.width = `${pct(f)}%`;
    mini.append(fill);
    state.append(mini);
  }
  el.append(thumb, name, kind, sz, verdict, state);
  el.addEventListener('click', () => select(f.path));
  el.addEventListener('keydown', (e) => rowKey(e, pos));
  return el;
}

/** What a row shows; a row is rebuilt only when this changes, so a button under the pointer
 * stays the same element while progress ticks elsewhere (a click is never lost to a repaint). */
function signature(f, pos) {
  return [pos, f.path, f.externalId, f.state, f.verdict, f.kind, f.thumb, f.error, f.convert, f.steps?.length,
    f.problems?.length, f.state === 'uploading' ? pct(f) : '', running ? 1 : 0, selected === f.path].join('|');
}

function rebuildOrder() {
  const keep = [];
  for (let i = 0; i < files.length; i += 1) {
    if (filter === 'all' || category(files[i]) === filter) keep.push(i);
  }
  keep.sort((a, b) => (RANK[category(files[a])] - RANK[category(files[b])]) || a - b);
  order = keep;
  orderStale = false;
}

/** The rows on screen: path → {sig, el}. */
let mounted = new Map();

let paintQueued = false;
function paint() {
  if (paintQueued) return;
  paintQueued = true;
  requestAnimationFrame(() => {
    paintQueued = false;
    if (orderStale) rebuildOrder();
    const list = $('file-list');
    $('file-spacer').style.height = `${order.length * ROW}px`;
    const first = Math.max(0, Math.floor(list.scrollTop / ROW) - 5);
    const last = Math.min(order.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW) + 5);
    const next = new Map();
    for (let pos = first; pos < last; pos += 1) {
      const f = files[order[pos]];
      const sig = signature(f, pos);
      const had = mounted.get(f.path);
      if (had && had.sig === sig) {
        next.set(f.path, had);
        mounted.delete(f.path);
      } else {
        const el = rowElement(f, pos);
        const hadFocus = had && had.el.contains(document.activeElement);
        if (had) { had.el.replaceWith(el); mounted.delete(f.path); } else list.append(el);
        if (hadFocus) el.focus({ preventScroll: true });
        next.set(f.path, { sig, el });
      }
    }
    for (const { el } of mounted.values()) {
      // A focused row scrolled away hands the focus to the list, not to the top of the page.
      const lost = el.contains(document.activeElement);
      el.remove();
      if (lost) list.focus({ preventScroll: true });
    }
    mounted = next;
    if (focusPath && mounted.has(focusPath)) {
      mounted.get(focusPath).el.focus({ preventScroll: true });
      focusPath = null;
    }
    $('drop-zone').classList.toggle('compact', files.length > 0);
    renderCounts();
    renderDetails();
  });
}

function stale() { orderStale = true; paint(); }

function counts() {
  const c = { all: files.length, ok: 0, warn: 0, reject: 0, failed: 0, cancelled: 0, checking: 0 };
  for (const f of files) c[category(f)] += 1;
  return c;
}

const FILTERS = [
  ['all', (c) => `All ${n(c.all)}`, ''],
  ['ok', (c) => `${n(c.ok)} ok`, 'c-ok'],
  ['warn', (c) => `${n(c.warn)} with warnings`, 'c-warn'],
  ['reject', (c) => `${n(c.reject)} rejected`, 'c-bad'],
  ['failed', (c) => `${n(c.failed)} failed`, 'c-bad'],
  ['cancelled', (c) => `${n(c.cancelled)} not sent`, ''],
];

function renderCounts() {
  const c = counts();
  const busy = validating > 0 || c.checking > 0;
  $('file-count').textContent = c.all === 0 ? 'No files yet'
    : `${plural(c.all, 'file')}, ${size(files.reduce((a, f) => a + f.size, 0))}${busy ? ' — checking…' : ''}`;
  const box = $('verdict-counts');
  if (c.all === 0) {
    box.replaceChildren();
  } else {
    const want = FILTERS.filter(([k]) => k === 'all' || k === 'ok' || k === 'warn' || k === 'reject' || c[k] > 0 || filter === k);
    const sig = want.map(([k, text]) => `${k}:${text(c)}:${filter === k}`).join('|') + (c.checking ? `|checking:${c.checking}` : '');
    if (box.dataset.sig !== sig) {
      const had = box.contains(document.activeElement) ? document.activeElement.dataset.filter : null;
      box.dataset.sig = sig;
      box.replaceChildren(...want.map(([k, text, cls]) => {
        const b = document.createElement('button');
        b.className = `chip ${cls}${filter === k ? ' on' : ''}`;
        b.dataset.testid = `filter-${k}`;
        b.dataset.filter = k;
        b.setAttribute('aria-pressed', String(filter === k));
        b.textContent = text(c);
        b.addEventListener('click', () => setFilter(filter === k ? 'all' : k));
        return b;
      }), ...(c.checking ? [Object.assign(document.createElement('span'), { textContent: `${n(c.checking)} being checked` })] : []));
      if (had) box.querySelector(`[data-filter="${had}"]`)?.focus();
    }
  }
  const vbr = files.filter(isVbr).length;
  const all = $('fix-convert-all');
  all.classList.toggle('hidden', running !== null || vbr < 2);
  all.textContent = `Convert all ${n(vbr)} to WAV`;
  renderActions(c, busy);
}

/** The primary button keeps its place and, while a run lasts, its label; Cancel shows beside
 * it without moving it. */
function renderActions(c, busy) {
  const start = $('upload-start');
  const sendable = files.filter(sendableFile).length;
  if (!running) {
    const cancelled = files.filter((f) => f.state === 'cancelled').length;
    const failed = files.filter((f) => f.state === 'failed').length;
    if (lastEnd === 'cancelled' && cancelled) start.textContent = `Resume (${n(sendable)})`;
    else if (failed && failed === sendable) start.textContent = `Retry ${n(failed)} failed`;
    else start.textContent = sendable ? `Upload ${n(sendable)}` : 'Upload';
    start.dataset.action = lastEnd === 'cancelled' && cancelled ? 'resume' : failed && failed === sendable ? 'retry' : 'upload';
  }
  start.disabled = !!running || busy || sendable === 0 || !ctx.project;
  const cancel = $('upload-cancel');
  cancel.classList.toggle('invisible', !running);
  cancel.disabled = !running || running.cancelling;
  cancel.textContent = running?.cancelling ? 'Cancelling…' : 'Cancel';
  let hint = '';
  if (!ctx.project) hint = ctx.noProjects ? 'This hub has no projects yet: create one with “+ New project” above.' : 'Choose a project above.';
  else if (!running && c.all && !sendable && !busy) {
    hint = c.reject === c.all ? 'Every file was rejected: fix them or drop others.' : files.every((f) => f.state === 'uploaded' || f.state === 'skipped' || f.verdict === 'reject') ? 'Everything that can be sent is in the project.' : '';
  }
  $('upload-hint').textContent = hint;
}

function sendableFile(f) {
  return f.verdict !== 'reject' && f.verdict !== 'checking' && (f.state === 'ready' || f.state === 'failed' || f.state === 'cancelled');
}

function setFilter(k) {
  filter = k;
  $('file-list').scrollTop = 0;
  stale();
}

function select(path) {
  selected = selected === path ? null : path;
  paint();
}

function rowKey(e, pos) {
  const move = { ArrowDown: 1, ArrowUp: -1, PageDown: 8, PageUp: -8 }[e.key];
  if (move) {
    e.preventDefault();
    const to = Math.max(0, Math.min(order.length - 1, pos + move));
    const list = $('file-list');
    const top = to * ROW;
    if (top < list.scrollTop) list.scrollTop = top;
    else if (top + ROW > list.scrollTop + list.clientHeight) list.scrollTop = top + ROW - list.clientHeight;
    focusPath = files[order[to]].path;
    paint();
  } else if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    select(files[order[pos]].path);
  }
}

/** The chosen file's whole story: every problem in full, with the fixes the app can apply. */
function renderDetails() {
  const box = $('file-details');
  const f = selected ? files[byPath.get(selected)] : null;
  if (!f) { box.classList.add('hidden'); return; }
  const sig = signature(f, 0);
  if (box.dataset.sig === sig && !box.classList.contains('hidden')) return;
  box.dataset.sig = sig;
  box.classList.remove('hidden');
  $('details-name').textContent = `${f.externalId} — ${badgeOf(f)[1]}`;
  $('details-path').textContent = `${f.path} · ${size(f.size)}${f.kind ? ` · ${KIND_LABEL[f.kind] || f.kind}` : ''}`;
  const lines = [];
  if (f.state === 'failed' || f.state === 'cancelled' || f.state === 'skipped' || f.state === 'uploaded') lines.push(verdictText(f));
  for (const p of f.problems ?? []) {
    const detail = problemDetail(p);
    lines.push(`${problemText(p, f)}${detail ? ` (${detail})` : ''}`);
  }
  if (!lines.length) lines.push(verdictText(f));
  if (f.steps?.length) lines.push(`Steps: ${stepsText(f)}`);
  $('details-problems').replaceChildren(...lines.map((t) => Object.assign(document.createElement('li'), { textContent: t })));
  const fix = fixFor(f);
  $('details-actions').replaceChildren(...(fix ? [fix] : []));
}

function addRows(rows) {
  for (const r of rows) {
    const state = r.verdict === null ? 'checking' : r.verdict === 'reject' ? 'rejected' : 'ready';
    const f = { ...r, verdict: r.verdict ?? 'checking', state };
    const at = byPath.get(f.path);
    if (at !== undefined) {
      f.audio = files[at].audio;
      files[at] = f;
    } else {
      byPath.set(f.path, files.length);
      files.push(f);
    }
  }
  stale();
}

/** Paths better opened in another view than uploaded: lists and tables dropped on Upload. */
function reroute(paths) {
  const lists = paths.filter((p) => LIST_EXT.test(p));
  const tables = paths.filter((p) => TABLE_EXT.test(p));
  const odd = [...lists, ...tables];
  const card = $('reroute-card');
  if (!odd.length) { card.classList.add('hidden'); return paths; }
  const rest = paths.filter((p) => !odd.includes(p));
  const names = odd.map(fileName);
  const what = lists.length && !tables.length ? 'a cloud-import list (JSON)' : tables.length && !lists.length ? 'a table' : 'lists or tables';
  $('reroute-text').textContent = `${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''} look${names.length === 1 ? 's' : ''} like ${what}: import assets from ${names.length === 1 ? 'it' : 'them'}, or upload ${names.length === 1 ? 'it' : 'them'} as ${names.length === 1 ? 'a file' : 'files'}?`;
  $('reroute-cloud').classList.toggle('hidden', !lists.length);
  $('reroute-builder').classList.toggle('hidden', !odd.length);
  const done = () => card.classList.add('hidden');
  $('reroute-cloud').onclick = () => { done(); ctx.openIn('cloud', [lists[0]]); };
  $('reroute-builder').onclick = () => { done(); ctx.openIn('builder', [tables[0] ?? lists[0]]); };
  $('reroute-upload').onclick = () => { done(); add(odd, true); };
  card.classList.remove('hidden');
  $(lists.length ? 'reroute-cloud' : 'reroute-builder').focus();
  return rest;
}

async function add(given, asFiles = false) {
  const paths = asFiles ? given : reroute(given);
  if (!paths.length) return;
  ctx.clearBanner();
  $('upload-summary').classList.add('hidden');
  lastEnd = null;
  validating += 1;
  renderCounts();
  try {
    const added = await api.addFiles(api.newJob('add'), paths, $('audio-policy').value, addRows);
    const notes = [
      ...added.failed.map((f) => `${f.path}: ${api.messageOf(f.error)}`),
    ];
    if (added.skipped.length) notes.push(`${plural(added.skipped.length, 'hidden file')} inside folders left out.`);
    if (added.files === 0 && !added.failed.length) notes.push('No files found in what was dropped.');
    if (notes.length) ctx.showInfo(notes.join('\n'));
  } catch (e) {
    ctx.showError(api.messageOf(e));
  } finally {
    validating -= 1;
    paint();
  }
}

/** Validates files again by path, keeping the external IDs they had (a file from a dropped
 * folder keeps its folder-relative ID). `ids`: path → external ID. */
function addKeepingIds(ids, policy) {
  return api.addFiles(api.newJob('add'), [...ids.keys()], policy,
    (rows) => addRows(rows.map((r) => ({ ...r, externalId: ids.get(r.path) ?? r.externalId }))));
}

async function revalidate(paths, policy, after) {
  const keep = new Map(paths.map((p) => [p, files[byPath.get(p)].externalId]));
  if (!keep.size) return;
  validating += 1;
  renderCounts();
  try {
    await addKeepingIds(keep, policy);
    after?.();
  } catch (e) {
    ctx.showError(api.messageOf(e));
  } finally {
    validating -= 1;
    stale();
  }
}

/** "Convert to WAV" on some files: those files alone, whatever the list's policy says. */
function convertFiles(paths) {
  for (const p of paths) files[byPath.get(p)].audio = 'convert';
  focusPath = paths[0];
  return revalidate(paths, 'convert', () => {
    for (const p of paths) { const f = files[byPath.get(p)]; f.audio = 'convert'; }
    focusPath = paths[0];
  });
}

/** Changing the list's audio policy validates the listed files again under it; a file's own
 * choice is kept. */
function setPolicy(policy) {
  $('audio-policy').value = policy;
  return revalidate(files.filter((f) => f.state !== 'uploaded' && !f.audio).map((f) => f.path), policy);
}

/** The overall line: bytes and files sent, files registered, conversions, and the time left. */
function overall(r) {
  const now = performance.now();
  const toSend = Math.max(r.count - r.skipped - r.rejected, 0);
  const bytesFrac = r.total ? Math.min(r.sent / r.total, 1) : 0;
  const filesFrac = toSend ? r.sentFiles / toSend : 0;
  $('overall-fill').style.width = `${100 * Math.max(bytesFrac, filesFrac)}%`;
  $('overall-registered').style.width = `${toSend ? (100 * r.registered) / toSend : 0}%`;
  $('overall').setAttribute('aria-valuenow', String(Math.round(100 * Math.max(bytesFrac, filesFrac))));
  const el = $('overall-text');
  if (r.cancelling) {
    el.textContent = `Cancelling… ${n(r.registered)} of ${n(toSend)} files are in the project`;
    return;
  }
  r.samples.push([now, r.sent, r.sentFiles]);
  while (r.samples.length > 2 && now - r.samples[0][0] > 5000) r.samples.shift();
  const converting = r.converting.size;
  const parts = [
    converting || r.pendingConversions ? `${size(r.sent)} sent` : `${size(r.sent)} of ${size(r.total)}`,
    `${n(r.sentFiles)} of ${n(toSend)} files sent`,
    `${n(r.registered)} in the project`,
  ];
  if (converting) parts.push(`converting ${plural(converting, 'audio file')} to WAV`);
  const left = toSend - r.sentFiles - r.failed - r.cancelled;
  parts.push(left <= 0 ? 'registering…' : eta(r, now, toSend));
  el.textContent = parts.join(' · ');
}

/** Time left, from the last five seconds: bytes and files each at their own rate, the slower
 * one counts (many small files are limited by files per second, one big one by bytes). Said
 * only once there is enough to go on. */
function eta(r, now, toSend) {
  const [t0, b0, f0] = r.samples[0];
  const secs = (now - t0) / 1000;
  if (!r.firstSent || (now - r.firstSent) / 1000 < 1.5 || secs < 1 || (r.sentFiles < 3 && r.sent < 0.02 * r.total)) {
    return 'estimating time left…';
  }
  const byteRate = (r.sent - b0) / secs;
  const fileRate = (r.sentFiles - f0) / secs;
  if (byteRate <= 0 && fileRate <= 0) return 'estimating time left…';
  const byBytes = byteRate > 0 ? Math.max(r.total - r.sent, 0) / byteRate : 0;
  const byFiles = fileRate > 0 ? Math.max(toSend - r.sentFiles, 0) / fileRate : 0;
  return `about ${duration(Math.max(byBytes, byFiles, 0.1))} left`;
}

/** The events of run `r`. Channel messages can trail the command's answer: once the run has
 * ended, its summary is the truth and late events are ignored. */
const STEP_WORDS = {
  converting: 'converted to WAV', sending: 'bytes sent', sent: 'stored, waiting for registration',
  uploaded: 'registered: in the project', failed: 'failed', cancelled: 'cancelled',
};

/** A file's steps so far, for its details: what happened, and when after the start. */
function stepsText(f) {
  return (f.steps ?? []).map(([k, at]) => `${STEP_WORDS[k]} (${duration(at)})`).join(' → ');
}

function eventsOf(r) {
  const step = (f, k) => { f.steps.push([k, (performance.now() - r.startedAt) / 1000]); };
  return (e) => {
    if (r.finished) return;
    const i = byPath.get(e.path);
    const f = i === undefined ? null : files[i];
    if (f) {
      const k = { converting: 'converting', started: 'sending', sent: 'sent', uploaded: 'uploaded' }[e.event]
        ?? (e.event === 'failed' ? (e.error.code === 'cancelled' ? 'cancelled' : 'failed') : null);
      if (k) step(f, k);
    }
    switch (e.event) {
      case 'converting':
        if (f) { f.state = 'converting'; r.converting.add(f.path); }
        break;
      case 'started':
        // A converted file is sent at its new size.
        if (f) {
          if (r.converting.delete(f.path)) r.pendingConversions = Math.max(0, r.pendingConversions - 1);
          r.total += e.bytes - f.size; f.state = 'uploading'; f.sent = 0; f.total = e.bytes;
        }
        r.firstSent ??= performance.now();
        break;
      case 'progress':
        if (f) { f.sent = e.sent; f.total = e.total; }
        r.sent = Math.max(r.sent, e.overallSent);
        break;
      case 'sent': if (f && f.state !== 'uploaded') f.state = 'sent'; r.sentFiles += 1; break;
      case 'uploaded': if (f) { f.state = 'uploaded'; f.assetId = e.assetId; } r.registered += 1; break;
      case 'failed': {
        const cancelled = e.error.code === 'cancelled';
        if (cancelled) r.cancelled += 1; else r.failed += 1;
        if (f) {
          if (r.converting.delete(f.path)) r.pendingConversions = Math.max(0, r.pendingConversions - 1);
          if (f.state === 'sent') r.sentFiles -= 1;
          f.state = cancelled ? 'cancelled' : 'failed';
          f.error = api.messageOf(e.error);
        }
        break;
      }
      case 'rejected': if (f) { f.state = 'rejected'; f.verdict = 'reject'; f.problems = e.problems; } r.rejected += 1; break;
      case 'skipped': if (f) { f.state = 'skipped'; f.error = e.reason; } r.skipped += 1; break;
      case 'finished': r.sent = e.bytes; break;
      default: break;
    }
    if (e.event === 'failed' || e.event === 'rejected' || e.event === 'skipped') orderStale = true;
    // Bytes tick often: the line is rewritten at most five times a second for them.
    if (e.event !== 'progress' || !r.lastText || performance.now() - r.lastText > 200) {
      r.lastText = performance.now();
      overall(r);
    }
    paint();
  };
}

async function start(only) {
  if (!ctx.project || running) return;
  const chosen = files.filter(only);
  if (!chosen.length) return;
  ctx.clearBanner();
  const label = $('upload-start').textContent;
  running = {
    job: api.newJob('upload'),
    startedAt: performance.now(),
    total: chosen.reduce((a, f) => a + f.size, 0),
    sent: 0,
    samples: [],
    sentFiles: 0,
    registered: 0,
    failed: 0,
    cancelled: 0,
    rejected: 0,
    skipped: 0,
    count: chosen.length,
    converting: new Set(),
    pendingConversions: chosen.filter((f) => f.convert).length,
    firstSent: null,
    cancelling: false,
    finished: false,
  };
  lastEnd = null;
  $('upload-start').textContent = label;
  chosen.forEach((f) => { f.state = 'ready'; f.error = undefined; f.sent = undefined; f.steps = []; });
  $('overall').classList.remove('hidden');
  $('upload-summary').classList.add('hidden');
  const run = running;
  overall(run);
  // Cancel is usable at once, not from the next frame: a page busy with progress events may
  // paint late.
  renderCounts();
  stale();
  // The keyboard stays where the next action is.
  requestAnimationFrame(() => $('upload-cancel').focus());
  const request = {
    job: run.job,
    project: ctx.project._id,
    files: chosen.map((f) => ({ path: f.path, externalId: f.externalId, size: f.size, ...(f.audio ? { audio: f.audio } : {}) })),
    batches: ctx.batch ? [ctx.batch] : [],
    audio: $('audio-policy').value,
    skipExisting: $('upload-skip-existing').checked,
  };
  try {
    const s = await api.upload(request, eventsOf(run));
    run.finished = true;
    const at = (p) => files[byPath.get(p)] ?? {};
    for (const u of s.uploaded) Object.assign(at(u.path), { state: 'uploaded', assetId: u.assetId });
    for (const x of s.failed) Object.assign(at(x.path), { state: x.error.code === 'cancelled' ? 'cancelled' : 'failed', error: api.messageOf(x.error) });
    for (const x of s.rejected) Object.assign(at(x.path), { state: 'rejected', verdict: 'reject', problems: x.problems });
    for (const x of s.skipped) Object.assign(at(x.path), { state: 'skipped', error: x.reason });
    const cancelled = s.failed.filter((x) => x.error.code === 'cancelled').length;
    lastEnd = cancelled ? 'cancelled' : 'done';
    const secs = (performance.now() - run.startedAt) / 1000;
    // The summary takes the progress line's place and keeps what it measured.
    $('overall').classList.add('hidden');
    summarise(cancelled, cancelled
      ? `Cancelled after ${duration(secs)}.`
      : `${size(run.sent)} sent in ${duration(secs)} · ${n(chosen.length)} of ${n(chosen.length)} files done`);
  } catch (e) {
    run.finished = true;
    ctx.showError(api.messageOf(e));
    files.forEach((f) => { if (['uploading', 'converting', 'sent'].includes(f.state)) { f.state = 'failed'; f.error = 'Interrupted before it was registered.'; } });
  } finally {
    running = null;
    renderCounts();
    stale();
  }
}

/** The summary counts every listed file, says what happened to each group and what to do. */
function summarise(cancelled, stats) {
  const el = $('upload-summary');
  const c = { uploaded: 0, skipped: 0, rejected: 0, failed: 0, cancelled: 0, other: 0 };
  for (const f of files) {
    if (f.state === 'uploaded') c.uploaded += 1;
    else if (f.state === 'skipped') c.skipped += 1;
    else if (f.state === 'failed') c.failed += 1;
    else if (f.state === 'cancelled') c.cancelled += 1;
    else if (f.verdict === 'reject') c.rejected += 1;
    else c.other += 1;
  }
  const listed = files.length;
  const where = `“${ctx.project?.name ?? ''}”${ctx.batch ? ` (batch ${ctx.batch})` : ''}`;
  const head = document.createElement('div');
  head.className = 'summary-head';
  head.dataset.testid = 'summary-head';
  head.textContent = cancelled
    ? `Upload cancelled: ${n(c.uploaded)} of ${plural(listed, 'file')} uploaded to ${where}.`
    : `${n(c.uploaded)} of ${plural(listed, 'file')} uploaded to ${where}.`;
  const measured = document.createElement('span');
  measured.className = 'summary-stats';
  measured.dataset.testid = 'summary-stats';
  measured.textContent = ` ${stats}`;
  head.append(measured);
  const parts = [];
  if (c.cancelled) parts.push(['cancelled', `${n(c.cancelled)} not sent: press “Resume” to send ${c.cancelled === 1 ? 'it' : 'them'}.`]);
  if (c.skipped) parts.push(['skipped', `${n(c.skipped)} already in the project, left out.`]);
  if (c.rejected) parts.push(['reject', `${n(c.rejected)} rejected by the checks and not sent: they are at the top of the list with what to do.`]);
  if (c.failed) parts.push(['failed', `${n(c.failed)} failed: press “Retry ${n(c.failed)} failed”.`]);
  if (c.other) parts.push(['ok', `${n(c.other)} not uploaded yet.`]);
  const lines = parts.map(([k, text]) => {
    const line = document.createElement('div');
    line.dataset.part = k;
    line.textContent = text;
    if (k === 'reject' || k === 'failed') {
      const show = document.createElement('button');
      show.className = 'link';
      show.dataset.testid = `summary-show-${k}`;
      show.textContent = 'Show them';
      show.addEventListener('click', () => setFilter(k));
      line.append(' ', show);
    }
    return line;
  });
  el.replaceChildren(head, ...lines);
  Object.assign(el.dataset, { listed, ...Object.fromEntries(Object.entries(c).map(([k, v]) => [k, String(v)])) });
  el.className = `summary${cancelled ? ' neutral' : c.rejected || c.failed ? ' bad' : ''}`;
  // Problems first: the list shows them from the top.
  $('file-list').scrollTop = 0;
  el.focus({ preventScroll: true });
}

/** Offers to resume the upload an earlier run of the app did not finish. */
async function offerResume() {
  const j = await api.interruptedUpload().catch((e) => { ctx.showError(api.messageOf(e)); return null; });
  const card = $('resume-card');
  card.classList.toggle('hidden', !j);
  if (!j) return;
  const when = new Date(j.started);
  $('resume-text').textContent = `An upload of ${plural(j.files.length, 'file')} did not finish (started ${Number.isNaN(when.getTime()) ? j.started : when.toLocaleString()}). Files already in the project are skipped, nothing is uploaded twice.`;
  $('resume-upload').onclick = () => resume(j);
  $('resume-discard').onclick = async () => { await ctx.guard(api.discardInterrupted); card.classList.add('hidden'); };
}

function clearList() {
  files = []; byPath = new Map();
  for (const { el } of mounted.values()) el.remove();
  mounted = new Map();
  selected = null;
  lastEnd = null;
  filter = 'all';
  $('overall').classList.add('hidden');
  $('upload-summary').classList.add('hidden');
  $('reroute-card').classList.add('hidden');
  stale();
}

async function resume(j) {
  $('resume-card').classList.add('hidden');
  if (running) return;
  await ctx.guard(() => ctx.reloadProjects(j.project));
  if (ctx.project?._id !== j.project) {
    ctx.showError('The project of the interrupted upload no longer exists on this hub.');
    return;
  }
  ctx.setBatch(j.batches[0] ?? '');
  $('audio-policy').value = j.audio;
  $('upload-skip-existing').checked = j.skipExisting;
  clearList();
  const ids = new Map(j.files.map((f) => [f.path, f.externalId]));
  const own = new Map(j.files.filter((f) => f.audio).map((f) => [f.path, f.audio]));
  validating += 1;
  renderCounts();
  try {
    const added = await addKeepingIds(ids, j.audio);
    if (added.failed.length) ctx.showInfo(added.failed.map((f) => `${f.path}: ${api.messageOf(f.error)}`).join('\n'));
    const mine = [...own.keys()].filter((p) => byPath.has(p));
    for (const p of mine) files[byPath.get(p)].audio = own.get(p);
    const convert = mine.filter((p) => own.get(p) === 'convert');
    if (convert.length) await addKeepingIds(new Map(convert.map((p) => [p, ids.get(p)])), 'convert');
  } catch (e) {
    ctx.showError(api.messageOf(e));
    return;
  } finally {
    validating -= 1;
    paint();
  }
  // Verdicts may still be arriving over the channel after the command returns.
  await new Promise((done) => {
    const tick = () => (files.some((f) => f.state === 'checking') ? setTimeout(tick, 50) : done());
    tick();
  });
  await start(sendableFile);
}

/** Another project or hub: what the list did against the old one no longer holds. Files go
 * back to ready (the upload skips what the new project holds) and the summary goes. */
function retarget() {
  if (running) return;
  let changed = false;
  for (const f of files) {
    if (['uploaded', 'skipped', 'failed', 'cancelled'].includes(f.state)) {
      f.state = f.verdict === 'reject' ? 'rejected' : 'ready';
      f.error = undefined;
      changed = true;
    }
  }
  lastEnd = null;
  $('upload-summary').classList.add('hidden');
  $('overall').classList.add('hidden');
  if (changed && ctx.project) ctx.showInfo(`The list now goes to “${ctx.project.name}”: press Upload; files the project already holds are skipped.`);
  stale();
}

export function init(c) {
  ctx = c;
  $('file-list').addEventListener('scroll', paint);
  window.addEventListener('resize', paint);
  $('pick-files').addEventListener('click', async () => add(await ctx.guard(() => api.pick(false)) ?? []));
  $('pick-folder').addEventListener('click', async () => add(await ctx.guard(() => api.pick(true)) ?? [], true));
  $('upload-start').addEventListener('click', () => start(sendableFile));
  $('upload-cancel').addEventListener('click', () => {
    if (!running || running.cancelling) return;
    running.cancelling = true;
    overall(running);
    renderCounts();
    api.cancel(running.job);
    $('upload-start').focus();
  });
  $('upload-clear').addEventListener('click', () => { if (!running) clearList(); });
  $('fix-convert-all').addEventListener('click', () => convertFiles(files.filter(isVbr).map((f) => f.path)));
  $('details-close').addEventListener('click', () => { const p = selected; selected = null; focusPath = p; paint(); });
  $('file-details').addEventListener('keydown', (e) => { if (e.key === 'Escape') $('details-close').click(); });
  $('file-list').addEventListener('keydown', (e) => {
    if (e.target === $('file-list') && (e.key === 'ArrowDown' || e.key === 'Enter') && order.length) {
      e.preventDefault();
      focusPath = files[order[0]].path;
      paint();
    }
  });
  $('audio-policy').addEventListener('change', (e) => setPolicy(e.target.value));
  let target = null;
  ctx.onProjectChange((p) => {
    const next = `${ctx.hubKey ?? ''}/${p?._id ?? ''}`;
    if (target !== null && next !== target) retarget();
    target = next;
    renderCounts();
  });
  paint();
}

export function onDrop(paths) { add(paths); }
export function onConnected() { offerResume(); }
export function onShow() { paint(); }
export function dropHint() { return 'Drop to check these files and add them to the list'; }
