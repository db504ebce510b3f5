// Upload: every kind of file, its template, drag and drop, progress, and every
// rejected row. Small files go in the request; large ones to the staging bucket
// through a presigned URL, then the service loads them and this screen polls.

import { ApiProblem, api, apiUrl, fileName, problemFrom, request } from './api.js';
import { credentials, settings } from './auth.js';
import { field, h, ok, problem, remember, saveFile, screen } from './ui.js';

export const KINDS = [
  ['lots', 'Lots (purchases)', 'What you bought: lot id, SKU, date received, quantity, unit price and freight per unit.'],
  ['sales', 'Sales', 'What you sold: sale id, SKU, date and quantity, and optionally the lot it came from. Runs cost them.'],
  ['returns', 'Customer returns', 'Goods customers sent back, restocked at the cost they were sold at, or written off.'],
  ['supplier_returns', 'Supplier returns', 'Goods you sent back to a supplier, out of the lot they came from.'],
  ['adjustments', 'Adjustments', 'Stock found or lost, damaged or written off, with a reason.'],
  ['counts', 'Stock counts', 'A counted quantity on a date; the difference becomes an adjustment.'],
  ['landed_costs', 'Landed costs', 'Duty, freight or fees that arrive after the goods, spread over a receipt.'],
  ['transfers', 'Transfers', 'Stock moved from one location to another, at its cost; every other file may name a location too.'],
];

const POLL_MS = 1000;

export async function render({ query }) {
  let kind = KINDS.some(([k]) => k === query.get('kind')) ? query.get('kind') : 'lots';
  const select = h('select', { name: 'kind' }, KINDS.map(([value, label]) => h('option', { value, selected: value === kind }, label)));
  const about = h('p', { class: 'hint' });
  const input = h('input', { type: 'file', accept: '.csv,text/csv', name: 'file' });
  const bar = h('progress', { max: 100, value: 0, hidden: true, 'aria-label': 'Upload progress' });
  const stage = h('p', { role: 'status', 'aria-live': 'polite' });
  const result = h('div');
  input.id = 'upload-file';
  const drop = h('div', { class: 'drop' }, h('p', {}, h('label', { for: input.id }, 'Drop a CSV file here, or choose one:')), input);
  const describe = () => { about.textContent = KINDS.find(([k]) => k === kind)[2]; };
  select.addEventListener('change', () => { kind = select.value; describe(); remember({ kind }); });
  describe();

  const send = async (file) => {
    if (!file) return;
    result.replaceChildren();
    bar.hidden = false;
    bar.value = 0;
    input.disabled = select.disabled = true;
    try {
      const upload = file.size > settings.large_file_bytes ? await staged(kind, file, bar, stage) : await direct(kind, file, bar, stage);
      const label = KINDS.find(([k]) => k === upload.kind)?.[1] || upload.kind;
      stage.textContent = '';
      result.replaceChildren(ok(`${file.name}: loaded as ${label.toLowerCase()}. ${upload.rows_inserted} new rows, ${upload.rows_unchanged} already loaded.`,
        'Next: preview and start a run to cost them.'), h('div', { class: 'actions' }, h('a', { class: 'button primary', href: 'app/run' }, 'Go to Run')));
    } catch (error) {
      stage.textContent = '';
      result.replaceChildren(problem(error));
    } finally {
      bar.hidden = true;
      input.disabled = select.disabled = false;
      input.value = '';
    }
  };
  input.addEventListener('change', () => send(input.files[0]));
  drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    send(event.dataTransfer.files[0]);
  });

  const template = h('button', {
    type: 'button',
    onclick: async () => {
      try {
        const response = await request('GET', `/api/v1/files/templates/${kind}`);
        saveFile(await response.blob(), fileName(response, `${kind}-template.csv`));
      } catch (error) {
        result.replaceChildren(problem(error));
      }
    },
  }, 'Download the template');

  screen('Upload files',
    h('section', {},
      h('div', { class: 'grid' }, field('Kind of file', select), h('div', { class: 'actions' }, template)),
      about, drop, bar, stage),
    result,
    h('p', { class: 'muted' }, 'A file is loaded whole or not at all: if any row is wrong, every problem is listed and nothing changes. Loading the same file twice changes nothing.'));
}

/** Sends `body` with progress; answers the parsed JSON of a success. */
function send(method, url, headers, body, bar) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of headers) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) bar.value = Math.round((100 * event.loaded) / event.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.responseText ? JSON.parse(xhr.responseText) : null);
      else reject(problemFrom(xhr.status, xhr.responseText));
    });
    xhr.addEventListener('error', () => reject(new ApiProblem('The file could not be sent.', 'Check your connection, then upload it again.')));
    xhr.send(body);
  });
}

async function direct(kind, file, bar, stage) {
  stage.textContent = `Sending ${file.name}…`;
  const form = new FormData();
  form.append('file', file, file.name);
  return send('POST', apiUrl('POST', `/api/v1/files/${kind}`), Object.entries(credentials()), form, bar);
}

async function staged(kind, file, bar, stage) {
  stage.textContent = `Asking where to send ${file.name}…`;
  const pending = await api('POST', '/api/v1/uploads', { json: { kind, file_name: file.name, size: file.size } });
  stage.textContent = `Sending ${file.name} to storage…`;
  const { url, headers } = pending.upload_url;
  // The browser sets Content-Length itself; every other signed header goes as given.
  const signed = headers.filter(([name]) => name.toLowerCase() !== 'content-length');
  try {
    await send('PUT', url, signed, file, bar);
  } catch (error) {
    if (error instanceof ApiProblem && !error.status) throw error;
    throw new ApiProblem('The storage refused the file.', 'Upload it again; if it keeps failing, tell your operator.');
  }
  stage.textContent = `${file.name} is in storage; waiting for it to be checked and loaded…`;
  bar.removeAttribute('value');
  for (;;) {
    const upload = await api('GET', `/api/v1/uploads/${pending.upload_id}`);
    if (upload.status === 'loaded') return upload;
    if (upload.status === 'rejected') {
      const rows = (upload.validation_errors || []).map((e) => ({ row: e.row_number, column: e.column_name, message: e.message }));
      throw new ApiProblem('The file was rejected, and nothing in it was loaded.', 'Fix the rows listed below, then upload the whole file again.', { rows });
    }
    if (upload.status === 'expired') {
      throw new ApiProblem('The file never reached storage in time, so the upload was given up.', 'Upload it again.');
    }
    await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
  }
}
