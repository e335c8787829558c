#!/usr/bin/env python3
"""p0f_compare.py - compare p0f 3.09b's log with netsift's p0f events.

Usage: p0f_compare.py DIR
  DIR holds, per capture NAME: NAME.log (p0f -o) and NAME.ours (the output of
  test_analyze_p0f_conf --dump). Events are SYN and SYN+ACK fingerprints
  (mod=syn, mod=syn+ack) and the MTU lines that follow them (mod=mtu).

An event is keyed by (mod, cli, srv) and paired in order of appearance with
the event of the same key on the other side. Printed (one "key value" line
each): p0f events, label agreements, raw_sig agreements, dist agreements,
mtu events and agreements, events only p0f has, events only netsift has;
then a line per disagreement, "DIFF <capture> <field> p0f=<..> ours=<..>".
Standard library only.
"""
import collections
import os
import re
import sys

LOG_RE = re.compile(r"^\[[^\]]*\] (.*)$")


def parse_fields(line):
    fields = {}
    parts = line.split("|")
    for part in parts:
        if "=" in part:
            k, v = part.split("=", 1)
            fields[k] = v
    return fields


def p0f_events(path):
    """p0f log -> list of (mod, fields)."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = LOG_RE.match(line.rstrip("\n"))
            if not m:
                continue
            fields = parse_fields(m.group(1))
            mod = fields.get("mod")
            if mod not in ("syn", "syn+ack", "mtu"):
                continue
            if mod != "mtu":
                fields["os"] = fields.get("os", fields.get("app", "???"))
            else:
                fields["mod"] = "mtu-" + fields.get("subj", "")
            out.append((fields["mod"], fields))
    return out


def our_events(path):
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            mod, _, rest = line.partition("|")
            fields = parse_fields(rest)
            if mod == "mtu":
                mod = "mtu-" + fields.get("subj", "")
            fields["mod"] = mod
            out.append((mod, fields))
    return out


def group(events):
    g = collections.OrderedDict()
    for mod, fields in events:
        g.setdefault((mod, fields.get("cli"), fields.get("srv")), []).append(fields)
    return g


def main():
    d = sys.argv[1]
    n = collections.Counter()
    diffs = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".log"):
            continue
        base = name[:-4]
        ours_path = os.path.join(d, base + ".ours")
        if not os.path.exists(ours_path):
            continue
        theirs = group(p0f_events(os.path.join(d, name)))
        ours = group(our_events(ours_path))
        for key, tlist in theirs.items():
            olist = ours.get(key, [])
            mtu = key[0].startswith("mtu")
            for i, t in enumerate(tlist):
                kind = "mtu" if mtu else "tcp"
                n[kind + "_p0f"] += 1
                if i >= len(olist):
                    n[kind + "_only_p0f"] += 1
                    diffs.append("DIFF %s %s %s missing p0f=%s" % (base, key[0], key[1], t))
                    continue
                o = olist[i]
                if mtu:
                    if t.get("link") == o.get("link") and t.get("raw_mtu") == o.get("raw_mtu"):
                        n["mtu_same"] += 1
                    else:
                        diffs.append("DIFF %s mtu p0f=%s/%s ours=%s/%s" % (
                            base, t.get("link"), t.get("raw_mtu"), o.get("link"), o.get("raw_mtu")))
                    continue
                if t["os"] == o.get("os"):
                    n["label_same"] += 1
                else:
                    diffs.append("DIFF %s os %s p0f=%s ours=%s raw=%s" % (
                        base, key[0], t["os"], o.get("os"), t.get("raw_sig")))
                if t.get("raw_sig") == o.get("raw_sig"):
                    n["raw_same"] += 1
                else:
                    diffs.append("DIFF %s raw_sig %s p0f=%s ours=%s" % (
                        base, key[0], t.get("raw_sig"), o.get("raw_sig")))
                if t.get("dist") == o.get("dist"):
                    n["dist_same"] += 1
                else:
                    diffs.append("DIFF %s dist %s p0f=%s ours=%s" % (
                        base, key[0], t.get("dist"), o.get("dist")))
        for key, olist in ours.items():
            extra = len(olist) - len(theirs.get(key, []))
            if extra > 0:
                n[("mtu" if key[0].startswith("mtu") else "tcp") + "_only_ours"] += extra
                diffs.append("EXTRA %s %s %s ours=%d more" % (base, key[0], key[1], extra))
    for k in ("tcp_p0f", "label_same", "raw_same", "dist_same", "tcp_only_p0f",
              "tcp_only_ours", "mtu_p0f", "mtu_same", "mtu_only_p0f", "mtu_only_ours"):
        print(k, n[k])
    for line in diffs:
        print(line)


if __name__ == "__main__":
    main()
