// The settings view: local hub (the default) or a remote hub with its URL and API key.

import * as api from './api.js';
import { connected } from './app.js';

const $ = (id) => document.getElementById(id);
let ctx;

function render(s) {
  const rows = [
    ['Mode', s.mode === 'local' ? 'Local hub (inside this app)' : 'Remote hub'],
    ['Hub URL', s.hubUrl],
    ...(s.root ? [['Data folder', s.root]] : []),
    ...(s.remoteUrl ? [['Remote URL', s.remoteUrl]] : []),
    ...(s.keyStore ? [['Key kept in', s.keyStore === 'keyring' ? 'the system keyring' : 'a private file']] : []),
    ['Version', s.version],
  ];
  const dl = document.createElement('dl');
  for (const [k, v] of rows) {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    dl.append(dt, dd);
  }
  $('settings-status').replaceChildren(dl);
  $('settings-status').dataset.mode = s.mode;
  if (s.remoteUrl && !$('settings-remote-url').value) $('settings-remote-url').value = s.remoteUrl;
}

async function change(action) {
  ctx.clearBanner();
  $('settings-connect-remote').disabled = true;
  $('settings-use-local').disabled = true;
  try {
    const s = await action();
    $('settings-api-key').value = '';
    render(s);
    await connected(s);
    ctx.showInfo(s.mode === 'local' ? 'Using the local hub.' : `Connected to ${s.remoteUrl}.`);
  } catch (e) {
    ctx.showError(api.messageOf(e));
  } finally {
    $('settings-connect-remote').disabled = false;
    $('settings-use-local').disabled = false;
  }
}

export function init(c) {
  ctx = c;
  $('settings-use-local').addEventListener('click', () => change(api.connectLocal));
  $('settings-connect-remote').addEventListener('click', () => change(() => api.connectRemote($('settings-remote-url').value, $('settings-api-key').value)));
}

export function onConnected(s) { render(s); }
export async function onShow() { const s = await ctx.guard(api.status); if (s) render(s); }
export function onDrop() {}
