#!/usr/bin/env bash
# Regenerates packages/contracts from proto/ (ts-proto via buf, plus the descriptor set used by gRPC
# reflection). With --check, generates into a temporary folder and fails if the committed code differs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=packages/contracts/src
if [[ "${1:-}" == "--check" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  npx buf generate --output "$tmp"
  npx buf build -o "$tmp/descriptor.binpb"
  if ! diff -r "$tmp/$out/gen" "$out/gen" >/dev/null || ! cmp -s "$tmp/descriptor.binpb" "$out/descriptor.binpb"; then
    echo "packages/contracts is stale: run 'npm run generate' and commit the result" >&2
    diff -r "$tmp/$out/gen" "$out/gen" | head -20 >&2 || true
    exit 1
  fi
  echo "contracts: generated code is current"
  exit 0
fi
rm -rf "$out/gen"
npx buf generate
npx buf build -o "$out/descriptor.binpb"
echo "contracts: regenerated $out/gen and $out/descriptor.binpb"
