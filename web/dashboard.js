/*
 * dashboard.js - draws the `netsift hosts --html` page from the records the
 * page carries (docs/schema/README.md: "host", "country" and "alert"
 * objects, in the JSON array of the script element #ns-data).
 *
 * Sections: summary numbers; a world map coloured by bytes per country on a
 * log scale, with a legend (d3-geo draws the world-atlas 110m outlines,
 * whose ids are ISO 3166-1 numeric codes, mapped to alpha-2 with the
 * i18n-iso-countries table in #ns-iso); traffic not on the map (private and
 * other special addresses, unknown countries); bar charts of countries by
 * bytes and by hosts; the OS table; the alerts; the top talkers.
 *
 * Everything is built with DOM calls and textContent, never from HTML
 * strings, so record values cannot inject markup. Every drawn item carries
 * data-* attributes with its exact numbers (tests/e2e/test_hosts_html.sh
 * reads them back); <body data-ready="1"> marks a page fully drawn, and a
 * failure is shown in #ns-error (data-error on <body>).
 */
(function () {
    "use strict";

    var SVG_NS = "http://www.w3.org/2000/svg";
    var MAP_W = 960;
    var MAP_H = 480;
    var BAR_ROWS = 15;
    var TALKERS = 25;
    /* light to dark, for log10(bytes) from the smallest to the largest country */
    var RAMP = [
        [255, 237, 160],
        [254, 178, 76],
        [240, 59, 32],
        [128, 0, 38]
    ];
    var NO_DATA = "#d5dbe1";
    /* outlines world-atlas leaves without an ISO numeric id */
    var NAME_CODES = { "Kosovo": "XK", "N. Cyprus": "CY", "Somaliland": "SO" };

    function el(tag, attrs, text) {
        var e = document.createElement(tag);
        setAttrs(e, attrs);
        if (text !== undefined && text !== null) {
            e.textContent = String(text);
        }
        return e;
    }

    function svg(tag, attrs, text) {
        var e = document.createElementNS(SVG_NS, tag);
        setAttrs(e, attrs);
        if (text !== undefined && text !== null) {
            e.textContent = String(text);
        }
        return e;
    }

    function setAttrs(e, attrs) {
        if (!attrs) {
            return;
        }
        Object.keys(attrs).forEach(function (k) {
            if (attrs[k] !== undefined && attrs[k] !== null) {
                e.setAttribute(k, String(attrs[k]));
            }
        });
    }

    function num(v) {
        var n = typeof v === "number" ? v : Number(v);
        return isFinite(n) ? n : 0;
    }

    function str(v) {
        return v === undefined || v === null ? "" : String(v);
    }

    /* 1234567 -> "1.23 MB" (SI units, as network tools count) */
    function fmtBytes(n) {
        var units = ["B", "kB", "MB", "GB", "TB", "PB"];
        var i = 0;
        while (n >= 1000 && i < units.length - 1) {
            n /= 1000;
            i++;
        }
        if (i === 0) {
            return n + " B";
        }
        return (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)) + " " + units[i];
    }

    /* 1234567 -> "1,234,567", independent of the viewer's locale */
    function fmtInt(n) {
        return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    }

    function byDesc(key, tie) {
        return function (a, b) {
            if (b[key] !== a[key]) {
                return b[key] - a[key];
            }
            return a[tie] < b[tie] ? -1 : a[tie] > b[tie] ? 1 : 0;
        };
    }

    function readJson(id) {
        var node = document.getElementById(id);
        if (!node) {
            throw new Error("missing #" + id);
        }
        return JSON.parse(node.textContent);
    }

    /* ---- the records ---- */

    /*
     * Field access tolerant of nesting: a host may carry its place as flat
     * fields (country_code) or in an object (geo.country_code), its OS as a
     * string or an object ({name, flavor, match}).
     */
    function pick(o, names) {
        for (var i = 0; i < names.length; i++) {
            var path = names[i].split(".");
            var v = o;
            for (var j = 0; j < path.length && v !== undefined && v !== null; j++) {
                v = v[path[j]];
            }
            if (v !== undefined && v !== null && v !== "") {
                return v;
            }
        }
        return null;
    }

    function hostOs(h) {
        var os = pick(h, ["os", "os_name", "p0f.os"]);
        var flavor = pick(h, ["os_flavor", "flavor", "p0f.flavor"]);
        if (os && typeof os === "object") {
            flavor = flavor || pick(os, ["flavor"]);
            os = pick(os, ["name", "label", "os"]);
        }
        if (!os) {
            return "unknown";
        }
        return flavor ? os + " " + flavor : String(os);
    }

    function normHost(h) {
        var sent = num(h.bytes_sent);
        var recv = num(h.bytes_recv);
        return {
            addr: str(h.addr || h.ip || h.host),
            cc: str(pick(h, ["country_code", "geo.country_code", "country.code"])).toUpperCase(),
            country: str(pick(h, ["country_name", "geo.country_name", "country.name"])),
            scope: str(pick(h, ["scope", "geo.scope"])) || "public",
            os: hostOs(h),
            sent: sent,
            recv: recv,
            bytes: sent + recv,
            packets: num(h.packets_sent) + num(h.packets_recv),
            packetsSent: num(h.packets_sent),
            first: str(h.first_seen),
            last: str(h.last_seen)
        };
    }

    function normCountry(c) {
        var sent = num(c.bytes_sent);
        var recv = num(c.bytes_recv);
        /* a scope ("private") or "unknown" may stand where the ISO code would */
        var code = str(pick(c, ["country_code", "key", "code"]));
        return {
            cc: /^[a-z]{2}$/i.test(code) ? code.toUpperCase() : code,
            name: str(c.country_name),
            scope: str(c.scope),
            hosts: num(c.hosts),
            bytes: sent + recv,
            sent: sent,
            recv: recv,
            packets: num(c.packets_sent) + num(c.packets_recv)
        };
    }

    /* Countries from the hosts, when the records hold no "country" objects. */
    function countriesFromHosts(hosts) {
        var m = {};
        var out = [];
        hosts.forEach(function (h) {
            var key = h.scope !== "public" ? "scope:" + h.scope : h.cc || "unknown";
            if (!m[key]) {
                m[key] = {
                    cc: h.scope === "public" ? h.cc : "",
                    name: h.scope !== "public" ? h.scope : h.country,
                    scope: h.scope,
                    hosts: 0,
                    bytes: 0,
                    sent: 0,
                    recv: 0,
                    packets: 0
                };
                out.push(m[key]);
            }
            var c = m[key];
            c.hosts += 1;
            c.bytes += h.bytes;
            c.sent += h.sent;
            c.recv += h.recv;
            c.packets += h.packets;
        });
        return out;
    }

    /* ---- drawing ---- */

    function clear(id) {
        var e = document.getElementById(id);
        while (e.firstChild) {
            e.removeChild(e.firstChild);
        }
        return e;
    }

    function rampColour(t) {
        t = Math.max(0, Math.min(1, t));
        var seg = Math.min(RAMP.length - 2, Math.floor(t * (RAMP.length - 1)));
        var f = t * (RAMP.length - 1) - seg;
        var a = RAMP[seg];
        var b = RAMP[seg + 1];
        var c = [0, 1, 2].map(function (i) {
            return Math.round(a[i] + (b[i] - a[i]) * f);
        });
        return "rgb(" + c.join(",") + ")";
    }

    /* log10 scale over [lo, hi] (both > 0) onto [0, 1] */
    function logScale(lo, hi) {
        var l0 = Math.log10(lo);
        var l1 = Math.log10(hi);
        return function (v) {
            if (l1 <= l0) {
                return 1;
            }
            return (Math.log10(v) - l0) / (l1 - l0);
        };
    }

    function drawSummary(hosts, onMap, alerts, nonMapHosts) {
        var box = clear("summary");
        var bytes = 0;
        var packets = 0;
        hosts.forEach(function (h) {
            bytes += h.sent;
            packets += h.packetsSent;
        });
        var cards = [
            ["hosts", "hosts", hosts.length, fmtInt(hosts.length)],
            ["countries", "countries", onMap.length, fmtInt(onMap.length)],
            ["bytes", "bytes", bytes, fmtBytes(bytes)],
            ["packets", "packets", packets, fmtInt(packets)],
            ["alerts", "alerts", alerts.length, fmtInt(alerts.length)],
            ["nonmap_hosts", "private / unknown hosts", nonMapHosts, fmtInt(nonMapHosts)]
        ];
        cards.forEach(function (c) {
            var cls = "card" + (c[0] === "alerts" && c[2] > 0 ? " alerting" : "");
            var d = el("div", { "class": cls, "data-key": c[0], "data-value": c[2] });
            d.appendChild(el("div", { "class": "value" }, c[3]));
            d.appendChild(el("div", { "class": "name" }, c[1]));
            box.appendChild(d);
        });
    }

    function drawPeriod(hosts) {
        var first = "";
        var last = "";
        hosts.forEach(function (h) {
            if (h.first && (!first || h.first < first)) {
                first = h.first;
            }
            if (h.last && (!last || h.last > last)) {
                last = h.last;
            }
        });
        var p = document.getElementById("ns-period");
        p.textContent = first ? "Traffic from " + first + " to " + last : "";
    }

    function numericToAlpha2(iso) {
        var m = {};
        iso.forEach(function (row) {
            /* [alpha-2, alpha-3, numeric, ...] */
            m[String(row[2])] = String(row[0]);
        });
        return m;
    }

    /* The point of a feature to test its colour at: the centroid of its largest part. */
    function labelPoint(path, feature) {
        var g = feature.geometry;
        if (!g) {
            return null;
        }
        if (g.type === "MultiPolygon") {
            var best = null;
            var bestArea = -1;
            g.coordinates.forEach(function (poly) {
                var part = { type: "Polygon", coordinates: poly };
                var a = path.area(part);
                if (a > bestArea) {
                    bestArea = a;
                    best = part;
                }
            });
            return path.centroid(best);
        }
        return path.centroid(feature);
    }

    function drawMap(atlas, iso, byCode) {
        var box = clear("map");
        var alpha2 = numericToAlpha2(iso);
        var features = topojson.feature(atlas, atlas.objects.countries).features;
        var projection = d3.geoNaturalEarth1().fitExtent([[2, 2], [MAP_W - 2, MAP_H - 2]], { type: "Sphere" });
        var path = d3.geoPath(projection);
        var values = Object.keys(byCode).map(function (k) {
            return byCode[k].bytes;
        }).filter(function (v) {
            return v > 0;
        });
        var lo = values.length ? Math.min.apply(null, values) : 1;
        var hi = values.length ? Math.max.apply(null, values) : 1;
        var scale = logScale(lo, hi);

        var root = svg("svg", {
            viewBox: "0 0 " + MAP_W + " " + MAP_H,
            role: "img",
            "aria-label": "World map of bytes per country",
            id: "map-svg"
        });
        root.appendChild(svg("path", { "class": "sphere", d: path({ type: "Sphere" }) }));
        var drawn = 0;
        features.forEach(function (f) {
            var cc = f.id !== undefined ? alpha2[String(f.id)] : undefined;
            if (!cc) {
                cc = NAME_CODES[f.properties && f.properties.name] || "";
            }
            var c = cc ? byCode[cc] : undefined;
            var fill = c && c.bytes > 0 ? rampColour(scale(c.bytes)) : NO_DATA;
            var pt = labelPoint(path, f);
            var p = svg("path", {
                "class": "country" + (c ? " has-data" : ""),
                d: path(f),
                fill: fill,
                "data-cc": cc,
                "data-name": c && c.name ? c.name : f.properties ? f.properties.name : "",
                "data-bytes": c ? c.bytes : 0,
                "data-hosts": c ? c.hosts : 0,
                "data-fill": fill,
                "data-cx": pt ? pt[0].toFixed(1) : null,
                "data-cy": pt ? pt[1].toFixed(1) : null
            });
            var name = (c && c.name) || (f.properties && f.properties.name) || cc;
            p.appendChild(svg("title", null, name + (cc ? " (" + cc + ")" : "") + ": " +
                (c ? fmtBytes(c.bytes) + ", " + fmtInt(c.hosts) + " hosts" : "no traffic")));
            root.appendChild(p);
            if (c) {
                drawn++;
            }
        });
        box.appendChild(root);
        box.setAttribute("data-countries-drawn", drawn);
        markPagePoints(root, projection);
        drawLegend(lo, hi, values.length > 0);
    }

    /*
     * Where each country's test point and a point of open sea (0N 30W, the
     * Atlantic) land on the page, in CSS pixels: a screenshot taken at the
     * same window size can be checked there (tests/e2e/test_hosts_html.sh).
     */
    function markPagePoints(root, projection) {
        var rect = root.getBoundingClientRect();
        var k = rect.width / MAP_W;
        var x0 = rect.left + window.scrollX;
        var y0 = rect.top + window.scrollY;
        Array.prototype.forEach.call(root.querySelectorAll("path.country"), function (p) {
            var cx = p.getAttribute("data-cx");
            var cy = p.getAttribute("data-cy");
            if (cx !== null && cy !== null) {
                p.setAttribute("data-px", Math.round(x0 + Number(cx) * k));
                p.setAttribute("data-py", Math.round(y0 + Number(cy) * k));
            }
        });
        var sea = projection([-30, 0]);
        root.setAttribute("data-sea-px", Math.round(x0 + sea[0] * k));
        root.setAttribute("data-sea-py", Math.round(y0 + sea[1] * k));
    }

    function drawLegend(lo, hi, any) {
        var box = clear("legend");
        var steps = 40;
        var w = 320;
        var root = svg("svg", {
            width: w + 180,
            height: 42,
            "data-min": any ? lo : 0,
            "data-max": any ? hi : 0,
            "data-scale": "log10"
        });
        for (var i = 0; i < steps; i++) {
            root.appendChild(svg("rect", {
                x: 10 + (i * w) / steps,
                y: 4,
                width: w / steps + 0.5,
                height: 14,
                fill: rampColour(i / (steps - 1))
            }));
        }
        root.appendChild(svg("rect", { x: w + 30, y: 4, width: 14, height: 14, fill: NO_DATA }));
        root.appendChild(svg("text", { x: w + 50, y: 15 }, "no traffic"));
        var ticks = any ? [[10, "start", lo], [10 + w, "end", hi]] : [];
        if (any && hi > lo) {
            ticks.push([10 + w / 2, "middle", Math.round(Math.sqrt(lo * hi))]);
        }
        ticks.forEach(function (t) {
            root.appendChild(svg("text", { x: t[0], y: 34, "text-anchor": t[1], "class": "tick" },
                fmtBytes(t[2])));
        });
        root.appendChild(svg("text", { x: w + 50, y: 34 }, "bytes (log scale)"));
        box.appendChild(root);
    }

    function drawBars(id, rows, key, fmt) {
        var box = clear(id);
        var shown = rows.slice(0, BAR_ROWS);
        var rowH = 20;
        var labelW = 170;
        var barW = 300;
        var max = shown.length ? shown[0][key] : 0;
        var root = svg("svg", {
            width: labelW + barW + 90,
            height: Math.max(1, shown.length) * rowH + 4,
            "data-rows": shown.length
        });
        shown.forEach(function (r, i) {
            var label = r.name || r.cc;
            var g = svg("g", {
                "class": "bar",
                transform: "translate(0," + (i * rowH + 2) + ")",
                "data-cc": r.cc,
                "data-label": label,
                "data-value": r[key]
            });
            g.appendChild(svg("text", { x: labelW - 6, y: 13, "text-anchor": "end", "class": "label" },
                label.length > 26 ? label.slice(0, 25) + "\u2026" : label));
            var w = max > 0 ? Math.max(1, (r[key] / max) * barW) : 0;
            g.appendChild(svg("rect", { x: labelW, y: 2, width: w.toFixed(1), height: rowH - 5 }));
            g.appendChild(svg("text", { x: labelW + w + 4, y: 13, "class": "value" }, fmt(r[key])));
            root.appendChild(g);
        });
        if (!shown.length) {
            root.appendChild(svg("text", { x: 4, y: 14 }, "no country traffic"));
        }
        box.appendChild(root);
    }

    function table(id, heads, rows, empty) {
        var t = clear(id);
        var thead = el("thead");
        var tr = el("tr");
        heads.forEach(function (h) {
            tr.appendChild(el("th", h[1] ? { "class": "num" } : null, h[0]));
        });
        thead.appendChild(tr);
        t.appendChild(thead);
        var tbody = el("tbody");
        rows.forEach(function (r) {
            var row = el("tr", r.attrs);
            r.cells.forEach(function (c, i) {
                row.appendChild(el("td", heads[i][1] ? { "class": "num" } : c.cls ? { "class": c.cls } : null,
                    c.text !== undefined ? c.text : c));
            });
            tbody.appendChild(row);
        });
        if (!rows.length) {
            var e = el("tr", { "class": "empty" });
            e.appendChild(el("td", { colspan: heads.length }, empty));
            tbody.appendChild(e);
        }
        t.appendChild(tbody);
    }

    function drawNonMap(rows) {
        table("nonmap", [["where", false], ["hosts", true], ["bytes", true], ["packets", true]],
            rows.map(function (r) {
                var label = r.name || r.cc || r.scope || "unknown";
                return {
                    attrs: { "data-label": label, "data-hosts": r.hosts, "data-bytes": r.bytes },
                    cells: [label, fmtInt(r.hosts), fmtBytes(r.bytes), fmtInt(r.packets)]
                };
            }), "none");
    }

    function drawOs(hosts) {
        var m = {};
        hosts.forEach(function (h) {
            m[h.os] = (m[h.os] || 0) + 1;
        });
        var rows = Object.keys(m).map(function (k) {
            return { os: k, hosts: m[k] };
        }).sort(byDesc("hosts", "os"));
        table("os-table", [["OS guess", false], ["hosts", true], ["share", true]],
            rows.map(function (r) {
                return {
                    attrs: { "data-os": r.os, "data-hosts": r.hosts },
                    cells: [r.os, fmtInt(r.hosts), (100 * r.hosts / hosts.length).toFixed(1) + "%"]
                };
            }), "no hosts");
    }

    /* fields every alert has; the rest is its evidence */
    var ALERT_KEYS = ["type", "schema", "id", "kind", "attacker", "victim", "proto", "port",
        "start", "end", "window_start", "window_end", "evidence"];

    function alertStart(a) {
        return str(a.window_start || a.start);
    }

    function alertEnd(a) {
        return str(a.window_end || a.end);
    }

    function fmtValue(v) {
        if (Array.isArray(v)) {
            return v.length > 8 ? v.slice(0, 8).join(",") + ",\u2026 (" + v.length + ")" : v.join(",");
        }
        if (v && typeof v === "object") {
            return JSON.stringify(v);
        }
        return str(v);
    }

    function evidence(a) {
        var parts = [];
        if (a.proto) {
            parts.push("proto=" + str(a.proto));
        }
        if (a.port !== undefined && a.port !== null) {
            parts.push("port=" + str(a.port));
        }
        var ev = a.evidence && typeof a.evidence === "object" ? a.evidence : {};
        Object.keys(ev).sort().forEach(function (k) {
            parts.push(k + "=" + fmtValue(ev[k]));
        });
        Object.keys(a).filter(function (k) {
            return ALERT_KEYS.indexOf(k) < 0;
        }).sort().forEach(function (k) {
            parts.push(k + "=" + fmtValue(a[k]));
        });
        return parts.join(" ");
    }

    function drawAlerts(alerts) {
        var rows = alerts.slice().sort(function (a, b) {
            var x = alertStart(a);
            var y = alertStart(b);
            if (x !== y) {
                return x < y ? -1 : 1;
            }
            return str(a.kind) < str(b.kind) ? -1 : str(a.kind) > str(b.kind) ? 1 : 0;
        });
        table("alerts", [["kind", false], ["attacker", false], ["victim", false], ["window", false],
            ["evidence", false]],
        rows.map(function (a) {
            return {
                attrs: {
                    "data-kind": str(a.kind),
                    "data-attacker": a.attacker ? str(a.attacker) : null,
                    "data-victim": a.victim ? str(a.victim) : null
                },
                cells: [{ text: str(a.kind), cls: "alert-kind" }, str(a.attacker) || "(many)",
                    str(a.victim) || "(many)",
                    alertStart(a) + (alertEnd(a) ? " \u2013 " + alertEnd(a) : ""),
                    { text: evidence(a), cls: "evidence" }]
            };
        }), "no alerts");
    }

    function drawTalkers(hosts) {
        var rows = hosts.slice().sort(byDesc("bytes", "addr")).slice(0, TALKERS);
        table("talkers", [["#", true], ["host", false], ["country", false], ["OS guess", false],
            ["sent", true], ["received", true], ["total", true], ["packets", true]],
        rows.map(function (h, i) {
            var where = h.scope !== "public" ? h.scope : h.cc ? h.cc + (h.country ? " " + h.country : "") : "unknown";
            return {
                attrs: { "data-addr": h.addr, "data-bytes": h.bytes, "data-rank": i + 1 },
                cells: [i + 1, h.addr, where, h.os, fmtBytes(h.sent), fmtBytes(h.recv),
                    fmtBytes(h.bytes), fmtInt(h.packets)]
            };
        }), "no hosts");
    }

    function main() {
        var records = readJson("ns-data");
        var atlas = readJson("ns-atlas");
        var iso = readJson("ns-iso");
        var known = {};
        iso.forEach(function (row) {
            known[String(row[0])] = true;
        });
        known.XK = true;

        var hosts = [];
        var countries = [];
        var alerts = [];
        records.forEach(function (r) {
            if (!r || typeof r !== "object") {
                return;
            }
            if (r.type === "host") {
                hosts.push(normHost(r));
            } else if (r.type === "country") {
                countries.push(normCountry(r));
            } else if (r.type === "alert") {
                alerts.push(r);
            }
        });
        if (!countries.length) {
            countries = countriesFromHosts(hosts);
        }

        var onMap = [];
        var nonMap = [];
        var byCode = {};
        countries.forEach(function (c) {
            if (/^[A-Z]{2}$/.test(c.cc) && known[c.cc] && (!c.scope || c.scope === "public")) {
                onMap.push(c);
                byCode[c.cc] = c;
            } else {
                nonMap.push(c);
            }
        });
        onMap.forEach(function (c) {
            if (!c.name) {
                c.name = c.cc;
            }
        });
        var nonMapHosts = hosts.filter(function (h) {
            return h.scope !== "public" || !known[h.cc];
        }).length;

        drawPeriod(hosts);
        drawSummary(hosts, onMap, alerts, nonMapHosts);
        drawMap(atlas, iso, byCode);
        drawNonMap(nonMap.sort(byDesc("bytes", "name")));
        drawBars("bars-bytes", onMap.slice().sort(byDesc("bytes", "cc")), "bytes", fmtBytes);
        drawBars("bars-hosts", onMap.slice().sort(byDesc("hosts", "cc")), "hosts", fmtInt);
        drawOs(hosts);
        drawAlerts(alerts);
        drawTalkers(hosts);
        document.body.setAttribute("data-ready", "1");
    }

    try {
        main();
    } catch (e) {
        var box = document.getElementById("ns-error");
        box.hidden = false;
        box.textContent = "The dashboard could not be drawn: " + (e && e.message ? e.message : e);
        document.body.setAttribute("data-error", String(e && e.message ? e.message : e));
    }
}());
