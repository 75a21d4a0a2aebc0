// The settings view: which hub the app uses — the local hub (the default), a hosted Ango Hub
// (region and API key) or a self-hosted one (URL and API key) — and what the hub in use offers.

import * as api from './api.js';
import { connected } from './app.js';

const $ = (id) => document.getElementById(id);
const MODES = ['local', 'ango', 'selfHosted'];
const KEY_STORE = { keyring: 'the system keyring', file: 'a private file' };
let ctx;
/** The choice shown, until the user picks another. */
let choice = null;

function choose(mode) {
  choice = mode;
  for (const m of MODES) $(`settings-panel-${m}`).classList.toggle('hidden', m !== mode);
  for (const r of document.querySelectorAll('input[name="hub-choice"]')) r.checked = r.value === mode;
}

function render(s) {
  const rows = [
    ['Hub', s.hubLabel],
    ['Supports', s.supports],
    ['URL', s.hubUrl],
    ...(s.root ? [['Data folder', s.root]] : []),
    ...(s.keyStore ? [['Key kept in', KEY_STORE[s.keyStore]]] : []),
    ['Version', s.version],
  ];
  const dl = document.createElement('dl');
  for (const [k, v] of rows) {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    dl.append(dt, dd);
  }
  const box = $('settings-status');
  box.replaceChildren(dl);
  box.dataset.mode = s.mode;
  box.dataset.hubKind = s.hubKind;
  if (s.angoHub && [...$('settings-ango-region').options].some((o) => o.value === s.angoHub)) $('settings-ango-region').value = s.angoHub;
  if (s.selfHostedUrl && !$('settings-self-hosted-url').value) $('settings-self-hosted-url').value = s.selfHostedUrl;
  if (choice === null) choose(s.mode);
}

const buttons = () => ['settings-use-local', 'settings-connect-ango', 'settings-connect-self-hosted'].map($);

/** The address typed for a self-hosted hub, or an error in the app's words. */
function selfHostedUrl() {
  const given = $('settings-self-hosted-url').value.trim();
  let url = null;
  try { url = new URL(given); } catch { url = null; }
  if (!url || !['http:', 'https:'].includes(url.protocol) || !url.hostname) {
    throw new Error(given
      ? `“${given}” is not a web address: enter the hub's full address, starting with https:// (for example https://hub.example.com).`
      : 'Enter the address of the hub, for example https://hub.example.com.');
  }
  return given;
}

async function change(action, target, button) {
  ctx.clearBanner();
  // Marks the view busy until the change has finished (status, projects and message shown).
  $('view-settings').dataset.busy = 'true';
  buttons().forEach((b) => { b.disabled = true; });
  const label = button?.textContent;
  if (button) button.textContent = target ? 'Connecting…' : 'Switching…';
  const box = $('settings-status');
  const before = [...box.childNodes];
  const note = document.createElement('p');
  note.className = 'connecting';
  note.dataset.testid = 'settings-connecting';
  note.setAttribute('role', 'status');
  note.textContent = target ? `Connecting to ${target}…` : 'Starting the local hub…';
  box.replaceChildren(note, ...before);
  try {
    const s = await action();
    $('settings-ango-key').value = '';
    $('settings-self-hosted-key').value = '';
    render(s);
    await connected(s);
    const empty = ctx.project ? '' : ' It has no projects yet: create one with “+ New project”.';
    ctx.showInfo(`${s.mode === 'local' ? 'Using the local hub.' : `Connected to ${s.hubLabel}.`}${empty}`);
  } catch (e) {
    note.remove();
    ctx.showError(api.messageOf(e));
  } finally {
    if (button) button.textContent = label;
    buttons().forEach((b) => { b.disabled = false; });
    delete $('view-settings').dataset.busy;
  }
}

export async function init(c) {
  ctx = c;
  for (const r of document.querySelectorAll('input[name="hub-choice"]')) r.addEventListener('change', () => choose(r.value));
  $('settings-use-local').addEventListener('click', () => change(api.connectLocal, null, $('settings-use-local')));
  $('settings-connect-ango').addEventListener('click', () => change(() => api.connectRemote(
    { kind: 'ango', region: $('settings-ango-region').value }, $('settings-ango-key').value),
  $('settings-ango-region').selectedOptions[0]?.text ?? 'Ango Hub', $('settings-connect-ango')));
  $('settings-connect-self-hosted').addEventListener('click', () => {
    let url;
    try { url = selfHostedUrl(); } catch (e) { ctx.showError(e.message); $('settings-self-hosted-url').focus(); return; }
    change(() => api.connectRemote({ kind: 'selfHosted', url }, $('settings-self-hosted-key').value), url, $('settings-connect-self-hosted'));
  });
  const hubs = await ctx.guard(api.angoHubs) ?? [];
  $('settings-ango-region').replaceChildren(...hubs.map((h) => new Option(h.label, h.name)));
}

export function onConnected(s) { render(s); }
export async function onShow() { const s = await ctx.guard(api.status); if (s) render(s); }
export function onDrop() {}
