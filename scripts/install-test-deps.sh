#!/usr/bin/env bash
# Installs what the test suite needs beyond the .NET SDK, idempotently, on Debian 12:
#   the gateway's run-time dependencies (scripts/install-runtime-deps.sh: ffmpeg, whose ffprobe the stream tests use too)
#   GStreamer with gst-rtsp-server and python3-gi (tests/rtsp/rtsp_server.py, the RTSP cameras of the stream tests,
#                     run by the system /usr/bin/python3; x264enc is in plugins-ugly, x265enc in plugins-bad)
#   mosquitto-clients (mosquitto_pub/mosquitto_sub: a non-.NET MQTT client for the wire tests and the README tour)
#   curl              (the README tour reads /metrics with it)
#   openssl           (scripts/dev-ca.sh: the TLS tests' certificate authority, server and client certificates)
#   mosquitto         (the broker: an external MQTT endpoint for the outbox tests, which run /usr/sbin/mosquitto
#                     with a config of their own on a free port). Its package starts a system service on port 1883,
#                     the gateway's own default, so when this script installs it, it stops and disables that service.
#   postgresql        (Debian's PostgreSQL, 15 on Debian 12: the PostgreSQL store's tests start a throwaway cluster of
#                     their own from /usr/lib/postgresql/<newest>/bin, initdb in a temp folder on a free port). Its package
#                     starts a system cluster on port 5432; when this script installs it, it stops and disables that
#                     service, so no test depends on it. PostgreSQL refuses to run as root, so this script also creates
#                     the system user sharpeyes-test (no home, no shell) that the tests run initdb and postgres as.
#   haproxy           (Debian's HAProxy, 2.6 on Debian 12: the load balancer tests run /usr/sbin/haproxy with the
#                     shipped deploy/haproxy/haproxy.cfg on free ports, and check it with `haproxy -c`). Its package
#                     starts a system service (with a config that listens nowhere); when this script installs it, it
#                     stops and disables that service, so only the tests' own instances run.
#   sip-tester        (SIPp, the independent SIP peer of the GB/T 28181 tests, tests/.../Sip/Sipp: it plays the device
#                     and the upper platform, command sipp)
#   python3-yaml      (PyYAML: tests/.../Deploy reads deploy/compose/compose.yaml and the Kubernetes manifests with it)
#   nodejs + npm      (the Node gRPC/MQTT clients and the turf/gcoord geometry oracles), then tests/node's packages.
#   chromium          (the console's browser tests drive Debian's chromium headless with playwright-core; the
#                     console benchmark, bench/console, too) and fonts-wqy-microhei (a Chinese font, so that the
#                     screenshots they write show the page's Chinese text)
#   the console       (scripts/install-console.sh: npm ci and npm run build in src/SharpEyes.Console, so that the
#                     gateway the tests build serves it)
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# grep without -q reads all of dpkg's output, so pipefail never sees dpkg die of SIGPIPE.
installed() { dpkg -s "$1" 2>/dev/null | grep -x 'Status: install ok installed' >/dev/null; }

bash scripts/install-runtime-deps.sh

missing=()
for pkg in gir1.2-gstreamer-1.0 gir1.2-gst-rtsp-server-1.0 python3-gi \
           gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad; do
  installed "$pkg" || missing+=("$pkg")
done
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
broker_missing=false
installed mosquitto || { missing+=(mosquitto); broker_missing=true; }
installed chromium || missing+=(chromium)
installed fonts-wqy-microhei || missing+=(fonts-wqy-microhei)
postgres_missing=false
installed postgresql || { missing+=(postgresql); postgres_missing=true; }
haproxy_missing=false
installed haproxy || { missing+=(haproxy); haproxy_missing=true; }
installed python3-yaml || missing+=(python3-yaml)
command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
bash scripts/install-apt-packages.sh install-test-deps "${missing[@]}"

# The broker package's postinst enables (and on a running systemd or sysvinit, starts) mosquitto.service on port
# 1883; PostgreSQL's a cluster on 5432, HAProxy's its service. Only a service this script installed is stopped and
# disabled: one an operator set up stays as it is. Without an init system (a container) nothing was started, and
# disabling the rc links is harmless.
disable_service() {
  echo "install-test-deps: stopping and disabling the $1 system service ($2)"
  if [ -d /run/systemd/system ]; then
    sudo_if_needed systemctl disable --now "$1.service"
  elif [ -x "/etc/init.d/$1" ]; then
    sudo_if_needed "/etc/init.d/$1" stop >/dev/null 2>&1 || true
    sudo_if_needed update-rc.d "$1" disable >/dev/null 2>&1 || true
  fi
}
if $broker_missing; then disable_service mosquitto "tests run their own brokers"; fi
if $postgres_missing; then disable_service postgresql "tests run their own clusters"; fi
if $haproxy_missing; then disable_service haproxy "tests run their own, on free ports"; fi

if ! getent passwd sharpeyes-test >/dev/null; then
  echo "install-test-deps: creating the system user sharpeyes-test (the tests' PostgreSQL clusters run as it)"
  sudo_if_needed useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin sharpeyes-test
fi

# Node packages for tests/node, reinstalled only when package-lock.json changed.
stamp=tests/node/node_modules/.sharpeyes-lock.sha256
want=$(sha256sum tests/node/package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "install-test-deps: npm ci in tests/node"
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi

bash scripts/install-console.sh
