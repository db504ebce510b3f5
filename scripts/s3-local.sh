#!/usr/bin/env bash
# Starts a local S3-protocol server for the tests: moto's server from PyPI, on
# 127.0.0.1:${COGS_S3_PORT:-5055} (it also speaks Step Functions). Installs moto when
# missing; leaves a running server alone. Safe to run again; prompts for nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

port=${COGS_S3_PORT:-5055}
if curl -sf "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then
  say "the local S3 server (moto) is running on 127.0.0.1:$port"
  exit 0
fi
if ! python3 -c 'import moto.server' 2>/dev/null; then
  say "installing moto's server (pip install 'moto[server]')"
  python3 -m pip install --quiet --disable-pip-version-check 'moto[server]'
fi
say "starting the local S3 server (moto) on 127.0.0.1:$port"
nohup python3 -m moto.server -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/cogs-moto.log" 2>&1 &
for _ in $(seq 1 30); do
  curl -sf "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "moto did not start; see ${TMPDIR:-/tmp}/cogs-moto.log" >&2
exit 1
