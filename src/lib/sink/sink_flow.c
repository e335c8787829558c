/*
 * sink_flow.c - flow records and pipeline counters as text, JSON Lines
 * (jansson) or CSV (sink.h; the schema is docs/schema/README.md).
 *
 * Specifications: RFC 3339 (timestamps, section 5.6 "date-time", written in
 * UTC with the "Z" offset and six fraction digits), RFC 4180 (CSV quoting),
 * JSON Lines (one RFC 8259 object per line), Community ID v1 (computed by
 * the flow stage).
 *
 * The text table keeps its held rows in one growing byte buffer, each row
 * being NS_COLS NUL-terminated fields one after the other:
 *
 *   "tcp\0" "10.0.0.1\0" "51000\0" ... "eof\0" | "udp\0" "10.0.0.2\0" ...
 *   <------------------ row 0 --------------->   <------- row 1 ------
 */
#include "netsift/sink.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "netsift/alloc.h"
#include "netsift/err.h"
#include "netsift/jsonw.h"

/* ---- field formatting ---- */

/* Write v as exactly n decimal digits (zero-padded) at p. */
static void put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/*
 * Days since 1970-01-01 to a proleptic Gregorian (year, month, day), by
 * counting 400-year eras from 0000-03-01 so that leap days fall at the end
 * of each year of the count. Exact for every day of a uint64_t of seconds.
 */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468; /* days from 0000-03-01 to 1970-01-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    unsigned mp = (5 * doy + 2) / 153;                                    /* [0, 11] from March */
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

char *ns_sink_format_time(uint64_t ts_ns, char *buf, size_t size)
{
    /* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ": 27 characters; per flow, so no gmtime/printf */
    char t[NS_SINK_TIME_SIZE];
    uint64_t secs = ts_ns / 1000000000u;
    unsigned usec = (unsigned)(ts_ns % 1000000000u / 1000u);
    unsigned sod = (unsigned)(secs % 86400u);
    int64_t y;
    unsigned m, d;

    if (size == 0) {
        return buf;
    }
    civil_from_days((int64_t)(secs / 86400u), &y, &m, &d);
    if (y > 9999) {
        buf[0] = '\0';
        return buf;
    }
    put_digits(t, (unsigned)y, 4);
    t[4] = '-';
    put_digits(t + 5, m, 2);
    t[7] = '-';
    put_digits(t + 8, d, 2);
    t[10] = 'T';
    put_digits(t + 11, sod / 3600, 2);
    t[13] = ':';
    put_digits(t + 14, sod / 60 % 60, 2);
    t[16] = ':';
    put_digits(t + 17, sod % 60, 2);
    t[19] = '.';
    put_digits(t + 20, usec, 6);
    t[26] = 'Z';
    t[27] = '\0';
    size_t n = size - 1 < 27 ? size - 1 : 27;
    memcpy(buf, t, n);
    buf[n] = '\0';
    return buf;
}

void ns_sink_proto_name(uint8_t proto, char *buf, size_t size)
{
    const char *name = NULL;
    switch (proto) {
    case 1:
        name = "icmp";
        break;
    case 2:
        name = "igmp";
        break;
    case 6:
        name = "tcp";
        break;
    case 17:
        name = "udp";
        break;
    case 47:
        name = "gre";
        break;
    case 50:
        name = "esp";
        break;
    case 51:
        name = "ah";
        break;
    case 58:
        name = "icmpv6";
        break;
    case 132:
        name = "sctp";
        break;
    default:
        break;
    }
    if (name != NULL) {
        snprintf(buf, size, "%s", name);
    } else {
        snprintf(buf, size, "%u", (unsigned)proto);
    }
}

void ns_sink_tcp_flags(uint8_t flags, char *buf, size_t size)
{
    /* bit i of the TCP flags byte is letter i: FIN SYN RST PSH ACK URG ECE CWR */
    static const char letters[] = "FSRPAUEC";
    size_t n = 0;
    if (size == 0) {
        return;
    }
    for (unsigned i = 0; i < 8 && n + 1 < size; i++) {
        if (flags & (1u << i)) {
            buf[n++] = letters[i];
        }
    }
    buf[n] = '\0';
}

void ns_sink_flow_record(const struct ns_flow *f, struct ns_flow_record *r)
{
    struct ns_addr src;
    struct ns_addr dst;
    uint16_t sport = 0;
    uint16_t dport = 0;

    memset(r, 0, sizeof(*r));
    ns_flow_endpoints(f, &src, &sport, &dst, &dport);
    ns_sink_proto_name(f->key.proto, r->proto, sizeof(r->proto));
    ns_addr_format(&src, r->src_addr, sizeof(r->src_addr));
    ns_addr_format(&dst, r->dst_addr, sizeof(r->dst_addr));
    r->src_port = sport;
    r->dst_port = dport;
    r->vlan = f->key.vlan;
    ns_sink_format_time(f->first_ns, r->first_seen, sizeof(r->first_seen));
    ns_sink_format_time(f->last_ns, r->last_seen, sizeof(r->last_seen));
    r->packets_fwd = f->packets[0];
    r->packets_rev = f->packets[1];
    r->bytes_fwd = f->bytes[0];
    r->bytes_rev = f->bytes[1];
    if (f->key.proto == NS_IPPROTO_TCP) {
        ns_sink_tcp_flags((uint8_t)(f->tcp_flags[0] | f->tcp_flags[1]), r->tcp_flags,
                          sizeof(r->tcp_flags));
    }
    r->state = ns_flow_state_name((enum ns_flow_state)f->state);
    r->end_reason = ns_flow_end_name((enum ns_flow_end)f->end);
    if (ns_flow_community_id(f, 0, r->community_id, sizeof(r->community_id)) != 0) {
        r->community_id[0] = '\0';
    }
}

/* ---- JSON ---- */

/* json_object_set_new that remembers a failure instead of checking each call. */
static void jset(json_t *o, const char *key, json_t *v, bool *ok)
{
    if (v == NULL || json_object_set_new(o, key, v) != 0) {
        *ok = false;
    }
}

static json_t *juint(uint64_t v)
{
    /* json_int_t is long long: counters stay far below 2^63 */
    return json_integer((json_int_t)v);
}

static int json_line(FILE *fp, json_t *o)
{
    if (json_dumpf(o, fp, JSON_COMPACT) != 0 || fputc('\n', fp) == EOF) {
        return NS_EIO;
    }
    return 0;
}

/*
 * One flow record as one JSON line, written with the streaming writer
 * (jsonw.h explains why not jansson on this per-record path).
 */
int ns_sink_flow_json(FILE *fp, const struct ns_flow_record *r)
{
    char line[1024];
    struct ns_jsonw w;
    size_t n = 0;

    ns_jsonw_begin(&w, line, sizeof(line));
    ns_jsonw_cstr(&w, "type", "flow");
    ns_jsonw_u64(&w, "schema", NS_SINK_SCHEMA);
    ns_jsonw_cstr(&w, "proto", r->proto);
    ns_jsonw_cstr(&w, "src_addr", r->src_addr);
    ns_jsonw_u64(&w, "src_port", r->src_port);
    ns_jsonw_cstr(&w, "dst_addr", r->dst_addr);
    ns_jsonw_u64(&w, "dst_port", r->dst_port);
    ns_jsonw_u64(&w, "vlan", r->vlan);
    ns_jsonw_cstr(&w, "first_seen", r->first_seen);
    ns_jsonw_cstr(&w, "last_seen", r->last_seen);
    ns_jsonw_u64(&w, "packets_fwd", r->packets_fwd);
    ns_jsonw_u64(&w, "packets_rev", r->packets_rev);
    ns_jsonw_u64(&w, "bytes_fwd", r->bytes_fwd);
    ns_jsonw_u64(&w, "bytes_rev", r->bytes_rev);
    ns_jsonw_cstr(&w, "tcp_flags", r->tcp_flags);
    ns_jsonw_cstr(&w, "state", r->state);
    ns_jsonw_cstr(&w, "end_reason", r->end_reason);
    ns_jsonw_cstr(&w, "community_id", r->community_id);
    if (ns_jsonw_end(&w, &n) != 0) {
        return NS_ELIMIT; /* cannot happen: every field is bounded well below 1 KiB */
    }
    return fwrite(line, 1, n, fp) == n ? 0 : NS_EIO;
}

/* Names of the decode reasons, straight from the X-macro (no link-time dependency). */
static const char *const ns_sink_reason_names[NS_DEC_REASON_COUNT] = {
    [NS_DEC_OK] = "ok",
#define NS_SINK_REASON_NAME(name, text) [NS_DEC_##name] = text,
    NS_DEC_REASON_MAP(NS_SINK_REASON_NAME)
#undef NS_SINK_REASON_NAME
};

static uint64_t malformed_total(const struct ns_decode_stats *d)
{
    uint64_t n = 0;
    for (int i = 1; i < NS_DEC_REASON_COUNT; i++) {
        n += d->reason[i];
    }
    return n;
}

int ns_sink_stats_json(FILE *fp, const struct ns_pipeline_stats *st)
{
    bool ok = true;
    int rc = NS_ENOMEM;
    json_t *o = json_object();
    json_t *mal = json_object();
    json_t *dfr = json_object();
    json_t *fl = json_object();
    if (o == NULL || mal == NULL || dfr == NULL || fl == NULL) {
        json_decref(mal);
        json_decref(dfr);
        json_decref(fl);
        goto out;
    }
    for (int i = 1; i < NS_DEC_REASON_COUNT; i++) {
        jset(mal, ns_sink_reason_names[i], juint(st->decode.reason[i]), &ok);
    }
    jset(dfr, "fragments", juint(st->defrag.fragments), &ok);
    jset(dfr, "reassembled", juint(st->defrag.reassembled), &ok);
    jset(dfr, "duplicates", juint(st->defrag.duplicates), &ok);
    jset(dfr, "overlaps", juint(st->defrag.overlaps), &ok);
    jset(dfr, "overlaps_conflicting", juint(st->defrag.overlaps_conflicting), &ok);
    jset(dfr, "timeouts", juint(st->defrag.timeouts), &ok);
    jset(dfr, "evicted", juint(st->defrag.evicted), &ok);
    jset(dfr, "too_big", juint(st->defrag.too_big), &ok);
    jset(dfr, "invalid", juint(st->defrag.invalid), &ok);
    jset(fl, "created", juint(st->flow.created), &ok);
    jset(fl, "ended", juint(st->flow.ended), &ok);
    jset(fl, "evicted", juint(st->flow.evicted), &ok);
    jset(fl, "timed_out", juint(st->flow.timed_out), &ok);
    jset(fl, "reused", juint(st->flow.reused), &ok);
    jset(fl, "active_max", juint(st->flow.active_max), &ok);

    jset(o, "type", json_string("stats"), &ok);
    jset(o, "schema", json_integer(NS_SINK_SCHEMA), &ok);
    jset(o, "packets_read", juint(st->source.frames), &ok);
    jset(o, "packets_decoded", juint(st->decode.decoded), &ok);
    jset(o, "packets_non_ip", juint(st->decode.non_ip), &ok);
    jset(o, "packets_filtered", juint(st->source.filtered), &ok);
    jset(o, "packets_snapped", juint(st->decode.snapped), &ok);
    jset(o, "malformed", mal, &ok);
    jset(o, "fragments", juint(st->defrag.fragments), &ok);
    jset(o, "datagrams_reassembled", juint(st->defrag.reassembled), &ok);
    jset(o, "defrag", dfr, &ok);
    jset(o, "flows", fl, &ok);
    jset(o, "inputs", juint(st->source.inputs), &ok);
    jset(o, "inputs_failed", juint(st->source.inputs_failed), &ok);
    jset(o, "live_dropped", juint(st->source.live_dropped), &ok);
    if (!ok) {
        goto out;
    }
    rc = json_line(fp, o);
out:
    json_decref(o);
    return rc;
}

/* ---- text counters ---- */

static int stat_line(FILE *fp, const char *name, uint64_t v)
{
    return fprintf(fp, "  %-28s %12" PRIu64 "\n", name, v) < 0 ? NS_EIO : 0;
}

int ns_sink_stats_text(FILE *fp, const struct ns_pipeline_stats *st)
{
    const struct {
        const char *name;
        uint64_t v;
        bool reasons; /* followed by the reasons that occurred */
    } lines[] = {
        {"packets read", st->source.frames, false},
        {"packets decoded", st->decode.decoded, false},
        {"packets non-IP", st->decode.non_ip, false},
        {"packets filtered", st->source.filtered, false},
        {"packets snapped", st->decode.snapped, false},
        {"malformed", malformed_total(&st->decode), true},
        {"fragments", st->defrag.fragments, false},
        {"datagrams reassembled", st->defrag.reassembled, false},
        {"flows created", st->flow.created, false},
        {"flows ended", st->flow.ended, false},
        {"flows evicted", st->flow.evicted, false},
        {"flows timed out", st->flow.timed_out, false},
        {"flows reused", st->flow.reused, false},
        {"flows active max", st->flow.active_max, false},
        {"inputs", st->source.inputs, false},
        {"inputs failed", st->source.inputs_failed, false},
        {"live dropped", st->source.live_dropped, false},
    };
    const struct {
        const char *name;
        uint64_t v;
    } dfr[] = {
        {"defrag duplicates", st->defrag.duplicates},
        {"defrag overlaps", st->defrag.overlaps},
        {"defrag conflicting", st->defrag.overlaps_conflicting},
        {"defrag timeouts", st->defrag.timeouts},
        {"defrag evicted", st->defrag.evicted},
        {"defrag too big", st->defrag.too_big},
        {"defrag invalid", st->defrag.invalid},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]) && rc == 0; i++) {
        rc = stat_line(fp, lines[i].name, lines[i].v);
        for (int k = 1; lines[i].reasons && k < NS_DEC_REASON_COUNT && rc == 0; k++) {
            if (st->decode.reason[k] != 0) {
                rc = fprintf(fp, "    %-26s %12" PRIu64 "\n", ns_sink_reason_names[k],
                             st->decode.reason[k]) < 0
                         ? NS_EIO
                         : 0;
            }
        }
    }
    /* defrag anomalies only when there were any */
    for (size_t i = 0; i < sizeof(dfr) / sizeof(dfr[0]) && rc == 0; i++) {
        if (dfr[i].v != 0) {
            rc = stat_line(fp, dfr[i].name, dfr[i].v);
        }
    }
    return rc;
}

/* ---- CSV ---- */

int ns_sink_csv_field(FILE *fp, const char *s, size_t len)
{
    bool quote = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') {
            quote = true;
            break;
        }
    }
    if (!quote) {
        return len == 0 || fwrite(s, 1, len, fp) == len ? 0 : NS_EIO;
    }
    if (fputc('"', fp) == EOF) {
        return NS_EIO;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' && fputc('"', fp) == EOF) {
            return NS_EIO;
        }
        if (fputc((unsigned char)s[i], fp) == EOF) {
            return NS_EIO;
        }
    }
    return fputc('"', fp) == EOF ? NS_EIO : 0;
}

static const char ns_sink_csv_names[] =
    "proto,src_addr,src_port,dst_addr,dst_port,vlan,first_seen,last_seen,packets_fwd,"
    "packets_rev,bytes_fwd,bytes_rev,tcp_flags,state,end_reason,community_id\n";

int ns_sink_flow_csv_header(FILE *fp)
{
    return fputs(ns_sink_csv_names, fp) == EOF ? NS_EIO : 0;
}

static int csv_str(FILE *fp, const char *s, bool last)
{
    if (ns_sink_csv_field(fp, s, strlen(s)) != 0) {
        return NS_EIO;
    }
    return fputc(last ? '\n' : ',', fp) == EOF ? NS_EIO : 0;
}

int ns_sink_flow_csv(FILE *fp, const struct ns_flow_record *r)
{
    int rc = 0;
    rc = rc != 0 ? rc : csv_str(fp, r->proto, false);
    rc = rc != 0 ? rc : csv_str(fp, r->src_addr, false);
    if (rc == 0 && fprintf(fp, "%u,", (unsigned)r->src_port) < 0) {
        rc = NS_EIO;
    }
    rc = rc != 0 ? rc : csv_str(fp, r->dst_addr, false);
    if (rc == 0 && fprintf(fp, "%u,%u,", (unsigned)r->dst_port, (unsigned)r->vlan) < 0) {
        rc = NS_EIO;
    }
    rc = rc != 0 ? rc : csv_str(fp, r->first_seen, false);
    rc = rc != 0 ? rc : csv_str(fp, r->last_seen, false);
    if (rc == 0 && fprintf(fp, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",", r->packets_fwd,
                           r->packets_rev, r->bytes_fwd, r->bytes_rev) < 0) {
        rc = NS_EIO;
    }
    rc = rc != 0 ? rc : csv_str(fp, r->tcp_flags, false);
    rc = rc != 0 ? rc : csv_str(fp, r->state, false);
    rc = rc != 0 ? rc : csv_str(fp, r->end_reason, false);
    rc = rc != 0 ? rc : csv_str(fp, r->community_id, true);
    return rc;
}

/* ---- text table ---- */

#define NS_COLS 15

static const char *const ns_col_names[NS_COLS] = {
    "PROTO",    "SRC",      "SPORT",     "DST",       "DPORT", "VLAN",  "FIRST", "LAST",
    "PKTS_FWD", "PKTS_REV", "BYTES_FWD", "BYTES_REV", "FLAGS", "STATE", "END",
};

/* Numbers are right-aligned, words left-aligned. */
static const bool ns_col_right[NS_COLS] = {
    false, false, true, false, true,  true,  false, false,
    true,  true,  true, true,  false, false, false,
};

/* Widths for live output, where rows cannot wait: IPv4 addresses, 32-bit counters. */
static const size_t ns_col_live[NS_COLS] = {
    6, 15, 5, 15, 5, 4, 27, 27, 8, 8, 10, 10, 8, 11, 12,
};

/* A batch of ended flows, copied for the writer thread. */
struct flow_batch {
    size_t n;
    struct ns_flow f[NS_SINK_BATCH];
};

struct ns_sink_flow {
    struct ns_sink_flow_opts opts;
    size_t width[NS_COLS];
    bool header_done;
    bool streaming; /* text: widths fixed, rows printed as they come */
    bool failed;
    uint64_t count;
    /* held text rows (see the file comment) */
    char *rows;
    size_t rows_len;
    size_t rows_cap;
    size_t nrows;
    /*
     * threaded: a ring of batches. The producer fills batches[tail] while
     * `filling`; queued batches are [head, head + queued). The writer owns
     * `failed`, `count` and the text rows until it is joined.
     */
    struct flow_batch *batches;
    size_t head;
    size_t tail;
    size_t queued;
    bool filling;
    bool closing;
    bool thread_started;
    atomic_bool thread_failed;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
};

static void *writer_main(void *arg);

int ns_sink_flow_new(struct ns_sink_flow **out, const struct ns_sink_flow_opts *opts)
{
    *out = NULL;
    if (opts == NULL || opts->out == NULL) {
        return NS_EINVAL;
    }
    struct ns_sink_flow *s = ns_calloc(1, sizeof(*s));
    if (s == NULL) {
        return NS_ENOMEM;
    }
    s->opts = *opts;
    if (s->opts.text_buffer_rows == 0) {
        s->opts.text_buffer_rows = 100000;
    }
    for (int i = 0; i < NS_COLS; i++) {
        s->width[i] = strlen(ns_col_names[i]);
        if (opts->live && ns_col_live[i] > s->width[i]) {
            s->width[i] = ns_col_live[i];
        }
    }
    s->streaming = opts->live;
    atomic_init(&s->thread_failed, false);
    if (opts->threaded) {
        s->batches = ns_calloc(NS_SINK_QUEUE_BATCHES, sizeof(*s->batches));
        if (s->batches == NULL) {
            ns_free(s);
            return NS_ENOMEM;
        }
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->not_empty, NULL);
        pthread_cond_init(&s->not_full, NULL);
        if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
            pthread_cond_destroy(&s->not_full);
            pthread_cond_destroy(&s->not_empty);
            pthread_mutex_destroy(&s->mu);
            ns_free(s->batches);
            ns_free(s);
            return NS_EIO;
        }
        s->thread_started = true;
    }
    *out = s;
    return 0;
}

static void writer_stop(struct ns_sink_flow *s);

void ns_sink_flow_free(struct ns_sink_flow *s)
{
    if (s == NULL) {
        return;
    }
    if (s->thread_started) {
        writer_stop(s);
    }
    if (s->batches != NULL) {
        pthread_cond_destroy(&s->not_full);
        pthread_cond_destroy(&s->not_empty);
        pthread_mutex_destroy(&s->mu);
        ns_free(s->batches);
    }
    ns_free(s->rows);
    ns_free(s);
}

uint64_t ns_sink_flow_count(const struct ns_sink_flow *s)
{
    return s->count;
}

/* The 15 cells of a record, as strings (the numbers formatted into `num`). */
struct text_cells {
    const char *cell[NS_COLS];
    char num[7][24];
};

static void text_cells(const struct ns_flow_record *r, struct text_cells *c)
{
    snprintf(c->num[0], sizeof(c->num[0]), "%u", (unsigned)r->src_port);
    snprintf(c->num[1], sizeof(c->num[1]), "%u", (unsigned)r->dst_port);
    snprintf(c->num[2], sizeof(c->num[2]), "%u", (unsigned)r->vlan);
    snprintf(c->num[3], sizeof(c->num[3]), "%" PRIu64, r->packets_fwd);
    snprintf(c->num[4], sizeof(c->num[4]), "%" PRIu64, r->packets_rev);
    snprintf(c->num[5], sizeof(c->num[5]), "%" PRIu64, r->bytes_fwd);
    snprintf(c->num[6], sizeof(c->num[6]), "%" PRIu64, r->bytes_rev);
    c->cell[0] = r->proto;
    c->cell[1] = r->src_addr;
    c->cell[2] = c->num[0];
    c->cell[3] = r->dst_addr;
    c->cell[4] = c->num[1];
    c->cell[5] = c->num[2];
    c->cell[6] = r->first_seen;
    c->cell[7] = r->last_seen;
    c->cell[8] = c->num[3];
    c->cell[9] = c->num[4];
    c->cell[10] = c->num[5];
    c->cell[11] = c->num[6];
    c->cell[12] = r->tcp_flags;
    c->cell[13] = r->state;
    c->cell[14] = r->end_reason;
}

/* One line of cells padded to the widths, two spaces apart, no trailing blanks. */
static int text_line(FILE *fp, const char *const *cell, const size_t *width)
{
    for (int i = 0; i < NS_COLS; i++) {
        int w = (int)width[i];
        int n;
        if (i == NS_COLS - 1) {
            n = fprintf(fp, "%s\n", cell[i]);
        } else if (ns_col_right[i]) {
            n = fprintf(fp, "%*s  ", w, cell[i]);
        } else {
            n = fprintf(fp, "%-*s  ", w, cell[i]);
        }
        if (n < 0) {
            return NS_EIO;
        }
    }
    return 0;
}

static int text_header(struct ns_sink_flow *s)
{
    s->header_done = true;
    return text_line(s->opts.out, ns_col_names, s->width);
}

/* Print the held rows with the widths found, then switch to streaming. */
static int text_release(struct ns_sink_flow *s)
{
    int rc = 0;
    size_t pos = 0;
    if (!s->header_done) {
        rc = text_header(s);
    }
    for (size_t r = 0; r < s->nrows && rc == 0; r++) {
        const char *cell[NS_COLS];
        for (int i = 0; i < NS_COLS; i++) {
            cell[i] = s->rows + pos;
            pos += strlen(cell[i]) + 1;
        }
        rc = text_line(s->opts.out, cell, s->width);
    }
    ns_free(s->rows);
    s->rows = NULL;
    s->rows_len = 0;
    s->rows_cap = 0;
    s->nrows = 0;
    s->streaming = true;
    return rc;
}

static int text_hold(struct ns_sink_flow *s, const struct text_cells *c)
{
    size_t need = 0;
    size_t len[NS_COLS];
    for (int i = 0; i < NS_COLS; i++) {
        len[i] = strlen(c->cell[i]);
        need += len[i] + 1;
    }
    if (need > s->rows_cap - s->rows_len) {
        size_t cap = s->rows_cap == 0 ? 64 * 1024 : s->rows_cap;
        while (need > cap - s->rows_len) {
            cap *= 2;
        }
        char *p = ns_reallocarray(s->rows, cap, 1);
        if (p == NULL) {
            return NS_ENOMEM;
        }
        s->rows = p;
        s->rows_cap = cap;
    }
    for (int i = 0; i < NS_COLS; i++) {
        memcpy(s->rows + s->rows_len, c->cell[i], len[i] + 1);
        s->rows_len += len[i] + 1;
        if (len[i] > s->width[i]) {
            s->width[i] = len[i];
        }
    }
    s->nrows++;
    return 0;
}

static int text_write(struct ns_sink_flow *s, const struct ns_flow_record *r)
{
    struct text_cells c;
    text_cells(r, &c);
    if (s->streaming) {
        int rc = s->header_done ? 0 : text_header(s);
        return rc != 0 ? rc : text_line(s->opts.out, c.cell, s->width);
    }
    int rc = text_hold(s, &c);
    if (rc == NS_ENOMEM) {
        /* no room to wait: print what is held and go on row by row */
        rc = text_release(s);
        return rc != 0 ? rc : text_line(s->opts.out, c.cell, s->width);
    }
    if (rc == 0 && s->nrows >= s->opts.text_buffer_rows) {
        rc = text_release(s);
    }
    return rc;
}

/* Format and write one flow on the calling thread. */
static int write_direct(struct ns_sink_flow *s, const struct ns_flow *f)
{
    struct ns_flow_record r;
    int rc = 0;
    if (s->failed) {
        return NS_EIO;
    }
    ns_sink_flow_record(f, &r);
    switch (s->opts.format) {
    case NS_SINK_JSON:
        rc = ns_sink_flow_json(s->opts.out, &r);
        break;
    case NS_SINK_CSV:
        if (!s->header_done) {
            s->header_done = true;
            rc = ns_sink_flow_csv_header(s->opts.out);
        }
        rc = rc != 0 ? rc : ns_sink_flow_csv(s->opts.out, &r);
        break;
    case NS_SINK_TEXT:
    default:
        rc = text_write(s, &r);
        break;
    }
    if (rc == 0) {
        s->count++;
        if (s->opts.live && fflush(s->opts.out) != 0) {
            rc = NS_EIO;
        }
    }
    if (rc == NS_EIO) {
        s->failed = true;
    }
    return rc;
}

/* The writer thread: format the queued batches in order until closed. */
static void *writer_main(void *arg)
{
    struct ns_sink_flow *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (s->queued == 0 && !s->closing) {
            pthread_cond_wait(&s->not_empty, &s->mu);
        }
        if (s->queued == 0) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        struct flow_batch *b = &s->batches[s->head];
        pthread_mutex_unlock(&s->mu);

        for (size_t i = 0; i < b->n; i++) {
            if (write_direct(s, &b->f[i]) != 0) {
                atomic_store(&s->thread_failed, true);
            }
        }

        pthread_mutex_lock(&s->mu);
        s->head = (s->head + 1) % NS_SINK_QUEUE_BATCHES;
        s->queued--;
        pthread_cond_signal(&s->not_full);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* Hand the batch being filled to the writer. */
static void batch_submit(struct ns_sink_flow *s)
{
    pthread_mutex_lock(&s->mu);
    s->tail = (s->tail + 1) % NS_SINK_QUEUE_BATCHES;
    s->queued++;
    pthread_cond_signal(&s->not_empty);
    pthread_mutex_unlock(&s->mu);
    s->filling = false;
}

/* Submit what is being filled, let the writer drain the queue, and join it. */
static void writer_stop(struct ns_sink_flow *s)
{
    if (s->filling && s->batches[s->tail].n > 0) {
        batch_submit(s);
    }
    pthread_mutex_lock(&s->mu);
    s->closing = true;
    pthread_cond_signal(&s->not_empty);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->thread_started = false;
}

int ns_sink_flow_write(struct ns_sink_flow *s, const struct ns_flow *f)
{
    if (!s->thread_started) {
        return write_direct(s, f);
    }
    if (atomic_load(&s->thread_failed)) {
        return NS_EIO;
    }
    if (!s->filling) {
        pthread_mutex_lock(&s->mu);
        while (s->queued == NS_SINK_QUEUE_BATCHES) {
            pthread_cond_wait(&s->not_full, &s->mu);
        }
        pthread_mutex_unlock(&s->mu);
        s->batches[s->tail].n = 0;
        s->filling = true;
    }
    struct flow_batch *b = &s->batches[s->tail];
    b->f[b->n++] = *f;
    if (b->n == NS_SINK_BATCH) {
        batch_submit(s);
    }
    return 0;
}

int ns_sink_flow_finish(struct ns_sink_flow *s)
{
    int rc = 0;
    if (s->thread_started) {
        writer_stop(s);
    }
    if (s->failed) {
        return NS_EIO;
    }
    if (s->opts.format == NS_SINK_TEXT && (!s->streaming || !s->header_done)) {
        rc = text_release(s);
    } else if (s->opts.format == NS_SINK_CSV && !s->header_done) {
        s->header_done = true;
        rc = ns_sink_flow_csv_header(s->opts.out);
    }
    if (fflush(s->opts.out) != 0 || ferror(s->opts.out)) {
        rc = NS_EIO;
    }
    if (rc != 0) {
        s->failed = true;
    }
    return rc;
}
