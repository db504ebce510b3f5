-- An inventory account per location (docs/DECISIONS.md, "Locations and transfers"): a
-- tenant that names one posts its locations' stock apart, and a transfer between two
-- locations with different accounts posts Dr the destination's / Cr the source's. A
-- location it names none for keeps the inventory account it had.
alter table tenant_settings
    add column location_accounts jsonb not null default '{}'
        constraint tenant_settings_location_accounts_object check (jsonb_typeof(location_accounts) = 'object');
