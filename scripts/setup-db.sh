#!/usr/bin/env bash
# Prepares PostgreSQL for cogs on this machine: makes sure a server is running
# (starting the installed cluster, or installing Debian's postgresql package when
# none is installed), creates the roles once per cluster, then creates and migrates
# a database.
#
#   scripts/setup-db.sh            the demo database `cogs` (kept between calls)
#   scripts/setup-db.sh --test     the template `cogs_test_template`, rebuilt from the
#                                  migrations each time; tests clone it per test
#
# Roles: cogs_owner owns the schema and runs migrations; cogs_app (NOLOGIN) holds the
# application's grants and cogs_api logs in as it; cogs_maintenance (NOLOGIN) holds
# the narrow cross-tenant grants and cogs_maint logs in as it. None is a superuser
# or has BYPASSRLS. The passwords are for local development only.
# Safe to run again; prompts for nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

mode=demo
[ "${1:-}" = "--test" ] && mode=test

ensure_postgres

say "creating the cogs roles (once per cluster)"
as_superuser psql -v ON_ERROR_STOP=1 -q -d postgres <<'SQL'
do $$
declare
    spec record;
begin
    for spec in select * from (values
        ('cogs_owner', 'login createdb password ''cogs_owner'''),
        ('cogs_app', 'nologin'),
        ('cogs_api', 'login password ''cogs_api'' in role cogs_app'),
        ('cogs_maintenance', 'nologin'),
        ('cogs_maint', 'login password ''cogs_maint'' in role cogs_maintenance')
    ) as r(name, options)
    loop
        if not exists (select from pg_roles where rolname = spec.name) then
            execute format('create role %I %s', spec.name, spec.options);
        end if;
        execute format('alter role %I nosuperuser nobypassrls', spec.name);
    end loop;
end
$$;
SQL

say "building the cogs command-line tool (for cogs migrate)"
cargo build --locked --quiet --bin cogs

if [ "$mode" = test ]; then
  db=cogs_test_template
  # A passing test drops its database as cogs_owner while the code under test may
  # still hold connections to it (`drop database … with (force)`), which takes the
  # right to end other roles' sessions. Test clusters only.
  as_superuser psql -v ON_ERROR_STOP=1 -q -d postgres -c "grant pg_signal_backend to cogs_owner"
  say "dropping databases kept by earlier failed tests"
  for kept in $(as_superuser psql -tA -d postgres -c "select datname from pg_database where datname like 'cogs\_test\_%' and datname <> '$db'"); do
    as_superuser psql -q -d postgres -c "drop database if exists $kept with (force)"
  done
  say "rebuilding the test template database $db from the migrations"
  as_superuser psql -v ON_ERROR_STOP=1 -q -d postgres -c "drop database if exists $db with (force)"
else
  db=cogs
fi
if ! as_superuser psql -tA -d postgres -c "select 1 from pg_database where datname = '$db'" | grep -q 1; then
  say "creating database $db owned by cogs_owner"
  as_superuser psql -v ON_ERROR_STOP=1 -q -d postgres -c "create database $db owner cogs_owner"
fi

say "migrating $db as cogs_owner"
target/debug/cogs migrate --database-url "postgres://cogs_owner:cogs_owner@$COGS_PGHOST:$COGS_PGPORT/$db"

if [ "$mode" = demo ]; then
  say "ready: DATABASE_URL=postgres://cogs_api:cogs_api@$COGS_PGHOST:$COGS_PGPORT/cogs"
fi
