#!/usr/bin/env bash
# The XDP fast path ([turn.xdp]) on and off, and coturn 4.6, side by side in one run on a veth
# topology: two network namespaces made here (deleted at exit), "edge" with the server on
# 198.18.98.1 (its veth end `ve`, the XDP program attached natively when on) and "outside" with
# the load generator's clients and echo peer on 198.18.98.2 and a flooding source on 198.18.98.3
# (its end `vo` carries an xdp_pass program, which native XDP on veth needs; checksum
# offload off on both ends). TOPOLOGY says how the two are joined:
#
#   wire   (default) through a third namespace, "wire", which stands for the cable and the
#          NIC's receive ring: `ve` is paired with `we` and `vo` with `wo`, both in "wire",
#          each carrying an XDP program that redirects every frame out of the other (an L2
#          wire, ARP included). A frame reaches `ve` as an XDP frame in a page with headroom,
#          in redirect bulks, as from a NIC's ring, in every row (xdp off, xdp on, coturn). The
#          wire's own work (its two NAPI threads, pinned to LOAD_CPU, which copy the load's
#          socket buffers into pages) is counted nowhere, as a NIC's DMA costs no CPU.
#   pair   `ve` and `vo` are the two ends of one veth pair. A frame the load generator's stack
#          sent reaches `ve` as a socket buffer without XDP's 256 bytes of headroom: veth
#          copies it into a page and frees the sender's buffer before the program runs, work
#          a NIC's ring does not have, counted on the server's side.
#
# Rows:
#
#   throughput   FLOWS allocations flooding ChannelData (--flood, WINDOW in flight each,
#                172 bytes), ROUNDS rounds of (xdp off, xdp on, coturn): delivered round
#                trips/s and round trips per server-side CPU-second (below).
#   paced+flood  ALLOCATIONS x 50 pps of 172-byte ChannelData from 198.18.98.2 (exempt from
#                the guard) while `edge-loadgen binding-flood` sends STUN Binding requests
#                flat out from 198.18.98.3: the paced flows' loss (once, before the rounds).
#                Userspace rows rate-limit the flood in the guard (50/s); XDP rows drop it in
#                the kernel above SOURCE_PPS per source. FLOOD_NAPI says where `ve`'s receive
#                work runs meanwhile: `softirq` (default; veth's own way: on the sending core,
#                so the flooder's core also does the server side's receive work for its flood,
#                which throttles it), or `threaded` (as in the throughput rows: on the server's
#                core, which then has to take the whole flood).
#   paced        PACED (400x50: flows x packets/s each; empty: no such rows) paced ChannelData
#                after each throughput round, every server under the same offered load: the
#                call-rate comparison, where each frame arrives alone.
#
# What the server side's CPU is. A veth end receives in NAPI (GRO is turned on for `ve`, as
# on a real NIC, so it has NAPI with or without XDP; `vo` has it through its xdp_pass), and
# both ends' NAPI runs in threaded mode (/sys/class/net/DEV/threaded): `ve`'s receive work
# -- the XDP program and its XDP_TX, or the stack up to the server's sockets -- runs in one
# kernel thread pinned to SERVER_CPU, `vo`'s -- the load generator's receive work -- in one
# pinned to LOAD_CPU. (Without threads both would run in softirq on whichever core sent the
# frame: the load's, mixing the two sides.) Server-side CPU = the server process's threads +
# `ve`'s NAPI thread (both from /proc/PID/schedstat) + the irq and softirq ticks left on
# SERVER_CPU (/proc/stat: timers, RCU, anything not in the threads). The load side's NAPI
# thread and core are printed apart and counted nowhere.
#
# BPF_STATS=1 also turns on the kernel's BPF run-time statistics (kernel.bpf_stats_enabled,
# restored at exit; it adds a clock read per program run, to every program on the host) and
# prints the XDP program's own nanoseconds per frame in each "xdp on" row.
#
#   benches/turn_xdp.sh                         # DURATION=10 FLOWS=8 WINDOW=16 ALLOCATIONS=100 ROUNDS=3 PACED=400x50
#   TOPOLOGY=pair benches/turn_xdp.sh           # the same on one veth pair (veth's copy counted)
#   DURATION=2 ROUNDS=1 PROFILE=debug benches/turn_xdp.sh   # a bounded check that it runs (figures meaningless)
#
# The server runs on core SERVER_CPU (0), the load and the flood on LOAD_CPU (1). Needs root,
# clang, iproute2, ethtool, coturn. Figures need a quiet machine: nothing else building.
source "$(dirname "$0")/sidebyside/common.sh"
FLOWS="${FLOWS:-8}"
WINDOW="${WINDOW:-16}"
ALLOCATIONS="${ALLOCATIONS:-100}"
SOURCE_PPS="${SOURCE_PPS:-1000}"
PROFILE="${PROFILE:-release}"
ROUNDS="${ROUNDS:-3}"
BPF_STATS="${BPF_STATS:-0}"
FLOOD_NAPI="${FLOOD_NAPI:-softirq}"
TOPOLOGY="${TOPOLOGY:-wire}"
PACED="${PACED-400x50}"
PACED_FLOWS="${PACED%%x*}"
PACED_RATE="${PACED#*x}"
case "$TOPOLOGY" in pair | wire) ;; *) echo "turn_xdp.sh: TOPOLOGY=pair|wire" >&2; exit 1 ;; esac
case "$FLOOD_NAPI" in softirq | threaded) ;; *) echo "turn_xdp.sh: FLOOD_NAPI=softirq|threaded" >&2; exit 1 ;; esac
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
wire="me-xdp-wire-$$"
stats_before="$(sysctl -n kernel.bpf_stats_enabled)"
teardown() {
    cleanup
    sysctl -q -w kernel.bpf_stats_enabled="$stats_before" || true
    ip netns del "$edge" 2>/dev/null || true
    ip netns del "$outside" 2>/dev/null || true
    ip netns del "$wire" 2>/dev/null || true
    rm -rf "$work"
}
trap teardown EXIT
ip netns add "$edge"
ip netns add "$outside"
ip -n "$edge" link set lo up
ip -n "$outside" link set lo up
if [ "$TOPOLOGY" = pair ]; then
    ip -n "$edge" link add ve type veth peer name vo netns "$outside"
else
    ip netns add "$wire"
    ip -n "$edge" link add ve type veth peer name we netns "$wire"
    ip -n "$outside" link add vo type veth peer name wo netns "$wire"
fi
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
if [ "$TOPOLOGY" = wire ]; then
    # Each wire end redirects every frame out of the other end (to the other namespace).
    cat >"$work/wire.c" <<'C'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int xdp_wire(struct xdp_md *ctx) { return bpf_redirect(TO_IFINDEX, 0); }
char LICENSE[] SEC("license") = "Dual MIT/GPL";
C
    for dev in we wo; do
        ip netns exec "$wire" ethtool -K "$dev" tx off rx off >/dev/null
        ip -n "$wire" link set "$dev" up
    done
    ifindex() { ip -n "$wire" -j link show dev "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["ifindex"])'; }
    for pair in "we wo" "wo we"; do
        set -- $pair
        clang -O2 -g -target bpf -I"/usr/include/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)" \
            -DTO_IFINDEX="$(ifindex "$2")" -c "$work/wire.c" -o "$work/wire-$1.o"
        ip -n "$wire" link set dev "$1" xdpdrv obj "$work/wire-$1.o" sec xdp
    done
fi
ip netns exec "$edge" ethtool -K ve gro on >/dev/null

# napi_threads: the pids of every threaded-NAPI kernel thread now.
napi_threads() { ps -eo pid=,comm= | awk '$2 ~ /^napi\// { print $1 }' | sort; }
# threaded NS DEV CPU: DEV's NAPI into its own kernel thread, pinned to CPU; prints its pid.
threaded() {
    local before after
    before="$(napi_threads)"
    ip netns exec "$1" sh -c "echo 1 > /sys/class/net/$2/threaded"
    after="$(comm -13 <(echo "$before") <(napi_threads))"
    if [ "$(echo "$after" | wc -w)" != 1 ]; then
        echo "turn_xdp.sh: expected one new NAPI thread for $2, found: $after" >&2
        exit 1
    fi
    taskset -pc "$3" "$after" >/dev/null
    echo "$after"
}
ve_napi=""
vo_napi=""

# The load generator runs in the outside namespace: common.sh's `load` runs "$bin/edge-loadgen".
mkdir -p "$work/bin"
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$outside" "$real/edge-loadgen" >"$work/bin/edge-loadgen"
chmod +x "$work/bin/edge-loadgen"
bin="$work/bin"

# irq + softirq ticks of core $1 (/proc/stat).
softirq_ticks() { awk -v c="cpu$1" '$1 == c { print $7 + $8 }' /proc/stat; }
# CPU time of task $1 in ns (/proc/PID/schedstat); 0 for no task (NAPI in softirq).
task_ns() {
    if [ -z "$1" ]; then
        echo 0
        return
    fi
    if [ ! -e "/proc/$1/schedstat" ]; then
        echo "turn_xdp.sh: NAPI thread $1 is gone" >&2
        exit 1
    fi
    cut -d' ' -f1 "/proc/$1/schedstat"
}
extra="$work/extra.txt"

# prog_stats: "run_time_ns run_cnt" of the XDP program attached to `ve` (none: "0 0").
prog_stats() {
    local id
    id="$(ip -n "$edge" -d -j link show dev ve | python3 -c 'import json, sys
print(json.load(sys.stdin)[0].get("xdp", {}).get("prog", {}).get("id", ""))')"
    if [ -z "$id" ]; then
        echo "0 0"
        return
    fi
    bpftool -j prog show id "$id" | python3 -c 'import json, sys
p = json.load(sys.stdin)
print(p.get("run_time_ns", 0), p.get("run_cnt", 0))'
}
if [ "$BPF_STATS" = 1 ]; then
    command -v bpftool >/dev/null || { echo "turn_xdp.sh: BPF_STATS=1 needs bpftool" >&2; exit 1; }
    sysctl -q -w kernel.bpf_stats_enabled=1
fi

# measure SERVER SCENARIO PID ARGS...: `load` with the NAPI threads' CPU time and both cores'
# irq+softirq ticks of the run noted.
measure() {
    local s0 l0 e0 o0 s1 l1 e1 o1 p0 p1
    s0=$(softirq_ticks "$SERVER_CPU") l0=$(softirq_ticks "$LOAD_CPU")
    e0=$(task_ns "$ve_napi") o0=$(task_ns "$vo_napi")
    p0=($(prog_stats))
    load "$@"
    s1=$(softirq_ticks "$SERVER_CPU") l1=$(softirq_ticks "$LOAD_CPU")
    e1=$(task_ns "$ve_napi") o1=$(task_ns "$vo_napi")
    p1=($(prog_stats))
    echo "$1|$2|$((s1 - s0))|$((e1 - e0))|$((l1 - l0))|$((o1 - o0))|$((p1[0] - p0[0]))|$((p1[1] - p0[1]))" >>"$extra"
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
flood_rows() {
    for xdp in off on; do
        name="media-edge xdp $xdp"
        config "$xdp" >"$work/media-edge-$xdp.toml"
        start "media-edge-$xdp" ip netns exec "$edge" "$real/media-edge" --config "$work/media-edge-$xdp.toml"
        taskset -c "$LOAD_CPU" nice -n 19 ip netns exec "$outside" "$real/edge-loadgen" binding-flood \
            --target 198.18.98.1:3478 --local 198.18.98.3:0 --rate 0 --duration "$((DURATION + 3))" \
            >"$work/flood-$xdp.out" 2>&1 &
        flood=$!
        sleep 1
        measure "$name" "paced+flood ($FLOOD_NAPI)" "$pid" "${turn_args[@]}" --allocations "$ALLOCATIONS" --rate 50 --parallel 32
        wait "$flood" || true
        echo "$name flood ($FLOOD_NAPI NAPI): $(cat "$work/flood-$xdp.out")" >>"$work/floods.txt"
        stop "$pid"
    done
}

if [ "$FLOOD_NAPI" = softirq ]; then
    flood_rows
fi
ve_napi="$(threaded "$edge" ve "$SERVER_CPU")"
vo_napi="$(threaded "$outside" vo "$LOAD_CPU")"
if [ "$TOPOLOGY" = wire ]; then
    threaded "$wire" we "$LOAD_CPU" >/dev/null
    threaded "$wire" wo "$LOAD_CPU" >/dev/null
fi
if [ "$FLOOD_NAPI" = threaded ]; then
    flood_rows
fi

# load_rows KIND ARGS...: one row of each server under the same load.
load_rows() {
    local kind="$1"
    shift
    for xdp in off on; do
        name="media-edge xdp $xdp"
        config "$xdp" >"$work/media-edge-$xdp.toml"
        start "media-edge-$xdp" ip netns exec "$edge" "$real/media-edge" --config "$work/media-edge-$xdp.toml"
        measure "$name" "$kind" "$pid" "${turn_args[@]}" "$@"
        stop "$pid"
    done
    start coturn ip netns exec "$edge" turnserver -n --listening-ip=198.18.98.1 --relay-ip=198.18.98.1 \
        --listening-port=3478 --min-port=51000 --max-port=51999 --no-cli --no-tls --no-dtls \
        --lt-cred-mech --user=load:load-password --realm=bench --log-file="$work/turn.log" \
        --simple-log --no-stdout-log
    measure "coturn 4.6" "$kind" "$pid" "${turn_args[@]}" "$@"
    stop "$pid"
}

for round in $(seq 1 "$ROUNDS"); do
    load_rows "throughput $round" --allocations "$FLOWS" --flood --window "$WINDOW"
    if [ -n "$PACED" ]; then
        load_rows "paced ${PACED_FLOWS}x${PACED_RATE}pps $round" --allocations "$PACED_FLOWS" --rate "$PACED_RATE" --parallel 64
    fi
done

python3 - "$results" "$extra" "$(getconf CLK_TCK)" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
hz = float(sys.argv[3])
extra = {}
prog = {}
for line in open(sys.argv[2]):
    server, scenario, soft, napi, load_soft, load_napi, prog_ns, prog_runs = line.strip().split("|")
    extra[(server, scenario)] = (int(soft) / hz, int(napi) / 1e9, int(load_soft) / hz, int(load_napi) / 1e9)
    if int(prog_runs):
        prog[(server, scenario)] = (int(prog_ns), int(prog_runs))
def side(r):
    """(server process, its NAPI thread, its core's irq+softirq, total, per CPU-s)"""
    proc = (r.get("server") or {}).get("cpu_s", 0.0)
    soft, napi, _, _ = extra.get((r["server_name"], r["scenario"]), (0.0, 0.0, 0.0, 0.0))
    total = proc + napi + soft
    return proc, napi, soft, total, (r["sent"] - r["lost"]) / total if total else 0.0
per = {(r["server_name"], r["scenario"]): side(r)[4] for r in rows}
print("| scenario | server | flows | round trips/s | loss | rtt p50 / p99 (us) | server process CPU-s | NAPI thread `ve` CPU-s | irq+softirq server core CPU-s | server side CPU-s | round trips per server-side CPU-s | vs xdp off | vs coturn | load side: NAPI `vo` + irq/softirq core CPU-s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    proc, napi, soft, total, eff = side(r)
    _, _, lsoft, lnapi = extra.get((r["server_name"], r["scenario"]), (0, 0, 0, 0))
    def ratio(ref):
        b = per.get((ref, r["scenario"]))
        return f"{eff / b:.2f}x" if not r["scenario"].startswith("paced+flood") and b else "-"
    print(f"| {r['scenario']} | {r['server_name']} | {r['flows']} | {r['delivered_pps']:,.0f} | "
          f"{r['lost']} of {r['sent']} | {r['rtt_us']['p50']} / {r['rtt_us']['p99']} | "
          f"{proc:.2f} | {napi:.2f} | {soft:.2f} | {total:.2f} | {eff:,.0f} | "
          f"{ratio('media-edge xdp off')} | {ratio('coturn 4.6')} | {lnapi:.2f} + {lsoft:.2f} |")
kinds = dict.fromkeys(r["scenario"].rsplit(" ", 1)[0] for r in rows if not r["scenario"].startswith("paced+flood"))
print()
for kind in kinds:
    rounds = sorted({r["scenario"] for r in rows if r["scenario"].rsplit(" ", 1)[0] == kind})
    for ref in ["media-edge xdp off", "coturn 4.6"]:
        ratios = [per[("media-edge xdp on", s)] / per[(ref, s)] for s in rounds
                  if per.get(("media-edge xdp on", s)) and per.get((ref, s))]
        if ratios:
            print(f"{kind}: xdp on vs {ref}, round trips per server-side CPU-s over {len(ratios)} rounds: "
                  f"median {statistics.median(ratios):.2f}x, min {min(ratios):.2f}x, max {max(ratios):.2f}x "
                  f"({', '.join(f'{x:.2f}x' for x in ratios)})")
for (server, scenario), (ns, runs) in prog.items():
    r = next(r for r in rows if (r["server_name"], r["scenario"]) == (server, scenario))
    napi = extra[(server, scenario)][1]
    print(f"{server} / {scenario}: the XDP program ran {runs:,} times, {ns / runs:.0f} ns each "
          f"({ns / 1e9:.2f} s, {100 * ns / 1e9 / napi if napi else 0:.0f}% of the NAPI thread's "
          f"{napi:.2f} s; {napi * 1e9 / runs if runs else 0:.0f} ns of NAPI thread per frame)")
PY
echo
cat "$work/floods.txt"
