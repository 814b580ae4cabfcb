#!/usr/bin/env bash
# Smoke test of the real artifacts. For each built bootstrap:
#   - `cargo lambda watch --only-lambda-apis` serves the Lambda runtime API
#     (and the invoke API) on a free loopback port;
#   - the bootstrap runs as the function `_` against it: an aarch64 one under
#     qemu-aarch64 (with the Debian aarch64 glibc as QEMU_LD_PREFIX), anything
#     else natively; STORE=memory and MAILER=outbox, so no AWS is needed;
#   - `cargo lambda invoke` sends one API Gateway HTTP API (v2) event with JWT
#     claims (built from tests/fixtures/apigw-v2-jwt-authorizer.json) and the
#     response's status and JSON body are checked (for the portal: the page
#     and its Content-Security-Policy); an event-triggered function (no route:
#     mail-events, invitation-sender) gets its own event (an SNS-delivered SES
#     bounce; two SQS delivery jobs for an invitation that does not exist, on
#     their last and first receive) and must answer what it should: null,
#     or the batch item failures to retry (only the first-receive job).
# Every wait is bounded; every process started here is stopped by its PID.
#
# Usage: scripts/smoke_lambda.sh [BOOTSTRAP...]
#   default: every .aws-sam/build/*/bootstrap (run scripts/sam_checks.sh first).
#   The request is chosen by the bootstrap's folder: a template logical id
#   (ListInvitationsFunction) or a binary name (target/lambda/list-invitations).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FIXTURE=tests/fixtures/apigw-v2-jwt-authorizer.json
QEMU_LD_PREFIX_DIR=/usr/aarch64-linux-gnu
WATCH_READY_SECS=20
INVOKE_SECS=60
STOP_SECS=5

./scripts/install_tools.sh
export PATH="$ROOT/.venv-tools/bin:$PATH"
PY=$ROOT/.venv-tools/bin/python

if [ $# -gt 0 ]; then
  BOOTSTRAPS=("$@")
else
  shopt -s nullglob
  BOOTSTRAPS=(.aws-sam/build/*/bootstrap)
  shopt -u nullglob
  [ ${#BOOTSTRAPS[@]} -gt 0 ] || {
    echo "no .aws-sam/build/*/bootstrap: run scripts/sam_checks.sh first" >&2
    exit 1
  }
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/smoke-lambda.XXXXXX")
PIDS=()
stop() { # stop PIDs: SIGTERM, up to STOP_SECS, then SIGKILL
  local p i alive
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i <= STOP_SECS * 10; i++)); do
    alive=()
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    [ ${#alive[@]} -gt 0 ] || break
    if [ "$i" -eq $((STOP_SECS * 10)) ]; then
      kill -KILL "${alive[@]}" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  wait "$@" 2>/dev/null || true
}
on_exit() {
  local rc=$?
  [ ${#PIDS[@]} -eq 0 ] || stop "${PIDS[@]}"
  if [ "$rc" -eq 0 ]; then rm -rf "$WORK"; else echo "smoke logs kept in $WORK" >&2; fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# `cargo lambda watch` reads a Cargo manifest at start (cargo metadata) even
# with --only-lambda-apis. An empty crate keeps it off the workspace (no
# dependency resolution, no Cargo.lock rewrite); nothing is compiled.
mkdir -p "$WORK/emulator/src"
printf '[package]\nname = "smoke-emulator"\nversion = "0.0.0"\nedition = "2021"\n' \
  >"$WORK/emulator/Cargo.toml"
echo 'fn main() {}' >"$WORK/emulator/src/main.rs"

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Prints "<qemu|native> <method> <path> <status> <check>" and writes the event
# to $2, or fails for a folder it does not know.
prepare() {
  "$PY" - "$1" "$2" "$FIXTURE" <<'EOF'
import base64, json, os, struct, sys

bootstrap, out, fixture = sys.argv[1:]
folder = os.path.basename(os.path.dirname(os.path.abspath(bootstrap)))
key = folder.removesuffix("Function").replace("-", "").lower()
# function -> (method, route key, path, body, status, check); check is either
# "key:<field>" (a field of the JSON body) or "error:<code>" (error envelope).
REQUESTS = {
    "listinvitations": ("GET", "/v1/me/invitations", "/v1/me/invitations", None, 200, "key:licenses"),
    "redeemcode": ("POST", "/v1/redemptions", "/v1/redemptions",
                   {"code": "ZZZZ-ZZZZ-ZZZZ"}, 404, "error:CODE_NOT_FOUND"),
    "acceptinvite": ("GET", "/v1/invites/{token}", "/v1/invites/smoke-token", None, 404,
                     "error:INVITE_NOT_FOUND"),
    "contactowner": ("POST", "/v1/licenses/{licenseId}/contact-owner",
                     "/v1/licenses/lic-smoke/contact-owner",
                     {"subject": "Hello", "message": "Smoke test"}, 404, "error:LICENSE_NOT_FOUND"),
    "licenseadmin": ("GET", "/v1/licenses", "/v1/licenses", None, 200, "key:licenses"),
    "invitationadmin": ("GET", "/v1/licenses/{licenseId}/invitations",
                        "/v1/licenses/lic-smoke/invitations", None, 404, "error:LICENSE_NOT_FOUND"),
    "portal": ("GET", "/invite/{token}", "/invite/smoke-token", None, 200, "html:portal-config"),
}
# Functions that serve no route: their event, checked as "none:" (the
# function answers null, no error) unless EVENT_ANSWERS names its answer.
def sqs_record(message_id, receives, body):
    return {"messageId": message_id, "receiptHandle": "smoke", "body": json.dumps(body),
            "attributes": {"ApproximateReceiveCount": str(receives), "SentTimestamp": "1788249600000",
                           "SenderId": "smoke", "ApproximateFirstReceiveTimestamp": "1788249600000"},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:smoke", "awsRegion": "us-east-1"}
JOB = {"licenseId": "lic-smoke", "invitationId": "inv_smoke"}
EVENT_ANSWERS = {
    # Not readable: given up on its last receive, tried again on its first.
    "invitationsender": {"batchItemFailures": [{"itemIdentifier": "smoke-2"}]},
}
EVENTS = {
    "invitationsender": {"Records": [sqs_record("smoke-1", 8, JOB), sqs_record("smoke-2", 1, JOB)]},
    "mailevents": {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:mail-events:smoke",
        "Sns": {
            "Type": "Notification", "MessageId": "smoke-1",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:mail-events",
            "Subject": None, "Timestamp": "2026-09-01T08:00:00.000Z",
            "SignatureVersion": "1", "Signature": "smoke", "SigningCertUrl": "https://sns.example/c.pem",
            "UnsubscribeUrl": "https://sns.example/u", "MessageAttributes": {},
            "Message": json.dumps({"eventType": "Bounce", "bounce": {
                "bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "gone@example.edu"}]},
                "mail": {"messageId": "smoke"}}),
        },
    }]},
}
if key not in REQUESTS and key not in EVENTS:
    sys.exit(f"{bootstrap}: no smoke request for a function named {folder!r}")

with open(bootstrap, "rb") as f:
    head = f.read(20)
aarch64 = head[:4] == b"\x7fELF" and struct.unpack_from("<H", head, 18)[0] == 183
runner = "qemu" if aarch64 and os.uname().machine not in ("aarch64", "arm64") else "native"
if key in EVENTS:
    json.dump(EVENTS[key], open(out, "w"))
    answer = EVENT_ANSWERS.get(key)
    check = "none:" if answer is None else "json64:" + base64.b64encode(json.dumps(answer).encode()).decode()
    print(runner, "EVENT", folder, 0, check)
    sys.exit(0)
method, route, path, body, status, check = REQUESTS[key]

event = json.load(open(fixture))
for k in ("cookies", "queryStringParameters", "stageVariables"):
    event.pop(k, None)
route_key = f"{method} {route}"
event.update(routeKey=route_key, rawPath=path, rawQueryString="", isBase64Encoded=False,
             headers={"authorization": "Bearer smoke", "content-type": "application/json",
                      "user-agent": "smoke-lambda"},
             body=json.dumps(body) if body is not None else None)
names = [s[1:-1] for s in route.split("/") if s.startswith("{")]
values = [v for s, v in zip(route.split("/"), path.split("/")) if s.startswith("{")]
if names:
    event["pathParameters"] = dict(zip(names, values))
else:
    event.pop("pathParameters", None)
ctx = event["requestContext"]
ctx.pop("authentication", None)
ctx.update(routeKey=route_key, stage="$default")
ctx["http"].update(method=method, path=path, sourceIp="127.0.0.1", userAgent="smoke-lambda")
# What the JWT authorizer passes on: every claim as a string.
ctx["authorizer"] = {"jwt": {"claims": {
    "sub": "smoke-user", "email": "smoke@example.edu", "email_verified": "true",
    "name": "Smoke Test"}, "scopes": None}}
json.dump(event, open(out, "w"))
print(runner, method, path, status, check)
EOF
}

check_response() {
  "$PY" - "$@" <<'EOF'
import json, sys
resp_file, want_status, check = sys.argv[1], int(sys.argv[2]), sys.argv[3]
raw = open(resp_file).read()
kind, _, name = check.partition(":")
if kind == "none":
    # An event-triggered function: it answers null; an error is an object.
    if raw.strip() not in ("null", ""):
        sys.exit(f"the function answered {raw[:500]!r}, want null")
    print("    answered null")
    sys.exit(0)
if kind == "json64":
    import base64
    want = json.loads(base64.b64decode(name))
    try:
        got = json.loads(raw)
    except ValueError:
        sys.exit(f"the function answered {raw[:500]!r}, want {want}")
    if got != want:
        sys.exit(f"the function answered {got}, want {want}")
    print(f"    answered {json.dumps(got)}")
    sys.exit(0)
try:
    resp = json.loads(raw)
    body = resp.get("body") or ""
    if resp.get("isBase64Encoded"):
        import base64
        body = base64.b64decode(body).decode("utf-8")
    status = resp.get("statusCode")
    doc = body if kind == "html" else (json.loads(body) if body else None)
except (ValueError, AttributeError) as e:
    sys.exit(f"not an API Gateway response ({e}): {raw[:500]!r}")
problems = []
if status != want_status:
    problems.append(f"statusCode {status}, want {want_status}")
if kind == "html":
    csp = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}.get("content-security-policy", "")
    if name not in doc:
        problems.append(f"the page has no {name!r}")
    if "script-src 'self'" not in csp:
        problems.append(f"no strict Content-Security-Policy: {csp!r}")
elif not isinstance(doc, dict):
    problems.append("body is not a JSON object")
elif kind == "key" and name not in doc:
    problems.append(f"body has no {name!r}")
elif kind == "error" and (doc.get("error") or {}).get("code") != name:
    problems.append(f"error code {(doc.get('error') or {}).get('code')!r}, want {name!r}")
if problems:
    sys.exit("; ".join(problems) + f": {raw[:500]}")
print(f"    statusCode {status}, body {body[:120]}")
EOF
}

smoke() {
  local bootstrap=$1 n=$2 runner method path status check port watch_pid fn_pid t0 i
  [ -x "$bootstrap" ] || { echo "$bootstrap: not an executable file" >&2; return 1; }
  read -r runner method path status check < <(prepare "$bootstrap" "$WORK/event-$n.json") || return 1
  [ -n "${check:-}" ] || return 1
  echo "==> $bootstrap ($runner): $method $path, expect $status $check"

  port=$(free_port)
  (cd "$WORK/emulator" && exec cargo-lambda lambda watch --only-lambda-apis --ignore-changes \
    --invoke-address 127.0.0.1 --invoke-port "$port") >"$WORK/watch-$n.log" 2>&1 &
  watch_pid=$!
  PIDS+=("$watch_pid")
  for ((i = 0; ; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$watch_pid" 2>/dev/null || { cat "$WORK/watch-$n.log" >&2; echo "runtime API emulator exited" >&2; return 1; }
    [ "$i" -lt $((WATCH_READY_SECS * 10)) ] || { echo "runtime API emulator not listening after ${WATCH_READY_SECS}s" >&2; return 1; }
    sleep 0.1
  done

  local cmd=("$bootstrap")
  if [ "$runner" = qemu ]; then
    [ -e "$QEMU_LD_PREFIX_DIR/lib/ld-linux-aarch64.so.1" ] ||
      { echo "no aarch64 glibc in $QEMU_LD_PREFIX_DIR (scripts/install_tools.sh installs it)" >&2; return 1; }
    cmd=(qemu-aarch64 "$bootstrap")
  fi
  t0=${EPOCHREALTIME/./}
  # A clean environment, as Lambda gives: the runtime API, the function's
  # identity, and the function's own variables.
  env -i PATH=/usr/bin:/bin QEMU_LD_PREFIX="$QEMU_LD_PREFIX_DIR" \
    AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$port/.rt" \
    AWS_LAMBDA_FUNCTION_NAME=_ AWS_LAMBDA_FUNCTION_VERSION='$LATEST' \
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
    STORE=memory MAILER=outbox RUST_LOG=info PORTAL_BASE_URL=https://portal.example.com \
    OIDC_ISSUER=https://issuer.example OIDC_CLIENT_ID=smoke \
    "${cmd[@]}" >"$WORK/function-$n.log" 2>&1 &
  fn_pid=$!
  PIDS+=("$fn_pid")

  # The invocation waits in the emulator until the function asks for it; a
  # function that dies first (a panic at init, a missing library) fails fast.
  cargo-lambda lambda invoke _ --invoke-address 127.0.0.1 --invoke-port "$port" \
    --data-file "$WORK/event-$n.json" --output-format json \
    >"$WORK/response-$n.json" 2>"$WORK/invoke-$n.log" &
  local invoke_pid=$! invoke_rc=0 why=""
  PIDS+=("$invoke_pid")
  for ((i = 0; ; i++)); do
    if ! kill -0 "$invoke_pid" 2>/dev/null; then
      wait "$invoke_pid" || invoke_rc=$?
      [ "$invoke_rc" -eq 0 ] || why="invoke exited with $invoke_rc"
      break
    fi
    if ! kill -0 "$fn_pid" 2>/dev/null; then
      sleep 0.5 # a response already sent may still be on its way
      kill -0 "$invoke_pid" 2>/dev/null || continue
      why="the function exited before answering"
      break
    fi
    [ "$i" -lt $((INVOKE_SECS * 10)) ] || { why="no response after ${INVOKE_SECS}s"; break; }
    sleep 0.1
  done
  if [ -n "$why" ]; then
    stop "$invoke_pid"
    echo "$why" >&2
    tail -n 20 "$WORK/function-$n.log" "$WORK/invoke-$n.log" "$WORK/watch-$n.log" >&2
    return 1
  fi
  printf '    response %.0f ms after start (under emulation: not a cold-start figure)\n' \
    "$(((${EPOCHREALTIME/./} - t0) / 1000))"
  check_response "$WORK/response-$n.json" "$status" "$check" ||
    { tail -n 20 "$WORK/function-$n.log" >&2; return 1; }

  stop "$fn_pid" "$watch_pid"
  PIDS=()
  echo "    function log: $(head -c 300 "$WORK/function-$n.log" | head -n 2 | tr '\n' ' ')"
}

n=0
for bootstrap in "${BOOTSTRAPS[@]}"; do
  n=$((n + 1))
  smoke "$bootstrap" "$n"
done
echo "    ${#BOOTSTRAPS[@]} function(s) answered as expected"
