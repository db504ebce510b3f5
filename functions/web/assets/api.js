// Calling the API: which function serves a path, who is asking, and every failure
// turned into sentences that say what happened and what to do.

import { credentials, refresh, settings } from './auth.js';

/** The function that serves a route (locally each has its own address). */
function functionFor(method, path) {
  if (path.startsWith('/api/v1/files') || path.startsWith('/api/v1/uploads')) return 'upload';
  if (method === 'POST' && path === '/api/v1/runs') return 'run';
  if (method === 'POST' && path.endsWith('/rollback')) return 'rollback';
  if (path.endsWith('/journal-entry')) return 'journal-export';
  return 'list';
}

export function apiUrl(method, path, query) {
  const search = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '')) : null;
  const suffix = search && String(search) ? `?${search}` : '';
  return `${settings.api.replaceAll('{function}', functionFor(method, path))}${path}${suffix}`;
}

/** A failure said for people: `sentence` what happened, `advice` what to do, `rows`
 *  the rejected rows of a file (row, column, message). */
export class ApiProblem extends Error {
  constructor(sentence, advice, { status, type, rows, details } = {}) {
    super(sentence);
    Object.assign(this, { sentence, advice, status, type, rows: rows || [], details: details || {} });
  }
}

// What to do about each kind of failure the API names; the API's own message says
// what happened unless a sentence is given here.
const ADVICE = {
  unauthorized: ['You are not signed in, or your sign-in has expired.', 'Sign in again.'],
  tenant_mismatch: [null, 'Sign in as a user of that organisation.'],
  not_found: [null, 'Check the id: it may be mistyped, or belong to another organisation.'],
  route_not_found: ['The dashboard asked for something this service does not offer.', 'Reload the page. If it happens again, tell your operator: the dashboard and the API may be of different versions.'],
  method_not_allowed: ['The dashboard asked for something this service does not offer.', 'Reload the page. If it happens again, tell your operator.'],
  validation_failed: ['The file was rejected, and nothing in it was loaded.', 'Fix the rows listed below, then upload the whole file again.'],
  invalid_request: [null, 'Correct it, then try again.'],
  malformed_json: ['The dashboard sent something the service could not read.', 'Reload the page and try again.'],
  unsupported_media_type: [null, 'Upload a CSV file.'],
  payload_too_large: ['The file is too large to send in one request.', 'Reload the page and upload it again: large files go through the staging bucket.'],
  run_in_progress: ['Another run is in progress for your organisation.', 'Wait for it to finish (see Runs), then try again.'],
  dependent_run: [null, 'Roll back together with the later runs, or roll those back first.'],
  locked_period: [null, 'Move the lock date in Settings, or set the lock policy to post differences in the first open period.'],
  wrong_run_status: [null, 'Only a completed run can be rolled back or posted.'],
  insufficient_inventory: [null, 'Upload the lots that cover it, or set the shortfall policy to park the SKU, then run again.'],
  invalid_costing_input: [null, 'Correct the files named, then run again.'],
  out_of_time: ['The preview did not finish within the time one request may take.', 'Start the run instead: it carries on in the background, and can be rolled back.'],
  amount_overflow: [null, 'Check the file for an amount with misplaced digits.'],
  unreadable_input: [null, 'Save the file again as CSV (UTF-8) and upload it again.'],
  database_error: ['The service could not reach its database just now.', 'Wait a minute, then try again.'],
  staging_error: ['The service could not reach its file storage just now.', 'Wait a minute, then upload again.'],
  books_inconsistent: ['The books do not agree with a fresh costing.', 'Tell your operator: the runbook says what to do (cogs verify).'],
};

/** The problem an answer that is not a success describes. */
export function problemFrom(status, text) {
  let error = {};
  try { error = JSON.parse(text).error || {}; } catch { /* not our envelope: API Gateway's, or a proxy's */ }
  if (status === 401 && /tenant claim/.test(error.message || '')) {
    // Signed in, but the account names no organisation (or a malformed one).
    return new ApiProblem('Your account is not linked to an organisation.',
      'Ask your administrator to set your organisation (custom:tenant_id) on your user, then sign in again.', { status, type: 'unauthorized' });
  }
  if (status === 401) return new ApiProblem(...ADVICE.unauthorized, { status, type: 'unauthorized' });
  if (status === 429) return new ApiProblem('The service is busy.', 'Wait a few seconds, then try again.', { status });
  const [sentence, advice] = ADVICE[error.type] || [];
  if (status >= 500 && !sentence) {
    return new ApiProblem('Something went wrong on the service\'s side.',
      `Try again in a minute. If it keeps happening, tell your operator it happened at ${new Date().toLocaleString()}.`, { status });
  }
  // The API's message is a sentence; one that opens with a field's name keeps it as written.
  const opening = (error.message || '').split(' ')[0];
  const said = error.message
    ? `${/[_\d]/.test(opening) ? opening : opening.charAt(0).toUpperCase() + opening.slice(1)}${error.message.slice(opening.length)}`.replace(/([^.])$/, '$1.')
    : null;
  return new ApiProblem(sentence || said || `The service refused the request (status ${status}).`,
    sentence && said ? `${said} ${advice}` : (advice || 'Try again.'),
    { status, type: error.type, rows: error.errors, details: error });
}

/** Makes a request; answers the Response of a success, throws an ApiProblem otherwise.
 *  An expired sign-in is refreshed once and the request made again. */
export async function request(method, path, { query, json, body, headers } = {}, retried = false) {
  let response;
  try {
    response = await fetch(apiUrl(method, path, query), {
      method,
      headers: { ...credentials(), ...(json !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      body: json !== undefined ? JSON.stringify(json) : body,
    });
  } catch {
    throw new ApiProblem('The service could not be reached.', 'Check your connection, then try again.');
  }
  if (response.status === 401 && !retried && await refresh().catch(() => false)) {
    return request(method, path, { query, json, body, headers }, true);
  }
  if (!response.ok) throw problemFrom(response.status, await response.text());
  return response;
}

/** A request whose answer is JSON. */
export async function api(method, path, options) {
  return (await request(method, path, options)).json();
}

/** The file name an answer suggests (Content-Disposition), else `fallback`. */
export function fileName(response, fallback) {
  const match = /filename="?([^";]+)"?/.exec(response.headers.get('Content-Disposition') || '');
  return match ? match[1] : fallback;
}
