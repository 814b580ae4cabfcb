#!/usr/bin/env bash
# The project's one test command: cargo fmt --check, clippy -D warnings and
# cargo test, with DynamoDB and SES emulated by two local moto servers
# (scripts/moto_locked.py, installed into .venv with pinned versions) and the
# license portal driven in Debian's Chromium (scripts/install_browser.sh;
# screenshots land in test-output/screenshots/); the short fault-injection
# stampede batch (scripts/stampede.sh); schemathesis against
# docs/openapi.yaml (scripts/schemathesis.sh); then the deployment checks:
# sam validate --lint, cfn-lint, the transformed template's routes and
# function environments (scripts/template_checks.py, and its self-test),
# checkov, the arm64 release build of every function with sam build, and a
# smoke test of each built bootstrap under qemu-aarch64 (scripts/sam_checks.sh,
# smoke_lambda.sh).
# Usage: scripts/test.sh [extra args for cargo test, e.g. -- --nocapture]
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
PY=$VENV/bin/python

now() { echo "${EPOCHREALTIME/./}"; } # microseconds
banner() { echo "==> $*"; T0=$(now); }
done_in() { printf '    %s in %.1f s\n' "$1" "$(($(now) - T0))e-6"; }
step() {
  banner "$*"
  "$@" || { rc=$?; done_in "FAILED"; exit "$rc"; }
  done_in "ok"
}

# --- python venv with the pinned emulator --------------------------------
banner "venv $VENV (scripts/emulator.sh --install-only)"
./scripts/emulator.sh --install-only
done_in "ok"

# --- two locked moto servers: DynamoDB and SES -----------------------------
banner "moto servers"
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/moto-logs.XXXXXX")
PIDS=()
stop_servers() {
  local p i
  [ ${#PIDS[@]} -gt 0 ] || return 0
  kill -TERM "${PIDS[@]}" 2>/dev/null || true
  for i in $(seq 51); do # SIGTERM, up to 5 s, then SIGKILL
    local alive=()
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    [ ${#alive[@]} -gt 0 ] || break
    [ "$i" -le 50 ] || { kill -KILL "${alive[@]}" 2>/dev/null || true; break; }
    sleep 0.1
  done
  wait "${PIDS[@]}" 2>/dev/null || true
  PIDS=()
}
on_exit() {
  local rc=$?
  stop_servers
  if [ "$rc" -eq 0 ]; then rm -rf "$LOGDIR"; else echo "moto logs kept in $LOGDIR" >&2; fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

read -r DDB_PORT SES_PORT < <("$PY" -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))')
"$PY" scripts/moto_locked.py --port "$DDB_PORT" >"$LOGDIR/dynamodb.log" 2>&1 &
PIDS+=($!)
"$PY" scripts/moto_locked.py --port "$SES_PORT" >"$LOGDIR/ses.log" 2>&1 &
PIDS+=($!)

# Poll until both answer HTTP (any status), up to 20 s; fail fast if one dies.
"$PY" - "dynamodb:$DDB_PORT:${PIDS[0]}" "ses:$SES_PORT:${PIDS[1]}" <<'EOF'
import sys, time, urllib.error, urllib.request
deadline = time.monotonic() + 20
for spec in sys.argv[1:]:
    name, port, pid = spec.split(":")
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2).read()
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            pass
        try:
            with open(f"/proc/{pid}/stat") as f:
                dead = f.read().rsplit(")", 1)[1].split()[0] in "ZX"
        except OSError:
            dead = True
        if dead:
            sys.exit(f"moto {name} server (pid {pid}) exited before answering")
        if time.monotonic() > deadline:
            sys.exit(f"moto {name} server on port {port} not answering after 20 s")
        time.sleep(0.1)
EOF
echo "    dynamodb http://127.0.0.1:$DDB_PORT (pid ${PIDS[0]}), ses http://127.0.0.1:$SES_PORT (pid ${PIDS[1]})"
done_in "ready"

export TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT"
export TEST_SES_ENDPOINT="http://127.0.0.1:$SES_PORT"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

# --- the browser tests' Chromium, chromedriver and axe-core (pinned) --------
step ./scripts/install_browser.sh

# --- cargo -----------------------------------------------------------------
step cargo fmt --all -- --check
step cargo clippy --workspace --all-targets -- -D warnings
step cargo test --workspace "$@"

# --- exactly once under faults: 50 randomized stampedes through a
# fault-injecting DynamoDB proxy, every history checked (docs/stampede.md;
# scripts/stampede.sh --runs 1000 for the long batch)
step ./scripts/stampede.sh --quiet

# --- the API against docs/openapi.yaml: schemathesis, about 2,000 generated
# requests to a devserver as a student and as the owner; no 5xx, and every
# status, content type, header and body as documented
# (scripts/schemathesis.sh --long sends over 20,000)
step ./scripts/schemathesis.sh

# --- the docs: every shell block of the README and the local guide, as written
step python3 scripts/check_docs.py README.md docs/local-sam.md

# --- deployment: template lint, arm64 build, smoke test of the artifacts ----
# (installs pinned cargo-lambda, zig, SAM CLI, cfn-lint, checkov and qemu-user itself)
step ./scripts/sam_checks.sh
step ./scripts/smoke_lambda.sh
