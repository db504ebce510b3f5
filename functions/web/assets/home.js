// Home: the recent runs, newest first, a page at a time, each with its rollback.

import { api } from './api.js';
import { confirm, h, info, methodName, money, ok, problem, screen, shortId, statusBadge, table, when } from './ui.js';

const PAGE = 20;

export async function render() {
  const list = h('div', { 'aria-live': 'polite' });
  const notes = h('div');
  const more = h('button', { hidden: true }, 'Show older runs');
  let cursor = null;
  let shown = [];
  const load = async () => {
    more.disabled = true;
    try {
      const page = await api('GET', '/api/v1/runs', { query: { limit: PAGE, cursor } });
      shown = shown.concat(page.runs);
      cursor = page.next_cursor;
      draw();
    } catch (error) {
      notes.replaceChildren(problem(error));
    }
    more.disabled = false;
    more.hidden = !cursor;
  };
  const draw = () => {
    if (!shown.length) {
      list.replaceChildren(info('No runs yet.', 'Start with Upload: load your lots (purchases) and your sales. Then Run costs the sales.'),
        h('div', { class: 'actions' }, h('a', { class: 'button primary', href: 'app/upload' }, 'Upload files')));
      return;
    }
    list.replaceChildren(runsTable(shown, async (run) => {
      const done = await rollBack(run, notes);
      if (done) { shown = []; cursor = null; await load(); }
    }));
  };
  more.addEventListener('click', load);
  screen('Runs',
    h('div', { class: 'actions' },
      h('a', { class: 'button primary', href: 'app/run' }, 'Start a run'),
      h('a', { class: 'button', href: 'app/upload' }, 'Upload files')),
    notes, list, h('div', { class: 'actions' }, more));
  await load();
}

export function runsTable(runs, onRollback) {
  return table([
    { label: 'Started', value: (r) => when(r.created_at) },
    { label: 'Run', value: (r) => h('a', { href: `app/runs/${r.run_id}`, 'aria-label': `Run ${r.run_id}` }, h('span', { class: 'id' }, shortId(r.run_id))) },
    { label: 'Status', value: (r) => statusBadge(r.status) },
    { label: 'Method', value: (r) => methodName(r.mode) },
    { label: 'Sales costed', value: (r) => `${r.sales_processed} of ${r.sales_total}`, num: true },
    { label: 'Re-costed SKUs', value: (r) => r.skus_recosted, num: true },
    { label: 'Shortfalls', value: (r) => r.skus_parked, num: true },
    { label: 'Total COGS', value: (r) => money(r.total_cogs), num: true },
    { label: 'By', value: (r) => r.created_by },
    {
      label: 'Actions',
      value: (r) => (r.status === 'completed'
        ? h('button', { class: 'danger', onclick: () => onRollback(r), 'aria-label': `Rollback run ${shortId(r.run_id)}` }, 'Rollback')
        : ''),
    },
  ], runs);
}

/** Asks, naming the run and every later run a cascade would take, then rolls back.
 *  Shows the outcome in `notes`; true when something was rolled back. */
export async function rollBack(run, notes) {
  let detail;
  try {
    detail = await api('GET', `/api/v1/runs/${run.run_id}`);
  } catch (error) {
    notes.replaceChildren(problem(error));
    return false;
  }
  const later = detail.cascade_takes || [];
  const body = [
    h('p', {}, `Run ${shortId(run.run_id)}, started `, when(run.created_at), ` by ${run.created_by}, costed ${run.sales_processed} sales for `,
      money(run.total_cogs), '. Rolling it back makes its sales uncosted again and gives its lots back what it took. Its journal stays available, to post the reversal.'),
  ];
  if (later.length) {
    body.push(h('p', {}, h('strong', {}, `${later.length} later run${later.length === 1 ? '' : 's'} costed the same SKUs and will be rolled back with it`), ', newest first:'),
      h('ul', {}, later.map((id) => h('li', { class: 'id' }, id))));
  } else {
    body.push(h('p', {}, 'No later run rests on it: it is rolled back alone.'));
  }
  const confirmed = await confirm({
    title: `Roll back run ${shortId(run.run_id)}?`,
    body,
    action: later.length ? `Roll back ${later.length + 1} runs` : 'Roll back',
  });
  if (!confirmed) return false;
  try {
    const answer = await api('POST', `/api/v1/runs/${run.run_id}/rollback`, { query: later.length ? { cascade: 'true' } : {} });
    const ids = answer.rolled_back.map((r) => shortId(r.run_id)).join(', ');
    notes.replaceChildren(ok(`Rolled back: ${ids}. Their sales are uncosted again; run again to cost them.`));
    return true;
  } catch (error) {
    notes.replaceChildren(problem(error));
    return false;
  }
}
