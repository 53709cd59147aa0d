#!/usr/bin/env bash
# Flood isolation: what a STUN Binding flood from one address (127.0.0.3) costs other
# clients' media. media-edge's TURN server (release build) relays a paced VoIP-like load
# (ALLOCATIONS x 50 pps of 172-byte ChannelData from 127.0.0.1, exempt from the guard as a
# load test must be) while `edge-loadgen binding-flood` sends Binding requests at each rate of
# RATES (0: flat out, one thread) from 127.0.0.3, which the guard rate-limits (default 50/s,
# burst 200) like any client. For each TURN layout of LAYOUTS (threads x UDP sockets per
# thread, `turn.threads` and `turn.udp-sockets`) it prints the paced load's loss and
# round-trip p50/p99 beside the flood's offered rate, and the kernel's UDP receive-buffer
# drops (RcvbufErrors, all sockets) during the run.
#
#   benches/turn_flood_isolation.sh      # LAYOUTS="1x1 1x4 2x1 2x4" RATES="none 20000 100000 0" DURATION=10
#
# The server runs on cores 0..THREADS-1, the load and the flood (at nice 19, as an attacker
# on the network would not share the server's cores) on core 1: on a 2-core machine the
# 2-thread rows share core 1 three ways. Loopback only; every run is bounded by DURATION.
source "$(dirname "$0")/sidebyside/common.sh"
ALLOCATIONS="${ALLOCATIONS:-100}"
LAYOUTS="${LAYOUTS:-1x1 1x4 2x1 2x4}"
RATES="${RATES:-none 20000 100000 0}"
build

port="$(free_block 1)"
relay="$(free_block $((ALLOCATIONS + 50)))"
floods="$work/floods.txt"
rcvbuf_errors() {
    awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 } else print $c }' /proc/net/snmp
}
for layout in $LAYOUTS; do
    threads=${layout%x*}
    sockets=${layout#*x}
    name="media-edge ${threads}x${sockets}"
    cat >"$work/media-edge.toml" <<TOML
[log]
level = "warn"
[turn]
realm = "bench"
listen-udp = ["127.0.0.1:$port"]
threads = $threads
udp-sockets = $sockets
[turn.relay]
address = "127.0.0.1"
port-range = "$relay-$((relay + ALLOCATIONS + 49))"
[[turn.auth.users]]
name = "load"
password = "load-password"
[turn.quota]
allocations-per-user = 20000
[turn.peers]
allow = ["127.0.0.0/8"]
# The paced load comes from 127.0.0.1 only, the flood from 127.0.0.3, which stays limited.
[guard]
allow = ["127.0.0.1/32"]
TOML
    SERVER_CPU="0-$((threads - 1))" start media-edge "$bin/media-edge" --config "$work/media-edge.toml"
    for rate in $RATES; do
        label="flood $rate/s"
        [ "$rate" = 0 ] && label="flood flat out"
        [ "$rate" = none ] && label="no flood"
        d0=$(rcvbuf_errors)
        if [ "$rate" != none ]; then
            taskset -c "$LOAD_CPU" nice -n 19 "$bin/edge-loadgen" binding-flood \
                --target "127.0.0.1:$port" --local 127.0.0.3:0 --rate "$rate" \
                --duration "$((DURATION + 3))" >"$work/flood.out" 2>&1 &
            flood=$!
            sleep 1
        fi
        load "$name" "$label" "$pid" turn --server "127.0.0.1:$port" \
            --user load --password load-password --allocations "$ALLOCATIONS" --rate 50 \
            --size 172 --parallel 32
        if [ "$rate" != none ]; then
            wait "$flood" || true
            echo "$name $label: $(cat "$work/flood.out"); RcvbufErrors +$(( $(rcvbuf_errors) - d0 ))" >>"$floods"
        else
            echo "$name $label: RcvbufErrors +$(( $(rcvbuf_errors) - d0 ))" >>"$floods"
        fi
    done
    stop "$pid"
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| server | scenario | paced flows | paced loss | rtt p50 / p99 (us) | server CPU-s |")
print("|---|---|---|---|---|---|")
for r in rows:
    cpu = (r.get("server") or {}).get("cpu_s", 0.0)
    print(f"| {r['server_name']} | {r['scenario']} | {r['flows']} | {100 * r['loss_ratio']:.3f}% "
          f"({r['lost']} of {r['sent']}) | {r['rtt_us']['p50']} / {r['rtt_us']['p99']} | {cpu:.2f} |")
PY
echo
cat "$floods"
echo "raw reports: $results" >&2
trap - EXIT
cleanup
