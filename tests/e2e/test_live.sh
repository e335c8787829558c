#!/usr/bin/env bash
# test_live.sh - live capture (-i) on the loopback interface: netsift flows
# captures UDP datagrams that this test sends to 127.0.0.1, stops cleanly on
# SIGINT, and reports the flow with exact counts. Skipped unless the test may
# capture on lo (root or CAP_NET_RAW).
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
need_tool python3

if [ "$(id -u)" -ne 0 ]; then
    skip "live capture on lo needs root"
fi

read -r SPORT DPORT < <(free_udp_ports)

"$NETSIFT" flows -i lo --json "udp and host 127.0.0.1 and port $SPORT" \
    >"$T/live.out" 2>"$T/live.err" &
PID=$!
wait_listening "$PID" "$T/live.err" lo

# 5 datagrams of 100 bytes from SPORT to DPORT, and 2 replies of 10 bytes back.
python3 - "$SPORT" "$DPORT" <<'PY'
import socket, sys, time
sport, dport = int(sys.argv[1]), int(sys.argv[2])
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("127.0.0.1", sport))
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(("127.0.0.1", dport))
for _ in range(5):
    a.sendto(b"x" * 100, ("127.0.0.1", dport))
    b.recvfrom(2048)
for _ in range(2):
    b.sendto(b"y" * 10, ("127.0.0.1", sport))
    a.recvfrom(2048)
PY
sleep 0.5
kill -INT "$PID"
RC=0
wait "$PID" || RC=$?
expect_eq "SIGINT ends the live capture with exit 0" "$RC" 0

# On lo every frame has a 14-byte Ethernet header: 14 + 20 + 8 + payload.
python3 - "$T/live.out" "$SPORT" "$DPORT" >"$T/check.txt" <<'PY'
import json, sys
path, sport, dport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
flows = [json.loads(l) for l in open(path) if l.strip()]
flows = [f for f in flows if f.get("type") == "flow"]
print(len(flows))
f = flows[0] if flows else {}
print(f.get("proto"), f.get("src_addr"), f.get("src_port"), f.get("dst_addr"), f.get("dst_port"))
print(f.get("packets_fwd"), f.get("packets_rev"), f.get("bytes_fwd"), f.get("bytes_rev"))
print(f.get("end_reason"))
PY
expect_eq "one flow captured" "$(sed -n 1p "$T/check.txt")" 1
expect_eq "its endpoints (the first sender is src)" "$(sed -n 2p "$T/check.txt")" \
    "udp 127.0.0.1 $SPORT 127.0.0.1 $DPORT"
expect_eq "its packets and frame bytes per direction" "$(sed -n 3p "$T/check.txt")" \
    "5 2 710 104"
expect_eq "it ended with the input" "$(sed -n 4p "$T/check.txt")" "eof"
finish
