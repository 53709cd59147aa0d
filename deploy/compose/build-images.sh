#!/usr/bin/env bash
# Builds the two images of the compose load test without pulling anything: the release
# binaries of media-edge and edge-loadgen, each copied with the shared libraries `ldd`
# names (libc, libgcc_s) and the dynamic loader into a root file system, imported
# `FROM scratch`.
#
#   deploy/compose/build-images.sh     # then: docker-compose -f deploy/docker-compose.yml up ...
#
# Builds where cargo would: $CARGO_TARGET_DIR when set, else the workspace's target/, so an
# existing release build is reused. Needs the Rust toolchain (cargo), strip (binutils), ldd
# (libc-bin) and a running Docker engine (docker.io; docker-compose to run the result).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
for tool in cargo strip ldd docker; do
    command -v "$tool" >/dev/null || {
        echo "build-images.sh: $tool is missing (see docs/deployment.md, Prerequisites)" >&2
        exit 1
    }
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build --release --locked -p media-edge -p edge-loadgen)

context="$CARGO_TARGET_DIR/compose-context"
rm -rf "$context"
for name in media-edge edge-loadgen; do
    rootfs="$context/$name/rootfs"
    mkdir -p "$rootfs/usr/local/bin" "$rootfs/tmp" "$rootfs/etc"
    cp "$CARGO_TARGET_DIR/release/$name" "$rootfs/usr/local/bin/$name"
    strip "$rootfs/usr/local/bin/$name"
    # Every library the binary links, and the loader, at the paths ldd reports.
    ldd "$CARGO_TARGET_DIR/release/$name" | grep -o '/[^ ]*' | while read -r lib; do
        mkdir -p "$rootfs$(dirname "$lib")"
        cp -L "$lib" "$rootfs$lib"
    done
    echo "nobody:x:65534:65534:nobody:/:/usr/sbin/nologin" >"$rootfs/etc/passwd"
    cp "$root/deploy/compose/Dockerfile" "$context/$name/Dockerfile"
    docker build -q --build-arg "BINARY=$name" -t "$name:compose" "$context/$name"
done
echo "built media-edge:compose and edge-loadgen:compose" >&2
