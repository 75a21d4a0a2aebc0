// The shell of the page: navigation, the connection badge, the project and batch pickers, the
// error banner, and routing of OS drops to the view on screen.

import * as api from './api.js';
import * as upload from './upload.js';
import * as cloud from './cloud.js';
import * as builder from './builder.js';
import * as assets from './assets.js';
import * as settings from './settings.js';

const $ = (id) => document.getElementById(id);
const views = { upload, cloud, builder, assets, settings };

/** State the views share. */
export const ctx = {
  project: null, // ProjectInfo
  batch: '', // batch name, '' for none
  storages: [],
  /** True when the hub in use has no projects at all. */
  noProjects: false,
  /** Which hub is in use (its URL): a switch of hub is a change of target. */
  hubKey: null,
  listeners: [],
  onProjectChange(fn) { this.listeners.push(fn); },
  showError(message) {
    const b = $('error-banner');
    b.textContent = message;
    b.className = 'banner';
  },
  showInfo(message) {
    const b = $('error-banner');
    b.textContent = message;
    b.className = 'banner info';
  },
  clearBanner() { $('error-banner').className = 'banner hidden'; },
  /** Runs an async action; shows its error in the banner. */
  async guard(action) {
    try {
      return await action();
    } catch (e) {
      ctx.showError(api.messageOf(e));
      return undefined;
    }
  },
  async reloadProjects(selectId) { await loadProjects(selectId); },
  /** Shows `view` and hands it `paths`, as if they had been dropped there. */
  openIn(view, paths) {
    show(view);
    views[view].onDrop(paths);
  },
  setBatch(name) {
    ctx.batch = (ctx.project?.batches ?? []).some((b) => b.name === name) ? name : '';
    $('batch-select').value = ctx.batch;
  },
  async refreshProject() {
    if (!ctx.project) return;
    ctx.project = await api.project(ctx.project._id);
    renderBatches();
    ctx.listeners.forEach((fn) => fn(ctx.project));
  },
};

let current = 'upload';

function show(name) {
  current = name;
  document.querySelectorAll('.tab').forEach((t) => {
    const on = t.dataset.view === name;
    t.classList.toggle('active', on);
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
  });
  document.querySelectorAll('.view').forEach((v) => v.classList.toggle('hidden', v.id !== `view-${name}`));
  $('target-bar').classList.toggle('hidden', name === 'settings');
  views[name].onShow?.();
}

/** The header: which hub is in use and what it does to keep imports exactly once. */
function renderStatus(s) {
  const el = $('connection-status');
  el.className = `conn ${s.mode}`;
  el.dataset.mode = s.mode;
  el.dataset.hubKind = s.hubKind;
  const label = document.createElement('span');
  label.className = 'conn-label';
  label.textContent = s.hubLabel;
  const supports = document.createElement('span');
  supports.className = 'conn-supports';
  supports.textContent = s.supports;
  el.replaceChildren(label, supports);
  el.title = `${s.hubLabel} — ${s.supports}\n${s.hubUrl}`;
}

function renderBatches() {
  const sel = $('batch-select');
  const keep = ctx.batch;
  sel.replaceChildren(new Option('No batch', ''));
  for (const b of ctx.project?.batches ?? []) sel.append(new Option(b.name, b.name));
  sel.value = (ctx.project?.batches ?? []).some((b) => b.name === keep) ? keep : '';
  ctx.batch = sel.value;
}

async function loadProjects(selectId) {
  const list = await api.projects();
  ctx.noProjects = list.length === 0;
  const sel = $('project-select');
  sel.replaceChildren(...list.map((p) => new Option(p.name, p._id)));
  if (!list.length) {
    const none = new Option('No projects yet', '');
    none.disabled = true;
    sel.replaceChildren(none);
    sel.value = '';
    ctx.project = null;
    renderBatches();
    ctx.listeners.forEach((fn) => fn(null));
  }
  const pick = list.find((p) => p._id === selectId) ?? list.find((p) => p._id === ctx.project?._id) ?? list[0];
  if (pick) {
    sel.value = pick._id;
    await selectProject(pick._id);
  }
}

async function selectProject(id) {
  ctx.project = await api.project(id);
  $('project-select').value = id;
  renderBatches();
  ctx.listeners.forEach((fn) => fn(ctx.project));
}

function inlineForm(openBtn, form, input, save, cancel, action) {
  const close = () => { form.classList.add('hidden'); openBtn.classList.remove('hidden'); input.value = ''; };
  openBtn.addEventListener('click', () => { form.classList.remove('hidden'); openBtn.classList.add('hidden'); input.focus(); });
  cancel.addEventListener('click', close);
  const submit = () => ctx.guard(async () => { ctx.clearBanner(); await action(input.value); close(); });
  save.addEventListener('click', submit);
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') submit(); if (e.key === 'Escape') close(); });
}

/** After a connection change: projects (the default one in local mode), storages. */
export async function connected(status) {
  renderStatus(status);
  ctx.hubKey = status.hubUrl;
  ctx.batch = '';
  let first = null;
  if (status.mode === 'local') first = (await api.defaultProject())._id;
  ctx.project = null;
  await loadProjects(first);
  ctx.storages = await api.storages().catch(() => []);
  Object.values(views).forEach((v) => v.onConnected?.(status));
}

function drop(paths) {
  ctx.clearBanner();
  $('drop-overlay').classList.add('hidden');
  if (current !== 'upload' && current !== 'cloud' && current !== 'builder') show('upload');
  views[current].onDrop(paths);
}

const DROP_HINTS = {
  cloud: 'Drop a cloud-import list (JSON) to check it',
  builder: 'Drop a table (CSV, TSV, XLSX, XLS or JSON) to build assets from it',
};

/** While files are dragged over the window: what dropping them here does, on every view. */
function hover(over) {
  $('drop-zone').classList.toggle('hover', over && current === 'upload');
  const overlay = $('drop-overlay');
  overlay.classList.toggle('hidden', !over);
  overlay.dataset.view = current;
  const hint = views[current].dropHint?.() ?? DROP_HINTS[current] ?? 'Drop to check these files and add them to the upload list (opens Upload)';
  $('drop-overlay-text').textContent = hint;
}

/** The tab list as a keyboard user expects it: arrows move between tabs, Home and End jump. */
function tabKeys(e) {
  const tabs = [...document.querySelectorAll('.tab')];
  const at = tabs.indexOf(document.activeElement);
  if (at < 0) return;
  const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[e.key];
  if (to === undefined) return;
  e.preventDefault();
  const tab = tabs[(to + tabs.length) % tabs.length];
  show(tab.dataset.view);
  tab.focus();
}

async function start() {
  document.querySelectorAll('.tab').forEach((t) => t.addEventListener('click', () => show(t.dataset.view)));
  $('project-select').addEventListener('change', (e) => ctx.guard(() => selectProject(e.target.value)));
  $('batch-select').addEventListener('change', (e) => { ctx.batch = e.target.value; });
  inlineForm($('project-new'), $('project-form'), $('project-new-name'), $('project-new-save'), $('project-new-cancel'),
    async (name) => {
      const p = await api.createProject(name, '');
      await loadProjects(p._id);
      requestAnimationFrame(() => $('project-select').focus());
    });
  inlineForm($('batch-new'), $('batch-form'), $('batch-new-name'), $('batch-new-save'), $('batch-new-cancel'),
    async (name) => {
      if (!ctx.project) throw new Error('choose a project first');
      await api.createBatch(ctx.project._id, name);
      ctx.batch = name.trim();
      await ctx.refreshProject();
      requestAnimationFrame(() => $('batch-select').focus());
    });

  for (const v of Object.values(views)) await v.init(ctx);
  document.querySelector('.tabs').addEventListener('keydown', tabKeys);
  await api.onHover(({ over }) => hover(over));
  // Only a drop the Rust side saw lets the app read what was dropped: there is no way in for
  // paths the page makes up.
  await api.onDrop(({ paths }) => drop(paths));
  try {
    await ctx.guard(async () => connected(await api.status()));
    show('upload');
  } finally {
    document.body.dataset.ready = 'true';
  }
}

start();
