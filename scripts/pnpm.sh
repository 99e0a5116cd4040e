#!/usr/bin/env bash
# Runs the pnpm version the project pins, fetched from the npm registry when the machine lacks it.
set -euo pipefail
version=$(node -p "require('$(dirname "$0")/../package.json').packageManager.split('@')[1]")
if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null)" = "$version" ]; then
  exec pnpm "$@"
fi
exec npx --yes "pnpm@$version" "$@"
