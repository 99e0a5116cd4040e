#!/usr/bin/env bash
# Installs the dependencies the lockfile pins, builds every workspace and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/pnpm.sh install --frozen-lockfile
./scripts/pnpm.sh test "$@"
