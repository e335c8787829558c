#!/usr/bin/env python3
"""streams_truth.py - check `netsift streams -o DIR --report-json J` against
the capture itself (standard library only).

    streams_truth.py CAPTURE DIR REPORT.json

  - every stream file equals the independent rebuild of streams_pcap.py
    (segments ordered by sequence number, first bytes win, holes as zeros):
    for synth captures with fragments, reordering and retransmissions, the
    bytes the generator sent;
  - every stream the rebuild finds has a file of that name;
  - every JSON "stream" record names an existing file whose size, MD5 and
    SHA-256 it gives, and report.xml lists every file with the same digests.

Prints "ok <n> files" or one "FAIL ..." line per problem (exit status 1).
"""
import hashlib
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import streams_pcap  # noqa: E402


def main():
    cap, d, rep = sys.argv[1:4]
    truth, _trailers, _frag = streams_pcap.streams(cap)
    fails = []
    names = set()
    for root, _dirs, files in os.walk(d):
        for n in files:
            rel = os.path.relpath(os.path.join(root, n), d)
            if rel != "report.xml" and "-HTTP" not in rel:
                names.add(rel)
    for n in sorted(names):
        with open(os.path.join(d, n), "rb") as f:
            b = f.read()
        st = truth.get(n)
        if st is None:
            fails.append("FAIL %s: no such stream in the capture" % n)
        elif st.holes == 0 and b != st.data:
            fails.append("FAIL %s: %d bytes differ from the %d rebuilt" % (n, len(b), len(st.data)))
    for n, st in truth.items():
        if n not in names and st.holes == 0:
            fails.append("FAIL %s: %d bytes in the capture, no file" % (n, len(st.data)))
    with open(os.path.join(d, "report.xml"), encoding="utf-8") as f:
        xml = f.read()
    recs = 0
    with open(rep, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("type") != "stream":
                continue
            recs += 1
            if r.get("schema") != 1 or r.get("file") is None:
                fails.append("FAIL record without schema 1 or file: %s" % line.strip())
                continue
            p = os.path.join(d, r["file"])
            with open(p, "rb") as fh:
                b = fh.read()
            if r["bytes"] != len(b) or r["sha256"] != hashlib.sha256(b).hexdigest() or \
                    r["md5"] != hashlib.md5(b).hexdigest():
                fails.append("FAIL %s: the JSON record's size or digests are wrong" % r["file"])
            pat = r"<filename>%s</filename>\s*<filesize>%d</filesize>\s*<tcpflow [^>]*/>\s*" \
                r"<hashdigest type='MD5'>%s</hashdigest>\s*<hashdigest type='SHA256'>%s<" % (
                    re.escape(p), len(b), r["md5"], r["sha256"])
            if not re.search(pat, xml):
                fails.append("FAIL %s: not in report.xml with its size and digests" % r["file"])
    if recs != len(names):
        fails.append("FAIL %d stream records for %d files" % (recs, len(names)))
    for x in fails:
        print(x)
    if not fails:
        print("ok %d files" % len(names))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
