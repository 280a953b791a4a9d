#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the benchmarks, set up like the tests' (tests/SharpEyes.Gateway.Tests/Infrastructure/
# PostgresServer.cs): initdb in a folder of its own, trust auth for 127.0.0.1 only, postgres on 127.0.0.1 and a free port,
# fsync, synchronous_commit and full_page_writes on (a PUBACK means durable). PostgreSQL refuses to run as root: when run
# as root, initdb and postgres run as the system user sharpeyes-test (scripts/install-test-deps.sh creates it) via setpriv.
# Usage: bench/pg.sh start DIR PORT   -> prints postgres://sharpeyes@127.0.0.1:PORT/bench once it accepts connections
#        bench/pg.sh stop DIR         -> fast shutdown (then the folder may be removed)
set -euo pipefail
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -x "$BIN/initdb" ]] || { echo "pg.sh: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)" >&2; exit 1; }
as_owner() { if [[ $(id -u) -eq 0 ]]; then setpriv --reuid sharpeyes-test --regid sharpeyes-test --clear-groups -- "$@"; else "$@"; fi; }
case "${1:-}" in
  start)
    dir=$2 port=$3
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown sharpeyes-test:sharpeyes-test "$dir"
    as_owner "$BIN/initdb" --pgdata "$dir/data" --username sharpeyes --auth trust --encoding UTF8 --locale C --no-instructions >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    echo "host all all 127.0.0.1/32 trust" >"$dir/data/pg_hba.conf"
    as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start -o "-c listen_addresses=127.0.0.1 -c port=$port \
      -c unix_socket_directories=$dir -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=300 \
      -c log_min_messages=warning" >"$dir/pg_ctl.log" 2>&1 || { cat "$dir/pg_ctl.log" "$dir/postgres.log" >&2; exit 1; }
    "$BIN/createdb" -h 127.0.0.1 -p "$port" -U sharpeyes bench
    echo "postgres://sharpeyes@127.0.0.1:$port/bench"
    ;;
  stop)
    dir=$2
    [[ -f "$dir/data/postmaster.pid" ]] && as_owner "$BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    ;;
  *) echo "usage: bench/pg.sh start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
