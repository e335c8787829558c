#!/usr/bin/env bash
# fuzz.sh - run every libFuzzer target of a -DNS_FUZZ=ON build for a while.
#
# usage: scripts/fuzz.sh BUILD_DIR [SECONDS]     (make fuzz; SECONDS default 60)
#
# For each BUILD_DIR/tests/fuzz_<name> binary: copy tests/fuzz/corpus/<name>
# to a scratch directory (the checked-in corpus is never modified), run
# libFuzzer on it for SECONDS (-max_total_time), and move any crash, leak,
# timeout or out-of-memory input it writes to tests/fuzz/crashes/<name>/
# (named by libFuzzer: crash-<sha1>, leak-<sha1>, ...). New corpus entries stay
# in the scratch directory; pass NS_FUZZ_KEEP=DIR to keep them under DIR.
# Prints one line per target and a summary; exits 1 if any target found a
# crash (or could not run), 0 otherwise.
set -euo pipefail

BUILD=${1:?usage: scripts/fuzz.sh BUILD_DIR [SECONDS]}
SECONDS_EACH=${2:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$BUILD" && pwd)

shopt -s nullglob
targets=("$BUILD"/tests/fuzz_*)
bins=()
for t in "${targets[@]}"; do
    case $t in *_replay) continue ;; esac
    [ -f "$t" ] && [ -x "$t" ] && bins+=("$t")
done
if [ ${#bins[@]} -eq 0 ]; then
    echo "fuzz: no libFuzzer binaries in $BUILD/tests (configure with CC=clang -DNS_FUZZ=ON)" >&2
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/netsift-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

found=0
failed=0
printf '%-28s %8s %10s %8s  %s\n' target seconds execs/s crashes result
for bin in "${bins[@]}"; do
    base=$(basename "$bin")
    name=${base#fuzz_}
    corpus=$WORK/$name/corpus
    artifacts=$WORK/$name/artifacts
    mkdir -p "$corpus" "$artifacts"
    if [ -d "$ROOT/tests/fuzz/corpus/$name" ]; then
        cp -R "$ROOT/tests/fuzz/corpus/$name/." "$corpus/"
    fi
    dict=()
    [ -f "$ROOT/tests/fuzz/$name.dict" ] && dict=(-dict="$ROOT/tests/fuzz/$name.dict")
    log=$WORK/$name/log
    rc=0
    "$bin" "$corpus" "${dict[@]}" -max_total_time="$SECONDS_EACH" -artifact_prefix="$artifacts/" \
        -print_final_stats=1 >"$log" 2>&1 || rc=$?
    execs=$(awk '/stat::number_of_executed_units/ {n += $NF} END {print n + 0}' "$log")
    rate=$(awk '/stat::average_exec_per_sec/ {r += $NF} END {print r + 0}' "$log")
    crashes=("$artifacts"/*)
    ncrash=${#crashes[@]}
    if [ "$ncrash" -gt 0 ]; then
        dest=$ROOT/tests/fuzz/crashes/$name
        mkdir -p "$dest"
        for c in "${crashes[@]}"; do
            mv "$c" "$dest/"
            echo "fuzz: $name: saved $dest/$(basename "$c")" >&2
        done
        found=$((found + ncrash))
        result="CRASH: saved to tests/fuzz/crashes/$name/"
        grep -m 3 -E 'ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|SUMMARY' "$log" |
            sed 's/^/    /' >&2 || true
    elif [ "$rc" -ne 0 ]; then
        failed=$((failed + 1))
        result="exit $rc: $(tail -n 1 "$log")"
    else
        result="ok ($execs runs)"
    fi
    printf '%-28s %8s %10s %8d  %s\n' "$name" "$SECONDS_EACH" "$rate" "$ncrash" "$result"
    if [ -n "${NS_FUZZ_KEEP:-}" ]; then
        mkdir -p "$NS_FUZZ_KEEP/$name"
        cp -R "$corpus/." "$NS_FUZZ_KEEP/$name/"
    fi
done
echo "fuzz: ${#bins[@]} targets, $found new crash inputs, $failed failed runs"
[ "$found" -eq 0 ] && [ "$failed" -eq 0 ]
