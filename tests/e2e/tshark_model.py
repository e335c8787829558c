"""tshark_model.py - read tshark's per-frame fields and conversation tables,
and derive from them both what tshark's `-z conv,tcp -z conv,udp` shows and
what `netsift flows` must print for the same capture.

Used by conformance.py (tests/e2e/test_flows_tshark.sh). Standard library
only. The rules it encodes, and every way netsift differs from tshark on
purpose, are written up in tests/e2e/CONFORMANCE.md.

One tshark run per capture gives both views:

    tshark -n -r FILE -T fields -E occurrence=a -E aggregator=, -e ... \
           -z conv,tcp -z conv,udp

prints one tab-separated line per frame (FIELDS below, multi-valued fields
joined with ','), then the two conversation tables:

    A:port  <->  B:port   F_BA BYTES_BA   F_AB BYTES_AB   F BYTES   START DUR
                          |---- "<-" ---| |---- "->" ---|

"<-" counts the frames from B to A, "->" those from A to B (checked on
tcp/cs_tcp_handshake.pcapng: the SYN sender A has 2 frames under "->").
Byte counts of 10000 and more are printed rounded ("971 kB"): see
format_size().
"""

import ipaddress
import re

FIELDS = [
    "frame.number", "frame.len", "frame.cap_len", "frame.time_epoch", "frame.cb_pen",
    "frame.protocols", "vlan.id", "ieee8021ad.id",
    "ip.src", "ip.dst", "ip.proto", "ip.flags.mf", "ip.frag_offset", "ip.id",
    "ip.reassembled_in", "ip.fragment",
    "ipv6.src", "ipv6.dst", "ipv6.fraghdr.offset", "ipv6.fraghdr.more",
    "ipv6.reassembled.in", "ipv6.fragment",
    "tcp.srcport", "tcp.dstport", "tcp.stream", "tcp.flags",
    "udp.srcport", "udp.dstport", "udp.stream",
]
IDX = {name: i for i, name in enumerate(FIELDS)}

# Layers netsift decodes in front of IP (include/netsift/decode.h), in
# tshark's protocol names. Anything else before the first IP header
# (MPLS, LLC, ...) hides the packet from netsift's flow table.
NETSIFT_LINK_LAYERS = {"eth", "ethertype", "vlan", "ieee8021ad", "sll", "null", "raw", "loop",
                       "pppoes", "ppp"}
# IPv6 extension headers netsift walks (tshark protocol names).
IPV6_EXT = {"ipv6.hopopts", "ipv6.routing", "ipv6.fraghdr", "ipv6.dstopts", "ah"}

# netsift's flow-table defaults (include/netsift/flow.h), in nanoseconds.
TCP_IDLE_NS = 120 * 10**9
UDP_IDLE_NS = 60 * 10**9
ACTIVE_NS = 1800 * 10**9
CLOSED_NS = 10 * 10**9

TH_FIN, TH_SYN, TH_RST, TH_ACK = 0x01, 0x02, 0x04, 0x10

ROW_RE = re.compile(
    r"^(\S+)\s+<->\s+(\S+)\s+"
    r"(\d+)\s+(\d+) (bytes|kB|MB|GB|TB)\s+"
    r"(\d+)\s+(\d+) (bytes|kB|MB|GB|TB)\s+"
    r"(\d+)\s+(\d+) (bytes|kB|MB|GB|TB)\s+"
    r"(-?[\d.]+)\s+(-?[\d.]+)\s*$")

UNITS = {"kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


def format_size(n):
    """tshark 4.0's byte column: exact below 10000, else SI prefix, truncated.

    Checked against exact per-frame sums on the shared captures
    (conformance.py verifies it on every row it reads).
    """
    if n < 10000:
        return "%d bytes" % n
    for unit, div in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= 10 * div:
            return "%d %s" % (n // div, unit)
    return "%d bytes" % n


def norm_addr(s):
    """Canonical text of an IPv4 or IPv6 address."""
    return str(ipaddress.ip_address(s))


def split_endpoint(s):
    """'10.0.0.1:80' or 'fe80::1:5353' -> (addr, port)."""
    addr, port = s.rsplit(":", 1)
    return norm_addr(addr), int(port)


class Frame:
    """One frame as tshark dissected it, plus what netsift makes of it."""

    __slots__ = ("num", "flen", "caplen", "ts_ns", "protos", "f", "vlan", "ts_key")

    def __init__(self, cols):
        self.f = cols
        self.num = int(cols[IDX["frame.number"]])
        self.flen = int(cols[IDX["frame.len"]])
        self.caplen = int(cols[IDX["frame.cap_len"]])
        # a Simple Packet Block (pcapng) has no time: libpcap gives 0
        sec, _, frac = (cols[IDX["frame.time_epoch"]] or "0").partition(".")
        frac = (frac + "000000000")[:9]
        self.ts_ns = int(sec) * 10**9 + (int(frac) if not sec.startswith("-") else -int(frac))
        self.protos = cols[IDX["frame.protocols"]].split(":")
        # netsift keys on the outermost tag; tshark names an 802.1ad S-tag
        # ieee8021ad.id and 802.1Q tags vlan.id
        outer = next((p for p in self.protos if p in ("vlan", "ieee8021ad")), None)
        v = self.vals("ieee8021ad.id" if outer == "ieee8021ad" else "vlan.id")
        self.vlan = int(v[0]) if v else 0
        self.ts_key = None  # (proto, stream) tshark's conv tap counted this frame in

    def vals(self, name):
        v = self.f[IDX[name]]
        return v.split(",") if v else []

    def val(self, name, occ=0, default=None):
        v = self.vals(name)
        return v[occ] if occ < len(v) else default


def parse_tshark(text):
    """Split tshark's output into frames and conversation rows."""
    frames, rows = [], []
    proto = None
    for line in text.splitlines():
        if line.startswith("TCP Conversations"):
            proto = "tcp"
            continue
        if line.startswith("UDP Conversations"):
            proto = "udp"
            continue
        if proto is None:
            cols = line.split("\t")
            # tshark 4.0 shows pcapng Custom Blocks as frames; they are not packets
            if len(cols) >= len(FIELDS) and not cols[IDX["frame.cb_pen"]]:
                frames.append(Frame(cols))
            continue
        m = ROW_RE.match(line)
        if m:
            a, b = split_endpoint(m.group(1)), split_endpoint(m.group(2))
            rows.append({
                "proto": proto, "a": a, "b": b,
                "frames_ba": int(m.group(3)), "bytes_ba": m.group(4) + " " + m.group(5),
                "frames_ab": int(m.group(6)), "bytes_ab": m.group(7) + " " + m.group(8),
                "frames": int(m.group(9)), "bytes": m.group(10) + " " + m.group(11),
            })
    return frames, rows


def _occurrence(protos, pos, names):
    """How many layers named in `names` come before position pos."""
    return sum(1 for p in protos[:pos] if p in names)


def tshark_view(fr):
    """The conversation (proto, stream, src, dst) tshark's tap counts fr in.

    tshark's conv tap counts the first TCP or UDP layer of a frame, unless it
    sits inside an ICMP error (in_error_pkt) or the TCP header was invalid
    (no tcp.flags then: ndpi_ip_fragmented_garbage), and not the packets
    quoted by sFlow (they come after the first transport layer).
    """
    for pos, p in enumerate(fr.protos):
        if p in ("icmp", "icmpv6"):
            return None
        if p in ("tcp", "udp"):
            ip_pos = max(i for i in range(pos) if fr.protos[i] in ("ip", "ipv6"))
            fam = fr.protos[ip_pos]
            occ = _occurrence(fr.protos, ip_pos, (fam,))
            src = fr.val(fam + ".src", occ)
            dst = fr.val(fam + ".dst", occ)
            sp = fr.val(p + ".srcport")
            dp = fr.val(p + ".dstport")
            stream = fr.val(p + ".stream")
            if None in (src, dst, sp, dp, stream):
                return None
            if p == "tcp" and fr.val("tcp.flags") is None:
                return None
            return (p, int(stream), (norm_addr(src), int(sp)), (norm_addr(dst), int(dp)))
    return None


def tshark_conversations(frames):
    """Aggregate frames the way tshark's conv tap does (to check our reading)."""
    conv = {}
    for fr in frames:
        v = tshark_view(fr)
        fr.ts_key = v[:2] if v else None
        if v is None:
            continue
        key = v[:2]
        c = conv.get(key)
        if c is None:
            c = conv[key] = {"proto": v[0], "a": v[2], "b": v[3],
                             "frames_ab": 0, "bytes_ab": 0, "frames_ba": 0, "bytes_ba": 0}
        d = "ab" if v[2] == c["a"] and v[3] == c["b"] else "ba"
        c["frames_" + d] += 1
        c["bytes_" + d] += fr.flen
    return conv


class Unit:
    """What netsift's flow table is given: one packet, or one reassembled
    datagram with every frame that carried it."""

    __slots__ = ("proto", "src", "dst", "vlan", "ts_ns", "first_ns", "frames", "nbytes",
                 "flags", "fragmented")

    def __init__(self, proto, src, dst, vlan, frames, flags, fragmented):
        self.proto, self.src, self.dst, self.vlan = proto, src, dst, vlan
        self.frames = frames  # the Frame objects, completing frame last
        self.ts_ns = frames[-1].ts_ns
        self.first_ns = min(f.ts_ns for f in frames)
        self.nbytes = sum(f.flen for f in frames)
        self.flags = flags
        self.fragmented = fragmented


def netsift_view(fr, by_num):
    """(unit or None, tag or None) for frame fr.

    netsift decodes the link layers in NETSIFT_LINK_LAYERS, then the first
    IP header; its flow is keyed on the transport header right after it
    (after IPv6 extension headers). Fragments are held until their datagram
    is complete; tshark marks the completing frame with the list of frames
    (ip.fragment / ipv6.fragment) and the others with *reassembled_in.
    The tag says why tshark's conv tap and netsift treat the frame
    differently (None: no difference).
    """
    protos = fr.protos
    ip_pos = next((i for i, p in enumerate(protos) if p in ("ip", "ipv6")), None)
    if ip_pos is None:
        return None, None
    hidden = [p for p in protos[:ip_pos] if p not in NETSIFT_LINK_LAYERS]
    if hidden:
        return None, "encapsulation:" + hidden[0]
    fam = protos[ip_pos]
    pos = ip_pos + 1
    while pos < len(protos) and protos[pos] in IPV6_EXT:
        pos += 1
    l4 = protos[pos] if pos < len(protos) else None
    if fam == "ip":
        fragment = fr.val("ip.flags.mf") in ("1", "True") or fr.val("ip.frag_offset", 0, "0") != "0"
        flist, rin = fr.vals("ip.fragment"), fr.vals("ip.reassembled_in")
    else:
        fragment = "ipv6.fraghdr" in protos[ip_pos:pos]
        flist, rin = fr.vals("ipv6.fragment"), fr.vals("ipv6.reassembled.in")
    frames = [fr]
    if fragment:
        if rin and not flist:
            return None, None  # counted with the frame that completes it
        if not flist:
            return None, None  # never completed: netsift drops it too
        frames = [by_num[int(n)] for n in flist]
        frames.sort(key=lambda f: f.num)
    if l4 not in ("tcp", "udp"):
        return None, None
    sp, dp = fr.val(l4 + ".srcport"), fr.val(l4 + ".dstport")
    if sp is None or dp is None:
        return None, "transport_truncated"
    flags = 0
    if l4 == "tcp":
        fl = fr.val("tcp.flags")
        if fl is None:
            return None, "tcp_header_invalid"
        flags = int(fl, 16)
    src = (norm_addr(fr.val(fam + ".src")), int(sp))
    dst = (norm_addr(fr.val(fam + ".dst")), int(dp))
    return Unit(l4, src, dst, fr.vlan, frames, flags, len(frames) > 1), None


class Flow:
    """One flow as netsift's table must report it."""

    def __init__(self, u, reason):
        self.proto, self.vlan = u.proto, u.vlan
        if u.proto == "tcp" and u.flags & (TH_SYN | TH_ACK) == TH_SYN | TH_ACK:
            self.src, self.dst = u.dst, u.src  # picked up at the SYN+ACK: dst is its sender
        else:
            self.src, self.dst = u.src, u.dst
        self.first_ns = u.first_ns
        self.last_ns = u.ts_ns
        self.packets = [0, 0]
        self.bytes = [0, 0]
        self.fin = [False, False]
        self.rst = False
        self.fragmented = False
        self.start_reason = reason  # why it is not the first flow of its key
        self.frames = []

    def closed(self):
        return self.rst or (self.fin[0] and self.fin[1])

    def add(self, u):
        d = 0 if u.src == self.src and u.dst == self.dst else 1
        self.packets[d] += len(u.frames)
        self.bytes[d] += u.nbytes
        self.last_ns = max(self.last_ns, u.ts_ns)
        self.fragmented |= u.fragmented
        self.frames.extend(u.frames)
        if u.flags & TH_FIN:
            self.fin[d] = True
        if u.flags & TH_RST:
            self.rst = True


def split_reason(cur, u, now_ns):
    """Why netsift's table ends flow cur before unit u, or None.

    Timeouts run on capture time: the newest timestamp read so far (now_ns,
    u's own included), so a packet older than that (a file out of time
    order, a pcapng Simple Packet Block without time: 0) finds its flow
    already ended when the clock has moved on past the timeout.
    """
    gap = max(u.ts_ns, now_ns) - cur.last_ns
    idle = TCP_IDLE_NS if u.proto == "tcp" else UDP_IDLE_NS
    if gap > idle:
        return "idle_timeout"
    if cur.closed() and gap > CLOSED_NS:
        return "closed_timeout"
    if max(u.ts_ns, now_ns) - cur.first_ns >= ACTIVE_NS:
        return "active_timeout"
    if u.proto == "tcp" and u.flags & (TH_SYN | TH_ACK) == TH_SYN and cur.closed():
        return "tcp_reused"
    return None


def netsift_flows(frames):
    """The TCP and UDP flows netsift must print, and frame tags (num -> tag)."""
    by_num = {f.num: f for f in frames}
    flows, current, tags = [], {}, {}
    now_ns = None
    for fr in frames:
        now_ns = fr.ts_ns if now_ns is None else max(now_ns, fr.ts_ns)
        u, tag = netsift_view(fr, by_num)
        if tag:
            tags[fr.num] = tag
        if u is None:
            continue
        key = (u.proto, frozenset((u.src, u.dst)), u.vlan)
        cur = current.get(key)
        reason = split_reason(cur, u, now_ns) if cur else None
        if cur is None or reason:
            cur = current[key] = Flow(u, reason)
            flows.append(cur)
        cur.add(u)
    return flows, tags
