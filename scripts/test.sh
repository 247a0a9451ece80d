#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this). Installs what it needs first.
# Ends with the plain line "N passed, N failed" that CI reads.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"

bash scripts/setup.sh
echo "== contracts are current"; bash scripts/generate-contracts.sh --check
echo "== wasm kernels are current"; npx tsx scripts/build-wasm.ts --check
echo "== buf lint + format"; npx buf lint && npx buf format --diff --exit-code
echo "== biome"; npx biome check --error-on-warnings .
echo "== typecheck"; npx tsc -p tsconfig.json

mkdir -p .data
report=.data/vitest-report.json
rm -f "$report"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" || status=$?
node scripts/test-summary.mjs "$report"
exit "$status"
