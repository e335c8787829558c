#!/usr/bin/env bash
# test_cli.sh - the command line as a user meets it: --help, usage errors,
# broken inputs (missing, truncated, bad magic, garbage in the middle), the
# input forms that must give identical flows (plain, gzip, stdin, a directory
# of split files merged by time), a BPF filter, and the csv / text formats.
#
# Inputs come from `netsift synth` (no shared data needed). Exit statuses
# (docs/cli/exit-codes.md): 0 ok, 1 unreadable input, 2 usage error.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
need_tool python3 gzip editcap

S=$T/sample.pcap
run_ns "$T/synth.out" "$T/synth.err" synth -o "$S" --seed 3 --size 1M
if [ "$RC" -ne 0 ] || [ ! -s "$S" ]; then
    fail "netsift synth -o $S --seed 3 --size 1M: exit $RC: $(head -n 3 "$T/synth.err")"
    finish
fi

# --- help and usage ---------------------------------------------------------
for c in flows interfaces synth; do
    run_ns "$T/h.out" "$T/h.err" "$c" --help
    expect_eq "$c --help exits 0" "$RC" 0
    check "$c --help prints a usage on stdout" grep -q "usage: netsift $c" "$T/h.out"
    check "$c --help writes nothing on stderr" test ! -s "$T/h.err"
    run_ns "$T/h2.out" "$T/h.err" help "$c"
    check "help $c prints the same as $c --help" cmp -s "$T/h.out" "$T/h2.out"
done
run_ns "$T/h.out" "$T/h.err" --help
expect_eq "netsift --help exits 0" "$RC" 0
check "netsift --help lists the commands" grep -q "flows" "$T/h.out"

for c in flows synth; do
    run_ns "$T/u.out" "$T/u.err" "$c" --no-such-option
    expect_eq "$c --no-such-option exits 2" "$RC" 2
    check "$c --no-such-option says 'error: unknown option'" \
        grep -q "^error: unknown option" "$T/u.err"
    check "$c --no-such-option prints nothing on stdout" test ! -s "$T/u.out"
done
# every capture command words getopt's refusals the same way (one helper)
for c in flows devices hosts streams; do
    run_ns "$T/u.out" "$T/u.err" "$c" --quiet=1 -r x
    expect_eq "$c --quiet=1 exits 2" "$RC" 2
    expect_eq "$c --quiet=1: the option takes no value" "$(head -n 1 "$T/u.err")" \
        "error: option '--quiet' takes no value"
    run_ns "$T/u.out" "$T/u.err" "$c" -r
    expect_eq "$c -r without a value" "$(head -n 1 "$T/u.err")" "error: option '-r' requires a value"
    run_ns "$T/u.out" "$T/u.err" "$c" -r x -i lo
    expect_eq "$c -r and -i" "$(head -n 1 "$T/u.err")" "error: -r and -i cannot be used together"
    run_ns "$T/u.out" "$T/u.err" "$c" -q
    expect_eq "$c without input" "$(head -n 1 "$T/u.err")" "error: no input: give -r FILE or -i IFACE"
done
run_ns "$T/u.out" "$T/u.err" no-such-command
expect_eq "an unknown command exits 2" "$RC" 2

# --- unreadable inputs -------------------------------------------------------
# one_error FILE: exit 1 and exactly one "netsift: FILE: ..." line on stderr
one_error() {
    local what=$1 file=$2
    expect_eq "$what: exit status" "$RC" 1
    local n
    n=$(grep -c . "$T/e.err")
    expect_eq "$what: lines on stderr" "$n" 1
    check "$what: the message names the file ($(head -n 1 "$T/e.err"))" \
        grep -qF "netsift: $file" "$T/e.err"
}

run_ns "$T/e.out" "$T/e.err" flows -r "$T/missing.pcap" --json
one_error "missing file" "$T/missing.pcap"

printf 'this is not a capture file, not even close to one...........\n' >"$T/bad.pcap"
run_ns "$T/e.out" "$T/e.err" flows -r "$T/bad.pcap" --json
one_error "bad magic" "$T/bad.pcap"
check "bad magic: no flows" test ! -s "$T/e.out"

# the reference: the whole sample
run_ns "$T/ref.json" "$T/ref.err" flows -r "$S" --json -q
expect_eq "flows on the sample exits 0" "$RC" 0
e2e_util flows "$T/ref.json" >"$T/ref.flows"
NFL=$(wc -l <"$T/ref.flows")
check "the sample has flows ($NFL)" test "$NFL" -gt 10

mapfile -t OFFS < <(e2e_util offsets "$S")
NREC=${#OFFS[@]}
K=$((NREC * 2 / 3))
CUT=${OFFS[$K]}
e2e_util prefix "$S" "$K" "$T/prefix.pcap"
run_ns "$T/prefix.json" "$T/e.err" flows -r "$T/prefix.pcap" --json -q
e2e_util flows "$T/prefix.json" >"$T/prefix.flows"

# truncated: cut 10 bytes into the data of record K (0-based)
head -c $((CUT + 16 + 10)) "$S" >"$T/trunc.pcap"
run_ns "$T/trunc.json" "$T/e.err" flows -r "$T/trunc.pcap" --json -q
one_error "truncated file" "$T/trunc.pcap"
check "truncated file: the message names offset $CUT, where the cut record starts" \
    grep -qE " at offset $CUT\$" "$T/e.err"
e2e_util flows "$T/trunc.json" >"$T/trunc.flows"
check "truncated file: the flows of the $K records before the cut" \
    cmp -s "$T/trunc.flows" "$T/prefix.flows"

# garbage in the middle: 64 bytes of 0xff before record K
{
    head -c "$CUT" "$S"
    head -c 64 /dev/zero | tr '\0' '\377'
    tail -c +$((CUT + 1)) "$S"
} >"$T/garbage.pcap"
run_ns "$T/garbage.json" "$T/e.err" flows -r "$T/garbage.pcap" --json -q
one_error "garbage in the middle" "$T/garbage.pcap"
check "garbage in the middle: the message names offset $CUT" \
    grep -qE " at offset $CUT\$" "$T/e.err"
e2e_util flows "$T/garbage.json" >"$T/garbage.flows"
check "garbage in the middle: the flows of the $K records before it" \
    cmp -s "$T/garbage.flows" "$T/prefix.flows"

# --- the same flows from every form of the same packets ----------------------
same_flows() {
    local what=$1 out=$2
    expect_eq "$what: exit status" "$RC" 0
    e2e_util flows "$out" >"$out.flows"
    if cmp -s "$out.flows" "$T/ref.flows"; then
        ok "$what: the same $NFL flows"
    else
        fail "$what: flows differ from the plain file's"
        diff "$T/ref.flows" "$out.flows" | head -n 6
    fi
}

gzip -c "$S" >"$T/sample.pcap.gz"
run_ns "$T/gz.json" "$T/e.err" flows -r "$T/sample.pcap.gz" --json -q
same_flows "gzip'd file" "$T/gz.json"

cp "$T/sample.pcap.gz" "$T/no-suffix"
run_ns "$T/gz2.json" "$T/e.err" flows -r "$T/no-suffix" --json -q
same_flows "gzip'd file without .gz (magic bytes)" "$T/gz2.json"

RC=0
"$NETSIFT" flows -r - --json -q <"$S" >"$T/stdin.json" 2>"$T/e.err" || RC=$?
same_flows "stdin (-r -)" "$T/stdin.json"

RC=0
"$NETSIFT" flows -r - --json -q <"$T/sample.pcap.gz" >"$T/stdin-gz.json" 2>"$T/e.err" || RC=$?
same_flows "gzip'd stdin" "$T/stdin-gz.json"

mkdir "$T/split"
editcap -F pcap -c $(((NREC + 2) / 3)) "$S" "$T/split/part.pcap" >/dev/null
NPARTS=$(find "$T/split" -type f | wc -l)
expect_eq "editcap -c split the sample into" "$NPARTS" 3
run_ns "$T/dir.json" "$T/e.err" flows -r "$T/split" --json -q
same_flows "a directory of 3 parts" "$T/dir.json"

# the parts given in reverse order are still merged by time
mapfile -t PARTS < <(find "$T/split" -type f | sort -r)
run_ns "$T/rev.json" "$T/e.err" flows -r "${PARTS[0]}" -r "${PARTS[1]}" -r "${PARTS[2]}" --json -q
same_flows "3 parts as -r in reverse order" "$T/rev.json"

# --- BPF ---------------------------------------------------------------------
run_ns "$T/udp.json" "$T/e.err" flows -r "$S" --json -q udp
expect_eq "BPF 'udp': exit status" "$RC" 0
expect_eq "BPF 'udp': only UDP flows" "$(e2e_util protos "$T/udp.json")" udp
# libpcap's "udp" matches untagged frames whose IP header says UDP: not
# 802.1Q-tagged frames nor IPv6 with extension headers (tcpdump semantics).
# So the filtered flows are those of the frames tcpdump keeps with the same
# filter; flows end on capture time, which the other packets move on, so a
# flow may end "eof" instead of "idle_timeout": end_reason is left out.
e2e_util flows "$T/udp.json" -x end_reason >"$T/udp.flows"
e2e_util flows "$T/ref.json" -x end_reason | grep '"proto":"udp"' >"$T/ref-udp.flows" || true
NUDP=$(wc -l <"$T/udp.flows")
check "BPF 'udp': some flows ($NUDP)" test "$NUDP" -gt 0
check "BPF 'udp': each one a UDP flow of the unfiltered run" \
    test -z "$(comm -23 "$T/udp.flows" "$T/ref-udp.flows")"
if command -v tcpdump >/dev/null 2>&1; then
    tcpdump -r "$S" -w "$T/tcpdump-udp.pcap" udp 2>/dev/null
    run_ns "$T/tcpdump-udp.json" "$T/e.err" flows -r "$T/tcpdump-udp.pcap" --json -q
    e2e_util flows "$T/tcpdump-udp.json" -x end_reason >"$T/tcpdump-udp.flows"
    check "BPF 'udp': the flows of the frames tcpdump keeps with 'udp'" \
        cmp -s "$T/udp.flows" "$T/tcpdump-udp.flows"
fi

run_ns "$T/e.out" "$T/e.err" flows -r "$S" --json -q "not a valid ((( filter"
check "a bad BPF expression fails (exit $RC)" test "$RC" -ne 0
check "a bad BPF expression is reported on stderr" test -s "$T/e.err"

# --- formats -------------------------------------------------------------------
NALL=$(grep -c '"type":"flow"' "$T/ref.json")
run_ns "$T/flows.csv" "$T/e.err" flows -r "$S" --format csv -q
expect_eq "--format csv: exit status" "$RC" 0
check "--format csv: one header, equal column counts, $NALL rows" e2e_util csv "$T/flows.csv" "$NALL"

run_ns "$T/flows.txt" "$T/e.err" flows -r "$S" --format text -q
expect_eq "--format text: exit status" "$RC" 0
check "--format text: an aligned table of $NALL rows" e2e_util table "$T/flows.txt" "$NALL"

run_ns "$T/e.out" "$T/e.err" flows -r "$S" --format yaml
expect_eq "--format yaml is a usage error" "$RC" 2

finish
