#!/usr/bin/env bash
# test_flows_synth.sh - `netsift flows` against the ground truth that
# `netsift synth` writes beside its capture.
#
# For seeds 1 and 2, for several --kinds subsets and for a multi-round
# capture (--size): the flows printed equal the truth file on every field it
# has (endpoints, VLAN, packets and bytes per direction, first / last seen:
# exact), as multisets; --stats packets_read equals the number of records in
# the file (counted by capinfos and by our own pcap walk); the same seed gives
# a byte-identical capture and the same flows again, another seed another
# capture.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
need_tool python3

# synth_and_check NAME SYNTH-ARGS...
synth_and_check() {
    local name=$1
    shift
    local pcap=$T/$name.pcap truth=$T/$name.truth out=$T/$name.json
    run_ns "$T/$name.synth.out" "$T/$name.synth.err" synth -o "$pcap" --truth "$truth" "$@"
    if [ "$RC" -ne 0 ] || [ ! -s "$pcap" ] || [ ! -s "$truth" ]; then
        fail "$name: netsift synth $*: exit $RC: $(head -n 3 "$T/$name.synth.err")"
        return
    fi
    run_ns "$out" "$T/$name.err" flows -r "$pcap" --json --stats -q
    expect_eq "$name: flows exits 0" "$RC" 0
    if e2e_util truth "$truth" "$out" >"$T/$name.cmp"; then
        ok "$name: flows equal the truth ($(tail -n 1 "$T/$name.cmp"))"
    else
        fail "$name: flows differ from the truth"
        sed 's/^/    /' "$T/$name.cmp"
    fi
    local nrec
    nrec=$(e2e_util records "$pcap")
    expect_eq "$name: --stats packets_read is the record count" \
        "$(e2e_util stat "$out" packets_read)" "$nrec"
    if command -v capinfos >/dev/null 2>&1; then
        expect_eq "$name: capinfos counts the same records" \
            "$(capinfos -c -M "$pcap" | awk -F': *' '/Number of packets/ {print $2}')" "$nrec"
    fi
}

synth_and_check seed1 --seed 1
synth_and_check seed2 --seed 2
synth_and_check seed2-rounds --seed 2 --size 3M
for kinds in tcp http,hl7,dicom dns,frag ipv6,vlan retrans,scan frag vlan; do
    synth_and_check "kinds-${kinds//,/-}" --seed 1 --kinds "$kinds"
done

# determinism
run_ns "$T/again.out" "$T/again.err" synth -o "$T/again.pcap" --truth "$T/again.truth" --seed 1
check "same seed: a byte-identical capture" cmp -s "$T/again.pcap" "$T/seed1.pcap"
check "same seed: an identical truth file" cmp -s "$T/again.truth" "$T/seed1.truth"
run_ns "$T/again.json" "$T/again.err" flows -r "$T/again.pcap" --json --stats -q
e2e_util flows "$T/again.json" >"$T/again.flows"
e2e_util flows "$T/seed1.json" >"$T/seed1.flows"
check "same seed: the same flows" cmp -s "$T/again.flows" "$T/seed1.flows"
check "another seed: another capture" test -n "$(cmp "$T/seed1.pcap" "$T/seed2.pcap" 2>&1)"

# a kinds subset has only its own kind of flows
if [ -s "$T/kinds-dns-frag.truth" ]; then
    expect_eq "--kinds dns,frag: only those kinds in the truth" \
        "$(python3 -c 'import json,sys; print(" ".join(sorted({json.loads(l)["kind"] for l in open(sys.argv[1]) if l.strip()})))' "$T/kinds-dns-frag.truth")" \
        "dns frag"
fi

run_ns "$T/bad.out" "$T/bad.err" synth -o "$T/bad.pcap" --kinds no-such-kind
expect_eq "--kinds no-such-kind is a usage error" "$RC" 2

finish
