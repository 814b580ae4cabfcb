#!/usr/bin/env bash
# Randomized seat-claim stampedes with DynamoDB fault injection and a
# history checker (docs/stampede.md). Starts its own emulator
# (scripts/moto_locked.py, memory-capped) and fault-injecting proxy
# (tests/stampede/proxy.py) on free ports, runs tests/stampede/run.py
# against a prebuilt devserver, and stops both on exit.
#
# Usage: scripts/stampede.sh [--runs N] [--seed S] [--no-faults] [--keep DIR] [--quiet] ...
#   default: the short batch, 50 runs, seed 1 (a few minutes at most)
#   long batch: scripts/stampede.sh --runs 1000 --seed S
#   DEVSERVER=path overrides target/debug/devserver (it is not built here).
# Exit status: 0 if no invariant was violated, 1 if one was, 2 on setup failure.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
DEVSERVER=${DEVSERVER:-target/debug/devserver}
# The emulator's address-space cap: a runaway table cannot take the machine.
MOTO_MEMORY_LIMIT=6000000000

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_listening() { # port, name: up to 30 s
  local i
  for i in $(seq 300); do
    if "$PY" -c "import socket, sys; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "stampede: $2 did not start on port $1" >&2
  return 1
}

[ -x "$PY" ] || { echo "stampede: $PY missing (scripts/emulator.sh --install-only)" >&2; exit 2; }
# The binary may be relinked meanwhile: wait for it, bounded.
for i in $(seq 120); do [ -x "$DEVSERVER" ] && break; sleep 1; done
[ -x "$DEVSERVER" ] || { echo "stampede: $DEVSERVER missing (cargo build --bin devserver)" >&2; exit 2; }

LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/stampede-logs.XXXXXX")
PIDS=()
cleanup() {
  local p i
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for i in $(seq 50); do # up to 5 s, then SIGKILL
    local alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$LOGDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

MOTO_PORT=$(free_port)
prlimit --as=$MOTO_MEMORY_LIMIT "$PY" scripts/moto_locked.py --port "$MOTO_PORT" >"$LOGDIR/moto.log" 2>&1 &
PIDS+=($!)
PROXY_PORT=$(free_port)
"$PY" tests/stampede/proxy.py --port "$PROXY_PORT" --upstream "http://127.0.0.1:$MOTO_PORT" >"$LOGDIR/proxy.log" 2>&1 &
PIDS+=($!)
wait_listening "$MOTO_PORT" "the emulator" || { cat "$LOGDIR/moto.log" >&2; exit 2; }
wait_listening "$PROXY_PORT" "the proxy" || { cat "$LOGDIR/proxy.log" >&2; exit 2; }

"$PY" tests/stampede/run.py --moto "http://127.0.0.1:$MOTO_PORT" \
  --proxy "http://127.0.0.1:$PROXY_PORT" --devserver "$DEVSERVER" "$@"
