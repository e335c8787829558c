#!/usr/bin/env bash
# run.sh - the flows benchmark: netsift against the bare read loop and tshark.
#
# usage: bench/run.sh [BUILD_DIR]          (make bench: BUILD_DIR=build)
# env:   NS_BENCH_DIR  where the corpora live (default /dev/shm/netsift-bench;
#                      never inside the repository)
#        NS_BENCH_RUNS runs per tool, the median is kept (default 3)
#        NS_BENCH_NO_TSHARK=1  leave tshark out (it takes ~25 s/GiB, 1.9 GiB RAM)
#
# Corpora (built once, kept in NS_BENCH_DIR):
#   synth-1g-seed7.pcap  `netsift synth --size 1G --seed 7`
#   bench-1g.pcap        real traffic, ../shared/bench/make-corpus.sh (if present
#                        beside the repository and editcap, mergecap, capinfos,
#                        tcprewrite and tshark are installed)
# For each corpus, with a warm page cache, peak RSS and wall time from
# /usr/bin/time -f '%e %M':
#   read_loop        BUILD/bench/ns_read_loop FILE (stdio, 1 MiB buffer: the limit)
#   read_loop_plain  BUILD/bench/ns_read_loop --plain FILE (pcap_open_offline)
#   flows            netsift flows -r FILE --json -q > /dev/null
#   tshark           tshark -n -q -r FILE -z conv,tcp (once)
# Goals (bench/README.md): flows >= 0.5 x read_loop throughput, >= 20x
# tshark, peak RSS <= 256 MiB. Results: a table on stdout and JSON Lines in
# BUILD/bench-results.jsonl. Exits 1 if a tool fails, not if a goal is missed.
set -euo pipefail

BENCH_NAME=bench
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_setup "${1:-build}"
SHARED_BENCH=$REPO/../shared/bench
RESULTS=$BUILD/bench-results.jsonl

# --- corpora -----------------------------------------------------------------
corpora=()
bench_synth_corpus
corpora+=("$SYN")

REAL=$DATA/bench-1g.pcap
if [ -s "$REAL" ]; then
    corpora+=("$REAL")
elif [ -f "$SHARED_BENCH/make-corpus.sh" ]; then
    missing=""
    for t in editcap mergecap capinfos tcprewrite tshark; do
        command -v $t >/dev/null 2>&1 || missing="$missing $t"
    done
    if [ -n "$missing" ]; then
        echo "bench: skipping the real-traffic corpus: missing$missing" >&2
    else
        echo "bench: building $REAL with $SHARED_BENCH/make-corpus.sh" >&2
        DATA=$DATA bash "$SHARED_BENCH/make-corpus.sh" 1024 "$REAL" || die "make-corpus.sh failed"
        corpora+=("$REAL")
    fi
else
    echo "bench: no $SHARED_BENCH/make-corpus.sh: synthetic corpus only" >&2
fi

# --- measuring ---------------------------------------------------------------
: >"$RESULTS"
printf '%-20s %-16s %9s %8s %12s\n' corpus tool seconds GB/s "peak RSS MiB"
status=0
for f in "${corpora[@]}"; do
    bytes=$(stat -c %s "$f")
    cname=$(basename "$f")
    cat "$f" >/dev/null # warm the page cache

    # the read loop and netsift must see the same packets
    read -r rl_pkts _ < <("$RL" "$f")
    ns_pkts=$("$NS" flows -r "$f" --json --stats -q | tail -n 1 |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["packets_read"])')
    [ "$rl_pkts" = "$ns_pkts" ] || {
        echo "bench: $cname: read_loop read $rl_pkts packets, netsift $ns_pkts" >&2
        status=1
    }

    declare -A secs=() rss=()
    for tool in read_loop read_loop_plain flows tshark; do
        case $tool in
        read_loop) cmd=("$RL" "$f") ;;
        read_loop_plain) cmd=("$RL" --plain "$f") ;;
        flows) cmd=("$NS" flows -r "$f" --json -q) ;;
        tshark)
            if [ -n "${NS_BENCH_NO_TSHARK:-}" ] || ! command -v tshark >/dev/null 2>&1; then
                continue
            fi
            cmd=(tshark -n -q -r "$f" -z conv,tcp)
            ;;
        esac
        n=$RUNS
        [ "$tool" = tshark ] && n=1
        runs=()
        for _ in $(seq "$n"); do
            bench_time r "${cmd[@]}"
            runs+=("$r")
        done
        read -r s k < <(printf '%s\n' "${runs[@]}" | bench_median)
        secs[$tool]=$s
        rss[$tool]=$((k / 1024))
        gbps=$(awk -v b="$bytes" -v s="$s" 'BEGIN { printf "%.3f", (s > 0 ? b / s / 1e9 : 0) }')
        printf '%-20s %-16s %9.2f %8s %12d\n' "$cname" "$tool" "$s" "$gbps" "${rss[$tool]}"
        printf '{"type":"run","corpus":"%s","bytes":%s,"packets":%s,"tool":"%s","runs":[%s],"seconds":%s,"gbps":%s,"peak_rss_mib":%d}\n' \
            "$cname" "$bytes" "$rl_pkts" "$tool" \
            "$(printf '%s\n' "${runs[@]}" | awk '{ printf "%s%s", (NR > 1 ? "," : ""), $1 }')" \
            "$s" "$gbps" "${rss[$tool]}" >>"$RESULTS"
    done

    # ratios against the goals
    ratio() { # NAME VALUE GOAL CMP(ge|le) UNIT
        local met
        met=$(awk -v v="$2" -v g="$3" -v c="$4" 'BEGIN { m = (c == "ge") ? (v >= g) : (v <= g); print (m ? "true" : "false") }')
        printf '%-20s %-34s %10s   goal %s %s%s  %s\n' "$cname" "$1" "$2$5" "$([ "$4" = ge ] && echo '>=' || echo '<=')" "$3" "$5" \
            "$([ "$met" = true ] && echo met || echo MISSED)"
        printf '{"type":"ratio","corpus":"%s","name":"%s","value":%s,"goal":%s,"cmp":"%s","met":%s}\n' \
            "$cname" "$1" "$2" "$3" "$4" "$met" >>"$RESULTS"
    }
    ratio "flows/read_loop throughput" \
        "$(awk -v a="${secs[read_loop]}" -v b="${secs[flows]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')" 0.5 ge ""
    if [ -n "${secs[tshark]:-}" ]; then
        ratio "flows vs tshark speed-up" \
            "$(awk -v a="${secs[tshark]}" -v b="${secs[flows]}" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')" 20 ge "x"
    fi
    ratio "flows peak RSS (MiB)" "${rss[flows]}" 256 le ""
    unset secs rss
done

# --- streams: `netsift streams` vs tcpflow (bench/streams.sh, issue 3) -------
if command -v tcpflow >/dev/null 2>&1; then
    bash "$(dirname "$0")/streams.sh" "$BUILD" || status=1
else
    echo "bench: tcpflow not installed: streams benchmark skipped" >&2
fi

echo "bench: results in $RESULTS" >&2
exit $status
