/*
 * cmd_hosts.c - `netsift hosts`: who is talking. One record per IP address
 * (packets and bytes each way, peers, ports, first / last seen, MAC and
 * vendor, country / city / ASN, p0f OS guess, alerts), the sums per
 * country, and attack hints (scans, sweeps, floods, brute force), as text
 * tables, JSON Lines or CSV (docs/cli/hosts.md; records "host", "country",
 * "alert" and "window" of docs/schema/README.md).
 *
 * The pipeline feeds three analyzers: the host table (every packet), p0f
 * (SYN and SYN+ACK packets of hosts whose OS guess could still improve)
 * and the scan detector (every ended flow, ICMP port-unreachables). GeoIP
 * lookups happen when records are written, not per packet.
 *
 * Optional data files: an explicit --geoip / --p0f file that is missing or
 * broken is an error (exit 1, one line naming the file); a default one that
 * is missing is noted under -v and the report goes on without it.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netsift/alloc.h"
#include "netsift/dashboard.h"
#include "netsift/geo.h"
#include "netsift/httpfp.h"
#include "netsift/hosts.h"
#include "netsift/jsonw.h"
#include "netsift/oui.h"
#include "netsift/p0f.h"
#include "netsift/pipeline.h"
#include "netsift/scan.h"
#include "netsift/sink.h"

#define HOSTS_MAX_GEOIP 8

static const char hosts_usage[] =
    "usage: netsift hosts [-r FILE|DIR]... [-i IFACE] [--format text|json|csv] [--json]\n"
    "                     [--geoip FILE]... [--no-geoip] [--p0f FILE] [--no-p0f]\n"
    "                     [--oui DIR] [--html FILE] [--window SECONDS] [--max-hosts N]\n"
    "                     [--scan-window S] [--scan-ports N] [--scan-hosts N]\n"
    "                     [--flood-syns N] [--sweep-hosts N] [--udp-ports N]\n"
    "                     [--brute-failures N] [--stats] [-q] [-v] [BPF expression]\n";

static const char hosts_help[] =
    "\n"
    "Read captures (or a live interface) and report every host: traffic each\n"
    "way, peers, ports, MAC vendor, country / city / ASN, passive OS guess (p0f\n"
    "v3 signatures), and alerts for scans, sweeps, SYN floods and brute force.\n"
    "\n"
    "  -r FILE|DIR          read a pcap / pcapng file (.gz too), a directory of\n"
    "                       them, or '-' for stdin; repeat to merge by time\n"
    "  -i IFACE             capture live; a summary every --window seconds\n"
    "  --format FMT         text (tables, the default), json (JSON Lines: host,\n"
    "                       country, alert records) or csv (hosts only)\n"
    "  --json               the same as --format json\n"
    "  --geoip FILE         an MMDB file (MaxMind or ip-location-db layout);\n"
    "                       repeat for country + city + ASN files. Default: every\n"
    "                       .mmdb in $NETSIFT_DATA_DIR, ~/.local/share/netsift,\n"
    "                       /usr/local/share/netsift (scripts/deps.sh --geoip)\n"
    "  --no-geoip           no GeoIP lookups\n"
    "  --p0f FILE           p0f v3 signatures (default /etc/p0f/p0f.fp if present)\n"
    "  --no-p0f             no OS fingerprinting\n"
    "  --oui DIR            IEEE registry CSVs (default /usr/share/ieee-data)\n"
    "  --html FILE          also write a self-contained dashboard page (world\n"
    "                       map, country charts, OS table, alerts, top talkers)\n"
    "                       from the JSON records; with -i it is rewritten in\n"
    "                       place every --window seconds (the recent window)\n"
    "  --window SECONDS     a summary of the hosts active in each window of\n"
    "                       capture time (default 10 with -i, off with -r)\n"
    "  --max-hosts N        hosts held at once (default 65536); the least\n"
    "                       recently seen one is evicted (counted)\n"
    "  --scan-window S      time window of the attack detectors (default 60)\n"
    "  --scan-ports N       vertical scan: distinct ports (default 100)\n"
    "  --scan-hosts N       horizontal scan: distinct targets (default 50)\n"
    "  --flood-syns N       SYN flood: half-open connections (default 1000)\n"
    "  --sweep-hosts N      ICMP sweep: hosts pinged (default 50)\n"
    "  --udp-ports N        UDP scan: distinct unanswered ports (default 100)\n"
    "  --brute-failures N   brute force: failed connections (default 50)\n"
    "  --stats              counters at the end (json: a \"stats\" record)\n"
    "  -q, --quiet          no progress line\n"
    "  -v, --verbose        notes about data files and a summary on stderr\n"
    "  -h, --help           this help\n"
    "\n"
    "Trailing words are a BPF filter in tcpdump syntax, e.g. 'tcp or icmp'.\n"
    "Exit status: 0 success, 1 an input or an explicit data file could not be\n"
    "read, 2 usage error.\n";

enum {
    OPT_FORMAT = 256,
    OPT_JSON,
    OPT_STATS,
    OPT_GEOIP,
    OPT_NO_GEOIP,
    OPT_P0F,
    OPT_NO_P0F,
    OPT_OUI,
    OPT_WINDOW,
    OPT_MAX_HOSTS,
    OPT_SCAN_WINDOW,
    OPT_SCAN_PORTS,
    OPT_SCAN_HOSTS,
    OPT_FLOOD_SYNS,
    OPT_SWEEP_HOSTS,
    OPT_UDP_PORTS,
    OPT_BRUTE_FAILURES,
    OPT_HTML,
};

static const struct option hosts_options[] = {
    {"brute-failures", required_argument, NULL, OPT_BRUTE_FAILURES},
    {"flood-syns", required_argument, NULL, OPT_FLOOD_SYNS},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"geoip", required_argument, NULL, OPT_GEOIP},
    {"help", no_argument, NULL, 'h'},
    {"html", required_argument, NULL, OPT_HTML},
    {"json", no_argument, NULL, OPT_JSON},
    {"max-hosts", required_argument, NULL, OPT_MAX_HOSTS},
    {"no-geoip", no_argument, NULL, OPT_NO_GEOIP},
    {"no-p0f", no_argument, NULL, OPT_NO_P0F},
    {"oui", required_argument, NULL, OPT_OUI},
    {"p0f", required_argument, NULL, OPT_P0F},
    {"quiet", no_argument, NULL, 'q'},
    {"scan-hosts", required_argument, NULL, OPT_SCAN_HOSTS},
    {"scan-ports", required_argument, NULL, OPT_SCAN_PORTS},
    {"scan-window", required_argument, NULL, OPT_SCAN_WINDOW},
    {"stats", no_argument, NULL, OPT_STATS},
    {"sweep-hosts", required_argument, NULL, OPT_SWEEP_HOSTS},
    {"udp-ports", required_argument, NULL, OPT_UDP_PORTS},
    {"verbose", no_argument, NULL, 'v'},
    {"window", required_argument, NULL, OPT_WINDOW},
    {NULL, 0, NULL, 0},
};

struct hosts_ctx {
    enum ns_cli_format fmt;
    FILE *out;
    struct ns_pipeline *pl;
    struct ns_hosts *hosts;
    struct ns_scan *scan;
    struct ns_geo *geo;
    struct ns_oui *oui;
    struct hosts_oui_job *oui_job; /* the default registry, loading meanwhile (or NULL) */
    int verbose;
    struct ns_p0f_db *p0f;
    bool live;
    const char *html_path; /* --html FILE, or NULL */
    int html_rc;           /* 0, or the first failure writing the page */
    uint64_t window_ns;    /* 0: no window summaries */
    uint64_t win_start;
    uint64_t win_seq;
    uint64_t p0f_calls;
    struct ns_httpfp *httpfp; /* HTTP fingerprints (with p0f signatures), on a worker thread */
    uint64_t http_no_memory;  /* results the host table could not take */
    struct ns_cli_progress progress;
    int write_rc;
    char buf[16384]; /* one JSON line */
};

/* --- small output helpers --------------------------------------------------------- */

static void hosts_clear_progress(struct hosts_ctx *c)
{
    ns_cli_progress_clear(&c->progress);
}

static void hosts_emit(struct hosts_ctx *c, struct ns_jsonw *w)
{
    size_t len = 0;
    if (c->write_rc != 0) {
        return;
    }
    if (ns_jsonw_end(w, &len) != 0) {
        c->write_rc = NS_ELIMIT;
        return;
    }
    if (fwrite(c->buf, 1, len, c->out) != len) {
        c->write_rc = NS_EIO;
    }
}

/* A JSON number with a fraction: jsonw has no float writer, so write null and replace it. */
static void hosts_json_double(struct ns_jsonw *w, const char *key, double v)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%.4f", v);
    ns_jsonw_null(w, key);
    if (w->overflow || n <= 0 || !isfinite(v) || w->len < 4) {
        return;
    }
    w->len -= 4; /* "null" */
    if ((size_t)n + 1 > w->cap - w->len) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, num, (size_t)n);
    w->len += (size_t)n;
}

static const char *hosts_proto_name(uint8_t p)
{
    switch (p) {
    case NS_IPPROTO_TCP:
        return "tcp";
    case NS_IPPROTO_UDP:
        return "udp";
    case NS_IPPROTO_ICMP:
        return "icmp";
    case NS_IPPROTO_ICMPV6:
        return "icmpv6";
    default:
        return "other";
    }
}

static void hosts_fmt_mac(const uint8_t *m, char *buf, size_t size)
{
    snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* "tcp/80,tcp/443" (for text and CSV). */
static void hosts_fmt_ports(const struct ns_host_port *p, uint8_t n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (uint8_t i = 0; i < n && len < size; i++) {
        int k = snprintf(buf + len, size - len, "%s%s/%u", i > 0 ? " " : "",
                         hosts_proto_name(p[i].proto), p[i].port);
        if (k < 0) {
            break;
        }
        len += (size_t)k;
    }
}

/* Flows to a port, at least (Space-Saving's count minus its over-count bound). */
static uint64_t hosts_port_flows(const struct ns_host_port *p)
{
    return p->count - p->error;
}

static int hosts_cmp_port(const void *a, const void *b)
{
    const struct ns_host_port *x = a;
    const struct ns_host_port *y = b;
    if (hosts_port_flows(x) != hosts_port_flows(y)) {
        return hosts_port_flows(x) > hosts_port_flows(y) ? -1 : 1;
    }
    if (x->proto != y->proto) {
        return x->proto < y->proto ? -1 : 1;
    }
    return x->port < y->port ? -1 : x->port > y->port;
}

static void hosts_sorted_ports(const struct ns_host_port *in, uint8_t n, struct ns_host_port *out)
{
    memcpy(out, in, n * sizeof(*in));
    qsort(out, n, sizeof(*out), hosts_cmp_port);
}

static void hosts_json_ports(struct ns_jsonw *w, const char *key, const struct ns_host_port *in,
                             uint8_t n)
{
    struct ns_host_port p[NS_HOST_TOP_PORTS];
    hosts_sorted_ports(in, n, p);
    ns_jsonw_arr_begin(w, key);
    for (uint8_t i = 0; i < n; i++) {
        ns_jsonw_obj_begin(w, NULL);
        ns_jsonw_cstr(w, "proto", hosts_proto_name(p[i].proto));
        ns_jsonw_u64(w, "port", p[i].port);
        ns_jsonw_u64(w, "flows", hosts_port_flows(&p[i]));
        ns_jsonw_obj_end(w);
    }
    ns_jsonw_arr_end(w);
}

/* --- records -------------------------------------------------------------------------- */

static void hosts_write_host_json(struct hosts_ctx *c, const struct ns_host *x, bool window)
{
    struct ns_jsonw w;
    struct ns_geo_result g;
    char addr[64];
    char t1[NS_SINK_TIME_SIZE];
    char t2[NS_SINK_TIME_SIZE];
    char mac[24];
    const struct ns_host_counts *k = window ? &x->win : &x->total;

    ns_geo_lookup(c->geo, &x->addr, &g);
    ns_addr_format(&x->addr, addr, sizeof(addr));
    ns_jsonw_begin(&w, c->buf, sizeof(c->buf));
    ns_jsonw_cstr(&w, "type", "host");
    ns_jsonw_u64(&w, "schema", 1);
    if (window) {
        ns_jsonw_u64(&w, "window", c->win_seq);
    }
    ns_jsonw_cstr(&w, "addr", addr);
    ns_jsonw_u64(&w, "ip_version", x->addr.family);
    ns_jsonw_cstr(&w, "scope", ns_geo_scope_name(g.scope));
    ns_jsonw_cstr(&w, "first_seen", ns_sink_format_time(x->first_ns, t1, sizeof(t1)));
    ns_jsonw_cstr(&w, "last_seen", ns_sink_format_time(x->last_ns, t2, sizeof(t2)));
    ns_jsonw_u64(&w, "packets_sent", k->packets_sent);
    ns_jsonw_u64(&w, "packets_recv", k->packets_recv);
    ns_jsonw_u64(&w, "bytes_sent", k->bytes_sent);
    ns_jsonw_u64(&w, "bytes_recv", k->bytes_recv);
    ns_jsonw_u64(&w, "peers", ns_host_peers(x));
    ns_jsonw_u64(&w, "flows_opened", x->flows_opened);
    ns_jsonw_u64(&w, "flows_answered", x->flows_answered);
    hosts_json_ports(&w, "ports_contacted", x->contacted, x->ncontacted);
    hosts_json_ports(&w, "ports_served", x->served, x->nserved);
    if (x->has_mac) {
        hosts_fmt_mac(x->mac, mac, sizeof(mac));
        ns_jsonw_cstr(&w, "mac", mac);
        const char *vendor = ns_oui_lookup(c->oui, x->mac);
        if (vendor != NULL) {
            ns_jsonw_cstr(&w, "mac_vendor", vendor);
        }
        ns_jsonw_u64(&w, "mac_changes", x->mac_changes);
    }
    if (g.country_code[0] != '\0') {
        ns_jsonw_cstr(&w, "country_code", g.country_code);
        if (g.country_name[0] != '\0') {
            ns_jsonw_cstr(&w, "country_name", g.country_name);
        }
        const char *iso3 = ns_geo_country_iso3(g.country_code);
        if (iso3 != NULL) {
            ns_jsonw_cstr(&w, "country_iso3", iso3);
        }
    }
    if (g.city[0] != '\0') {
        ns_jsonw_cstr(&w, "city", g.city);
    }
    if (g.has_location) {
        hosts_json_double(&w, "latitude", g.latitude);
        hosts_json_double(&w, "longitude", g.longitude);
    }
    if (g.asn != 0) {
        ns_jsonw_u64(&w, "asn", g.asn);
    }
    if (g.as_org[0] != '\0') {
        ns_jsonw_cstr(&w, "as_org", g.as_org);
    }
    if (x->has_os) {
        ns_jsonw_obj_begin(&w, "os");
        if (x->os.os != NULL) {
            ns_jsonw_cstr(&w, "name", x->os.os);
            ns_jsonw_cstr(&w, "flavor", x->os.flavor != NULL ? x->os.flavor : "");
            if (x->os.class_ != NULL) {
                ns_jsonw_cstr(&w, "class", x->os.class_);
            }
        }
        ns_jsonw_cstr(&w, "match", ns_p0f_match_name(x->os.match));
        ns_jsonw_cstr(&w, "source", x->os_syn ? "syn" : "syn_ack");
        if (x->os.dist >= 0) {
            ns_jsonw_i64(&w, "dist", x->os.dist);
        }
        ns_jsonw_cstr(&w, "raw_sig", x->os.raw_sig);
        if (x->os.link != NULL) {
            ns_jsonw_cstr(&w, "link", x->os.link);
        }
        if (x->os.mtu != 0) {
            ns_jsonw_u64(&w, "mtu", x->os.mtu);
        }
        ns_jsonw_obj_end(&w);
    }
    if (x->http[0].seen || x->http[1].seen) {
        ns_jsonw_obj_begin(&w, "http");
        for (int r = 1; r >= 0; r--) {
            const struct ns_host_http *hh = &x->http[r];
            if (!hh->seen) {
                continue;
            }
            ns_jsonw_obj_begin(&w, r == 1 ? "client" : "server");
            if (hh->name != NULL) {
                ns_jsonw_cstr(&w, "name", hh->name);
                ns_jsonw_cstr(&w, "flavor", hh->flavor != NULL ? hh->flavor : "");
                ns_jsonw_cstr(&w, "class", hh->class_ != NULL ? hh->class_ : "");
            }
            ns_jsonw_cstr(&w, "match", ns_p0f_match_name(hh->match));
            ns_jsonw_bool(&w, "dishonest", hh->dishonest);
            if (hh->ua_os != NULL) {
                ns_jsonw_cstr(&w, "ua_os", hh->ua_os);
            }
            ns_jsonw_u64(&w, "messages", hh->messages);
            ns_jsonw_cstr(&w, "raw_sig", hh->raw_sig != NULL ? hh->raw_sig : "");
            ns_jsonw_obj_end(&w);
        }
        ns_jsonw_obj_end(&w);
    }
    ns_jsonw_obj_begin(&w, "alerts");
    ns_jsonw_u64(&w, "as_attacker", x->alerts_attacker);
    ns_jsonw_u64(&w, "as_victim", x->alerts_victim);
    ns_jsonw_arr_begin(&w, "kinds");
    for (unsigned kd = 0; kd < NS_SCAN_KIND_COUNT; kd++) {
        if ((x->alert_kinds & (1u << kd)) != 0) {
            ns_jsonw_cstr(&w, NULL, ns_scan_kind_name((enum ns_scan_kind)kd));
        }
    }
    ns_jsonw_arr_end(&w);
    ns_jsonw_obj_end(&w);
    hosts_emit(c, &w);
}

static void hosts_write_country_json(struct hosts_ctx *c, const struct ns_country *k, bool window)
{
    struct ns_jsonw w;
    ns_jsonw_begin(&w, c->buf, sizeof(c->buf));
    ns_jsonw_cstr(&w, "type", "country");
    ns_jsonw_u64(&w, "schema", 1);
    if (window) {
        ns_jsonw_u64(&w, "window", c->win_seq);
    }
    if (k->is_country) {
        ns_jsonw_cstr(&w, "country_code", k->key);
        const char *name = ns_geo_country_name(k->key);
        if (name != NULL) {
            ns_jsonw_cstr(&w, "country_name", name);
        }
        const char *iso3 = ns_geo_country_iso3(k->key);
        if (iso3 != NULL) {
            ns_jsonw_cstr(&w, "country_iso3", iso3);
        }
        ns_jsonw_cstr(&w, "scope", "public");
    } else {
        ns_jsonw_null(&w, "country_code");
        ns_jsonw_cstr(&w, "scope", strcmp(k->key, "unknown") == 0 ? "public" : k->key);
    }
    ns_jsonw_cstr(&w, "key", k->key);
    ns_jsonw_u64(&w, "hosts", k->hosts);
    ns_jsonw_u64(&w, "packets_sent", k->c.packets_sent);
    ns_jsonw_u64(&w, "packets_recv", k->c.packets_recv);
    ns_jsonw_u64(&w, "bytes_sent", k->c.bytes_sent);
    ns_jsonw_u64(&w, "bytes_recv", k->c.bytes_recv);
    hosts_emit(c, &w);
}

static void hosts_write_alert_json(struct hosts_ctx *c, const struct ns_scan_alert *a)
{
    struct ns_jsonw w;
    char addr[64];
    char t1[NS_SINK_TIME_SIZE];
    char t2[NS_SINK_TIME_SIZE];
    ns_jsonw_begin(&w, c->buf, sizeof(c->buf));
    ns_jsonw_cstr(&w, "type", "alert");
    ns_jsonw_u64(&w, "schema", 1);
    ns_jsonw_u64(&w, "id", a->id);
    ns_jsonw_cstr(&w, "kind", ns_scan_kind_name(a->kind));
    if (a->attacker.family != 0) {
        ns_jsonw_cstr(&w, "attacker", ns_addr_format(&a->attacker, addr, sizeof(addr)));
    } else {
        ns_jsonw_null(&w, "attacker");
    }
    if (a->victim.family != 0) {
        ns_jsonw_cstr(&w, "victim", ns_addr_format(&a->victim, addr, sizeof(addr)));
    } else {
        ns_jsonw_null(&w, "victim");
    }
    ns_jsonw_cstr(&w, "proto", hosts_proto_name(a->proto));
    if (a->has_port) {
        ns_jsonw_u64(&w, "port", a->port);
    } else {
        ns_jsonw_null(&w, "port");
    }
    ns_jsonw_cstr(&w, "start", ns_sink_format_time(a->start_ns, t1, sizeof(t1)));
    ns_jsonw_cstr(&w, "end", ns_sink_format_time(a->end_ns, t2, sizeof(t2)));
    ns_jsonw_obj_begin(&w, "evidence");
    ns_jsonw_u64(&w, "attempts", a->attempts);
    switch (a->kind) {
    case NS_SCAN_VERTICAL:
    case NS_SCAN_UDP:
        ns_jsonw_u64(&w, "ports", a->distinct);
        break;
    case NS_SCAN_HORIZONTAL:
    case NS_SCAN_ICMP_SWEEP:
        ns_jsonw_u64(&w, "targets", a->distinct);
        break;
    case NS_SCAN_SYN_FLOOD:
        ns_jsonw_u64(&w, "sources", a->distinct);
        break;
    default:
        break;
    }
    if (a->kind != NS_SCAN_BRUTE_FORCE) {
        ns_jsonw_bool(&w, "distinct_saturated", a->distinct_saturated);
    }
    if (a->proto == NS_IPPROTO_TCP) {
        ns_jsonw_u64(&w, "half_open", a->half_open);
        ns_jsonw_u64(&w, "refused", a->refused);
        ns_jsonw_u64(&w, "unanswered", a->unanswered);
    } else {
        ns_jsonw_u64(&w, "answered", a->answered);
        ns_jsonw_u64(&w, "unanswered", a->unanswered);
    }
    if (a->kind == NS_SCAN_UDP) {
        ns_jsonw_u64(&w, "icmp_unreachable", a->icmp_unreachable);
    }
    ns_jsonw_obj_end(&w);
    hosts_emit(c, &w);
}

static void hosts_write_alert_text(struct hosts_ctx *c, const struct ns_scan_alert *a)
{
    char att[64] = "many";
    char vic[64] = "many";
    char t1[NS_SINK_TIME_SIZE];
    if (a->attacker.family != 0) {
        ns_addr_format(&a->attacker, att, sizeof(att));
    }
    if (a->victim.family != 0) {
        ns_addr_format(&a->victim, vic, sizeof(vic));
    }
    fprintf(c->out, "%-16s %-26s %-40s %-40s", ns_scan_kind_name(a->kind),
            ns_sink_format_time(a->start_ns, t1, sizeof(t1)), att, vic);
    if (a->has_port) {
        fprintf(c->out, " %s/%u", hosts_proto_name(a->proto), a->port);
    } else {
        fprintf(c->out, " %s", hosts_proto_name(a->proto));
    }
    fprintf(c->out, " attempts=%llu distinct=%llu%s duration=%.1fs\n",
            (unsigned long long)a->attempts, (unsigned long long)a->distinct,
            a->distinct_saturated ? "+" : "", (double)(a->end_ns - a->start_ns) / 1e9);
}

/* CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180). */
static void hosts_csv_field(FILE *fp, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n") != NULL) {
        fputc('"', fp);
        for (const char *p = s; *p != '\0'; p++) {
            if (*p == '"') {
                fputc('"', fp);
            }
            fputc(*p, fp);
        }
        fputc('"', fp);
    } else {
        fputs(s, fp);
    }
    fputc(last ? '\n' : ',', fp);
}

static const char hosts_csv_header[] =
    "addr,scope,first_seen,last_seen,packets_sent,packets_recv,bytes_sent,bytes_recv,peers,"
    "mac,mac_vendor,country_code,country_name,city,latitude,longitude,asn,as_org,os,os_flavor,"
    "os_match,os_dist,ports_contacted,ports_served,alerts_as_attacker,alerts_as_victim,"
    "http_client,http_server\n";

/*
 * The HTTP guess of a role ([0] server, [1] client) as text: "name flavor",
 * "???" when its messages matched no signature, "" when the role was not seen.
 */
static const char *hosts_http_label(const struct ns_host *x, int role, char *buf, size_t size)
{
    const struct ns_host_http *h = &x->http[role];
    if (!h->seen) {
        buf[0] = '\0';
    } else if (h->name == NULL) {
        snprintf(buf, size, "???");
    } else {
        snprintf(buf, size, "%s%s%s", h->name, h->flavor != NULL && h->flavor[0] != '\0' ? " " : "",
                 h->flavor != NULL ? h->flavor : "");
    }
    return buf;
}

static void hosts_write_host_csv(struct hosts_ctx *c, const struct ns_host *x)
{
    struct ns_geo_result g;
    char addr[64];
    char t1[NS_SINK_TIME_SIZE];
    char t2[NS_SINK_TIME_SIZE];
    char num[32];
    char mac[24] = "";
    char ports[256];
    struct ns_host_port p[NS_HOST_TOP_PORTS];
    FILE *fp = c->out;

    ns_geo_lookup(c->geo, &x->addr, &g);
    hosts_csv_field(fp, ns_addr_format(&x->addr, addr, sizeof(addr)), false);
    hosts_csv_field(fp, ns_geo_scope_name(g.scope), false);
    hosts_csv_field(fp, ns_sink_format_time(x->first_ns, t1, sizeof(t1)), false);
    hosts_csv_field(fp, ns_sink_format_time(x->last_ns, t2, sizeof(t2)), false);
    fprintf(fp, "%llu,%llu,%llu,%llu,%llu,", (unsigned long long)x->total.packets_sent,
            (unsigned long long)x->total.packets_recv, (unsigned long long)x->total.bytes_sent,
            (unsigned long long)x->total.bytes_recv, (unsigned long long)ns_host_peers(x));
    if (x->has_mac) {
        hosts_fmt_mac(x->mac, mac, sizeof(mac));
    }
    hosts_csv_field(fp, mac, false);
    const char *vendor = x->has_mac ? ns_oui_lookup(c->oui, x->mac) : NULL;
    hosts_csv_field(fp, vendor != NULL ? vendor : "", false);
    hosts_csv_field(fp, g.country_code, false);
    hosts_csv_field(fp, g.country_name, false);
    hosts_csv_field(fp, g.city, false);
    if (g.has_location) {
        fprintf(fp, "%.4f,%.4f,", g.latitude, g.longitude);
    } else {
        fputs(",,", fp);
    }
    if (g.asn != 0) {
        fprintf(fp, "%u,", g.asn);
    } else {
        fputc(',', fp);
    }
    hosts_csv_field(fp, g.as_org, false);
    hosts_csv_field(fp, x->has_os && x->os.os != NULL ? x->os.os : "", false);
    hosts_csv_field(fp, x->has_os && x->os.flavor != NULL ? x->os.flavor : "", false);
    hosts_csv_field(fp, x->has_os ? ns_p0f_match_name(x->os.match) : "", false);
    num[0] = '\0';
    if (x->has_os && x->os.dist >= 0) {
        snprintf(num, sizeof(num), "%d", x->os.dist);
    }
    hosts_csv_field(fp, num, false);
    hosts_sorted_ports(x->contacted, x->ncontacted, p);
    hosts_fmt_ports(p, x->ncontacted, ports, sizeof(ports));
    hosts_csv_field(fp, ports, false);
    hosts_sorted_ports(x->served, x->nserved, p);
    hosts_fmt_ports(p, x->nserved, ports, sizeof(ports));
    hosts_csv_field(fp, ports, false);
    fprintf(fp, "%u,%u,", x->alerts_attacker, x->alerts_victim);
    char label[128];
    hosts_csv_field(fp, hosts_http_label(x, 1, label, sizeof(label)), false);
    hosts_csv_field(fp, hosts_http_label(x, 0, label, sizeof(label)), true);
}

static void hosts_fmt_bytes(uint64_t v, char *buf, size_t size)
{
    if (v < 10000) {
        snprintf(buf, size, "%llu", (unsigned long long)v);
    } else if (v < 10ull * 1024 * 1024) {
        snprintf(buf, size, "%.1fK", (double)v / 1024.0);
    } else if (v < 10ull * 1024 * 1024 * 1024) {
        snprintf(buf, size, "%.1fM", (double)v / (1024.0 * 1024.0));
    } else {
        snprintf(buf, size, "%.1fG", (double)v / (1024.0 * 1024.0 * 1024.0));
    }
}

static void hosts_write_host_text(struct hosts_ctx *c, const struct ns_host *x, bool window)
{
    struct ns_geo_result g;
    char addr[64];
    char b1[16];
    char b2[16];
    char where[48];
    char os[64] = "-";
    char mac[64] = "-";
    const struct ns_host_counts *k = window ? &x->win : &x->total;

    ns_geo_lookup(c->geo, &x->addr, &g);
    ns_addr_format(&x->addr, addr, sizeof(addr));
    hosts_fmt_bytes(k->bytes_sent, b1, sizeof(b1));
    hosts_fmt_bytes(k->bytes_recv, b2, sizeof(b2));
    if (g.scope != NS_GEO_PUBLIC) {
        snprintf(where, sizeof(where), "%s", ns_geo_scope_name(g.scope));
    } else if (g.country_code[0] != '\0' && g.asn != 0) {
        snprintf(where, sizeof(where), "%s AS%u", g.country_code, g.asn);
    } else if (g.country_code[0] != '\0') {
        snprintf(where, sizeof(where), "%s", g.country_code);
    } else if (g.asn != 0) {
        snprintf(where, sizeof(where), "AS%u", g.asn);
    } else {
        snprintf(where, sizeof(where), "-");
    }
    if (x->has_os && x->os.os != NULL) {
        snprintf(os, sizeof(os), "%s%s%s (%s)", x->os.os,
                 x->os.flavor != NULL && x->os.flavor[0] != '\0' ? " " : "",
                 x->os.flavor != NULL ? x->os.flavor : "", ns_p0f_match_name(x->os.match));
    }
    if (x->has_mac) {
        const char *vendor = ns_oui_lookup(c->oui, x->mac);
        hosts_fmt_mac(x->mac, mac, sizeof(mac));
        if (vendor != NULL) {
            size_t n = strlen(mac);
            snprintf(mac + n, sizeof(mac) - n, " %.24s", vendor);
        }
    }
    fprintf(c->out, "%-39s %9llu %9llu %9s %9s %6llu %-16s %-34s %s", addr,
            (unsigned long long)k->packets_sent, (unsigned long long)k->packets_recv, b1, b2,
            (unsigned long long)ns_host_peers(x), where, os, mac);
    if (x->alerts_attacker + x->alerts_victim > 0) {
        fprintf(c->out, " alerts=%u/%u", x->alerts_attacker, x->alerts_victim);
    }
    static const char *const role_name[2] = {"http-server", "http-client"};
    for (int role = 1; role >= 0; role--) {
        char label[128];
        if (x->http[role].seen && x->http[role].name != NULL) {
            fprintf(c->out, " %s=%s", role_name[role],
                    hosts_http_label(x, role, label, sizeof(label)));
        }
    }
    fputc('\n', c->out);
}

static void hosts_write_country_text(struct hosts_ctx *c, const struct ns_country *k)
{
    char b1[16];
    char b2[16];
    const char *name = k->is_country ? ns_geo_country_name(k->key) : NULL;
    hosts_fmt_bytes(k->c.bytes_sent, b1, sizeof(b1));
    hosts_fmt_bytes(k->c.bytes_recv, b2, sizeof(b2));
    fprintf(c->out, "%-14s %-28.28s %7llu %10llu %10llu %9s %9s\n", k->key,
            name != NULL ? name : "", (unsigned long long)k->hosts,
            (unsigned long long)k->c.packets_sent, (unsigned long long)k->c.packets_recv, b1, b2);
}

static int hosts_cmp_alert(const void *a, const void *b)
{
    const struct ns_scan_alert *x = a;
    const struct ns_scan_alert *y = b;
    if (x->start_ns != y->start_ns) {
        return x->start_ns < y->start_ns ? -1 : 1;
    }
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The alerts raised so far that ended at or after min_end_ns, by start time. */
static void hosts_write_alerts(struct hosts_ctx *c, uint64_t min_end_ns)
{
    size_t na = 0;
    size_t n = 0;
    const struct ns_scan_alert *al = ns_scan_alerts(c->scan, &na);
    struct ns_scan_alert *sorted = ns_calloc(na > 0 ? na : 1, sizeof(*sorted));
    if (sorted == NULL) {
        c->write_rc = NS_ENOMEM;
        return;
    }
    for (size_t i = 0; i < na; i++) {
        if (al[i].end_ns >= min_end_ns) {
            sorted[n++] = al[i];
        }
    }
    qsort(sorted, n, sizeof(*sorted), hosts_cmp_alert);
    if (c->fmt == NS_FMT_TEXT) {
        fprintf(c->out, "\n%-16s %-26s %-40s %-40s %s\n", "ALERT", "START", "ATTACKER", "VICTIM",
                "EVIDENCE");
    }
    for (size_t i = 0; i < n; i++) {
        if (c->fmt == NS_FMT_JSON) {
            hosts_write_alert_json(c, &sorted[i]);
        } else {
            hosts_write_alert_text(c, &sorted[i]);
        }
    }
    ns_free(sorted);
}

/* The whole report (or one window summary). */
/*
 * The IEEE registry of the default directory (some 40k lines of CSV) is read
 * on a thread of its own while the capture is: vendors are only looked up in
 * reports. An explicit --oui DIR is read before the capture, so that a bad
 * one stops the command at once.
 */
struct hosts_oui_job {
    pthread_t thread;
    bool threaded; /* else it was read at once (no thread could start) */
    int rc;
    struct ns_error err;
    struct ns_oui *oui;
};

static void *hosts_oui_main(void *arg)
{
    struct hosts_oui_job *j = arg;
    j->rc = ns_oui_load(&j->oui, NULL, &j->err);
    return NULL;
}

/* The default registry is wanted now: wait for it (a missing one only gets a note). */
static void hosts_oui_wait(struct hosts_ctx *c)
{
    struct hosts_oui_job *j = c->oui_job;
    if (j == NULL) {
        return;
    }
    c->oui_job = NULL;
    if (j->threaded) {
        pthread_join(j->thread, NULL);
    }
    if (j->rc == 0) {
        c->oui = j->oui;
    } else if (c->verbose > 0) {
        hosts_clear_progress(c);
        fprintf(stderr, "netsift: note: %s (install ieee-data): no MAC vendors\n", j->err.msg);
    }
    ns_free(j);
}

static void hosts_report(struct hosts_ctx *c, bool window)
{
    const struct ns_host **list = NULL;
    struct ns_country *countries = NULL;
    size_t nh = 0;
    size_t nc = 0;

    hosts_oui_wait(c);

    if (ns_hosts_list(c->hosts, window, &list, &nh) != 0 ||
        (c->fmt != NS_FMT_CSV &&
         ns_hosts_countries(c->hosts, c->geo, window, &countries, &nc) != 0)) {
        c->write_rc = NS_ENOMEM;
        goto out;
    }
    if (c->fmt == NS_FMT_JSON) {
        if (window) {
            struct ns_jsonw w;
            char t1[NS_SINK_TIME_SIZE];
            char t2[NS_SINK_TIME_SIZE];
            ns_jsonw_begin(&w, c->buf, sizeof(c->buf));
            ns_jsonw_cstr(&w, "type", "window");
            ns_jsonw_u64(&w, "schema", 1);
            ns_jsonw_u64(&w, "window", c->win_seq);
            ns_jsonw_cstr(&w, "start", ns_sink_format_time(c->win_start, t1, sizeof(t1)));
            ns_jsonw_cstr(&w, "end",
                          ns_sink_format_time(c->win_start + c->window_ns, t2, sizeof(t2)));
            ns_jsonw_u64(&w, "hosts", nh);
            hosts_emit(c, &w);
        }
        for (size_t i = 0; i < nh; i++) {
            hosts_write_host_json(c, list[i], window);
        }
        for (size_t i = 0; i < nc; i++) {
            hosts_write_country_json(c, &countries[i], window);
        }
    } else if (c->fmt == NS_FMT_CSV) {
        if (!window || c->win_seq == 1) {
            fputs(hosts_csv_header, c->out);
        }
        for (size_t i = 0; i < nh; i++) {
            hosts_write_host_csv(c, list[i]);
        }
    } else {
        char t1[NS_SINK_TIME_SIZE];
        if (window) {
            fprintf(c->out, "== window %llu from %s: %zu hosts\n", (unsigned long long)c->win_seq,
                    ns_sink_format_time(c->win_start, t1, sizeof(t1)), nh);
        }
        fprintf(c->out, "%-39s %9s %9s %9s %9s %6s %-16s %-34s %s\n", "HOST", "PKTS_OUT", "PKTS_IN",
                "BYTES_OUT", "BYTES_IN", "PEERS", "WHERE", "OS", "MAC");
        for (size_t i = 0; i < nh; i++) {
            hosts_write_host_text(c, list[i], window);
        }
        fprintf(c->out, "\n%-14s %-28s %7s %10s %10s %9s %9s\n", "COUNTRY", "NAME", "HOSTS",
                "PKTS_OUT", "PKTS_IN", "BYTES_OUT", "BYTES_IN");
        for (size_t i = 0; i < nc; i++) {
            hosts_write_country_text(c, &countries[i]);
        }
    }
    if (!window && c->fmt != NS_FMT_CSV) {
        hosts_write_alerts(c, 0);
    }
    if (c->write_rc == 0 && ferror(c->out)) {
        c->write_rc = NS_EIO;
    }
out:
    ns_free(list);
    ns_free(countries);
}

/*
 * --html: the report's JSON Lines records (host, country, alert; for a
 * window, its hosts and countries and the alerts that reached into it)
 * rendered a second time into memory, then the page written to FILE.tmp,
 * synced and renamed over FILE, so a reader never sees half a page.
 */
static int hosts_write_page(struct hosts_ctx *c, bool window)
{
    char *recs = NULL;
    size_t len = 0;
    char tmp[4096];
    char title[128];
    struct ns_error err;
    FILE *fp = NULL;
    int rc = 0;

    ns_error_clear(&err);
    FILE *mem = open_memstream(&recs, &len);
    if (mem == NULL) {
        ns_cli_error("cannot write '%s': out of memory", c->html_path);
        return NS_ENOMEM;
    }
    FILE *saved_out = c->out;
    enum ns_cli_format saved_fmt = c->fmt;
    int saved_rc = c->write_rc;
    c->out = mem;
    c->fmt = NS_FMT_JSON;
    c->write_rc = 0;
    hosts_report(c, window);
    if (window) {
        hosts_write_alerts(c, c->win_start);
    }
    rc = c->write_rc;
    c->out = saved_out;
    c->fmt = saved_fmt;
    c->write_rc = saved_rc;
    if (fclose(mem) != 0 && rc == 0) {
        rc = NS_ENOMEM;
    }
    if (rc != 0) {
        ns_cli_error("cannot write '%s': %s", c->html_path, ns_strerror(rc));
        goto out;
    }
    if (window) {
        char t1[NS_SINK_TIME_SIZE];
        snprintf(title, sizeof(title), "netsift hosts: window %llu from %s",
                 (unsigned long long)c->win_seq, ns_sink_format_time(c->win_start, t1, sizeof(t1)));
    } else {
        snprintf(title, sizeof(title), "netsift hosts");
    }
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", c->html_path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        ns_cli_error("cannot write '%s': name too long", c->html_path);
        rc = NS_EINVAL;
        goto out;
    }
    fp = fopen(tmp, "w");
    if (fp == NULL) {
        ns_cli_error("cannot write '%s': %s", c->html_path, strerror(errno));
        rc = NS_EIO;
        goto out;
    }
    rc = ns_dashboard_write(fp, title, recs, len, &err);
    if (rc != 0) {
        ns_cli_error("cannot write '%s': %s", c->html_path,
                     err.msg[0] != '\0' ? err.msg : ns_strerror(rc));
        goto fail;
    }
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
        ns_cli_error("cannot write '%s': %s", c->html_path, strerror(errno));
        rc = NS_EIO;
        goto fail;
    }
    int crc = fclose(fp);
    fp = NULL;
    if (crc != 0) {
        ns_cli_error("cannot write '%s': %s", c->html_path, strerror(errno));
        rc = NS_EIO;
        goto fail;
    }
    if (rename(tmp, c->html_path) != 0) {
        ns_cli_error("cannot write '%s': %s", c->html_path, strerror(errno));
        rc = NS_EIO;
        goto fail;
    }
    goto out;
fail:
    if (fp != NULL) {
        fclose(fp);
    }
    unlink(tmp);
out:
    free(recs); /* lint: allow (open_memstream's buffer comes from libc) */
    return rc;
}

/* --- pipeline callbacks --------------------------------------------------------------- */

/* One fingerprinted HTTP message (the worker's results come back on this thread). */
static void hosts_on_http(void *ud, const struct ns_httpfp_result *r)
{
    struct hosts_ctx *c = ud;
    if (ns_hosts_offer_http(c->hosts, &r->addr, &r->res, r->raw_sig, r->request, r->ts_ns) != 0) {
        c->http_no_memory++;
    }
}

static void hosts_on_alert(void *ud, const struct ns_scan_alert *a)
{
    struct hosts_ctx *c = ud;
    if (a->attacker.family != 0) {
        ns_hosts_note_alert(c->hosts, &a->attacker, a->kind, true);
    }
    if (a->victim.family != 0) {
        ns_hosts_note_alert(c->hosts, &a->victim, a->kind, false);
    }
    if (c->live && c->fmt == NS_FMT_JSON) {
        hosts_write_alert_json(c, a);
    } else if (c->live && c->fmt == NS_FMT_TEXT) {
        hosts_write_alert_text(c, a);
    }
    if (c->live) {
        fflush(c->out);
    }
}

/*
 * Time `ts` (capture time, or the wall clock on a quiet live interface) has
 * reached the end of the current window: report it, rewrite the page when
 * live, and start the window `ts` falls in. A live window with no packet is
 * reported too (empty), so the page never shows stale numbers as recent.
 */
static void hosts_window_tick(struct hosts_ctx *c, uint64_t ts)
{
    if (c->window_ns == 0 || c->win_start == 0 || ts < c->win_start + c->window_ns) {
        return;
    }
    hosts_clear_progress(c);
    if (c->httpfp != NULL) {
        ns_httpfp_sync(c->httpfp); /* the window's HTTP fingerprints, all in */
    }
    hosts_report(c, true);
    fflush(c->out);
    if (c->html_path != NULL && c->live && c->html_rc == 0) {
        c->html_rc = hosts_write_page(c, true);
    }
    ns_hosts_window(c->hosts);
    uint64_t n = (ts - c->win_start) / c->window_ns;
    c->win_start += n * c->window_ns;
    c->win_seq++;
}

/* A quiet live interface: windows still end on time. */
static void hosts_on_idle(void *ud, uint64_t now_ns)
{
    struct hosts_ctx *c = ud;
    if (c->win_start == 0) {
        c->win_start = now_ns; /* the first window starts with the capture, not its first packet */
        c->win_seq = 1;
    }
    hosts_window_tick(c, now_ns);
}

static void hosts_on_packet(void *ud, const struct ns_packet *p, struct ns_flow *flow, int dir)
{
    struct hosts_ctx *c = ud;
    if (c->window_ns > 0) {
        if (c->win_start == 0) {
            c->win_start = p->ts_ns;
            c->win_seq = 1;
        } else {
            hosts_window_tick(c, p->ts_ns);
        }
    }
    if (c->httpfp != NULL) {
        ns_httpfp_packet(c->httpfp, flow, dir, p);
    }
    ns_hosts_packet(c->hosts, p, flow, dir);
    if (p->proto == NS_IPPROTO_TCP && (p->flags & NS_PKT_F_HAS_L4) != 0 && c->p0f != NULL &&
        (p->tcp_flags & (NS_TCP_SYN | NS_TCP_RST | NS_TCP_FIN)) == NS_TCP_SYN) {
        bool syn = (p->tcp_flags & NS_TCP_ACK) == 0;
        if (ns_hosts_wants_os(c->hosts, &p->src, syn)) {
            struct ns_p0f_result res;
            memset(&res, 0, sizeof(res));
            c->p0f_calls++;
            if (ns_p0f_tcp(c->p0f, p, &res) == 0) {
                ns_hosts_offer_os(c->hosts, &p->src, &res, syn);
            }
        }
    }
    ns_scan_packet(c->scan, p);
}

static void hosts_on_flow_end(void *ud, struct ns_flow *f)
{
    struct hosts_ctx *c = ud;
    if (c->httpfp != NULL) {
        ns_httpfp_flow_end(c->httpfp, f);
    }
    ns_scan_flow(c->scan, f);
    ns_hosts_flow_end(c->hosts, f);
}

static void hosts_on_error(void *ud, const struct ns_error *err)
{
    hosts_clear_progress(ud);
    ns_cli_error("%s", err->msg);
}

static void hosts_on_progress(void *ud, uint64_t frames, uint64_t bytes)
{
    struct hosts_ctx *c = ud;
    ns_cli_progress_show(&c->progress, frames, bytes);
}

/* --- options ------------------------------------------------------------------------- */

/* Default GeoIP directories, in search order; the first one with .mmdb files is used. */
static int hosts_default_geoip(struct hosts_ctx *c, int verbose)
{
    struct ns_error err;
    char home_dir[4096];
    const char *dirs[3];
    size_t nd = 0;
    const char *env = getenv("NETSIFT_DATA_DIR");
    const char *home = getenv("HOME");
    const char *xdg = getenv("XDG_DATA_HOME");

    if (env != NULL && env[0] != '\0') {
        dirs[nd++] = env;
    }
    if (xdg != NULL && xdg[0] == '/') {
        snprintf(home_dir, sizeof(home_dir), "%s/netsift", xdg);
        dirs[nd++] = home_dir;
    } else if (home != NULL && home[0] == '/') {
        snprintf(home_dir, sizeof(home_dir), "%s/.local/share/netsift", home);
        dirs[nd++] = home_dir;
    }
    dirs[nd++] = "/usr/local/share/netsift";
    for (size_t i = 0; i < nd; i++) {
        size_t opened = 0;
        int rc = ns_geo_open_dir(c->geo, dirs[i], &opened, &err);
        if (rc != 0) {
            /* a default file that is broken: say so, go on without GeoIP */
            ns_cli_error("warning: %s (GeoIP lookups off)", err.msg);
            ns_geo_free(c->geo);
            c->geo = NULL;
            return ns_geo_new(&c->geo);
        }
        if (opened > 0) {
            if (verbose > 0) {
                fprintf(stderr, "netsift: GeoIP: %zu file(s) from %s\n", opened, dirs[i]);
            }
            return 0;
        }
    }
    if (verbose > 0) {
        fprintf(stderr, "netsift: note: no GeoIP database found (scripts/deps.sh --geoip "
                        "installs one); country, city and ASN fields left out\n");
    }
    return 0;
}

int cmd_hosts(int argc, char **argv)
{
    struct ns_pipeline_opts po;
    struct ns_httpfp_opts fopt;
    struct ns_scan_opts sopt;
    struct ns_hosts_opts hopt;
    struct ns_error err;
    struct ns_pipeline_stats st;
    struct hosts_ctx *ctx = NULL;
    const char **paths = NULL;
    const char *geoip[HOSTS_MAX_GEOIP];
    size_t ngeoip = 0;
    const char *p0f_path = NULL;
    const char *oui_dir = NULL;
    bool no_geoip = false;
    bool no_p0f = false;
    bool window_set = false;
    size_t npaths = 0;
    char *bpf = NULL;
    bool stats = false;
    bool quiet = false;
    int verbose = 0;
    int status = NS_EXIT_OK;
    int rc;
    int opt;
    char optname[64];

    memset(&po, 0, sizeof(po));
    memset(&fopt, 0, sizeof(fopt));
    memset(&sopt, 0, sizeof(sopt));
    memset(&hopt, 0, sizeof(hopt));
    ctx = ns_calloc(1, sizeof(*ctx));
    paths = ns_calloc((size_t)(argc > 0 ? argc : 1), sizeof(*paths));
    if (ctx == NULL || paths == NULL) {
        ns_cli_error("out of memory");
        status = NS_EXIT_FAILURE;
        goto out;
    }
    ctx->fmt = NS_FMT_TEXT;
    ctx->out = stdout;

    optind = 0; /* glibc: a full reset, whatever ran before */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":r:i:qvh", hosts_options, NULL)) != -1) {
        unsigned long long n = 0;
        uint32_t *thr = NULL;
        switch (opt) {
        case 'r':
            paths[npaths++] = optarg;
            break;
        case 'i':
            po.source.iface = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'v':
            verbose++;
            break;
        case 'h':
            fputs(hosts_usage, stdout);
            fputs(hosts_help, stdout);
            goto out;
        case OPT_FORMAT:
            if (!ns_cli_parse_format(optarg, &ctx->fmt)) {
                status = ns_cli_usage_error(hosts_usage, "unknown format '%s'", optarg);
                goto out;
            }
            break;
        case OPT_JSON:
            ctx->fmt = NS_FMT_JSON;
            break;
        case OPT_STATS:
            stats = true;
            break;
        case OPT_GEOIP:
            if (ngeoip == HOSTS_MAX_GEOIP) {
                status =
                    ns_cli_usage_error(hosts_usage, "at most %d --geoip files", HOSTS_MAX_GEOIP);
                goto out;
            }
            geoip[ngeoip++] = optarg;
            break;
        case OPT_NO_GEOIP:
            no_geoip = true;
            break;
        case OPT_P0F:
            p0f_path = optarg;
            break;
        case OPT_NO_P0F:
            no_p0f = true;
            break;
        case OPT_OUI:
            oui_dir = optarg;
            break;
        case OPT_HTML:
            if (optarg[0] == '\0') {
                status = ns_cli_usage_error(hosts_usage, "empty --html file name");
                goto out;
            }
            ctx->html_path = optarg;
            break;
        case OPT_WINDOW:
            if (!ns_cli_parse_seconds(optarg, &ctx->window_ns)) {
                status = ns_cli_usage_error(hosts_usage, "invalid --window value '%s'", optarg);
                goto out;
            }
            window_set = true;
            break;
        case OPT_SCAN_WINDOW:
            if (!ns_cli_parse_seconds(optarg, &sopt.window_ns)) {
                status =
                    ns_cli_usage_error(hosts_usage, "invalid --scan-window value '%s'", optarg);
                goto out;
            }
            break;
        case OPT_MAX_HOSTS:
            if (!ns_cli_parse_count(optarg, 1ULL << 30, &n)) {
                status = ns_cli_usage_error(hosts_usage, "invalid --max-hosts value '%s'", optarg);
                goto out;
            }
            hopt.max_hosts = (size_t)n;
            break;
        case OPT_SCAN_PORTS:
            thr = &sopt.scan_ports;
            break;
        case OPT_SCAN_HOSTS:
            thr = &sopt.scan_hosts;
            break;
        case OPT_FLOOD_SYNS:
            thr = &sopt.flood_syns;
            break;
        case OPT_SWEEP_HOSTS:
            thr = &sopt.sweep_hosts;
            break;
        case OPT_UDP_PORTS:
            thr = &sopt.udp_ports;
            break;
        case OPT_BRUTE_FAILURES:
            thr = &sopt.brute_failures;
            break;
        case ':':
        case '?':
        default:
            status = ns_cli_getopt_error(hosts_usage, opt, argc, argv);
            goto out;
        }
        if (thr != NULL) {
            if (!ns_cli_parse_count(optarg, UINT32_MAX, &n)) {
                ns_cli_option_name(optname, sizeof(optname), opt, argc, argv);
                status = ns_cli_usage_error(hosts_usage, "invalid %s value '%s'", optname, optarg);
                goto out;
            }
            *thr = (uint32_t)n;
        }
    }
    status = ns_cli_check_input(hosts_usage, npaths, po.source.iface);
    if (status != NS_EXIT_OK) {
        goto out;
    }
    if (ngeoip > 0 && no_geoip) {
        status = ns_cli_usage_error(hosts_usage, "--geoip and --no-geoip cannot be used together");
        goto out;
    }
    if (p0f_path != NULL && no_p0f) {
        status = ns_cli_usage_error(hosts_usage, "--p0f and --no-p0f cannot be used together");
        goto out;
    }
    bool oom = false;
    bpf = ns_cli_join_bpf(argc, argv, optind, &oom);
    if (oom) {
        ns_cli_error("out of memory");
        status = NS_EXIT_FAILURE;
        goto out;
    }
    ctx->live = po.source.iface != NULL;
    if (ctx->live && !window_set) {
        ctx->window_ns = 10ull * 1000000000ull;
    }

    /* data files: explicit ones must work, default ones may be missing */
    if (ns_geo_new(&ctx->geo) != 0) {
        ns_cli_error("out of memory");
        status = NS_EXIT_FAILURE;
        goto out;
    }
    for (size_t i = 0; i < ngeoip; i++) {
        rc = ns_geo_open(ctx->geo, geoip[i], &err);
        if (rc != 0) {
            ns_cli_error("%s", err.msg);
            status = NS_EXIT_FAILURE;
            goto out;
        }
    }
    if (ngeoip == 0 && !no_geoip && hosts_default_geoip(ctx, verbose) != 0) {
        ns_cli_error("out of memory");
        status = NS_EXIT_FAILURE;
        goto out;
    }
    if (p0f_path != NULL) {
        rc = ns_p0f_load(&ctx->p0f, p0f_path, &err);
        if (rc != 0) {
            ns_cli_error("%s", err.msg[0] != '\0' ? err.msg : ns_strerror(rc));
            status = NS_EXIT_FAILURE;
            goto out;
        }
    } else if (!no_p0f) {
        struct stat sb;
        if (stat(NS_P0F_DEFAULT_PATH, &sb) != 0) {
            if (verbose > 0) {
                fprintf(stderr, "netsift: note: no %s (install p0f): no OS guesses\n",
                        NS_P0F_DEFAULT_PATH);
            }
        } else if (ns_p0f_load(&ctx->p0f, NS_P0F_DEFAULT_PATH, &err) != 0) {
            ns_cli_error("warning: %s (no OS guesses)", err.msg);
            ctx->p0f = NULL;
        }
    }
    ctx->verbose = verbose;
    if (oui_dir != NULL) {
        rc = ns_oui_load(&ctx->oui, oui_dir, &err);
        if (rc != 0) {
            ns_cli_error("%s", err.msg);
            status = NS_EXIT_FAILURE;
            goto out;
        }
    } else {
        struct hosts_oui_job *j = ns_calloc(1, sizeof(*j));
        if (j == NULL) {
            ns_cli_error("out of memory");
            status = NS_EXIT_FAILURE;
            goto out;
        }
        j->threaded = pthread_create(&j->thread, NULL, hosts_oui_main, j) == 0;
        if (!j->threaded) {
            (void)hosts_oui_main(j); /* no thread: read it now */
        }
        ctx->oui_job = j;
    }

    hopt.geo = ctx->geo;
    hopt.count_at_flow_end = ctx->window_ns == 0; /* windows need per-packet counts */
    if (ns_hosts_new(&ctx->hosts, &hopt) != 0 ||
        ns_scan_new(&ctx->scan, &sopt, hosts_on_alert, ctx) != 0) {
        ns_cli_error("out of memory");
        status = NS_EXIT_FAILURE;
        goto out;
    }

    po.source.paths = paths;
    po.source.npaths = npaths;
    po.source.bpf = bpf;
    po.source.promisc = true;
    po.on_packet = hosts_on_packet;
    po.on_flow_end = hosts_on_flow_end;
    po.on_error = hosts_on_error;
    po.on_progress = hosts_on_progress;
    if (ctx->live && ctx->window_ns > 0) {
        po.on_idle = hosts_on_idle;
    }
    po.ud = ctx;
    if (ctx->p0f != NULL) {
        /* HTTP fingerprints: reassemble TCP, parse the first messages of HTTP connections */
        fopt.db = ctx->p0f;
        fopt.threaded = true;
        fopt.on_result = hosts_on_http;
        fopt.ud = ctx;
        if (ns_httpfp_new(&ctx->httpfp, &fopt) != 0) {
            ns_cli_error("out of memory");
            status = NS_EXIT_FAILURE;
            goto out;
        }
    }
    ctx->progress.enabled = !quiet && isatty(STDERR_FILENO);
    if (!isatty(STDOUT_FILENO)) {
        setvbuf(stdout, NULL, _IOFBF, 1u << 20);
    }

    rc = ns_pipeline_new(&ctx->pl, &po, &err);
    if (rc != 0) {
        ns_cli_error("%s", err.msg[0] != '\0' ? err.msg : ns_strerror(rc));
        status = NS_EXIT_FAILURE;
        goto out;
    }
    rc = ns_cli_run_pipeline(ctx->pl, po.source.iface != NULL && !quiet ? po.source.iface : NULL,
                             &err);
    hosts_clear_progress(ctx);
    struct ns_httpfp_stats fs;
    memset(&fs, 0, sizeof(fs));
    if (ctx->httpfp != NULL) {
        ns_httpfp_finish(ctx->httpfp); /* its last results, before any report */
        ns_httpfp_get_stats(ctx->httpfp, &fs);
    }
    if (rc == NS_EIO) {
        status = NS_EXIT_FAILURE;
    } else if (rc != 0) {
        ns_cli_error("%s", err.msg[0] != '\0' ? err.msg : ns_strerror(rc));
        status = NS_EXIT_FAILURE;
    }

    if (ctx->window_ns > 0 && ctx->win_seq > 0) {
        hosts_report(ctx, true); /* the last (partial) window */
        if (ctx->fmt == NS_FMT_TEXT) {
            fputs("== totals\n", ctx->out);
        }
    }
    hosts_report(ctx, false);
    if (ctx->html_path != NULL && ctx->html_rc == 0) {
        ctx->html_rc = hosts_write_page(ctx, false);
    }
    if (ctx->html_rc != 0) {
        status = NS_EXIT_FAILURE;
    }

    ns_pipeline_get_stats(ctx->pl, &st);
    struct ns_hosts_stats hs;
    struct ns_scan_stats ss;
    ns_hosts_get_stats(ctx->hosts, &hs);
    ns_scan_get_stats(ctx->scan, &ss);
    if (stats && ctx->write_rc == 0) {
        if (ctx->fmt == NS_FMT_JSON) {
            struct ns_jsonw w;
            ns_jsonw_begin(&w, ctx->buf, sizeof(ctx->buf));
            ns_jsonw_cstr(&w, "type", "hosts_stats");
            ns_jsonw_u64(&w, "schema", 1);
            ns_jsonw_u64(&w, "hosts_created", hs.created);
            ns_jsonw_u64(&w, "hosts_active", hs.active);
            ns_jsonw_u64(&w, "hosts_active_max", hs.active_max);
            ns_jsonw_u64(&w, "hosts_evicted", hs.evicted);
            ns_jsonw_u64(&w, "hosts_no_memory", hs.no_memory);
            ns_jsonw_u64(&w, "packets", hs.packets);
            ns_jsonw_u64(&w, "p0f_fingerprints", ctx->p0f_calls);
            ns_jsonw_u64(&w, "http_connections", fs.connections);
            ns_jsonw_u64(&w, "http_fingerprints", fs.messages);
            ns_jsonw_u64(&w, "http_too_many_headers", fs.too_many_headers);
            ns_jsonw_u64(&w, "http_no_memory", fs.no_memory + ctx->http_no_memory);
            ns_jsonw_u64(&w, "scan_attempts", ss.attempts);
            ns_jsonw_u64(&w, "scan_trackers_evicted", ss.trackers_evicted);
            ns_jsonw_u64(&w, "scan_sets_saturated", ss.sets_saturated);
            ns_jsonw_u64(&w, "alerts", ss.alerts);
            ns_jsonw_u64(&w, "alerts_dropped", ss.alerts_dropped);
            ns_jsonw_u64(&w, "geoip_files", ns_geo_count(ctx->geo));
            ns_jsonw_bool(&w, "p0f_loaded", ctx->p0f != NULL);
            hosts_emit(ctx, &w);
            if (ctx->write_rc == 0) {
                ctx->write_rc = ns_sink_stats_json(stdout, &st);
            }
        } else {
            fflush(stdout);
            fprintf(stderr,
                    "hosts: created %llu, active %llu, evicted %llu; p0f fingerprints %llu "
                    "(http %llu in %llu connections); flows checked for scans %llu, alerts %llu\n",
                    (unsigned long long)hs.created, (unsigned long long)hs.active,
                    (unsigned long long)hs.evicted, (unsigned long long)ctx->p0f_calls,
                    (unsigned long long)fs.messages, (unsigned long long)fs.connections,
                    (unsigned long long)ss.attempts, (unsigned long long)ss.alerts);
            ns_sink_stats_text(stderr, &st);
        }
    }
    if (ctx->write_rc == 0 && fflush(stdout) != 0) {
        ctx->write_rc = NS_EIO;
    }
    if (ctx->write_rc != 0) {
        ns_cli_error("cannot write the output: %s",
                     ctx->write_rc == NS_EIO ? strerror(errno) : ns_strerror(ctx->write_rc));
        status = NS_EXIT_FAILURE;
    }
    if (verbose > 0) {
        fprintf(stderr, "netsift: %llu hosts (%llu evicted), %llu alerts from %llu packets\n",
                (unsigned long long)hs.created, (unsigned long long)hs.evicted,
                (unsigned long long)ss.alerts, (unsigned long long)st.source.frames);
        if (fs.threaded) {
            fprintf(stderr,
                    "netsift: HTTP fingerprints: %llu TCP segments (%.1f MiB) queued to the "
                    "worker thread, which was %llu times too busy to take more\n",
                    (unsigned long long)fs.packets_queued, (double)fs.queue_bytes / 1048576.0,
                    (unsigned long long)fs.queue_full);
        }
    }

out:
    if (ctx != NULL) {
        hosts_oui_wait(ctx);
        ns_httpfp_free(ctx->httpfp); /* its worker reads the p0f database */
        ns_pipeline_free(ctx->pl);
        ns_scan_free(ctx->scan);
        ns_hosts_free(ctx->hosts);
        ns_geo_free(ctx->geo);
        ns_oui_free(ctx->oui);
        ns_p0f_free(ctx->p0f);
    }
    ns_free(ctx);
    ns_free(bpf);
    ns_free(paths);
    return status;
}
