#!/usr/bin/env bash
# What a 1 s metrics scrape costs the data path: the forwarder benchmark (benches/forward.rs)
# twice in a row, first as it is (saved as criterion baseline `no-scrape`), then with a thread
# reading the same Relay as the admin listener's /metrics does (`Relay::totals`,
# `Relay::stats`) every SCRAPE_MS milliseconds, compared against that baseline: criterion
# prints each group's change (FILTER=. adds the reference forwarders and the paced report).
# The rest of /metrics (the TURN snapshot, the guard, /proc) reads nothing of the forwarder.
#
#   benches/scrape_cost.sh                    # FILTER=relay_ SCRAPE_MS=1000
#   CARGO_ARGS="--profile dev" benches/scrape_cost.sh --warm-up-time 0.2 --measurement-time 0.5
#                                             # a quick check that it runs (figures: no)
#
# Arguments go to criterion. Quote figures only from a quiet machine: the benchmark's time is
# the forwarding thread's CPU time, but two runs minutes apart on a shared machine differ by
# more than a scrape could cost.
set -euo pipefail
cd "$(dirname "$0")/.."
FILTER="${FILTER:-relay_}"
SCRAPE_MS="${SCRAPE_MS:-1000}"
read -r -a cargo_args <<<"${CARGO_ARGS:-}"

echo "== forward bench without scraping (baseline no-scrape)"
cargo bench "${cargo_args[@]}" --bench forward -- "$FILTER" --save-baseline no-scrape "$@"
echo "== forward bench with a scrape every ${SCRAPE_MS} ms (against no-scrape)"
FORWARD_BENCH_SCRAPE_MS="$SCRAPE_MS" \
    cargo bench "${cargo_args[@]}" --bench forward -- "$FILTER" --baseline-lenient no-scrape "$@"
