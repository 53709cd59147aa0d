#!/usr/bin/env bash
# TURN side by side: media-edge's TURN server and coturn (Debian's turnserver) under the
# same edge-loadgen load, each pinned to one core, plus the plain recvmmsg/sendmmsg
# forwarder (edge-loadgen forward) as the ceiling. Scenarios: a saturated flood (8
# allocations, 16 probes in flight each) and a VoIP-like load (ALLOCATIONS x 50 pps).
#
#   benches/sidebyside/turn.sh            # DURATION=10 ALLOCATIONS=400 SIZE=172 by default
#   MEDIA_EDGE_BIN=/path/to/media-edge benches/sidebyside/turn.sh     # another build of media-edge
#
# Prints a markdown table: delivered round trips per second, loss, round-trip p50/p99, and
# forwarded packets per server CPU-second (two per round trip: one each way, each a
# receive and a send) from the server's /proc/PID/stat, with the ratio to coturn.
source "$(dirname "$0")/common.sh"
ALLOCATIONS="${ALLOCATIONS:-400}"
SIZE="${SIZE:-172}"
command -v turnserver >/dev/null || { echo "turn.sh: needs coturn (apt-get install coturn)" >&2; exit 1; }
build

port="${PORT:-34880}"
relay="${RELAY_PORTS:-$(free_block 1200)}"
relay_last=$((relay + 1199))
flood=(--allocations 8 --flood --window 16 --size "$SIZE")
voip=(--allocations "$ALLOCATIONS" --rate 50 --size "$SIZE" --parallel 64)
turn_args=(turn --server "127.0.0.1:$port" --user load --password load-password)

cat >"$work/media-edge.toml" <<TOML
[log]
level = "warn"
[turn]
realm = "bench"
listen-udp = ["127.0.0.1:$port"]
# One TURN thread: each server gets one core (turn.threads defaults to one per core).
threads = ${THREADS:-1}
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
# MEDIA_EDGE_BIN runs another build (e.g. an older commit's) in media-edge's place.
start media-edge "${MEDIA_EDGE_BIN:-$bin/media-edge}" --config "$work/media-edge.toml"
load media-edge flood "$pid" "${turn_args[@]}" "${flood[@]}"
load media-edge "voip ${ALLOCATIONS}x50pps" "$pid" "${turn_args[@]}" "${voip[@]}"
stop "$pid"

start coturn turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 \
    --listening-port="$port" --min-port="$relay" --max-port="$relay_last" --allow-loopback-peers \
    --no-cli --no-tls --no-dtls --lt-cred-mech --user=load:load-password --realm=bench \
    --user-quota=20000 --total-quota=20000 --log-file="$work/turnserver.log" --simple-log
load coturn flood "$pid" "${turn_args[@]}" "${flood[@]}"
load coturn "voip ${ALLOCATIONS}x50pps" "$pid" "${turn_args[@]}" "${voip[@]}"
stop "$pid"

# The ceiling: the same flows through a plain forwarder to an echo (plain RTP probes of the
# same size; the TURN servers also carry a 4-byte ChannelData header each way).
echo_port="$(free_block 1)"
taskset -c "$LOAD_CPU" "$bin/edge-loadgen" rtp-echo --listen "127.0.0.1:$echo_port" >"$work/echo.log" 2>&1 &
pids+=("$!")
sleep 0.5
base="$(free_block "$ALLOCATIONS")"
start forwarder "$bin/edge-loadgen" forward --listen "127.0.0.1:$base" --flows "$ALLOCATIONS" --to "127.0.0.1:$echo_port"
rtp_args=(rtp --target "127.0.0.1:$base")
load forwarder flood "$pid" "${rtp_args[@]}" --flows 8 --flood --window 16 --size "$SIZE"
load forwarder "voip ${ALLOCATIONS}x50pps" "$pid" "${rtp_args[@]}" --flows "$ALLOCATIONS" --rate 50 --size "$SIZE"
stop "$pid"

table coturn
echo "raw reports: $results" >&2
trap - EXIT
cleanup
