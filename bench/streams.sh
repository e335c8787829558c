#!/usr/bin/env bash
# streams.sh - the streams benchmark: `netsift streams` against tcpflow, the
# program it replaces, on the 1 GiB corpora of bench/run.sh.
#
# usage: bench/streams.sh [BUILD_DIR]      (called at the end of bench/run.sh)
# env:   NS_BENCH_DIR   where the corpora live (default /dev/shm/netsift-bench;
#                       built by bench/run.sh: synth-1g-seed7.pcap, bench-1g.pcap)
#        NS_BENCH_RUNS  runs of netsift, the median is kept (default 3)
#        NS_BENCH_OUT   where the stream files are written (default
#                       /dev/shm/netsift-bench-streams: tmpfs, since ext4 slows
#                       down as millions of small files age it); removed
#                       between runs and at the end
#
# For each corpus, wall time and peak RSS from /usr/bin/time -f '%e %M':
#   netsift streams -q -r FILE -o DIR           vs  tcpflow -r FILE -o DIR
#   netsift streams -q -a -r FILE -o DIR        vs  tcpflow -a -r FILE -o DIR
# tcpflow runs once when its first run takes more than 20 s (else it gets
# the same median of NS_BENCH_RUNS). Goal (issue 3): netsift at least 3x
# faster in wall time, with a lower peak RSS. Results: a table with the
# ratios on stdout and JSON Lines appended to BUILD/bench-results.jsonl.
# Exits 1 if a tool fails, not if a goal is missed.
set -euo pipefail

BENCH_NAME=bench
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_setup "${1:-build}"
OUT=${NS_BENCH_OUT:-/dev/shm/netsift-bench-streams}
RESULTS=$BUILD/bench-results.jsonl

command -v tcpflow >/dev/null 2>&1 || die "tcpflow not installed (scripts/deps.sh)"

corpora=()
for f in "$DATA/synth-1g-seed7.pcap" "$DATA/bench-1g.pcap"; do
    if [ -s "$f" ]; then
        corpora+=("$f")
    else
        echo "bench: $f missing (bench/run.sh builds it): skipped" >&2
    fi
done
[ ${#corpora[@]} -gt 0 ] || die "no corpus in $DATA: run bench/run.sh first"

# measure OUTVAR CMD...: run once in a clean $OUT; OUTVAR="seconds peak_rss_kib"
measure() {
    rm -rf "$OUT"
    mkdir -p "$OUT"
    bench_time "$@"
    rm -rf "$OUT"
}

# median OUTVAR MAXRUNS CMD...: median wall time of up to MAXRUNS runs (one
# run if the first one takes longer than 20 s and MAXRUNS is "auto"), with
# the peak RSS of the median run.
median() {
    local var=$1 max=$2 r runs=() first
    shift 2
    measure first "$@"
    runs+=("$first")
    if [ "$max" = auto ]; then
        if awk -v t="${first% *}" 'BEGIN { exit !(t > 20) }'; then
            max=1
        else
            max=$RUNS
        fi
    fi
    for ((i = 1; i < max; i++)); do
        measure r "$@"
        runs+=("$r")
    done
    printf -v "$var" '%s' "$(printf '%s\n' "${runs[@]}" | bench_median)"
}

printf '%-22s %-8s %9s %10s %9s %10s %8s %8s\n' corpus mode ns_s ns_rss_mib tf_s tf_rss_mib speedup rss_ratio
for f in "${corpora[@]}"; do
    size=$(stat -c %s "$f")
    cat "$f" >/dev/null # warm page cache
    for mode in files http; do
        flag=()
        [ "$mode" = http ] && flag=(-a)
        median ns "$RUNS" "$NS" streams -q "${flag[@]}" -r "$f" -o "$OUT/d"
        median tf auto tcpflow "${flag[@]}" -r "$f" -o "$OUT/d"
        read -r ns_s ns_kib <<<"$ns"
        read -r tf_s tf_kib <<<"$tf"
        awk -v c="$(basename "$f")" -v m="$mode" -v a="$ns_s" -v b="$ns_kib" -v x="$tf_s" \
            -v y="$tf_kib" -v sz="$size" 'BEGIN {
            printf "%-22s %-8s %9.2f %10.1f %9.2f %10.1f %7.1fx %7.2fx\n", c, m, a, b / 1024, x,
                y / 1024, (a > 0 ? x / a : 0), (b > 0 ? y / b : 0)
        }'
        printf '{"bench":"streams","corpus":"%s","mode":"%s","bytes":%s,"netsift_s":%s,"netsift_rss_kib":%s,"tcpflow_s":%s,"tcpflow_rss_kib":%s}\n' \
            "$(basename "$f")" "$mode" "$size" "$ns_s" "$ns_kib" "$tf_s" "$tf_kib" >>"$RESULTS"
    done
done
rm -rf "$OUT"
