# lib.sh - what the benchmark scripts share (sourced, not run): where the
# build and the corpora are, the synthetic corpus, timing one run, medians.
#
# Before sourcing, a script sets BENCH_NAME (the prefix of its messages).
# bench_setup BUILD_DIR sets:
#   BUILD  the build directory (absolute)      NS   BUILD/netsift
#   RL     BUILD/bench/ns_read_loop            REPO the repository
#   DATA   NS_BENCH_DIR or /dev/shm/netsift-bench (created; never inside REPO)
#   RUNS   NS_BENCH_RUNS or 3
# and checks that netsift, the read loop and /usr/bin/time are there.

die() {
    echo "$BENCH_NAME: $*" >&2
    exit 1
}

bench_setup() {
    BUILD=$(cd "${1:-build}" && pwd)
    NS=$BUILD/netsift
    RL=$BUILD/bench/ns_read_loop
    DATA=${NS_BENCH_DIR:-/dev/shm/netsift-bench}
    RUNS=${NS_BENCH_RUNS:-3}
    local here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    REPO=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/.." && pwd))
    [ -x "$NS" ] || die "$NS not found: build first (make build)"
    [ -x "$RL" ] || die "$RL not found: build first (make build)"
    [ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
    mkdir -p "$DATA"
    DATA=$(cd "$DATA" && pwd)
    case "$DATA/" in
    "$REPO"/*) die "NS_BENCH_DIR=$DATA is inside the repository; use /dev/shm or /tmp" ;;
    esac
}

# bench_synth_corpus: SYN=DATA/synth-1g-seed7.pcap, written when missing
bench_synth_corpus() {
    SYN=$DATA/synth-1g-seed7.pcap
    if [ ! -s "$SYN" ]; then
        echo "$BENCH_NAME: writing $SYN (netsift synth --size 1G --seed 7)" >&2
        "$NS" synth -o "$SYN.tmp" --size 1G --seed 7 || die "netsift synth failed"
        mv "$SYN.tmp" "$SYN"
    fi
}

# bench_time OUTVAR CMD...: run CMD once (stdout discarded) under
# /usr/bin/time; OUTVAR="seconds peak_rss_kib". A failing CMD ends the
# benchmark with the end of its stderr.
bench_time() {
    local var=$1 tf
    shift
    tf=$(mktemp)
    if ! /usr/bin/time -f '%e %M' -o "$tf" "$@" >/dev/null 2>"$tf.err"; then
        tail -n 5 "$tf.err" >&2
        rm -f "$tf" "$tf.err"
        die "failed: $*"
    fi
    printf -v "$var" '%s' "$(tail -n 1 "$tf")"
    rm -f "$tf" "$tf.err"
}

# bench_median: of lines "seconds rss" on stdin, the line of the median seconds
bench_median() {
    sort -n | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'
}
