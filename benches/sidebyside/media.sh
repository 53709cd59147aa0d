#!/usr/bin/env bash
# Media side by side: media-edge's forwarder and rtpengine (Debian's rtpengine-daemon,
# userspace) under the same edge-loadgen load, each pinned to one core, plus the plain
# recvmmsg/sendmmsg forwarder (edge-loadgen forward) as the ceiling. Each call is SRTP on
# the caller side (DTLS-SRTP through media-edge's API; SDES through rtpengine's ng
# protocol; plain RTP through the ceiling) and plain RTP to an echo on the other side.
# Scenarios: 1, 100 and 1,000 calls at 50 packets/s each way, and a saturated flood (8
# calls, 16 probes in flight each).
#
# Like for like: both servers run the same SRTP profile on the caller side (the generator
# offers exactly one: DTLS-SRTP `use_srtp` toward media-edge, one `a=crypto` toward
# rtpengine), and the script prints one table per profile (PROFILES). The generator receives
# without UDP GRO (its default), so media-edge's GSO trains and rtpengine's single datagrams
# cost it the same. Every row has the round-trip p50/p99 beside the packets per CPU-second.
#
#   benches/sidebyside/media.sh                  # DURATION=10 by default
#   PROFILES=AEAD_AES_128_GCM CALLS=100 benches/sidebyside/media.sh
#
# media-edge runs from its binary with a generated configuration: the forwarder (one
# worker), the control API on loopback, DTLS-SRTP toward the generator.
source "$(dirname "$0")/common.sh"
SIZE="${SIZE:-160}"
CALLS="${CALLS:-1 100 1000}"
PROFILES="${PROFILES:-AES_CM_128_HMAC_SHA1_80 AEAD_AES_128_GCM}"
command -v rtpengine >/dev/null || { echo "media.sh: needs rtpengine (apt-get install rtpengine-daemon)" >&2; exit 1; }
build

echo_port="$(free_block 1)"
taskset -c "$LOAD_CPU" "$bin/edge-loadgen" rtp-echo --listen "127.0.0.1:$echo_port" >"$work/echo.log" 2>&1 &
pids+=("$!")
sleep 0.5
echo_args=(--echo "127.0.0.1:$echo_port")

# run_mode SERVER PID FLAG ARGS...: the paced call counts and the flood against one server;
# FLAG is how the edge-loadgen mode in ARGS names its call count.
run_mode() {
    local server="$1" spid="$2" flag="$3"
    shift 3
    for calls in $CALLS flood; do
        local rate=(--rate 50) n="$calls" label="${calls} calls x 50pps"
        if [ "$calls" = flood ]; then
            rate=(--flood --window 16)
            n=8
            label="flood"
        fi
        load "$server" "$label" "$spid" "$@" "$flag" "$n" "${rate[@]}" --size "$SIZE"
    done
}

max_calls=8
for c in $CALLS; do ((c > max_calls)) && max_calls=$c; done

# media-edge: one forwarder worker (the server gets one core), the API on loopback, TURN
# only because the service always runs it.
api_port="$(free_block 1)"
# One free block, split: public (a port per call), enterprise (RTP and RTCP per call), TURN.
n_public=$((max_calls + 50))
n_enterprise=$((2 * max_calls + 100))
public="$(free_block $((n_public + n_enterprise + 50)))"
enterprise=$((public + n_public))
turn_relay=$((enterprise + n_enterprise))
token="sidebyside-media-token-0123456789"
cat >"$work/media-edge.toml" <<TOML
[log]
level = "warn"
[turn]
listen-udp = ["127.0.0.1:0"]
[turn.relay]
address = "127.0.0.1"
port-range = "$turn_relay-$((turn_relay + 49))"
[forward]
workers = 1
max-sessions = $n_public
[forward.public]
address = "127.0.0.1"
port-range = "$public-$((enterprise - 1))"
[forward.enterprise]
transport-address = "127.0.0.1"
port-range = "$enterprise-$((turn_relay - 1))"
[api]
listen = "127.0.0.1:$api_port"
tokens = ["$token"]
# One load generator on loopback sets up every call: exempt it from the guard's per-source
# API rate limit (rtpengine's ng has none), as the compose load test does.
[guard]
allow = ["127.0.0.0/8"]
TOML
ng_port="$(free_block 1)"
ports="$(free_block 8000)"

for profile in $PROFILES; do
    results="$work/results-$profile.jsonl"
    start media-edge "$bin/media-edge" --config "$work/media-edge.toml"
    run_mode media-edge "$pid" --sessions webrtc --api "127.0.0.1:$api_port" --token "$token" \
        --parallel 32 --srtp-profile "$profile" "${echo_args[@]}"
    stop "$pid"

    start rtpengine rtpengine --config-file=none --foreground --log-stderr --table=-1 \
        --interface=127.0.0.1 --listen-ng="127.0.0.1:$ng_port" --port-min="$ports" \
        --port-max="$((ports + 7999))" --num-threads=1 --log-level=4
    run_mode rtpengine "$pid" --calls rtpengine --ng "127.0.0.1:$ng_port" \
        --srtp-profile "$profile" "${echo_args[@]}"
    stop "$pid"
done

# The ceiling, plain RTP (no SRTP at all): once, shown under every profile's table.
results="$work/results-ceiling.jsonl"
base="$(free_block "$max_calls")"
start forwarder "$bin/edge-loadgen" forward --listen "127.0.0.1:$base" --flows "$max_calls" \
    --to "127.0.0.1:$echo_port"
run_mode forwarder "$pid" --flows rtp --target "127.0.0.1:$base"
stop "$pid"

for profile in $PROFILES; do
    results="$work/results-$profile.jsonl"
    cat "$work/results-ceiling.jsonl" >>"$results"
    echo
    echo "SRTP profile $profile (caller side of media-edge and rtpengine; the forwarder is plain RTP):"
    table rtpengine
done
echo "raw reports: $work/results-*.jsonl" >&2
trap - EXIT
cleanup
