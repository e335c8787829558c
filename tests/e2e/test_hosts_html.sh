#!/usr/bin/env bash
# test_hosts_html.sh - the `netsift hosts --html` page opened in a real
# browser (headless Chromium): the map, the charts and the tables must be
# drawn with the numbers of the records the page was given, and the
# screenshot must show the countries in their colours.
#
# The page is written from hand-made JSON Lines records below by the
# writer's unit-test binary in its page mode (NS_DASHBOARD_OUT=page.html
# test_sink_dashboard records.jsonl; see tests/unit/test_sink_dashboard.c),
# so the page is tested whatever the analysis finds. When `netsift hosts`
# has --html, a page it writes from a synth capture is opened as well and
# checked against its own JSON output.
#
# Checks (by a Python standard-library script, below):
#   - --dump-dom after the scripts ran (--virtual-time-budget): <body
#     data-ready>, no error; summary numbers; every country shape with its
#     bytes, hosts and log-scale colour; the legend's range; the two bar
#     charts' order, labels and values; the OS table; the alerts; the top
#     talkers; the rows not on the map; a hostile string shown as text only;
#   - --screenshot: the PNG decoded with zlib + struct; the pixel inside each
#     country with traffic has that country's colour (not the sea, not the
#     page), a country without traffic is grey, the open sea has the sea's
#     colour.
# Skips (exit 77) when Chromium is absent (scripts/deps.sh installs it).
# ctest-labels: browser

. "$(dirname "$0")/lib.sh"

CHROMIUM=${NS_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || skip "chromium not found at $CHROMIUM (scripts/deps.sh installs Debian's chromium)"
need_tool python3 timeout

WRITER=${NS_BUILD_DIR:-}/tests/test_sink_dashboard
if [ ! -x "$WRITER" ]; then
    fail "page writer $WRITER not built"
    finish
fi

# chromium DUMP|SHOT PAGE OUT: run the browser on a local file, no network.
chromium() {
    local mode=$1 page=$2 out=$3 profile
    profile=$(mktemp -d "$T/profile.XXXXXX")
    local args=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
        --disable-background-networking --disable-component-update --disable-sync
        --user-data-dir="$profile" --window-size=1280,2200 --force-device-scale-factor=1
        --hide-scrollbars --virtual-time-budget=5000)
    if [ "$mode" = DUMP ]; then
        timeout 120 "$CHROMIUM" "${args[@]}" --dump-dom "file://$page" >"$out" 2>"$T/chromium.err"
    else
        timeout 120 "$CHROMIUM" "${args[@]}" --screenshot="$out" "file://$page" \
            >/dev/null 2>"$T/chromium.err"
    fi
}

# ---- the records: hosts in five countries, private, documentation and
# unknown addresses, two alerts, and a host whose OS string is hostile ----
cat >"$T/records.jsonl" <<'EOF'
{"type":"host","schema":1,"addr":"192.168.1.10","scope":"private","packets_sent":1200,"packets_recv":1500,"bytes_sent":250000,"bytes_recv":1900000,"mac":"00:1b:21:3a:4f:5e","first_seen":"2024-03-01T10:00:00.000000Z","last_seen":"2024-03-01T10:05:00.000000Z","peers":5,"os":{"name":"Linux","flavor":"2.2.x-3.x","match":"exact","source":"syn","raw_sig":"4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0"},"alerts":{"as_attacker":0,"as_victim":0,"kinds":[]}}
{"type":"host","schema":1,"addr":"192.168.1.20","scope":"private","packets_sent":300,"packets_recv":280,"bytes_sent":41000,"bytes_recv":390000,"first_seen":"2024-03-01T10:00:05.000000Z","last_seen":"2024-03-01T10:04:00.000000Z","peers":3,"os":{"name":"Windows","flavor":"7 or 8","match":"fuzzy","source":"syn","raw_sig":"4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0"},"alerts":{"as_attacker":0,"as_victim":2,"kinds":["syn_flood","vertical_scan"]}}
{"type":"host","schema":1,"addr":"192.168.1.30","scope":"private","packets_sent":3,"packets_recv":3,"bytes_sent":300,"bytes_recv":300,"first_seen":"2024-03-01T10:00:06.000000Z","last_seen":"2024-03-01T10:00:07.000000Z","peers":1,"os":{"name":"</script><img src=x id=pwned>&amp;","flavor":"","match":"exact","source":"syn","raw_sig":"4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0"},"alerts":{"as_attacker":0,"as_victim":0,"kinds":[]}}
{"type":"host","schema":1,"addr":"8.8.8.8","scope":"public","packets_sent":400,"packets_recv":400,"bytes_sent":52000,"bytes_recv":30000,"country_code":"US","country_name":"United States","city":"Mountain View","asn":15169,"as_org":"Google LLC","first_seen":"2024-03-01T10:00:01.000000Z","last_seen":"2024-03-01T10:04:59.000000Z","peers":2,"os":{"match":"none","source":"syn","raw_sig":"4:64+0:0:1460:65535,0:mss::0"},"alerts":{"as_attacker":0,"as_victim":0,"kinds":[]}}
{"type":"host","schema":1,"addr":"151.101.1.69","scope":"public","packets_sent":900,"packets_recv":500,"bytes_sent":1200000,"bytes_recv":60000,"country_code":"US","country_name":"United States","asn":54113,"first_seen":"2024-03-01T10:00:02.000000Z","last_seen":"2024-03-01T10:03:00.000000Z","peers":1,"os":{"name":"Linux","flavor":"3.11 and newer","match":"exact","source":"syn","raw_sig":"4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0"},"alerts":{"as_attacker":0,"as_victim":0,"kinds":[]}}
{"type":"host","schema":1,"addr":"46.4.1.2","scope":"public","packets_sent":200,"packets_recv":180,"bytes_sent":300000,"bytes_recv":15000,"country_code":"DE","country_name":"Germany","first_seen":"2024-03-01T10:01:00.000000Z","last_seen":"2024-03-01T10:02:00.000000Z","peers":1,"os":{"name":"Linux","flavor":"3.11 and newer","match":"exact","source":"syn","raw_sig":"4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0"},"alerts":{"as_attacker":0,"as_victim":0,"kinds":[]}}
{"type":"host","schema":1,"addr":"200.147.3.157","scope":"public","packets_sent":50,"packets_recv":60,"bytes_sent":40000,"bytes_recv":6000,"country_code":"BR","country_name":"Brazil","first_seen":"2024-03-01T10:01:30.000000Z","last_seen":"2024-03-01T10:01:40.000000Z","peers":1,"os":{"name":"FreeBSD","flavor":"","match":"exact","source":"syn","raw_sig":"4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0"},"alerts":{"as_attacker":0,"as_victim":0,"kinds":[]}}
{"type":"host","schema":1,"addr":"1.1.1.1","scope":"public","packets_sent":30,"packets_recv":30,"bytes_sent":3000,"bytes_recv":2500,"country_code":"AU","country_name":"Australia","first_seen":"2024-03-01T10:00:10.000000Z","last_seen":"2024-03-01T10:00:11.000000Z","peers":1,"alerts":{"as_attacker":0,"as_victim":0,"kinds":[]}}
{"type":"host","schema":1,"addr":"1.1.1.2","scope":"public","packets_sent":10,"packets_recv":10,"bytes_sent":900,"bytes_recv":800,"country_code":"AU","country_name":"Australia","first_seen":"2024-03-01T10:00:10.000000Z","last_seen":"2024-03-01T10:00:12.000000Z","peers":1,"alerts":{"as_attacker":0,"as_victim":0,"kinds":[]}}
{"type":"host","schema":1,"addr":"114.114.114.114","scope":"public","packets_sent":5,"packets_recv":5,"bytes_sent":700,"bytes_recv":600,"country_code":"CN","country_name":"China","first_seen":"2024-03-01T10:02:10.000000Z","last_seen":"2024-03-01T10:02:11.000000Z","peers":1,"alerts":{"as_attacker":0,"as_victim":0,"kinds":[]}}
{"type":"host","schema":1,"addr":"203.0.113.9","scope":"documentation","packets_sent":700,"packets_recv":0,"bytes_sent":42000,"bytes_recv":0,"first_seen":"2024-03-01T10:03:00.000000Z","last_seen":"2024-03-01T10:03:02.000000Z","peers":1,"alerts":{"as_attacker":2,"as_victim":0,"kinds":["syn_flood","vertical_scan"]}}
{"type":"host","schema":1,"addr":"45.33.32.156","scope":"public","packets_sent":20,"packets_recv":20,"bytes_sent":2000,"bytes_recv":2000,"first_seen":"2024-03-01T10:03:30.000000Z","last_seen":"2024-03-01T10:03:31.000000Z","peers":1,"alerts":{"as_attacker":0,"as_victim":0,"kinds":[]}}
{"type":"country","schema":1,"country_code":"US","country_name":"United States","scope":"public","key":"US","hosts":2,"packets_sent":1300,"packets_recv":900,"bytes_sent":1252000,"bytes_recv":90000}
{"type":"country","schema":1,"country_code":"DE","country_name":"Germany","scope":"public","key":"DE","hosts":1,"packets_sent":200,"packets_recv":180,"bytes_sent":300000,"bytes_recv":15000}
{"type":"country","schema":1,"country_code":"BR","country_name":"Brazil","scope":"public","key":"BR","hosts":1,"packets_sent":50,"packets_recv":60,"bytes_sent":40000,"bytes_recv":6000}
{"type":"country","schema":1,"country_code":"AU","country_name":"Australia","scope":"public","key":"AU","hosts":2,"packets_sent":40,"packets_recv":40,"bytes_sent":3900,"bytes_recv":3300}
{"type":"country","schema":1,"country_code":"CN","country_name":"China","scope":"public","key":"CN","hosts":1,"packets_sent":5,"packets_recv":5,"bytes_sent":700,"bytes_recv":600}
{"type":"country","schema":1,"country_code":null,"scope":"private","key":"private","hosts":3,"packets_sent":1503,"packets_recv":1783,"bytes_sent":291300,"bytes_recv":2290300}
{"type":"country","schema":1,"country_code":null,"scope":"documentation","key":"documentation","hosts":1,"packets_sent":700,"packets_recv":0,"bytes_sent":42000,"bytes_recv":0}
{"type":"country","schema":1,"country_code":null,"scope":"public","key":"unknown","hosts":1,"packets_sent":20,"packets_recv":20,"bytes_sent":2000,"bytes_recv":2000}
{"type":"alert","schema":1,"id":1,"kind":"syn_flood","attacker":"203.0.113.9","victim":"192.168.1.20","proto":"tcp","port":80,"start":"2024-03-01T10:03:00.000000Z","end":"2024-03-01T10:03:02.000000Z","evidence":{"half_open":680,"syns":700}}
{"type":"alert","schema":1,"id":2,"kind":"vertical_scan","attacker":"203.0.113.9","victim":"192.168.1.20","proto":"tcp","port":null,"start":"2024-03-01T10:02:00.000000Z","end":"2024-03-01T10:03:00.000000Z","evidence":{"ports":1000,"syns":1000}}
EOF

# ---- the checker: DOM numbers against the records, pixels of the screenshot ----
cat >"$T/check.py" <<'PYEOF'
"""Compare a dashboard page's DOM (after its scripts ran) and screenshot
with the JSON Lines records it was written from. Prints ok:/FAIL: lines and
a last line 'N checks, M failed'; exits 1 on any failure."""
import html.parser
import json
import math
import re
import struct
import sys
import zlib

records_path, dom_path = sys.argv[1], sys.argv[2]
png_path = sys.argv[3] if len(sys.argv) > 3 else None
checks = [0, 0]


def ok(cond, what):
    checks[0] += 1
    if cond:
        print("ok: " + what)
    else:
        checks[1] += 1
        print("FAIL: " + what)


def eq(got, want, what):
    ok(got == want, what if got == want else "%s: got %r, want %r" % (what, got, want))


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.text = [], ""

    def all_text(self):
        return self.text + "".join(c.all_text() for c in self.children)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def classes(self):
        return (self.attrs.get("class") or "").split()


VOID = {"meta", "link", "br", "img", "input", "hr", "area", "base", "col", "embed", "source",
        "track", "wbr", "param"}


class Tree(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.text += data


recs = [json.loads(l) for l in open(records_path, encoding="utf-8") if l.strip()]
hosts = [r for r in recs if r.get("type") == "host"]
countries = [r for r in recs if r.get("type") == "country"]
alerts = [r for r in recs if r.get("type") == "alert"]
dom_text = open(dom_path, encoding="utf-8").read()
tree = Tree()
tree.feed(dom_text)
nodes = list(tree.root.walk())


def by_id(i):
    for n in nodes:
        if n.attrs.get("id") == i:
            return n
    return None


def num(v):
    return v if isinstance(v, (int, float)) else 0


def hbytes(h):
    return num(h.get("bytes_sent")) + num(h.get("bytes_recv"))


def is_iso(c):
    return re.fullmatch(r"[A-Za-z]{2}", c.get("country_code") or "") is not None and \
        c.get("scope") in (None, "", "public")


body = [n for n in nodes if n.tag == "body"][0]
eq(body.attrs.get("data-ready"), "1", "page drawn (body data-ready)")
eq(body.attrs.get("data-error"), None, "no script error")

# ---- hostile strings stay text ----
ok("<img" not in dom_text.lower() and by_id("pwned") is None, "no element injected by a record")

# ---- summary ----
on_map = [c for c in countries if is_iso(c)]
not_map_hosts = [h for h in hosts if h.get("scope", "public") != "public" or
                 not re.fullmatch(r"[A-Za-z]{2}", h.get("country_code") or "")]
want_cards = {
    "hosts": len(hosts),
    "countries": len(on_map),
    "bytes": sum(num(h.get("bytes_sent")) for h in hosts),
    "packets": sum(num(h.get("packets_sent")) for h in hosts),
    "alerts": len(alerts),
    "nonmap_hosts": len(not_map_hosts),
}
cards = {n.attrs["data-key"]: n for n in nodes if "card" in n.classes()}
for k, v in want_cards.items():
    eq(int(float(cards[k].attrs["data-value"])) if k in cards else None, v, "summary " + k)
eq(cards["hosts"].children[0].all_text(), "{:,}".format(len(hosts)), "summary hosts text")

# ---- the map ----
RAMP = [(255, 237, 160), (254, 178, 76), (240, 59, 32), (128, 0, 38)]
NO_DATA = (0xd5, 0xdb, 0xe1)
SEA = (0xee, 0xf4, 0xf8)


def ramp(t):
    t = max(0.0, min(1.0, t))
    seg = min(len(RAMP) - 2, int(math.floor(t * (len(RAMP) - 1))))
    f = t * (len(RAMP) - 1) - seg
    a, b = RAMP[seg], RAMP[seg + 1]
    return tuple(int(math.floor(a[i] + (b[i] - a[i]) * f + 0.5)) for i in range(3))


def parse_rgb(s):
    m = re.fullmatch(r"rgb\((\d+),(\d+),(\d+)\)", s or "")
    if m:
        return tuple(int(x) for x in m.groups())
    m = re.fullmatch(r"#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})", s or "")
    return tuple(int(x, 16) for x in m.groups()) if m else None


def close(a, b, tol=2):
    return a is not None and b is not None and all(abs(x - y) <= tol for x, y in zip(a, b))


paths = [n for n in nodes if n.tag == "path" and "country" in n.classes()]
ok(len(paths) >= 170, "map has the world's %d country shapes" % len(paths))
vals = [num(c["bytes_sent"]) + num(c["bytes_recv"]) for c in on_map]
lo, hi = (min(vals), max(vals)) if vals else (0, 0)
lg = by_id("legend").children[0]
eq((float(lg.attrs["data-min"]), float(lg.attrs["data-max"])), (float(lo), float(hi)),
   "legend range = smallest and largest country bytes")
eq(lg.attrs.get("data-scale"), "log10", "legend scale is log10")
shapes = {}
for p in paths:
    shapes.setdefault(p.attrs.get("data-cc", ""), []).append(p)
eq(sum(1 for p in paths if "has-data" in p.classes()), len(on_map), "shapes with traffic")
for c in on_map:
    cc = c["country_code"].upper()
    got = shapes.get(cc, [])
    eq(len(got), 1, "one shape for " + cc)
    if not got:
        continue
    p = got[0]
    b = num(c["bytes_sent"]) + num(c["bytes_recv"])
    eq(int(float(p.attrs["data-bytes"])), b, cc + " shape bytes")
    eq(int(float(p.attrs["data-hosts"])), c["hosts"], cc + " shape hosts")
    t = (math.log10(b) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) if hi > lo else 1
    ok(close(parse_rgb(p.attrs.get("fill")), ramp(t), 1),
       "%s colour %s = log-scale colour %s" % (cc, p.attrs.get("fill"), ramp(t)))
    title = [ch for ch in p.children if ch.tag == "title"]
    ok(title and title[0].all_text().startswith(c["country_name"] + " (" + cc + "): "),
       cc + " shape title names the country")
no_data = [p for p in paths if "has-data" not in p.classes()]
ok(all(parse_rgb(p.attrs.get("fill")) == NO_DATA and p.attrs.get("data-bytes") == "0"
       for p in no_data), "shapes without traffic are grey with 0 bytes")

# ---- traffic not on the map ----
rows = [n for n in by_id("nonmap").walk() if n.tag == "tr" and "data-label" in n.attrs]
want = sorted(((c.get("country_name") or c.get("country_code") or c.get("key") or
                 c.get("scope") or "unknown",
                c["hosts"], num(c["bytes_sent"]) + num(c["bytes_recv"]))
               for c in countries if not is_iso(c)), key=lambda r: (-r[2], r[0]))
eq([(r.attrs["data-label"], int(r.attrs["data-hosts"]), int(float(r.attrs["data-bytes"])))
    for r in rows], want, "rows not on the map")

# ---- bar charts ----
def bars(i):
    return [(g.attrs["data-cc"], g.attrs["data-label"], int(float(g.attrs["data-value"])),
             [t.all_text() for t in g.children if t.tag == "text"])
            for g in by_id(i).walk() if g.tag == "g" and "bar" in g.classes()]


got = bars("bars-bytes")
want = sorted(((c["country_code"].upper(), c["country_name"],
                num(c["bytes_sent"]) + num(c["bytes_recv"])) for c in on_map),
              key=lambda r: (-r[2], r[0]))[:15]
eq([g[:3] for g in got], want, "countries by bytes: order, labels, values")
eq([g[3][0] for g in got], [w[1] for w in want], "countries by bytes: drawn labels")
got = bars("bars-hosts")
want = sorted(((c["country_code"].upper(), c["country_name"], c["hosts"]) for c in on_map),
              key=lambda r: (-r[2], r[0]))[:15]
eq([g[:3] for g in got], want, "countries by hosts: order, labels, values")
eq([g[3][1] for g in got], [str(w[2]) for w in want], "countries by hosts: drawn values")
widths = [float(r.attrs["width"]) for r in by_id("bars-bytes").walk() if r.tag == "rect"]
ok(widths == sorted(widths, reverse=True), "byte bars shrink with the values")

# ---- OS table ----
def os_label(h):
    os_, fl = h.get("os"), h.get("os_flavor")
    if isinstance(os_, dict):  # the schema's {"name", "flavor", "match", ...}
        os_, fl = os_.get("name"), fl or os_.get("flavor")
    if not os_:
        return "unknown"
    return os_ + " " + fl if fl else os_


counts = {}
for h in hosts:
    counts[os_label(h)] = counts.get(os_label(h), 0) + 1
want = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
rows = [n for n in by_id("os-table").walk() if n.tag == "tr" and "data-os" in n.attrs]
eq([(r.attrs["data-os"], int(r.attrs["data-hosts"])) for r in rows], want, "OS table rows")
eq([[td.all_text() for td in r.children][0] for r in rows], [w[0] for w in want],
   "OS table shows the labels as text")

# ---- alerts ----
rows = [n for n in by_id("alerts").walk() if n.tag == "tr" and "data-kind" in n.attrs]
want = sorted(alerts, key=lambda a: (str(a.get("window_start") or a.get("start") or ""),
                                     str(a.get("kind") or "")))
eq([(r.attrs["data-kind"], r.attrs.get("data-attacker"), r.attrs.get("data-victim")) for r in rows],
   [(a["kind"], a.get("attacker") or None, a.get("victim") or None) for a in want], "alerts list")
BASE = {"type", "schema", "id", "kind", "attacker", "victim", "proto", "port", "start", "end",
        "window_start", "window_end", "evidence"}


SCALAR = (str, int, float, bool, type(None))


def js_text(v):
    """A scalar as the page's String(v) shows it."""
    return "" if v is None else v if isinstance(v, str) else json.dumps(v)


def evidence(a):
    parts = ["proto=" + a["proto"]] if a.get("proto") else []
    if a.get("port") is not None:
        parts.append("port=%s" % a["port"])
    ev = a.get("evidence") if isinstance(a.get("evidence"), dict) else {}
    parts += ["%s=%s" % (k, js_text(ev[k])) for k in sorted(ev)]
    parts += ["%s=%s" % (k, js_text(a[k])) for k in sorted(a) if k not in BASE]
    return " ".join(parts)


simple = all(isinstance(v, SCALAR) for a in alerts for v in
             list((a.get("evidence") or {}).values()) + [a[k] for k in a if k not in BASE])
if simple:
    eq([[td.all_text() for td in r.children][4] for r in rows], [evidence(a) for a in want],
       "alert evidence")

# ---- top talkers ----
rows = [n for n in by_id("talkers").walk() if n.tag == "tr" and "data-addr" in n.attrs]
want = sorted(((h["addr"], hbytes(h)) for h in hosts), key=lambda r: (-r[1], r[0]))[:25]
eq([(r.attrs["data-addr"], int(float(r.attrs["data-bytes"]))) for r in rows], want,
   "top talkers by bytes")


# ---- the screenshot ----
def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise ValueError("unsupported PNG depth %d type %d" % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pr) & 255
        rows.append(line)
        prev = line
    return w, h, lambda x, y: tuple(rows[y][x * bpp:x * bpp + 3])


if png_path:
    w, h, px = read_png(png_path)
    ok(w == 1280, "screenshot is 1280 px wide (got %d)" % w)
    svgroot = by_id("map-svg")
    sea = px(int(svgroot.attrs["data-sea-px"]), int(svgroot.attrs["data-sea-py"]))
    ok(close(sea, SEA), "open sea has the sea colour (got %s)" % (sea,))
    page = px(2, 2)
    eq(page, (255, 255, 255), "page background is white")
    for c in on_map:
        p = shapes[c["country_code"].upper()][0]
        x, y = int(p.attrs["data-px"]), int(p.attrs["data-py"])
        got = px(x, y)
        want = parse_rgb(p.attrs["fill"])
        ok(close(got, want, 3) and not close(got, SEA, 6) and not close(got, page, 6) and
           not close(got, NO_DATA, 6),
           "%s pixel at (%d,%d) %s is its colour %s, not sea, page or grey" %
           (c["country_code"], x, y, got, want))
    for cc in ("CA", "RU", "EG"):
        p = shapes.get(cc)
        if p and "has-data" not in p[0].classes():
            got = px(int(p[0].attrs["data-px"]), int(p[0].attrs["data-py"]))
            ok(close(got, NO_DATA, 3), "%s without traffic is grey (got %s)" % (cc, got))

print("%d checks, %d failed" % (checks[0], checks[1]))
sys.exit(1 if checks[1] else 0)
PYEOF

# ---- the page from the hand-made records ----
if NS_DASHBOARD_OUT="$T/page.html" "$WRITER" "$T/records.jsonl"; then
    ok "page written"
else
    fail "page writer failed"
    finish
fi
size=$(wc -c <"$T/page.html")
check "page is under 1.5 MB ($size bytes)" test "$size" -lt 1500000
check "page fetches nothing: no src= or href= to a network" \
    bash -c "! grep -Eqi '(src|href)=\"?(https?:)?//' '$T/page.html'"

chromium DUMP "$T/page.html" "$T/dom.html" || true
chromium SHOT "$T/page.html" "$T/shot.png" || true
if [ ! -s "$T/dom.html" ] || [ ! -s "$T/shot.png" ]; then
    fail "chromium produced no DOM or screenshot: $(tail -n 3 "$T/chromium.err")"
    finish
fi
if python3 "$T/check.py" "$T/records.jsonl" "$T/dom.html" "$T/shot.png" >"$T/check.out"; then
    cat "$T/check.out"
    ok "dashboard drawn with the records' numbers ($(tail -n 1 "$T/check.out"))"
else
    cat "$T/check.out"
    fail "dashboard checks"
fi

# ---- the page `netsift hosts --html` writes, when the command has the flag ----
if "$NETSIFT" hosts --help 2>/dev/null | grep -q -- '--html'; then
    run_ns "$T/synth.out" "$T/synth.err" synth -o "$T/s.pcap" --seed 7
    check "synth capture made" test "$RC" -eq 0
    run_ns "$T/hosts.jsonl" "$T/hosts.err" hosts -r "$T/s.pcap" --format json
    check "netsift hosts --format json" test "$RC" -eq 0
    run_ns "$T/hosts.out" "$T/hosts2.err" hosts -r "$T/s.pcap" --html "$T/hosts.html"
    check "netsift hosts --html" test "$RC" -eq 0
    if [ -s "$T/hosts.html" ]; then
        chromium DUMP "$T/hosts.html" "$T/hosts-dom.html" || true
        # the same checks, against the JSON the command printed (no pixel checks:
        # a synth capture may hold only private addresses)
        if python3 "$T/check.py" "$T/hosts.jsonl" "$T/hosts-dom.html" >"$T/check2.out"; then
            ok "netsift hosts page matches its JSON ($(tail -n 1 "$T/check2.out"))"
        else
            cat "$T/check2.out"
            fail "netsift hosts page checks"
        fi
    else
        fail "netsift hosts --html wrote no page"
    fi
else
    echo "note: netsift hosts has no --html yet; checked the page writer only"
fi

finish
