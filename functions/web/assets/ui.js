// Small helpers every screen uses: building elements, tables, notices, the confirmation
// dialog, and showing exact amounts.

/** An element: h('button', { class: 'primary', onclick }, 'Save'). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else if (name === 'for') el.htmlFor = value;
    else if (name === 'value') el.value = value;
    else el.setAttribute(name, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

let ids = 0;
/** A labelled control: the label names it for screen readers, the hint describes it. */
export function field(label, control, hint) {
  control.id ||= `f${++ids}`;
  const hintEl = hint ? h('p', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', {}, h('label', { for: control.id }, label), control, hintEl);
}

/** A table: columns are { label, value(row) → text or node, num }. */
export function table(columns, rows, { caption, empty } = {}) {
  if (!rows.length && empty) return h('p', { class: 'muted' }, empty);
  const head = h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)));
  const body = rows.map((row) => h('tr', {}, columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.value(row)))));
  // A wide table scrolls sideways: focusable, so the keyboard can scroll it too.
  return h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': caption || 'Table' }, h('table', {}, caption ? h('caption', {}, caption) : null, h('thead', {}, head), h('tbody', {}, body)));
}

/** Figures as a definition list: [[label, value], …]. */
export function totals(pairs) {
  return h('dl', { class: 'totals' }, pairs.map(([label, value]) => h('div', {}, h('dt', {}, label), h('dd', {}, value))));
}

/** A problem, said as sentences (an ApiProblem's, or any), with its rejected rows. */
export function problem(error) {
  const rows = error.rows || [];
  return h('div', { class: 'problem', role: 'alert' },
    h('p', {}, h('strong', {}, error.sentence || error.message)),
    error.advice ? h('p', {}, error.advice) : null,
    rows.length ? table([
      { label: 'Row', value: (r) => r.row ?? '', num: true },
      { label: 'Column', value: (r) => r.column ?? '(whole row)' },
      { label: 'Problem', value: (r) => r.message },
    ], rows, { caption: `${rows.length} rejected row${rows.length === 1 ? '' : 's'}` }) : null);
}

/** A notice; each argument is a paragraph (an array: its parts). */
export function ok(...text) { return h('div', { class: 'ok', role: 'status' }, text.filter(Boolean).map((t) => h('p', {}, t))); }
export function info(...text) { return h('div', { class: 'info', role: 'status' }, text.map((t) => h('p', {}, t))); }

/** Asks before something that cannot be taken back; resolves true when confirmed. */
export function confirm({ title, body, action, danger = true }) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { 'aria-labelledby': 'confirm-title' });
    const close = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    dialog.append(
      h('h2', { id: 'confirm-title' }, title),
      ...[body].flat(),
      h('div', { class: 'actions' },
        h('button', { class: `primary${danger ? ' danger' : ''}`, onclick: () => close(true) }, action),
        h('button', { onclick: () => close(false), autofocus: true }, 'Cancel')));
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); close(false); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Replaces the screen: its title in the tab and a heading that takes the focus, so a
 *  screen reader announces the new screen. */
export function screen(title, ...content) {
  const main = document.getElementById('main');
  document.title = `${title} · cogs`;
  const heading = h('h1', { tabindex: '-1' }, title);
  main.replaceChildren(heading, ...content.flat().filter((c) => c !== null && c !== undefined && c !== false));
  heading.focus({ preventScroll: true });
  return main;
}

/** An exact decimal string shown to the cent, half away from zero, with the exact
 *  value in its title; no floating point touches it. */
export function money(value) {
  const shown = cents(value);
  return shown === null ? String(value ?? '') : h('span', { title: String(value) }, shown);
}

export function cents(value) {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(value ?? '').trim());
  if (!m) return null;
  const [, sign, whole, fraction = ''] = m;
  const scale = Math.max(2, fraction.length);
  const scaled = BigInt(whole + fraction.padEnd(scale, '0'));
  const step = 10n ** BigInt(scale - 2);
  let rounded = scaled / step;
  if (step > 1n && (scaled % step) * 2n >= step) rounded += 1n;
  const digits = rounded.toString().padStart(3, '0');
  const grouped = digits.slice(0, -2).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign && rounded !== 0n ? '-' : ''}${grouped}.${digits.slice(-2)}`;
}

/** A quantity without trailing zeros. */
export function qty(value) {
  const text = String(value ?? '');
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

const stamp = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return h('time', { datetime: iso, title: iso }, Number.isNaN(date.getTime()) ? iso : stamp.format(date));
}

export const METHODS = [
  ['fifo', 'FIFO', 'the oldest lot first.'],
  ['specific_identification', 'Specific identification', 'a sale that names its lot (lot_id) is costed from that lot; one that names none, oldest lot first.'],
  ['moving_average', 'Moving average', 'each sale, write-off or return to a supplier costs its share of what the stock is worth; a purchase changes the average.'],
];
export function methodName(method) { return (METHODS.find(([value]) => value === method) || [method, method])[1]; }

/** A tenant's methods over time, as a sentence. */
export function methodsText({ initial, changes }) {
  return [methodName(initial), ...changes.map((c) => `from ${c.from}, ${methodName(c.method)}`)].join('; ');
}

export function statusBadge(status) { return h('span', { class: `status ${status}` }, status.replace('_', ' ')); }

/** Saves bytes the API answered as a file. */
export function saveFile(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** Changes screen without reloading the page (the shell listens). */
export function go(path) { window.dispatchEvent(new CustomEvent('cogs:navigate', { detail: path })); }

/** Keeps a screen's choices in its address, so it can be bookmarked and shared. */
export function remember(query) {
  const url = new URL(location.href);
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') url.searchParams.delete(name);
    else url.searchParams.set(name, value);
  }
  history.replaceState(null, '', url);
}

/** A run id short enough to read: its last eight characters, from the random part
 *  (the first ones are the time it was made, shared by runs made together). */
export function shortId(id) { return String(id).slice(-8); }
