#!/usr/bin/env bash
#
# test_p0f_conformance.sh - netsift's p0f v3 fingerprints against the real
# p0f 3.09b (Debian's p0f), on every shared capture and on a synth capture.
#
# For each capture under $NS_SHARED_DATA/pcap (pcap, pcapng, .gz), editcap
# writes a classic pcap into a temporary folder (p0f reads only what libpcap
# reads; multi-link pcapng files cannot be converted and carry no TCP);
# `p0f -r FILE -o LOG -f p0f.fp` logs its events; the unit-test binary
# test_analyze_p0f_conf --dump prints ours for the same file (it applies
# ns_p0f_tcp with p0f's connection rules; see that file); p0f_compare.py
# pairs the SYN, SYN+ACK and MTU events and counts agreements.
#
# The counts measured when this test was written are asserted exactly, so a
# regression (or a change in the shared data) fails; the disagreements and
# their reasons are in tests/e2e/P0F-CONFORMANCE.md. Exit 77 = skipped.
set -u

skip() {
    echo "SKIP: $*"
    exit 77
}
fail() {
    echo "FAIL: $*"
    exit 1
}

[ -n "${NS_SHARED_DATA:-}" ] && [ -d "$NS_SHARED_DATA/pcap" ] || skip "no shared data (NS_SHARED_DATA)"
command -v p0f >/dev/null || skip "p0f is not installed (Debian package p0f)"
command -v editcap >/dev/null || skip "editcap is not installed (Debian package wireshark-common)"
command -v python3 >/dev/null || skip "python3 is not installed"
DUMP="${NS_BUILD_DIR:-}/tests/test_analyze_p0f_conf"
[ -x "$DUMP" ] || skip "test_analyze_p0f_conf not built in NS_BUILD_DIR"
FP="$NS_SHARED_DATA/p0f/p0f.fp"
[ -f "$FP" ] || FP=/etc/p0f/p0f.fp
[ -f "$FP" ] || skip "no p0f.fp"
HERE="$(cd "$(dirname "$0")" && pwd)"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/shared" "$TMP/synth"

# run_one CAPTURE OUTDIR NAME: convert, run p0f and netsift
run_one() {
    local out="$2/$3"
    if ! editcap -F pcap "$1" "$out.pcap" >/dev/null 2>&1; then
        echo "note: $3: editcap cannot write it as one classic pcap (skipped)"
        rm -f "$out.pcap"
        return 0
    fi
    p0f -r "$out.pcap" -o "$out.log" -f "$FP" >/dev/null 2>&1 || fail "p0f failed on $3"
    "$DUMP" --dump "$FP" "$out.pcap" >"$out.ours" || fail "netsift dump failed on $3"
}

while IFS= read -r f; do
    name="${f#"$NS_SHARED_DATA"/pcap/}"
    run_one "$f" "$TMP/shared" "${name//\//__}"
done < <(find "$NS_SHARED_DATA/pcap" -type f | LC_ALL=C sort)

python3 "$HERE/p0f_compare.py" "$TMP/shared" >"$TMP/shared.txt" || fail "p0f_compare.py failed"
cat "$TMP/shared.txt"

val() {
    awk -v k="$2" '$1 == k { print $2 }' "$1"
}

# expect FILE KEY VALUE
expect() {
    local got
    got="$(val "$1" "$2")"
    [ "$got" = "$3" ] || fail "$2: expected $3, got '$got'"
}

# Shared captures: 2229 SYN + 227 SYN+ACK events logged by p0f.
expect "$TMP/shared.txt" tcp_p0f 2456
expect "$TMP/shared.txt" label_same 2456
expect "$TMP/shared.txt" raw_same 2456
expect "$TMP/shared.txt" dist_same 2456
expect "$TMP/shared.txt" tcp_only_p0f 0
# the VLAN + PPPoE handshake p0f cannot find the IP header of (SYN, SYN+ACK)
expect "$TMP/shared.txt" tcp_only_ours 2
expect "$TMP/shared.txt" mtu_p0f 459
expect "$TMP/shared.txt" mtu_same 459
expect "$TMP/shared.txt" mtu_only_p0f 0
expect "$TMP/shared.txt" mtu_only_ours 2

# at least 95% of p0f's events carry the same label (the issue's bar)
awk '$1 == "tcp_p0f" { t = $2 } $1 == "label_same" { s = $2 }
     END { if (t == 0 || s * 100 < t * 95) exit 1 }' "$TMP/shared.txt" ||
    fail "label agreement below 95%"

# Synth capture: SYNs with options varying per generated "OS".
if [ -n "${NETSIFT:-}" ] && [ -x "$NETSIFT" ]; then
    "$NETSIFT" synth -q -o "$TMP/synth.pcap" --kinds tcp,scan || fail "netsift synth failed"
    run_one "$TMP/synth.pcap" "$TMP/synth" synth
    python3 "$HERE/p0f_compare.py" "$TMP/synth" >"$TMP/synth.txt" || fail "p0f_compare.py failed"
    echo "--- synth --kinds tcp,scan"
    cat "$TMP/synth.txt"
    expect "$TMP/synth.txt" tcp_p0f 216
    expect "$TMP/synth.txt" label_same 216
    expect "$TMP/synth.txt" raw_same 216
    expect "$TMP/synth.txt" tcp_only_ours 0
    expect "$TMP/synth.txt" mtu_same 216
else
    echo "note: NETSIFT not set, synth part skipped"
fi
echo "PASS"
