/*
 * fuzz_http.c - libFuzzer target for the HTTP/1.x stream parser (http.h,
 * RFC 9112): start lines, header blocks, Content-Length / chunked / close
 * delimited bodies, gzip / deflate decoding, caps, gaps and resync.
 *
 * Input layout: one selector byte, then the stream bytes:
 *
 *   +--------------+------------------------------------------+
 *   | selector (1) | stream bytes                             |
 *   +--------------+------------------------------------------+
 *
 *   bit 0      0 = request parser, 1 = response parser
 *   bits 1-5   chunk size - 1: the stream is fed in chunks of 1..32 bytes
 *   bit 6      a gap of 7 bytes is declared in the middle of the stream
 *   bit 7      small caps (256 header bytes, 8 headers, 512 body bytes, 2
 *              pending methods); a response parser is then paired with a
 *              request parser first fed "HEAD", "CONNECT" and "GET" requests
 *
 * The stream ends with ns_http_close. Invariants checked (a broken one
 * aborts): on_headers and on_end alternate; views lie inside the header cap;
 * on_body totals equal body_bytes at on_end and stay within max_body_bytes;
 * feed returns 0 or NS_EMALFORMED, and NS_EMALFORMED only when the counter
 * moved; after the close the parser holds no more than at rest (http.h,
 * Memory: its new size + a 512-byte header buffer + 8 header entries).
 * Nothing is printed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsift/err.h"
#include "netsift/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_state {
    bool in_msg;
    uint64_t body;
    uint64_t max_body;
    size_t max_header_bytes;
    size_t max_headers;
};

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

static void fz_headers(void *ud, const struct ns_http_msg *m)
{
    struct fuzz_state *s = ud;
    check(!s->in_msg);
    s->in_msg = true;
    s->body = 0;
    check(m->header_bytes <= s->max_header_bytes);
    check(m->nheaders <= s->max_headers);
    check(m->version_major == 1);
    for (size_t i = 0; i < m->nheaders; i++) {
        check(m->headers[i].name_len > 0);
        /* touch every byte of the views (ASan checks they are in bounds) */
        volatile unsigned sum = 0;
        for (size_t k = 0; k < m->headers[i].name_len; k++) {
            sum += (unsigned char)m->headers[i].name[k];
        }
        for (size_t k = 0; k < m->headers[i].value_len; k++) {
            sum += (unsigned char)m->headers[i].value[k];
        }
        (void)sum;
    }
    if (m->kind == NS_HTTP_REQUEST) {
        check(m->method_len > 0 && m->target_len > 0);
    } else {
        check(m->status >= 100 && m->status <= 999);
    }
}

static void fz_body(void *ud, const uint8_t *data, size_t len)
{
    struct fuzz_state *s = ud;
    check(s->in_msg);
    check(len > 0);
    volatile uint8_t first = data[0], last = data[len - 1];
    (void)first;
    (void)last;
    s->body += len;
    check(s->body <= s->max_body);
}

static void fz_end(void *ud, unsigned flags, uint64_t raw, uint64_t body)
{
    struct fuzz_state *s = ud;
    check(s->in_msg);
    check(body == s->body);
    check((flags & ~0x0fu) == 0);
    (void)raw;
    s->in_msg = false;
}

static void feed(struct ns_http_parser *p, const uint8_t *d, size_t n)
{
    uint64_t before = ns_http_stats(p)->malformed;
    int rc = ns_http_feed(p, d, n);
    check(rc == 0 || rc == NS_EMALFORMED);
    check((rc == NS_EMALFORMED) == (ns_http_stats(p)->malformed != before));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t sel = data[0];
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    enum ns_http_kind kind = (sel & 1) ? NS_HTTP_RESPONSE : NS_HTTP_REQUEST;
    size_t chunk = (size_t)((sel >> 1) & 0x1f) + 1;
    bool gap = (sel & 0x40) != 0;
    bool small = (sel & 0x80) != 0;

    struct ns_http_opts o;
    ns_http_opts_init(&o);
    if (small) {
        o.max_header_bytes = 256;
        o.max_headers = 8;
        o.max_body_bytes = 512;
        o.max_pending = 2;
    }
    struct fuzz_state s = {false, 0, o.max_body_bytes, o.max_header_bytes, o.max_headers};
    struct fuzz_state sq = s;
    struct ns_http_callbacks cb = {fz_headers, fz_body, fz_end, &s};
    struct ns_http_callbacks cbq = {fz_headers, fz_body, fz_end, &sq};
    struct ns_http_parser *p = NULL, *q = NULL;
    if (ns_http_parser_new(&p, kind, &o, &cb) != 0) {
        return 0;
    }
    if (small && kind == NS_HTTP_RESPONSE) {
        if (ns_http_parser_new(&q, NS_HTTP_REQUEST, &o, &cbq) != 0) {
            ns_http_parser_free(p);
            return 0;
        }
        ns_http_pair(q, p);
        static const char reqs[] = "HEAD / HTTP/1.1\r\n\r\nCONNECT h:1 HTTP/1.1\r\n\r\n"
                                   "GET / HTTP/1.1\r\n\r\n";
        feed(q, (const uint8_t *)reqs, sizeof(reqs) - 1);
    }

    size_t rest = ns_http_parser_mem(p) + 512 + 8 * sizeof(struct ns_http_header);
    size_t mid = n / 2;
    size_t off = 0;
    while (off < n) {
        size_t take = n - off < chunk ? n - off : chunk;
        if (gap && off < mid && off + take > mid) {
            take = mid - off; /* stop at the middle for the gap */
        }
        feed(p, d + off, take);
        off += take;
        if (gap && off == mid) {
            ns_http_gap(p, 7);
            gap = false;
        }
    }
    ns_http_close(p);
    check(!s.in_msg);
    const struct ns_http_stats *st = ns_http_stats(p);
    check(st->incomplete <= st->messages && st->truncated <= st->messages);
    check(st->nomem == 0); /* no allocation fails here */
    check(ns_http_parser_mem(p) <= rest);
    if (q != NULL && (sel & 2) != 0) {
        ns_http_parser_free(q); /* either side may go first */
        q = NULL;
    }
    ns_http_parser_free(p);
    ns_http_parser_free(q);
    return 0;
}
