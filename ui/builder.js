// The asset-builder view: a table and an HTML template with {{column}} placeholders become one
// asset per row. The preview renders the first rows in sandboxed frames (no scripts; remote
// media only when asked for).

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

function renderColumns() {
  const body = $('builder-columns').querySelector('tbody');
  const first = table?.rows?.[0]?.cells ?? [];
  const storageOptions = [[PUBLIC, 'Public URL'], ...ctx.storages.map((s) => [s._id, `${s.name} (${s.provider})`])];
  body.replaceChildren(...[...columns].map(([name, c], i) => {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'builder-column';
    tr.dataset.column = name;
    const n = document.createElement('td'); n.textContent = name;
    const v = document.createElement('td'); v.textContent = (first[i] ?? '').slice(0, 80); v.className = 'mono';
    const type = select(TYPES.map((t) => [t, t]), c.type, 'col-type');
    const storage = select(storageOptions, c.storage || PUBLIC, 'col-storage');
    storage.disabled = !MEDIA.has(c.type);
    const exp = document.createElement('input');
    exp.type = 'checkbox'; exp.checked = c.includeInExport; exp.dataset.testid = 'col-export';
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

async function open(path, keepOptions) {
  ctx.clearBanner();
  if (!keepOptions) { $('builder-delimiter').value = ''; $('builder-sheet').replaceChildren(); }
  const request = { path, delimiter: $('builder-delimiter').value || null, sheet: $('builder-sheet').value || null };
  try {
    const view = await api.openTable(request, 20);
    const fresh = !table || table.path !== view.path;
    table = view;
    $('builder-source').textContent = `${view.path} — ${view.format.toUpperCase()}${view.delimiter ? `, delimiter ${JSON.stringify(view.delimiter)}` : ''}, ${view.columns.length} columns`;
    if (view.sheets.length) {
      const sel = $('builder-sheet');
      const keep = sel.value;
      sel.replaceChildren(...view.sheets.map((s) => new Option(s, s)));
      sel.value = view.sheets.includes(keep) ? keep : view.sheets[0];
    }
    $('sheet-label').classList.toggle('hidden', !view.sheets.length);
    const old = columns;
    columns = new Map(view.columns.map((name, i) => [name, old.get(name) ?? { type: guessType(view.rows[0]?.cells[i]), storage: PUBLIC, includeInExport: false }]));
    $('builder-table-errors').textContent = view.errors.join('\n');
    renderColumns();
    if (fresh || !$('builder-template').value.trim()) $('builder-template').value = defaultTemplate();
    $('builder-build').disabled = false;
    await renderPreview();
  } catch (e) {
    ctx.showError(api.messageOf(e));
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

async function renderPreview() {
  if (!table) return;
  const out = $('builder-preview');
  const errs = $('builder-preview-errors');
  try {
    const rows = await api.preview(tableRequest(), config(), 3);
    errs.textContent = rows.filter((r) => r.error).map((r) => `line ${r.line ?? '?'}: ${r.error}`).join('\n');
    out.replaceChildren(...rows.filter((r) => r.asset).map((r) => {
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
      frame.dataset.testid = 'builder-preview-frame';
      frame.srcdoc = frameDoc(r.asset.data);
      card.append(head, frame);
      return card;
    }));
  } catch (e) {
    out.replaceChildren();
    errs.textContent = api.messageOf(e);
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

async function runBuild() {
  if (!table || !ctx.project) return;
  ctx.clearBanner();
  job = api.newJob('build');
  $('builder-progress').classList.remove('hidden');
  $('builder-cancel').classList.remove('hidden');
  $('builder-build').disabled = true;
  $('builder-result').classList.add('hidden');
  const failures = [];
  try {
    const s = await api.build(job, ctx.project._id, tableRequest(), config(), (e) => {
      if (e.event === 'progress' || e.event === 'finished') {
        $('builder-progress-text').textContent = `${e.rows.toLocaleString()} rows read · ${e.registered.toLocaleString()} assets registered${e.failed ? ` · ${e.failed} rows failed` : ''}`;
      } else if (e.event === 'rowFailed') {
        failures.push(e.failure);
      }
    });
    const el = $('builder-result');
    el.className = `summary${s.failed.length ? ' bad' : ''}`;
    el.textContent = `${s.registered} assets from ${s.rows} rows in “${ctx.project.name}” (${s.created} new)`
      + (s.batchesCreated.length ? ` · batches created: ${s.batchesCreated.join(', ')}` : '')
      + (s.failed.length ? `\n${s.failed.length} rows failed:\n${s.failed.slice(0, 20).map((f) => `line ${f.line ?? '?'}: ${f.message}`).join('\n')}` : '');
    el.style.whiteSpace = 'pre-wrap';
    await ctx.refreshProject();
  } catch (e) {
    ctx.showError(api.messageOf(e));
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
  $('builder-save-template').addEventListener('click', () => ctx.guard(async () => {
    if (!ctx.project) return;
    const saved = await api.saveTemplate(ctx.project._id, config());
    await ctx.refreshProject();
    $('builder-load-template').value = saved._id ?? '';
    ctx.showInfo(`Template “${saved.name}” saved in ${ctx.project.name}.`);
  }));
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
