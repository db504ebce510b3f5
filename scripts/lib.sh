# Shared by the scripts: logging and making sure the Rust tools are present.
# Sourced, not run.

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Cargo, rustfmt and clippy come with the standard rustup profile; add the two
# components when a minimal profile left them out.
ensure_rust_tools() {
  command -v cargo >/dev/null || { echo "cargo is not on PATH: install the Rust toolchain (https://rustup.rs)" >&2; exit 1; }
  for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
      say "installing the $component component with rustup"
      rustup component add "$component"
    fi
  done
}

# Installs Debian packages (as root, or through sudo).
apt_install() { # apt_install PACKAGE...
  say "installing $* from Debian's packages"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

# Installs a Debian package when its command is missing.
ensure_command() { # ensure_command COMMAND PACKAGE
  command -v "$1" >/dev/null || apt_install "$2"
}
ensure_command curl curl

# cargo-lambda (the local Lambda runtime, `cargo lambda watch`) from PyPI.
ensure_cargo_lambda() {
  export PATH="$(python3 -m site --user-base)/bin:$PATH"
  cargo lambda --version >/dev/null 2>&1 && return
  say "installing cargo-lambda (pip install cargo-lambda)"
  python3 -m pip install --quiet --disable-pip-version-check cargo-lambda
}

# Where PostgreSQL listens; the scripts and tests use TCP on loopback.
export COGS_PGHOST=${COGS_PGHOST:-127.0.0.1}
export COGS_PGPORT=${COGS_PGPORT:-5432}

# Stops the local cluster serving $COGS_PGPORT fast (every connection cut, open
# transactions rolled back), waits $1 seconds, starts it and waits until it answers.
restart_postgres() {
  local pause=$1 sudo="" version cluster
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  read -r version cluster < <(pg_lsclusters -h | awk -v port="$COGS_PGPORT" '$3 == port { print $1, $2; exit }')
  if [ -z "${cluster:-}" ]; then
    echo "no local PostgreSQL cluster listens on port $COGS_PGPORT; the restart drill needs one" >&2
    exit 1
  fi
  say "stopping PostgreSQL cluster $version/$cluster (fast: connections are cut)"
  $sudo pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" stop -m fast
  sleep "$pause"
  say "starting PostgreSQL cluster $version/$cluster again"
  $sudo pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start
  wait_for_postgres
}

# Waits up to 30 s for the server on $COGS_PGHOST:$COGS_PGPORT to answer.
wait_for_postgres() {
  for _ in $(seq 1 30); do
    pg_isready -q -h "$COGS_PGHOST" -p "$COGS_PGPORT" && return
    sleep 1
  done
  echo "PostgreSQL does not answer on $COGS_PGHOST:$COGS_PGPORT; see /var/log/postgresql/" >&2
  exit 1
}

# Runs a command as a PostgreSQL superuser: over TCP as `postgres` where the server
# trusts loopback, otherwise as the `postgres` OS user over the local socket.
as_superuser() {
  if PGCONNECT_TIMEOUT=3 psql -w -h "$COGS_PGHOST" -p "$COGS_PGPORT" -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    PGHOST=$COGS_PGHOST PGPORT=$COGS_PGPORT PGUSER=postgres "$@" -w
  elif [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- env PGPORT="$COGS_PGPORT" "$@"
  else
    sudo -n -u postgres env PGPORT="$COGS_PGPORT" "$@"
  fi
}

# Makes sure a PostgreSQL server answers on $COGS_PGHOST:$COGS_PGPORT: starts the
# installed cluster, or installs Debian's postgresql package when there is none.
ensure_postgres() {
  if pg_isready -q -h "$COGS_PGHOST" -p "$COGS_PGPORT" 2>/dev/null; then
    say "PostgreSQL is running on $COGS_PGHOST:$COGS_PGPORT"
    return
  fi
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  if ! command -v pg_lsclusters >/dev/null || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
    say "installing PostgreSQL from Debian's packages (apt-get install postgresql)"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql postgresql-client
  fi
  local version cluster
  read -r version cluster _ < <(pg_lsclusters -h | head -n 1)
  say "starting PostgreSQL cluster $version/$cluster"
  $sudo pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start || true
  wait_for_postgres
}

# A fresh database NAME, cloned from the migrated test template (scripts/setup-db.sh --test).
fresh_database() { # fresh_database NAME
  say "preparing a fresh database $1 from the test template"
  as_superuser psql -q -v ON_ERROR_STOP=1 -d postgres -c "drop database if exists $1 with (force)" \
    -c "create database $1 template cogs_test_template owner cogs_owner"
}

# Makes bucket NAME on the local S3 server (scripts/s3-local.sh), letting the given
# browser origins PUT to its presigned URLs, as the template's bucket lets the API's.
local_bucket() { # local_bucket NAME [ORIGIN...]
  local s3=http://127.0.0.1:${COGS_S3_PORT:-5055} name=$1 rules=""
  shift
  curl -sf -X PUT "$s3/$name" >/dev/null || true
  [ $# -gt 0 ] || return 0
  for origin in "$@"; do rules+="<AllowedOrigin>$origin</AllowedOrigin>"; done
  curl -sf -X PUT "$s3/$name?cors" -H 'Content-Type: application/xml' --data-binary \
    "<CORSConfiguration><CORSRule>$rules<AllowedMethod>PUT</AllowedMethod><AllowedHeader>*</AllowedHeader></CORSRule></CORSConfiguration>" >/dev/null
}
