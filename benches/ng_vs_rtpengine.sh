#!/usr/bin/env bash
# ng control round trips side by side: offer + answer + delete of one call after another
# (benches/ng_roundtrips.py, one client, one request in flight) against media-edge's ng
# listener and Debian's rtpengine-daemon (userspace), each server pinned to one core, the
# client to the other; the same SDPs and flags for both. Prints calls/s and the p50/p99 of a
# whole call for each, and the ratio.
#
#   benches/ng_vs_rtpengine.sh                 # CALLS=5000, DURATION=10 s per server
#   CALLS=200 DURATION=3 BUILD=debug benches/ng_vs_rtpengine.sh   # a check that it runs
#
# Figures are only worth quoting from a quiet machine (nothing else building or running).
source "$(dirname "$0")/sidebyside/common.sh"
CALLS="${CALLS:-5000}"
python="${MEDIA_EDGE_PYTHON:-/var/tmp/media-edge-venv/bin/python}"
"$python" -c "import bencode" 2>/dev/null || { echo "ng_vs_rtpengine.sh: needs $python with bencode.py (scripts/test.sh installs it)" >&2; exit 1; }
command -v rtpengine >/dev/null || { echo "ng_vs_rtpengine.sh: needs rtpengine (apt-get install rtpengine-daemon)" >&2; exit 1; }
if [ "${BUILD:-release}" = debug ]; then
    (cd "$root" && cargo build -q -p media-edge)
    bin="$CARGO_TARGET_DIR/debug"
else
    build
fi

ports="$(free_block 2)"
media_ng=$((ports))
rtpe_ng=$((ports + 1))
cat >"$work/media-edge.toml" <<TOML
[turn]
listen-udp = ["127.0.0.1:0"]
[turn.relay]
address = "127.0.0.1"
port-range = "62000-62099"
[forward]
workers = 1
[forward.public]
address = "127.0.0.1"
port-range = "40000-44999"
[forward.enterprise]
transport-address = "127.0.0.1"
port-range = "45000-49999"
[ng]
listen = "127.0.0.1:$media_ng"
# The client sets calls up back to back from one address: a rate limit far above it (the
# guard's check still runs on every request, as rtpengine has none).
[guard.rate.api]
rate = 1000000
burst = 1000000
TOML

run_client() {
    taskset -c "$LOAD_CPU" "$python" "$root/benches/ng_roundtrips.py" "$1" "$CALLS" "$DURATION"
}

start media-edge "$bin/media-edge" --config "$work/media-edge.toml"
media_pid=$pid
ours="$(run_client "127.0.0.1:$media_ng")"
stop "$media_pid"

start rtpengine rtpengine --config-file=none --foreground --log-stderr --table=-1 \
    --interface=127.0.0.1 --listen-ng="127.0.0.1:$rtpe_ng" --port-min=50000 --port-max=59999 \
    --num-threads=1 --log-level=4
rtpe_pid=$pid
theirs="$(run_client "127.0.0.1:$rtpe_ng")"
stop "$rtpe_pid"

python3 - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{'server':<12} {'calls':>7} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
for name, r in (("media-edge", ours), ("rtpengine", theirs)):
    print(f"{name:<12} {r['calls']:>7} {r['calls_per_s']:>9} {r['p50_ms']:>8} {r['p99_ms']:>8}")
if theirs["calls_per_s"]:
    print(f"ratio media-edge / rtpengine: {ours['calls_per_s'] / theirs['calls_per_s']:.2f}")
PY
