// Settings: the organisation's time zone, lock date and policy, shortfall policy,
// journal accounts and SKU rules, and how journals are laid out.

import { api } from './api.js';
import { METHODS, field, h, methodsText, ok, problem, screen } from './ui.js';

const ACCOUNT_KINDS = [
  ['cogs', 'Cost of goods sold', 'Debited for what was sold.'],
  ['inventory', 'Inventory', 'Credited for what left stock, debited for what came back.'],
  ['write_off', 'Write-offs', 'Damaged or lost stock, and returns not restocked.'],
  ['adjustment_gain', 'Adjustment gains', 'Stock found in a count or adjustment.'],
  ['supplier_returns_clearing', 'Supplier returns clearing', 'What a supplier owes back for returned goods.'],
  ['landed_cost_clearing', 'Landed cost clearing', 'Duty, freight and fees billed after the goods.'],
];

const radios = (name, options, chosen) => h('div', { role: 'radiogroup' }, options.map(([value, label, hint]) => {
  return h('label', {}, h('input', { type: 'radio', name, value, checked: value === chosen }), ` ${label}`, hint ? h('span', { class: 'hint' }, ` — ${hint}`) : null);
}));

export async function render() {
  const stored = await api('GET', '/api/v1/settings');
  const outcome = h('div', { 'aria-live': 'polite' });
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const timeZone = h('input', { name: 'time_zone', required: true, list: 'zones', value: stored.time_zone, autocomplete: 'off' });
  const lockDate = h('input', { type: 'date', name: 'lock_date', value: stored.lock_date || '' });
  const defaultLocation = h('input', { name: 'default_location', required: true, value: stored.default_location, autocomplete: 'off' });
  const accounts = Object.fromEntries(ACCOUNT_KINDS.map(([kind]) => [kind, {
    code: h('input', { name: `${kind}_code`, value: stored.accounts?.[kind]?.code || '', autocomplete: 'off' }),
    name: h('input', { name: `${kind}_name`, value: stored.accounts?.[kind]?.name || '', autocomplete: 'off' }),
  }]));
  const rules = h('textarea', { name: 'sku_rules', spellcheck: 'false' }, JSON.stringify(stored.sku_rules || [], null, 1));
  const locationAccounts = h('textarea', { name: 'location_accounts', spellcheck: 'false' }, JSON.stringify(stored.location_accounts || {}, null, 1));
  const taxRate = h('input', { name: 'xero_tax_rate', value: stored.xero_tax_rate || '', placeholder: 'the deployment\'s (Tax Exempt)' });
  const pair = (name, parts, value) => parts.map((part) => h('input', { name: `${name}_${part}`, value: value?.[part] || '', autocomplete: 'off' }));
  const tracking = pair('xero_tracking', ['name', 'option'], stored.xero_tracking);
  const qboClass = pair('qbo_class', ['code', 'name'], stored.qbo_class);
  const period = h('select', { name: 'journal_period' }, [['', 'A journal per day (default)'], ['day', 'A journal per day'], ['month', 'A journal per month'], ['run', 'One journal per run']]
    .map(([v, l]) => h('option', { value: v, selected: (stored.journal_period || '') === v }, l)));
  const latest = (methods) => (methods.changes.length ? methods.changes[methods.changes.length - 1].method : methods.initial);
  const schedule = h('p', { id: 'methods-now' }, `Now: ${methodsText(stored.methods)}.`);
  const method = h('select', { name: 'costing_method' }, METHODS.map(([v, l]) => h('option', { value: v, selected: latest(stored.methods) === v }, l)));
  const methodFrom = h('input', { type: 'date', name: 'method_from' });
  const lines = h('select', { name: 'journal_lines' }, [['', 'A line pair per SKU (default)'], ['sku', 'A line pair per SKU'], ['single', 'A single line pair']]
    .map(([v, l]) => h('option', { value: v, selected: (stored.journal_lines || '') === v }, l)));

  const form = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      outcome.replaceChildren();
      let skuRules;
      try {
        skuRules = JSON.parse(rules.value || '[]');
        if (!Array.isArray(skuRules)) throw new Error();
      } catch {
        outcome.replaceChildren(problem({ sentence: 'The SKU rules are not a list of rules.', advice: 'Write them as JSON, like [{"prefix": "GIFT-", "cogs": {"code": "5010", "name": "Gift COGS"}}], or leave [] for none.' }));
        rules.focus();
        return;
      }
      let locations;
      try {
        locations = JSON.parse(locationAccounts.value || '{}');
        if (!locations || typeof locations !== 'object' || Array.isArray(locations)) throw new Error();
      } catch {
        outcome.replaceChildren(problem({ sentence: 'The location accounts are not accounts by location.', advice: 'Write them as JSON, like {"WEST": {"code": "1420", "name": "Inventory West"}}, or leave {} for none.' }));
        locationAccounts.focus();
        return;
      }
      const named = {};
      for (const [kind, label] of ACCOUNT_KINDS) {
        const code = accounts[kind].code.value.trim();
        const name = accounts[kind].name.value.trim();
        if (Boolean(code) !== Boolean(name)) {
          outcome.replaceChildren(problem({ sentence: `The ${label.toLowerCase()} account needs both a code and a name.`, advice: 'Fill in both, or clear both to use the deployment\'s account.' }));
          (code ? accounts[kind].name : accounts[kind].code).focus();
          return;
        }
        if (code) named[kind] = { code, name };
      }
      const both = ([a, b], keys, what) => {
        const [x, y] = [a.value.trim(), b.value.trim()];
        if (Boolean(x) !== Boolean(y)) throw Object.assign(new Error(), { field: x ? b : a, what });
        return x ? { [keys[0]]: x, [keys[1]]: y } : null;
      };
      let xeroTracking;
      let qbo;
      try {
        xeroTracking = both(tracking, ['name', 'option'], 'The Xero tracking category needs both a name and an option.');
        qbo = both(qboClass, ['code', 'name'], 'The QuickBooks class needs both an id and a name.');
      } catch (incomplete) {
        outcome.replaceChildren(problem({ sentence: incomplete.what, advice: 'Fill in both, or clear both for none.' }));
        incomplete.field.focus();
        return;
      }
      const value = (name) => form.elements[name].value;
      const change = {
        time_zone: timeZone.value.trim(),
        default_location: defaultLocation.value.trim(),
        lock_date: lockDate.value || null,
        lock_policy: value('lock_policy'),
        on_shortfall: value('on_shortfall'),
        accounts: named,
        sku_rules: skuRules,
        location_accounts: locations,
        xero_tax_rate: taxRate.value.trim() || null,
        xero_tracking: xeroTracking,
        qbo_class: qbo,
        journal_period: period.value || null,
        journal_lines: lines.value || null,
      };
      if (method.value !== latest(stored.methods) || methodFrom.value) {
        change.costing_method = { method: method.value, ...(methodFrom.value ? { from: methodFrom.value } : {}) };
      }
      try {
        const saved = await api('PUT', '/api/v1/settings', { json: change });
        const moved = (stored.lock_date || null) !== change.lock_date;
        const recost = change.costing_method && JSON.stringify(saved.methods) !== JSON.stringify(stored.methods);
        outcome.replaceChildren(ok('Saved.',
          moved ? `The lock date is now ${change.lock_date || 'unset'}: runs from now on respect it.` : '',
          recost ? `Costing method: ${methodsText(saved.methods)}. The next run re-costs what this changes and its journal posts the difference.` : ''));
        stored.lock_date = change.lock_date;
        stored.methods = saved.methods;
        schedule.textContent = `Now: ${methodsText(saved.methods)}.`;
        methodFrom.value = '';
      } catch (error) {
        outcome.replaceChildren(problem(error));
      }
    },
  },
  h('fieldset', {}, h('legend', {}, 'Dates'),
    h('div', { class: 'grid' },
      field('Time zone', timeZone, 'The IANA name (like Europe/Berlin) whose days and months your journals use.'),
      h('datalist', { id: 'zones' }, zones.map((zone) => h('option', { value: zone }))),
      field('Lock date', lockDate, 'The last day of your closed periods. Leave empty for none. It cannot be in the future.'))),
  h('fieldset', {}, h('legend', {}, 'Locations'),
    field('Default location', defaultLocation, 'Where a row that names no location is. It can be changed only before your first upload: rows loaded keep their location.')),
  h('fieldset', {}, h('legend', {}, 'When late input changes a closed period'),
    h('p', { class: 'hint' }, 'Moving the lock date forward closes the days up to it: no run will change what was posted for them. Moving it back reopens them.'),
    radios('lock_policy', [
      ['post_in_open_period', 'Post the difference in the first open day', 'the run goes on, and its journal dates the correction after the lock date.'],
      ['refuse', 'Refuse the run', 'a run that would change a closed day stops and changes nothing; move the lock date back or correct the input.'],
    ], stored.lock_policy)),
  h('fieldset', {}, h('legend', {}, 'Costing method'),
    schedule,
    h('p', { class: 'hint' }, METHODS.map(([, label, hint]) => `${label}: ${hint}`).join(' ')),
    h('div', { class: 'grid' },
      field('Method', method),
      field('From', methodFrom, 'The first day it applies to, in your time zone. Leave empty for all days. The next run re-costs the sales it changes; a change into a closed period follows your lock policy.'))),
  h('fieldset', {}, h('legend', {}, 'When a sale cannot be covered'),
    radios('on_shortfall', [
      ['park', 'Park the SKU', 'its costing stops at that sale until lots arrive; other SKUs are costed.'],
      ['fail', 'Fail the run', 'nothing is costed until every sale is covered.'],
    ], stored.on_shortfall)),
  h('fieldset', {}, h('legend', {}, 'Accounts'),
    h('p', { class: 'hint' }, 'Leave a kind empty to post it to the deployment\'s account.'),
    h('div', { class: 'scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col' }, 'Code'), h('th', { scope: 'col' }, 'Name'))),
      h('tbody', {}, ACCOUNT_KINDS.map(([kind, label, hint]) => {
        accounts[kind].code.setAttribute('aria-label', `${label} account code`);
        accounts[kind].name.setAttribute('aria-label', `${label} account name`);
        return h('tr', {}, h('th', { scope: 'row' }, label, h('p', { class: 'hint' }, hint)), h('td', {}, accounts[kind].code), h('td', {}, accounts[kind].name));
      })))),
    field('SKU rules', rules, 'COGS and inventory accounts for SKUs whose id starts with a prefix; the longest prefix wins. JSON: [{"prefix": "GIFT-", "cogs": {"code": "5010", "name": "Gift COGS"}}].'),
    field('Location accounts', locationAccounts, 'An inventory account of a location\'s own: its stock is held there, and a transfer between locations posts from one\'s account to the other\'s (with none, transfers post nothing). JSON: {"WEST": {"code": "1420", "name": "Inventory West"}}.')),
  h('fieldset', {}, h('legend', {}, 'Journals'),
    h('div', { class: 'grid' }, field('Xero tax rate', taxRate), field('Journals', period), field('Lines', lines)),
    h('div', { class: 'grid' },
      field('Xero tracking category', tracking[0], 'On every Xero line (TrackingName1), with the option beside it; empty for none.'),
      field('Xero tracking option', tracking[1]),
      field('QuickBooks class id', qboClass[0], 'On every QuickBooks line (ClassRef, and CLASS in IIF); empty for none.'),
      field('QuickBooks class name', qboClass[1]))),
  h('div', { class: 'actions' }, h('button', { class: 'primary' }, 'Save the settings')));

  screen('Settings', outcome, form);
}
