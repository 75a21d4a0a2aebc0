// The assets view: what arrived in the project, a page at a time.

import * as api from './api.js';

const $ = (id) => document.getElementById(id);
const LIMIT = 50;
let ctx;
let page = 1;
let total = 0;

function size(n) {
  if (n === undefined || n === null) return '';
  if (n < 1024) return `${n} B`;
  const u = ['KB', 'MB', 'GB']; let v = n / 1024; let i = 0;
  while (v >= 1024 && i < 2) { v /= 1024; i += 1; }
  return `${v.toFixed(1)} ${u[i]}`;
}

async function load() {
  if (!ctx.project) {
    $('assets-table').querySelector('tbody').replaceChildren();
    $('assets-total').textContent = 'No project chosen';
    $('assets-page').textContent = '';
    return;
  }
  const got = await ctx.guard(() => api.assets(ctx.project._id, page, LIMIT));
  if (!got) return;
  total = got.total;
  const names = new Map((ctx.project.batches ?? []).map((b) => [b._id, b.name]));
  const body = $('assets-table').querySelector('tbody');
  body.replaceChildren(...got.items.map((a) => {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'asset-row';
    tr.dataset.externalId = a.externalId;
    const created = a.createdAt ? new Date(a.createdAt) : null;
    for (const text of [a.externalId, a.kind ?? '', size(a.size), (a.batches ?? []).map((b) => names.get(b) ?? b).join(', '), created && !Number.isNaN(created.getTime()) ? created.toLocaleString() : (a.createdAt ?? '')]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  }));
  const pages = Math.max(1, Math.ceil(total / LIMIT));
  $('assets-total').textContent = `${total.toLocaleString()} asset${total === 1 ? '' : 's'} in “${ctx.project.name}”`;
  $('assets-page').textContent = `page ${page} of ${pages}`;
  $('assets-prev').disabled = page <= 1;
  $('assets-next').disabled = page >= pages;
}

export function init(c) {
  ctx = c;
  $('assets-refresh').addEventListener('click', load);
  $('assets-prev').addEventListener('click', () => { page = Math.max(1, page - 1); load(); });
  $('assets-next').addEventListener('click', () => { page += 1; load(); });
  ctx.onProjectChange(() => { page = 1; if (!$('view-assets').classList.contains('hidden')) load(); });
}

export function onShow() { load(); }
export function onDrop() {}
