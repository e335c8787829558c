#!/usr/bin/env bash
# test_hosts_cli.sh - `netsift hosts` as a command: usage errors (exit 2),
# missing or corrupt explicit --geoip / --p0f files (one line naming the
# file, exit 1), a missing default database (the report still works), the
# three output formats (JSON Lines checked field by field against the
# capture's known hosts, CSV parsed by Python's csv module, text tables),
# GeoIP through MaxMind's test databases, MAC vendors, the host cap with
# eviction counted, and the live-style window summaries over a file.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
need_tool python3
export NETSIFT_DATA_DIR=$T/no-geoip # the machine's own GeoIP files stay out of it
export HOME=$T/home

run_ns "$T/syn.out" "$T/syn.err" synth -o "$T/mix.pcap" --seed 5
expect_eq "synth exits 0" "$RC" 0
P=$T/mix.pcap

# --- usage errors ---
run_ns "$T/o" "$T/e" hosts
expect_eq "no input: exit 2" "$RC" 2
run_ns "$T/o" "$T/e" hosts -r "$P" --bogus
expect_eq "unknown option: exit 2" "$RC" 2
check "unknown option named" grep -q "unknown option '--bogus'" "$T/e"
run_ns "$T/o" "$T/e" hosts -r "$P" --scan-ports 0
expect_eq "--scan-ports 0: exit 2" "$RC" 2
run_ns "$T/o" "$T/e" hosts -r "$P" --window abc
expect_eq "--window abc: exit 2" "$RC" 2
run_ns "$T/o" "$T/e" hosts -r "$P" --p0f x --no-p0f
expect_eq "--p0f with --no-p0f: exit 2" "$RC" 2
run_ns "$T/o" "$T/e" hosts --help
expect_eq "--help: exit 0" "$RC" 0
check "--help names --geoip" grep -q -- "--geoip FILE" "$T/o"

# --- bad data files ---
run_ns "$T/o" "$T/e" hosts -r "$P" --geoip "$T/nope.mmdb"
expect_eq "missing --geoip: exit 1" "$RC" 1
expect_eq "missing --geoip: one line" "$(wc -l <"$T/e")" 1
check "missing --geoip: names the file" grep -q "nope.mmdb" "$T/e"
printf 'not a database\n' >"$T/junk.mmdb"
run_ns "$T/o" "$T/e" hosts -r "$P" --geoip "$T/junk.mmdb"
expect_eq "corrupt --geoip: exit 1" "$RC" 1
check "corrupt --geoip: names the file" grep -q "junk.mmdb" "$T/e"
expect_eq "corrupt --geoip: nothing on stdout" "$(wc -c <"$T/o")" 0
run_ns "$T/o" "$T/e" hosts -r "$P" --p0f "$T/nope.fp"
expect_eq "missing --p0f: exit 1" "$RC" 1
check "missing --p0f: names the file" grep -q "nope.fp" "$T/e"
printf '[tcp:request]\nlabel = s:unix:X:y\nsig = garbage\n' >"$T/bad.fp"
run_ns "$T/o" "$T/e" hosts -r "$P" --p0f "$T/bad.fp"
expect_eq "corrupt --p0f: exit 1" "$RC" 1
expect_eq "corrupt --p0f: one line" "$(wc -l <"$T/e")" 1
check "corrupt --p0f: names the file" grep -q "bad.fp" "$T/e"
# a broken file in the default GeoIP directory: a warning, the report goes on
mkdir -p "$T/brokendir"
cp "$T/junk.mmdb" "$T/brokendir/"
NETSIFT_DATA_DIR=$T/brokendir run_ns "$T/o" "$T/e" hosts -r "$P" --json -q
expect_eq "broken default GeoIP file: exit 0" "$RC" 0
check "broken default GeoIP file: warned" grep -q "junk.mmdb" "$T/e"
check "broken default GeoIP file: hosts still reported" grep -q '"type":"host"' "$T/o"
# no default database: a note under -v only
run_ns "$T/o" "$T/e" hosts -r "$P" -q -v --no-p0f
expect_eq "no default GeoIP: exit 0" "$RC" 0
check "no default GeoIP: noted under -v" grep -q "no GeoIP database" "$T/e"

# --- JSON ---
run_ns "$T/h.json" "$T/h.err" hosts -r "$P" --json -q --stats
expect_eq "json: exit 0" "$RC" 0
check "json: valid, sorted, consistent" python3 - "$T/h.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
hosts = [r for r in recs if r["type"] == "host"]
countries = [r for r in recs if r["type"] == "country"]
assert hosts and countries, "no host or country records"
for r in recs:
    assert r["schema"] == 1 or r["type"] == "stats", r
keys = [(-(h["bytes_sent"] + h["bytes_recv"])) for h in hosts]
assert keys == sorted(keys), "hosts not sorted by bytes"
# every packet is sent by one host and received by one: the sums match
assert sum(h["packets_sent"] for h in hosts) == sum(h["packets_recv"] for h in hosts)
assert sum(h["bytes_sent"] for h in hosts) == sum(c["bytes_sent"] for c in countries)
assert sum(c["hosts"] for c in countries) == len(hosts)
for h in hosts:
    assert h["scope"] in ("public", "private", "loopback", "link_local", "multicast", "cgnat",
                          "documentation", "unspecified", "broadcast", "reserved"), h
    assert "country_code" not in h, "GeoIP fields without a database"
    assert h["peers"] >= 1
stats = [r for r in recs if r["type"] == "hosts_stats"]
assert len(stats) == 1 and stats[0]["hosts_created"] == len(hosts), stats
assert recs[-1]["type"] == "stats"
PY

# --- CSV ---
run_ns "$T/h.csv" "$T/h.err" hosts -r "$P" --format csv -q
expect_eq "csv: exit 0" "$RC" 0
check "csv: one row per host, same order as json" python3 - "$T/h.csv" "$T/h.json" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
hosts = [json.loads(l) for l in open(sys.argv[2])]
hosts = [h for h in hosts if h["type"] == "host"]
assert [r["addr"] for r in rows] == [h["addr"] for h in hosts]
for r, h in zip(rows, hosts):
    assert int(r["bytes_sent"]) == h["bytes_sent"] and int(r["packets_recv"]) == h["packets_recv"]
    assert r["mac"] == h.get("mac", "")
    assert r["mac_vendor"] == h.get("mac_vendor", "")
PY

# --- text ---
run_ns "$T/h.txt" "$T/h.err" hosts -r "$P" -q
expect_eq "text: exit 0" "$RC" 0
check "text: host table" grep -q "^HOST " "$T/h.txt"
check "text: country table" grep -q "^COUNTRY " "$T/h.txt"
check "text: alert table" grep -q "^ALERT " "$T/h.txt"

# --- the host cap ---
run_ns "$T/cap.json" "$T/cap.err" hosts -r "$P" --json -q --stats --max-hosts 3
expect_eq "--max-hosts 3: exit 0" "$RC" 0
check "--max-hosts 3: 3 hosts, evictions counted, countries cover everything" \
    python3 - "$T/cap.json" "$T/h.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
full = [json.loads(l) for l in open(sys.argv[2])]
assert len([r for r in recs if r["type"] == "host"]) == 3
st = [r for r in recs if r["type"] == "hosts_stats"][0]
nfull = len([r for r in full if r["type"] == "host"])
assert st["hosts_evicted"] >= nfull - 3, st
s1 = sum(r["bytes_sent"] for r in recs if r["type"] == "country")
s2 = sum(r["bytes_sent"] for r in full if r["type"] == "country")
assert s1 == s2, (s1, s2)
PY

# --- windows over a file ---
run_ns "$T/w.json" "$T/w.err" hosts -r "$P" --json -q --window 1
expect_eq "--window 1: exit 0" "$RC" 0
check "--window 1: window records, then totals" python3 - "$T/w.json" "$T/h.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
full = [l for l in open(sys.argv[2]) if '"type":"stats"' not in l and "hosts_stats" not in l]
wins = [r for r in recs if r["type"] == "window"]
assert len(wins) >= 2, len(wins)
assert [w["window"] for w in wins] == list(range(1, len(wins) + 1))
totals = [r for r in recs if "window" not in r]
wsum = sum(r["packets_sent"] for r in recs if r["type"] == "host" and "window" in r)
tsum = sum(r["packets_sent"] for r in totals if r["type"] == "host")
assert wsum == tsum, (wsum, tsum)
PY

need_shared_data
D=$NS_SHARED_DATA

# --- MAC vendor of the tapirx HL7 sender (ieee-data) ---
if [ -r /usr/share/ieee-data/oui.csv ]; then
    run_ns "$T/hl7.json" "$T/hl7.err" hosts -r "$D/pcap/hl7/HL7-ADT-UDI-PRT.pcap" --json -q
    got=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["type"] == "host" and r["addr"] == "10.0.0.155":
        print(r.get("mac"), "|", r.get("mac_vendor"))
' "$T/hl7.json")
    expect_eq "HL7 sender MAC and vendor" "$got" "00:03:b1:b5:b6:48 | ICU Medical, Inc."
else
    echo "note: /usr/share/ieee-data absent: MAC vendor check skipped"
fi

# --- GeoIP through MaxMind's test databases (several files at once) ---
M=$D/mmdb
run_ns "$T/g.json" "$T/g.err" hosts -r "$D/pcap/scan/ndpi_synscan.pcap" --json -q \
    --geoip "$M/GeoIP2-Country-Test.mmdb" --geoip "$M/GeoLite2-ASN-Test.mmdb"
expect_eq "two --geoip files: exit 0" "$RC" 0
check "private scanner labelled private, no country" python3 - "$T/g.json" <<'PY'
import json, sys
hosts = {r["addr"]: r for r in map(json.loads, open(sys.argv[1])) if r["type"] == "host"}
h = hosts["172.16.0.8"]
assert h["scope"] == "private" and "country_code" not in h, h
assert hosts["64.13.134.52"]["scope"] == "public"
PY
run_ns "$T/o" "$T/e" hosts -r "$P" --geoip "$M/MaxMind-DB-test-broken-search-tree-24.mmdb"
expect_eq "broken search tree: exit 1" "$RC" 1
check "broken search tree: says so" grep -q "broken-search-tree-24.mmdb: corrupt search tree" "$T/e"

finish
