#!/usr/bin/env python3
"""conformance.py - `netsift flows` against tshark's conversation tables.

usage: conformance.py NETSIFT CAPTURE_DIR [CACHE_DIR] [-v]

CACHE_DIR keeps tshark's output per capture (keyed on the file's SHA-256,
tshark's version and the field list): starting tshark costs about a second,
so 84 captures cost a minute the first time and nothing after.

For every capture below CAPTURE_DIR (*.pcap *.pcapng *.cap *.gz, recursive):
  1. one tshark run gives per-frame fields and `-z conv,tcp -z conv,udp`;
  2. our reading of tshark is checked first: the frames, aggregated the way
     tshark's conv tap does, must reproduce its tables exactly (frames, and
     bytes as tshark formats them);
  3. from the same frames, tshark_model.netsift_flows() derives the flows
     netsift must print, applying netsift's documented rules (fragments,
     VLAN in the key, timeouts, TCP reuse, link layers it decodes);
  4. every TCP/UDP conversation where (3) differs from tshark's table must
     carry a documented difference class (CONFORMANCE.md), else it fails;
  5. `netsift flows -r FILE --json --stats` must print exactly the flows of
     (3): endpoints, direction, packets and bytes per direction, and for
     flows without fragments first_seen / last_seen; its packets_read must
     equal tshark's frame count; exit status 0, or 1 with one "netsift: "
     line naming the file and an offset where tshark also reports a broken
     file.
Prints "N captures, M flows compared, K documented differences" and exits 1
on any unexplained difference, naming the capture and the flow.
"""

import collections
import concurrent.futures
import datetime
import hashlib
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tshark_model as tm  # noqa: E402

EXTS = (".pcap", ".pcapng", ".cap", ".gz")


def find_captures(root):
    out = []
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(EXTS):
                out.append(os.path.join(d, f))
    return sorted(out)


def tshark_version():
    p = subprocess.run(["tshark", "--version"], capture_output=True, text=True)
    return p.stdout.splitlines()[0] if p.stdout else "?"


def run_tshark(path, cache_dir=None, version=""):
    """tshark's fields and tables for path (cached: a tshark start costs ~1 s)."""
    cache = None
    if cache_dir:
        h = hashlib.sha256()
        h.update(("%s\n%s\n" % (version, " ".join(tm.FIELDS))).encode())
        with open(path, "rb") as fp:
            for chunk in iter(lambda: fp.read(1 << 20), b""):
                h.update(chunk)
        cache = os.path.join(cache_dir, h.hexdigest() + ".json")
        try:
            with open(cache) as fp:
                d = json.load(fp)
            return d["stdout"], d["errors"]
        except (OSError, ValueError, KeyError):
            pass
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "occurrence=a",
           "-E", "aggregator=,"]
    for f in tm.FIELDS:
        cmd += ["-e", f]
    cmd += ["-z", "conv,tcp", "-z", "conv,udp"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    errs = [l for l in p.stderr.splitlines() if l.startswith("tshark:")]
    if cache:
        tmp = cache + ".%d.tmp" % os.getpid()
        with open(tmp, "w") as fp:
            json.dump({"stdout": p.stdout, "errors": errs}, fp)
        os.replace(tmp, cache)
    return p.stdout, errs


def run_netsift(netsift, path):
    p = subprocess.run([netsift, "flows", "-r", path, "--json", "--stats"],
                       capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def iso_us(ns):
    """netsift's time format: UTC, microseconds (truncated), 'Z'."""
    sec, rem = divmod(ns, 10**9)
    t = datetime.datetime.fromtimestamp(sec, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (rem // 1000)


def pair(a, b):
    return tuple(sorted([a, b]))


def fmt_ep(ep):
    a, p = ep
    return ("[%s]:%d" if ":" in a else "%s:%d") % (a, p)


def check_capture(netsift, path, root, cache_dir, version):
    """Returns (flows compared, {class: n}, [failures], [notes])."""
    name = os.path.relpath(path, root)
    fails, classes, notes = [], collections.Counter(), []
    text, ts_errs = run_tshark(path, cache_dir, version)
    frames, rows = tm.parse_tshark(text)

    # 2. our reading of tshark reproduces its own tables
    conv = tm.tshark_conversations(frames)
    model_rows = collections.defaultdict(list)
    for c in conv.values():
        lo, _ = pair(c["a"], c["b"])
        d, o = ("ab", "ba") if c["a"] == lo else ("ba", "ab")
        model_rows[(c["proto"],) + pair(c["a"], c["b"])].append(
            (c["frames_" + d], tm.format_size(c["bytes_" + d]),
             c["frames_" + o], tm.format_size(c["bytes_" + o])))
    table_rows = collections.defaultdict(list)
    for r in rows:
        lo, _ = pair(r["a"], r["b"])
        d, o = ("ab", "ba") if r["a"] == lo else ("ba", "ab")
        table_rows[(r["proto"],) + pair(r["a"], r["b"])].append(
            (r["frames_" + d], r["bytes_" + d], r["frames_" + o], r["bytes_" + o]))
    for k in set(model_rows) | set(table_rows):
        if sorted(model_rows.get(k, [])) != sorted(table_rows.get(k, [])):
            fails.append("%s: tshark model: %s %s<->%s: frames give %s, tshark's table %s" % (
                name, k[0], fmt_ep(k[1]), fmt_ep(k[2]), sorted(model_rows.get(k, [])),
                sorted(table_rows.get(k, []))))

    # 3. the flows netsift must print
    expected, tags = tm.netsift_flows(frames)

    # 4. every difference from tshark's conversations has a documented class
    ts_groups = collections.defaultdict(list)
    ts_frames = collections.defaultdict(list)
    for fr in frames:
        if fr.ts_key is not None:
            c = conv[fr.ts_key]
            ts_frames[(c["proto"],) + pair(c["a"], c["b"])].append(fr)
    for c in conv.values():
        lo, _ = pair(c["a"], c["b"])
        d, o = ("ab", "ba") if c["a"] == lo else ("ba", "ab")
        ts_groups[(c["proto"],) + pair(c["a"], c["b"])].append(
            (c["frames_" + d], c["bytes_" + d], c["frames_" + o], c["bytes_" + o]))
    ns_groups = collections.defaultdict(list)
    for f in expected:
        ns_groups[(f.proto,) + pair(f.src, f.dst)].append(f)
    for k in set(ts_groups) | set(ns_groups):
        lo = k[1]
        ns_sig = []
        for f in ns_groups.get(k, []):
            d = 0 if f.src == lo else 1
            ns_sig.append((f.packets[d], f.bytes[d], f.packets[1 - d], f.bytes[1 - d]))
        if sorted(ns_sig) == sorted(ts_groups.get(k, [])):
            continue
        why = set()
        fl = ns_groups.get(k, [])
        if any(f.fragmented for f in fl):
            why.add("fragmented_datagram")
        if len({f.vlan for f in fl}) > 1:
            why.add("vlan")
        why.update(f.start_reason for f in fl if f.start_reason)
        if len(ts_groups.get(k, [])) > len(fl) and fl:
            why.add("tshark_stream_split")
        why.update(tags[fr.num] for fr in ts_frames.get(k, []) if fr.num in tags)
        if not why:
            fails.append("%s: unexplained difference from tshark: %s %s<->%s: tshark %s, "
                         "netsift rules give %s" % (name, k[0], fmt_ep(k[1]), fmt_ep(k[2]),
                                                    sorted(ts_groups.get(k, [])), sorted(ns_sig)))
        for w in why:
            classes[w.split(":")[0]] += 1
            notes.append("%s: %s %s<->%s: %s" % (name, k[0], fmt_ep(k[1]), fmt_ep(k[2]), w))

    # 5. netsift itself
    rc, out, err = run_netsift(netsift, path)
    err_lines = [l for l in err.splitlines() if l.strip()]
    if ts_errs:
        if rc != 1:
            fails.append("%s: tshark reports '%s' but netsift exited %d" % (name, ts_errs[0], rc))
        elif len(err_lines) != 1 or not err_lines[0].startswith("netsift: ") \
                or path not in err_lines[0] or " at offset " not in err_lines[0]:
            fails.append("%s: want one line 'netsift: %s: ... at offset N' on stderr, got %r"
                         % (name, path, err_lines))
    elif rc != 0:
        fails.append("%s: netsift exited %d: %s" % (name, rc, " | ".join(err_lines[:3])))
    got, stats = [], None
    for line in out.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            fails.append("%s: not JSON: %r" % (name, line[:120]))
            continue
        if rec.get("type") == "flow" and rec.get("proto") in ("tcp", "udp"):
            got.append(rec)
        elif rec.get("type") == "stats":
            stats = rec
    if stats is None:
        fails.append("%s: no stats record" % name)
    elif stats.get("packets_read") != len(frames):
        fails.append("%s: packets_read %s, tshark read %d frames" % (
            name, stats.get("packets_read"), len(frames)))

    def exp_rec(f):
        return (f.proto, fmt_ep(f.src), fmt_ep(f.dst), f.vlan, f.packets[0], f.packets[1],
                f.bytes[0], f.bytes[1])

    def got_rec(r):
        return (r["proto"], fmt_ep((tm.norm_addr(r["src_addr"]), r["src_port"])),
                fmt_ep((tm.norm_addr(r["dst_addr"]), r["dst_port"])), r.get("vlan", 0),
                r["packets_fwd"], r["packets_rev"], r["bytes_fwd"], r["bytes_rev"])

    want = collections.Counter(exp_rec(f) for f in expected)
    have = collections.Counter(got_rec(r) for r in got)
    for rec in sorted((want - have).elements()):
        fails.append("%s: missing flow %s %s -> %s vlan %d packets %d/%d bytes %d/%d" % (
            (name,) + rec))
    for rec in sorted((have - want).elements()):
        fails.append("%s: unexpected flow %s %s -> %s vlan %d packets %d/%d bytes %d/%d" % (
            (name,) + rec))
    if want == have:
        times = collections.defaultdict(list)
        for r in got:
            times[got_rec(r)].append((r.get("first_seen"), r.get("last_seen")))
        for f in expected:
            if f.fragmented:
                continue
            t = (iso_us(f.first_ns), iso_us(f.last_ns))
            if t not in times[exp_rec(f)]:
                fails.append("%s: flow %s %s -> %s: first/last_seen %s, want %s" % (
                    name, f.proto, fmt_ep(f.src), fmt_ep(f.dst), times[exp_rec(f)], t))
    return len(expected), classes, fails, notes


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    netsift, root = sys.argv[1], sys.argv[2]
    rest = [a for a in sys.argv[3:] if a != "-v"]
    verbose = "-v" in sys.argv[3:]
    cache_dir = rest[0] if rest else None
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
    version = tshark_version()
    caps = find_captures(root)
    total_flows, classes, fails, notes = 0, collections.Counter(), [], []
    workers = max(2, os.cpu_count() or 1)
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        for n, c, f, no in ex.map(
                lambda p: check_capture(netsift, p, root, cache_dir, version), caps):
            total_flows += n
            classes.update(c)
            fails.extend(f)
            notes.extend(no)
    if verbose:
        for n in notes:
            print("difference: " + n)
    for f in fails:
        print("FAIL: " + f)
    print("%d captures, %d flows compared, %d documented differences (%s)" % (
        len(caps), total_flows, sum(classes.values()),
        ", ".join("%s %d" % kv for kv in sorted(classes.items())) or "none"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
