#!/usr/bin/env bash
# Installs what the platform needs, idempotently: Debian's nats-server, the npm packages from the lock file,
# and the default embedding models that are generated rather than committed. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  echo "setup: installing nats-server (Debian)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server >/dev/null
fi

# onnxruntime-node's postinstall would download CUDA libraries from a host we cannot reach.
export ONNXRUNTIME_NODE_INSTALL=skip
stamp=node_modules/.sift-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # `npm install` with the committed lock rather than `npm ci`: chdb lists optional per-platform packages
  # that are not all published, so the lock cannot record them and `npm ci` refuses it.
  echo "setup: npm install (from package-lock.json)"
  npm install --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

npx tsx models/builders/build-defaults.ts
