#!/usr/bin/env bash
# hosts.sh - the `netsift hosts` benchmark: against `p0f -r` (the passive OS
# fingerprinter it replaces, doing less: no per-host stats, GeoIP or scan
# detection) and against the bare read loop (the reading limit).
#
# usage: bench/hosts.sh [BUILD_DIR]        (default: build)
# env:   NS_BENCH_DIR   where the corpora live (default /dev/shm/netsift-bench;
#                       never inside the repository); the same corpora as
#                       bench/run.sh, which builds them
#        NS_BENCH_RUNS  runs of netsift and of the read loop, median kept
#                       (default 3); p0f runs once
#
# Corpora: synth-1g-seed7.pcap (`netsift synth --size 1G --seed 7`, written
# here when missing) and bench-1g.pcap (real traffic) when present.
# For each, with a warm page cache, wall time and peak RSS from
# /usr/bin/time -f '%e %M':
#   read_loop   BUILD/bench/ns_read_loop FILE
#   hosts       netsift hosts -r FILE --json -q > /dev/null  (p0f signatures
#               from /etc/p0f/p0f.fp when present; GeoIP from the default
#               search path when present)
#   p0f         p0f -r FILE > /dev/null (once; skipped when p0f is absent)
# Goals (issue 5): hosts >= 3x faster than p0f; peak RSS <= 256 MiB.
# Results: a table on stdout and JSON Lines appended to
# BUILD/bench-hosts-results.jsonl. Exits 1 if a tool fails, not if a goal is
# missed.
set -euo pipefail

BENCH_NAME=bench-hosts
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_setup "${1:-build}"
RESULTS=$BUILD/bench-hosts-results.jsonl

corpora=()
bench_synth_corpus
corpora+=("$SYN")
REAL=$DATA/bench-1g.pcap
if [ -s "$REAL" ]; then
    corpora+=("$REAL")
else
    echo "bench-hosts: no $REAL (bench/run.sh builds it): synthetic corpus only" >&2
fi

have_p0f=false
if command -v p0f >/dev/null 2>&1 && [ -r /etc/p0f/p0f.fp ]; then
    have_p0f=true
else
    echo "bench-hosts: p0f or /etc/p0f/p0f.fp missing: no p0f comparison" >&2
fi

: >"$RESULTS"
printf '%-20s %-10s %9s %8s %12s\n' corpus tool seconds GB/s "peak RSS MiB"
for f in "${corpora[@]}"; do
    bytes=$(stat -c %s "$f")
    cname=$(basename "$f")
    cat "$f" >/dev/null # warm the page cache
    declare -A secs=() rss=()
    for tool in read_loop hosts p0f; do
        case $tool in
        read_loop) cmd=("$RL" "$f") ;;
        hosts) cmd=("$NS" hosts -r "$f" --json -q) ;;
        p0f)
            $have_p0f || continue
            cmd=(p0f -r "$f")
            ;;
        esac
        n=$RUNS
        [ "$tool" = p0f ] && n=1
        runs=()
        for _ in $(seq "$n"); do
            bench_time r "${cmd[@]}"
            runs+=("$r")
        done
        read -r s k < <(printf '%s\n' "${runs[@]}" | bench_median)
        secs[$tool]=$s
        rss[$tool]=$((k / 1024))
        gbps=$(awk -v b="$bytes" -v s="$s" 'BEGIN { printf "%.3f", (s > 0 ? b / s / 1e9 : 0) }')
        printf '%-20s %-10s %9.2f %8s %12d\n' "$cname" "$tool" "$s" "$gbps" "${rss[$tool]}"
        printf '{"type":"run","corpus":"%s","bytes":%s,"tool":"%s","runs":[%s],"seconds":%s,"gbps":%s,"peak_rss_mib":%d}\n' \
            "$cname" "$bytes" "$tool" \
            "$(printf '%s\n' "${runs[@]}" | awk '{ printf "%s%s", (NR > 1 ? "," : ""), $1 }')" \
            "$s" "$gbps" "${rss[$tool]}" >>"$RESULTS"
    done
    ratio() { # NAME VALUE GOAL CMP(ge|le|none) UNIT
        local met=null
        if [ "$4" != none ]; then
            met=$(awk -v v="$2" -v g="$3" -v c="$4" 'BEGIN { m = (c == "ge") ? (v >= g) : (v <= g); print (m ? "true" : "false") }')
        fi
        printf '%-20s %-32s %8s%s' "$cname" "$1" "$2" "$5"
        if [ "$4" != none ]; then
            printf '   goal %s %s%s  %s' "$([ "$4" = ge ] && echo '>=' || echo '<=')" "$3" "$5" \
                "$([ "$met" = true ] && echo met || echo MISSED)"
        fi
        printf '\n'
        printf '{"type":"ratio","corpus":"%s","name":"%s","value":%s,"goal":%s,"cmp":"%s","met":%s}\n' \
            "$cname" "$1" "$2" "${3:-null}" "$4" "$met" >>"$RESULTS"
    }
    ratio "hosts/read_loop throughput" \
        "$(awk -v a="${secs[read_loop]}" -v b="${secs[hosts]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')" "" none ""
    if [ -n "${secs[p0f]:-}" ]; then
        ratio "hosts vs p0f speed-up" \
            "$(awk -v a="${secs[p0f]}" -v b="${secs[hosts]}" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')" 3 ge "x"
    fi
    ratio "hosts peak RSS (MiB)" "${rss[hosts]}" 256 le ""
    unset secs rss
done
echo "bench-hosts: results in $RESULTS" >&2
