/*
 * sink_streams_report.c - the reports of `netsift streams`.
 *
 * DFXML (Garfinkel, "Digital Forensics XML", the schema tcpflow writes):
 * report.xml in the output directory, written as files end, so that memory
 * does not grow with the number of streams:
 *
 *   <dfxml xmloutputversion='1.0'>
 *     <metadata ...><dc:type>Feature Extraction</dc:type></metadata>
 *     <creator version='1.0'> program, version, command line, start time </creator>
 *     <configuration>
 *       <fileobject>
 *         <filename>OUTDIR/NAME</filename>
 *         <filesize>N</filesize>
 *         <tcpflow startime='..' endtime='..' family='2' src_ipn='..' dst_ipn='..'
 *                  srcport='..' dstport='..' packets='..' len='..' ... />
 *         <hashdigest type='MD5'>..</hashdigest>
 *         <hashdigest type='SHA256'>..</hashdigest>
 *       </fileobject> ...
 *     </configuration>
 *     <summary> totals </summary>
 *   </dfxml>
 *
 * JSON Lines (RFC 8259, docs/schema/README.md, schema 1): one "stream"
 * record per file part and one "http" record per HTTP message.
 *
 * Records are made as text here, on the producer, and queued for the writer
 * thread (sink_streams_io.c) with the part's digests still to come: the
 * writer hashes the part's bytes queued before the record, writes the hex
 * digests at the offsets noted here, and appends the text to the reports,
 * so the records keep the order in which the parts ended.
 */
#include "sink_streams_int.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "netsift/alloc.h"
#include "netsift/jsonw.h"
#include "netsift/sink.h"

/* The XML entity for ch (XML 1.0 section 2.4: all five predefined ones), or NULL. */
static const char *xml_entity(char ch)
{
    switch (ch) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '\'':
        return "&apos;";
    case '"':
        return "&quot;";
    default:
        return NULL;
    }
}

static void xml_escaped(FILE *fp, const char *s)
{
    for (; *s != '\0'; s++) {
        const char *esc = xml_entity(*s);
        if (esc != NULL) {
            fputs(esc, fp);
        } else {
            fputc(*s, fp);
        }
    }
}

/* A growing text (a record for the writer); oom sticks. */
struct sf_text {
    char *p;
    size_t len;
    size_t cap;
    bool oom;
};

static bool tx_room(struct sf_text *t, size_t n)
{
    if (t->oom) {
        return false;
    }
    if (t->len + n + 1 <= t->cap) {
        return true;
    }
    size_t cap = t->cap != 0 ? t->cap : 1024;
    while (cap < t->len + n + 1) {
        cap *= 2;
    }
    char *np = ns_reallocarray(t->p, cap, 1);
    if (np == NULL) {
        t->oom = true;
        return false;
    }
    t->p = np;
    t->cap = cap;
    return true;
}

static void tx_put(struct sf_text *t, const char *s, size_t n)
{
    if (tx_room(t, n)) {
        memcpy(t->p + t->len, s, n);
        t->len += n;
    }
}

static void tx_puts(struct sf_text *t, const char *s)
{
    tx_put(t, s, strlen(s));
}

static void tx_printf(struct sf_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void tx_printf(struct sf_text *t, const char *fmt, ...)
{
    va_list ap;
    if (!tx_room(t, 256)) {
        return;
    }
    va_start(ap, fmt);
    int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->oom = true;
        return;
    }
    if ((size_t)n >= t->cap - t->len) {
        if (!tx_room(t, (size_t)n)) {
            return;
        }
        va_start(ap, fmt);
        vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
    }
    t->len += (size_t)n;
}

static void tx_xml(struct sf_text *t, const char *s)
{
    const char *run = s;
    for (; *s != '\0'; s++) {
        const char *esc = xml_entity(*s);
        if (esc == NULL) {
            continue;
        }
        tx_put(t, run, (size_t)(s - run));
        tx_puts(t, esc);
        run = s + 1;
    }
    tx_put(t, run, (size_t)(s - run));
}

/* Queue the text for the writer (taking it), with dg and the digest offsets. */
static void tx_submit(struct ns_streams *s, struct sf_text *t, size_t xml_len,
                      struct ns__sf_digest *dg, const size_t *at)
{
    struct ns__sf_op op;
    if (!t->oom && t->len == 0 && dg == NULL) {
        ns_free(t->p);
        t->p = NULL;
        return; /* no report wants it */
    }
    memset(&op, 0, sizeof(op));
    op.kind = NS__SF_OP_REC;
    op.dg = dg;
    for (int i = 0; i < NS__SF_AT_N; i++) {
        op.at[i] = at != NULL ? at[i] : NS__SF_AT_NONE;
    }
    if (t->oom) {
        ns__sf_io_error(s, "write", "the report", ENOMEM);
        ns_free(t->p);
    } else {
        op.buf = (uint8_t *)t->p;
        op.len = t->len;
        op.xml_len = xml_len;
    }
    t->p = NULL;
    ns__sf_io_submit(&s->io, &op);
}

static void hex(char *out, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int ns__sf_report_open(struct ns_streams *s, struct ns_error *err)
{
    if (!s->o.report_xml) {
        return 0;
    }
    const char *dir = s->outdir != NULL ? s->outdir : ".";
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/report.xml", dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        return ns_error_set(err, NS_EINVAL, "output directory name too long");
    }
    s->xml = fopen(path, "w");
    if (s->xml == NULL) {
        return ns_error_set(err, NS_EIO, "cannot create '%s': %s", path, strerror(errno));
    }
    char now[NS_SINK_TIME_SIZE];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ns_sink_format_time((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec, now,
                        sizeof(now));
    FILE *fp = s->xml;
    fputs("<?xml version='1.0' encoding='UTF-8'?>\n"
          "<dfxml xmloutputversion='1.0'>\n"
          "  <metadata \n"
          "  xmlns='http://afflib.org/tcpflow/' \n"
          "  xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' \n"
          "  xmlns:dc='http://purl.org/dc/elements/1.1/'>\n"
          "    <dc:type>Feature Extraction</dc:type>\n"
          "  </metadata>\n"
          "  <creator version='1.0'>\n"
          "    <program>NETSIFT</program>\n"
          "    <version>",
          fp);
    xml_escaped(fp, s->o.version != NULL ? s->o.version : "");
    fputs("</version>\n    <execution_environment>\n      <command_line>", fp);
    xml_escaped(fp, s->o.command_line != NULL ? s->o.command_line : "");
    fprintf(fp,
            "</command_line>\n      <start_time>%s</start_time>\n"
            "    </execution_environment>\n  </creator>\n  <configuration>\n",
            now);
    return 0;
}

/* Digits the writer overwrites with a digest. */
static const char sf_hex_hole[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

void ns__sf_report_stream(struct ns_streams *s, const struct ns__sf_conn *c, int dir,
                          const char *why, struct ns__sf_digest *dg)
{
    const struct ns__sf_dir *d = &c->d[dir];
    char src[64];
    char dst[64];
    char t0[NS_SINK_TIME_SIZE];
    char t1[NS_SINK_TIME_SIZE];
    char md5hex[33];
    char shahex[65];
    const char *file = d->have_file ? d->file.name : NULL;
    uint64_t packets = d->pkts_now - d->pkts_base;
    uint64_t frame_bytes = d->frame_bytes_now - d->frame_bytes_base;
    struct sf_text t;
    size_t at[NS__SF_AT_N];
    size_t xml_len = 0;
    memset(&t, 0, sizeof(t));
    for (int i = 0; i < NS__SF_AT_N; i++) {
        at[i] = NS__SF_AT_NONE;
    }
    ns_addr_format(&c->addr[dir], src, sizeof(src));
    ns_addr_format(&c->addr[1 - dir], dst, sizeof(dst));
    ns_sink_format_time(d->part_first_ns, t0, sizeof(t0));
    ns_sink_format_time(d->part_last_ns, t1, sizeof(t1));
    memcpy(md5hex, sf_hex_hole, 32);
    md5hex[32] = '\0';
    memcpy(shahex, sf_hex_hole, 64);
    shahex[64] = '\0';

    if (s->xml != NULL && d->have_file) {
        tx_puts(&t, "    <fileobject>\n      <filename>");
        tx_xml(&t, d->file.path);
        tx_printf(&t,
                  "</filename>\n      <filesize>%llu</filesize>\n"
                  "      <tcpflow startime='%s' endtime='%s' family='%d' src_ipn='%s' "
                  "dst_ipn='%s' srcport='%u' dstport='%u'",
                  (unsigned long long)d->file.size, t0, t1, c->ipver == 6 ? 10 : 2, src, dst,
                  c->port[dir], c->port[1 - dir]);
        if (c->vlan != 0) {
            tx_printf(&t, " vlan='%u'", c->vlan);
        }
        tx_printf(&t, " packets='%llu' len='%llu' gaps='%u' gap_bytes='%llu' closed='%s'",
                  (unsigned long long)packets, (unsigned long long)frame_bytes, d->part_gaps,
                  (unsigned long long)d->part_gap_bytes, why);
        if (c->proto == NS_IPPROTO_UDP) {
            tx_puts(&t, " proto='udp'");
        }
        tx_puts(&t, " />\n      <hashdigest type='MD5'>");
        at[NS__SF_AT_XML_MD5] = t.len;
        tx_put(&t, md5hex, 32);
        tx_puts(&t, "</hashdigest>\n      <hashdigest type='SHA256'>");
        at[NS__SF_AT_XML_SHA] = t.len;
        tx_put(&t, shahex, 64);
        tx_puts(&t, "</hashdigest>\n    </fileobject>\n");
        s->xml_files++;
    }
    xml_len = t.len;

    if (s->o.report_json != NULL) {
        struct ns_jsonw w;
        size_t len = 0;
        ns_jsonw_begin(&w, s->jbuf, sizeof(s->jbuf));
        ns_jsonw_cstr(&w, "type", "stream");
        ns_jsonw_u64(&w, "schema", NS_STREAMS_SCHEMA);
        ns_jsonw_cstr(&w, "proto", c->proto == NS_IPPROTO_UDP ? "udp" : "tcp");
        ns_jsonw_cstr(&w, "src_addr", src);
        ns_jsonw_u64(&w, "src_port", c->port[dir]);
        ns_jsonw_cstr(&w, "dst_addr", dst);
        ns_jsonw_u64(&w, "dst_port", c->port[1 - dir]);
        ns_jsonw_u64(&w, "vlan", c->vlan);
        ns_jsonw_cstr(&w, "direction", dir == 0 ? "fwd" : "rev");
        if (file != NULL) {
            ns_jsonw_cstr(&w, "file", file);
        } else {
            ns_jsonw_null(&w, "file");
        }
        ns_jsonw_u64(&w, "part", d->part);
        ns_jsonw_u64(&w, "packets", packets);
        ns_jsonw_u64(&w, "bytes", d->part_bytes);
        ns_jsonw_cstr(&w, "first_seen", t0);
        ns_jsonw_cstr(&w, "last_seen", t1);
        ns_jsonw_u64(&w, "gaps", d->part_gaps);
        ns_jsonw_u64(&w, "gap_bytes", d->part_gap_bytes);
        ns_jsonw_cstr(&w, "closed", why);
        ns_jsonw_u64(&w, "capped_bytes", d->part_capped);
        ns_jsonw_cstr(&w, "md5", md5hex);
        size_t md5_end = w.len - 1; /* the value's closing quote */
        ns_jsonw_cstr(&w, "sha256", shahex);
        size_t sha_end = w.len - 1;
        if (c->community_id[0] != '\0') {
            ns_jsonw_cstr(&w, "community_id", c->community_id);
        } else {
            ns_jsonw_null(&w, "community_id");
        }
        if (ns_jsonw_end(&w, &len) == 0) {
            at[NS__SF_AT_JSON_MD5] = xml_len + md5_end - 32;
            at[NS__SF_AT_JSON_SHA] = xml_len + sha_end - 64;
            tx_put(&t, s->jbuf, len);
        }
    }
    tx_submit(s, &t, xml_len, dg, at);
}

void ns__sf_report_commit(struct ns_streams *s, struct ns__sf_op *op, const unsigned char *md5,
                          const unsigned char *sha)
{
    char md5hex[33];
    char shahex[65];
    char *text = (char *)op->buf;
    if (text == NULL) {
        return;
    }
    hex(md5hex, md5, 16);
    hex(shahex, sha, 32);
    if (op->at[NS__SF_AT_XML_MD5] != NS__SF_AT_NONE) {
        memcpy(text + op->at[NS__SF_AT_XML_MD5], md5hex, 32);
        memcpy(text + op->at[NS__SF_AT_XML_SHA], shahex, 64);
    }
    if (op->at[NS__SF_AT_JSON_MD5] != NS__SF_AT_NONE) {
        memcpy(text + op->at[NS__SF_AT_JSON_MD5], md5hex, 32);
        memcpy(text + op->at[NS__SF_AT_JSON_SHA], shahex, 64);
    }
    if (op->xml_len > 0 && s->xml != NULL) {
        fwrite(text, 1, op->xml_len, s->xml); /* errors show in ferror() at the end */
    }
    size_t jlen = op->len - op->xml_len;
    if (jlen > 0 && s->o.report_json != NULL &&
        fwrite(text + op->xml_len, 1, jlen, s->o.report_json) != jlen) {
        ns__sf_io_error(s, "write", "the JSON report", errno);
    }
}

void ns__sf_report_http(struct ns_streams *s, const struct ns__sf_conn *c, int dir,
                        const struct ns__sf_http_rec *r)
{
    struct sf_text t;
    memset(&t, 0, sizeof(t));
    if (s->xml != NULL && r->file != NULL) {
        tx_puts(&t, "    <fileobject>\n      <filename>");
        if (s->outdir != NULL) {
            tx_xml(&t, s->outdir);
            tx_put(&t, "/", 1);
        }
        tx_xml(&t, r->file);
        tx_printf(&t, "</filename>\n      <filesize>%llu</filesize>\n    </fileobject>\n",
                  (unsigned long long)r->body_bytes);
        s->xml_files++;
    }
    size_t xml_len = t.len;
    if (s->o.report_json == NULL) {
        if (xml_len > 0 || t.oom) {
            tx_submit(s, &t, xml_len, NULL, NULL);
        }
        return;
    }
    char src[64];
    char dst[64];
    struct ns_jsonw w;
    size_t len = 0;
    ns_addr_format(&c->addr[dir], src, sizeof(src));
    ns_addr_format(&c->addr[1 - dir], dst, sizeof(dst));
    ns_jsonw_begin(&w, s->jbuf, sizeof(s->jbuf));
    ns_jsonw_cstr(&w, "type", "http");
    ns_jsonw_u64(&w, "schema", NS_STREAMS_SCHEMA);
    ns_jsonw_cstr(&w, "src_addr", src);
    ns_jsonw_u64(&w, "src_port", c->port[dir]);
    ns_jsonw_cstr(&w, "dst_addr", dst);
    ns_jsonw_u64(&w, "dst_port", c->port[1 - dir]);
    ns_jsonw_u64(&w, "vlan", c->vlan);
    ns_jsonw_cstr(&w, "kind", r->kind == NS_HTTP_REQUEST ? "request" : "response");
    ns_jsonw_u64(&w, "index", r->index);
    if (r->kind == NS_HTTP_REQUEST) {
        ns_jsonw_cstr(&w, "method", r->method != NULL ? r->method : "");
        ns_jsonw_cstr(&w, "target", r->target != NULL ? r->target : "");
    } else {
        ns_jsonw_u64(&w, "status", r->status);
    }
    if (r->header_file != NULL) {
        ns_jsonw_cstr(&w, "header_file", r->header_file);
    } else {
        ns_jsonw_null(&w, "header_file");
    }
    if (r->file != NULL) {
        ns_jsonw_cstr(&w, "file", r->file);
    } else {
        ns_jsonw_null(&w, "file");
    }
    if (r->content_type != NULL) {
        ns_jsonw_cstr(&w, "content_type", r->content_type);
    } else {
        ns_jsonw_null(&w, "content_type");
    }
    if (r->content_encoding != NULL) {
        ns_jsonw_cstr(&w, "content_encoding", r->content_encoding);
    } else {
        ns_jsonw_null(&w, "content_encoding");
    }
    ns_jsonw_u64(&w, "body_bytes", r->body_bytes);
    ns_jsonw_u64(&w, "raw_body_bytes", r->raw_body_bytes);
    ns_jsonw_bool(&w, "incomplete", (r->flags & NS_HTTP_END_INCOMPLETE) != 0);
    ns_jsonw_bool(&w, "truncated", (r->flags & NS_HTTP_END_TRUNCATED) != 0);
    ns_jsonw_bool(&w, "decode_error", (r->flags & NS_HTTP_END_DECODE_ERR) != 0);
    if (c->community_id[0] != '\0') {
        ns_jsonw_cstr(&w, "community_id", c->community_id);
    } else {
        ns_jsonw_null(&w, "community_id");
    }
    if (ns_jsonw_end(&w, &len) == 0) {
        tx_put(&t, s->jbuf, len);
    }
    tx_submit(s, &t, xml_len, NULL, NULL);
}

int ns__sf_report_close(struct ns_streams *s)
{
    int rc = 0;
    if (s->xml != NULL) {
        FILE *fp = s->xml;
        fprintf(fp,
                "  </configuration>\n  <summary>\n"
                "    <total_files>%llu</total_files>\n"
                "    <total_bytes>%llu</total_bytes>\n"
                "    <gaps>%llu</gaps>\n    <gap_bytes>%llu</gap_bytes>\n"
                "    <splits>%llu</splits>\n"
                "  </summary>\n</dfxml>\n",
                (unsigned long long)s->xml_files, (unsigned long long)s->st.bytes,
                (unsigned long long)s->st.gaps, (unsigned long long)s->st.gap_bytes,
                (unsigned long long)s->st.splits);
        if (ferror(fp) || fclose(fp) != 0) {
            rc = NS_EIO;
        }
        s->xml = NULL;
    }
    if (s->o.report_json != NULL && fflush(s->o.report_json) != 0) {
        rc = NS_EIO;
    }
    return rc;
}
