#!/usr/bin/env bash
# The local DynamoDB and SES emulator: moto behind one lock
# (scripts/moto_locked.py), from pinned packages in .venv (which also holds
# the pinned schemathesis of scripts/schemathesis.sh).
#   scripts/emulator.sh                 install if needed, then serve on 127.0.0.1:5000
#   scripts/emulator.sh --port 5001     another port
#   scripts/emulator.sh --install-only  only install (the test command uses this)
# Extra arguments go to moto_locked.py (e.g. --host 0.0.0.0 for sam local).
set -euo pipefail
cd "$(dirname "$0")/.."

# schemathesis (scripts/schemathesis.sh) shares the venv: one resolve keeps
# every pin here.
PINS=(moto==5.2.5 flask==3.1.3 flask-cors==6.0.5 werkzeug==3.1.9 boto3==1.44.8 botocore==1.44.8
  schemathesis==4.32.5)
VENV=.venv
PY=$VENV/bin/python

[ -x "$PY" ] || python3 -m venv "$VENV"
if ! "$PY" - "${PINS[@]}" 2>/dev/null <<'PYEOF'; then
import sys
from importlib.metadata import version
sys.exit(any(version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))
PYEOF
  echo "installing ${PINS[*]} into $VENV" >&2
  "$PY" -m pip install -q --disable-pip-version-check "${PINS[@]/#moto==/moto[server]==}"
fi

PORT=5000
ARGS=()
while [ $# -gt 0 ]; do
  case $1 in
    --install-only) exit 0 ;;
    --port) PORT=$2; shift 2 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
echo "DynamoDB and SES emulator on http://127.0.0.1:$PORT (Ctrl-C stops)" >&2
exec "$PY" scripts/moto_locked.py --port "$PORT" "${ARGS[@]}"
