#!/usr/bin/env bash
# devices.sh - the `netsift devices` benchmark: throughput against the bare
# read loop (the limit) and peak RSS, on the 1 GiB synth corpus.
#
# usage: bench/devices.sh [BUILD_DIR]        (default: build)
# env:   NS_BENCH_DIR  where the corpus lives (default /dev/shm/netsift-bench,
#                      made by bench/run.sh; written here if missing)
#        NS_BENCH_RUNS runs per tool, the median is kept (default 3)
# Measured with a warm page cache by /usr/bin/time -f '%e %M':
#   read_loop   BUILD/bench/ns_read_loop FILE
#   devices     netsift devices -r FILE --format json -q --client-id bench > /dev/null
#               (TCP reassembly of every stream, HL7 / DICOM detection and parsing)
# Goal (bench/README.md): devices >= 0.5 x read_loop throughput. Prints a table
# and appends JSON Lines to BUILD/bench-results.jsonl. Exits 1 if a tool fails,
# not if the goal is missed.
set -euo pipefail

BENCH_NAME=bench
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_setup "${1:-build}"
RESULTS=$BUILD/bench-results.jsonl
bench_synth_corpus

# median_of CMD...: the median run of RUNS, "seconds peak_rss_kib"
median_of() {
    local r
    for _ in $(seq "$RUNS"); do
        bench_time r "$@"
        echo "$r"
    done | bench_median
}

cat "$SYN" >/dev/null # warm the page cache
bytes=$(stat -c %s "$SYN")
read -r rl_s rl_kb < <(median_of "$RL" "$SYN")
read -r dv_s dv_kb < <(median_of "$NS" devices -r "$SYN" --format json -q --client-id bench)
ratio=$(awk -v a="$rl_s" -v b="$dv_s" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
printf '%-12s %9s %8s %12s\n' tool seconds GB/s "peak RSS MiB"
for t in read_loop devices; do
    if [ "$t" = read_loop ]; then s=$rl_s kb=$rl_kb; else s=$dv_s kb=$dv_kb; fi
    printf '%-12s %9s %8s %12s\n' "$t" "$s" \
        "$(awk -v b="$bytes" -v s="$s" 'BEGIN { printf "%.2f", (s > 0 ? b / s / 1e9 : 0) }')" \
        "$((kb / 1024))"
done
goal=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.5 ? "met" : "missed") }')
echo "devices/read_loop throughput: $ratio (goal >= 0.5: $goal); devices peak RSS $((dv_kb / 1024)) MiB"
printf '{"bench":"devices","corpus":"%s","bytes":%s,"read_loop_s":%s,"devices_s":%s,"ratio":%s,"devices_rss_kib":%s}\n' \
    "$(basename "$SYN")" "$bytes" "$rl_s" "$dv_s" "$ratio" "$dv_kb" >>"$RESULTS"
