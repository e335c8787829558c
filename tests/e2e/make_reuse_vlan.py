#!/usr/bin/env python3
"""make_reuse_vlan.py - write a small pcap of 4-tuples used twice.

usage: make_reuse_vlan.py OUT.pcap

Four client ports of 10.0.0.1 talk to 10.0.0.2:80, one frame a second
(classic pcap, LINKTYPE_ETHERNET, correct IPv4 and TCP checksums, RFC 791,
RFC 9293):
  1001  handshake, FIN both ways, ACK, then a new SYN (new ISN) + SYN/ACK
  1002  handshake, RST, then a new SYN
  1003  handshake, one FIN only, then a new SYN
  1004  a SYN, then a SYN with another ISN, no close
and UDP 10.0.0.1:5000 <-> 10.0.0.2:53 twice in 802.1Q VLAN 10, then twice in
VLAN 20 (IEEE 802.1Q: TPID 0x8100, then PCP/DEI/VID, then the EtherType).
netsift starts a new flow at a SYN only after both FINs or a RST (1001,
1002); tshark 4.0 starts a new tcp.stream at every SYN whose ISN differs
(all four). netsift keys flows on the VLAN ID too, tshark does not: one
UDP row, two netsift flows. test_flows_tshark.sh runs the conformance
check on it.
"""

import struct
import sys

A, B = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
SYN, SYNACK, ACK, FINACK, RSTACK = 0x02, 0x12, 0x10, 0x11, 0x14


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ipv4(src, dst, proto, l4):
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0, src, dst))
    ip[10:12] = struct.pack("!H", checksum(bytes(ip)))
    return bytes(ip) + l4


def frame(src, dst, sport, dport, seq, ack, flags):
    tcp = bytearray(struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0))
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp[16:18] = struct.pack("!H", checksum(pseudo + bytes(tcp)))
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    return eth + ipv4(src, dst, 6, bytes(tcp))


def udp_frame(vlan, src, dst, sport, dport, payload):
    udp = bytearray(struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, len(udp))
    udp[6:8] = struct.pack("!H", checksum(pseudo + bytes(udp)) or 0xFFFF)
    eth = bytes.fromhex("020000000002" "020000000001") + struct.pack("!HHH", 0x8100, vlan, 0x0800)
    return eth + ipv4(src, dst, 17, bytes(udp))


def main():
    frames = []

    def out(port, seq, ack, flags):
        frames.append(frame(A, B, port, 80, seq, ack, flags))

    def back(port, seq, ack, flags):
        frames.append(frame(B, A, 80, port, seq, ack, flags))

    out(1001, 100, 0, SYN), back(1001, 500, 101, SYNACK), out(1001, 101, 501, ACK)
    out(1001, 101, 501, FINACK), back(1001, 501, 102, FINACK), out(1001, 102, 502, ACK)
    out(1001, 9000, 0, SYN), back(1001, 7000, 9001, SYNACK)
    out(1002, 100, 0, SYN), back(1002, 500, 101, SYNACK), out(1002, 101, 501, RSTACK)
    out(1002, 9000, 0, SYN)
    out(1003, 100, 0, SYN), back(1003, 500, 101, SYNACK), out(1003, 101, 501, ACK)
    out(1003, 101, 501, FINACK)
    out(1003, 9000, 0, SYN)
    out(1004, 100, 0, SYN), out(1004, 9000, 0, SYN)
    for vlan in (10, 20):
        frames.append(udp_frame(vlan, A, B, 5000, 53, b"question"))
        frames.append(udp_frame(vlan, B, A, 53, 5000, b"the answer"))
    with open(sys.argv[1], "wb") as fp:
        fp.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, f in enumerate(frames):
            fp.write(struct.pack("<IIII", 1704067200 + i, 0, len(f), len(f)) + f)


if __name__ == "__main__":
    main()
