// The upload view: files and folders dropped or picked are listed at once (verdicts arrive as
// validation finishes, off the page's thread), then uploaded with per-file and overall progress.
// The list is virtual: only the rows on screen exist in the DOM, so 10,000 files stay smooth.

import * as api from './api.js';

const $ = (id) => document.getElementById(id);
const ROW = 56;
let ctx;

/** Every file listed, in arrival order; byPath finds a row from an upload event. */
let files = [];
let byPath = new Map();
let validating = 0;
let running = null; // {job, startedAt, total, sent, samples}

const KIND_LABEL = { image: 'image', video: 'video', audio: 'audio', pdf: 'PDF', text: 'text', markdown: 'Markdown', html: 'HTML', dicom: 'DICOM', nrrd: 'NRRD', nifti: 'NIfTI' };

function size(n) {
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

function fileName(p) { return p.split(/[\\/]/).pop(); }

/** What a row says about its verdict: the worst problem and its fix. */
function verdictText(f) {
  if (f.state === 'failed') return f.error;
  if (f.state === 'uploaded') return f.convert ? 'Uploaded (converted to WAV)' : 'Uploaded';
  if (f.state === 'skipped') return f.error;
  const p = f.problems?.[0];
  if (f.convert) return 'Variable bitrate: will be converted to constant-bitrate WAV';
  if (f.state === 'checking') return 'Checking…';
  if (!p) return f.verdict === 'ok' ? 'Ready' : '';
  return p.message;
}

function stateText(f) {
  switch (f.state) {
    case 'uploading': return `${Math.floor((100 * (f.sent || 0)) / Math.max(f.total || 1, 1))}%`;
    case 'uploaded': return 'uploaded';
    case 'failed': return 'failed';
    case 'rejected': return 'not uploaded';
    case 'skipped': return 'skipped';
    case 'checking': return '';
    default: return f.verdict === 'reject' ? 'not uploaded' : 'ready';
  }
}

function rowElement(f, i) {
  const el = document.createElement('div');
  el.className = 'file-row';
  el.style.top = `${i * ROW}px`;
  el.dataset.testid = 'file-row';
  el.dataset.path = f.path;
  el.dataset.externalId = f.externalId;
  el.dataset.verdict = f.verdict;
  el.dataset.state = f.state;
  el.dataset.kind = f.kind || '';
  const thumb = f.thumb ? Object.assign(document.createElement('img'), { src: f.thumb, loading: 'lazy', alt: '' }) : document.createElement('div');
  thumb.className = 'thumb';
  thumb.dataset.testid = 'file-thumb';
  if (!f.thumb) thumb.textContent = f.format || '?';
  const name = document.createElement('div');
  name.innerHTML = '<div class="name"></div><div class="path"></div>';
  name.firstChild.textContent = f.externalId;
  name.firstChild.title = f.path;
  name.lastChild.textContent = f.path;
  const kind = document.createElement('div');
  kind.dataset.testid = 'file-kind';
  kind.textContent = f.kind ? KIND_LABEL[f.kind] || f.kind : 'unknown';
  const sz = document.createElement('div');
  sz.textContent = size(f.size);
  const verdict = document.createElement('div');
  verdict.className = 'verdict';
  verdict.dataset.testid = 'file-verdict';
  const badge = document.createElement('span');
  const failed = f.state === 'failed';
  const skipped = f.state === 'skipped';
  badge.className = `badge ${failed ? 'reject' : skipped ? 'warn' : f.verdict}`;
  badge.textContent = failed ? 'failed' : skipped ? 'skipped' : f.verdict === 'reject' ? (f.problems?.[0]?.code || 'rejected') : f.verdict === 'checking' ? '…' : f.verdict;
  verdict.append(badge, ' ', verdictText(f));
  verdict.title = failed ? f.error : (f.problems || []).map((p) => `${p.code}: ${p.message}`).join('\n');
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
    fill.style.width = `${(100 * (f.sent || 0)) / Math.max(f.total || 1, 1)}%`;
    mini.append(fill);
    state.append(mini);
  }
  el.append(thumb, name, kind, sz, verdict, state);
  return el;
}

/** A button that applies the fix a problem offers, where the app can apply it. */
function fixFor(f) {
  if (running || f.state === 'uploaded') return null;
  const vbr = f.problems?.some((p) => p.code === 'variable-bitrate' || p.code === 'audio-needs-conversion');
  if (f.verdict === 'reject' && vbr) {
    const b = document.createElement('button');
    b.className = 'small';
    b.dataset.testid = 'fix-convert';
    b.textContent = 'Convert to WAV';
    b.addEventListener('click', () => setPolicy('convert'));
    return b;
  }
  return null;
}

/** What a row shows; a row is rebuilt only when this changes, so a button under the pointer
 * stays the same element while progress ticks elsewhere (a click is never lost to a repaint). */
function signature(f) {
  return [f.path, f.externalId, f.state, f.verdict, f.kind, f.thumb, f.error, f.convert,
    f.problems?.length, f.state === 'uploading' ? Math.floor((100 * (f.sent || 0)) / Math.max(f.total || 1, 1)) : '',
    running ? 1 : 0].join('|');
}

/** The rows on screen: index → {sig, el}. */
let mounted = new Map();

let paintQueued = false;
function paint() {
  if (paintQueued) return;
  paintQueued = true;
  requestAnimationFrame(() => {
    paintQueued = false;
    const list = $('file-list');
    $('file-spacer').style.height = `${files.length * ROW}px`;
    const first = Math.max(0, Math.floor(list.scrollTop / ROW) - 5);
    const last = Math.min(files.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW) + 5);
    const next = new Map();
    for (let i = first; i < last; i += 1) {
      const sig = signature(files[i]);
      const had = mounted.get(i);
      if (had && had.sig === sig) {
        next.set(i, had);
        mounted.delete(i);
      } else {
        const el = rowElement(files[i], i);
        if (had) { had.el.replaceWith(el); mounted.delete(i); } else list.append(el);
        next.set(i, { sig, el });
      }
    }
    for (const { el } of mounted.values()) el.remove();
    mounted = next;
    renderCounts();
  });
}

function renderCounts() {
  const n = files.length;
  const c = { ok: 0, warn: 0, reject: 0, checking: 0 };
  for (const f of files) c[f.verdict] = (c[f.verdict] || 0) + 1;
  const busy = validating > 0 || c.checking > 0;
  $('file-count').textContent = n === 0 ? 'No files yet'
    : `${n.toLocaleString()} file${n === 1 ? '' : 's'}, ${size(files.reduce((a, f) => a + f.size, 0))}${busy ? ' — checking…' : ''}`;
  $('verdict-counts').innerHTML = n === 0 ? '' : `<span class="c-ok">${c.ok} ok</span><span class="c-warn">${c.warn} with warnings</span><span class="c-bad">${c.reject} rejected</span>${c.checking ? `<span>${c.checking} being checked</span>` : ''}`;
  const sendable = files.filter(sendableFile).length;
  $('upload-start').disabled = !!running || busy || sendable === 0 || !ctx.project;
  $('upload-start').textContent = sendable ? `Upload ${sendable.toLocaleString()}` : 'Upload';
  $('upload-retry').classList.toggle('hidden', !!running || !files.some((f) => f.state === 'failed'));
  $('upload-cancel').classList.toggle('hidden', !running);
}

function sendableFile(f) {
  return f.verdict !== 'reject' && (f.state === 'ready' || f.state === 'failed');
}

function addRows(rows) {
  for (const r of rows) {
    const state = r.verdict === null ? 'checking' : r.verdict === 'reject' ? 'rejected' : 'ready';
    const f = { ...r, verdict: r.verdict ?? 'checking', state };
    const at = byPath.get(f.path);
    if (at !== undefined) {
      files[at] = f;
    } else {
      byPath.set(f.path, files.length);
      files.push(f);
    }
  }
  paint();
}

async function add(paths) {
  if (!paths.length) return;
  ctx.clearBanner();
  $('upload-summary').classList.add('hidden');
  validating += 1;
  renderCounts();
  try {
    const added = await api.addFiles(api.newJob('add'), paths, $('audio-policy').value, addRows);
    const notes = [
      ...added.failed.map((f) => `${f.path}: ${f.error.message}`),
    ];
    if (added.skipped.length) notes.push(`${added.skipped.length} hidden file(s) inside folders left out`);
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

/** Changing the audio policy validates the listed files again under it. */
async function setPolicy(policy) {
  $('audio-policy').value = policy;
  const pending = files.filter((f) => f.state !== 'uploaded');
  if (!pending.length) return;
  // Re-validating by path keeps external IDs: rows are replaced in place by path.
  const keep = new Map(pending.map((f) => [f.path, f.externalId]));
  validating += 1;
  renderCounts();
  try {
    await addKeepingIds(keep, policy);
  } catch (e) {
    ctx.showError(api.messageOf(e));
  } finally {
    validating -= 1;
    paint();
  }
}

function overall(r) {
  const pct = r.total ? (100 * r.sent) / r.total : 0;
  $('overall-fill').style.width = `${Math.min(pct, 100)}%`;
  const now = performance.now();
  r.samples.push([now, r.sent]);
  while (r.samples.length > 2 && now - r.samples[0][0] > 3000) r.samples.shift();
  const [t0, b0] = r.samples[0];
  const speed = now > t0 ? ((r.sent - b0) * 1000) / (now - t0) : 0;
  const eta = speed > 0 ? (r.total - r.sent) / speed : Infinity;
  $('overall-text').textContent = `${size(r.sent)} of ${size(r.total)} · ${size(speed)}/s · ${r.done} of ${r.count} files · ${pct >= 100 ? 'registering…' : `about ${duration(eta)} left`}`;
}

/** The events of run `r`. Channel messages can trail the command's answer: once the run has
 * ended, its summary is the truth and late events are ignored. */
function eventsOf(r) {
  return (e) => {
    if (r.finished) return;
    const i = byPath.get(e.path);
    const f = i === undefined ? null : files[i];
    switch (e.event) {
      case 'started':
        // A converted file is sent at its new size.
        if (f) { r.total += e.bytes - f.size; f.state = 'uploading'; f.sent = 0; f.total = e.bytes; }
        break;
      case 'progress':
        if (f) { f.sent = e.sent; f.total = e.total; }
        r.sent = Math.max(r.sent, e.overallSent);
        break;
      case 'uploaded': if (f) { f.state = 'uploaded'; f.assetId = e.assetId; } r.done += 1; break;
      case 'failed': if (f) { f.state = 'failed'; f.error = e.error.message; } r.done += 1; break;
      case 'rejected': if (f) { f.state = 'rejected'; f.verdict = 'reject'; f.problems = e.problems; } r.done += 1; break;
      case 'skipped': if (f) { f.state = 'skipped'; f.error = e.reason; } r.done += 1; break;
      case 'finished': r.sent = e.bytes; break;
      default: break;
    }
    overall(r);
    paint();
  };
}

async function start(only) {
  if (!ctx.project) return;
  const chosen = files.filter(only);
  if (!chosen.length) return;
  ctx.clearBanner();
  running = { job: api.newJob('upload'), startedAt: performance.now(), total: chosen.reduce((a, f) => a + f.size, 0), sent: 0, samples: [], done: 0, count: chosen.length };
  chosen.forEach((f) => { f.state = 'ready'; f.error = undefined; });
  $('overall').classList.remove('hidden');
  $('upload-summary').classList.add('hidden');
  const run = running;
  overall(run);
  paint();
  const request = {
    job: running.job,
    project: ctx.project._id,
    files: chosen.map((f) => ({ path: f.path, externalId: f.externalId, size: f.size })),
    batches: ctx.batch ? [ctx.batch] : [],
    audio: $('audio-policy').value,
    skipExisting: $('upload-skip-existing').checked,
  };
  try {
    const s = await api.upload(request, eventsOf(run));
    run.finished = true;
    const el = $('upload-summary');
    const bad = s.failed.length + s.rejected.length;
    el.className = `summary${bad ? ' bad' : ''}`;
    el.textContent = `${s.uploaded.length} uploaded to “${ctx.project.name}”${ctx.batch ? ` (batch ${ctx.batch})` : ''}`
      + (s.rejected.length ? ` · ${s.rejected.length} rejected by validation` : '')
      + (s.failed.length ? ` · ${s.failed.length} failed — press “Retry failed”` : '')
      + (s.skipped.length ? ` · ${s.skipped.length} skipped (already in the project)` : '');
    const at = (p) => files[byPath.get(p)] ?? {};
    for (const u of s.uploaded) Object.assign(at(u.path), { state: 'uploaded', assetId: u.assetId });
    for (const x of s.failed) Object.assign(at(x.path), { state: 'failed', error: x.error.message });
    for (const x of s.rejected) Object.assign(at(x.path), { state: 'rejected', verdict: 'reject', problems: x.problems });
    for (const x of s.skipped) Object.assign(at(x.path), { state: 'skipped', error: x.reason });
    $('overall-fill').style.width = '100%';
    const secs = (performance.now() - run.startedAt) / 1000;
    const done = s.uploaded.length + s.failed.length + s.rejected.length + s.skipped.length;
    $('overall-text').textContent = `${size(run.sent)} sent in ${duration(secs)} · ${done} of ${run.count} files done`;
  } catch (e) {
    run.finished = true;
    ctx.showError(api.messageOf(e));
    files.forEach((f) => { if (f.state === 'uploading') { f.state = 'failed'; f.error = 'interrupted'; } });
  } finally {
    running = null;
    paint();
  }
}

/** Offers to resume the upload an earlier run of the app did not finish. */
async function offerResume() {
  const j = await api.interruptedUpload().catch((e) => { ctx.showError(api.messageOf(e)); return null; });
  const card = $('resume-card');
  card.classList.toggle('hidden', !j);
  if (!j) return;
  const when = new Date(j.started);
  $('resume-text').textContent = `An upload of ${j.files.length.toLocaleString()} file${j.files.length === 1 ? '' : 's'} did not finish (started ${Number.isNaN(when.getTime()) ? j.started : when.toLocaleString()}). Files already in the project are skipped, nothing is uploaded twice.`;
  $('resume-upload').onclick = () => resume(j);
  $('resume-discard').onclick = async () => { await ctx.guard(api.discardInterrupted); card.classList.add('hidden'); };
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
  files = []; byPath = new Map();
  for (const { el } of mounted.values()) el.remove();
  mounted = new Map();
  const ids = new Map(j.files.map((f) => [f.path, f.externalId]));
  validating += 1;
  renderCounts();
  try {
    const added = await addKeepingIds(ids, j.audio);
    if (added.failed.length) ctx.showInfo(added.failed.map((f) => `${f.path}: ${f.error.message}`).join('\n'));
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

export function init(c) {
  ctx = c;
  $('file-list').addEventListener('scroll', paint);
  window.addEventListener('resize', paint);
  $('pick-files').addEventListener('click', async () => add(await ctx.guard(() => api.pick(false)) ?? []));
  $('pick-folder').addEventListener('click', async () => add(await ctx.guard(() => api.pick(true)) ?? []));
  $('upload-start').addEventListener('click', () => start(sendableFile));
  $('upload-retry').addEventListener('click', () => start((f) => f.state === 'failed'));
  $('upload-cancel').addEventListener('click', () => running && api.cancel(running.job));
  $('upload-clear').addEventListener('click', () => {
    if (running) return;
    files = []; byPath = new Map();
    for (const { el } of mounted.values()) el.remove();
    mounted = new Map();
    $('overall').classList.add('hidden');
    $('upload-summary').classList.add('hidden');
    paint();
  });
  $('audio-policy').addEventListener('change', (e) => setPolicy(e.target.value));
  ctx.onProjectChange(() => renderCounts());
  paint();
}

export function onDrop(paths) { add(paths); }
export function onConnected() { offerResume(); }
export function onShow() { paint(); }
