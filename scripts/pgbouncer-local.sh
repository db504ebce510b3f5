#!/usr/bin/env bash
# Starts PgBouncer in transaction mode on 127.0.0.1:${COGS_POOLER_PORT:-6432}, in front
# of the local PostgreSQL ($COGS_PGHOST:$COGS_PGPORT), for every database: the kind of
# pooler the functions meet in AWS (RDS Proxy multiplexes transactions the same way).
# Installs Debian's pgbouncer package when missing; a running pooler gets the
# configuration again (SIGHUP) rather than a second start.
# PgBouncer will not run as root, so it runs as the postgres user. The roles log in
# with their local development passwords (scripts/setup-db.sh).
# Safe to run again; prompts for nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

port=${COGS_POOLER_PORT:-6432}
ensure_command pgbouncer pgbouncer
dir=${TMPDIR:-/tmp}/cogs-pgbouncer
mkdir -p "$dir"
cat >"$dir/userlist.txt" <<'USERS'
"cogs_api" "cogs_api"
"cogs_maint" "cogs_maint"
"cogs_owner" "cogs_owner"
USERS
cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=$COGS_PGHOST port=$COGS_PGPORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = plain
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 10
# Every test has its own database, and so its own server pool: close them soon after
# use, or they hold the server's connection slots long after their test (and through
# the next direct test pass, when scripts/test.sh runs again).
server_idle_timeout = 5
# After a failed server login (the fault tests close the database for a moment), try
# again after a second rather than refusing every client for fifteen.
server_login_retry = 1
pidfile = $dir/pgbouncer.pid
logfile = $dir/pgbouncer.log
INI
owner=$(id -un)
[ "$(id -u)" = 0 ] && owner=postgres
chown -R "$owner" "$dir"
if pg_isready -q -h 127.0.0.1 -p "$port" 2>/dev/null && [ -f "$dir/pgbouncer.pid" ]; then
  say "PgBouncer is running on 127.0.0.1:$port: reloading its configuration"
  kill -HUP "$(cat "$dir/pgbouncer.pid")"
  exit 0
fi
say "starting PgBouncer (transaction mode) on 127.0.0.1:$port"
if [ "$(id -u)" = 0 ]; then
  runuser -u postgres -- pgbouncer -d "$dir/pgbouncer.ini"
else
  pgbouncer -d "$dir/pgbouncer.ini"
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p "$port" && exit 0
  sleep 1
done
echo "PgBouncer did not start; see $dir/pgbouncer.log" >&2
exit 1
