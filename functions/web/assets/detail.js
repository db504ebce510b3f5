// Run detail: what a run did, its shortfalls and rejected rows, its journal in every
// format, the trace of any sale or lot, and its rollback.

import { api, fileName, request } from './api.js';
import { rollBack } from './home.js';
import { follow, shortfalls } from './run.js';
import { field, h, methodName, money, problem, qty, saveFile, screen, shortId, statusBadge, table, totals, when } from './ui.js';

const FORMATS = [
  ['xero', 'Xero manual journal (CSV)'],
  ['qbo', 'QuickBooks Online journal (JSON)'],
  ['iif', 'QuickBooks Desktop (IIF)'],
  ['csv', 'Plain CSV'],
  ['json', 'JSON'],
];
const GROUPINGS = [['', 'Your setting'], ['sku', 'A line pair per SKU'], ['day', 'One pair per day'], ['none', 'One pair for the run']];
const PERIODS = [['', 'Your setting'], ['day', 'A journal per day'], ['month', 'A journal per month'], ['run', 'One journal for the run']];

export async function render({ params }) {
  const runId = params[0];
  const notes = h('div');
  let run;
  try {
    run = await api('GET', `/api/v1/runs/${encodeURIComponent(runId)}`);
  } catch (error) {
    if (error.status === 404 || error.status === 400) {
      screen('Run not found', problem({ sentence: `There is no run ${runId} for your organisation.`, advice: 'Check the address: a run of another organisation cannot be seen from here.' }),
        h('p', {}, h('a', { href: 'app' }, 'Go to the runs')));
      return;
    }
    throw error;
  }
  if (run.status === 'pending' || run.status === 'running') {
    const slot = h('div', { 'aria-live': 'polite' });
    screen(`Run ${shortId(runId)}`, slot);
    await follow(runId, slot);
    run = await api('GET', `/api/v1/runs/${runId}`);
  }
  const rollback = run.status === 'completed'
    ? h('button', { class: 'danger', onclick: async () => { if (await rollBack(run, notes)) render({ params }); } }, 'Rollback')
    : null;
  screen(`Run ${shortId(runId)}`,
    h('p', {}, statusBadge(run.status), ' ', h('span', { class: 'id' }, run.run_id)),
    notes,
    run.error_message ? problem({ sentence: 'The run failed and changed nothing.', advice: run.error_message }) : null,
    h('section', {},
      totals([
        ['Method', methodName(run.mode)],
        ['Started', when(run.created_at)],
        ['By', run.created_by],
        ['Completed', run.completed_at ? when(run.completed_at) : '—'],
        ['Sales costed', `${run.sales_processed} of ${run.sales_total}`],
        ['Quantity', qty(run.total_quantity)],
        ['Total COGS', money(run.total_cogs)],
        ['SKUs re-costed', String(run.skus_recosted)],
        ['Their earlier cost', money(run.superseded_cogs)],
        ['Difference posted', money(run.net_difference)],
        ['SKUs parked', String(run.skus_parked)],
        ['Time zone', run.time_zone],
        ['Lock date', run.lock_date || 'none'],
      ]),
      rollback ? h('div', { class: 'actions' }, rollback) : null,
      run.rolled_back_at ? h('p', {}, 'Rolled back ', when(run.rolled_back_at), '. Its journal now exports with the reversing entry.') : null),
    shortfalls(run.shortfalls || []),
    (run.validation_errors || []).length ? h('div', {}, h('h2', {}, 'Problems found'), table([
      { label: 'Row', value: (e) => e.row_number ?? '', num: true },
      { label: 'Sale', value: (e) => e.sale_id ?? '' },
      { label: 'Column', value: (e) => e.column_name ?? '' },
      { label: 'Problem', value: (e) => e.message },
    ], run.validation_errors)) : null,
    run.status === 'failed' ? null : journal(run),
    trace());
}

function journal(run) {
  const format = h('select', { name: 'format' }, FORMATS.map(([v, l]) => h('option', { value: v }, l)));
  const grouping = h('select', { name: 'group_by' }, GROUPINGS.map(([v, l]) => h('option', { value: v }, l)));
  const period = h('select', { name: 'period' }, PERIODS.map(([v, l]) => h('option', { value: v }, l)));
  const outcome = h('div', { 'aria-live': 'polite' });
  const download = h('button', {
    type: 'button',
    class: 'primary',
    onclick: async () => {
      outcome.replaceChildren();
      try {
        const response = await request('GET', `/api/v1/runs/${run.run_id}/journal-entry`,
          { query: { format: format.value, group_by: grouping.value, period: period.value } });
        saveFile(await response.blob(), fileName(response, `journal-${run.run_id}.${format.value}`));
        outcome.replaceChildren(h('p', { class: 'muted' }, 'Downloaded. Import it in your ledger as a manual journal.'));
      } catch (error) {
        outcome.replaceChildren(problem(error));
      }
    },
  }, 'Download the journal');
  return h('section', {}, h('h2', {}, 'Journal'),
    h('p', {}, 'Debit cost of goods sold, credit inventory, balanced to the cent; a rolled-back run\'s journal carries the reversal.'),
    h('div', { class: 'grid' }, field('Format', format), field('Lines', grouping), field('Journals', period)),
    h('div', { class: 'actions' }, download), outcome);
}

function trace() {
  const sale = h('input', { name: 'sale_id', required: true, autocomplete: 'off' });
  const lot = h('input', { name: 'lot_id', required: true, autocomplete: 'off' });
  const found = h('div', { 'aria-live': 'polite' });
  const ask = (path, draw) => async (event) => {
    event.preventDefault();
    const id = (event.target.elements[0].value || '').trim();
    try {
      found.replaceChildren(draw(await api('GET', path(encodeURIComponent(id)))));
    } catch (error) {
      found.replaceChildren(problem(error));
    }
  };
  return h('section', {}, h('h2', {}, 'Trace'),
    h('p', {}, 'Which lots fed a sale, or which sales and movements drew on a lot, in the live book.'),
    h('div', { class: 'grid' },
      h('form', { onsubmit: ask((id) => `/api/v1/sales/${id}/allocations`, saleTrace) }, field('Sale id', sale), h('div', { class: 'actions' }, h('button', {}, 'Trace the sale'))),
      h('form', { onsubmit: ask((id) => `/api/v1/lots/${id}/consumption`, lotTrace) }, field('Lot id', lot), h('div', { class: 'actions' }, h('button', {}, 'Trace the lot')))),
    found);
}

function saleTrace(trace) {
  return h('div', {},
    table([
      { label: 'Lot', value: (a) => a.lot_id },
      { label: 'Quantity', value: (a) => qty(a.quantity), num: true },
      { label: 'Unit cost', value: (a) => a.unit_cost, num: true },
      { label: 'Cost', value: (a) => money(a.cost), num: true },
    ], trace.allocations, { caption: `Lots that fed sale ${trace.sale_id}`, empty: `Sale ${trace.sale_id} is not costed in the live book yet.` }),
    h('p', {}, 'Cost of the sale: ', money(trace.cogs), trace.landed_costs.length ? ` (with ${trace.landed_costs.length} landed-cost share${trace.landed_costs.length === 1 ? '' : 's'})` : ''));
}

function lotTrace(trace) {
  return h('div', {},
    table([
      { label: 'Sale', value: (s) => s.sale_id },
      { label: 'Layer', value: (s) => s.lot_id },
      { label: 'Sold', value: (s) => when(s.sale_date) },
      { label: 'Quantity', value: (s) => qty(s.quantity), num: true },
      { label: 'Unit cost', value: (s) => s.unit_cost, num: true },
      { label: 'Cost', value: (s) => money(s.cost), num: true },
    ], trace.sales, { caption: `Sales that drew on lot ${trace.lot_id}`, empty: `No sale has drawn on lot ${trace.lot_id} in the live book.` }),
    trace.movements.length ? h('p', {}, `${trace.movements.length} other movement${trace.movements.length === 1 ? '' : 's'} touched it.`) : null);
}
