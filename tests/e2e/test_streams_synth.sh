#!/usr/bin/env bash
# test_streams_synth.sh - `netsift streams` on synth captures (fragments,
# reordering, retransmissions, VLAN, IPv6) checked against the capture
# itself (streams_truth.py: every stream equals the independent rebuild, the
# JSON and DFXML reports give each file's size and digests), and the
# options: --max-fds, --max-gap, -b, -F, -T, -FX, --udp, -a, usage errors.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
need_tool python3

S=$T/s.pcap
"$NETSIFT" synth -q -o "$S" --seed 11 || fail "synth"

# --- truth, for a few seeds and kinds ---
for seed in 1 2 3 4; do
    "$NETSIFT" synth -q -o "$T/t$seed.pcap" --kinds tcp,http,retrans,frag,vlan,ipv6 --seed $seed
    run_ns "$T/o" "$T/e" streams -q -r "$T/t$seed.pcap" -o "$T/t$seed" --report-json "$T/t$seed.json"
    expect_eq "seed $seed: exit status" "$RC" 0
    out=$(python3 "$E2E_DIR/streams_truth.py" "$T/t$seed.pcap" "$T/t$seed" "$T/t$seed.json")
    check "seed $seed: streams equal the bytes sent ($out)" test "${out#ok }" != "$out"
    [ "${out#ok }" != "$out" ] || echo "$out"
done

# --- --max-fds 2 writes exactly the same files as the default ---
run_ns "$T/o" "$T/e" streams -q -r "$S" -o "$T/fd-default"
run_ns "$T/o" "$T/e" streams -q -r "$S" -o "$T/fd-2" --max-fds 2 -v
expect_eq "--max-fds 2: exit status" "$RC" 0
check "--max-fds 2: same files, same bytes" \
    diff -r -x report.xml "$T/fd-default" "$T/fd-2"
check "--max-fds 2: files were reopened" grep -q "[1-9][0-9]* reopens" "$T/e"

# --- -b caps every direction ---
run_ns "$T/o" "$T/e" streams -q -r "$S" -o "$T/b" -b 100 --report-json "$T/b.json"
big=$(find "$T/b" -type f ! -name report.xml -size +100c | wc -l)
expect_eq "-b 100: no file above 100 bytes" "$big" 0
check "-b 100: capped bytes reported" grep -q '"capped_bytes":[1-9]' "$T/b.json"

# --- --max-gap: a capture with a 3000-byte hole splits at 1000, fills at 4000 ---
python3 - "$T/gap.pcap" <<'PY'
import struct, sys
def frame(seq, flags, payload, sport=40000, dport=80, src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02"):
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, 1, 0x50, flags, 65535, 0, 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, src, dst) + tcp
    return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip
frames = [frame(999, 0x02, b""), frame(1000, 0x18, b"A" * 500),
          frame(4500, 0x18, b"B" * 500), frame(5000, 0x11, b"")]
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i, fr in enumerate(frames):
        f.write(struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)) + fr)
PY
N1=010.000.000.001.40000-010.000.000.002.00080
run_ns "$T/o" "$T/e" streams -q -r "$T/gap.pcap" -o "$T/g1" --max-gap 1000 --report-json "$T/g1.json"
expect_eq "--max-gap 1000: first part" "$(head -c 600 "$T/g1/$N1" | tr -d A | wc -c)" 0
expect_eq "--max-gap 1000: first part size" "$(wc -c <"$T/g1/$N1")" 500
expect_eq "--max-gap 1000: second part in c1" "$(tr -d B <"$T/g1/${N1}c1" | wc -c) $(wc -c <"$T/g1/${N1}c1")" "0 500"
check "--max-gap 1000: report says split" grep -q '"part":1,.*"gap_bytes":3000,"closed":"split"' "$T/g1.json"
run_ns "$T/o" "$T/e" streams -q -r "$T/gap.pcap" -o "$T/g2" --max-gap 4000
expect_eq "--max-gap 4000: one file with the hole as zeros" "$(wc -c <"$T/g2/$N1")" 4000
expect_eq "--max-gap 4000: 3000 zero bytes" "$(tr -d 'AB' <"$T/g2/$N1" | wc -c)" 3000
check "--max-gap 4000: no second part" test ! -e "$T/g2/${N1}c1"

# --- names: -Ft, -FT, -T with directories, -FX ---
run_ns "$T/o" "$T/e" streams -q -r "$T/gap.pcap" -o "$T/ft" -Ft
check "-Ft: Unix time prefix" test -s "$T/ft/1700000000T$N1"
run_ns "$T/o" "$T/e" streams -q -r "$T/gap.pcap" -o "$T/fT" -FT
check "-FT: ISO 8601 prefix" test -s "$T/fT/2023-11-14T22:13:20Z$N1"
run_ns "$T/o" "$T/e" streams -q -r "$T/gap.pcap" -o "$T/tt" -T '%A/%a/%B/%b/%#_%N.flow'
check "-T: directories from the template" test -s "$T/tt/010.000.000.001/40000/010.000.000.002/00080/0_000.flow"
run_ns "$T/o" "$T/e" streams -q -r "$S" -o "$T/fx" -FX --report-json "$T/fx.json"
expect_eq "-FX: only report.xml" "$(ls "$T/fx")" "report.xml"
check "-FX: records without files" grep -q '"file":null' "$T/fx.json"

# --- --udp ---
run_ns "$T/o" "$T/e" streams -q -r "$S" -o "$T/udp" --udp --report-json "$T/udp.json"
check "--udp: UDP records" grep -q '"proto":"udp"' "$T/udp.json"
f=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r["proto"]=="udp": print(r["file"]); break' "$T/udp.json")
check "--udp: the UDP file exists ($f)" test -s "$T/udp/$f"

# --- -a: bodies and http records ---
run_ns "$T/o" "$T/e" streams -q -r "$S" -o "$T/a" -a --report-json "$T/a.json"
check "-a: body files" sh -c "ls '$T/a' | grep -q -- '-HTTPBODY-001'"
check "-a: header files" sh -c "ls '$T/a' | grep -q -- '-HTTP\$'"
check "-a: http records" grep -q '"type":"http"' "$T/a.json"

# --- console mode and usage errors ---
run_ns "$T/o" "$T/e" streams -r "$T/gap.pcap" -c
expect_eq "-c: the first line" "$(head -c 50 "$T/o")" "$N1: AAAAA"
run_ns "$T/o" "$T/e" streams -r "$S" --bogus
expect_eq "unknown option: exit 2" "$RC" 2
run_ns "$T/o" "$T/e" streams -r "$S" -T '%Q'
expect_eq "bad template: exit 2" "$RC" 2
# --- -a -v: the HTTP counters on stderr agree with the http records ---
# (synth's messages are whole; the shared ppp_TwoHttpResponses has two
# responses cut by the end of the capture)
http_counters() { # NAME CAPTURE
    run_ns "$T/o" "$T/e" streams -q -a -v -r "$2" -o "$T/av-$1" --report-json "$T/av-$1.json"
    expect_eq "$1 -a -v: exit status" "$RC" 0
    want=$(python3 -c '
import json, sys
http = [r for r in map(json.loads, open(sys.argv[1])) if r["type"] == "http"]
print("netsift: http: %d bodies, 0 malformed, %d incomplete, 0 truncated, 0 not decoded" % (
    sum(1 for r in http if r.get("file")), sum(1 for r in http if r.get("incomplete"))))
' "$T/av-$1.json")
    expect_eq "$1 -a -v: http counters = the http records" "$(grep '^netsift: http:' "$T/e")" \
        "$want"
}
http_counters synth "$S"
TWO="${NS_SHARED_DATA:-}/pcap/http/ppp_TwoHttpResponses.pcap"
if [ -f "$TWO" ]; then
    http_counters two "$TWO"
    expect_eq "ppp_TwoHttpResponses: both responses incomplete" \
        "$(grep -o '[0-9]* incomplete' "$T/e")" "2 incomplete"
fi

run_ns "$T/o" "$T/e" streams -r "$T/missing.pcap" -o "$T/m"
expect_eq "missing input: exit 1" "$RC" 1
run_ns "$T/o" "$T/e" streams --help
expect_eq "--help: exit 0" "$RC" 0
finish
