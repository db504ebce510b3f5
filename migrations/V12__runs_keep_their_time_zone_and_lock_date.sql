-- A run keeps the time zone and lock date its tenant had when it started: its journal
-- groups days and months in that zone and dates a difference in a closed period on
-- the first open day, the same whenever it is exported, whatever the settings become.
alter table cogs_runs
    add column time_zone text not null default 'UTC',
    add column lock_date date;
