// Run: preview what a run would do (a dry run writes nothing), then start it and
// follow it until it is done.

import { api } from './api.js';
import { field, h, info, methodsText, money, ok, problem, qty, screen, table, totals, when } from './ui.js';

const POLL_MS = 1500;

export async function render() {
  const policy = h('select', { name: 'on_shortfall' },
    h('option', { value: '' }, 'Your setting (Settings)'),
    h('option', { value: 'park' }, 'Park the SKU and go on'),
    h('option', { value: 'fail' }, 'Fail the run, changing nothing'));
  const preview = h('div', { 'aria-live': 'polite' });
  const progress = h('div', { 'aria-live': 'polite' });
  const previewButton = h('button', { type: 'button' }, 'Preview (dry run)');
  const startButton = h('button', { type: 'button', class: 'primary' }, 'Start the run');
  const body = () => (policy.value ? { on_shortfall: policy.value } : {});

  previewButton.addEventListener('click', async () => {
    previewButton.disabled = true;
    preview.replaceChildren(h('p', {}, 'Costing everything uncosted, without writing anything…'));
    try {
      preview.replaceChildren(dryRun(await api('POST', '/api/v1/runs', { json: { ...body(), dry_run: true } })));
    } catch (error) {
      preview.replaceChildren(problem(error));
    }
    previewButton.disabled = false;
  });
  startButton.addEventListener('click', async () => {
    startButton.disabled = previewButton.disabled = true;
    preview.replaceChildren();
    progress.replaceChildren(h('p', {}, 'Starting the run…'));
    try {
      const started = await api('POST', '/api/v1/runs', { json: body() });
      await follow(started.run.run_id, progress);
    } catch (error) {
      progress.replaceChildren(problem(error));
    }
    startButton.disabled = previewButton.disabled = false;
  });

  screen('Run',
    h('section', {},
      h('p', {}, 'A run costs every sale and movement not yet costed, oldest lots first (FIFO), and re-costs the SKUs whose earlier input changed. It can be rolled back.'),
      h('div', { class: 'grid' }, field('When a sale cannot be covered', policy, 'Parking keeps the SKU uncosted from that sale on until lots arrive; the run goes on with the rest.')),
      h('div', { class: 'actions' }, previewButton, startButton)),
    progress,
    preview);
}

/** What a dry run found. */
function dryRun(report) {
  const t = report.totals || {};
  const parts = [
    h('h2', {}, 'Preview'),
    report.methods ? h('p', { class: 'hint' }, `Costing method: ${methodsText(report.methods)}.`) : null,
    totals([
      ['Sales it would cost', String((report.sales || []).length)],
      ['Other movements', String((report.movements || []).length)],
      ['Total COGS', money(t.total_cogs)],
      ['Net COGS (less restocked returns)', money(t.net_cogs)],
      ['SKUs it would re-cost', String(report.skus_recosted ?? 0)],
      ['What those cost before', money(report.superseded_cogs ?? '0')],
      ['Difference its journal would post', money(report.net_difference ?? t.total_cogs)],
      ['Inventory value after', money(t.ending_inventory_value)],
    ]),
  ];
  if (!(report.sales || []).length && !(report.movements || []).length && !(report.shortfalls || []).length) {
    parts.push(info('Nothing is waiting to be costed. Upload new sales or movements first.'));
  }
  parts.push(shortfalls(report.shortfalls || []));
  parts.push(h('p', { class: 'muted' }, 'Nothing was written. Start the run to record this.'));
  return h('section', {}, parts);
}

export function shortfalls(rows) {
  if (!rows.length) return h('p', { class: 'muted' }, 'No shortfalls: every sale is covered by the lots received by its date.');
  return h('div', {},
    h('h2', {}, `Shortfalls (${rows.length} SKU${rows.length === 1 ? '' : 's'} parked)`),
    h('p', {}, 'These SKUs stop at the first event nothing could cover; it and their later events stay uncosted until the missing lots are uploaded and a run costs them.'),
    table([
      { label: 'SKU', value: (r) => r.sku },
      { label: 'First uncovered', value: (r) => `${r.event_kind.replace('_', ' ')} ${r.event_id}` },
      { label: 'Dated', value: (r) => when(r.event_date) },
      { label: 'Short by', value: (r) => qty(r.quantity_short), num: true },
      { label: 'On hand then', value: (r) => qty(r.on_hand), num: true },
    ], rows));
}

/** Polls a run until it is done, showing its progress in `slot`. */
export async function follow(runId, slot) {
  for (;;) {
    const run = await api('GET', `/api/v1/runs/${runId}`);
    const link = h('a', { href: `app/runs/${runId}` }, 'Open the run');
    if (run.status === 'completed') {
      slot.replaceChildren(ok([`The run is complete: ${run.sales_processed} sales costed, total COGS `, money(run.total_cogs),
        `, ${run.skus_recosted} SKUs re-costed, ${run.skus_parked} parked.`]), h('div', { class: 'actions' }, link));
      return run;
    }
    if (run.status === 'failed' || run.status === 'rolled_back') {
      slot.replaceChildren(problem({ sentence: `The run ${run.status === 'failed' ? 'failed and changed nothing' : 'was rolled back'}.`, advice: run.error_message || '' }), link);
      return run;
    }
    const bar = h('progress', { max: Math.max(1, run.sales_total), value: run.sales_processed, 'aria-label': 'Run progress' });
    slot.replaceChildren(h('section', {}, h('p', {}, `Running: ${run.sales_processed} of ${run.sales_total} sales costed…`), bar, h('p', { class: 'muted' }, 'You may leave this screen: the run carries on. ', link)));
    await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
  }
}
