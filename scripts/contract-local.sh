#!/usr/bin/env bash
# Runs Schemathesis, a client no one here wrote, against the HTTP functions served
# locally (scripts/e2e-local.sh serves them and calls this): each function is tested
# alone with the operations `functions/openapi.json` says it serves (`x-functions`),
# every generation phase, and every check but the two that the development header
# trips by design (`ignored_auth`, `missing_required_header`: locally no authorizer
# checks the token, so a request without one is served). Any failure fails the script.
#
# Usage: scripts/contract-local.sh BASE_URL TENANT RUN_ID
#   BASE_URL  where `cargo lambda watch` serves, e.g. http://127.0.0.1:9131/lambda-url
#   TENANT    the tenant every request acts for (X-Tenant-Id); its data is changed
#   RUN_ID    one of the tenant's completed runs, for the routes that take a run id
#
# Schemathesis is installed (pinned) into target/schemathesis-venv. The seed is fixed
# (COGS_SCHEMATHESIS_SEED to change it) so that a failure reproduces. Safe to run
# again; prompts for nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

base=$1 tenant=$2 run_id=$3
version=4.32.5
root=$PWD
venv=$root/target/schemathesis-venv
work=$root/target/schemathesis

if [ "$("$venv/bin/st" --version 2>/dev/null)" != "st, version $version" ]; then
  say "installing Schemathesis $version into $venv (pip)"
  python3 -m venv "$venv" 2>/dev/null || {
    apt_install python3-venv
    python3 -m venv "$venv"
  }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

# One document per function: its own operations, the shared components.
mkdir -p "$work"
functions=$("$venv/bin/python" - "$work" <<'PY'
import json, sys

doc = json.load(open("functions/openapi.json"))
functions = sorted({f for ops in doc["paths"].values() for op in ops.values() for f in op["x-functions"]})
for function in functions:
    own = dict(doc)
    own["paths"] = {}
    for path, ops in doc["paths"].items():
        served = {m: op for m, op in ops.items() if function in op["x-functions"]}
        if served:
            own["paths"][path] = served
    json.dump(own, open(f"{sys.argv[1]}/{function}.json", "w"), indent=1)
print(" ".join(functions))
PY
)

failed=()
for function in $functions; do
  say "Schemathesis against cogs-$function ($base/cogs-$function)"
  # Locally no authorizer reads the bearer token: it is there because the document
  # requires one, and the development header names the tenant.
  # Run from $work: Schemathesis keeps its cache in the working directory.
  if ! (cd "$work" && COGS_CONTRACT_RUN_ID=$run_id PYTHONPATH="$root/scripts" SCHEMATHESIS_HOOKS=schemathesis_hooks \
    "$venv/bin/st" \
    --config-file "$root/scripts/schemathesis.toml" run "$function.json" \
    --url "$base/cogs-$function" \
    -H "X-Tenant-Id: $tenant" -H "Authorization: Bearer local-development" \
    --checks all --exclude-checks ignored_auth,missing_required_header \
    --seed "${COGS_SCHEMATHESIS_SEED:-20261203}" --workers 1 --output-truncate false \
    --report junit --report-dir "reports/$function"); then
    failed+=("cogs-$function")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: Schemathesis found failures in ${failed[*]} (reports in $work/reports)" >&2
  exit 1
fi
say "Schemathesis: every function agrees with functions/openapi.json"
