// Inventory: the valuation as of a date, the roll-forward of a period with the value
// over time, and ageing. The dates are in the address, so a view can be shared.

import { api, fileName, request } from './api.js';
import { field, h, methodsText, money, problem, qty, remember, saveFile, screen, table, today } from './ui.js';

const ROLL_COLUMNS = [
  ['opening_value', 'Opening'], ['receipts', 'Receipts'], ['landed_costs', 'Landed costs'],
  ['restocked_returns', 'Returns restocked'], ['adjustments_in', 'Adjustments in'], ['transfers_in', 'Moved in'],
  ['supplier_returns', 'Supplier returns'], ['adjustments_out', 'Adjustments out'], ['transfers_out', 'Moved out'], ['cogs', 'COGS'],
  ['closing_value', 'Closing'],
];
const MAX_POINTS = 13;

const shift = (date, months) => {
  const [y, m] = date.split('-').map(Number);
  const d = new Date(Date.UTC(y, m - 1 + months, 1));
  return d.toISOString().slice(0, 10);
};
const monthEnd = (date) => { const next = shift(date, 1); const d = new Date(`${next}T00:00:00Z`); d.setUTCDate(0); return d.toISOString().slice(0, 10); };

export async function render({ query }) {
  const asOf = h('input', { type: 'date', name: 'as_of', required: true, value: query.get('as_of') || today() });
  const from = h('input', { type: 'date', name: 'from', required: true, value: query.get('from') || shift(today(), -11) });
  const to = h('input', { type: 'date', name: 'to', required: true, value: query.get('to') || today() });
  const valuation = h('div', { 'aria-live': 'polite' });
  const rolling = h('div', { 'aria-live': 'polite' });
  const ageing = h('div', { 'aria-live': 'polite' });
  const csv = (path, query, name) => h('button', {
    type: 'button',
    onclick: async () => {
      const response = await request('GET', path, { query: { ...query(), format: 'csv' } }).catch((e) => { valuation.prepend(problem(e)); });
      if (response) saveFile(await response.blob(), fileName(response, name));
    },
  }, 'Download CSV');

  const showValuation = async () => {
    remember({ as_of: asOf.value });
    try {
      const [value, aged] = await Promise.all([
        api('GET', '/api/v1/reports/valuation', { query: { as_of: asOf.value } }),
        api('GET', '/api/v1/reports/ageing', { query: { as_of: asOf.value } }),
      ]);
      valuation.replaceChildren(h('div', {},
        h('p', {}, `On hand at the end of ${asOf.value}: ${qty(value.total_quantity)} units worth `, money(value.total_value), '.'),
        h('p', { class: 'hint' }, `Costing method: ${methodsText(value.methods)}.`),
        table([
          { label: 'SKU', value: (s) => s.sku },
          { label: 'Quantity', value: (s) => qty(s.quantity), num: true },
          { label: 'Value', value: (s) => money(s.value), num: true },
        ], value.skus, { caption: 'By SKU', empty: 'Nothing was on hand on that date.' }),
        // Stock kept in more than one place: what each holds.
        value.locations.length > 1 ? table([
          { label: 'Location', value: (l) => l.location },
          { label: 'Quantity', value: (l) => qty(l.quantity), num: true },
          { label: 'Value', value: (l) => money(l.value), num: true },
        ], value.locations, { caption: 'Valuation by location' }) : null,
        value.lots.length ? h('details', {}, h('summary', {}, `By lot (${value.lots.length})`), table([
          { label: 'Lot or layer', value: (l) => l.lot_id },
          { label: 'SKU', value: (l) => l.sku },
          { label: 'Received', value: (l) => (l.received_date || '').slice(0, 10) },
          { label: 'Quantity', value: (l) => qty(l.quantity), num: true },
          { label: 'Value', value: (l) => money(l.value), num: true },
        ], value.lots)) : null));
      ageing.replaceChildren(ageingTable(aged));
    } catch (error) {
      valuation.replaceChildren(problem(error));
    }
  };
  const showRollForward = async () => {
    remember({ from: from.value, to: to.value });
    try {
      const [report, points] = await Promise.all([
        api('GET', '/api/v1/reports/rollforward', { query: { from: from.value, to: to.value } }),
        series(from.value, to.value),
      ]);
      const columns = ROLL_COLUMNS.map(([key, label]) => ({ label, value: (r) => money(r[key]), num: true }));
      rolling.replaceChildren(chart(points),
        table([{ label: 'SKU', value: (r) => r.sku ?? 'Total' }, ...columns],
          [...report.skus, report.total], { caption: `From ${report.from} to ${report.to} (${report.time_zone})` }),
        report.locations.length > 1
          ? table([{ label: 'Location', value: (r) => r.location ?? 'Total' }, ...columns],
            [...report.locations, report.total], { caption: 'Roll-forward by location' })
          : null);
    } catch (error) {
      rolling.replaceChildren(problem(error));
    }
  };

  screen('Inventory',
    h('section', {}, h('h2', {}, 'Valuation'),
      h('form', { class: 'grid', onsubmit: (e) => { e.preventDefault(); showValuation(); } },
        field('As of', asOf, 'The end of this day, in your time zone.'),
        h('div', { class: 'actions' }, h('button', { class: 'primary' }, 'Show the valuation'),
          csv('/api/v1/reports/valuation', () => ({ as_of: asOf.value }), 'valuation.csv'))),
      valuation),
    h('section', {}, h('h2', {}, 'Roll-forward'),
      h('p', { class: 'hint' }, 'Opening value, every movement in the period, closing value: each line adds up exactly.'),
      h('form', { class: 'grid', onsubmit: (e) => { e.preventDefault(); showRollForward(); } },
        field('From', from), field('To', to),
        h('div', { class: 'actions' }, h('button', { class: 'primary' }, 'Show the roll-forward'),
          csv('/api/v1/reports/rollforward', () => ({ from: from.value, to: to.value }), 'rollforward.csv'))),
      rolling),
    h('section', {}, h('h2', {}, 'Ageing'), h('p', { class: 'hint' }, 'What is on hand as of the valuation date, by how long ago it was received.'), ageing));
  await Promise.all([showValuation(), showRollForward()]);
}

/** Inventory value at the end of each month of the period (and at its last day). */
async function series(from, to) {
  const dates = [];
  for (let month = from; month <= to && dates.length < MAX_POINTS - 1; month = shift(month, 1)) {
    const end = monthEnd(month);
    if (end < to) dates.push(end);
  }
  dates.push(to);
  const values = await Promise.all(dates.map((date) => api('GET', '/api/v1/reports/valuation', { query: { as_of: date } })));
  return dates.map((date, i) => ({ date, value: values[i].total_value }));
}

/** A line of the value over time, drawn as SVG, with the figures as a table for screen readers. */
function chart(points) {
  const width = 720;
  const height = 220;
  const pad = { left: 70, right: 16, top: 12, bottom: 28 };
  // The chart's scale only: figures shown are the exact ones.
  const numbers = points.map((p) => Number(p.value));
  const max = Math.max(1, ...numbers);
  const x = (i) => pad.left + (points.length === 1 ? 0 : (i * (width - pad.left - pad.right)) / (points.length - 1));
  const y = (v) => height - pad.bottom - (v / max) * (height - pad.top - pad.bottom);
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  const el = (tag, attrs, text) => {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text) node.textContent = text;
    svg.append(node);
  };
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('aria-hidden', 'true');
  el('line', { class: 'axis', x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0) });
  el('text', { x: pad.left - 6, y: y(max) + 4, 'text-anchor': 'end' }, Math.round(max).toLocaleString());
  el('text', { x: pad.left - 6, y: y(0) + 4, 'text-anchor': 'end' }, '0');
  el('polyline', { class: 'line', points: numbers.map((v, i) => `${x(i)},${y(v)}`).join(' ') });
  points.forEach((p, i) => {
    el('circle', { class: 'dot', cx: x(i), cy: y(numbers[i]), r: 3 });
    if (i === 0 || i === points.length - 1 || points.length <= 7 || i % 2 === 0) {
      el('text', { x: x(i), y: height - 8, 'text-anchor': 'middle' }, p.date.slice(0, 7));
    }
  });
  return h('figure', { class: 'chart' }, h('figcaption', {}, 'Inventory value over the period'), svg,
    h('details', {}, h('summary', {}, 'The figures'), table([
      { label: 'End of', value: (p) => p.date },
      { label: 'Inventory value', value: (p) => money(p.value), num: true },
    ], points)));
}

function ageingTable(report) {
  const buckets = report.total.buckets.map((b) => b.days);
  return table([
    { label: 'SKU', value: (r) => r.sku ?? 'Total' },
    ...buckets.map((days, i) => ({ label: `${days} days`, value: (r) => money(r.buckets[i]?.value ?? '0'), num: true })),
  ], [...report.skus, report.total], { caption: 'Value by age' });
}
