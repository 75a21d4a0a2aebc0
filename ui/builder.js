// The asset-builder view: a table and an HTML template with {{column}} placeholders become one
// asset per row. The preview renders the first rows in sandboxed frames (no scripts; remote
// media only when asked for). Every problem shows next to what it is about: the template's under
// the template, the table's by the table, a row's by the preview, a build's by the Build button.

import * as api from './api.js';

const $ = (id) => document.getElementById(id);
const TYPES = ['text', 'link', 'image', 'audio', 'video', 'iframe', 'pdf'];
const MEDIA = new Set(['image', 'audio', 'video', 'pdf']);
const PUBLIC = 'Public';
let ctx;
let table = null; // the TableView from the core
let columns = new Map(); // name -> {type, storage, includeInExport}
let loadedPreLabels = {};
let job = null;
let previewTimer = null;
let previewSeq = 0; // answers to older preview requests are dropped
let readErrors = []; // problems met reading the table's first rows
let problem = null; // what keeps the current template from building, placed {template, table, other}

function tableRequest() {
  if (!table) return null;
  return { path: table.path, delimiter: $('builder-delimiter').value || null, sheet: $('builder-sheet').value || null };
}

/** The template config as Ango stores it. */
function config() {
  const dataConfig = {};
  for (const [name, c] of columns) {
    dataConfig[name] = { type: c.type, includeInExport: c.includeInExport, ...(MEDIA.has(c.type) ? { storage: c.storage || PUBLIC } : {}) };
  }
  return {
    name: $('builder-template-name').value.trim() || (table ? table.path.split(/[\\/]/).pop() : 'template'),
    template: $('builder-template').value,
    selectedExternalId: $('builder-external-id').value,
    batchColumn: $('builder-batch-column').value,
    dataConfig,
    preLabelConfig: loadedPreLabels,
  };
}

function guessType(value) {
  const v = (value || '').trim().toLowerCase();
  if (!/^https?:\/\//.test(v)) return 'text';
  const path = v.split(/[?#]/)[0];
  if (/\.(jpe?g|png|gif|webp|bmp|tiff?)$/.test(path)) return 'image';
  if (/\.(mp3|wav|ogg|m4a|flac)$/.test(path)) return 'audio';
  if (/\.(mp4|webm|mov|mkv)$/.test(path)) return 'video';
  if (/\.pdf$/.test(path)) return 'pdf';
  return 'link';
}

function defaultTemplate() {
  return [...columns].map(([name, c]) => {
    switch (c.type) {
      case 'image': return `<img src="{{${name}}}" alt="${name}" style="max-width:100%">`;
      case 'audio': return `<audio controls src="{{${name}}}"></audio>`;
      case 'video': return `<video controls src="{{${name}}}" style="max-width:100%"></video>`;
      case 'link': return `<p><a href="{{${name}}}">{{${name}}}</a></p>`;
      case 'iframe': case 'pdf': return `<iframe src="{{${name}}}" width="100%" height="400"></iframe>`;
      default: return `<p><b>${name}:</b> {{${name}}}</p>`;
    }
  }).join('\n');
}

function select(options, value, testid) {
  const s = document.createElement('select');
  s.dataset.testid = testid;
  for (const [v, label] of options) s.append(new Option(label, v));
  s.value = value;
  return s;
}

/** A cell that shows one line, cut with an ellipsis; the whole text is in its tooltip. */
function clipped(text, className) {
  const td = document.createElement('td');
  td.className = className;
  td.textContent = text;
  td.title = text;
  return td;
}

function renderColumns() {
  const body = $('builder-columns').querySelector('tbody');
  const header = table?.columns ?? [];
  const first = table?.rows?.[0]?.cells ?? [];
  const storageOptions = [[PUBLIC, 'Public URL'], ...ctx.storages.map((s) => [s._id, `${s.name} (${s.provider})`])];
  body.replaceChildren(...[...columns].map(([name, c]) => {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'builder-column';
    tr.dataset.column = name;
    const at = header.indexOf(name);
    const value = at >= 0 ? first[at] ?? '' : '';
    const n = clipped(name, 'clip');
    const v = clipped(value, 'mono clip');
    v.dataset.testid = 'col-first-value';
    const type = select(TYPES.map((t) => [t, t]), c.type, 'col-type');
    const storage = select(storageOptions, c.storage || PUBLIC, 'col-storage');
    storage.disabled = !MEDIA.has(c.type);
    const exp = document.createElement('input');
    exp.type = 'checkbox'; exp.checked = c.includeInExport; exp.dataset.testid = 'col-export';
    exp.setAttribute('aria-label', `Include ${name} in the export`);
    type.setAttribute('aria-label', `Type of ${name}`);
    storage.setAttribute('aria-label', `Storage of ${name}`);
    type.addEventListener('change', () => { c.type = type.value; storage.disabled = !MEDIA.has(c.type); schedulePreview(); });
    storage.addEventListener('change', () => { c.storage = storage.value; schedulePreview(); });
    exp.addEventListener('change', () => { c.includeInExport = exp.checked; schedulePreview(); });
    const cells = [n, v, ...[type, storage, exp].map((el) => { const td = document.createElement('td'); td.append(el); return td; })];
    tr.append(...cells);
    return tr;
  }));
  const ext = $('builder-external-id');
  const bat = $('builder-batch-column');
  const keepExt = ext.value; const keepBat = bat.value;
  ext.replaceChildren(...[...columns.keys()].map((k) => new Option(k, k)));
  bat.replaceChildren(new Option('none', ''), ...[...columns.keys()].map((k) => new Option(k, k)));
  const names = [...columns.keys()];
  ext.value = names.includes(keepExt) ? keepExt : (names.find((k) => /external|^id$|name|file/i.test(k)) ?? names[0] ?? '');
  bat.value = names.includes(keepBat) ? keepBat : (names.find((k) => /batch/i.test(k)) ?? '');
}

// --- problems, each next to what it is about ----------------------------------------------

const quote = (name) => `“${name}”`;

/** A settings field's problem in the app's words, and where it shows. */
function fieldProblem(f) {
  if (f.field === 'template') return ['template', 'The template is empty: write the HTML of one asset, with {{column}} placeholders.'];
  if (f.field === 'name') return ['template', 'Give the template a name.'];
  if (f.field === 'selectedExternalId') {
    const v = $('builder-external-id').value;
    return ['table', v ? `External ID ${quote(v)} is not a column of this table: choose another.` : 'Choose the column that holds each asset’s external ID (External ID).'];
  }
  if (f.field === 'batchColumn') return ['table', `Batch column ${quote($('builder-batch-column').value)} is not a column of this table: choose another, or none.`];
  const col = /^dataConfig(?:\.(.+)|\[(".*")\])\.(type|storage)$/.exec(f.field);
  if (col) {
    const name = col[1] ?? JSON.parse(col[2]);
    return ['table', `Column ${quote(name)}: choose its ${col[3] === 'type' ? 'type' : 'storage'}.`];
  }
  if (f.field === 'dataConfig') return ['table', 'The table has no columns to build from.'];
  const rule = /^preLabelConfig(?:\.([^.]+)|\[(".*")\])\./.exec(f.field);
  if (rule) return ['template', `Pre-label ${quote(rule[1] ?? JSON.parse(rule[2]))} of the loaded template ${f.message}.`];
  return ['table', `${f.field} ${f.message}`];
}

/** Where an error from the preview or a build goes, in the app's words: {template, table, other}. */
function place(e) {
  const out = { template: [], table: [], other: [] };
  const unknown = e?.unknownPlaceholders ?? [];
  const missing = e?.missingColumns ?? [];
  const fields = e?.fields ?? [];
  const names = table?.columns ?? [...columns.keys()];
  for (const u of unknown) {
    out.template.push(u.suggestion
      ? `{{${u.name}}} is not a column of this table — did you mean {{${u.suggestion}}}?`
      : `{{${u.name}}} is not a column of this table; its columns are ${names.map(quote).join(', ')}.`);
  }
  for (const m of missing) {
    out.table.push(`This table has no column ${quote(m.name)}, which the template uses${m.suggestion ? ` — it has ${quote(m.suggestion)}: rename one of them` : ': choose another table, or load another template'}.`);
  }
  for (const f of fields) {
    const [where, text] = fieldProblem(f);
    out[where].push(text);
  }
  if (!unknown.length && !missing.length && !fields.length) {
    const where = e?.about === 'template' ? 'template' : e?.about === 'table' ? 'table' : 'other';
    out[where].push(api.messageOf(e));
  }
  return out;
}

function showPlaced() {
  const said = $('builder-template-errors');
  const before = said.textContent;
  said.textContent = (problem?.template ?? []).join('\n');
  // Typing in the template: its problem comes into sight right under it.
  if (said.textContent && said.textContent !== before && document.activeElement === $('builder-template')) {
    said.scrollIntoView({ block: 'nearest' });
  }
  $('builder-table-errors').textContent = [...readErrors, ...(problem?.table ?? [])].join('\n');
  $('builder-template').classList.toggle('invalid', !!problem?.template.length);
  $('builder-template').setAttribute('aria-invalid', problem?.template.length ? 'true' : 'false');
}

function setProblem(p) {
  problem = p;
  showPlaced();
}

/** Keeps the last good preview on screen, marked as such, while the template does not build. */
function markStale(stale) {
  const cards = $('builder-preview').children.length;
  $('builder-preview').classList.toggle('stale', stale && cards > 0);
  const note = $('builder-preview-stale');
  note.classList.toggle('hidden', !stale || !cards);
  const where = problem?.template.length ? 'under the template' : 'by the table';
  note.textContent = `Last good preview: the current template does not build (see the problem ${where}).`;
}

// --- table and preview ----------------------------------------------------------------------

async function open(path, keepOptions) {
  if (!keepOptions) { $('builder-delimiter').value = ''; $('builder-sheet').replaceChildren(); }
  const request = { path, delimiter: $('builder-delimiter').value || null, sheet: $('builder-sheet').value || null };
  try {
    const view = await api.openTable(request, 20);
    const fresh = !table || table.path !== view.path;
    table = view;
    $('builder-source').textContent = `${view.path} — ${view.format.toUpperCase()}${view.delimiter ? `, delimiter ${JSON.stringify(view.delimiter)}` : ''}, ${view.columns.length} columns`;
    $('builder-source').title = view.path;
    if (view.sheets.length) {
      const sel = $('builder-sheet');
      const keep = sel.value;
      sel.replaceChildren(...view.sheets.map((s) => new Option(s, s)));
      sel.value = view.sheets.includes(keep) ? keep : view.sheets[0];
    }
    $('sheet-label').classList.toggle('hidden', !view.sheets.length);
    const old = columns;
    columns = new Map(view.columns.map((name, i) => [name, old.get(name) ?? { type: guessType(view.rows[0]?.cells[i]), storage: PUBLIC, includeInExport: false }]));
    readErrors = view.errors;
    renderColumns();
    if (fresh || !$('builder-template').value.trim()) $('builder-template').value = defaultTemplate();
    if (fresh) {
      $('builder-preview').replaceChildren();
      $('builder-result').classList.add('hidden');
    }
    $('builder-build').disabled = false;
    setProblem(null);
    await renderPreview();
  } catch (e) {
    readErrors = [`${path} could not be opened: ${api.messageOf(e)}`];
    showPlaced();
  }
}

function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(renderPreview, 250);
}

/** The page a preview frame shows: the asset's HTML under a policy that blocks scripts, and
 * remote media unless the user asked for it. */
function frameDoc(html) {
  const media = $('builder-remote-media').checked ? 'https: http: data:' : 'data:';
  const csp = `default-src 'none'; style-src 'unsafe-inline'; img-src ${media}; media-src ${media}; font-src data:`;
  return `<!doctype html><meta http-equiv="Content-Security-Policy" content="${csp}"><style>body{font-family:system-ui,sans-serif;font-size:13px;margin:8px}</style>${html}`;
}

function previewCard(r) {
  const card = document.createElement('div');
  card.className = 'preview-card';
  card.dataset.testid = 'builder-preview-row';
  card.dataset.externalId = r.asset.externalId;
  const head = document.createElement('div');
  head.className = 'head';
  head.textContent = `line ${r.line} · ${r.asset.externalId}${r.asset.batches?.length ? ` · batch ${r.asset.batches.join(', ')}` : ''}`;
  const frame = document.createElement('iframe');
  frame.setAttribute('sandbox', '');
  frame.setAttribute('referrerpolicy', 'no-referrer');
  frame.title = `Preview of line ${r.line}`;
  frame.dataset.testid = 'builder-preview-frame';
  frame.srcdoc = frameDoc(r.asset.data);
  card.append(head, frame);
  return card;
}

async function renderPreview() {
  if (!table) return;
  const seq = ++previewSeq;
  try {
    const rows = await api.preview(tableRequest(), config(), 3);
    if (seq !== previewSeq) return;
    setProblem(null);
    $('builder-preview-errors').textContent = rows.filter((r) => r.error).map((r) => (r.line ? `line ${r.line}: ${r.error.replace(/^line \d+(, |: )/, '')}` : r.error)).join('\n');
    $('builder-preview').replaceChildren(...rows.filter((r) => r.asset).map(previewCard));
    markStale(false);
  } catch (e) {
    if (seq !== previewSeq) return;
    // A preview fails on the template, or on reading the table.
    const p = place(e);
    setProblem({ template: p.template, table: [...p.table, ...p.other], other: [] });
    $('builder-preview-errors').textContent = '';
    markStale(true);
  }
}

function renderTemplates(project) {
  const sel = $('builder-load-template');
  const list = project?.assetBuilderTemplates ?? [];
  sel.replaceChildren(new Option(list.length ? 'choose…' : 'no saved templates', ''), ...list.map((t) => new Option(t.name || t._id, t._id)));
}

function loadTemplate(id) {
  const t = (ctx.project?.assetBuilderTemplates ?? []).find((x) => x._id === id);
  if (!t) return;
  $('builder-template').value = t.template ?? '';
  $('builder-template-name').value = t.name ?? '';
  loadedPreLabels = t.preLabelConfig ?? {};
  for (const [name, c] of Object.entries(t.dataConfig ?? {})) {
    columns.set(name, { type: c.type || 'text', storage: c.storage || PUBLIC, includeInExport: !!c.includeInExport });
  }
  renderColumns();
  $('builder-external-id').value = t.selectedExternalId ?? $('builder-external-id').value;
  $('builder-batch-column').value = t.batchColumn ?? '';
  schedulePreview();
}

async function saveTemplate() {
  if (!ctx.project) return;
  if (problem) {
    // Saving would fail the same way: point at the problem instead.
    const at = problem.template.length ? 'builder-template-errors' : 'builder-table-errors';
    $(at).scrollIntoView({ block: 'nearest' });
    return;
  }
  try {
    const saved = await api.saveTemplate(ctx.project._id, config());
    await ctx.refreshProject();
    $('builder-load-template').value = saved._id ?? '';
    ctx.showInfo(`Template “${saved.name}” saved in ${ctx.project.name}.`);
  } catch (e) {
    setProblem({ template: [`The template was not saved: ${api.messageOf(e)}`], table: [], other: [] });
  }
}

// --- building ------------------------------------------------------------------------------

const plural = (n, one, many = `${one}s`) => `${n.toLocaleString()} ${n === 1 ? one : many}`;

function failureItem(f) {
  // A row's own failure names its line (and column) in the message: said once, up front.
  const said = /^line \d+(?:, column `([^`]*)`)?: /.exec(f.message);
  const column = f.column ?? said?.[1];
  const rest = said ? f.message.slice(said[0].length) : f.message;
  const message = column && rest.startsWith(`\`${column}\` `) ? rest.slice(column.length + 3) : rest;
  const li = document.createElement('li');
  li.dataset.testid = 'builder-failure';
  if (f.line) li.dataset.line = String(f.line);
  if (column) li.dataset.column = column;
  if (f.code) li.dataset.code = f.code;
  const where = `line ${f.line ?? '?'}${column ? `, column ${quote(column)}` : ''}`;
  const fix = f.code === 'private-address' ? ' Tick “Check private addresses too” to check it.' : '';
  li.textContent = `${where}: ${message}${fix}`;
  return li;
}

function showResult(text, failures, bad) {
  const el = $('builder-result');
  el.className = `summary${bad ? ' bad' : ''}`;
  const head = document.createElement('div');
  head.dataset.testid = 'builder-result-text';
  head.textContent = text;
  el.replaceChildren(head);
  if (failures.length) {
    const list = document.createElement('ul');
    list.className = 'failures';
    list.dataset.testid = 'builder-failures';
    list.append(...failures.slice(0, 200).map(failureItem));
    el.append(list);
    if (failures.length > 200) {
      const more = document.createElement('div');
      more.textContent = `…and ${plural(failures.length - 200, 'more row')}`;
      el.append(more);
    }
  }
  // The Build button and the outcome stay at the top of the view, in sight; a long list of
  // failures scrolls within the outcome.
  el.scrollTop = 0;
}

function summaryText(s) {
  const urlFailures = s.failed.filter((f) => f.code).length;
  if (s.heldBack) {
    return `Nothing imported: ${plural(urlFailures, 'URL')} of ${plural(s.rows, 'row')} failed the check. `
      + 'Fix them in the table, or tick “Import the good rows even if some URLs fail” and build again.';
  }
  const parts = [`${s.registered} assets from ${s.rows} rows in “${ctx.project.name}” (${s.created} new)`];
  if (s.batchesCreated.length) parts.push(`batches created: ${s.batchesCreated.join(', ')}`);
  if (s.urlsChecked && !s.unchecked) parts.push(`${plural(s.urlsChecked, 'URL')} checked`);
  if (s.notImported) parts.push(`${plural(s.notImported, 'row')} not imported because a URL failed the check`);
  const rowFailures = s.failed.length - urlFailures;
  if (rowFailures) parts.push(`${plural(rowFailures, 'row')} failed`);
  let text = parts.join(' · ');
  if (s.unchecked) text += `\nThe URLs were not checked: ${s.unchecked}. Build again once this computer is online to check them.`;
  return text;
}

function onBuildEvent(e) {
  if (e.event !== 'progress' && e.event !== 'finished') return;
  $('builder-progress-text').textContent = e.phase === 'check'
    ? `Checking URLs: ${e.checked.toLocaleString()} checked in ${e.rows.toLocaleString()} rows${e.failed ? ` · ${e.failed} failed` : ''}`
    : `${e.rows.toLocaleString()} rows read · ${e.registered.toLocaleString()} assets registered${e.failed ? ` · ${e.failed} rows failed` : ''}`;
}

async function runBuild() {
  if (!table || !ctx.project) return;
  job = api.newJob('build');
  $('builder-progress').classList.remove('hidden');
  $('builder-progress-text').textContent = $('builder-check-urls').checked ? 'Checking URLs…' : 'Building…';
  $('builder-cancel').classList.remove('hidden');
  $('builder-build').disabled = true;
  $('builder-result').classList.add('hidden');
  const checks = {
    checkUrls: $('builder-check-urls').checked,
    checkPrivate: $('builder-check-private').checked,
    skipBad: $('builder-skip-bad').checked,
  };
  try {
    const s = await api.build(job, ctx.project._id, tableRequest(), config(), checks, onBuildEvent);
    showResult(summaryText(s), s.failed, s.failed.length > 0 || s.heldBack || !!s.unchecked);
    await ctx.refreshProject();
  } catch (e) {
    const placed = place(e);
    if (placed.template.length || placed.table.length) {
      setProblem(placed);
      markStale(true);
      const where = placed.template.length ? 'under the template' : 'by the table';
      showResult(`Not built: the template does not fit the table (see the problem ${where}).`, [], true);
    } else if (e?.code === 'cancelled') {
      showResult(`Build cancelled: ${api.messageOf(e)}.`, [], true);
    } else {
      showResult(`Not built: ${api.messageOf(e)}`, [], true);
    }
  } finally {
    $('builder-progress').classList.add('hidden');
    $('builder-cancel').classList.add('hidden');
    $('builder-build').disabled = false;
    job = null;
  }
}

export function init(c) {
  ctx = c;
  $('builder-pick').addEventListener('click', async () => {
    const p = await ctx.guard(() => api.pick(false, 'table'));
    if (p?.length) open(p[0], false);
  });
  $('builder-delimiter').addEventListener('change', () => table && open(table.path, true));
  $('builder-sheet').addEventListener('change', () => table && open(table.path, true));
  for (const id of ['builder-template', 'builder-external-id', 'builder-batch-column', 'builder-remote-media']) {
    $(id).addEventListener(id === 'builder-template' ? 'input' : 'change', schedulePreview);
  }
  // Private addresses are checked only as part of checking URLs.
  const syncChecks = () => { $('builder-check-private').disabled = !$('builder-check-urls').checked; };
  $('builder-check-urls').addEventListener('change', syncChecks);
  syncChecks();
  $('builder-save-template').addEventListener('click', saveTemplate);
  $('builder-load-template').addEventListener('change', (e) => loadTemplate(e.target.value));
  $('builder-build').addEventListener('click', runBuild);
  $('builder-cancel').addEventListener('click', () => job && api.cancel(job));
  ctx.onProjectChange(renderTemplates);
}

export function onConnected() { if (table) renderColumns(); }
export function onShow() { if (table) renderColumns(); }

export function onDrop(paths) {
  const t = paths.find((p) => /\.(csv|tsv|txt|xlsx|xls|json)$/i.test(p)) ?? paths[0];
  if (t) open(t, false);
}
