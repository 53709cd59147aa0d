#!/usr/bin/env bash
# Media side by side: media-edge's forwarder and rtpengine (Debian's rtpengine-daemon,
# userspace) under the same edge-loadgen load, each pinned to one core, plus the plain
# recvmmsg/sendmmsg forwarder (edge-loadgen forward) as the ceiling. Each call is SRTP on
# the caller side (DTLS-SRTP through media-edge's API; SDES through rtpengine's ng
# protocol; plain RTP through the ceiling) and plain RTP to an echo on the other side.
# Scenarios: 1, 100 and 1,000 calls at 50 packets/s each way, and a saturated flood (8
# calls, 16 probes in flight each).
#
#   benches/sidebyside/media.sh                  # DURATION=10 by default
#
# media-edge must serve its control API: MEDIA_EDGE_CONFIG names a configuration that runs
# the forwarder and the API on loopback, MEDIA_EDGE_API its address and MEDIA_EDGE_TOKEN a
# bearer token it accepts. Without MEDIA_EDGE_CONFIG the media-edge rows are skipped (and
# the script says so).
source "$(dirname "$0")/common.sh"
SIZE="${SIZE:-160}"
CALLS="${CALLS:-1 100 1000}"
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

if [ -n "${MEDIA_EDGE_CONFIG:-}" ]; then
    start media-edge "$bin/media-edge" --config "$MEDIA_EDGE_CONFIG"
    run_mode media-edge "$pid" --sessions webrtc --api "${MEDIA_EDGE_API:?}" \
        --token "${MEDIA_EDGE_TOKEN:?}" --parallel 32 "${echo_args[@]}"
    stop "$pid"
else
    echo "media.sh: MEDIA_EDGE_CONFIG not set: media-edge rows skipped" >&2
fi

ng_port="$(free_block 1)"
ports="$(free_block 4000)"
start rtpengine rtpengine --config-file=none --foreground --log-stderr --table=-1 \
    --interface=127.0.0.1 --listen-ng="127.0.0.1:$ng_port" --port-min="$ports" \
    --port-max="$((ports + 3999))" --num-threads=1 --log-level=4
run_mode rtpengine "$pid" --calls rtpengine --ng "127.0.0.1:$ng_port" "${echo_args[@]}"
stop "$pid"

max_calls=8
for c in $CALLS; do ((c > max_calls)) && max_calls=$c; done
base="$(free_block "$max_calls")"
start forwarder "$bin/edge-loadgen" forward --listen "127.0.0.1:$base" --flows "$max_calls" \
    --to "127.0.0.1:$echo_port"
run_mode forwarder "$pid" --flows rtp --target "127.0.0.1:$base"
stop "$pid"

table rtpengine
echo "raw reports: $results" >&2
trap - EXIT
cleanup
