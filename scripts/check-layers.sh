#!/usr/bin/env bash
# Checks the layer rules of DESIGN.md and STYLE.md that the compiler cannot:
# model, money, engine and journal are pure (no I/O, async, SQL, AWS or clock), and
# each layer uses only the layers below it.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
forbid() { # forbid WHAT PATTERN FILES...
  local what=$1 pattern=$2
  shift 2
  local hits
  # Comment lines may name what the code must not use.
  if hits=$(grep -nE "$pattern" "$@" 2>/dev/null | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//'); then
    echo "layer violation: $what"
    echo "$hits" | sed 's/^/  /'
    status=1
  fi
}

pure=(shared/src/money.rs)
mapfile -t -O "${#pure[@]}" pure < <(find shared/src/model shared/src/engine shared/src/journal -name '*.rs')
forbid "pure modules do no I/O, async, SQL, AWS or clock reads" \
  '\b(tokio|postgres|deadpool|aws_[a-z_]+|lambda_[a-z_]+|async|await)\b|std::(fs|net|process|thread|env)|(Utc|Local|SystemTime|Instant)::now' \
  "${pure[@]}"
forbid "model and money depend on nothing above them" \
  'crate::(engine|ingest|journal|db|staging|service|http)' $(find shared/src/model -name '*.rs') shared/src/money.rs
forbid "the engine depends only on model and money" \
  'crate::(ingest|journal|db|staging|service|http)' $(find shared/src/engine -name '*.rs')
forbid "journal depends only on model and money" \
  'crate::(engine|ingest|db|staging|service|http)' $(find shared/src/journal -name '*.rs')
forbid "ingest depends only on model" \
  'crate::(engine|journal|db|staging|service|http)' $(find shared/src/ingest -name '*.rs')
forbid "SQL lives only in cogs_core::db" \
  '\b(select|insert into|update|delete from) [a-z_]+ ' $(find shared/src functions -name '*.rs' -not -path '*/db/*' -not -path '*/tests*')
forbid "configuration is read once, by lambda::Config at start: nothing else in cogs-core reads the environment" \
  'env::(var|var_os|vars)\b' $(find shared/src -name '*.rs' -not -path '*/lambda/config.rs')

if [ "$status" -eq 0 ]; then echo "layers: ok"; fi
exit "$status"
