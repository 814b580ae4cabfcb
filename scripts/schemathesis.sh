#!/usr/bin/env bash
# The API against its reference: schemathesis (pinned in .venv by
# scripts/emulator.sh) generates requests from docs/openapi.yaml and sends
# them to a devserver (embedded store and outbox) on a free 127.0.0.1 port,
# once as the demo's student and once as the license owner (so the admin
# routes answer as for an admin), and fails on any response the document
# does not describe: a 5xx, an undocumented status, content type, header or
# body, or a 405 without its Allow header.
#   scripts/schemathesis.sh          about 2,000 cases in all (the test command's step)
#   scripts/schemathesis.sh --long   over 20,000 cases (a few minutes)
#   DEVSERVER=target/debug/devserver scripts/schemathesis.sh   no cargo build first
# Extra arguments go to both `schemathesis run`s (e.g. --seed 7). One
# worker: with two, Python 3.11's parser can fail inside hypothesis
# ("AST constructor recursion depth mismatch"), an error of the tool, not
# of the API. A request may take 60 s before it counts as a hang: on a
# loaded machine (other builds on both cores) 10 s, the default, was seen
# to pass for an answer that takes a millisecond.
# Each run ends with schemathesis's summary ("Test cases: N generated, N
# passed"); a failure names its request as a curl command.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
ST=.venv/bin/schemathesis
SPEC=docs/openapi.yaml
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,unsupported_method,allow_header_conformance

# Examples per operation and phase (two runs), and a time limit per run
# that only a hang reaches.
EXAMPLES=18 LIMIT=300
if [ "${1:-}" = "--long" ]; then
  EXAMPLES=600 LIMIT=1800
  shift
fi

./scripts/emulator.sh --install-only
# DEVSERVER=path runs a devserver built before (no cargo here).
if [ -z "${DEVSERVER:-}" ]; then
  cargo build -q --bin devserver
  DEVSERVER="${CARGO_TARGET_DIR:-target}/debug/devserver"
fi

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
WORK=$(mktemp -d "${TMPDIR:-/tmp}/schemathesis.XXXXXX")
PORT=$PORT RUST_LOG=warn "$DEVSERVER" >"$WORK/devserver.log" 2>&1 &
DEV_PID=$!
on_exit() {
  local rc=$?
  kill -TERM "$DEV_PID" 2>/dev/null || true
  wait "$DEV_PID" 2>/dev/null || true
  if [ "$rc" -eq 0 ]; then rm -rf "$WORK"; else echo "devserver log and reports kept in $WORK" >&2; fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The demo's exports (API, TOKEN, OWNER_TOKEN, LICENSE, CODE, ...), once it answers.
for _ in $(seq 100); do
  DEMO=$(curl -sf "http://127.0.0.1:$PORT/_dev/demo.env" || true)
  [ -n "$DEMO" ] && break
  kill -0 "$DEV_PID" 2>/dev/null || { cat "$WORK/devserver.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$DEMO" ] || { echo "devserver on port $PORT not answering after 10 s" >&2; exit 1; }
eval "$DEMO"

# Counts of every run, summed at the end: generated cases and failures.
TOTAL=0
run() {
  local who=$1 token=$2 out="$WORK/$1.txt"
  shift 2
  echo "--- schemathesis as the $who ($EXAMPLES examples per operation and phase)"
  local rc=0
  timeout "$LIMIT" "$ST" --no-color run "$SPEC" --url "$API" -H "Authorization: Bearer $token" \
    --checks "$CHECKS" --max-examples "$EXAMPLES" --workers 1 --request-timeout 60 \
    "$@" >"$out" 2>&1 || rc=$?
  # The summary, without the per-operation progress lines.
  sed -n '/^=* SUMMARY =*$/,$p' "$out"
  local cases
  cases=$(sed -n 's/^ *\([0-9][0-9]*\) generated.*/\1/p' "$out" | tail -1)
  TOTAL=$((TOTAL + ${cases:-0}))
  if [ "$rc" -ne 0 ]; then
    sed -n '/^=* \(FAILURES\|ERRORS\) =*$/,/^=* WARNINGS =*$/p' "$out" | head -200 >&2
    echo "schemathesis as the $who failed (exit $rc); full output in $out" >&2
    return "$rc"
  fi
}
run student "$TOKEN" "$@"
run owner "$OWNER_TOKEN" "$@"
echo "$TOTAL generated cases (student and owner) answered as $SPEC documents"
echo "schemathesis: $TOTAL passed, 0 failed"
