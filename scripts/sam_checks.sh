#!/usr/bin/env bash
# Deployment checks, offline:
#   1. sam validate --lint and cfn-lint on template.yaml;
#   2. scripts/template_checks.py on the template as SAM transforms it: every
#      route has the JWT authorizer but the portal's allow-listed public pages,
#      every function has the environment its code needs and sets nothing it
#      does not read; then its --self-test (mutations it must catch);
#   3. checkov (pinned, own venv, no network), which must find nothing: each
#      accepted finding is skipped in its resource's Metadata with the reason;
#   4. (unless --lint-only) the arm64 release build of every function with
#      cargo-lambda, then `sam build`, both into the repo's one target/;
#   5. every .aws-sam/build/<Function>/bootstrap is an aarch64 ELF executable.
# Steps 1-3 run no cargo.
# Tools come from scripts/install_tools.sh (pinned, idempotent).
# Usage: scripts/sam_checks.sh [--lint-only]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

LINT_ONLY=0
for arg in "$@"; do
  case $arg in
    --lint-only) LINT_ONLY=1 ;;
    *) echo "usage: $0 [--lint-only]" >&2; exit 2 ;;
  esac
done

now() { echo "${EPOCHREALTIME/./}"; } # microseconds
step() {
  echo "==> $*"
  local t0 rc
  t0=$(now)
  "$@" || { rc=$?; printf '    FAILED in %.1f s\n' "$(($(now) - t0))e-6"; exit "$rc"; }
  printf '    ok in %.1f s\n' "$(($(now) - t0))e-6"
}

./scripts/install_tools.sh --no-qemu
# The venv first: sam, cfn-lint, cargo-lambda, and the python that has ziglang.
export PATH="$ROOT/.venv-tools/bin:$PATH"
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export SAM_CLI_TELEMETRY=0

step sam validate --lint --template template.yaml
step cfn-lint template.yaml
step python scripts/template_checks.py
step python scripts/template_checks.py --self-test
# checkov's framework for SAM templates is cloudformation (it merges Globals
# and knows AWS::Serverless::*). Offline: no platform key, no downloads, no
# upload, no check for a newer checkov.
checkov_template() {
  env -u BC_API_KEY -u PRISMA_API_URL CKV_SKIP_PACKAGE_UPDATE_CHECK=true \
    "$ROOT/.venv-checkov/bin/checkov" --file template.yaml --framework cloudformation \
    --quiet --compact --skip-download --skip-results-upload
}
step checkov_template
[ "$LINT_ONLY" = 0 ] || exit 0

# "<LogicalId> <binary>" of every rust-cargolambda function in the template.
mapfile -t FUNCTIONS < <(python - <<'EOF'
from samcli.yamlhelper import yaml_parse
template = yaml_parse(open("template.yaml").read())
for name, res in template["Resources"].items():
    meta = res.get("Metadata") or {}
    if res.get("Type") == "AWS::Serverless::Function" and meta.get("BuildMethod") == "rust-cargolambda":
        print(name, meta["BuildProperties"]["Binary"])
EOF
)
[ ${#FUNCTIONS[@]} -gt 0 ] || { echo "no rust-cargolambda functions in template.yaml" >&2; exit 1; }

# One target/ for everything: sam's rust-cargolambda workflow builds in the
# source folder (CodeUri: .) and honours an explicit CARGO_TARGET_DIR (without
# one it asks `cargo metadata` for the workspace target/, the same place).
export CARGO_TARGET_DIR="$ROOT/target"

# sam build runs `cargo lambda build --release --arm64 --bin <b>` once per
# function, one after the other. Building all the binaries in one cargo run
# first lets the release links (fat LTO, one codegen unit each) use both
# cores; sam's own runs then find everything fresh and only copy.
BIN_ARGS=()
for f in "${FUNCTIONS[@]}"; do BIN_ARGS+=(--bin "${f#* }"); done
step cargo lambda build --release --arm64 "${BIN_ARGS[@]}"
step sam build --template template.yaml

echo "==> arm64 bootstraps"
python - "${FUNCTIONS[@]}" <<'EOF'
import os, struct, sys
EM_AARCH64 = 183
bad = []
for spec in sys.argv[1:]:
    name, binary = spec.split(" ", 1)
    path = os.path.join(".aws-sam", "build", name, "bootstrap")
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as e:
        bad.append(f"{path}: {e.strerror}")
        continue
    ok = (
        len(head) >= 20
        and head[:4] == b"\x7fELF"
        and head[4] == 2  # 64-bit
        and head[5] == 1  # little endian
        and struct.unpack_from("<H", head, 16)[0] in (2, 3)  # executable or PIE
        and struct.unpack_from("<H", head, 18)[0] == EM_AARCH64
        and os.access(path, os.X_OK)
    )
    size = os.path.getsize(path)
    print(f"    {'ok ' if ok else 'BAD'} {path} ({binary}, {size / 1e6:.1f} MB)")
    if not ok:
        bad.append(f"{path}: not an executable aarch64 ELF")
if bad:
    sys.exit("\n".join(bad))
EOF
