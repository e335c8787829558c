/*
 * fuzz_httpfp.c - fuzz target for the HTTP fingerprinter (httpfp.h): TCP
 * segments of three flows, carrying bytes straight from the input, fed
 * once inline and once through the worker thread with a small queue.
 *
 *   records, until the input ends:
 *   +------+-------+-----------------+---------+---------------+
 *   | ctl  | flags | seq offset be16 | len be16| len bytes ... |
 *   +------+-------+-----------------+---------+---------------+
 *   ctl bits 0-1: flow (0..2, 3 means 0)   bit 2: direction
 *   ctl bit 3: the flow ends after the segment (ns_httpfp_flow_end)
 *   ctl bit 4: snapped: 100 more bytes were on the wire than captured
 *   ctl bit 5: ns_httpfp_sync after the segment
 *   flags: TCP flags as on the wire (FIN 0x01, SYN 0x02, RST 0x04, ...)
 *   seq:   1000 + 0x10000 * direction + offset
 *   len:   payload bytes, cut to what the input has left
 *
 * A flow that ends starts again with a new id. Checked: the two runs give
 * the same results (addresses, roles, labels, raw signatures) in the same
 * order and the same counters; every result's raw signature is shorter than
 * NS_P0F_HTTP_SIG_MAX; no more results than messages. Every input byte is
 * read through struct ns_rd.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsift/httpfp.h"
#include "netsift/rd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fz_fp[] = "[http:request]\n"
                            "ua_os = Linux,Windows,iOS=[iPhone]\n"
                            "label = s:!:curl:\n"
                            "sys   = Linux\n"
                            "sig   = *:User-Agent,Host,Accept=[*/*]:Accept-Encoding:curl/\n"
                            "label = g:!:any:\n"
                            "sys   = Linux\n"
                            "sig   = *:Host:Connection:\n"
                            "\n"
                            "[http:response]\n"
                            "label = s:!:nginx:1.x\n"
                            "sys   = Linux\n"
                            "sig   = *:Server,?Date,Content-Type:Keep-Alive:nginx\n";

#define FZ_MAX_LOG (1u << 16)

struct fz_log {
    char *text;
    size_t len;
    uint64_t results;
};

static void fz_on_result(void *ud, const struct ns_httpfp_result *r)
{
    struct fz_log *l = ud;
    size_t sl = strlen(r->raw_sig);
    if (sl >= NS_P0F_HTTP_SIG_MAX) {
        abort();
    }
    int n = snprintf(l->text + l->len, FZ_MAX_LOG - l->len, "%u %d %s %d %d %s\n", r->addr.a[3],
                     r->request, r->res.os != NULL ? r->res.os : "-", (int)r->res.match,
                     r->res.dishonest, r->raw_sig);
    if (n > 0) {
        l->len += (size_t)n < FZ_MAX_LOG - l->len ? (size_t)n : FZ_MAX_LOG - 1 - l->len;
    }
    l->results++;
}

static void fz_flow(struct ns_flow *f, int i, uint64_t id)
{
    memset(f, 0, sizeof(*f));
    f->key.ipver = 4;
    f->key.proto = NS_IPPROTO_TCP;
    f->key.lo[0] = 10;
    f->key.lo[3] = (uint8_t)(1 + i);
    f->key.hi[0] = 10;
    f->key.hi[3] = 100;
    f->key.lo_port = (uint16_t)(5000 + i);
    f->key.hi_port = 80;
    f->src_is_lo = true;
    f->id = id;
}

static void fz_run(const struct ns_p0f_db *db, bool threaded, const uint8_t *data, size_t size,
                   struct fz_log *log, struct ns_httpfp_stats *st)
{
    struct ns_httpfp_opts o;
    memset(&o, 0, sizeof(o));
    o.db = db;
    o.threaded = threaded;
    o.queue_bytes = 4096;
    o.on_result = fz_on_result;
    o.ud = log;
    struct ns_httpfp *fp = NULL;
    if (ns_httpfp_new(&fp, &o) != 0) {
        abort();
    }
    struct ns_flow flows[3];
    uint64_t next_id = 1;
    for (int i = 0; i < 3; i++) {
        fz_flow(&flows[i], i, next_id++);
    }
    struct ns_rd r;
    ns_rd_init(&r, data, size, 0);
    for (;;) {
        uint8_t ctl = ns_rd_u8(&r);
        uint8_t flags = ns_rd_u8(&r);
        uint16_t off = ns_rd_be16(&r);
        uint16_t len = ns_rd_be16(&r);
        if (!ns_rd_ok(&r)) {
            break;
        }
        if (len > ns_rd_left(&r)) {
            len = (uint16_t)ns_rd_left(&r);
        }
        const uint8_t *payload = ns_rd_bytes(&r, len);
        int fi = (ctl & 3) == 3 ? 0 : ctl & 3;
        int dir = (ctl >> 2) & 1;
        struct ns_packet p;
        memset(&p, 0, sizeof(p));
        p.flags = NS_PKT_F_HAS_L4 | ((ctl & 0x10) ? NS_PKT_F_SNAPPED : 0);
        p.proto = NS_IPPROTO_TCP;
        p.ts_ns = 1;
        p.tcp_flags = flags;
        p.seq = 1000u + 0x10000u * (uint32_t)dir + off;
        p.payload = len > 0 ? payload : NULL;
        p.payload_len = len;
        p.payload_wire_len = (uint32_t)len + ((ctl & 0x10) ? 100u : 0u);
        ns_httpfp_packet(fp, &flows[fi], dir, &p);
        if (ctl & 0x08) {
            ns_httpfp_flow_end(fp, &flows[fi]);
            fz_flow(&flows[fi], fi, next_id++);
        }
        if (ctl & 0x20) {
            ns_httpfp_sync(fp);
        }
    }
    for (int i = 0; i < 3; i++) {
        ns_httpfp_flow_end(fp, &flows[i]);
    }
    ns_httpfp_finish(fp);
    ns_httpfp_get_stats(fp, st);
    ns_httpfp_free(fp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ns_p0f_db *db;
    if (db == NULL) {
        struct ns_error err;
        if (ns_p0f_load_buffer(&db, fz_fp, sizeof(fz_fp) - 1, "fuzz.fp", &err) != 0) {
            abort();
        }
    }
    static char text[2][FZ_MAX_LOG];
    struct fz_log log[2] = {{text[0], 0, 0}, {text[1], 0, 0}};
    struct ns_httpfp_stats st[2];
    fz_run(db, false, data, size, &log[0], &st[0]);
    fz_run(db, true, data, size, &log[1], &st[1]);
    if (log[0].len != log[1].len || memcmp(log[0].text, log[1].text, log[0].len) != 0 ||
        log[0].results != log[1].results || st[0].messages != st[1].messages ||
        st[0].connections != st[1].connections ||
        st[0].too_many_headers != st[1].too_many_headers || log[0].results > st[0].messages) {
        abort();
    }
    return 0;
}
