#!/usr/bin/env bash
# test_hosts_live.sh - `netsift hosts -i lo --window 1 --html PAGE`: live
# windows end on the wall clock (also when the interface is quiet) and the
# page is rewritten in place for each one. Datagrams go to 127.0.0.1 only.
#
# Timeline: 3 datagrams of 100 bytes, then 2.5 s of silence (at least one
# window ends with no packet: it is reported empty and the page is
# rewritten with it), then 2 datagrams, then SIGINT. Checked: the page
# showed the first window's numbers while the capture ran, then a later window's
# (empty) before the next datagrams were sent; the JSON output has a
# window with the 3 datagrams, an empty window after it, a window with the
# 2, and totals of 5 sent and 5 received for 127.0.0.1 (on lo the host is
# both ends). Skipped unless the test may capture on lo.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
need_tool python3

if [ "$(id -u)" -ne 0 ]; then
    skip "live capture on lo needs root"
fi

read -r SPORT DPORT < <(free_udp_ports)

PAGE="$T/page.html"
"$NETSIFT" hosts -i lo --json --window 1 --html "$PAGE" --no-geoip --no-p0f \
    "udp and host 127.0.0.1 and port $SPORT" >"$T/live.out" 2>"$T/live.err" &
PID=$!
wait_listening "$PID" "$T/live.err" lo

send() { # COUNT: datagrams of 100 bytes from SPORT to DPORT
    python3 - "$SPORT" "$DPORT" "$1" <<'PY'
import socket, sys
sport, dport, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("127.0.0.1", sport))
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(("127.0.0.1", dport))
for _ in range(n):
    a.sendto(b"x" * 100, ("127.0.0.1", dport))
    b.recvfrom(2048)
PY
}

# wait_page WANT: poll PAGE (one python process, every 20 ms, up to 15 s)
# until 127.0.0.1's packets_sent in its records is WANT ("-": not there);
# prints "TITLE|SENT", or "timeout|TITLE|SENT" with what it last saw.
cat >"$T/page.py" <<'PY'
import json, re, sys, time
path, want = sys.argv[1], sys.argv[2]
seen = "no page"
deadline = time.time() + 15
while time.time() < deadline:
    try:
        text = open(path, encoding="utf-8").read()
    except OSError:
        time.sleep(0.02)
        continue
    m = re.search(r"<title>(.*?)</title>", text, re.S)
    sent = "-"
    for body in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', text, re.S):
        try:
            data = json.loads(body)
        except ValueError:
            continue
        if isinstance(data, list):
            for r in data:
                if isinstance(r, dict) and r.get("type") == "host" and r.get("addr") == "127.0.0.1":
                    sent = str(r.get("packets_sent"))
    seen = "%s|%s" % (m.group(1) if m else "", sent)
    if sent == want:
        print(seen)
        sys.exit(0)
    time.sleep(0.02)
print("timeout|" + seen)
PY
wait_page() { python3 "$T/page.py" "$PAGE" "$1"; }

# each poller starts before its datagrams are sent, so it cannot miss the
# page of their window however slow this machine is
wait_page 3 >"$T/p1" &
W=$!
send 3
wait "$W"
p1=$(cat "$T/p1")
check "the page is written when the window with 3 datagrams ends ($p1)" \
    bash -c "case '$p1' in 'netsift hosts: window '*'|3') true ;; *) false ;; esac"
p2=$(wait_page -)
check "a quiet window still ends: the page is rewritten without the host" \
    bash -c "case '$p2' in 'netsift hosts: window '*'|-') true ;; *) false ;; esac"
sleep 1
wait_page 2 >"$T/p3" &
W=$!
send 2
wait "$W"
p3=$(cat "$T/p3")
check "the page follows the next window (2 datagrams) ($p3)" \
    bash -c "case '$p3' in 'netsift hosts: window '*'|2') true ;; *) false ;; esac"
kill -INT "$PID"
RC=0
wait "$PID" || RC=$?
expect_eq "SIGINT ends the live capture with exit 0" "$RC" 0

python3 - "$T/live.out" >"$T/check.txt" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
# per window: the hosts it reported and 127.0.0.1's packets sent
seq = []
for r in recs:
    if r.get("type") == "window":
        seq.append([r["hosts"], 0])
    elif r.get("type") == "host" and "window" in r and r["addr"] == "127.0.0.1":
        seq[-1][1] = r["packets_sent"]
shape = []
for hosts, sent in seq:
    item = "%d:%d" % (hosts, sent)
    if not shape or shape[-1] != item:
        shape.append(item)
while shape and shape[0] == "0:0":
    shape.pop(0)  # windows before the first datagram
while shape and shape[-1] == "0:0":
    shape.pop()  # the last (partial) window, after the last datagram
print(" ".join(shape))
total = [r for r in recs if r.get("type") == "host" and "window" not in r]
print(len(total), total[0]["packets_sent"] if total else "-",
      total[0]["packets_recv"] if total else "-")
PY
# consecutive equal windows are folded: 3 datagrams, quiet windows, 2 datagrams
expect_eq "windows: hosts:packets_sent (runs folded)" "$(sed -n 1p "$T/check.txt")" \
    "1:3 0:0 1:2"
expect_eq "totals: one host, 5 sent, 5 received" "$(sed -n 2p "$T/check.txt")" "1 5 5"
finish
