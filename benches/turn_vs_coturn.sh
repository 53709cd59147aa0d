#!/usr/bin/env bash
# Relayed throughput and CPU of media-edge vs coturn 4.6 (Debian `turnserver`) under the same
# coturn `turnutils_uclient` load, measured side by side in one run.
#
# Each server is pinned to core 0 (taskset); the load (uclient and the turnutils_peer echo)
# runs on core 1. For every round and server it prints the round trips echoed (one round trip
# = client -> server -> peer -> server -> client: two datagrams relayed by the server, four
# through its sockets), lost packets, wall time, round trips per second, the server's CPU
# (utime+stime from /proc) and round trips per CPU-second of the server, the round-trip
# latency p50/p99 under that load, then the medians.
#
# Latency: uclient prints only an average, so beside every uclient run a probe
# (`edge-loadgen turn`, PROBES allocations at 50 packets/s each through the same server and
# the same turnutils_peer echo, receiving without GRO) measures the round trip of each of its
# packets while the load runs; its p50/p99 are the columns. The probe adds PROBES x 50 x 2
# relayed datagrams per second to the server's work, the same for both servers.
#
#   benches/turn_vs_coturn.sh             # 40 clients x 5000 messages, one every 1 ms each: zero loss
#   CLIENTS=8 MESSAGES=50000 INTERVAL=0 RMEM_DEFAULT=4194304 benches/turn_vs_coturn.sh   # flood
#   COALESCE_US=1000 benches/turn_vs_coturn.sh   # media-edge with a 1 ms coalescing window (default 200 us)
#   THREADS=2 benches/turn_vs_coturn.sh   # media-edge on 2 TURN threads; both servers on cores 0-1
#
# THREADS sets media-edge's turn.threads (default 1: the per-core comparison). With more, both
# servers may use cores 0..THREADS-1 (SERVER_CPUS), so on a 2-core machine they share core 1
# with the load; each media-edge row is followed by how its CPU time split over its TURN
# threads (the kernel's SO_REUSEPORT hash spreads the clients).
#
# The `drops` column is the kernel's UDP receive-buffer overflow count (RcvbufErrors in
# /proc/net/snmp) during the run, over every socket on the machine. In flood mode (-z 0)
# coturn 4.6's own sockets overflow at the system default buffer size (212 KB; coturn
# leaves SO_RCVBUF alone, media-edge asks for 4 MiB): RMEM_DEFAULT sets
# net.core.rmem_default for the run (restored at exit) so coturn gets big buffers too, as an
# operator would tune it. uclient fixes its own sockets at 128 KiB, and with 16 or more
# flooding clients they overflow now and then whichever server relays (`ss -uamp` shows
# the drops on uclient's sockets): keep the flood at 8 clients for a zero-loss comparison.
#
# Loopback only; every run is bounded by MESSAGES and a 120 s timeout per uclient.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-40}
MESSAGES=${MESSAGES:-5000}
SIZE=${SIZE:-120}
INTERVAL=${INTERVAL:-1}
ROUNDS=${ROUNDS:-3}
# media-edge's wake-up coalescing window (turn.coalesce-us), microseconds; 0 turns it off.
COALESCE_US=${COALESCE_US:-200}
THREADS=${THREADS:-1}
SERVER_CPUS=${SERVER_CPUS:-0-$((THREADS - 1))}
# Relay port ranges (first-last); both must be free (checked below).
ME_PORTS=${ME_PORTS:-61000-61999}
CO_PORTS=${CO_PORTS:-62000-62999}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/media-edge-target}"

for tool in turnserver turnutils_uclient turnutils_peer taskset; do
    command -v "$tool" >/dev/null || { echo "$tool missing (apt-get install coturn util-linux)" >&2; exit 1; }
done
# MEDIA_EDGE_BIN runs another build (e.g. an older commit's) instead of building this tree.
if [ -z "${MEDIA_EDGE_BIN:-}" ]; then
    cargo build --release -q -p media-edge
fi
bin="${MEDIA_EDGE_BIN:-$CARGO_TARGET_DIR/release/media-edge}"
cargo build --release -q -p edge-loadgen
loadgen="$CARGO_TARGET_DIR/release/edge-loadgen"
PROBES=${PROBES:-4}
# The probe runs as long as uclient sends (MESSAGES x INTERVAL ms; 3 s in flood mode), 1-60 s.
PROBE_S=$(( MESSAGES * INTERVAL / 1000 ))
[ "$PROBE_S" -ge 1 ] || PROBE_S=3
[ "$PROBE_S" -le 60 ] || PROBE_S=60

tmp=$(mktemp -d)
pids=()
rmem_before=$(sysctl -n net.core.rmem_default)
cleanup() {
    sysctl -qw net.core.rmem_default="$rmem_before" || true
    # SIGINT stops media-edge at once (its SIGTERM drains, waiting for the allocations);
    # coturn ignores SIGINT: SIGTERM follows for what is still running.
    for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
    sleep 1
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
if [ -n "${RMEM_DEFAULT:-}" ]; then
    sysctl -qw net.core.rmem_default="$RMEM_DEFAULT"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Fails when a UDP socket is already bound in the range first-last ($1).
check_free_range() {
    local first=${1%-*} last=${1#*-} used
    used=$(awk -v a="$first" -v b="$last" 'NR > 1 {
        split($2, l, ":"); p = 0; h = l[2];
        for (i = 1; i <= length(h); i++) p = p * 16 + index("0123456789ABCDEF", substr(h, i, 1)) - 1;
        if (p >= a && p <= b) n++ } END { print n + 0 }' /proc/net/udp /proc/net/udp6)
    [ "$used" = 0 ] || { echo "$used UDP sockets already bound in $1: pick another range" >&2; exit 1; }
}
check_free_range "$ME_PORTS"
check_free_range "$CO_PORTS"
ME_PORT=$(free_port)
CO_PORT=$(free_port)
PEER_PORT=$(free_port)

cat >"$tmp/media-edge.toml" <<EOF
[log]
level = "warn"
[turn]
realm = "r"
listen-udp = ["127.0.0.1:$ME_PORT"]
coalesce-us = $COALESCE_US
threads = $THREADS
[turn.relay]
address = "127.0.0.1"
port-range = "$ME_PORTS"
[[turn.auth.users]]
name = "u"
password = "p"
[turn.quota]
allocations-per-user = 10000
[turn.peers]
allow = ["127.0.0.0/8"]
# One load generator on loopback opens every allocation: exempt it from the guard's
# per-source request rate limit (coturn has none), as a load test from one address must.
[guard]
allow = ["127.0.0.0/8"]
EOF

taskset -c 1 turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >/dev/null 2>&1 &
pids+=($!)
taskset -c "$SERVER_CPUS" "$bin" --config "$tmp/media-edge.toml" 2>"$tmp/media-edge.log" &
ME_PID=$!
pids+=($ME_PID)
taskset -c "$SERVER_CPUS" turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 \
    --listening-port="$CO_PORT" --min-port="${CO_PORTS%-*}" --max-port="${CO_PORTS#*-}" --allow-loopback-peers \
    --no-cli --no-tls --no-dtls --lt-cred-mech --user=u:p --realm=r \
    --log-file="$tmp/turn.log" --simple-log --no-stdout-log >/dev/null 2>&1 &
CO_PID=$!
pids+=($CO_PID)
sleep 1
kill -0 "$ME_PID" && kill -0 "$CO_PID"

hz=$(getconf CLK_TCK)
cpu_ticks() {
    [ -r "/proc/$1/stat" ] || { echo "server pid $1 is gone" >&2; exit 1; }
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# UDP datagrams the kernel dropped so far because a receive buffer was full (all sockets).
rcvbuf_errors() {
    awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 } else print $c }' /proc/net/snmp
}

# utime+stime ticks of each TURN thread of process $1, as "name=ticks" words.
thread_ticks() {
    local task
    for task in /proc/"$1"/task/*; do
        case "$(cat "$task/comm")" in
        turn-loop*) echo "$(cat "$task/comm")=$(awk '{print $14 + $15}' "$task/stat")" ;;
        esac
    done
}

# One measured uclient run against a server; prints a result row.
measure() {
    local name=$1 pid=$2 port=$3
    local c0 t0 c1 t1 d0 d1 out recv lost threads0 probe latency
    threads0=$(thread_ticks "$pid")
    taskset -c 1 "$loadgen" turn --server "127.0.0.1:$port" --user u --password p \
        --allocations "$PROBES" --rate 50 --duration "$PROBE_S" --drain 1 \
        --peer "127.0.0.1:$PEER_PORT" --max-loss 1 --json --quiet >"$tmp/probe.json" 2>"$tmp/probe.err" &
    probe=$!
    c0=$(cpu_ticks "$pid")
    d0=$(rcvbuf_errors)
    t0=$(date +%s.%N)
    out=$(timeout 120 taskset -c 1 turnutils_uclient -p "$port" -e 127.0.0.1 -r "$PEER_PORT" \
        -u u -w p -m "$CLIENTS" -n "$MESSAGES" -z "$INTERVAL" -l "$SIZE" -c -X 127.0.0.1 2>&1) ||
        echo "$name: uclient exited with an error (its summary, if any, is still used):" \
            "$(grep -m3 -i 'error' <<<"$out" | tr '\n' ' ')" >&2
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "$pid")
    d1=$(rcvbuf_errors)
    wait "$probe" || true
    latency=$(python3 -c 'import json,sys
try:
    r = json.load(open(sys.argv[1]))["rtt_us"]
    print(r["p50"], r["p99"])
except Exception:
    print("? ?")' "$tmp/probe.json")
    [ "$latency" != "? ?" ] || echo "$name: the latency probe failed: $(head -c 300 "$tmp/probe.err")" >&2
    recv=$(grep -o 'start_mclient: tot_send_msgs=[0-9]*, tot_recv_msgs=[0-9]*$' <<<"$out" |
        sed 's/.*tot_recv_msgs=//' | tail -1)
    lost=$(grep -o 'Total lost packets [0-9]*' <<<"$out" | grep -o '[0-9]*$' | tail -1)
    awk -v n="$name" -v r="${recv:-0}" -v l="${lost:-?}" -v w="$(echo "$t1 - $t0" | bc)" \
        -v cpu="$(( c1 - c0 ))" -v hz="$hz" -v d="$(( d1 - d0 ))" -v lat="$latency" 'BEGIN {
            cs = cpu / hz; split(lat, q, " ");
            printf "%-11s %9d %6s %7.2f %10.0f %8.2f %6.1f%% %14.0f %6d %8s %8s\n",
                n, r, l, w, r / w, cs, 100 * cs / w, (cs > 0 ? r / cs : 0), d, q[1], q[2]
        }'
    if [ "$name" = media-edge ] && [ "$THREADS" -gt 1 ]; then
        # Each thread's share of the TURN threads' CPU time in this run.
        paste <(tr ' ' '\n' <<<"$threads0") <(thread_ticks "$pid") | awk -F'[=\t]' '
            { d[$1] = $4 - $2; t += $4 - $2 }
            END { printf "  threads:"; for (n in d) printf " %s %.0f%%", n, (t ? 100 * d[n] / t : 0); print "" }' >&2
    fi
}

printf "uclient: %s clients x %s messages, %s B, interval %s ms; servers on cores %s (media-edge: %s TURN threads), load on core 1\n" \
    "$CLIENTS" "$MESSAGES" "$SIZE" "$INTERVAL" "$SERVER_CPUS" "$THREADS"
printf "%-11s %9s %6s %7s %10s %8s %7s %14s %6s %8s %8s\n" server round-trips lost wall-s rt/s cpu-s cpu rt/cpu-second drops p50-us p99-us
for round in $(seq "$ROUNDS"); do
    measure media-edge "$ME_PID" "$ME_PORT"
    measure coturn-4.6 "$CO_PID" "$CO_PORT"
done | tee "$tmp/rows"

# Median of column $2 of the rows of server $1.
median() {
    local values
    values=$(grep "^$1 " "$tmp/rows" | awk -v c="$2" '{ sub("%", "", $c); print $c }' | sort -n)
    sed -n "$(( ($(wc -l <<<"$values") + 1) / 2 ))p" <<<"$values"
}
echo "medians:"
for name in media-edge coturn-4.6; do
    lost=$(grep "^$name " "$tmp/rows" | awk '{ s += $3 } END { print s + 0 }')
    printf "%-11s rt/s %8s  cpu %5s%%  rt/cpu-second %8s  rtt p50 %s us p99 %s us  lost(total) %s\n" \
        "$name" "$(median "$name" 5)" "$(median "$name" 7)" "$(median "$name" 8)" \
        "$(median "$name" 10)" "$(median "$name" 11)" "$lost"
done
me=$(median media-edge 8)
co=$(median coturn-4.6 8)
echo "media-edge / coturn-4.6, round trips per CPU-second: $(echo "scale=2; $me / $co" | bc)"
