#!/usr/bin/env bash
# TURN at call rates and saturated: media-edge on THREADS TURN threads (and, with BEFORE, an
# older build beside it) against coturn 4.6 (Debian `turnserver`) under the same edge-loadgen
# load, side by side in one run.
#
#   THREADS=1 benches/turn_callrate.sh                 # the per-core comparison
#   THREADS=2 benches/turn_callrate.sh                 # 2 TURN threads, servers on cores 0-1
#   BEFORE=/path/to/old/media-edge benches/turn_callrate.sh   # before/after in one run
#   COALESCE_ALT=1000 benches/turn_callrate.sh         # also media-edge with a 1 ms window
#   ROUNDS=3 DURATION=10 ALLOCATIONS=400 FLOOD_FLOWS=8 WINDOW=16 SIZE=172 COALESCE_US=200
#
# Scenarios, each ROUNDS times per server (servers interleaved round by round):
# - `voip`: ALLOCATIONS allocations x 50 packets/s of SIZE bytes through a channel to the
#   generator's echo peer (a call's media), the generator receiving without GRO;
# - `flood`: FLOOD_FLOWS allocations with WINDOW probes in flight each (sent as GSO bursts),
#   the generator receiving without GRO: the saturated load. The `busy` column says how much
#   of its cores the server used (CPU seconds over the load phase / DURATION / cores): a
#   server short of ~100% there was not saturated (the generator, on one core, was the limit).
#
# Columns: delivered round trips/s, loss, round-trip p50/p99 (us, every probe), busy, and
# forwarded packets per server CPU-second (two per round trip, from /proc/PID/task/*/schedstat),
# with the ratio to coturn; then the medians per scenario and server. Each server is pinned to
# cores 0..THREADS-1, the generator to core 1 (with THREADS=2 they share core 1, so both
# servers' efficiency includes the crowding).
#
# With THREADS > 1 a last, unmeasured voip run of media-edge shows how the allocations and
# the packets spread over its TURN threads: the sockets registered with each event loop's
# epoll instance beyond those it had idle (one relay socket per allocation; /proc/PID/fdinfo),
# and the datagrams each thread received in 2 s (the sum of its `recvmmsg` results, traced
# with `perf record -e syscalls:sys_exit_recvmmsg`; a GRO train counts once, and at call
# rates no client has two datagrams queued at once), each with its deviation from the mean.
#
# Loopback only; every generator run is bounded by --duration and a timeout.
THREADS="${THREADS:-1}"
export SERVER_CPU="${SERVER_CPU:-0-$((THREADS - 1))}"
source "$(dirname "$0")/sidebyside/common.sh"
ALLOCATIONS="${ALLOCATIONS:-400}"
FLOOD_FLOWS="${FLOOD_FLOWS:-8}"
WINDOW="${WINDOW:-16}"
SIZE="${SIZE:-172}"
ROUNDS="${ROUNDS:-3}"
COALESCE_US="${COALESCE_US:-200}"
cores=$(taskset -c "$SERVER_CPU" nproc)
command -v turnserver >/dev/null || { echo "turn_callrate.sh: needs coturn (apt-get install coturn)" >&2; exit 1; }
build

port="${PORT:-34880}"
relay="${RELAY_PORTS:-$(free_block 1200)}"
relay_last=$((relay + 1199))
voip=(--allocations "$ALLOCATIONS" --rate 50 --size "$SIZE" --parallel 64)
flood=(--allocations "$FLOOD_FLOWS" --flood --window "$WINDOW" --size "$SIZE")
turn_args=(turn --server "127.0.0.1:$port" --user load --password load-password)

cat >"$work/media-edge.toml" <<TOML
[log]
level = "warn"
[turn]
realm = "bench"
listen-udp = ["127.0.0.1:$port"]
threads = $THREADS
coalesce-us = $COALESCE_US
[turn.relay]
address = "127.0.0.1"
port-range = "$relay-$relay_last"
[turn.auth]
[[turn.auth.users]]
name = "load"
password = "load-password"
[turn.quota]
allocations-per-user = 20000
allocations-total = 20000
[turn.peers]
allow = ["127.0.0.0/8"]
# One load generator on loopback opens every allocation: exempt it from the guard's
# per-source request rate limit (coturn has none), as a load test from one address must.
[guard]
allow = ["127.0.0.0/8"]
TOML
# The same with another coalescing window (COALESCE_ALT, microseconds).
sed "s/^coalesce-us = .*/coalesce-us = ${COALESCE_ALT:-0}/" "$work/media-edge.toml" >"$work/media-edge-alt.toml"

# serve NAME: starts server NAME on $port; sets $pid.
serve() {
    case "$1" in
    media-edge) start "$1" "$bin/media-edge" --config "$work/media-edge.toml" ;;
    media-edge-before) start "$1" "$BEFORE" --config "$work/media-edge.toml" ;;
    media-edge-coalesce-*) start "$1" "$bin/media-edge" --config "$work/media-edge-alt.toml" ;;
    coturn) start "$1" turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 \
        --listening-port="$port" --min-port="$relay" --max-port="$relay_last" --allow-loopback-peers \
        --no-cli --no-tls --no-dtls --lt-cred-mech --user=load:load-password --realm=bench \
        --user-quota=20000 --total-quota=20000 --log-file="$work/turnserver.log" --simple-log ;;
    esac
}

servers=(media-edge coturn)
[ -z "${BEFORE:-}" ] || servers=(media-edge-before "${servers[@]}")
[ -z "${COALESCE_ALT:-}" ] || servers=("media-edge-coalesce-${COALESCE_ALT}us" "${servers[@]}")
for round in $(seq "$ROUNDS"); do
    for scenario in voip flood; do
        for server in "${servers[@]}"; do
            serve "$server"
            if [ "$scenario" = voip ]; then
                load "$server" "voip ${ALLOCATIONS}x50pps" "$pid" "${turn_args[@]}" "${voip[@]}"
            else
                load "$server" "flood ${FLOOD_FLOWS}x${WINDOW}" "$pid" "${turn_args[@]}" "${flood[@]}"
            fi
            stop "$pid"
        done
    done
done

echo "servers on cores $SERVER_CPU (media-edge: $THREADS TURN threads, coalesce $COALESCE_US us), generator on core $LOAD_CPU; $ROUNDS rounds of $DURATION s"
python3 - "$results" coturn "$DURATION" "$cores" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ref, duration, cores = sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
def eff(r): return ((r.get("server") or {}).get("forwarded_per_cpu_s") or 0.0)
def busy(r): return 100 * ((r.get("server") or {}).get("cpu_s") or 0.0) / duration / cores
print("| scenario | server | round trips/s | loss | rtt p50 / p99 (us) | busy | packets per CPU-s |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['scenario']} | {r['server_name']} | {r['delivered_pps']:,.0f} | {100 * r['loss_ratio']:.3f}% | "
          f"{r['rtt_us']['p50']} / {r['rtt_us']['p99']} | {busy(r):.0f}% | {eff(r):,.0f} |")
print()
print("medians:")
print("| scenario | server | round trips/s | loss (worst) | rtt p50 / p99 (us) | busy | packets per CPU-s | vs " + ref + " |")
print("|---|---|---|---|---|---|---|---|")
for scenario in dict.fromkeys(r["scenario"] for r in rows):
    group = [r for r in rows if r["scenario"] == scenario]
    med = {}
    for name in dict.fromkeys(r["server_name"] for r in group):
        g = [r for r in group if r["server_name"] == name]
        med[name] = dict(
            rt=statistics.median(r["delivered_pps"] for r in g),
            loss=max(r["loss_ratio"] for r in g),
            p50=statistics.median(r["rtt_us"]["p50"] for r in g),
            p99=statistics.median(r["rtt_us"]["p99"] for r in g),
            busy=statistics.median(busy(r) for r in g),
            eff=statistics.median(eff(r) for r in g),
        )
    base = med.get(ref, {}).get("eff", 0.0)
    for name, m in med.items():
        ratio = f"{m['eff'] / base:.2f}x" if base else "-"
        print(f"| {scenario} | {name} | {m['rt']:,.0f} | {100 * m['loss']:.3f}% | {m['p50']:.0f} / {m['p99']:.0f} | "
              f"{m['busy']:.0f}% | {m['eff']:,.0f} | {ratio} |")
PY

# How media-edge's allocations and packets spread over its TURN threads (THREADS > 1).
# epoll_counts PID: "fd count" for each epoll instance of PID: its lowest descriptor and how
# many targets it has registered (a loop's registry clone is a second descriptor of the same
# instance: the same targets, listed once).
epoll_counts() {
    local fd
    for fd in /proc/"$1"/fd/*; do
        [ "$(readlink "$fd")" = "anon_inode:[eventpoll]" ] || continue
        echo "${fd##*/} $(grep '^tfd:' "/proc/$1/fdinfo/${fd##*/}" | awk '{ print $2 }' | sort -n | md5sum | cut -c1-12)"
    done | sort -n | awk '!seen[$2]++ { print $1 }' | while read -r fd; do
        echo "$fd $(grep -c '^tfd:' "/proc/$1/fdinfo/$fd")"
    done
}
if [ "$THREADS" -gt 1 ] && command -v perf >/dev/null; then
    serve media-edge
    idle=$(for fd in /proc/"$pid"/fd/*; do echo "${fd##*/} $(grep -c '^tfd:' "/proc/$pid/fdinfo/${fd##*/}")"; done)
    taskset -c "$LOAD_CPU" timeout $((DURATION + 90)) "$bin/edge-loadgen" "${turn_args[@]}" "${voip[@]}" \
        --duration $((DURATION > 4 ? DURATION : 4)) --max-loss 1 --json --quiet >"$work/spread.json" &
    gen=$!
    # Wait (60 s at most) for every allocation's relay socket, then 1 s into the load phase.
    fds=$(ls /proc/"$pid"/fd | wc -l)
    for _ in $(seq 120); do
        [ "$(ls /proc/"$pid"/fd | wc -l)" -lt $((fds + ALLOCATIONS)) ] || break
        sleep 0.5
    done
    sleep 1
    loaded=$(epoll_counts "$pid")
    perf record -q -e syscalls:sys_exit_recvmmsg -p "$pid" -o "$work/spread.data" -- sleep 2 2>/dev/null
    wait "$gen" || true
    echo
    echo "spread over $THREADS TURN threads, ${ALLOCATIONS}x50pps (an unmeasured run):"
    # The instances whose count grew by more than a few sockets: the TURN loops (each
    # compared with what its descriptor had registered idle).
    awk 'NR == FNR { idle[$1] = $2; next } { d = $2 - idle[$1]; if (d > 8) { n++; v[n] = d; t += d } }
        END { for (i = 1; i <= n; i++)
                printf "  event loop %d: %d allocations (%+.0f%% from the mean)\n", i, v[i], 100 * (v[i] * n / t - 1) }' \
        <(echo "$idle") <(echo "$loaded")
    perf script -i "$work/spread.data" -F comm,trace 2>/dev/null | python3 -c '
import collections, sys
n = collections.Counter()
for line in sys.stdin:
    f = line.split()
    if len(f) >= 2 and f[0].startswith("turn-loop"):
        v = int(f[-1], 0)
        if 0 < v < 1 << 31:  # errors (EAGAIN) come back as negative values
            n[f[0]] += v
mean = sum(n.values()) / max(len(n), 1)
for name, v in sorted(n.items()):
    print(f"  {name}: {v} datagrams received in 2 s ({100 * (v / mean - 1):+.0f}% from the mean)")'
    stop "$pid"
fi
echo "raw reports: $results" >&2
trap - EXIT
cleanup
