#!/usr/bin/env bash
# Idempotent machine setup: installs only what is missing, builds the native shim.
# Usage: infra/setup.sh [--test] [--bench] [--quiet]
#   --test   also install what the test suite uses (the python3-torch peer; chromium for the play UI tests)
#   --bench  also install the benchmark peers (python3-torch)
# On a machine already set up this takes a few seconds.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUIET=0; WANT_TEST=0; WANT_BENCH=0
for arg in "$@"; do
  case "$arg" in
    --test) WANT_TEST=1 ;;
    --bench) WANT_BENCH=1 ;;
    --quiet) QUIET=1 ;;
    *) echo "setup: unknown option '$arg' (expected --test, --bench, --quiet)" >&2; exit 2 ;;
  esac
done

say() { [ "$QUIET" = 1 ] || echo "setup: $*"; }
fail() { echo "setup: FAILED at step '$1': $2" >&2; exit 1; }

# Runs a named step; on failure prints the step name and the tail of its log.
run_step() {
  local name=$1; shift
  local log; log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -f "$log"
    fail "$name" "command failed: $*"
  fi
  rm -f "$log"
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- apt packages -----------------------------------------------------------
APT_PACKAGES=(libtorch-dev libopenblas0-pthread ffmpeg libzstd1 cmake g++ make curl)
# chromium: the `dreamer play` tests drive the page in headless Chromium over the DevTools protocol.
[ "$WANT_TEST" = 1 ] && APT_PACKAGES+=(python3-torch python3-numpy chromium)
[ "$WANT_BENCH" = 1 ] && APT_PACKAGES+=(python3-torch python3-numpy)
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || fail "apt packages" "apt-get not found; install manually: ${missing[*]}"
  say "installing apt packages: ${missing[*]}"
  run_step "apt-get update" as_root apt-get update -qq
  run_step "apt-get install ${missing[*]}" as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  say "apt packages present"
fi

# OpenBLAS with pthreads must be the active BLAS: the reference BLAS is ~30x slower for matmul.
if command -v update-alternatives >/dev/null 2>&1; then
  blas=$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | awk '/^Value:/{print $2}')
  case "$blas" in
    *openblas-pthread*|"") ;;
    *) say "selecting OpenBLAS (pthread) as libblas"
       target=$(update-alternatives --list libblas.so.3-x86_64-linux-gnu | grep openblas-pthread | head -n1)
       [ -n "$target" ] && run_step "select openblas" as_root update-alternatives --set libblas.so.3-x86_64-linux-gnu "$target" ;;
  esac
fi

# --- .NET SDK ---------------------------------------------------------------
command -v dotnet >/dev/null 2>&1 || fail "dotnet" "the .NET 10 SDK is required (dotnet not on PATH)"
dotnet_major=$(dotnet --version 2>/dev/null | cut -d. -f1)
[ "${dotnet_major:-0}" -ge 10 ] || fail "dotnet" "the .NET 10 SDK is required, found $(dotnet --version 2>/dev/null)"

# --- npm tools (Azurite, DuckDB), pinned by infra/tools/package-lock.json ---
TOOLS="$ROOT/infra/tools"
stamp="$TOOLS/node_modules/.dreamer-lock-sha"
lock_sha=$(sha256sum "$TOOLS/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sha" ]; then
  say "installing npm tools (azurite, duckdb)"
  # `npm install` with the lockfile present installs exactly the locked versions; `npm ci` refuses
  # this lockfile because DuckDB's other-platform optional bindings are not resolvable here.
  run_step "npm install (infra/tools)" npm install --prefix "$TOOLS" --no-audit --no-fund --no-save
  echo "$lock_sha" > "$stamp"
else
  say "npm tools present"
fi

# --- native shim over libtorch ---------------------------------------------
NATIVE_BUILD="$ROOT/infra/native/build"
if [ ! -f "$NATIVE_BUILD/CMakeCache.txt" ]; then
  say "configuring native shim"
  run_step "cmake configure (infra/native)" cmake -S "$ROOT/infra/native" -B "$NATIVE_BUILD" -DCMAKE_BUILD_TYPE=Release
fi
say "building native shim"
run_step "cmake build (infra/native)" cmake --build "$NATIVE_BUILD" -j "$(nproc)"

say "done"
