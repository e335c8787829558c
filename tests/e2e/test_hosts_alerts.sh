#!/usr/bin/env bash
# test_hosts_alerts.sh - attack hints of `netsift hosts` on real and
# generated captures.
#
#   - `netsift synth --kinds scan` (one scanner, 200 ports of one target):
#     exactly one alert, vertical_scan, with the scanner as attacker and the
#     target as victim (both read from the synth truth file), 200 ports;
#   - ndpi_synscan.pcap (an nmap SYN scan of 1000 ports, twice): one
#     vertical_scan alert, attacker 172.16.0.8, victim 64.13.134.52;
#   - ordinary traffic (every capture under http/ and tcp/, and
#     mixed/ppp_http-packets.pcap): no alert at all with the default
#     thresholds.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
need_tool python3
export NETSIFT_DATA_DIR=$T/no-geoip # no GeoIP file from the machine

# alerts FILE: the alert records of a JSON Lines output, one per line
alerts() {
    grep '"type":"alert"' "$1" || true
}

# 1. synth scan
run_ns "$T/scan.synth.out" "$T/scan.synth.err" synth -o "$T/scan.pcap" --truth "$T/scan.truth" \
    --kinds scan --seed 3
expect_eq "synth --kinds scan exits 0" "$RC" 0
run_ns "$T/scan.json" "$T/scan.err" hosts -r "$T/scan.pcap" --json -q --no-p0f
expect_eq "hosts on the synth scan exits 0" "$RC" 0
read -r scanner target < <(python3 - "$T/scan.truth" <<'PY'
import json, sys, collections
n = collections.Counter()
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("kind") == "scan" or r.get("label") == "scan":
        n[(r.get("src_addr"), r.get("dst_addr"))] += 1
(src, dst), _ = n.most_common(1)[0] if n else ((None, None), 0)
print(src, dst)
PY
)
expect_eq "synth truth names a scanner" "$([ -n "$scanner" ] && [ "$scanner" != None ] && echo yes)" yes
alerts "$T/scan.json" >"$T/scan.alerts"
expect_eq "synth scan: one alert" "$(wc -l <"$T/scan.alerts")" 1
got=$(python3 -c '
import json, sys
a = json.loads(open(sys.argv[1]).readline())
print(a["kind"], a["attacker"], a["victim"], a["evidence"]["ports"], a["evidence"]["attempts"])
' "$T/scan.alerts")
expect_eq "synth scan: vertical_scan by the scanner on the target, 200 ports" "$got" \
    "vertical_scan $scanner $target 200 200"
got=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["type"] == "host" and r["addr"] == sys.argv[2]:
        print(r["alerts"]["as_attacker"], ",".join(r["alerts"]["kinds"]), r["flows_opened"])
' "$T/scan.json" "$scanner")
expect_eq "synth scan: the scanner's host record names the alert" "$got" "1 vertical_scan 200"

need_shared_data
D=$NS_SHARED_DATA/pcap

# 2. nmap SYN scan
run_ns "$T/nmap.json" "$T/nmap.err" hosts -r "$D/scan/ndpi_synscan.pcap" --json -q
expect_eq "hosts on ndpi_synscan exits 0" "$RC" 0
alerts "$T/nmap.json" >"$T/nmap.alerts"
expect_eq "ndpi_synscan: one alert" "$(wc -l <"$T/nmap.alerts")" 1
got=$(python3 -c '
import json, sys
a = json.loads(open(sys.argv[1]).readline())
print(a["kind"], a["attacker"], a["victim"], a["evidence"]["ports"])
' "$T/nmap.alerts")
expect_eq "ndpi_synscan: vertical_scan 172.16.0.8 -> 64.13.134.52, 1000 ports" "$got" \
    "vertical_scan 172.16.0.8 64.13.134.52 1000"

# 3. ordinary traffic: no alert
quiet=0
for f in "$D"/http/* "$D"/tcp/* "$D/mixed/ppp_http-packets.pcap"; do
    [ -f "$f" ] || continue
    name=$(basename "$f")
    run_ns "$T/q.json" "$T/q.err" hosts -r "$f" --json -q
    if [ "$RC" -ne 0 ]; then
        fail "$name: exit $RC: $(head -n 2 "$T/q.err")"
        continue
    fi
    n=$(alerts "$T/q.json" | wc -l)
    expect_eq "$name: no alert" "$n" 0
    quiet=$((quiet + 1))
done
check "ordinary captures checked ($quiet)" test "$quiet" -ge 15

finish
