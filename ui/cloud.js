// The cloud-import view: a JSON list (dropped, chosen or pasted) is checked first — every
// problem with its line, column and fix, duplicates, unreachable URLs — then imported.

import * as api from './api.js';

const $ = (id) => document.getElementById(id);
let ctx;
let source = null; // {path} or {text}
let checked = null; // the last dry-run report, for the source as it was then
let job = null;

function request(dryRun) {
  const text = $('cloud-text').value.trim();
  return {
    job,
    project: ctx.project._id,
    path: text ? null : source?.path ?? null,
    text: text || null,
    storage: $('cloud-storage').value || null,
    checkUrls: $('cloud-check-urls').checked,
    checkPrivate: $('cloud-check-private').checked,
    skipBad: $('cloud-skip-bad').checked,
    skipDuplicates: $('cloud-skip-duplicates').checked,
    createBatches: $('cloud-create-batches').checked,
    dryRun,
  };
}

function invalidate() {
  checked = null;
  $('cloud-import').disabled = true;
}

function setSource(path) {
  source = { path };
  $('cloud-text').value = '';
  $('cloud-source').textContent = path;
  invalidate();
  runCheck();
}

const PHASES = { read: 'Reading', check: 'Checking URLs', register: 'Importing' };

function onEvent(e) {
  const pct = e.total ? (100 * e.done) / Math.max(e.total, 1) : null;
  const fill = $('cloud-fill');
  fill.classList.toggle('indeterminate', pct === null);
  if (pct !== null) fill.style.width = `${pct}%`;
  $('cloud-progress-text').textContent = `${PHASES[e.phase]}: ${e.done.toLocaleString()}${e.total ? ` of ${e.total.toLocaleString()}` : ''}`;
}

function renderReport(r) {
  const s = r.summary;
  $('cloud-summary').className = '';
  $('cloud-summary').innerHTML = '';
  const line = document.createElement('div');
  line.dataset.testid = 'cloud-counts';
  line.textContent = `${s.entries} entries · ${s.valid} valid · ${s.invalid} invalid · ${s.skipped} skipped as duplicates · ${s.errors} errors · ${s.warnings} warnings`;
  $('cloud-summary').append(line);
  const body = $('cloud-report').querySelector('tbody');
  body.replaceChildren(...r.problems.slice(0, 2000).map((p) => {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'cloud-problem';
    tr.dataset.code = p.code;
    tr.dataset.severity = p.severity;
    const cells = [
      `line ${p.line}:${p.column}`,
      p.index === null || p.index === undefined ? 'file' : `#${p.index}${p.field ? ` ${p.field}` : ''}`,
      p.severity === 'error' ? '✖' : '⚠',
      `${p.code}: ${p.message}`,
      p.fix ? `${p.fix.field} → ${p.fix.replacement}` : '',
    ];
    cells.forEach((c, i) => {
      const td = document.createElement('td');
      td.textContent = c;
      if (i === 0) td.className = 'mono';
      if (i === 2) td.className = p.severity === 'error' ? 'c-bad' : 'c-warn';
      tr.append(td);
    });
    return tr;
  }));
  if (r.problems.length > 2000) {
    const more = document.createElement('div');
    more.className = 'hint';
    more.textContent = `…and ${r.problems.length - 2000} more problems`;
    $('cloud-summary').append(more);
  }
  // Problems of one code beyond the first few are counted, not listed: say how many.
  for (const s of r.summarised ?? []) {
    const more = document.createElement('div');
    more.className = 'hint';
    more.dataset.testid = 'cloud-summarised';
    more.dataset.code = s.code;
    const kind = s.severity === 'error' ? 'errors' : 'warnings';
    more.textContent = `${s.total} ${s.code} ${kind} in all; the first ${s.named} are listed`;
    $('cloud-summary').append(more);
  }
}

function canImport(r) {
  const errors = r.problems.some((p) => p.severity === 'error');
  return r.summary.valid > 0 && (!errors || $('cloud-skip-bad').checked);
}

async function run(dryRun) {
  if (!ctx.project) return;
  if (!source && !$('cloud-text').value.trim()) {
    ctx.showError('Choose, drop or paste a cloud-import JSON list first.');
    return;
  }
  ctx.clearBanner();
  job = api.newJob('cloud');
  $('cloud-progress').classList.remove('hidden');
  $('cloud-cancel').classList.remove('hidden');
  $('cloud-check').disabled = true;
  $('cloud-import').disabled = true;
  $('cloud-result').classList.add('hidden');
  try {
    const r = await api.cloudImport(request(dryRun), onEvent);
    renderReport(r);
    if (dryRun) {
      checked = r;
      $('cloud-import').disabled = !canImport(r);
      if (!canImport(r) && r.summary.valid > 0) ctx.showInfo('Some entries have errors: fix them, or tick “Import the good entries even if others are bad”.');
    } else {
      const el = $('cloud-result');
      el.className = `summary${r.notImported ? ' bad' : ''}`;
      el.textContent = `${r.imported} assets imported into “${ctx.project.name}” (${r.created} new${r.imported - r.created ? `, ${r.imported - r.created} already there` : ''})${r.notImported ? ` · ${r.notImported} entries not imported` : ''}`;
      if (r.imported === 0 && r.problems.some((p) => p.severity === 'error')) el.textContent = 'Nothing imported: the list has errors (see the report).';
      await ctx.refreshProject();
    }
  } catch (e) {
    ctx.showError(api.messageOf(e));
  } finally {
    $('cloud-progress').classList.add('hidden');
    $('cloud-cancel').classList.add('hidden');
    $('cloud-check').disabled = false;
    job = null;
  }
}

async function runCheck() { await run(true); }

function renderStorages() {
  const sel = $('cloud-storage');
  const keep = sel.value;
  sel.replaceChildren(new Option('Public URLs (no storage)', ''), ...ctx.storages.map((s) => new Option(`${s.name} (${s.provider})`, s._id)));
  sel.value = ctx.storages.some((s) => s._id === keep) ? keep : '';
}

export function init(c) {
  ctx = c;
  $('cloud-pick').addEventListener('click', async () => {
    const p = await ctx.guard(() => api.pick(false, 'json'));
    if (p?.length) setSource(p[0]);
  });
  $('cloud-text').addEventListener('input', () => {
    if ($('cloud-text').value.trim()) { source = null; $('cloud-source').textContent = 'Pasted list'; }
    invalidate();
  });
  for (const id of ['cloud-storage', 'cloud-check-urls', 'cloud-check-private', 'cloud-skip-duplicates', 'cloud-create-batches']) $(id).addEventListener('change', invalidate);
  $('cloud-skip-bad').addEventListener('change', () => { if (checked) $('cloud-import').disabled = !canImport(checked); });
  $('cloud-check').addEventListener('click', runCheck);
  $('cloud-import').addEventListener('click', () => run(false));
  $('cloud-cancel').addEventListener('click', () => job && api.cancel(job));
  ctx.onProjectChange(invalidate);
  renderStorages();
}

export function onConnected() { renderStorages(); invalidate(); }
export function onShow() { renderStorages(); }

export function onDrop(paths) {
  const json = paths.find((p) => p.toLowerCase().endsWith('.json')) ?? paths[0];
  if (json) setSource(json);
}
