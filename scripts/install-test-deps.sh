#!/usr/bin/env bash
# Installs what the test suite needs beyond the .NET SDK, idempotently, on Debian 12:
#   mosquitto-clients (mosquitto_pub/mosquitto_sub: a non-.NET MQTT client for the wire tests)
#   nodejs + npm      (the Node gRPC/MQTT clients and the turf/gcoord geometry oracles), then tests/node's packages.
# The mosquitto *broker* is not installed here: on a systemd machine its package starts a service on port 1883,
# the gateway's own default. The benchmark (bench/run.sh) installs it and runs it on a port of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-test-deps: installing ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Node packages for tests/node, reinstalled only when package-lock.json changed.
stamp=tests/node/node_modules/.sharpeyes-lock.sha256
want=$(sha256sum tests/node/package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "install-test-deps: npm ci in tests/node"
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi
