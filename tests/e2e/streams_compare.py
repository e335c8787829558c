#!/usr/bin/env python3
"""streams_compare.py - compare `tcpflow -o A` with `netsift streams -o B` for
one capture, and classify every difference (tests/e2e/STREAMS-CONFORMANCE.md).

    streams_compare.py [--http] [--tcpflow-rc N] [--max-gap BYTES] A B CAPTURE

Each file name in either directory is "same" (byte-identical) or gets a
reason class, computed from evidence rather than from a list of names:

  tcpflow-eth-padding  tcpflow's file is netsift's plus 1..46 zero bytes, or
                       a tcpflow-only file of at most 46 zero bytes: tcpflow
                       writes the Ethernet trailer of padded frames (pure
                       ACKs, a FIN after close) as stream bytes
  ip-fragments         the stream had IP fragments: tcpflow cannot reassemble
                       them; netsift's file equals the independent rebuild
  overlap-policy       segments overlapped with different bytes: netsift
                       keeps the first bytes (its documented policy)
  gap                  the stream has holes: netsift writes zeros up to
                       --max-gap and splits beyond, tcpflow zero-fills all
  tcpflow-missed       tcpflow wrote nothing for a stream that netsift wrote
                       and that the independent rebuild (streams_pcap.py)
                       confirms byte for byte (link types or encapsulations
                       tcpflow does not decode, e.g. PPPoE, SLL2)
  tcpflow-aborted      tcpflow exited with an error on this capture
  tcpflow-qinq-name    802.1ad double-tagged frames: tcpflow's name has no
                       VLAN, netsift's has the outer VLAN ID (its flow key)
  tcpflow-after-close  a tcpflow-only cN file of a few bytes sent after that
                       side's FIN (keep-alive probes): tcpflow starts a new
                       connection, netsift counts them as retransmissions
  midstream-before-first  a connection picked up without SYN whose first
                       segment seen is not its lowest: netsift starts at the
                       first segment seen (tcp.h), tcpflow places the
                       earlier bytes before it

With --http the HTTPBODY files are compared instead: tcpflow's body is
dechunked and gunzipped, then compared with netsift's bodies of the same
direction run together (tcpflow writes keep-alive bodies into one file);
classes: same, http-keepalive-runtogether (equal after joining),
tcpflow-raw-coding (equal after removing chunking / gzip), gap (the stream
has holes: netsift ends a message cut in its headers as incomplete, tcpflow
parses the zeros), tcpflow-eth-padding (tcpflow's stream has frame padding
in it), http-space-before-colon (a header "Name : value", which RFC 9112
section 5.1 forbids: netsift's parser rejects the message, tcpflow's
accepts it).

Output: one line per file "<class> <name>"; unexplained differences are
printed as "FAIL <name> <why>" and make the exit status 1.
"""
import os
import re
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import streams_pcap  # noqa: E402

PAD_MAX = 46  # the most padding an Ethernet frame gets (60-byte minimum)


def files(d):
    out = {}
    for root, _dirs, names in os.walk(d):
        for n in names:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, d)
            if rel in ("report.xml", "report.pdf"):
                continue
            out[rel] = p
    return out


def read(p):
    with open(p, "rb") as f:
        return f.read()


def dechunk(b):
    """Remove HTTP/1.1 chunked framing (RFC 9112 section 7.1) if b has it."""
    out = bytearray()
    i = 0
    while True:
        j = b.find(b"\r\n", i)
        if j < 0:
            return None
        m = re.match(rb"([0-9a-fA-F]+)", b[i:j])
        if not m:
            return None
        n = int(m.group(1), 16)
        if n == 0:
            return bytes(out)
        out += b[j + 2:j + 2 + n]
        i = j + 2 + n + 2


def decodings(b):
    """The body as tcpflow wrote it, dechunked, gunzipped / inflated, both."""
    cands = [b]
    d = dechunk(b)
    if d is not None:
        cands.append(d)
    out = list(cands)
    for c in cands:
        for wbits in (31, 15, -15):
            try:
                out.append(zlib.decompressobj(wbits).decompress(c))
            except zlib.error:
                pass
    return out


def main():
    args = sys.argv[1:]
    http = False
    tf_rc = 0
    max_gap = 1 << 20
    while args and args[0].startswith("--"):
        a = args.pop(0)
        if a == "--http":
            http = True
        elif a == "--tcpflow-rc":
            tf_rc = int(args.pop(0))
        elif a == "--max-gap":
            max_gap = int(args.pop(0))
    tf_dir, ns_dir, cap = args
    tf = files(tf_dir)
    ns = files(ns_dir)
    fails = 0
    if http:
        fails = compare_http(tf, ns, cap)
        return 1 if fails else 0
    truth, trailers, fragmented = streams_pcap.streams(cap)
    tf = {k: v for k, v in tf.items() if "-HTTP" not in k}
    ns = {k: v for k, v in ns.items() if "-HTTP" not in k}
    for name in sorted(set(tf) | set(ns)):
        t = read(tf[name]) if name in tf else None
        n = read(ns[name]) if name in ns else None
        base = re.sub(r"c\d+$", "", name)
        ev = truth.get(name)
        pads = trailers.get(base, set())
        cls = classify(name, base, t, n, ev, pads, tf, ns, tf_rc, max_gap, truth)
        if cls is None and base in fragmented and (n is None or ev is not None and n == ev.data):
            cls = "ip-fragments"
        if cls is None:
            why = "missing in netsift" if n is None else \
                "missing in tcpflow" if t is None else \
                "differs (tcpflow %d bytes, netsift %d)" % (len(t), len(n))
            print("FAIL", name, why)
            fails += 1
        else:
            print(cls, name)
    return 1 if fails else 0


def is_padding(x, pads):
    """x is the link-layer trailer of some frame of that 4-tuple."""
    return bool(x) and len(x) <= PAD_MAX and any(p.startswith(x) for p in pads)


def padding_diff(t, n, pads):
    """t is n with some runs of bytes replaced or followed by frame trailers."""
    if len(t) < len(n) or not pads:
        return False
    runs = []
    i = 0
    while i < len(n):
        if t[i] != n[i]:
            j = i
            while j < len(n) and t[j] != n[j]:
                j += 1
            runs.append(t[i:j])
            i = j
        else:
            i += 1
    if len(t) > len(n):
        runs.append(t[len(n):])
    blob = b"|".join(pads)
    return bool(runs) and all(len(r) <= PAD_MAX and r in blob for r in runs)


def trailers_of(truth, name):
    st = truth.get(name)
    return st.trailers if st is not None else set()


def classify(name, base, t, n, ev, pads, tf, ns, tf_rc, max_gap, truth):
    if t == n:
        return "same"
    bev = truth.get(base)
    if ev is None and n is not None and bev is not None and bev.holes > max_gap:
        return "gap"  # netsift's part after a split (cN): tcpflow zero-filled instead
    if ev is None and n is None and bev is not None and bev.after_fin > 0 and t is not None \
            and len(t) <= PAD_MAX:
        return "tcpflow-after-close"
    # netsift must agree with the independent rebuild, whatever tcpflow did
    # (a RST closes only its sender's direction, so the peer's bytes after
    # it are in both: a stream cut at a RST is a failure)
    if n is not None and ev is not None and n != ev.data and ev.holes == 0:
        return None
    if ev is not None and ev.fragmented:
        return "ip-fragments"
    if ev is not None and ev.conflicts > 0:
        return "overlap-policy"
    if t is not None and n is not None and padding_diff(t, n, pads):
        return "tcpflow-eth-padding"
    if n is None and t is not None and is_padding(t, pads):
        return "tcpflow-eth-padding"
    if n is None and t is not None and name != base:
        # tcpflow's cN holds what netsift has under another counter because a
        # padding-only file took the name before it
        for k in ns:
            if k == base or re.fullmatch(re.escape(base) + r"c\d+", k):
                if read(ns[k]) == t and (base not in tf or is_padding(read(tf[base]), pads)):
                    return "tcpflow-eth-padding"
    if t is not None and n is not None and is_padding(t, pads) and name + "c1" in tf and \
            read(tf[name + "c1"]) == n:
        return "tcpflow-eth-padding"
    if n is None and t is not None:
        # 802.1ad (QinQ): tcpflow names the stream without its VLAN, netsift
        # with the outer VLAN ID (its flow key)
        for k in ns:
            if re.fullmatch(re.escape(name) + r"--\d+", k):
                mine = read(ns[k])
                if mine == t or padding_diff(t, mine, trailers_of(truth, k)):
                    return "tcpflow-qinq-name"
    if ev is not None and ev.holes > 0:
        # netsift zero-fills up to max_gap and splits beyond: its bytes are in the rebuild
        return "gap" if n is None or n in ev.data else None
    if ev is not None and ev.before > 0 and n == ev.data:
        return "midstream-before-first"
    if t is None and n is not None and ev is not None and n == ev.data:
        return "tcpflow-aborted" if tf_rc != 0 else "tcpflow-missed"
    if t is None and tf_rc != 0:
        return "tcpflow-aborted"
    return None


def compare_http(tf, ns, cap):
    fails = 0
    truth, trailers, _frag = streams_pcap.streams(cap)
    for name in sorted(k for k in tf if "-HTTPBODY-" in k):
        t = read(tf[name])
        stem, rest = name.split("-HTTPBODY-", 1)
        num = rest.split(".", 1)[0]
        mstem = stem
        if stem not in ns and re.search(r"c\d+$", stem):
            mstem = re.sub(r"c\d+$", "", stem)  # tcpflow's name was pushed by a padding file

        def num_of(k):
            return int(k.split("-HTTPBODY-", 1)[1].split(".", 1)[0])

        mine = sorted((k for k in ns if k.startswith(mstem + "-HTTPBODY-")), key=num_of)
        first = [k for k in mine if num_of(k) == int(num)]
        ev = truth.get(mstem)
        raw_t = read(tf[stem]) if stem in tf else None
        raw_n = read(ns[mstem]) if mstem in ns else None
        lenient = raw_t is not None and re.search(rb"\r\n[!#-'*+.0-9A-Z^_`a-z|~-]+[ \t]+:", raw_t)
        padded = raw_t is not None and raw_n is not None and raw_t != raw_n and \
            padding_diff(raw_t, raw_n, trailers.get(mstem, set()))
        if not first:
            if ev is not None and ev.holes > 0:
                print("gap", name)
            elif lenient:
                print("http-space-before-colon", name)
            else:
                print("FAIL", name, "no netsift body for this message")
                fails += 1
            continue
        own = read(ns[first[0]])
        joined = b"".join(read(ns[k]) for k in mine if num_of(k) >= int(num))
        dec = decodings(t)
        if t == own:
            print("same", name)
        elif own in dec:
            print("tcpflow-raw-coding", name)
        elif any(x and x.startswith(own) and joined.startswith(x) for x in dec):
            print("http-keepalive-runtogether", name)
        elif padded:
            print("tcpflow-eth-padding", name)
        elif ev is not None and ev.holes > 0:
            print("gap", name)
        elif lenient:
            print("http-space-before-colon", name)
        else:
            print("FAIL", name, "body differs (tcpflow %d bytes, netsift %d)" % (len(t), len(own)))
            fails += 1
    return fails


if __name__ == "__main__":
    sys.exit(main())
