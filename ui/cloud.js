// The cloud-import view: a JSON list (dropped, chosen or pasted) is checked first — every
// problem with its line, column and fix, duplicates, unreachable URLs — then imported. A list
// from a file can be loaded into the editor and changed there, and the fixes the report offers
// are applied to the list's JSON with a button, then checked again.

import * as api from './api.js';

const $ = (id) => document.getElementById(id);
let ctx;
// {path, edited}: a file, used as it is, or (edited) loaded into the text area and changed
// there; null: a pasted list, or none.
let source = null;
let checked = null; // the last dry-run report, for the source as it was then
let job = null;

function listText() {
  const text = $('cloud-text').value;
  return text.trim() ? text : null;
}

function request(dryRun, extra = {}) {
  const text = listText();
  return {
    job,
    project: ctx.project._id,
    path: text ? null : source?.path ?? null,
    // As typed: trimming would move every line the report names.
    text,
    storage: $('cloud-storage').value || null,
    checkUrls: $('cloud-check-urls').checked,
    checkPrivate: $('cloud-check-private').checked,
    skipBad: $('cloud-skip-bad').checked,
    skipDuplicates: $('cloud-skip-duplicates').checked,
    createBatches: $('cloud-create-batches').checked,
    dryRun,
    ...extra,
  };
}

const baseName = (path) => path.split(/[\\/]/).pop();

/** The source line: which list the checks read, and whether it is being edited here. */
function showSource() {
  const el = $('cloud-source');
  const editing = Boolean(source?.path && listText());
  if (source?.path && !editing) source.edited = false;
  if (editing) {
    el.textContent = `Edited here, from ${baseName(source.path)} (the file itself is not changed)`;
  } else if (source?.path) {
    el.textContent = source.path;
  } else {
    el.textContent = listText() ? 'Pasted list' : 'No list chosen';
  }
  el.title = source?.path ?? '';
  el.dataset.edited = editing ? 'true' : 'false';
  $('cloud-edit').classList.toggle('hidden', !source?.path || editing);
}

function invalidate() {
  checked = null;
  $('cloud-import').disabled = true;
}

/** The list's text changed: the fixes offered were for the text as it was. */
function textChanged() {
  invalidate();
  for (const b of document.querySelectorAll('#view-cloud .apply-fix')) {
    b.disabled = true;
    b.dataset.stale = 'true';
    b.title = 'The list changed since it was checked: check it again';
  }
}

function setSource(path) {
  source = { path, edited: false };
  $('cloud-text').value = '';
  showSource();
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

const plural = (n, one, many = `${one}s`) => `${n.toLocaleString()} ${n === 1 ? one : many}`;

/** Problems of a severity, those listed and those only counted. */
function problemCount(r, severity) {
  const named = r.problems.filter((p) => p.severity === severity).length;
  const counted = (r.summarised ?? []).filter((s) => s.severity === severity).reduce((n, s) => n + s.total - s.named, 0);
  return named + counted;
}

// What the app calls the options the command line has flags for.
const OPTIONS = {
  '--check-private': '“Check private addresses too”',
  '--skip-bad': '“Import the good entries even if others are bad”',
  '--skip-duplicates': '“Skip entries already in the project”',
  '--create-batches': '“Create batches the entries name”',
};

/** A problem's message in the app's words: its options, not the command line's flags. */
function inAppWords(p) {
  let m = p.message;
  if (p.code === 'private-address') {
    m = m.replace(/check with --check-private \(in the app: (“[^”]+”)\)/, 'tick $1 and check again');
  }
  m = m.replace(/--[a-z-]+ \(in the app: (“[^”]+”)\)/g, '$1');
  m = m.replace(/`assetdrop upload`/g, 'the Upload tab');
  return m.replace(/--[a-z][a-z-]*/g, (flag) => OPTIONS[flag] ?? flag);
}

/** The fixes a report offers, one per entry and field (the first; a re-check offers the rest). */
function fixesOf(r) {
  const seen = new Set();
  const out = [];
  for (const p of r.problems) {
    if (!p.fix || p.index === null || p.index === undefined) continue;
    const key = `${p.index}\u0000${p.fix.field}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ index: p.index, field: p.fix.field, replacement: p.fix.replacement });
  }
  return out;
}

function cell(className, ...content) {
  const td = document.createElement('td');
  if (className) td.className = className;
  td.append(...content);
  return td;
}

function span(className, text) {
  const s = document.createElement('span');
  s.className = className;
  s.textContent = text;
  return s;
}

function problemRow(p) {
  const tr = document.createElement('tr');
  tr.dataset.testid = 'cloud-problem';
  tr.dataset.code = p.code;
  tr.dataset.severity = p.severity;
  const entry = p.index === null || p.index === undefined;
  tr.dataset.entry = entry ? '' : String(p.index + 1);
  const where = cell('mono', `line ${p.line}:${p.column}`);
  const which = cell('entry');
  if (entry) {
    which.append(span('', 'the file'));
  } else {
    const n = span('', `entry ${p.index + 1}`);
    n.dataset.testid = 'cloud-entry';
    which.append(n);
    if (p.externalId) {
      const id = span('xid', p.externalId);
      id.dataset.testid = 'cloud-entry-id';
      id.title = `externalId ${p.externalId}`;
      which.append(id);
    }
  }
  const sev = cell(p.severity === 'error' ? 'c-bad sev' : 'c-warn sev', p.severity === 'error' ? '✖' : '⚠');
  sev.title = p.severity === 'error' ? 'Error: the entry is not imported' : 'Warning: the entry is imported';
  const code = span('code-name', p.code);
  const message = cell('message', code, ' ', inAppWords(p));
  const fix = cell('fix');
  if (p.fix) {
    const what = document.createElement('div');
    what.className = 'fix-value';
    what.append(span('mono', p.fix.field), ' → ', span('mono', JSON.stringify(p.fix.replacement)));
    fix.append(what);
    if (!entry) {
      const b = document.createElement('button');
      b.className = 'small apply-fix';
      b.dataset.testid = 'cloud-apply-fix';
      b.textContent = 'Apply fix';
      b.title = `Put this in entry ${p.index + 1}'s ${p.fix.field} and check the list again`;
      b.addEventListener('click', () => applyFixes([{ index: p.index, field: p.fix.field, replacement: p.fix.replacement }]));
      fix.append(b);
    }
  }
  tr.append(where, which, sev, message, fix);
  return tr;
}

function renderReport(r) {
  const s = r.summary;
  const box = $('cloud-summary');
  box.className = '';
  box.innerHTML = '';
  const errors = problemCount(r, 'error');
  const warnings = problemCount(r, 'warning');
  const fileErrors = r.problems.filter((p) => p.severity === 'error' && (p.index === null || p.index === undefined)).length;
  const entryErrors = errors - fileErrors;
  const parts = [`${r.ready.toLocaleString()} ready`];
  parts.push(`${r.withErrors.toLocaleString()} with errors${entryErrors ? ` (${plural(entryErrors, 'problem')})` : ''}`);
  if (s.skipped) parts.push(`${plural(s.skipped, 'duplicate')} skipped`);
  parts.push(plural(warnings, 'warning'));
  if (fileErrors) parts.push(`${plural(fileErrors, 'error')} in the file itself`);
  const line = document.createElement('div');
  line.dataset.testid = 'cloud-counts';
  line.className = 'cloud-counts';
  line.textContent = `${plural(s.entries, 'entry', 'entries')}: ${parts.join(' · ')}`;
  box.append(line);
  if (r.dryRun) {
    const outcome = document.createElement('div');
    outcome.dataset.testid = 'cloud-outcome';
    outcome.className = 'hint';
    const why = r.withErrors && s.skipped ? ` (${r.withErrors.toLocaleString()} with errors, ${s.skipped.toLocaleString()} skipped)` : '';
    outcome.textContent = r.notImported
      ? `Importing adds ${plural(r.ready, 'entry', 'entries')}; ${plural(r.notImported, 'entry', 'entries')} will not be imported${why}.`
      : `Importing adds all ${plural(r.ready, 'entry', 'entries')}.`;
    box.append(outcome);
  }
  const fixes = fixesOf(r);
  if (fixes.length > 1) {
    const all = document.createElement('button');
    all.className = 'small apply-fix';
    all.dataset.testid = 'cloud-apply-all';
    all.textContent = `Apply all ${fixes.length} fixes`;
    all.title = 'Put every offered replacement in the list and check it again';
    all.addEventListener('click', () => applyFixes(fixes));
    box.append(all);
  }
  const body = $('cloud-report').querySelector('tbody');
  // In the order of the list (the checks' problems come after the reading's in the report).
  const listed = r.problems.slice(0, 2000).map((p, at) => ({ p, at }));
  listed.sort((a, b) => a.p.line - b.p.line || (a.p.index ?? -1) - (b.p.index ?? -1) || a.at - b.at);
  body.replaceChildren(...listed.map(({ p }) => problemRow(p)));
  if (r.problems.length > 2000) {
    const more = document.createElement('div');
    more.className = 'hint';
    more.textContent = `…and ${r.problems.length - 2000} more problems`;
    box.append(more);
  }
  // Problems of one code beyond the first few are counted, not listed: say how many.
  for (const c of r.summarised ?? []) {
    const more = document.createElement('div');
    more.className = 'hint';
    more.dataset.testid = 'cloud-summarised';
    more.dataset.code = c.code;
    const kind = c.severity === 'error' ? 'errors' : 'warnings';
    more.textContent = `${c.total} ${c.code} ${kind} in all; the first ${c.named} are listed`;
    box.append(more);
  }
}

function canImport(r) {
  return r.ready > 0 && (problemCount(r, 'error') === 0 || $('cloud-skip-bad').checked);
}

function busy(on) {
  $('cloud-progress').classList.toggle('hidden', !on);
  $('cloud-cancel').classList.toggle('hidden', !on);
  $('cloud-check').disabled = on;
  $('cloud-edit').disabled = on;
  if (on) $('cloud-import').disabled = true;
  for (const b of document.querySelectorAll('#view-cloud .apply-fix')) b.disabled = on || b.dataset.stale === 'true';
}

async function run(dryRun) {
  if (!ctx.project) return;
  if (!source && !listText()) {
    ctx.showError('Choose, drop or paste a cloud-import JSON list first.');
    return;
  }
  ctx.clearBanner();
  job = api.newJob('cloud');
  busy(true);
  $('cloud-result').classList.add('hidden');
  try {
    const r = await api.cloudImport(request(dryRun), onEvent);
    renderReport(r);
    if (dryRun) {
      checked = r;
      $('cloud-import').disabled = !canImport(r);
      if (!canImport(r) && r.ready > 0) ctx.showInfo('Some entries have errors: fix them, or tick “Import the good entries even if others are bad”.');
    } else {
      const el = $('cloud-result');
      el.className = `summary${r.notImported ? ' bad' : ''}`;
      el.textContent = `${r.imported} assets imported into “${ctx.project.name}” (${r.created} new${r.imported - r.created ? `, ${r.imported - r.created} already there` : ''})${r.notImported ? ` · ${plural(r.notImported, 'entry', 'entries')} not imported` : ''}`;
      if (r.imported === 0 && problemCount(r, 'error') > 0) el.textContent = 'Nothing imported: the list has errors (see the report).';
      await ctx.refreshProject();
    }
  } catch (e) {
    ctx.showError(api.messageOf(e));
  } finally {
    busy(false);
    job = null;
  }
}

async function runCheck() { await run(true); }

/** The chosen file's text, read by the app (refused, with the reason, when too large to edit). */
async function loadText() {
  if (!ctx.project || !source?.path) return null;
  ctx.clearBanner();
  job = api.newJob('cloud');
  busy(true);
  try {
    const r = await api.cloudImport({ ...request(true), path: source.path, text: null, checkUrls: false, withText: true }, onEvent);
    return r.text ?? null;
  } catch (e) {
    ctx.showError(api.messageOf(e));
    return null;
  } finally {
    busy(false);
    job = null;
  }
}

/** Loads the chosen file into the text area, where it is edited and checked from then on. */
async function edit() {
  const text = await loadText();
  if (text === null) return;
  $('cloud-text').value = text;
  source.edited = true;
  showSource();
  textChanged();
  await runCheck();
}

// --- applying fixes to the list's JSON -------------------------------------------------------

/**
 * Where each value of a JSON text lies: {start, end} (offsets into the text), with `items` for
 * an array and `keys` (a Map) for an object. Throws, saying where, when the text is not JSON.
 */
function locate(text) {
  let i = 0;
  const fail = (what) => {
    const before = text.slice(0, i);
    const line = before.split('\n').length;
    const column = i - before.lastIndexOf('\n');
    throw new Error(`The list is not valid JSON at line ${line}:${column} (${what}): correct that first, then apply the fix.`);
  };
  const space = () => { while (i < text.length && ' \t\n\r\uFEFF'.includes(text[i])) i += 1; };
  const scalar = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
  const value = (depth) => {
    if (depth > 200) fail('nested too deeply');
    space();
    const start = i;
    const c = text[i];
    if (c === '[' || c === '{') {
      const close = c === '[' ? ']' : '}';
      const node = c === '[' ? { start, items: [] } : { start, keys: new Map() };
      i += 1;
      space();
      if (text[i] === close) { i += 1; node.end = i; return node; }
      for (;;) {
        if (node.items) {
          node.items.push(value(depth + 1));
        } else {
          space();
          if (text[i] !== '"') fail('a key must be a string in double quotes');
          const k = value(depth + 1);
          space();
          if (text[i] !== ':') fail('a `:` is missing after a key');
          i += 1;
          node.keys.set(JSON.parse(text.slice(k.start, k.end)), value(depth + 1));
        }
        space();
        if (text[i] === ',') { i += 1; continue; }
        if (text[i] === close) { i += 1; node.end = i; return node; }
        fail(`a \`,\` or \`${close}\` is missing`);
      }
    }
    if (c === '"') {
      i += 1;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\n') fail('a string is not closed on its line');
        i += text[i] === '\\' ? 2 : 1;
      }
      if (i >= text.length) fail('a string is not closed');
      i += 1;
      return { start, end: i };
    }
    scalar.lastIndex = i;
    if (!scalar.exec(text)) fail(i >= text.length ? 'it ends too early' : `unexpected ${JSON.stringify(text[i])}`);
    i = scalar.lastIndex;
    return { start, end: i };
  };
  const root = value(0);
  space();
  if (i < text.length) fail('something follows the end of the list');
  return root;
}

/** `attachments[0].value` → ['attachments', 0, 'value']. */
const pathOf = (field) => (field.match(/[^.[\]]+|\[\d+\]/g) ?? []).map((s) => (s.startsWith('[') ? Number(s.slice(1, -1)) : s));

/**
 * The text with each fix's replacement put in place of its entry's field, everything else (and
 * so every line) as it was. Returns {text, applied, missed}.
 */
function withFixes(text, fixes) {
  const root = locate(text);
  if (!root.items) throw new Error('The list is not a JSON array, so its entries cannot be fixed here.');
  const edits = [];
  let missed = 0;
  for (const f of fixes) {
    let node = root.items[f.index];
    for (const step of pathOf(f.field)) {
      node = typeof step === 'number' ? node?.items?.[step] : node?.keys?.get(step);
    }
    if (!node || node.items || node.keys) { missed += 1; continue; }
    edits.push({ ...node, value: JSON.stringify(f.replacement) });
  }
  edits.sort((a, b) => b.start - a.start);
  let out = text;
  let applied = 0;
  let limit = Infinity;
  for (const e of edits) {
    if (e.end > limit) { missed += 1; continue; }
    out = out.slice(0, e.start) + e.value + out.slice(e.end);
    limit = e.start;
    applied += 1;
  }
  return { text: out, applied, missed };
}

/** Puts the fixes in the list (loading a chosen file into the editor first) and checks again. */
async function applyFixes(fixes) {
  let text = listText();
  if (!text) {
    text = await loadText();
    if (text === null) return;
  }
  let fixed;
  try {
    fixed = withFixes(text, fixes);
  } catch (e) {
    ctx.showError(e.message);
    return;
  }
  $('cloud-text').value = fixed.text;
  if (source?.path) source.edited = true;
  showSource();
  textChanged();
  await runCheck();
  if (fixed.missed) ctx.showInfo(`${plural(fixed.missed, 'fix', 'fixes')} could not be applied: the list no longer has that field. Check the entries the report names.`);
}

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
  $('cloud-edit').addEventListener('click', edit);
  $('cloud-text').addEventListener('input', () => {
    // New text with a file chosen but not loaded is a pasted list; once loaded, an edit of it.
    if (listText() && source?.path && !source.edited) source = null;
    else if (listText() && source?.path) source.edited = true;
    showSource();
    textChanged();
  });
  for (const id of ['cloud-storage', 'cloud-check-urls', 'cloud-check-private', 'cloud-skip-duplicates', 'cloud-create-batches']) $(id).addEventListener('change', invalidate);
  $('cloud-skip-bad').addEventListener('change', () => { if (checked) $('cloud-import').disabled = !canImport(checked); });
  $('cloud-check').addEventListener('click', runCheck);
  $('cloud-import').addEventListener('click', () => run(false));
  $('cloud-cancel').addEventListener('click', () => job && api.cancel(job));
  ctx.onProjectChange(invalidate);
  renderStorages();
  showSource();
}

export function onConnected() { renderStorages(); invalidate(); }
export function onShow() { renderStorages(); }

export function onDrop(paths) {
  const json = paths.find((p) => p.toLowerCase().endsWith('.json')) ?? paths[0];
  if (json) setSource(json);
}
