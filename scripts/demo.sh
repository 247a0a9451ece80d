#!/usr/bin/env bash
# The quick-start demo on embedded defaults (installs what it needs first).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"
bash scripts/setup.sh
exec npx tsx scripts/demo.ts
