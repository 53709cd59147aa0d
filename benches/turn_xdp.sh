#!/usr/bin/env bash
# The XDP fast path ([turn.xdp]) on and off, and coturn 4.6, in one run on a veth topology:
# two network namespaces made here (deleted at exit), "edge" with the server on
# 198.18.98.1 (its veth end `ve`, the XDP program attached natively when on) and "outside" with
# the load generator's clients and echo peer on 198.18.98.2 and a flooding source on 198.18.98.3
# (its end `vo` carries an xdp_pass program, which native XDP on veth needs; checksum
# offload off on both ends). Rows:
#
#   throughput   FLOWS allocations flooding ChannelData (--flood, WINDOW in flight each,
#                172 bytes): delivered round trips/s, and round trips per CPU-second where
#                the CPU is the server process's time PLUS the softirq time of every core
#                (/proc/stat): the XDP program runs in softirq (on veth, on the core that
#                sent the frame: the load's), so the server process alone would flatter it.
#                The softirq column also holds the load generator's own receive work, the
#                same in every row.
#   paced+flood  ALLOCATIONS x 50 pps of 172-byte ChannelData from 198.18.98.2 (exempt from
#                the guard) while `edge-loadgen binding-flood` sends STUN Binding requests
#                flat out from 198.18.98.3: the paced flows' loss. Userspace rows rate-limit
#                the flood in the guard (50/s); XDP rows drop it in the kernel above
#                SOURCE_PPS per source.
#
#   benches/turn_xdp.sh                         # DURATION=10 FLOWS=8 WINDOW=16 ALLOCATIONS=100
#   DURATION=2 PROFILE=debug benches/turn_xdp.sh   # a bounded check that it runs (figures meaningless)
#
# The server runs on core SERVER_CPU (0), the load and the flood on LOAD_CPU (1). Needs root,
# clang, iproute2, ethtool, coturn. Figures need a quiet machine: nothing else building.
source "$(dirname "$0")/sidebyside/common.sh"
FLOWS="${FLOWS:-8}"
WINDOW="${WINDOW:-16}"
ALLOCATIONS="${ALLOCATIONS:-100}"
SOURCE_PPS="${SOURCE_PPS:-1000}"
PROFILE="${PROFILE:-release}"
for tool in ip ethtool clang turnserver taskset; do
    command -v "$tool" >/dev/null || { echo "turn_xdp.sh: $tool missing" >&2; exit 1; }
done
if [ "$PROFILE" = release ]; then
    build
else
    (cd "$root" && cargo build -q -p media-edge -p edge-loadgen)
fi
real="$CARGO_TARGET_DIR/$PROFILE"

edge="me-xdp-edge-$$"
outside="me-xdp-out-$$"
teardown() {
    cleanup
    ip netns del "$edge" 2>/dev/null || true
    ip netns del "$outside" 2>/dev/null || true
    rm -rf "$work"
}
trap teardown EXIT
ip netns add "$edge"
ip netns add "$outside"
ip -n "$edge" link set lo up
ip -n "$outside" link set lo up
ip -n "$edge" link add ve type veth peer name vo netns "$outside"
ip -n "$edge" addr add 198.18.98.1/24 dev ve
ip -n "$outside" addr add 198.18.98.2/24 dev vo
ip -n "$outside" addr add 198.18.98.3/24 dev vo
ip netns exec "$edge" ethtool -K ve tx off rx off >/dev/null
ip netns exec "$outside" ethtool -K vo tx off rx off >/dev/null
ip -n "$edge" link set ve up
ip -n "$outside" link set vo up
cat >"$work/pass.c" <<'C'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int xdp_pass(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "Dual MIT/GPL";
C
clang -O2 -g -target bpf -I"/usr/include/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)" \
    -c "$work/pass.c" -o "$work/pass.o"
ip -n "$outside" link set dev vo xdpdrv obj "$work/pass.o" sec xdp

# The load generator runs in the outside namespace: common.sh's `load` runs "$bin/edge-loadgen".
mkdir -p "$work/bin"
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$outside" "$real/edge-loadgen" >"$work/bin/edge-loadgen"
chmod +x "$work/bin/edge-loadgen"
bin="$work/bin"

softirq_ticks() { awk '/^cpu / { print $7 + $8 }' /proc/stat; }  # irq + softirq, all cores
extra="$work/extra.txt"

# measure SERVER SCENARIO PID ARGS...: `load` with the irq+softirq ticks of the run noted.
measure() {
    local s0 s1
    s0=$(softirq_ticks)
    load "$@"
    s1=$(softirq_ticks)
    echo "$1|$2|$((s1 - s0))" >>"$extra"
}

config() {  # config XDP(on|off)
    cat <<TOML
[log]
level = "warn"
[turn]
realm = "bench"
listen-udp = ["198.18.98.1:3478"]
threads = 1
[turn.relay]
address = "198.18.98.1"
port-range = "50000-50999"
[[turn.auth.users]]
name = "load"
password = "load-password"
[turn.quota]
allocations-per-user = 20000
[turn.peers]
allow = ["198.18.98.0/24"]
# The load comes from 198.18.98.2 only, the flood from 198.18.98.3, which stays limited.
[guard]
allow = ["198.18.98.2/32"]
TOML
    if [ "$1" = on ]; then
        printf '[turn.xdp]\ninterface = "ve"\nmode = "native"\nsource-pps = %s\n' "$SOURCE_PPS"
    fi
}

turn_args=(turn --server 198.18.98.1:3478 --user load --password load-password
    --local-ip 198.18.98.2 --peer-bind 198.18.98.2:0 --size 172)
for xdp in off on; do
    name="media-edge xdp $xdp"
    config "$xdp" >"$work/media-edge-$xdp.toml"
    start "media-edge-$xdp" ip netns exec "$edge" "$real/media-edge" --config "$work/media-edge-$xdp.toml"
    measure "$name" throughput "$pid" "${turn_args[@]}" --allocations "$FLOWS" --flood --window "$WINDOW"
    taskset -c "$LOAD_CPU" nice -n 19 ip netns exec "$outside" "$real/edge-loadgen" binding-flood \
        --target 198.18.98.1:3478 --local 198.18.98.3:0 --rate 0 --duration "$((DURATION + 3))" \
        >"$work/flood-$xdp.out" 2>&1 &
    flood=$!
    sleep 1
    measure "$name" "paced+flood" "$pid" "${turn_args[@]}" --allocations "$ALLOCATIONS" --rate 50 --parallel 32
    wait "$flood" || true
    echo "$name flood: $(cat "$work/flood-$xdp.out")" >>"$work/floods.txt"
    stop "$pid"
done

start coturn ip netns exec "$edge" turnserver -n --listening-ip=198.18.98.1 --relay-ip=198.18.98.1 \
    --listening-port=3478 --min-port=51000 --max-port=51999 --no-cli --no-tls --no-dtls \
    --lt-cred-mech --user=load:load-password --realm=bench --log-file="$work/turn.log" \
    --simple-log --no-stdout-log
measure "coturn 4.6" throughput "$pid" "${turn_args[@]}" --allocations "$FLOWS" --flood --window "$WINDOW"
stop "$pid"

python3 - "$results" "$extra" "$(getconf CLK_TCK)" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
hz = float(sys.argv[3])
soft = {}
for line in open(sys.argv[2]):
    server, scenario, ticks = line.strip().split("|")
    soft[(server, scenario)] = int(ticks) / hz
def eff(r):
    cpu = (r.get("server") or {}).get("cpu_s", 0.0) + soft.get((r["server_name"], r["scenario"]), 0.0)
    return cpu, (r["sent"] - r["lost"]) / cpu if cpu else 0.0
base = {s: eff(r)[1] for r in rows for s in [r["server_name"]] if r["scenario"] == "throughput"}
print("| scenario | server | flows | round trips/s | loss | rtt p50 / p99 (us) | server CPU-s | irq+softirq CPU-s | round trips per CPU-s | vs xdp off | vs coturn |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    cpu, per = eff(r)
    s = soft.get((r["server_name"], r["scenario"]), 0.0)
    ratio = lambda ref: (f"{per / base[ref]:.2f}x" if r["scenario"] == "throughput" and base.get(ref) else "-")
    print(f"| {r['scenario']} | {r['server_name']} | {r['flows']} | {r['delivered_pps']:,.0f} | "
          f"{100 * r['loss_ratio']:.3f}% ({r['lost']} of {r['sent']}) | {r['rtt_us']['p50']} / {r['rtt_us']['p99']} | "
          f"{(r.get('server') or {}).get('cpu_s', 0.0):.2f} | {s:.2f} | {per:,.0f} | "
          f"{ratio('media-edge xdp off')} | {ratio('coturn 4.6')} |")
PY
echo
cat "$work/floods.txt"
