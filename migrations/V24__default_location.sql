-- The location a row that names none is at (docs/DECISIONS.md, "Locations and
-- transfers"): each tenant's own, `main` unless it chose another before its first
-- upload. A row keeps the location it was loaded with.
alter table tenant_settings
    add column default_location text collate "C" not null default 'main'
        constraint tenant_settings_default_location_not_empty check (default_location <> '');
