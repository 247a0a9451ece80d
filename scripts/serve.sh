#!/usr/bin/env bash
# Runs the platform until Ctrl-C, gateway on SIFT_GATEWAY_PORT (default 8080); installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"
bash scripts/setup.sh
exec npx tsx scripts/serve.ts
