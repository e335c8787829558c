#!/usr/bin/env python3
"""streams_pcap.py - an independent, tiny TCP stream rebuilder for the tests
of `netsift streams` (standard library only).

It reads pcap and pcapng (RFC-draft pcapng: SHB, IDB, EPB, SPB), decodes
Ethernet / 802.1Q / QinQ, Linux SLL and SLL2, raw IP and BSD loopback, IPv4
(RFC 791, fragments reassembled here) and IPv6 (RFC 8200, fragment header
reassembled here), and TCP (RFC 9293). Each direction's stream is rebuilt by
ordering segments by sequence number relative to the SYN's ISN + 1 (or the
first segment seen), first bytes win on overlap, holes are noted.

It is deliberately written apart from netsift's C code, so that the two can
check each other. Used as a module by streams_compare.py and as a command:

    streams_pcap.py FILE           one line per direction: name, bytes, sha256,
                                   holes, conflicts, fragmented, bytes before
                                   the first one
"""
import hashlib
import struct
import sys


def read_frames(path):
    """Yield (linktype, ts_ns, frame bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        if len(data) < 24:
            return
        link = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
        off = 24
        while off + 16 <= len(data):
            sec, frac, incl, _orig = struct.unpack(e + "IIII", data[off:off + 16])
            off += 16
            if off + incl > len(data):
                return
            ts = sec * 10**9 + (frac if nano else frac * 1000)
            yield link, ts, data[off:off + incl]
            off += incl
        return
    if magic == b"\x0a\x0d\x0d\x0a":
        off = 0
        e = "<"
        links = []
        while off + 12 <= len(data):
            btype = data[off:off + 4]
            if btype == b"\x0a\x0d\x0d\x0a":
                bom = data[off + 8:off + 12]
                e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
                links = []
            btype_v, blen = struct.unpack(e + "II", data[off:off + 8])
            if blen < 12 or off + blen > len(data):
                return
            body = data[off + 8:off + blen - 4]
            if btype_v == 1 and len(body) >= 8:
                links.append((struct.unpack(e + "H", body[:2])[0], 6))
                # if_tsresol option
                o = 8
                while o + 4 <= len(body):
                    code, ln = struct.unpack(e + "HH", body[o:o + 4])
                    if code == 0:
                        break
                    if code == 9 and ln >= 1:
                        r = body[o + 4]
                        links[-1] = (links[-1][0], r)
                    o += 4 + ((ln + 3) & ~3)
            elif btype_v == 6 and len(body) >= 20:
                iface, hi, lo, cap, _orig = struct.unpack(e + "IIIII", body[:20])
                if iface < len(links):
                    link, res = links[iface]
                    t = (hi << 32) | lo
                    if res & 0x80:
                        ts = t * 10**9 // (2 ** (res & 0x7F))
                    else:
                        ts = t * 10**9 // (10 ** res)
                    yield link, ts, body[20:20 + cap]
            elif btype_v == 3 and len(body) >= 4 and links:
                yield links[0][0], 0, body[4:]
            off += blen
        return


def ip_of(link, fr):
    """(vlan, ip bytes) or None."""
    vlan = 0
    if link == 1:
        if len(fr) < 14:
            return None
        et = struct.unpack(">H", fr[12:14])[0]
        off = 14
        while et in (0x8100, 0x88A8, 0x9100) and len(fr) >= off + 4:
            if vlan == 0:
                vlan = struct.unpack(">H", fr[off:off + 2])[0] & 0x0FFF
            et = struct.unpack(">H", fr[off + 2:off + 4])[0]
            off += 4
        if et == 0x8864 and len(fr) >= off + 8:
            # PPPoE session (RFC 2516) carrying PPP (RFC 1661): IPv4 0x0021, IPv6 0x0057
            ppp = struct.unpack(">H", fr[off + 6:off + 8])[0]
            et = {0x0021: 0x0800, 0x0057: 0x86DD}.get(ppp, 0)
            off += 8
        if et not in (0x0800, 0x86DD):
            return None
        return vlan, fr[off:]
    if link == 113:
        if len(fr) < 16 or struct.unpack(">H", fr[14:16])[0] not in (0x0800, 0x86DD):
            return None
        return 0, fr[16:]
    if link == 276:
        if len(fr) < 20 or struct.unpack(">H", fr[0:2])[0] not in (0x0800, 0x86DD):
            return None
        return 0, fr[20:]
    if link in (101, 12, 14, 228, 229):
        return 0, fr
    if link in (0, 108):
        return (0, fr[4:]) if len(fr) > 4 else None
    return None


class Dir:
    def __init__(self):
        self.isn = None      # seq of the first stream byte
        self.segs = {}       # offset -> bytes
        self.conflicts = 0
        self.fragmented = False
        self.syn = False
        self.before = 0         # payload bytes seen before the stream's first byte
        self.trailers = set()   # link-layer bytes after the IP datagram (Ethernet padding)
        self.fin = False
        self.after_fin = 0      # payload bytes in segments sent after this side's FIN
        self.rst_end = None     # stream end when the first RST of the connection was seen

    def end(self):
        return max((o + len(p) for o, p in self.segs.items()), default=0)

    def add(self, seq, flags, payload):
        if self.fin and payload:
            self.after_fin += len(payload)
        if flags & 0x01:
            self.fin = True
        if flags & 0x02:
            if self.isn is None or not self.syn:
                self.isn = (seq + 1) & 0xFFFFFFFF
                self.syn = True
            seq = (seq + 1) & 0xFFFFFFFF
        if not payload:
            return
        if self.isn is None:
            self.isn = seq
        off = (seq - self.isn) & 0xFFFFFFFF
        if off >= 0x80000000:
            self.before += len(payload)
            return  # before the start
        prev = self.segs.get(off)
        if prev is None or len(payload) > len(prev):
            if prev is not None and payload[:len(prev)] != prev:
                self.conflicts += 1
            self.segs[off] = payload if prev is None else prev + payload[len(prev):]

    def stream(self):
        """(bytes, holes): first bytes win; holes filled with zeros and counted."""
        out = bytearray()
        holes = 0
        for off in sorted(self.segs):
            p = self.segs[off]
            if off > len(out):
                holes += off - len(out)
                out += b"\0" * (off - len(out))
            elif off < len(out):
                ov = out[off:off + len(p)]
                if bytes(ov) != p[:len(ov)]:
                    self.conflicts += 1
                p = p[len(out) - off:]
            out += p
        return bytes(out), holes


def fmt_addr(a):
    if len(a) == 4:
        return ".".join("%03d" % b for b in a)
    import ipaddress
    return str(ipaddress.IPv6Address(a))


def rebuild(path):
    """{(src, sport, dst, dport, vlan): [Dir, ...]} (one per connection on
    that 4-tuple), plus the set of keys with fragments."""
    dirs = {}
    frags = {}
    fragkeys = set()
    for link, _ts, fr in read_frames(path):
        r = ip_of(link, fr)
        if r is None:
            continue
        vlan, ip = r
        if len(ip) < 20:
            continue
        ver = ip[0] >> 4
        fragged = False
        trailer = b""
        if ver == 4:
            ihl = (ip[0] & 15) * 4
            tot = struct.unpack(">H", ip[2:4])[0]
            if ihl < 20 or tot < ihl:
                continue
            if tot > 0:
                trailer = ip[tot:]
                ip = ip[:tot]
            proto = ip[9]
            src, dst = ip[12:16], ip[16:20]
            fo = struct.unpack(">H", ip[6:8])[0]
            mf, off = fo & 0x2000, (fo & 0x1FFF) * 8
            body = ip[ihl:]
            if mf or off:
                if off == 0 and proto == 6 and len(body) >= 4:
                    sp, dp = struct.unpack(">HH", body[:4])
                    fragkeys.add((fmt_addr(src), sp, fmt_addr(dst), dp, vlan))
                k = (src, dst, proto, ip[4:6], vlan)
                fl = frags.setdefault(k, {})
                fl[off] = (body, bool(mf))
                whole = reassemble(fl)
                if whole is None:
                    continue
                del frags[k]
                body = whole
                fragged = True
        elif ver == 6:
            if len(ip) < 40:
                continue
            proto = ip[6]
            src, dst = ip[8:24], ip[24:40]
            plen = struct.unpack(">H", ip[4:6])[0]
            body = ip[40:40 + plen] if plen else ip[40:]
            trailer = ip[40 + plen:] if plen else b""
            hops = 0
            while proto in (0, 43, 60, 44) and len(body) >= 8 and hops < 8:
                hops += 1
                if proto == 44:
                    nxt = body[0]
                    fo = struct.unpack(">H", body[2:4])[0]
                    k = (src, dst, nxt, body[4:8], vlan)
                    fl = frags.setdefault(k, {})
                    fl[fo & 0xFFF8] = (body[8:], bool(fo & 1))
                    whole = reassemble(fl)
                    if whole is None:
                        body = None
                        break
                    del frags[k]
                    body, proto, fragged = whole, nxt, True
                    break
                nxt = body[0]
                ln = (body[1] + 1) * 8
                body, proto = body[ln:], nxt
            if body is None:
                continue
        else:
            continue
        if proto != 6 or len(body) < 20:
            continue
        sport, dport, seq = struct.unpack(">HHI", body[:8])
        doff = (body[12] >> 4) * 4
        flags = body[13]
        if doff < 20 or doff > len(body):
            continue
        key = (fmt_addr(src), sport, fmt_addr(dst), dport, vlan)
        lst = dirs.setdefault(key, [Dir()])
        d = lst[-1]
        if flags & 0x02 and d.syn and d.segs and not flags & 0x10:
            d = Dir()  # a new connection on the same 4-tuple
            lst.append(d)
        elif flags & 0x02 and flags & 0x10 and d.syn and d.segs:
            d = Dir()
            lst.append(d)
        if trailer:
            d.trailers.add(bytes(trailer))
        if flags & 0x04:
            rev = dirs.get((key[2], key[3], key[0], key[1], key[4]))
            for x in [d] + ([rev[-1]] if rev else []):
                if x.rst_end is None:
                    x.rst_end = x.end()
        if fragged:
            d.fragmented = True
            fragkeys.add(key)
        d.add(seq, flags, body[doff:])
    return dirs, fragkeys


def reassemble(fl):
    offs = sorted(fl)
    if not offs or offs[0] != 0:
        return None
    out = bytearray()
    last = False
    for o in offs:
        b, more = fl[o]
        if o > len(out):
            return None
        out[o:o + len(b)] = b
        if not more:
            last = True
    return bytes(out) if last else None


def name_of(key):
    src, sport, dst, dport, vlan = key
    n = "%s.%05d-%s.%05d" % (src, sport, dst, dport)
    if vlan:
        n += "--%d" % vlan
    return n


class Stream:
    """One direction of one connection as rebuilt here."""

    def __init__(self, d):
        self.data, self.holes = d.stream()
        self.conflicts = d.conflicts
        self.fragmented = d.fragmented
        self.before = d.before
        self.trailers = d.trailers
        self.after_fin = d.after_fin
        self.rst_end = d.rst_end


def streams(path):
    """({name: Stream} named as tcpflow would name them (repeated connections
    get c1, c2, ... in order), {base name: set of trailers of that 4-tuple},
    {base names of 4-tuples that had IPv4 fragments, complete or not})."""
    dirs, fragkeys = rebuild(path)
    out = {}
    trailers = {name_of(k): set() for k in fragkeys}
    fragmented = {name_of(k) for k in fragkeys}
    for key, lst in dirs.items():
        n = 0
        base = name_of(key)
        trailers[base] = set()
        for d in lst:
            trailers[base] |= d.trailers
            st = Stream(d)
            if not st.data:
                continue
            out[base + ("c%d" % n if n else "")] = st
            n += 1
    return out, trailers, fragmented


def main():
    s, _, _ = streams(sys.argv[1])
    for name in sorted(s):
        st = s[name]
        print(name, len(st.data), hashlib.sha256(st.data).hexdigest(), st.holes, st.conflicts,
              int(st.fragmented), st.before)


if __name__ == "__main__":
    main()
