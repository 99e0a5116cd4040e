#!/usr/bin/env bash
# Installs the pinned dependencies, builds every workspace and starts the pipeline locally.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/pnpm.sh install --frozen-lockfile
./scripts/pnpm.sh build
exec node scripts/start.js
