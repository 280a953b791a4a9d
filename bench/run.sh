#!/usr/bin/env bash
# SharpEyes benchmark: bare mosquitto and bare MQTTnet baselines, then the Release gateway out of process.
# Prints a Markdown table and writes it to bench/results/latest.md. Cleans up every process it starts.
# Usage: bench/run.sh [coverage|streams|outbox|feeds|hostile|console|tls|all] [extra sharpeyes-bench options, e.g. --alarms 50000 --connections 1,8]
#   (none)    the alarm benchmark: the mosquitto baseline, the bare MQTTnet baseline (`sharpeyes-bench mqttnet-broker`: the
#             gateway's MQTTnet server on Kestrel, no interceptors), the gateway with --sqlite-synchronous FULL (its rows;
#             BENCH_SQLITE_FULL=0 skips it), then the gateway as shipped (writes bench/results/latest.md); each gateway
#             run ends by comparing the gateway's coverage with a full recompute (--check-coverage 0 skips it)
#   coverage  the coverage section alone: the engine in process over a synthetic county (tiled, then each grid whole as
#             the baseline: --cov-baseline 0 skips it; --cov-footprints-per-tile N; row 2b the densest grid), then a fresh gateway
#             (no --demo) loaded with that county, its coverage compared with a full recompute after the registration and
#             after the heartbeats; replaces or appends its section in bench/results/latest.md
#   streams   stream health: 4 gst-rtsp-servers (tests/rtsp/rtsp_server.py) × 250 mount points, a gateway with the
#             schedule on; a full liveness cycle, the steady state and deep-probe cost (section in latest.md)
#   outbox    feed push to a centre: the bench starts one gateway per phase (no endpoint, a fast and a slow reference
#             CentreSink in the bench process) and compares alarm intake; delivery rate, depth, lag, drain (section in latest.md)
#   feeds     Feeds.Subscribe streams that never read: a gateway per phase (none, then 500 such streams) while 20,000
#             events commit; RSS and live managed heap before and after (dotnet-gcdump if on PATH) (section in latest.md)
#   hostile   issue 11's attacks, each against the gateway before its fixes and the current one, same run: an idle flood of
#             21,000 TCP connections from 127.0.0.2-22, 4 CONNECTs declaring 250 MB, 10 authenticated 50 MB PUBLISHes,
#             32 unauthenticated 28 MB ImportGrids, 1,000 persistent sessions x 5,000 dead letters, 5,000 wrong gRPC secrets.
#             A fresh gateway per attack and build, under `ulimit -n 20000`; gateway RSS (every 250 ms) and open files,
#             survival, a canary on 127.0.0.1 (alarm, /healthz, GetStats once a second) and the attack's outcome (section in
#             latest.md, raw results in bench/results/hostile.json; ~15 min). The baseline is BENCH_BASELINE_REF (default
#             520634a), taken with `git archive` and built into the work directory. Sizes: --flood-addresses 21
#             --flood-per-address 1000 --flood-hold-s 30 --big-connects 4 --big-connect-mb 250 --big-publishes 10
#             --big-publish-mb 50 --imports 32 --import-mb 28 --sessions 1000 --dead-letters 5000 --guesses 5000 --after-s 10;
#             --attacks idle-flood,big-connect,big-publish,unauth-import,session-queues,guess-keys picks some.
#   console   the browser console: the console built (scripts/install-console.sh), a gateway --demo, then a fresh one loaded
#             with the coverage bench's synthetic county (sharpeyes-bench load-county); bench/console/console-bench.mjs opens the
#             real page in chromium on each (navigation to drawn, JS heap, pans; on the demo, --console-alarms 200 alarms
#             published over MQTT to the inbox, p50/p99); --console-runs 3. Section in latest.md (~5 min)
#   tls       what TLS costs: per round (--tls-rounds 3) a fresh --demo gateway in plain text (--insecure-listeners) and one
#             serving TLS with scripts/dev-ca.sh certificates, alternating which goes first, each given the alarm benchmark
#             (20,000 devices, 50,000 alarms per throughput run, N=1 and 4, the paced latency run; no mosquitto); the section
#             pairs them round by round with the TLS/plain ratios (section in latest.md, ~8 min)
#   shapes    deployment shapes (issue 15): per round (--shapes-rounds 3) and shape, fresh processes: embedded SQLite (the
#             baseline of the ratios), PostgreSQL (a throwaway cluster from bench/pg.sh, --store), two PostgreSQL replicas of one
#             database (registration through A, alarms spread over both), the external broker (mosquitto with the files from
#             `sharpeyes broker mosquitto`, one gateway on the shared subscription; --shapes-external-replicas 1 adds two
#             replicas). --shapes-devices 5000 registered (devices/s), --shapes-alarms 20000 QoS 1 alarms with 1 and 4
#             connections (alarms/s end to end, on the feed); --shapes-only sqlite,postgres,... picks some. Section
#             "Deployment shapes" in latest.md and docs/benchmarks.md (~10 min with 3 rounds)
#   sip       GB/T 28181 over SIP (UDP), SIPp (sip-tester) as the load, beside MQTT, in one gateway (--demo): per round
#             (--sip-rounds 3), fresh processes: 2,000 devices registering with digest (registrations/s; the gateway's catalog
#             query, SetGuard and SUBSCRIBE to each answered by SIPp), 20,000 keepalives, 20,000 alarms of an NVR's 1,000
#             alarm inputs (alarms/s, each 200 OK after its commit), with 128 SIP transactions in flight; then 5,000 MQTT
#             devices and 20,000 QoS 1 alarms over 1 and 4 connections (shape-alarms) on the same gateway; a catalog
#             of 20,000 cameras spread over the county (bench/sip/spread_catalog.py). Table in bench/results/sip.md
#             (~1 min a round)
#   soak      memory under a steady load (issue 17): a gateway --demo, 50,000 devices registered, then QoS 1 alarms paced at
#             2,000/s over 2 connections for 10 min; the gateway's RSS sampled and printed every 10 s with that interval's
#             PUBACK p99; every alarm awaited on the feed; verdict on growth (section in latest.md; --soak-minutes M
#             --soak-rate R --soak-interval-s S; ~12 min)
#   all       the first five (alarms, coverage, streams, outbox, feeds; not hostile), in that order
set -euo pipefail

MODE=alarms
case "${1:-}" in
  coverage) MODE=coverage; shift ;;
  streams) MODE=streams; shift ;;
  outbox) MODE=outbox; shift ;;
  feeds) MODE=feeds; shift ;;
  hostile) MODE=hostile; shift ;;
  console) MODE=console; shift ;;
  tls) MODE=tls; shift ;;
  shapes) MODE=shapes; shift ;;
  sip) MODE=sip; shift ;;
  soak) MODE=soak; shift ;;
  all) MODE=all; shift ;;
esac

SCRIPT_START=$(date +%s)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR="$ROOT/bench"
ARTIFACTS=${BENCH_ARTIFACTS:-/tmp/bench-artifacts}
RESULTS="$BENCH_DIR/results"
WORK=$(mktemp -d /tmp/sharpeyes-bench.XXXXXX)
ADMIN_KEY="bench-admin-key-not-secret"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

PIDS=()
PG_DIRS=() # PostgreSQL clusters bench/pg.sh started (the shapes mode); stopped and removed on exit
OUTBOX_PIDS="$WORK/outbox-gateway.pid" # the gateway the outbox, feeds or hostile bench is running now (they start their own)
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_outbox_gateway || true
  for dir in "${PG_DIRS[@]}"; do bash "$BENCH_DIR/pg.sh" stop "$dir" || true; rm -rf "$dir"; done
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do # up to 20 s for the gateway to drain its journal
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ $status -ne 0 ]]; then
    echo "bench: failed (exit $status); logs kept in $WORK" >&2
    tail -n 20 "$WORK"/*.log >&2 2>/dev/null || true
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { echo "bench: $*" >&2; }

stop_outbox_gateway() { # a gateway the outbox bench left behind (it was killed itself); checks the pid is still a gateway
  local pid
  pid=$(cat "$OUTBOX_PIDS" 2>/dev/null || true)
  if [[ -n "$pid" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q sharpeyes.dll; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$OUTBOX_PIDS"
}

# --- mosquitto, installed idempotently ----------------------------------------------------------
find_mosquitto() { command -v mosquitto 2>/dev/null || { [[ -x /usr/sbin/mosquitto ]] && echo /usr/sbin/mosquitto; } || true; }
MOSQUITTO=$(find_mosquitto)
if [[ "$MODE" != coverage && "$MODE" != console && "$MODE" != streams && "$MODE" != outbox && "$MODE" != feeds && "$MODE" != hostile && "$MODE" != tls && -z "$MOSQUITTO" ]]; then
  log "installing mosquitto"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q mosquitto >"$WORK/apt.log" 2>&1 \
    || { $SUDO apt-get update -q >>"$WORK/apt.log" 2>&1 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q mosquitto >>"$WORK/apt.log" 2>&1; }
  MOSQUITTO=$(find_mosquitto)
  [[ -n "$MOSQUITTO" ]] || { log "mosquitto could not be installed (see $WORK/apt.log)"; exit 1; }
fi
MOSQUITTO_VERSION=$([[ -n "$MOSQUITTO" ]] && "$MOSQUITTO" -h 2>/dev/null | head -n 1 || true)

# --- build (Release, private artifacts path, no lingering build servers) -------------------------
log "building gateway and bench (Release, --artifacts-path $ARTIFACTS)"
BUILD_START=$(date +%s)
for project in "$ROOT/src/SharpEyes.Gateway/SharpEyes.Gateway.csproj" "$BENCH_DIR/SharpEyes.Bench/SharpEyes.Bench.csproj"; do
  timeout 300 dotnet build "$project" -c Release --artifacts-path "$ARTIFACTS" -nodeReuse:false -p:UseSharedCompilation=false \
    -v:q -nologo >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
done
BUILD_SECONDS=$(( $(date +%s) - BUILD_START ))
GATEWAY_DLL="$ARTIFACTS/bin/SharpEyes.Gateway/release/sharpeyes.dll"
BENCH_DLL="$ARTIFACTS/bin/SharpEyes.Bench/release/sharpeyes-bench.dll"

# --- helpers ------------------------------------------------------------------------------------
port_free() { [[ -z $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }
pick_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 30000 ))
    if port_free "$p" && [[ " ${USED_PORTS:-} " != *" $p "* ]]; then
      USED_PORTS="${USED_PORTS:-} $p"
      echo "$p"
      return 0
    fi
  done
  return 1
}
wait_listening() { # port seconds pid
  local deadline=$(( $(date +%s) + $2 ))
  while (( $(date +%s) < deadline )); do
    kill -0 "$3" 2>/dev/null || return 1
    port_free "$1" || return 0
    sleep 0.1
  done
  return 1
}
stop_pid() { # pid: TERM, wait up to 20 s, KILL
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local kept=()
  for pid in "${PIDS[@]}"; do [[ "$pid" != "$1" ]] && kept+=("$pid"); done
  PIDS=("${kept[@]+"${kept[@]}"}")
}
run_bench() { # runs the bench in the background so the traps can end it too
  timeout --kill-after=10 "${RUN_BENCH_TIMEOUT:-280}" dotnet "$BENCH_DLL" "$@" &
  local pid=$!
  PIDS+=("$pid")
  local rc=0
  wait "$pid" || rc=$?
  local kept=()
  for p in "${PIDS[@]}"; do [[ "$p" != "$pid" ]] && kept+=("$p"); done
  PIDS=("${kept[@]+"${kept[@]}"}")
  return $rc
}

# --- the gateway under test, out of process ---------------------------------------------------------
listening_port() { # listener name (gRPC, HTTP, MQTT) log file: the port from the gateway's "X listening on scheme://host:port" line
  sed -n "s/.*$1 listening on [a-z]*:\/\/[^ ]*:\([0-9]*\).*/\1/p" "$2" | head -n 1
}
start_gateway() { # extra gateway switches (e.g. --demo); sets GATEWAY_PID and the three ports
  # Port 0: the gateway binds what the system gives it and logs it, so no port is picked, released and raced for.
  local data="$WORK/data${GATEWAY_RUN:-}"
  local log_file="$WORK/gateway${GATEWAY_RUN:-}.log"
  log "starting the gateway $* (data $data)"
  # The gateway's content root is its working directory, and ASP.NET Core watches it (recursively) for appsettings
  # changes: start it in an empty directory so the SQLite files are not under that watcher (a measured cost: see the bench report).
  mkdir -p "$WORK/cwd"
  # BENCH_PERF=1: sample the gateway with perf (Debian linux-perf) during the gateway phases; JIT symbols via perf maps.
  if [[ "${BENCH_PERF:-0}" == 1 ]]; then export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0; fi
  # Plain text is asked for explicitly (the gateway refuses to start without TLS otherwise), unless the phase gives TLS files.
  local plain=(--insecure-listeners)
  if [[ " $* " == *" --tls-cert "* || "$*" == *SharpEyes:Tls:* ]]; then plain=(); fi
  # The benchmark measures what the gateway can take, not its per-vendor MQTT limit (2,000/s by default; one bench
  # vendor publishes 10,000-40,000 alarms/s): the limit is off, as SharpEyes:RateLimits:MqttVendor documents.
  (cd "$WORK/cwd" && exec env ${GATEWAY_ENV:-} SHARPEYES_ADMIN_KEY="$ADMIN_KEY" dotnet "$GATEWAY_DLL" --bind 127.0.0.1 --grpc-port 0 \
    --mqtt-port 0 --http-port 0 --sip-port 0 "${plain[@]}" --data-dir "$data" --SharpEyes:RateLimits:MqttVendor:PerSecond=0 "$@" >"$log_file" 2>&1) &
  GATEWAY_PID=$!
  PIDS+=("$GATEWAY_PID")
  local deadline=$(( $(date +%s) + 60 ))
  until MQTT_PORT=$(listening_port MQTT "$log_file") && [[ -n "$MQTT_PORT" ]]; do
    kill -0 "$GATEWAY_PID" 2>/dev/null || { log "the gateway exited during start: $(tail -n 3 "$log_file")"; exit 1; }
    (( $(date +%s) < deadline )) || { log "the gateway did not report its listeners within 60 s"; exit 1; }
    sleep 0.2
  done
  GRPC_PORT=$(listening_port gRPC "$log_file"); HTTP_PORT=$(listening_port HTTP "$log_file")
  log "the gateway listens on gRPC $GRPC_PORT, MQTT $MQTT_PORT, HTTP $HTTP_PORT"
  # GATEWAY_CACERT: the gateway serves TLS with a certificate from that CA (the tls mode).
  local health_url="http://127.0.0.1:$HTTP_PORT/healthz" curl_tls=()
  [[ -n "${GATEWAY_CACERT:-}" ]] && { health_url="https://127.0.0.1:$HTTP_PORT/healthz"; curl_tls=(--cacert "$GATEWAY_CACERT"); }
  until curl -fsS --max-time 2 "${curl_tls[@]}" "$health_url" >/dev/null 2>&1; do
    kill -0 "$GATEWAY_PID" 2>/dev/null || { log "the gateway exited during start"; exit 1; }
    (( $(date +%s) < deadline )) || { log "the gateway was not healthy within 60 s"; exit 1; }
    sleep 0.2
  done
  wait_listening "$MQTT_PORT" 20 "$GATEWAY_PID" || { log "the gateway's MQTT listener did not open"; exit 1; }
}

run_alarms() { # "$@": extra sharpeyes-bench options
  # --- 1. bare broker baseline ----------------------------------------------------------------------
  MQTT_BASE_PORT=$(pick_port)
  cat >"$WORK/mosquitto.conf" <<EOF
listener $MQTT_BASE_PORT 127.0.0.1
allow_anonymous true
max_inflight_messages 0
max_queued_messages 1000000
persistence false
log_dest stderr
log_type error
log_type warning
EOF
  log "starting $MOSQUITTO_VERSION on 127.0.0.1:$MQTT_BASE_PORT"
  "$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
  MOSQUITTO_PID=$!
  PIDS+=("$MOSQUITTO_PID")
  wait_listening "$MQTT_BASE_PORT" 10 "$MOSQUITTO_PID" || { log "mosquitto did not start"; exit 1; }
  run_bench baseline --mqtt-port "$MQTT_BASE_PORT" --broker-pid "$MOSQUITTO_PID" --broker "$MOSQUITTO_VERSION" \
    --out "$WORK/baseline.json" "$@"
  stop_pid "$MOSQUITTO_PID"

  # --- 1b. the second baseline: the gateway's MQTTnet server, bare (no interceptor, no store), out of process --------
  MQTT_NET_PORT=$(pick_port)
  dotnet "$BENCH_DLL" mqttnet-broker --port "$MQTT_NET_PORT" >"$WORK/mqttnet.log" 2>&1 &
  MQTTNET_PID=$!
  PIDS+=("$MQTTNET_PID")
  wait_listening "$MQTT_NET_PORT" 20 "$MQTTNET_PID" || { log "the bare MQTTnet broker did not start"; cat "$WORK/mqttnet.log" >&2; exit 1; }
  run_bench baseline --mqtt-port "$MQTT_NET_PORT" --broker-pid "$MQTTNET_PID" --broker "bare MQTTnet.Server (Kestrel, no interceptors)" \
    --out "$WORK/baseline-mqttnet.json" "$@"
  stop_pid "$MQTTNET_PID"

  # --- 2f. the same gateway bench with an fsync per commit (--sqlite-synchronous FULL), its rows beside NORMAL's ------
  # BENCH_SQLITE_FULL=0 skips it (about 90 s).
  local full_args=()
  if [[ "${BENCH_SQLITE_FULL:-1}" == 1 ]]; then
    GATEWAY_RUN=-full start_gateway --demo --sqlite-synchronous FULL
    if run_bench gateway --grpc-port "$GRPC_PORT" --mqtt-port "$MQTT_PORT" --http-port "$HTTP_PORT" --gateway-pid "$GATEWAY_PID" \
      --admin-key "$ADMIN_KEY" --out "$WORK/full.md" --json "$WORK/full.json" "$@" >"$WORK/full.out"; then
      full_args=(--full-results "$WORK/full.json")
    else
      log "the synchronous=FULL run failed: its rows are left out (see $WORK/full.out)"
    fi
    stop_pid "$GATEWAY_PID"
  fi

  # --- 2-4. the gateway -----------------------------------------------------------------------------
  start_gateway --demo

  mkdir -p "$RESULTS"
  PERF_PID=""
  if [[ "${BENCH_PERF:-0}" == 1 ]] && command -v perf >/dev/null 2>&1; then
    perf record -F 499 -p "$GATEWAY_PID" -o "$RESULTS/perf.data" >"$WORK/perf.log" 2>&1 &
    PERF_PID=$!
  fi
  local rc=0
  run_bench gateway --grpc-port "$GRPC_PORT" --mqtt-port "$MQTT_PORT" --http-port "$HTTP_PORT" --gateway-pid "$GATEWAY_PID" \
    --admin-key "$ADMIN_KEY" --baseline "$WORK/baseline.json" --baseline-mqttnet "$WORK/baseline-mqttnet.json" --out "$RESULTS/latest.md" --json "$RESULTS/latest.json" \
    --context "build=${BUILD_SECONDS} s (restore + compile, not timed)" "${full_args[@]+"${full_args[@]}"}" "$@" || rc=$?
  if [[ -n "$PERF_PID" ]]; then
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    perf report -i "$RESULTS/perf.data" --sort dso,symbol --stdio -g none 2>/dev/null | grep -v '^$' | head -n 120 >"$RESULTS/perf.txt" || true
    log "perf profile of the gateway: bench/results/perf.txt"
  fi
  stop_pid "$GATEWAY_PID"
  log "alarm benchmark done in $(( $(date +%s) - SCRIPT_START )) s; table in bench/results/latest.md; gateway log lines: $(wc -l <"$WORK/gateway.log")"
  RC_ALARMS=$rc
}

# --- soak: RSS across a steady alarm load (issue 17) -----------------------------------------------------------
run_soak() { # "$@": extra sharpeyes-bench options (--soak-minutes 10 --soak-rate 2000 --soak-interval-s 10 --devices 50000)
  GATEWAY_RUN=-soak start_gateway --demo
  mkdir -p "$RESULTS"
  local rc=0 minutes=10 args=("$@") i
  for (( i = 0; i + 1 < ${#args[@]}; i++ )); do
    if [[ "${args[i]}" == --soak-minutes ]]; then minutes=${args[i+1]}; fi
  done
  local limit=$(( ${minutes%.*} * 60 + 600 ))
  RUN_BENCH_TIMEOUT=$(( limit + 60 )) run_bench soak --grpc-port "$GRPC_PORT" --mqtt-port "$MQTT_PORT" --http-port "$HTTP_PORT" \
    --gateway-pid "$GATEWAY_PID" --admin-key "$ADMIN_KEY" --out "$RESULTS/latest.md" --json "$RESULTS/soak.json" --total-limit-s "$limit" "$@" || rc=$?
  stop_pid "$GATEWAY_PID"
  log "soak done in $(( $(date +%s) - SCRIPT_START )) s; section in bench/results/latest.md"
  RC_SOAK=$rc
}

# --- coverage: the engine in process, then a fresh gateway (no --demo) loaded with the synthetic county ----------
run_coverage() { # "$@": extra sharpeyes-bench options
  # The probe cycles make hundreds of vendor calls a second: the per-key limit (200/s by default) is off, as for alarms.
  GATEWAY_RUN=-coverage start_gateway --SharpEyes:RateLimits:Vendor:PerSecond=0
  mkdir -p "$RESULTS"
  local rc=0
  RUN_BENCH_TIMEOUT=480 run_bench coverage --grpc-port "$GRPC_PORT" --gateway-pid "$GATEWAY_PID" --admin-key "$ADMIN_KEY" \
    --out "$RESULTS/latest.md" --json "$RESULTS/coverage.json" --total-limit-s 450 \
    --context "build=${BUILD_SECONDS} s (restore + compile, not timed)" "$@" || rc=$?
  stop_pid "$GATEWAY_PID"
  log "coverage done; section in bench/results/latest.md; gateway log lines: $(wc -l <"$WORK/gateway-coverage.log")"
  RC_COVERAGE=$rc
}

# --- console: the real page in chromium on the demo county, then on the synthetic 20,000-camera county ------------
run_console() { # "$@": --console-runs N, --console-alarms N
  local runs=3 alarms=200
  while (( $# > 0 )); do
    case "$1" in
      --console-runs) runs=$2; shift 2 ;;
      --console-alarms) alarms=$2; shift 2 ;;
      *) shift ;;
    esac
  done
  bash "$ROOT/scripts/install-test-deps.sh" >"$WORK/deps.log" 2>&1 || { cat "$WORK/deps.log" >&2; exit 1; }
  (cd "$BENCH_DIR/console" && npm ci --prefer-offline --no-audit --no-fund >"$WORK/npm.log" 2>&1) || { cat "$WORK/npm.log" >&2; exit 1; }
  # install-test-deps.sh builds the console into dist/; the gateway built above copied it only if it existed then:
  # build again so that the console is beside the binary.
  timeout 300 dotnet build "$ROOT/src/SharpEyes.Gateway/SharpEyes.Gateway.csproj" -c Release --artifacts-path "$ARTIFACTS" -nodeReuse:false \
    -p:UseSharedCompilation=false -v:q -nologo >"$WORK/build-console.log" 2>&1 || { cat "$WORK/build-console.log" >&2; exit 1; }
  mkdir -p "$RESULTS"
  local rc=0
  GATEWAY_RUN=-console-demo start_gateway --demo
  BENCH_ADMIN_KEY="$ADMIN_KEY" timeout 900 node "$BENCH_DIR/console/console-bench.mjs" --url "http://127.0.0.1:$HTTP_PORT/" --runs "$runs" \
    --alarms "$alarms" --mqtt-port "$MQTT_PORT" --label demo --json "$WORK/console-demo.json" || rc=$?
  stop_pid "$GATEWAY_PID"
  GATEWAY_RUN=-console-county start_gateway
  RUN_BENCH_TIMEOUT=400 run_bench load-county --grpc-port "$GRPC_PORT" --admin-key "$ADMIN_KEY" || rc=$?
  BENCH_ADMIN_KEY="$ADMIN_KEY" timeout 900 node "$BENCH_DIR/console/console-bench.mjs" --url "http://127.0.0.1:$HTTP_PORT/" --runs "$runs" \
    --label county --json "$WORK/console-county.json" || rc=$?
  stop_pid "$GATEWAY_PID"
  if [[ -f "$WORK/console-demo.json" && -f "$WORK/console-county.json" ]]; then
    node "$BENCH_DIR/console/console-report.mjs" "$RESULTS/latest.md" "$WORK/console-demo.json" "$WORK/console-county.json" \
      "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end" "$(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
  fi
  log "console done; section in bench/results/latest.md"
  RC_CONSOLE=$rc
}

# --- stream health: real RTSP servers with many mount points, then the gateway ----------------------------------
run_streams() { # "$@": extra sharpeyes-bench options
  bash "$ROOT/scripts/install-test-deps.sh" >"$WORK/deps.log" 2>&1 || { cat "$WORK/deps.log" >&2; exit 1; }
  local ports=() pids=()
  for n in 1 2 3 4; do
    mkfifo "$WORK/rtsp$n.in"
    # stdin held open by a sleeper we own: the server exits when it closes (or after --max-seconds).
    (sleep 900 >"$WORK/rtsp$n.in") &
    PIDS+=("$!")
    /usr/bin/python3 "$ROOT/tests/rtsp/rtsp_server.py" --port 0 --bench-mounts 250 --max-seconds 900 <"$WORK/rtsp$n.in" >"$WORK/rtsp$n.out" 2>"$WORK/rtsp$n.log" &
    pids+=("$!"); PIDS+=("$!")
    for _ in $(seq 1 100); do grep -q READY "$WORK/rtsp$n.out" 2>/dev/null && break; sleep 0.2; done
    grep -q READY "$WORK/rtsp$n.out" || { log "RTSP server $n did not start"; exit 1; }
    ports+=("$(sed -n 's/.*"rtsp": *\([0-9]*\).*/\1/p' "$WORK/rtsp$n.out")")
  done
  log "RTSP servers on ports ${ports[*]}"
  GATEWAY_RUN=-streams start_gateway --SharpEyes:Streams:ProbeInterval=1.00:00:00 --SharpEyes:Streams:QualityInterval=1.00:00:00
  mkdir -p "$RESULTS"
  local rc=0
  RUN_BENCH_TIMEOUT=480 run_bench streams --grpc-port "$GRPC_PORT" --gateway-pid "$GATEWAY_PID" --admin-key "$ADMIN_KEY" \
    --rtsp-ports "$(IFS=,; echo "${ports[*]}")" --rtsp-pids "$(IFS=,; echo "${pids[*]}")" --mounts-per-server 250 \
    --out "$RESULTS/latest.md" --total-limit-s 450 "$@" || rc=$?
  stop_pid "$GATEWAY_PID"
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  log "streams done; section in bench/results/latest.md"
  RC_STREAMS=$rc
}

# --- outbox and feeds: the bench starts a gateway per phase itself (the outbox sink lives in the bench process) -----
run_own_gateways() { # name ("outbox" or "feeds"), then extra sharpeyes-bench options; sets RC_<NAME>
  local name=$1
  shift
  mkdir -p "$RESULTS" "$WORK/$name"
  local rc=0
  RUN_BENCH_TIMEOUT=330 run_bench "$name" --gateway-dll "$GATEWAY_DLL" --work "$WORK/$name" --admin-key "$ADMIN_KEY" \
    --pid-file "$OUTBOX_PIDS" --out "$RESULTS/latest.md" --total-limit-s 300 "$@" || rc=$?
  stop_outbox_gateway || true
  log "$name done; section in bench/results/latest.md"
  printf -v "RC_${name^^}" '%s' "$rc"
}
run_outbox() { run_own_gateways outbox "$@"; }
run_feeds() { run_own_gateways feeds "$@"; }

# --- tls: the same gateway benchmark over plain text and over TLS, paired round by round ---------------------------
run_tls() { # "$@": --tls-rounds N, then extra sharpeyes-bench gateway options
  local rounds=3 args=()
  while (( $# > 0 )); do
    case "$1" in
      --tls-rounds) rounds=$2; shift 2 ;;
      *) args+=("$1"); shift ;;
    esac
  done
  bash "$ROOT/scripts/dev-ca.sh" "$WORK/tls" >"$WORK/dev-ca.log"
  local tls_switches=("--SharpEyes:Tls:CertificatePath=$WORK/tls/server.pem" "--SharpEyes:Tls:KeyPath=$WORK/tls/server-key.pem")
  local plain_files=() tls_files=() rc=0 r kind
  mkdir -p "$RESULTS"
  for r in $(seq 1 "$rounds"); do
    local order=(plain tls)
    (( r % 2 == 0 )) && order=(tls plain)
    for kind in "${order[@]}"; do
      local json="$WORK/tls-$r-$kind.json"
      if [[ $kind == plain ]]; then
        GATEWAY_RUN=-tls-$r-plain start_gateway --demo
        run_bench gateway --grpc-port "$GRPC_PORT" --mqtt-port "$MQTT_PORT" --http-port "$HTTP_PORT" --gateway-pid "$GATEWAY_PID" \
          --admin-key "$ADMIN_KEY" --devices 20000 --alarms 50000 --out "$WORK/tls-$r-$kind.md" --json "$json" "${args[@]+"${args[@]}"}" || rc=$?
        plain_files+=(--plain "$json")
      else
        GATEWAY_RUN=-tls-$r-tls GATEWAY_CACERT="$WORK/tls/ca.pem" start_gateway --demo "${tls_switches[@]}"
        run_bench gateway --grpc-port "$GRPC_PORT" --mqtt-port "$MQTT_PORT" --http-port "$HTTP_PORT" --gateway-pid "$GATEWAY_PID" \
          --admin-key "$ADMIN_KEY" --devices 20000 --alarms 50000 --tls-ca "$WORK/tls/ca.pem" --out "$WORK/tls-$r-$kind.md" --json "$json" \
          "${args[@]+"${args[@]}"}" || rc=$?
        tls_files+=(--tls "$json")
      fi
      stop_pid "$GATEWAY_PID"
    done
  done
  run_bench tls-report "${plain_files[@]}" "${tls_files[@]}" --out "$RESULTS/latest.md" \
    --context "build=${BUILD_SECONDS} s (restore + compile, not timed)" || rc=$?
  log "tls done; section in bench/results/latest.md"
  RC_TLS=$rc
}

# --- shapes: one node on SQLite, on PostgreSQL, two replicas, the external broker; fresh processes per shape and round ----
start_postgres() { # sets STORE (a connection string) for a new throwaway cluster
  local dir port
  dir=$(mktemp -d /tmp/sharpeyes-bench-pg.XXXXXX) # outside $WORK: the cluster's owner (sharpeyes-test when root) must reach it
  PG_DIRS+=("$dir")
  port=$(pick_port)
  STORE=$(bash "$BENCH_DIR/pg.sh" start "$dir" "$port")
  PG_DIR=$dir
}
stop_postgres() {
  bash "$BENCH_DIR/pg.sh" stop "$PG_DIR" || true
  rm -rf "$PG_DIR"
  local kept=()
  for dir in "${PG_DIRS[@]}"; do [[ "$dir" != "$PG_DIR" ]] && kept+=("$dir"); done
  PG_DIRS=("${kept[@]+"${kept[@]}"}")
}
run_shape() { # shape round: starts the processes, registers, publishes, stops them; result in $WORK/shape-<round>-<shape>.json
  local shape=$1 round=$2 tag="-$2-$1" state="$WORK/shape-$2-$1.state.json" json="$WORK/shape-$2-$1.json"
  local grpc_ports="" mqtt_ports="" http_ports="" broker_pid="" gateway_pids=() store_args=() broker_args=() mqtt_auth=() replicas=1
  log "shapes: round $round, $shape (load $(cut -d' ' -f1-3 /proc/loadavg))"
  case "$shape" in
    postgres|replicas|external-replicas) start_postgres; store_args=(--store "$STORE") ;;
  esac
  [[ "$shape" == replicas || "$shape" == external-replicas ]] && replicas=2
  local broker_dir="$WORK/broker$tag" broker_port=""
  if [[ "$shape" == external* ]]; then
    # The gateway's broker password is chosen here and kept in the credentials file, which `sharpeyes broker mosquitto`
    # reuses (it adds the vendors'); mosquitto starts once the devices exist (its ACL lists them).
    mkdir -p "$broker_dir"
    local gateway_password
    gateway_password=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    (umask 077; echo "sharpeyes-gateway:$gateway_password" >"$broker_dir/credentials")
    broker_port=$(pick_port)
  fi
  local r keys_args=()
  for r in $(seq 1 "$replicas"); do
    if (( r == 2 )); then
      # A replica reads the API keys at its start only: the bench's keys are made through A before B starts.
      run_bench shape-register --grpc-ports "$grpc_ports" --admin-key "$ADMIN_KEY" --keys-only 1 --state "$WORK/keys$tag.json"
      keys_args=(--keys-from "$WORK/keys$tag.json")
    fi
    if [[ "$shape" == external* ]]; then
      broker_args=(--external-broker "mqtt://127.0.0.1:$broker_port" "--SharpEyes:ExternalBroker:ClientId=bench-replica-$r"
        --SharpEyes:ExternalBroker:UserName=sharpeyes-gateway --SharpEyes:ExternalBroker:ReconnectMaxDelay=00:00:01)
    fi
    GATEWAY_ENV="SharpEyes__ExternalBroker__Password=${gateway_password:-}" GATEWAY_RUN="$tag-$r" \
      start_gateway --replica-id "bench-$r" "${store_args[@]+"${store_args[@]}"}" "${broker_args[@]+"${broker_args[@]}"}"
    gateway_pids+=("$GATEWAY_PID")
    grpc_ports="${grpc_ports:+$grpc_ports,}$GRPC_PORT"
    mqtt_ports="${mqtt_ports:+$mqtt_ports,}$MQTT_PORT"
    http_ports="${http_ports:+$http_ports,}$HTTP_PORT"
  done
  local rc=0
  run_bench shape-register --grpc-ports "$grpc_ports" --gateway-pid "${gateway_pids[0]}" --admin-key "$ADMIN_KEY" \
    --devices "$SHAPES_DEVICES" --state "$state" "${keys_args[@]+"${keys_args[@]}"}" || rc=$?
  if [[ "$shape" == external* && -f "$state" ]]; then
    dotnet "$GATEWAY_DLL" broker mosquitto --out "$broker_dir" --server "http://127.0.0.1:${grpc_ports%%,*}" --key "$ADMIN_KEY" \
      >"$WORK/broker$tag.log" 2>&1 || { cat "$WORK/broker$tag.log" >&2; exit 1; }
    # "user": run as root, mosquitto would switch to the mosquitto user, which cannot read the files (as in the tests).
    { echo "listener $broker_port 127.0.0.1"; echo "user $(id -un)"; echo "log_dest stderr"; echo "log_type error"; echo "log_type warning"
      echo "persistence_location $broker_dir/"; cat "$broker_dir/sharpeyes.conf"; } >"$broker_dir/mosquitto.conf"
    "$MOSQUITTO" -c "$broker_dir/mosquitto.conf" >"$WORK/mosquitto$tag.log" 2>&1 &
    broker_pid=$!
    PIDS+=("$broker_pid")
    wait_listening "$broker_port" 10 "$broker_pid" || { log "mosquitto did not start: $(tail -n 3 "$WORK/mosquitto$tag.log")"; exit 1; }
    local deadline=$(( $(date +%s) + 30 )) port
    for port in ${http_ports//,/ }; do
      until curl -fsS "http://127.0.0.1:$port/healthz" 2>/dev/null | grep -q "external-broker: Healthy"; do
        (( $(date +%s) < deadline )) || { log "a gateway did not connect to mosquitto within 30 s"; exit 1; }
        sleep 0.2
      done
    done
    mqtt_ports=$broker_port
    mqtt_auth=(--mqtt-user bench --mqtt-password "$(sed -n 's/^bench://p' "$broker_dir/credentials")")
  fi
  if [[ -f "$state" ]]; then
    RUN_BENCH_TIMEOUT=420 run_bench shape-alarms --total-limit-s 400 --phase-limit-s 150 --state "$state" --grpc-ports "$grpc_ports" --mqtt-ports "$mqtt_ports" --gateway-pid "${gateway_pids[0]}" \
      --admin-key "$ADMIN_KEY" --devices "$SHAPES_DEVICES" --alarms "$SHAPES_ALARMS" --shape "$shape" --round "$round" --json "$json" \
      "${mqtt_auth[@]+"${mqtt_auth[@]}"}" || rc=$?
  fi
  for pid in "${gateway_pids[@]}"; do stop_pid "$pid"; done
  [[ -n "$broker_pid" ]] && stop_pid "$broker_pid"
  [[ ${#store_args[@]} -gt 0 ]] && stop_postgres
  [[ -f "$json" ]] && SHAPE_RESULTS+=(--result "$json")
  (( rc == 0 )) || RC_SHAPES=$rc
  return 0
}
sipp_rate() { # label count scenario.xml [sipp options]: runs SIPp against the gateway's SIP port, prints "label: N/s"
  local label=$1 count=$2 scenario=$3; shift 3
  local start end out="$WORK/sipp-$label.out"
  start=$(date +%s.%N)
  (cd "$WORK" && timeout 600 sipp -sf "$scenario" -s 13012700002000000001 -i 127.0.0.1 -ci 127.0.0.1 -nostdin -m "$count" -r 50000 -l 128 \
    -timeout 300 -timeout_error "$@" "127.0.0.1:$SIP_PORT" >"$out" 2>&1) || { log "SIPp $label failed: $(grep -E 'Failed call' "$out" | tail -n 1)"; RC_SIP=1; }
  end=$(date +%s.%N)
  local ok; ok=$(sed -n 's/^ *Successful call *| *[0-9]* *| *\([0-9]*\).*/\1/p' "$out" | tail -n 1)
  python3 -c "import sys; print(f'{sys.argv[1]}: {int(sys.argv[2])/(float(sys.argv[4])-float(sys.argv[3])):.0f}/s ({sys.argv[2]} in {float(sys.argv[4])-float(sys.argv[3]):.1f} s)')" "$label" "${ok:-0}" "$start" "$end"
}
run_sip() { # "$@": --sip-rounds N
  command -v sipp >/dev/null 2>&1 || { log "sipp is missing: bash scripts/install-test-deps.sh installs Debian's sip-tester"; exit 1; }
  local rounds=3 round
  while [[ $# -gt 0 ]]; do case "$1" in --sip-rounds) rounds=$2; shift 2 ;; *) shift ;; esac; done
  mkdir -p "$RESULTS"
  local report="$RESULTS/sip.md" tests_sipp="$ROOT/tests/SharpEyes.Gateway.Tests/Sip/Sipp"
  { echo "# GB/T 28181 over SIP beside MQTT ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $rounds rounds, fresh processes each)"; echo; } >"$report"
  python3 -c "
print('SEQUENTIAL')
for i in range(1, 2001): print('1301270000132%07d' % i)" >"$WORK/devices.csv"
  python3 -c "
print('SEQUENTIAL')
for i in range(20000): print('1301270000132%07d' % (i % 2000 + 1))" >"$WORK/keepalives.csv"
  for round in $(seq 1 "$rounds"); do
    GATEWAY_RUN="-sip-$round" start_gateway --demo --demo-cameras false --stream-checks false
    SIP_PORT=$(sed -n 's/.*SIP on [0-9.]*:\([0-9]*\) .*/\1/p' "$WORK/gateway-sip-$round.log" | head -n 1)
    curl -fsS -X POST -H "authorization: Bearer $ADMIN_KEY" -H "content-type: application/json" \
      -d '{"account_id":"bench","vendor_id":"bench","password":"bench-pass-1","auto_enrol":true}' "http://127.0.0.1:$HTTP_PORT/api/v1/sip/accounts" >/dev/null
    echo "## Round $round" >>"$report"
    {
      sipp_rate registrations 2000 "$BENCH_DIR/sip/register.xml" -oocsf "$BENCH_DIR/sip/answer.xml" -inf "$WORK/devices.csv" -au bench -ap bench-pass-1 -p "$(pick_port)"
      sipp_rate keepalives 20000 "$BENCH_DIR/sip/keepalive.xml" -inf "$WORK/keepalives.csv" -p "$(pick_port)"
      local nvr_port; nvr_port=$(pick_port)
      (cd "$WORK" && timeout 120 sipp -sf "$tests_sipp/device.xml" -oocsf "$tests_sipp/device-ooc.xml" -s 13012700002000000001 -au bench -ap bench-pass-1 \
        -i 127.0.0.1 -ci 127.0.0.1 -p "$nvr_port" -m 1 -nostdin -timeout 100 -timeout_error -set device_id 13012700001180000001 -set channels 0 \
        -set alarm_inputs 1000 -set per_message 50 -set alarms 0 -set unregister 0 "127.0.0.1:$SIP_PORT" >"$WORK/sipp-nvr.out" 2>&1) || { log "the NVR's registration failed"; RC_SIP=1; }
      local now; now=$(TZ=Asia/Shanghai date +%Y-%m-%dT%H:%M:%S)
      python3 -c "
print('SEQUENTIAL')
for i in range(20000): print('13012700001180000001;1301270000134%07d;$now' % (i % 1000 + 1))" >"$WORK/alarms.csv"
      sipp_rate "SIP alarms" 20000 "$BENCH_DIR/sip/alarm.xml" -inf "$WORK/alarms.csv" -p "$nvr_port"
      timeout 300 python3 "$BENCH_DIR/sip/spread_catalog.py" 20000 "$SIP_PORT" 13012700001180000010 || { log "the spread catalog failed"; RC_SIP=1; }
    } | tee -a "$report"
    local state="$WORK/sip-shape-$round.json"
    RUN_BENCH_TIMEOUT=300 run_bench shape-register --grpc-ports "$GRPC_PORT" --gateway-pid "$GATEWAY_PID" --admin-key "$ADMIN_KEY" \
      --devices 5000 --state "$state" 2>"$WORK/mqtt-register-$round.log" || RC_SIP=1
    RUN_BENCH_TIMEOUT=420 run_bench shape-alarms --total-limit-s 400 --phase-limit-s 150 --state "$state" --grpc-ports "$GRPC_PORT" --mqtt-ports "$MQTT_PORT" \
      --gateway-pid "$GATEWAY_PID" --admin-key "$ADMIN_KEY" --devices 5000 --alarms 20000 --shape sqlite --round "$round" --json "$WORK/sip-mqtt-$round.json" \
      2>"$WORK/mqtt-alarms-$round.log" || RC_SIP=1
    sed -n 's/^\[shapes\] *//p' "$WORK/mqtt-alarms-$round.log" | sed 's/^/MQTT /' | tee -a "$report"
    stop_pid "$GATEWAY_PID"
    echo >>"$report"
  done
  log "SIP benchmark done: bench/results/sip.md"
}
run_shapes() { # "$@": --shapes-rounds N --shapes-devices N --shapes-alarms N --shapes-only a,b --shapes-external-replicas 0|1
  local rounds=3 only="sqlite,postgres,replicas,external" r shape
  SHAPES_DEVICES=5000 SHAPES_ALARMS=20000 SHAPE_RESULTS=()
  while (( $# > 0 )); do
    case "$1" in
      --shapes-rounds) rounds=$2; shift 2 ;;
      --shapes-devices) SHAPES_DEVICES=$2; shift 2 ;;
      --shapes-alarms) SHAPES_ALARMS=$2; shift 2 ;;
      --shapes-only) only=$2; shift 2 ;;
      --shapes-external-replicas) [[ $2 == 1 ]] && only="$only,external-replicas"; shift 2 ;;
      *) log "shapes: unknown option $1"; exit 2 ;;
    esac
  done
  local load_start
  load_start=$(cut -d' ' -f1-3 /proc/loadavg)
  mkdir -p "$RESULTS"
  for r in $(seq 1 "$rounds"); do
    for shape in ${only//,/ }; do run_shape "$shape" "$r"; done
  done
  run_bench shapes-report "${SHAPE_RESULTS[@]}" --out "$RESULTS/latest.md" --docs "$ROOT/docs/benchmarks.md" \
    --context "machine=$(nproc) cores, shared with other work; load average (1, 5, 15 min) $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end" \
    --context "settings=$SHAPES_DEVICES devices registered in one stream (after 2,000 warm-up), $SHAPES_ALARMS QoS 1 alarms per run over 1,000 alarm devices, window 500 per connection, after 2,000 warm-up alarms; MQTT per-vendor limit off; $(psql --version 2>/dev/null || ls /usr/lib/postgresql), fsync on; $MOSQUITTO_VERSION" \
    --context "run=$(date -u '+%Y-%m-%d %H:%M') UTC, $(( $(date +%s) - SCRIPT_START )) s including the build" || RC_SHAPES=$?
  log "shapes done; section in bench/results/latest.md and docs/benchmarks.md"
}

# --- hostile: issue 11's attacks against the gateway before its fixes and the current one ---------------------------
run_hostile() { # "$@": extra sharpeyes-bench options
  local ref=${BENCH_BASELINE_REF:-520634a} sha label
  sha=$(git -C "$ROOT" rev-parse --verify --quiet "$ref^{commit}") || { log "BENCH_BASELINE_REF=$ref is not a commit of $ROOT"; exit 1; }
  label=$ref
  [[ "$sha" == "$ref"* ]] || label="$ref (${sha:0:7})"
  log "building the baseline gateway $ref (${sha:0:7}) from git archive into $WORK/baseline"
  mkdir -p "$WORK/baseline"
  git -C "$ROOT" archive "$sha" | tar -x -C "$WORK/baseline"
  timeout 300 dotnet build "$WORK/baseline/src/SharpEyes.Gateway/SharpEyes.Gateway.csproj" -c Release --artifacts-path "$WORK/baseline-artifacts" \
    -nodeReuse:false -p:UseSharedCompilation=false -v:q -nologo >"$WORK/baseline-build.log" 2>&1 || { cat "$WORK/baseline-build.log" >&2; exit 1; }
  local baseline_dll="$WORK/baseline-artifacts/bin/SharpEyes.Gateway/release/sharpeyes.dll"
  [[ -f "$baseline_dll" ]] || { log "the baseline build left no $baseline_dll"; exit 1; }
  # The attacker holds more sockets than the gateway may (the bench starts it under ulimit -n 20000). Raising the hard
  # limit needs CAP_SYS_RESOURCE; without it the bench splits the idle flood over worker processes under the limit it has.
  if ! ulimit -n 65536 2>/dev/null; then
    ulimit -n "$(ulimit -Hn)"
    log "open files: could not raise the limit to 65536 (no CAP_SYS_RESOURCE); the bench has $(ulimit -n) per process and splits the flood"
  fi
  mkdir -p "$RESULTS" "$WORK/hostile"
  local rc=0
  RUN_BENCH_TIMEOUT=2700 run_bench hostile --gateway-dll "$GATEWAY_DLL" --baseline-dll "$baseline_dll" \
    --baseline-label "$label" --current-label "$(git -C "$ROOT" describe --always --dirty)" --gateway-open-files 20000 \
    --work "$WORK/hostile" --admin-key "$ADMIN_KEY" --pid-file "$OUTBOX_PIDS" --out "$RESULTS/latest.md" --json "$RESULTS/hostile.json" \
    --total-limit-s 2600 "$@" || rc=$?
  stop_outbox_gateway || true
  log "hostile done; section in bench/results/latest.md"
  RC_HOSTILE=$rc
}

# Each run records its bench's exit status and returns 0, so set -e keeps aborting on any other failure.
RC_ALARMS=0
RC_COVERAGE=0
RC_STREAMS=0
RC_OUTBOX=0
RC_FEEDS=0
RC_HOSTILE=0
RC_CONSOLE=0
RC_TLS=0
RC_SHAPES=0
RC_SIP=0
RC_SOAK=0
case "$MODE" in
  alarms) run_alarms "$@" ;;
  coverage) run_coverage "$@" ;;
  streams) run_streams "$@" ;;
  outbox) run_outbox "$@" ;;
  feeds) run_feeds "$@" ;;
  hostile) run_hostile "$@" ;;
  console) run_console "$@" ;;
  tls) run_tls "$@" ;;
  shapes) run_shapes "$@" ;;
  sip) run_sip "$@" ;;
  soak) run_soak "$@" ;;
  all)
    run_alarms "$@"
    run_coverage "$@"
    run_streams "$@"
    run_outbox "$@"
    run_feeds "$@"
    ;;
esac
log "done in $(( $(date +%s) - SCRIPT_START )) s"
(( RC_ALARMS == 0 )) || exit "$RC_ALARMS"
(( RC_COVERAGE == 0 )) || exit "$RC_COVERAGE"
(( RC_CONSOLE == 0 )) || exit "$RC_CONSOLE"
(( RC_TLS == 0 )) || exit "$RC_TLS"
(( RC_SHAPES == 0 )) || exit "$RC_SHAPES"
(( RC_SIP == 0 )) || exit "$RC_SIP"
(( RC_SOAK == 0 )) || exit "$RC_SOAK"
(( RC_STREAMS == 0 )) || exit "$RC_STREAMS"
(( RC_OUTBOX == 0 )) || exit "$RC_OUTBOX"
(( RC_FEEDS == 0 )) || exit "$RC_FEEDS"
exit "$RC_HOSTILE"
