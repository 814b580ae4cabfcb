#!/usr/bin/env bash
# Installs the tools the deployment checks need, at pinned versions, and
# skips whatever is already there at those versions (idempotent):
#   - .venv-tools/ (Python venv, kept apart from the moto venv .venv/):
#     cargo-lambda + ziglang (cross-compiles the arm64 bootstrap),
#     aws-sam-cli + cfn-lint (sam validate --lint, cfn-lint, sam build;
#     its samtranslator also runs scripts/template_checks.py);
#   - .venv-checkov/ (checkov, the template's security scan; a venv of its
#     own because its dependency pins clash with aws-sam-cli's);
#   - the Rust std for aarch64-unknown-linux-gnu (rustup target);
#   - Debian qemu-user (qemu-aarch64) plus libc6-arm64-cross and
#     libgcc-s1-arm64-cross: the bootstrap is linked dynamically against
#     glibc, so qemu needs an aarch64 loader and libc
#     (QEMU_LD_PREFIX=/usr/aarch64-linux-gnu); skipped with --no-qemu.
# Usage: scripts/install_tools.sh [--no-qemu]
# Afterwards: export PATH="$PWD/.venv-tools/bin:$PATH" (the venv's python
# must come first so that cargo-lambda finds ziglang).
set -euo pipefail
cd "$(dirname "$0")/.."

# Bump together. ziglang stays on 0.15.x: zig 0.16's `ar` cannot create
# archives (breaks cc-rs builds such as aws-lc-sys and ring), and 0.15.2 is
# the zig that aws-lc-rs tests cargo-zigbuild with. cfn-lint is what
# aws-sam-cli 1.170.0 resolves to anyway, pinned so lint results do not move.
PINS=(cargo-lambda==1.9.2 ziglang==0.15.2 aws-sam-cli==1.170.0 cfn-lint==1.58.0)
RUST_TARGET=aarch64-unknown-linux-gnu
# Debian bookworm versions. Point releases drop superseded versions from the
# mirror, so a pin that is gone falls back to the current candidate (with a
# warning) rather than failing the whole run.
APT_PINS=(qemu-user=1:7.2+dfsg-7+deb12u18+b2 libc6-arm64-cross=2.36-8cross1
  libgcc-s1-arm64-cross=12.2.0-14cross1)
# What each of APT_PINS installs, to tell whether it is there already.
APT_FILES=(/usr/bin/qemu-aarch64 /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1
  /usr/aarch64-linux-gnu/lib/libgcc_s.so.1)
VENV=${TOOLS_VENV:-.venv-tools}
PY=$VENV/bin/python
# checkov in its own venv (its pins clash with aws-sam-cli's).
CHECKOV_PINS=(checkov==3.3.30)
CHECKOV_VENV=${CHECKOV_VENV:-.venv-checkov}
CHECKOV_PY=$CHECKOV_VENV/bin/python

WITH_QEMU=1
for arg in "$@"; do
  case $arg in
    --no-qemu) WITH_QEMU=0 ;;
    *) echo "usage: $0 [--no-qemu]" >&2; exit 2 ;;
  esac
done

now() { echo "${EPOCHREALTIME/./}"; }
T_ALL=$(now)
say() { echo "==> $*"; }

# --- Python tools ------------------------------------------------------------
# Exit 0 when python $1's venv has every pin that follows.
pinned() {
  "$1" - "${@:2}" 2>/dev/null <<'EOF'
import sys
from importlib.metadata import version
sys.exit(any(version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))
EOF
}
[ -x "$PY" ] || python3 -m venv "$VENV"
if pinned "$PY" "${PINS[@]}"; then
  say "python tools already at ${PINS[*]}"
else
  say "pip install ${PINS[*]} into $VENV"
  "$PY" -m pip install -q --disable-pip-version-check "${PINS[@]}"
fi
[ -x "$CHECKOV_PY" ] || python3 -m venv "$CHECKOV_VENV"
if pinned "$CHECKOV_PY" "${CHECKOV_PINS[@]}"; then
  say "checkov already at ${CHECKOV_PINS[*]}"
else
  say "pip install ${CHECKOV_PINS[*]} into $CHECKOV_VENV"
  "$CHECKOV_PY" -m pip install -q --disable-pip-version-check "${CHECKOV_PINS[@]}"
fi

# --- Rust std for arm64 ------------------------------------------------------
# cargo-lambda would run this itself, but doing it here keeps the build log
# clean and fails early and clearly if the Rust dist server is unreachable.
if rustup target list --installed | grep -qx "$RUST_TARGET"; then
  say "rust target $RUST_TARGET already installed"
else
  say "rustup target add $RUST_TARGET"
  rustup target add "$RUST_TARGET"
fi

# --- qemu-user and the aarch64 glibc ----------------------------------------
if [ "$WITH_QEMU" = 1 ]; then
  SUDO=()
  [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
  missing=()
  for i in "${!APT_PINS[@]}"; do
    [ -e "${APT_FILES[$i]}" ] || missing+=("${APT_PINS[$i]}")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "qemu-aarch64 and the aarch64 runtime libraries already installed"
  else
    apt_install() {
      DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q \
        --no-install-recommends "$@" >/dev/null
    }
    say "apt-get install ${missing[*]}"
    if ! apt_install "${missing[@]}"; then
      # Stale or absent package lists: refresh once, then try the pins again.
      say "apt-get update"
      "${SUDO[@]}" apt-get update -q >/dev/null
      if ! apt_install "${missing[@]}"; then
        echo "WARNING: pinned ${missing[*]} not available; installing current versions" >&2
        apt_install "${missing[@]%%=*}"
      fi
    fi
  fi
fi

# --- report --------------------------------------------------------------------
"$PY" - <<'EOF'
from importlib.metadata import version
print("    " + ", ".join(f"{n} {version(n)}" for n in
      ("cargo-lambda", "ziglang", "aws-sam-cli", "cfn-lint", "aws-sam-translator")))
EOF
"$CHECKOV_PY" -c 'from importlib.metadata import version; print("    checkov", version("checkov"))'
if [ "$WITH_QEMU" = 1 ]; then
  echo "    $(qemu-aarch64 --version | head -1)"
fi
printf '    tools ready in %.1f s\n' "$(($(now) - T_ALL))e-6"
