#!/usr/bin/env python3
"""e2e_util.py - small checks the end-to-end shell tests share.

usage: e2e_util.py COMMAND ARGS...
  flows OUT [-x KEY]...     the flow records of a JSON Lines output, one
                            canonical line each (sorted keys), sorted;
                            -x leaves KEY out
  truth TRUTH OUT           netsift's flows equal the truth file's on every
                            field the truth has (as multisets); prints the
                            differences and exits 1 when they differ
  stat OUT KEY              a top-level value of the "stats" record
  protos OUT                the distinct "proto" values of the flows
  records PCAP              number of records in a classic pcap file
  offsets PCAP              byte offset of each record header, one a line
  prefix PCAP N DEST        DEST = the global header and the first N records
  csv FILE NFLOWS           one header line, every line the same number of
                            columns, NFLOWS data lines
  table FILE NFLOWS         an aligned table: a header of column names, then
                            NFLOWS rows, each column separated from the next
                            by a strip of blanks in every line

Classic pcap layout (https://www.tcpdump.org/manpages/pcap-savefile.5.html):

  global header, 24 bytes            record header, 16 bytes
  +-------+-----+-----+------+       +--------+---------+--------+---------+
  | magic | maj | min | ...  |       | ts_sec | ts_frac | caplen | origlen |
  +-------+-----+-----+------+       +--------+---------+--------+---------+
  magic a1b2c3d4 (us) or a1b23c4d (ns), either byte order; then caplen bytes.
"""

import csv
import json
import struct
import sys


def load(path):
    out = []
    with open(path) as fp:
        for n, line in enumerate(fp, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                sys.exit("%s:%d: not JSON: %r" % (path, n, line[:100]))
    return out


def flows_of(path):
    return [r for r in load(path) if r.get("type") == "flow"]


def canon(rec, keys=None):
    if keys is not None:
        rec = {k: rec.get(k) for k in keys}
    return json.dumps(rec, sort_keys=True, separators=(",", ":"))


def pcap_records(path):
    with open(path, "rb") as fp:
        data = fp.read()
    if len(data) < 24:
        sys.exit("%s: shorter than a pcap header" % path)
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        sys.exit("%s: not a classic pcap file" % path)
    offs, pos = [], 24
    while pos + 16 <= len(data):
        caplen = struct.unpack(end + "I", data[pos + 8:pos + 12])[0]
        if pos + 16 + caplen > len(data):
            break
        offs.append((pos, 16 + caplen))
        pos += 16 + caplen
    return data, offs


def cmd_truth(truth_path, out_path):
    truth = flows_of(truth_path)
    got = flows_of(out_path)
    if not truth:
        sys.exit("%s: no flows in the truth file" % truth_path)
    # "kind" (which generator made the flow) has no counterpart in a flow
    # record; "ip_version" is the family of the addresses
    keys = sorted(set().union(*(t.keys() for t in truth)) - {"kind"})
    for g in got:
        if "ip_version" not in g and "src_addr" in g:
            g["ip_version"] = 6 if ":" in str(g["src_addr"]) else 4
    want = {}
    for t in truth:
        c = canon(t, keys)
        want[c] = want.get(c, 0) + 1
    have = {}
    for g in got:
        c = canon(g, keys)
        have[c] = have.get(c, 0) + 1
    missing = [(c, n - have.get(c, 0)) for c, n in sorted(want.items()) if n > have.get(c, 0)]
    extra = [(c, n - want.get(c, 0)) for c, n in sorted(have.items()) if n > want.get(c, 0)]
    for c, n in missing[:15]:
        print("missing (x%d): %s" % (n, c))
    for c, n in extra[:15]:
        print("unexpected (x%d): %s" % (n, c))
    print("truth: %d flows, netsift: %d flows, compared on %s; %d missing, %d unexpected" % (
        len(truth), len(got), ",".join(keys), sum(n for _, n in missing), sum(n for _, n in extra)))
    return 1 if missing or extra else 0


def cmd_csv(path, nflows):
    with open(path, newline="") as fp:
        rows = list(csv.reader(fp))
    if not rows:
        print("%s: empty" % path)
        return 1
    head = rows[0]
    bad = [i for i, r in enumerate(rows) if len(r) != len(head)]
    heads = [i for i, r in enumerate(rows[1:], 1) if r == head]
    ok = True
    if bad:
        print("%s: lines %s have a column count other than the header's %d" % (
            path, [b + 1 for b in bad[:5]], len(head)))
        ok = False
    if heads:
        print("%s: header repeated on lines %s" % (path, [h + 1 for h in heads[:5]]))
        ok = False
    if len(rows) - 1 != nflows:
        print("%s: %d data lines, want %d" % (path, len(rows) - 1, nflows))
        ok = False
    if not all(c and c.replace("_", "").isalnum() for c in head):
        print("%s: odd header %r" % (path, head))
        ok = False
    return 0 if ok else 1


def cmd_table(path, nflows):
    with open(path) as fp:
        lines = [l.rstrip("\n") for l in fp if l.strip()]
    if not lines:
        print("%s: empty" % path)
        return 1
    head = lines[0]
    names = head.split()
    if len(names) < 5 or not all(n.upper() == n for n in names):
        print("%s: the first line is not a header of column names: %r" % (path, head))
        return 1
    # spans of the header's names; between two neighbours there must be a
    # position that is blank in every line
    spans, pos = [], 0
    for n in names:
        s = head.index(n, pos)
        spans.append((s, s + len(n)))
        pos = s + len(n)
    width = max(len(l) for l in lines)
    padded = [l.ljust(width) for l in lines]
    for (s0, e0), (s1, _), n0, n1 in zip(spans, spans[1:], names, names[1:]):
        lo = min(e0, s1)
        gutter = [c for c in range(lo, s1) if all(l[c] == " " for l in padded)]
        if not gutter:
            print("%s: no blank strip between columns %s and %s in every line" % (path, n0, n1))
            return 1
    if len(lines) - 1 != nflows:
        print("%s: %d rows, want %d" % (path, len(lines) - 1, nflows))
        return 1
    return 0


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "flows":
        drop = {args[i + 1] for i in range(1, len(args) - 1) if args[i] == "-x"}
        recs = [{k: v for k, v in r.items() if k not in drop} for r in flows_of(args[0])]
        for c in sorted(canon(r) for r in recs):
            print(c)
    elif cmd == "truth":
        return cmd_truth(args[0], args[1])
    elif cmd == "stat":
        st = [r for r in load(args[0]) if r.get("type") == "stats"]
        if len(st) != 1:
            sys.exit("%s: %d stats records, want 1" % (args[0], len(st)))
        print(st[0].get(args[1]))
    elif cmd == "protos":
        print(" ".join(sorted({r.get("proto") for r in flows_of(args[0])})))
    elif cmd == "records":
        print(len(pcap_records(args[0])[1]))
    elif cmd == "offsets":
        for off, _ in pcap_records(args[0])[1]:
            print(off)
    elif cmd == "prefix":
        data, offs = pcap_records(args[0])
        n = int(args[1])
        end = offs[n - 1][0] + offs[n - 1][1] if n > 0 else 24
        with open(args[2], "wb") as fp:
            fp.write(data[:end])
    elif cmd == "csv":
        return cmd_csv(args[0], int(args[1]))
    elif cmd == "table":
        return cmd_table(args[0], int(args[1]))
    else:
        sys.exit("unknown command %r" % cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
