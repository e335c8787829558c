#!/usr/bin/env bash
# test_hosts_http_p0f.sh - the HTTP part of `netsift hosts` OS / application
# guesses against the real p0f 3.09b on the shared HTTP captures.
#
# For each $NS_SHARED_DATA/pcap/http capture: `p0f -r FILE -o LOG -f FP`
# logs one "mod=http request" / "mod=http response" line for the first
# request (GET or HEAD only) and the first response of each connection it
# saw open; `netsift hosts --json --p0f FP` gives each host an "http"
# object per role (client: [http:request], server: [http:response]) with the
# best match over the first request and the first response of each
# connection and that message's raw_sig. Per host and role seen by both, the raw_sig we kept must be one
# p0f logged for that host and role, and our label ("name flavor", or "???")
# the app= p0f gave that raw_sig. The counts measured when this test was
# written are asserted exactly (a regression, or a change of the data,
# fails); host-roles p0f did not log are counted separately (p0f skips
# non-GET/HEAD requests and connections without a SYN).
. "$(dirname "$0")/lib.sh"

need_shared_data
need_tool p0f python3
FP="$NS_SHARED_DATA/p0f/p0f.fp"
[ -f "$FP" ] || FP=/etc/p0f/p0f.fp
[ -f "$FP" ] || skip "no p0f.fp"
[ -d "$NS_SHARED_DATA/pcap/http" ] || skip "no $NS_SHARED_DATA/pcap/http"

cat >"$T/cmp.py" <<'PYEOF'
"""Compare netsift hosts http objects with p0f's HTTP log lines. Prints one
line per host-role and a last line of counts: roles ours p0f both
sig_agree label_agree."""
import json
import sys

ours_path, log_path = sys.argv[1], sys.argv[2]
p0f = {}  # (addr, role) -> {raw_sig: app}
for line in open(log_path, encoding="utf-8", errors="replace"):
    if "mod=http " not in line:
        continue
    f = dict(kv.split("=", 1) for kv in line.rstrip("\n").split("] ", 1)[1].split("|")
             if "=" in kv)
    role = "client" if f["mod"] == "http request" else "server"
    addr = (f["cli"] if role == "client" else f["srv"]).rsplit("/", 1)[0]
    p0f.setdefault((addr, role), {})[f["raw_sig"]] = f.get("app", f.get("os", "???"))
ours = {}
for line in open(ours_path, encoding="utf-8"):
    r = json.loads(line)
    if r.get("type") != "host" or "http" not in r:
        continue
    for role, h in r["http"].items():
        label = "???"
        if h.get("name"):
            label = h["name"] + (" " + h["flavor"] if h.get("flavor") else "")
        ours[(r["addr"], role)] = (h["raw_sig"], label)
both = sig_ok = label_ok = 0
for key in sorted(set(ours) | set(p0f)):
    if key not in ours:
        print("p0f only: %s %s" % key)
        continue
    if key not in p0f:
        print("ours only: %s %s (%s)" % (key[0], key[1], ours[key][1]))
        continue
    both += 1
    sig, label = ours[key]
    if sig in p0f[key]:
        sig_ok += 1
        if p0f[key][sig] == label:
            label_ok += 1
            print("agree: %s %s %s" % (key[0], key[1], label))
        else:
            print("label differs: %s %s ours %r p0f %r" % (key[0], key[1], label, p0f[key][sig]))
    else:
        print("raw_sig differs: %s %s ours %s; p0f %s" % (key[0], key[1], sig, sorted(p0f[key])))
print("counts %d %d %d %d %d" % (len(ours), len(p0f), both, sig_ok, label_ok))
PYEOF

# name: ours p0f both sig_agree label_agree (measured with p0f 3.09b and Debian's p0f.fp).
# Every host-role both report agrees on raw_sig and label. Ours only:
#   cs_http_post, tcpflow_test-gzip: the first request is a POST (p0f
#     fingerprints GET / HEAD only and then drops the connection);
#   ppp_one_http_stream_rst: VLAN + PPPoE framing, which p0f does not decode;
#   ppp_http-packets2 216.185.152.111 server: its connections start
#     mid-stream (no SYN), which p0f does not follow.
#   ppp_TwoHttpResponses: two responses without their requests or a SYN
#     (p0f wants the request first); we fingerprint each server (no match).
cat >"$T/want" <<'EOF2'
cs_http_google.pcapng 2 2 2 2 2
cs_http_post.pcapng 2 0 0 0 0
ppp_TwoHttpResponses.pcap 2 0 0 0 0
ppp_http-packets2.pcap 6 5 5 5 5
ppp_one_http_stream_fin.pcap 2 2 2 2 2
ppp_one_http_stream_rst.pcap 2 0 0 0 0
ppp_three_http_streams.pcap 4 4 4 4 4
tcpflow_jpegs.cap 2 2 2 2 2
tcpflow_test-gzip.pcap 2 0 0 0 0
tcpflow_test1.pcap 3 3 3 3 3
EOF2

for f in "$NS_SHARED_DATA"/pcap/http/*; do
    b=$(basename "$f")
    p0f -r "$f" -o "$T/$b.log" -f "$FP" >/dev/null 2>&1 || true
    touch "$T/$b.log"
    run_ns "$T/$b.json" "$T/$b.err" hosts -r "$f" --json -q --no-geoip --p0f "$FP"
    if [ "$RC" -ne 0 ]; then
        fail "$b: netsift hosts exit $RC: $(head -n 2 "$T/$b.err")"
        continue
    fi
    python3 "$T/cmp.py" "$T/$b.json" "$T/$b.log" >"$T/$b.cmp"
    sed "s/^/  $b: /" "$T/$b.cmp" | grep -v ': counts '
    got="$b $(tail -n 1 "$T/$b.cmp" | cut -d' ' -f2-)"
    want=$(grep "^$b " "$T/want" || echo "$b (no expected counts)")
    expect_eq "$b: host-roles ours / p0f / both / same raw_sig / same label" "$got" "$want"
done

# the bound on the work per connection, p0f's: the first request and the
# first response. tshark -Y http on this capture shows 7 TCP streams with
# HTTP: stream 0 a lone response (picked up mid-stream), streams 1-6
# requests and responses (27 and 26 of each in streams 1 and 3): 7
# connections, 1 + 6 * 2 = 13 first messages.
run_ns "$T/cap.json" "$T/cap.err" hosts -r "$NS_SHARED_DATA/pcap/http/ppp_http-packets2.pcap" \
    --json -q --no-geoip --p0f "$FP" --stats
caps=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("type") == "hosts_stats":
        print(r["http_connections"], r["http_fingerprints"], "http_capped" in r)
' "$T/cap.json")
expect_eq "ppp_http-packets2: http connections / fingerprints / old cap counter" "$caps" "7 13 False"

# the same guesses in the CSV columns and the text table (tcpflow_test1: the
# three host-roles p0f agrees on above)
T1="$NS_SHARED_DATA/pcap/http/tcpflow_test1.pcap"
run_ns "$T/t1.csv" "$T/t1.err" hosts -r "$T1" --format csv -q --no-geoip --p0f "$FP"
csvs=$(python3 -c '
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["http_client"] or r["http_server"]]
print("|".join("%s %s %s" % (r["addr"], r["http_client"] or "-", r["http_server"] or "-")
               for r in sorted(rows, key=lambda r: r["addr"])))
' "$T/t1.csv")
expect_eq "tcpflow_test1 csv: addr http_client http_server" "$csvs" \
    "192.168.1.102 ??? -|74.125.19.101 - ???|74.125.19.104 - Google Web Server"
run_ns "$T/t1.txt" "$T/t1.err" hosts -r "$T1" -q --no-geoip --p0f "$FP"
expect_eq "tcpflow_test1 text: the matched HTTP guess at the end of its host line" \
    "$(grep -o '^74.125.19.104 .* http-server=.*$' "$T/t1.txt" | sed 's/.* http-server=/http-server=/')" \
    "http-server=Google Web Server"

# without p0f there is no HTTP fingerprinting (and no reassembly)
run_ns "$T/nop.json" "$T/nop.err" hosts -r "$NS_SHARED_DATA/pcap/http/cs_http_google.pcapng" \
    --json -q --no-geoip --no-p0f
check "--no-p0f: no http objects" bash -c "! grep -q '\"http\":' '$T/nop.json'"

finish
