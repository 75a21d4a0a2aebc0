// The only module that talks to the Rust side: commands through invoke(), progress through
// Channels, window events through listen(). Views import these functions and nothing else.

const tauri = window.__TAURI__;
const { invoke, Channel } = tauri.core;

function channel(onMessage) {
  const c = new Channel();
  c.onmessage = onMessage;
  return c;
}

let jobCounter = 0;
/** A fresh job ID, for cancel(). */
export function newJob(prefix) {
  jobCounter += 1;
  return `${prefix}-${Date.now()}-${jobCounter}`;
}

export const status = () => invoke('status');
export const connectLocal = () => invoke('connect_local');
/** remote: {kind: 'ango', region} (a hosted Ango Hub) or {kind: 'selfHosted', url}. */
export const connectRemote = (remote, apiKey) => invoke('connect_remote', { remote, apiKey: apiKey || null });
/** The hosted Ango Hubs: [{name, label, url}]. */
export const angoHubs = () => invoke('ango_hubs');

export const projects = () => invoke('projects');
export const defaultProject = () => invoke('default_project');
export const project = (id) => invoke('project', { id });
export const createProject = (name, description) => invoke('create_project', { name, description });
export const createBatch = (project, name) => invoke('create_batch', { project, name });
export const storages = () => invoke('storages');
/** A page of a project's assets, newest first; filter: {batch, externalId} or null. */
export const assets = (project, page, limit, filter) => invoke('assets', { project, page, limit, filter: filter ?? null });
/** What the preview of one asset shows (its signed URL and kind). */
export const assetPreview = (project, id) => invoke('asset_preview', { project, id });

/** Native chooser; resolves to the chosen paths ([] when cancelled). */
export const pick = (folders, filter) => invoke('pick', { folders, filter: filter || null });

/** Validates files and folders; onRows gets arrays of file rows as verdicts arrive. */
export function addFiles(job, paths, audio, onRows) {
  return invoke('add_files', { job, paths, audio, rows: channel(onRows) });
}

/** Uploads files; onEvent gets every upload event. */
export function upload(request, onEvent) {
  return invoke('upload', { request, events: channel(onEvent) });
}

export const cancel = (job) => invoke('cancel', { job });
/** The upload the app was doing when it last stopped without finishing, or null. */
export const interruptedUpload = () => invoke('interrupted_upload');
export const discardInterrupted = () => invoke('discard_interrupted');

/** Checks (request.dryRun) or imports a cloud-import list. */
export function cloudImport(request, onEvent) {
  return invoke('cloud_import', { request, events: channel(onEvent) });
}

export const openTable = (request, rows) => invoke('open_table', { request, rows });
export const preview = (request, config, rows) => invoke('preview', { request, config, rows });
export const saveTemplate = (project, config) => invoke('save_template', { project, config });

/** Builds one asset per row and imports them; checks: the URL checks to run first, or null. */
export function build(job, project, request, config, checks, onEvent) {
  return invoke('build', { job, project, request, config, checks, events: channel(onEvent) });
}

/** Files dropped on the window from the OS: handler({paths}). */
export const onDrop = (handler) => tauri.event.listen('files-dropped', (e) => handler(e.payload));
/** Files dragged over the window or away: handler({over}). */
export const onHover = (handler) => tauri.event.listen('drag-hover', (e) => handler(e.payload));

/** The message of a command's error, whatever shape it came in, in the app's words: a refused
 * key or a silent hub says what to do here, not which request failed. */
export function messageOf(err) {
  const message = err && typeof err === 'object' && 'message' in err ? String(err.message) : String(err);
  const code = err && typeof err === 'object' ? err.code : undefined;
  if (code === 'unauthorized') {
    return 'The hub refused the API key: enter a valid key in Settings and connect again.';
  }
  // "GET /v2/listProjects: …" and "(HTTP 401)" are for logs, not for people.
  const plain = message.replace(/^(GET|POST|PUT|DELETE|PATCH) \/\S*: /, '').replace(/ \(HTTP \d{3}\)/g, '');
  if (code === 'network') return `${plain.charAt(0).toUpperCase()}${plain.slice(1)}. Check the network, or the hub in Settings.`;
  return plain.charAt(0).toUpperCase() + plain.slice(1);
}
