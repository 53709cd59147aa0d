#!/usr/bin/env bash
# The whole test suite: installs the real peers the tests need (Debian packages and a Python
# venv), then checks formatting, lints and the rustdoc (warnings are errors), and runs every
# test, including each benchmark once.
# No test skips for a missing peer: this script is what puts the peers there.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/media-edge-target}"
venv="${MEDIA_EDGE_VENV:-/var/tmp/media-edge-venv}"

# Debian packages: coturn (turnutils_uclient, turnutils_peer, turnserver), OpenSSL, libsrtp2,
# chromium (the headless browser of tests/media_chromium.rs), fail2ban (fail2ban-regex in
# crates/guard/tests/fail2ban.rs), rtpengine-daemon (the media reference of
# tests/loadgen_rtpengine.rs and benches/sidebyside/media.sh), nftables (nft -c in
# crates/media-edge/tests/firewall.rs), systemd (systemd-analyze verify of the unit in
# crates/media-edge/tests/notify.rs), prometheus (prometheus and promtool: the scraper of
# tests/ops_prometheus.rs and the exposition check of crates/media-edge/tests/admin.rs),
# redis-server (the shared guard's store in tests/guard_redis.rs); iproute2 and nftables also
# build and firewall the namespaces of tests/deploy_routing.rs; docker-compose (its `config`
# check of the compose files in tests/deploy_compose.rs; no engine is needed or started);
# clang and libbpf-dev (crates/xdp/build.rs compiles the XDP program with them), ethtool
# (checksum offload off on the veth pair of tests/turn_xdp.rs); rtpengine-utils
# (rtpengine-ng-client, the ng client of tests/ng_rtpengine.rs); kamailio,
# kamailio-websocket-modules, sip-tester (SIPp) and npm (JsSIP): tests/ng_kamailio.rs.
debs=(coturn openssl libsrtp2-1 iproute2 chromium fail2ban rtpengine-daemon rtpengine-utils
    kamailio kamailio-websocket-modules sip-tester nftables systemd prometheus
    redis-server docker-compose clang libbpf-dev ethtool)
missing=()
for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# npm: Debian's package, unless a Node.js with its own npm is installed already (Debian's npm
# conflicts with such a nodejs, e.g. NodeSource's).
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "test.sh: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# coturn's package enables a system turnserver on 3478; the tests own that port on loopback.
if command -v systemctl >/dev/null && systemctl is-active --quiet coturn 2>/dev/null; then
    systemctl stop coturn || true
fi

# Python peers (aiortc, pylibsrtp) and kubernetes-validate (tests/deploy_kubernetes.rs) in a venv outside the clone, reused across runs.
req=tests/python/requirements.txt
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/.requirements"; then
    echo "test.sh: preparing the Python venv in $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q -r "$req"
    cp "$req" "$venv/.requirements"
fi
export MEDIA_EDGE_PYTHON="$venv/bin/python"

# JsSIP for the browser of tests/ng_kamailio.rs: npm's jssip, bundled for the page with
# esbuild, in a node directory outside the clone, reused across runs.
node_dir="${MEDIA_EDGE_NODE:-/var/tmp/media-edge-node}"
node_pkgs="jssip@3.13.8 esbuild@0.28.2"
if [ ! -s "$node_dir/jssip.bundle.js" ] || [ "$(cat "$node_dir/.packages" 2>/dev/null)" != "$node_pkgs" ]; then
    echo "test.sh: preparing JsSIP in $node_dir" >&2
    mkdir -p "$node_dir"
    (cd "$node_dir" && npm install -q --no-audit --no-fund $node_pkgs >/dev/null \
        && echo "window.JsSIP = require('jssip');" > entry.js \
        && ./node_modules/.bin/esbuild entry.js --bundle --format=iife --log-level=warning \
            --outfile=jssip.bundle.js \
        && echo "$node_pkgs" > .packages)
fi
export MEDIA_EDGE_NODE="$node_dir"

cargo fmt --all -- --check
cargo fetch --locked
# The tests find their files (scripts, configs, the deploy tree) through the checkout's path,
# compiled in (CARGO_MANIFEST_DIR). Cargo does not rebuild a workspace crate for a new path
# when its sources are older than the last build, so a target directory last used by another
# checkout would run tests looking into that one: rebuild the workspace's own crates (not
# the dependencies) when the checkout changed.
checkout="$CARGO_TARGET_DIR/.media-edge-checkout"
if [ -e "$checkout" ] && [ "$(cat "$checkout")" != "$PWD" ]; then
    members=$(cargo metadata --no-deps --format-version 1 --frozen \
        | python3 -c 'import json, sys; print(" ".join("-p " + p["name"] for p in json.load(sys.stdin)["packages"]))')
    # shellcheck disable=SC2086
    cargo clean --frozen $members
fi
mkdir -p "$CARGO_TARGET_DIR"
echo "$PWD" >"$checkout"
cargo clippy --workspace --all-targets --frozen -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --frozen

# The tests run in a network namespace of their own: only loopback exists there, nothing else
# on the host (a system coturn on 3478, another test run) shares its ports, and its ephemeral
# port range (net.ipv4.ip_local_port_range is per namespace) is kept above the fixed port
# ranges the tests configure, so no socket bound to port 0 can take a port a test expects.
isolated=(unshare --net)
[ "$(id -u)" = 0 ] || isolated=(unshare --user --map-root-user --net)
"${isolated[@]}" -- bash -c '
    set -euo pipefail
    ip link set lo up
    echo "55000 60999" > /proc/sys/net/ipv4/ip_local_port_range
    exec cargo test --workspace --all-targets --frozen --no-fail-fast
'
