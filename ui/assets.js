// The assets view: what arrived in the project, newest first, a page at a time; narrowed to the
// batch chosen in the top bar and to an exact external ID; a row opens a preview of the asset.

import * as api from './api.js';


const $ = (id) => document.getElementById(id);
const LIMIT = 50;
let ctx;
let page = 1;
let total = 0;
let search = ''; // the exact external ID searched for, '' for none
let hubUrl = '';
let hubKind = 'assetdrop'; // or 'ango': a plain Ango hub, whose listing gives no sizes
let shown = []; // the assets on screen
let loading = 0; // the latest listing asked for: older answers are dropped
let previewing = 0; // likewise for the preview
let openId = null; // the asset in the preview
let frameUrl = null; // a blob: URL the preview made, revoked when it closes

const EXT_KIND = {
  jpg: 'image', jpeg: 'image', png: 'image', gif: 'image', webp: 'image', bmp: 'image', svg: 'image', tif: 'image', tiff: 'image',
  mp4: 'video', webm: 'video', mov: 'video', mkv: 'video', mp3: 'audio', wav: 'audio', ogg: 'audio', m4a: 'audio', flac: 'audio',
  txt: 'text', md: 'markdown', html: 'html', htm: 'html', pdf: 'pdf', dcm: 'dicom', nrrd: 'nrrd', nii: 'nifti',
};

function size(n) {
  if (n < 1024) return `${n} B`;
  const u = ['KB', 'MB', 'GB']; let v = n / 1024; let i = 0;
  while (v >= 1024 && i < 2) { v /= 1024; i += 1; }
  return `${v.toFixed(1)} ${u[i]}`;
}

const isUrl = (s) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s ?? '');

function extOf(s) {
  const last = (s ?? '').split(/[?#]/)[0].split('/').pop();
  const dot = last.lastIndexOf('.');
  return dot > 0 ? last.slice(dot + 1).toLowerCase() : '';
}

function dataset(a) {
  return Array.isArray(a.dataset) ? a.dataset.filter((d) => typeof d === 'string') : [];
}

/** What the asset is: the hub's kind, else guessed from its URL or external ID. */
function kindOf(a) {
  if (a.kind) return a.kind;
  if (dataset(a).length) return 'image';
  const d = a.data ?? '';
  if (d && !isUrl(d)) return d.trimStart().startsWith('<') ? 'html' : 'text';
  return EXT_KIND[extOf(d)] ?? EXT_KIND[extOf(a.externalId)] ?? '';
}

/** What an asset's kind cell says: its kind, and when its stored file is WAV while its external
 * ID names another format, that it was converted (the ID keeps the source file's name, so labels
 * still match the file the team has). */
function kindText(a) {
  const kind = kindOf(a);
  const from = extOf(a.externalId);
  if (kind === 'audio' && extOf(a.data ?? '') === 'wav' && from && from !== 'wav') {
    return `audio, converted to WAV from ${from.toUpperCase()}`;
  }
  return kind;
}

function shorten(text, max = 48) {
  return text.length <= max ? text : `${text.slice(0, 18)}…${text.slice(-(max - 19))}`;
}

function hostAndName(url) {
  try {
    const u = new URL(url);
    const parts = u.pathname.split('/').filter(Boolean);
    const name = decodeURIComponent(parts.pop() ?? '');
    return `${u.host}/${parts.length ? '…/' : ''}${name}`;
  } catch {
    return url;
  }
}

/** Where the asset's bytes live: {where, text (short), title (in full)}. */
function location(a) {
  const d = a.data ?? '';
  const pages = dataset(a);
  const own = hubUrl && d.startsWith(`${hubUrl}/uploaded-data/`);
  if (own && a.sourceUrl) {
    return { where: 'hub', text: `Hub copy of ${hostAndName(a.sourceUrl)}`, title: `Copied to the hub from ${a.sourceUrl}\nStored at ${d}` };
  }
  if (own) {
    const key = d.slice(hubUrl.length + 1).split(/[?#]/)[0];
    return { where: 'hub', text: `Hub · ${shorten(decodeURIComponent(key.split('/').pop()), 36)}`, title: `Uploaded file, stored on the hub at ${decodeURIComponent(key)}\n${d}` };
  }
  if (a.storage) {
    const s = (ctx.storages ?? []).find((x) => x._id === a.storage);
    const name = s ? s.name : a.storage;
    return { where: 'bucket', text: `${name} · ${hostAndName(d || pages[0] || '')}`, title: `In the bucket of storage “${name}”${s ? ` (${s.provider})` : ''}\n${d || pages.join('\n')}` };
  }
  if (pages.length) {
    return { where: 'url', text: `${pages.length} pages · ${hostAndName(pages[0])}`, title: pages.slice(0, 20).join('\n') + (pages.length > 20 ? `\n… and ${pages.length - 20} more` : '') };
  }
  if (isUrl(d)) {
    const what = hubKind === 'ango' ? 'At this URL' : 'Cloud URL: the hub keeps only the link';
    return { where: 'url', text: hostAndName(d), title: `${what}\n${d}` };
  }
  if (d) return { where: 'inline', text: `Inline, ${d.length.toLocaleString()} characters`, title: d.slice(0, 300) };
  return { where: 'none', text: '—', title: 'The hub lists no data for this asset' };
}

/** The size cell: {text, title}; "—" with the reason when the hub gives none. */
function sizeCell(a, loc) {
  if (typeof a.size === 'number') return { text: size(a.size), title: `${a.size.toLocaleString()} bytes, as the hub stored them` };
  if (loc.where === 'inline') {
    const bytes = new TextEncoder().encode(a.data).length;
    return { text: size(bytes), title: `${bytes.toLocaleString()} bytes of inline content` };
  }
  if (hubKind === 'ango' && loc.where !== 'inline') {
    return { text: '—', title: 'Ango Hub’s asset listing gives no sizes' };
  }
  const why = {
    url: 'The hub keeps only the link to this URL and never downloaded it, so it does not know the size',
    bucket: 'The file stays in its bucket; the hub does not record its size',
    hub: 'The hub lists no size for this file',
    none: 'No data, no size',
  }[loc.where];
  return { text: '—', title: why };
}

function batchIdOf(name) {
  return (ctx.project?.batches ?? []).find((b) => b.name === name)?._id ?? '';
}

/** The filter line: what the list is narrowed to, in words. */
function renderFilter() {
  const el = $('assets-filter');
  const parts = [];
  const batch = ctx.batch && batchIdOf(ctx.batch) ? ctx.batch : '';
  const b = document.createElement('span');
  b.dataset.testid = 'assets-filter-batch';
  b.textContent = batch ? `Batch “${batch}”` : 'All batches';
  b.title = batch ? 'Only assets in this batch: choose “No batch” in the Batch picker above to see all' : 'Choose a batch in the Batch picker above to see only its assets';
  parts.push(b);
  if (search) {
    const s = document.createElement('span');
    s.dataset.testid = 'assets-filter-search';
    s.textContent = ` · external ID exactly “${search}” `;
    const clear = document.createElement('button');
    clear.className = 'link small';
    clear.dataset.testid = 'assets-search-clear';
    clear.textContent = 'Clear search';
    clear.addEventListener('click', () => { $('assets-search').value = ''; find(); });
    parts.push(s, clear);
  }
  const order = document.createElement('span');
  order.className = 'muted';
  order.textContent = ' · newest first';
  parts.push(order);
  el.replaceChildren(...parts);
  el.classList.toggle('active', Boolean(batch || search));
}

function cell(text, title, col) {
  const td = document.createElement('td');
  td.textContent = text;
  if (title) td.title = title;
  if (col) td.dataset.col = col;
  return td;
}

function row(a, names) {
  const tr = document.createElement('tr');
  tr.dataset.testid = 'asset-row';
  tr.dataset.externalId = a.externalId;
  tr.dataset.assetId = a._id;
  tr.tabIndex = 0;
  tr.title = 'Open the preview (Enter)';
  tr.setAttribute('aria-selected', String(a._id === openId));
  const created = a.createdAt ? new Date(a.createdAt) : null;
  const loc = location(a);
  const sz = sizeCell(a, loc);
  const batches = (a.batches ?? []).map((b) => names.get(b) ?? b).join(', ');
  const createdText = created && !Number.isNaN(created.getTime()) ? created.toLocaleString() : (a.createdAt ?? '');
  tr.append(
    cell(a.externalId, a.externalId, 'id'),
    cell(kindText(a) || '—', kindOf(a) ? '' : 'The hub gives no kind, and the URL has no known extension', 'kind'),
    cell(sz.text, sz.title, 'size'),
    cell(loc.text, loc.title, 'location'),
    cell(batches || '—', batches || 'In no batch', 'batches'),
    cell(createdText || '—', createdText || 'The hub gives no creation time', 'created'),
  );
  tr.querySelector('[data-col="location"]').dataset.where = loc.where;
  return tr;
}

function renderRows() {
  const names = new Map((ctx.project?.batches ?? []).map((b) => [b._id, b.name]));
  $('assets-table').querySelector('tbody').replaceChildren(...shown.map((a) => row(a, names)));
}

async function load() {
  renderFilter();
  const body = $('assets-table').querySelector('tbody');
  const empty = $('assets-empty');
  if (!ctx.project) {
    body.replaceChildren();
    shown = [];
    $('assets-total').textContent = 'No project chosen';
    $('assets-page').textContent = '';
    empty.classList.add('hidden');
    closePreview();
    return;
  }
  const mine = ++loading;
  const filter = { externalId: search || null, batch: batchIdOf(ctx.batch) || null };
  const got = await ctx.guard(() => api.assets(ctx.project._id, page, LIMIT, filter));
  if (!got || mine !== loading) return;
  total = got.total;
  hubUrl = got.hubUrl.replace(/\/+$/, '');
  hubKind = got.hubKind;
  const pages = Math.max(1, Math.ceil(total / LIMIT));
  if (page > pages) { page = pages; load(); return; }
  shown = got.items;
  renderRows();
  $('assets-total').textContent = `${total.toLocaleString()} asset${total === 1 ? '' : 's'} in “${ctx.project.name}”`;
  $('assets-page').textContent = `page ${page} of ${pages}`;
  $('assets-prev').disabled = page <= 1;
  $('assets-next').disabled = page >= pages;
  empty.classList.toggle('hidden', total > 0);
  if (!total) {
    empty.textContent = search
      ? `No asset has the external ID “${search}” exactly${ctx.batch ? ` in batch “${ctx.batch}”` : ''}. The search matches whole IDs only, extension included.`
      : `No assets${ctx.batch ? ` in batch “${ctx.batch}”` : ''} yet.`;
  }
}

function find() {
  search = $('assets-search').value.trim();
  page = 1;
  load();
}

// ---- preview -------------------------------------------------------------------------------

function meta(a, loc) {
  const dl = $('asset-preview-meta');
  const names = new Map((ctx.project?.batches ?? []).map((b) => [b._id, b.name]));
  const sz = sizeCell(a, loc);
  const entries = [
    ['External ID', a.externalId],
    ['Asset ID', a._id],
    ['Kind', kindText(a) || '—'],
    ['Size', sz.text === '—' ? `— (${sz.title})` : sz.text],
    ['Location', loc.title],
    ['Batches', (a.batches ?? []).map((b) => names.get(b) ?? b).join(', ') || '—'],
    ['Created', a.createdAt ?? '—'],
  ];
  const m = a.metadata && typeof a.metadata === 'object' ? a.metadata : null;
  if (m && Object.keys(m).length) entries.push(['Metadata', JSON.stringify(m, null, 1)]);
  dl.replaceChildren(...entries.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    return [dt, dd];
  }));
}

function note(text) {
  const p = document.createElement('p');
  p.className = 'hint';
  p.dataset.testid = 'asset-preview-note';
  p.textContent = text;
  return p;
}

function frame(src, title) {
  const f = document.createElement('iframe');
  // No scripts, no forms, no same origin: the content is shown, nothing in it runs.
  f.setAttribute('sandbox', '');
  f.setAttribute('referrerpolicy', 'no-referrer');
  f.title = title;
  f.dataset.testid = 'asset-preview-frame';
  f.src = src;
  return f;
}

function media(kind, answer, a) {
  const src = answer.url;
  if (answer.inline !== null && answer.inline !== undefined) {
    const html = kind === 'html';
    frameUrl = URL.createObjectURL(new Blob([answer.inline], { type: html ? 'text/html' : 'text/plain;charset=utf-8' }));
    return [frame(frameUrl, `Content of ${a.externalId}`)];
  }
  if (!src) return [note('This asset has no data to show: its details are below.')];
  if (kind === 'image') {
    const img = document.createElement('img');
    img.dataset.testid = 'asset-preview-image';
    img.alt = a.externalId;
    img.addEventListener('error', () => img.replaceWith(note('The image did not load here (an expired link, or a format this window cannot show, such as TIFF).')), { once: true });
    img.src = src;
    const out = [img];
    const n = dataset(a).length;
    if (n > 1) out.push(note(`Page 1 of ${n}.`));
    return out;
  }
  if (kind === 'audio' || kind === 'video') {
    const m = document.createElement(kind);
    m.controls = true;
    m.preload = 'metadata';
    m.dataset.testid = `asset-preview-${kind}`;
    m.addEventListener('error', () => m.after(note(`This ${kind} cannot be played here; its details are below.`)), { once: true });
    m.src = src;
    return [m];
  }
  if (kind === 'text' || kind === 'markdown' || kind === 'html') return [frame(src, `Content of ${a.externalId}`)];
  return [note(`A ${kind ? `${kind} file` : 'file of unknown kind'} is not shown here; its details are below.`)];
}

function markOpen() {
  for (const tr of $('assets-table').querySelectorAll('tbody tr')) {
    tr.setAttribute('aria-selected', String(tr.dataset.assetId === openId));
  }
}

async function openPreview(asset) {
  const mine = ++previewing;
  openId = asset._id;
  markOpen();
  const panel = $('asset-preview');
  panel.classList.remove('hidden');
  $('assets-body').classList.add('previewing');
  $('asset-preview-title').textContent = asset.externalId;
  $('asset-preview-title').title = asset.externalId;
  const box = $('asset-preview-media');
  dropFrameUrl();
  box.replaceChildren(note('Loading…'));
  meta(asset, location(asset));
  let answer;
  try {
    answer = await api.assetPreview(ctx.project._id, asset._id);
  } catch (e) {
    if (mine === previewing) box.replaceChildren(note(`Cannot preview: ${api.messageOf(e)}`));
    return;
  }
  if (mine !== previewing) return;
  const a = answer.asset;
  meta(a, location(a));
  box.replaceChildren(...media(kindOf(a), answer, a));
}

function dropFrameUrl() {
  if (frameUrl) URL.revokeObjectURL(frameUrl);
  frameUrl = null;
}

function closePreview() {
  if (openId === null) return;
  const was = openId;
  previewing += 1;
  openId = null;
  dropFrameUrl();
  $('asset-preview-media').replaceChildren();
  $('asset-preview').classList.add('hidden');
  $('assets-body').classList.remove('previewing');
  markOpen();
  // Back to the row it was opened from, for the keyboard.
  const tr = [...$('assets-table').querySelectorAll('tbody tr')].find((r) => r.dataset.assetId === was);
  tr?.focus({ preventScroll: true });
}

function rowOf(target) {
  const tr = target.closest('tr[data-asset-id]');
  return tr ? shown.find((a) => a._id === tr.dataset.assetId) : undefined;
}

export function init(c) {
  ctx = c;
  $('assets-refresh').addEventListener('click', load);
  $('assets-prev').addEventListener('click', () => { page = Math.max(1, page - 1); load(); });
  $('assets-next').addEventListener('click', () => { page += 1; load(); });
  $('assets-search-form').addEventListener('submit', (e) => { e.preventDefault(); find(); });
  // An emptied search box (its clear button, or deleting the text) shows everything again.
  $('assets-search').addEventListener('search', find);
  $('assets-search').addEventListener('input', (e) => { if (!e.target.value && search) find(); });
  const tbody = $('assets-table').querySelector('tbody');
  tbody.addEventListener('click', (e) => { const a = rowOf(e.target); if (a) openPreview(a); });
  tbody.addEventListener('keydown', (e) => {
    const tr = e.target.closest('tr');
    if (!tr) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      const a = rowOf(tr);
      if (a) openPreview(a);
    } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const next = e.key === 'ArrowDown' ? tr.nextElementSibling : tr.previousElementSibling;
      next?.focus();
      if (next && openId !== null) openPreview(rowOf(next));
    }
  });
  $('asset-preview-close').addEventListener('click', closePreview);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && openId !== null && !$('view-assets').classList.contains('hidden')) {
      e.preventDefault();
      closePreview();
    }
  });
  // The batch picker in the top bar filters this view ("No batch": everything).
  $('batch-select').addEventListener('change', () => {
    page = 1;
    closePreview();
    if (!$('view-assets').classList.contains('hidden')) load();
  });
  let projectId = null;
  ctx.onProjectChange((p) => {
    // Another project starts afresh; the same one read again (a batch was added) keeps its place.
    if ((p?._id ?? null) !== projectId) {
      projectId = p?._id ?? null;
      page = 1;
      search = '';
      $('assets-search').value = '';
      closePreview();
    }
    if (!$('view-assets').classList.contains('hidden')) load();
  });
}

export function onShow() { load(); }
export function onDrop() {}
