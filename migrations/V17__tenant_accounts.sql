-- Each tenant's chart for the journals (LEDGER.md, "Events": every kind of line has its
-- accounts): the accounts it named (kind -> {code, name}; a kind it did not name takes
-- the deployment's), rules sending the COGS and inventory of SKUs with a prefix to
-- accounts of their own, the Xero tax rate and tracking category, the QuickBooks class,
-- and how its journals are grouped unless an export says otherwise.
alter table tenant_settings
    add column accounts jsonb not null default '{}'
        constraint tenant_settings_accounts_object check (jsonb_typeof(accounts) = 'object'),
    add column sku_rules jsonb not null default '[]'
        constraint tenant_settings_sku_rules_array check (jsonb_typeof(sku_rules) = 'array'),
    add column xero_tax_rate text,
    add column xero_tracking jsonb,
    add column qbo_class jsonb,
    add column journal_period text
        constraint tenant_settings_journal_period check (journal_period in ('day', 'month', 'run')),
    add column journal_lines text
        constraint tenant_settings_journal_lines check (journal_lines in ('sku', 'single'));
