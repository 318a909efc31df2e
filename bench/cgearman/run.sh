#!/usr/bin/env bash
# Standalone run of the libgearman C baseline: starts a private gearmand on a
# free loopback port, WORKERS echo workers, runs the client once, prints the
# client's output and tears everything down.
#
# Environment:
#   WORKERS=1         number of echo_worker processes
#   JOBS=100000       jobs submitted by the client
#   SIZE=16           workload bytes per job
#   WINDOW=1000       max jobs in flight
#   UNIQUE=own        own|null (see client.c)
#   MODE=slide        slide|batch (see client.c)
#   FUNC=bench_echo   function name
#   GEARMAND_THREADS= if set, passed as --threads=N (default: gearmand's default)
#   GEARMAND=/usr/sbin/gearmand
#   WORKER_BIN, CLIENT_BIN  override bin/echo_worker, bin/client (experiments)
#
# Builds bin/ with make if needed.  The gearmand log goes to a temp dir that
# is removed on exit unless KEEP_LOG=1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
WORKERS=${WORKERS:-1}
JOBS=${JOBS:-100000}
SIZE=${SIZE:-16}
WINDOW=${WINDOW:-1000}
UNIQUE=${UNIQUE:-own}
MODE=${MODE:-slide}
FUNC=${FUNC:-bench_echo}
GEARMAND=${GEARMAND:-/usr/sbin/gearmand}
GEARMAND_THREADS=${GEARMAND_THREADS:-}
WORKER_BIN=${WORKER_BIN:-$here/bin/echo_worker}
CLIENT_BIN=${CLIENT_BIN:-$here/bin/client}

make -s -C "$here" all >/dev/null

tmp=$(mktemp -d /tmp/cgearman.XXXXXX)
pids=()

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # Workers first, then gearmand; SIGTERM, wait, SIGKILL stragglers.
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 50); do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "${KEEP_LOG:-0}" = 1 ]; then
        echo "logs kept in $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# True if the listener on port $1 is process $2 (skipped without ss).  Guards
# against a foreign server grabbing the port between free_port and bind;
# gearmand itself then keeps retrying bind() instead of exiting.
port_owned_by() {
    command -v ss >/dev/null || return 0
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -q "pid=$2,"
}

# gearmand may lose a race for the port; retry a few times.
started=0
for attempt in 1 2 3 4 5; do
    PORT=$(free_port)
    args=(--listen=127.0.0.1 --port="$PORT" --log-file="$tmp/gearmand.log" --verbose=ERROR)
    [ -n "$GEARMAND_THREADS" ] && args+=(--threads="$GEARMAND_THREADS")
    "$GEARMAND" "${args[@]}" >"$tmp/gearmand.out" 2>&1 &
    gpid=$!
    for _ in $(seq 100); do
        if port_open "$PORT"; then
            port_owned_by "$PORT" "$gpid" && started=1
            break
        fi
        kill -0 "$gpid" 2>/dev/null || break
        sleep 0.05
    done
    if [ "$started" = 1 ]; then
        pids+=("$gpid")
        break
    fi
    kill -KILL "$gpid" 2>/dev/null || true
    wait "$gpid" 2>/dev/null || true
done
if [ "$started" != 1 ]; then
    echo "run.sh: gearmand did not start" >&2
    cat "$tmp/gearmand.out" "$tmp/gearmand.log" >&2 2>/dev/null || true
    exit 1
fi

for i in $(seq "$WORKERS"); do
    "$WORKER_BIN" 127.0.0.1 "$PORT" "$FUNC" >"$tmp/worker$i.out" 2>"$tmp/worker$i.err" &
    pids+=("$!")
done
for i in $(seq "$WORKERS"); do
    for _ in $(seq 100); do
        grep -qx ready "$tmp/worker$i.out" 2>/dev/null && break
        sleep 0.05
    done
    if ! grep -qx ready "$tmp/worker$i.out"; then
        echo "run.sh: worker $i not ready" >&2
        cat "$tmp/worker$i.err" >&2
        exit 1
    fi
done

echo "# gearmand port=$PORT threads=${GEARMAND_THREADS:-default} workers=$WORKERS jobs=$JOBS size=$SIZE window=$WINDOW unique=$UNIQUE mode=$MODE" >&2
# Background + wait so that SIGTERM/SIGINT to this script is handled at once.
"$CLIENT_BIN" 127.0.0.1 "$PORT" "$FUNC" "$JOBS" "$SIZE" "$WINDOW" "$UNIQUE" "$MODE" &
cpid=$!
pids=("$cpid" "${pids[@]}")
set +e
wait "$cpid"
crc=$?
set -e
exit "$crc"
