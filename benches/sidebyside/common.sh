# Shared by the side-by-side scripts: build, CPU pinning, process CPU time, the table.
# Sourced, not run. Every server runs pinned to $SERVER_CPU, the load generator (and its
# echo) to $LOAD_CPU; loopback only; each run is bounded by --duration.

set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/media-edge-target}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
DURATION="${DURATION:-10}"
bin="$CARGO_TARGET_DIR/release"
work="$(mktemp -d /tmp/sidebyside.XXXXXX)"
results="$work/results.jsonl"
pids=()

# halt PID: SIGINT (media-edge stops at once; its SIGTERM drains, waiting for the
# generator's allocations), then SIGTERM for servers that ignore SIGINT (coturn).
halt() {
    kill -INT "$1" 2>/dev/null || return 0
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -TERM "$1" 2>/dev/null || true
}

cleanup() {
    for pid in "${pids[@]}"; do
        halt "$pid"
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT

build() {
    (cd "$root" && cargo build --release -q -p media-edge -p edge-loadgen)
}

# start NAME CMD...: runs CMD pinned to the server core in the background; sets $pid.
start() {
    local name="$1"
    shift
    taskset -c "$SERVER_CPU" "$@" >"$work/$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    sleep 1
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "sidebyside: $name did not start:" >&2
        cat "$work/$name.log" >&2
        exit 1
    fi
}

# free_block N: the first port of N consecutive UDP ports free on 127.0.0.1 (above the
# ephemeral range when it can).
free_block() {
    python3 - "$1" <<'PY'
import socket, sys
n = int(sys.argv[1])
for base in list(range(61000, 65536 - n, 97)) + list(range(20000, 32000 - n, 97)):
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", p))
            socks.append(s)
        print(base)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
PY
}

# stop PID: ends a server started with `start`.
stop() {
    halt "$1"
    wait "$1" 2>/dev/null || true
    sleep 0.5
}

# load SERVER SCENARIO PID ARGS...: one edge-loadgen run pinned to the load core, measuring
# PID's CPU time; its JSON report goes to the results with the server and scenario names.
load() {
    local server="$1" scenario="$2" spid="$3"
    shift 3
    echo "sidebyside: $scenario against $server" >&2
    local json
    json="$(taskset -c "$LOAD_CPU" "$bin/edge-loadgen" "$@" --duration "$DURATION" \
        --server-pid "$spid" --json --quiet --max-loss 1)" || true
    if [ -z "$json" ]; then
        echo "sidebyside: no report from $server / $scenario" >&2
        return
    fi
    python3 -c 'import json,sys; r=json.loads(sys.argv[3]); r["server_name"]=sys.argv[1]; r["scenario"]=sys.argv[2]; print(json.dumps(r))' \
        "$server" "$scenario" "$json" >>"$results"
}

# table REFERENCE: prints the markdown table of the results, ratios against REFERENCE.
table() {
    python3 - "$results" "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ref = sys.argv[2]
print("| scenario | server | flows | delivered round trips/s | loss | rtt p50 / p99 (us) | forwarded packets per server CPU-s | vs " + ref + " |")
print("|---|---|---|---|---|---|---|---|")
for scenario in dict.fromkeys(r["scenario"] for r in rows):
    group = [r for r in rows if r["scenario"] == scenario]
    base = next((r for r in group if r["server_name"] == ref), None)
    for r in group:
        eff = (r.get("server") or {}).get("forwarded_per_cpu_s", 0.0)
        base_eff = ((base or {}).get("server") or {}).get("forwarded_per_cpu_s", 0.0)
        ratio = f"{eff / base_eff:.2f}x" if base_eff else "-"
        print(f"| {scenario} | {r['server_name']} | {r['flows']} | {r['delivered_pps']:,.0f} | "
              f"{100 * r['loss_ratio']:.3f}% | {r['rtt_us']['p50']} / {r['rtt_us']['p99']} | "
              f"{eff:,.0f} | {ratio} |")
PY
}
