/*
 * test_proto_http.c - the HTTP/1.x stream parser (http.h, RFC 9112 / RFC
 * 9110): start lines, header blocks, Content-Length / chunked / close
 * delimited bodies, gzip and deflate (zlib-wrapped and raw) content codings,
 * request / response pairing (HEAD, 1xx, 204, 304, CONNECT), resync after
 * malformed input, whitespace before a field's colon (accepted, stripped,
 * counted), caps, gaps, the memory a parser holds (ns_http_parser_mem: at
 * rest, while a large header block is held, while a body is inflated),
 * allocation failures, and a real capture.
 *
 * Every case is a table entry: the request and response streams (as data
 * segments and gaps), the exact callback log expected on each side and the
 * exact counters. Each case runs fed whole, fed one byte at a time, and split
 * into two chunks at every split point; the log must not change. The log is
 * one line per callback:
 *
 *   H <method> <target> <ver> | H <status> <reason> <ver>, then
 *     #index te=chunked cl=has_length:content_length ce=encoding hb=header_bytes
 *     [name=value;...]
 *   B <body bytes, consecutive on_body calls merged, \xHH for non-printables>
 *   E f=<flags> raw=<raw_body_bytes> body=<body_bytes>
 *
 * Coded bodies are compressed here with zlib (deflateInit2: windowBits 31 for
 * gzip, 15 for zlib-wrapped deflate, -15 for raw deflate).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "netsift/alloc.h"
#include "netsift/err.h"
#include "netsift/http.h"
#include "netsift/rd.h"

/* ---- the callback log ---- */

#define LOG_CAP 32768

struct hlog {
    char s[LOG_CAP];
    size_t len;
    bool in_body;
    uint64_t body_sum; /* bytes given to on_body since the last on_end */
};

static void log_add(struct hlog *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void log_add(struct hlog *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->s + l->len, LOG_CAP - l->len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < LOG_CAP - l->len);
    l->len += (size_t)n;
}

static void log_headers(void *ud, const struct ns_http_msg *m)
{
    struct hlog *l = ud;
    assert_false(l->in_body);
    if (m->kind == NS_HTTP_REQUEST) {
        log_add(l, "H %.*s %.*s", (int)m->method_len, m->method, (int)m->target_len, m->target);
    } else {
        log_add(l, "H %u %.*s", m->status, (int)m->reason_len, m->reason);
    }
    log_add(l, " %u.%u #%llu te=%d cl=%d:%llu ce=%.*s hb=%zu [", m->version_major, m->version_minor,
            (unsigned long long)m->index, m->chunked ? 1 : 0, m->has_length ? 1 : 0,
            (unsigned long long)m->content_length,
            m->content_encoding != NULL ? (int)m->content_encoding_len : 1,
            m->content_encoding != NULL ? m->content_encoding : "-", m->header_bytes);
    for (size_t i = 0; i < m->nheaders; i++) {
        const struct ns_http_header *h = &m->headers[i];
        log_add(l, "%.*s=%.*s;", (int)h->name_len, h->name, (int)h->value_len, h->value);
    }
    log_add(l, "]\n");
    l->body_sum = 0;
}

static void log_body(void *ud, const uint8_t *data, size_t len)
{
    struct hlog *l = ud;
    assert_true(len > 0);
    if (!l->in_body) {
        log_add(l, "B ");
        l->in_body = true;
    }
    for (size_t i = 0; i < len; i++) {
        if (data[i] >= 0x20 && data[i] < 0x7f && data[i] != '\\') {
            log_add(l, "%c", data[i]);
        } else {
            log_add(l, "\\x%02x", data[i]);
        }
    }
    l->body_sum += len;
}

static void log_end(void *ud, unsigned flags, uint64_t raw, uint64_t body)
{
    struct hlog *l = ud;
    if (l->in_body) {
        log_add(l, "\n");
        l->in_body = false;
    }
    assert_int_equal(l->body_sum, body);
    log_add(l, "E f=%u raw=%llu body=%llu\n", flags, (unsigned long long)raw,
            (unsigned long long)body);
    l->body_sum = 0;
}

/* ---- cases ---- */

struct seg {
    const uint8_t *data;
    size_t len;
    uint64_t gap; /* > 0: a gap of this many bytes instead of data */
};

#define SEG(lit)                                                                                   \
    {                                                                                              \
        (const uint8_t *)(lit), sizeof(lit) - 1, 0                                                 \
    }
#define GAP(n)                                                                                     \
    {                                                                                              \
        NULL, 0, (n)                                                                               \
    }

struct side {
    struct seg segs[8];
    size_t nsegs;
    bool close;
    const char *expect;
    struct ns_http_stats st;
};

struct hcase {
    const char *name;
    struct side req, resp;
    size_t max_header_bytes;
    uint64_t max_body_bytes;
    size_t max_pending;
};

enum feed_mode {
    FEED_WHOLE,
    FEED_BYTES,
    FEED_SPLIT,
};

/* Feed one side; returns true if any feed call returned NS_EMALFORMED. */
static bool feed_side(struct ns_http_parser *p, const struct side *s, enum feed_mode mode, size_t k)
{
    bool bad = false;
    for (size_t i = 0; i < s->nsegs; i++) {
        const struct seg *g = &s->segs[i];
        if (g->gap > 0) {
            ns_http_gap(p, g->gap);
            continue;
        }
        size_t off = 0;
        while (off < g->len) {
            size_t n = g->len - off;
            if (mode == FEED_BYTES) {
                n = 1;
            } else if (mode == FEED_SPLIT && off == 0 && k < g->len) {
                n = k; /* k == 0: an empty feed first */
            }
            int rc = ns_http_feed(p, g->data + off, n);
            assert_true(rc == 0 || rc == NS_EMALFORMED);
            bad = bad || rc == NS_EMALFORMED;
            off += n;
            if (n == 0) {
                rc = ns_http_feed(p, g->data, g->len);
                assert_true(rc == 0 || rc == NS_EMALFORMED);
                bad = bad || rc == NS_EMALFORMED;
                off = g->len;
            }
        }
    }
    if (s->close) {
        ns_http_close(p);
    }
    return bad;
}

static size_t side_max_seg(const struct side *s)
{
    size_t m = 0;
    for (size_t i = 0; i < s->nsegs; i++) {
        m = s->segs[i].len > m ? s->segs[i].len : m;
    }
    return m;
}

static void check_stats(const char *name, const char *dir, const struct ns_http_stats *got,
                        const struct ns_http_stats *want)
{
    if (memcmp(got, want, sizeof(*got)) != 0) {
        print_message("case %s (%s): stats got msg=%llu mal=%llu inc=%llu trunc=%llu dec=%llu "
                      "resync=%llu tun=%llu drop=%llu ovf=%llu ws=%llu nomem=%llu\n",
                      name, dir, (unsigned long long)got->messages,
                      (unsigned long long)got->malformed, (unsigned long long)got->incomplete,
                      (unsigned long long)got->truncated, (unsigned long long)got->decode_errors,
                      (unsigned long long)got->resyncs, (unsigned long long)got->tunnels,
                      (unsigned long long)got->dropped, (unsigned long long)got->pending_overflow,
                      (unsigned long long)got->ws_before_colon, (unsigned long long)got->nomem);
    }
    assert_memory_equal(got, want, sizeof(*got));
}

static void check_log(const char *name, const char *dir, int mode, size_t k, const struct hlog *l,
                      const char *want)
{
    if (strcmp(l->s, want) != 0) {
        print_message("case %s (%s) mode %d split %zu\n--- got\n%s--- want\n%s---\n", name, dir,
                      mode, k, l->s, want);
    }
    assert_string_equal(l->s, want);
}

static void run_once(const struct hcase *c, enum feed_mode mode, size_t k)
{
    static struct hlog lreq, lresp;
    memset(&lreq, 0, sizeof(lreq));
    memset(&lresp, 0, sizeof(lresp));
    struct ns_http_opts o;
    ns_http_opts_init(&o);
    o.max_header_bytes = c->max_header_bytes;
    o.max_body_bytes = c->max_body_bytes;
    o.max_pending = c->max_pending;
    struct ns_http_callbacks cbq = {log_headers, log_body, log_end, &lreq};
    struct ns_http_callbacks cbs = {log_headers, log_body, log_end, &lresp};
    struct ns_http_parser *req = NULL, *resp = NULL;
    assert_int_equal(ns_http_parser_new(&req, NS_HTTP_REQUEST, &o, &cbq), 0);
    assert_int_equal(ns_http_parser_new(&resp, NS_HTTP_RESPONSE, &o, &cbs), 0);
    ns_http_pair(req, resp);

    bool bad_q = feed_side(req, &c->req, mode, k);
    bool bad_s = feed_side(resp, &c->resp, mode, k);

    check_log(c->name, "request", (int)mode, k, &lreq, c->req.expect != NULL ? c->req.expect : "");
    check_log(c->name, "response", (int)mode, k, &lresp,
              c->resp.expect != NULL ? c->resp.expect : "");
    check_stats(c->name, "request", ns_http_stats(req), &c->req.st);
    check_stats(c->name, "response", ns_http_stats(resp), &c->resp.st);
    /* NS_EMALFORMED is returned exactly when something malformed was counted */
    assert_int_equal(bad_q, c->req.st.malformed > 0);
    assert_int_equal(bad_s, c->resp.st.malformed > 0);

    /* either side may be freed first */
    if (k % 2 == 0) {
        ns_http_parser_free(req);
        ns_http_parser_free(resp);
    } else {
        ns_http_parser_free(resp);
        ns_http_parser_free(req);
    }
}

static void run_case(const struct hcase *c)
{
    run_once(c, FEED_WHOLE, 0);
    run_once(c, FEED_BYTES, 0);
    size_t m = side_max_seg(&c->req);
    size_t r = side_max_seg(&c->resp);
    m = r > m ? r : m;
    for (size_t k = 0; k <= m; k++) {
        run_once(c, FEED_SPLIT, k);
    }
}

#define ST(msg, mal, inc, trunc, dec, res, tun, drop)                                              \
    {                                                                                              \
        (msg), (mal), (inc), (trunc), (dec), (res), (tun), (drop), 0                               \
    }

/* ---- plain (uncoded) cases ---- */

static const struct hcase plain_cases[] = {
    {
        .name = "get without body",
        .req = {.segs = {SEG("GET /index.html?q=1 HTTP/1.1\r\n"
                             "Host: example.com\r\n"
                             "User-Agent:  curl/8.0 \t\r\n"
                             "\r\n")},
                .nsegs = 1,
                .expect = "H GET /index.html?q=1 1.1 #1 te=0 cl=0:0 ce=- hb=76 "
                          "[Host=example.com;User-Agent=curl/8.0;]\n"
                          "E f=0 raw=0 body=0\n",
                .st = ST(1, 0, 0, 0, 0, 0, 0, 0)},
    },
    {
        .name = "post with content-length",
        .req = {.segs = {SEG("POST /submit HTTP/1.0\r\n"
                             "Content-Length: 11\r\n"
                             "\r\n"
                             "hello world")},
                .nsegs = 1,
                .expect = "H POST /submit 1.0 #1 te=0 cl=1:11 ce=- hb=45 [Content-Length=11;]\n"
                          "B hello world\n"
                          "E f=0 raw=11 body=11\n",
                .st = ST(1, 0, 0, 0, 0, 0, 0, 0)},
    },
    {
        .name = "response with content-length, bare LF, blank lines before",
        .resp = {.segs = {SEG("\r\nHTTP/1.1 200 OK\n"
                              "Content-Length: 5, 5\n"
                              "\n"
                              "hello"
                              "HTTP/1.1 404\r\n"
                              "content-length: 0\r\n"
                              "\r\n")},
                 .nsegs = 1,
                 .expect = "H 200 OK 1.1 #1 te=0 cl=1:5 ce=- hb=38 [Content-Length=5, 5;]\n"
                           "B hello\n"
                           "E f=0 raw=5 body=5\n"
                           "H 404  1.1 #2 te=0 cl=1:0 ce=- hb=35 [content-length=0;]\n"
                           "E f=0 raw=0 body=0\n",
                 .st = ST(2, 0, 0, 0, 0, 0, 0, 0)},
    },
    {
        .name = "chunked response with extensions and trailers",
        .resp = {.segs = {SEG("HTTP/1.1 200 OK\r\n"
                              "Transfer-Encoding: gzip, Chunked\r\n"
                              "Content-Length: 99\r\n"
                              "\r\n"
                              "5;name=value\r\n"   /* 14 */
                              "hello\r\n"          /* 7 */
                              "0006 ; x=\"y\"\r\n" /* 14 */
                              " world\n"           /* 7: bare LF */
                              "0\r\n"              /* 3 */
                              "X-Trailer: 1\r\n"   /* 14 */
                              "\r\n"               /* 2 */
                              "HTTP/1.1 200 OK\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "\r\n"
                              "0\n"
                              "\n")},
                 .nsegs = 1,
                 .expect = "H 200 OK 1.1 #1 te=1 cl=1:99 ce=- hb=73 "
                           "[Transfer-Encoding=gzip, Chunked;Content-Length=99;]\n"
                           "B hello world\n"
                           "E f=0 raw=61 body=11\n"
                           "H 200 OK 1.1 #2 te=1 cl=0:0 ce=- hb=47 [Transfer-Encoding=chunked;]\n"
                           "E f=0 raw=3 body=0\n",
                 .st = ST(2, 0, 0, 0, 0, 0, 0, 0)},
    },
    {
        .name = "keep-alive: three requests and three responses",
        .req = {.segs = {SEG("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                             "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                             "GET /c HTTP/1.1\r\nHost: h\r\n\r\n")},
                .nsegs = 1,
                .expect = "H GET /a 1.1 #1 te=0 cl=0:0 ce=- hb=28 [Host=h;]\n"
                          "E f=0 raw=0 body=0\n"
                          "H POST /b 1.1 #2 te=0 cl=1:3 ce=- hb=48 [Host=h;Content-Length=3;]\n"
                          "B abc\n"
                          "E f=0 raw=3 body=3\n"
                          "H GET /c 1.1 #3 te=0 cl=0:0 ce=- hb=28 [Host=h;]\n"
                          "E f=0 raw=0 body=0\n",
                .st = ST(3, 0, 0, 0, 0, 0, 0, 0)},
        .resp = {.segs = {SEG("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
                              "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "2\r\nbb\r\n0\r\n\r\n"
                              "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nccc")},
                 .nsegs = 1,
                 .expect = "H 200 OK 1.1 #1 te=0 cl=1:1 ce=- hb=38 [Content-Length=1;]\n"
                           "B a\n"
                           "E f=0 raw=1 body=1\n"
                           "H 201 Created 1.1 #2 te=1 cl=0:0 ce=- hb=52 "
                           "[Transfer-Encoding=chunked;]\n"
                           "B bb\n"
                           "E f=0 raw=12 body=2\n"
                           "H 200 OK 1.1 #3 te=0 cl=1:3 ce=- hb=38 [Content-Length=3;]\n"
                           "B ccc\n"
                           "E f=0 raw=3 body=3\n",
                 .st = ST(3, 0, 0, 0, 0, 0, 0, 0)},
    },
    {
        .name = "HEAD response with Content-Length has no body",
        .req = {.segs = {SEG("HEAD /big HTTP/1.1\r\n\r\nGET /small HTTP/1.1\r\n\r\n")},
                .nsegs = 1,
                .expect = "H HEAD /big 1.1 #1 te=0 cl=0:0 ce=- hb=22 []\n"
                          "E f=0 raw=0 body=0\n"
                          "H GET /small 1.1 #2 te=0 cl=0:0 ce=- hb=23 []\n"
                          "E f=0 raw=0 body=0\n",
                .st = ST(2, 0, 0, 0, 0, 0, 0, 0)},
        .resp = {.segs = {SEG("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
                              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")},
                 .nsegs = 1,
                 .expect = "H 200 OK 1.1 #1 te=0 cl=1:1000 ce=- hb=41 [Content-Length=1000;]\n"
                           "E f=0 raw=0 body=0\n"
                           "H 200 OK 1.1 #2 te=0 cl=1:2 ce=- hb=38 [Content-Length=2;]\n"
                           "B ok\n"
                           "E f=0 raw=2 body=2\n",
                 .st = ST(2, 0, 0, 0, 0, 0, 0, 0)},
    },
    {
        .name = "100-continue then 200, 204, 304",
        .req = {.segs = {SEG("PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
                             "data"
                             "DELETE /x HTTP/1.1\r\n\r\n"
                             "GET /y HTTP/1.1\r\n\r\n"
                             "GET /z HTTP/1.1\r\n\r\n")},
                .nsegs = 1,
                .expect = "H PUT /u 1.1 #1 te=0 cl=1:4 ce=- hb=60 "
                          "[Expect=100-continue;Content-Length=4;]\n"
                          "B data\n"
                          "E f=0 raw=4 body=4\n"
                          "H DELETE /x 1.1 #2 te=0 cl=0:0 ce=- hb=22 []\n"
                          "E f=0 raw=0 body=0\n"
                          "H GET /y 1.1 #3 te=0 cl=0:0 ce=- hb=19 []\n"
                          "E f=0 raw=0 body=0\n"
                          "H GET /z 1.1 #4 te=0 cl=0:0 ce=- hb=19 []\n"
                          "E f=0 raw=0 body=0\n",
                .st = ST(4, 0, 0, 0, 0, 0, 0, 0)},
        .resp = {.segs = {SEG("HTTP/1.1 100 Continue\r\n\r\n"
                              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                              "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"
                              "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
                              "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz")},
                 .nsegs = 1,
                 .expect = "H 100 Continue 1.1 #1 te=0 cl=0:0 ce=- hb=25 []\n"
                           "E f=0 raw=0 body=0\n"
                           "H 200 OK 1.1 #2 te=0 cl=1:2 ce=- hb=38 [Content-Length=2;]\n"
                           "B ok\n"
                           "E f=0 raw=2 body=2\n"
                           "H 204 No Content 1.1 #3 te=0 cl=1:7 ce=- hb=46 [Content-Length=7;]\n"
                           "E f=0 raw=0 body=0\n"
                           "H 304 Not Modified 1.1 #4 te=0 cl=1:50 ce=- hb=49 "
                           "[Content-Length=50;]\n"
                           "E f=0 raw=0 body=0\n"
                           "H 200 OK 1.1 #5 te=0 cl=1:1 ce=- hb=38 [Content-Length=1;]\n"
                           "B z\n"
                           "E f=0 raw=1 body=1\n",
                 .st = ST(5, 0, 0, 0, 0, 0, 0, 0)},
    },
    {
        .name = "response without length ends at close",
        .resp = {.segs = {SEG("HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil the end\r\nHTTP/1.1 200 "
                              "OK\r\n")},
                 .nsegs = 1,
                 .close = true,
                 .expect = "H 200 OK 1.0 #1 te=0 cl=0:0 ce=- hb=30 [Server=x;]\n"
                           "B until the end\\x0d\\x0aHTTP/1.1 200 OK\\x0d\\x0a\n"
                           "E f=8 raw=32 body=32\n",
                 .st = ST(1, 0, 0, 0, 0, 0, 0, 0)},
    },
    {
        .name = "malformed start lines then valid messages (resync)",
        .req = {.segs = {SEG("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n"
                             "xGET / HTTP/1.1\r\n"
                             "GETX /a HTTP/1.1\r\n"
                             "GET /ok HTTP/1.1\r\n\r\n"
                             "BREW /pot HTCPCP/1.0\r\n\r\n"
                             "POST /p HTTP/1.1\r\nContent-Length: 1\r\n\r\nP")},
                .nsegs = 1,
                .expect = "H GET /ok 1.1 #1 te=0 cl=0:0 ce=- hb=20 []\n"
                          "E f=0 raw=0 body=0\n"
                          "H POST /p 1.1 #2 te=0 cl=1:1 ce=- hb=39 [Content-Length=1;]\n"
                          "B P\n"
                          "E f=0 raw=1 body=1\n",
                .st = ST(2, 2, 0, 0, 0, 2, 0, 0)},
        .resp = {.segs = {SEG("garbage line\r\nmore\r\nHTTP/1.1 200 OK\r\nContent-Length: "
                              "2\r\n\r\nok"
                              "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nno\r\n"
                              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nye")},
                 .nsegs = 1,
                 .expect = "H 200 OK 1.1 #1 te=0 cl=1:2 ce=- hb=38 [Content-Length=2;]\n"
                           "B ok\n"
                           "E f=0 raw=2 body=2\n"
                           "H 200 OK 1.1 #2 te=0 cl=1:2 ce=- hb=38 [Content-Length=2;]\n"
                           "B ye\n"
                           "E f=0 raw=2 body=2\n",
                 .st = ST(2, 2, 0, 0, 0, 2, 0, 0)},
    },
    {
        .name = "header block over the cap, obs-fold, bad field name",
        .max_header_bytes = 64,
        .resp = {.segs = {SEG("HTTP/1.1 200 OK\r\n"
                              "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
                              "\r\n"
                              "HTTP/1.1 200 OK\r\nX-Fold: a\r\n  b\r\n\r\n"
                              "HTTP/1.1 200 OK\r\nBad Name: a\r\n\r\n"
                              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")},
                 .nsegs = 1,
                 .expect = "H 200 OK 1.1 #1 te=0 cl=1:2 ce=- hb=38 [Content-Length=2;]\n"
                           "B ok\n"
                           "E f=0 raw=2 body=2\n",
                 .st = ST(1, 3, 0, 0, 0, 3, 0, 0)},
    },
    {
        .name = "conflicting Content-Length",
        .req = {.segs = {SEG(
                    "POST /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: "
                    "6\r\n\r\nhello\r\n"
                    "POST /b HTTP/1.1\r\nContent-Length: 1x\r\n\r\n"
                    "POST /c HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"
                    "POST /d HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi")},
                .nsegs = 1,
                .expect = "H POST /d 1.1 #1 te=0 cl=1:2 ce=- hb=58 "
                          "[Content-Length=2;Content-Length=2;]\n"
                          "B hi\n"
                          "E f=0 raw=2 body=2\n",
                .st = ST(1, 3, 0, 0, 0, 3, 0, 0)},
    },
    {
        .name = "chunk size overflow",
        .resp = {.segs = {SEG("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "1\r\na\r\n"
                              "10000000000000000\r\n"
                              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "zz\r\n"
                              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")},
                 .nsegs = 1,
                 .expect = "H 200 OK 1.1 #1 te=1 cl=0:0 ce=- hb=47 [Transfer-Encoding=chunked;]\n"
                           "B a\n"
                           "E f=1 raw=25 body=1\n"
                           "H 200 OK 1.1 #2 te=1 cl=0:0 ce=- hb=47 [Transfer-Encoding=chunked;]\n"
                           "E f=1 raw=4 body=0\n"
                           "H 200 OK 1.1 #3 te=0 cl=1:2 ce=- hb=38 [Content-Length=2;]\n"
                           "B ok\n"
                           "E f=0 raw=2 body=2\n",
                 .st = ST(3, 2, 2, 0, 0, 2, 0, 0)},
    },
    {
        .name = "gap inside a Content-Length body",
        .resp = {.segs = {SEG("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), GAP(4),
                          SEG("def"
                              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")},
                 .nsegs = 3,
                 .expect = "H 200 OK 1.1 #1 te=0 cl=1:10 ce=- hb=39 [Content-Length=10;]\n"
                           "B abcdef\n"
                           "E f=1 raw=6 body=6\n"
                           "H 200 OK 1.1 #2 te=0 cl=1:2 ce=- hb=38 [Content-Length=2;]\n"
                           "B ok\n"
                           "E f=0 raw=2 body=2\n",
                 .st = ST(2, 0, 1, 0, 0, 0, 0, 0)},
    },
    {
        .name = "gap in a chunked body ends the message, resync to the next",
        .resp = {.segs = {SEG("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "a\r\n01234"),
                          GAP(3),
                          SEG("89\r\n0\r\n\r\n"
                              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")},
                 .nsegs = 3,
                 .expect = "H 200 OK 1.1 #1 te=1 cl=0:0 ce=- hb=47 [Transfer-Encoding=chunked;]\n"
                           "B 01234\n"
                           "E f=1 raw=8 body=5\n"
                           "H 200 OK 1.1 #2 te=0 cl=1:2 ce=- hb=38 [Content-Length=2;]\n"
                           "B ok\n"
                           "E f=0 raw=2 body=2\n",
                 .st = ST(2, 0, 1, 0, 0, 1, 0, 0)},
    },
    {
        .name = "gaps: past a body, in headers, at close",
        .req = {.segs = {SEG("GET /a HTTP/1.1\r\nHo"), GAP(10),
                         SEG("st: x\r\n\r\nGET /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\n"
                             "Content-Length: 4\r\n\r\nab"),
                         GAP(9), SEG("GET /d HTTP/1.1\r\n\r\nGET /e HT")},
                .nsegs = 5,
                .close = true,
                .expect = "H GET /b 1.1 #1 te=0 cl=0:0 ce=- hb=19 []\n"
                          "E f=0 raw=0 body=0\n"
                          "H POST /c 1.1 #2 te=0 cl=1:4 ce=- hb=39 [Content-Length=4;]\n"
                          "B ab\n"
                          "E f=1 raw=2 body=2\n"
                          "H GET /d 1.1 #3 te=0 cl=0:0 ce=- hb=19 []\n"
                          "E f=0 raw=0 body=0\n",
                .st = ST(3, 0, 1, 0, 0, 2, 0, 2)},
        .resp = {.segs = {SEG("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc")},
                 .nsegs = 1,
                 .close = true,
                 .expect = "H 200 OK 1.1 #1 te=0 cl=1:5 ce=- hb=38 [Content-Length=5;]\n"
                           "B abc\n"
                           "E f=1 raw=3 body=3\n",
                 .st = ST(1, 0, 1, 0, 0, 0, 0, 0)},
    },
    {
        .name = "CONNECT 200 is a tunnel",
        .req = {.segs = {SEG("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
                             "\x16\x03\x01\x00\x05hello\r\nGET / HTTP/1.1\r\n\r\n")},
                .nsegs = 1,
                .expect = "H CONNECT example.com:443 1.1 #1 te=0 cl=0:0 ce=- hb=59 "
                          "[Host=example.com:443;]\n"
                          "E f=0 raw=0 body=0\n",
                .st = ST(1, 0, 0, 0, 0, 0, 1, 0)},
        .resp = {.segs = {SEG("HTTP/1.1 200 Connection established\r\n\r\n"
                              "\x16\x03\x03 tls\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")},
                 .nsegs = 1,
                 .expect = "H 200 Connection established 1.1 #1 te=0 cl=0:0 ce=- hb=39 []\n"
                           "E f=0 raw=0 body=0\n",
                 .st = ST(1, 0, 0, 0, 0, 0, 1, 0)},
    },
    {
        .name = "unknown content coding gives raw bytes",
        .resp = {.segs = {SEG("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: "
                              "3\r\n\r\n\x01\x02\x03"
                              "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Encoding: "
                              "gzip\r\nContent-Length: 1\r\n\r\nZ")},
                 .nsegs = 1,
                 .expect = "H 200 OK 1.1 #1 te=0 cl=1:3 ce=br hb=60 "
                           "[Content-Encoding=br;Content-Length=3;]\n"
                           "B \\x01\\x02\\x03\n"
                           "E f=0 raw=3 body=3\n"
                           "H 200 OK 1.1 #2 te=0 cl=1:1 ce=gzip hb=86 "
                           "[Content-Encoding=gzip;Content-Encoding=gzip;Content-Length=1;]\n"
                           "B Z\n"
                           "E f=0 raw=1 body=1\n",
                 .st = ST(2, 0, 0, 0, 0, 0, 0, 0)},
    },
    {
        .name = "broken gzip body",
        .resp = {.segs = {SEG("HTTP/1.1 200 OK\r\nContent-Encoding: x-gzip\r\nContent-Length: "
                              "14\r\n\r\n"
                              "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" /* gzip header */
                              "\xff\xff\xff\xff" /* deflate block type 3: reserved */
                              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")},
                 .nsegs = 1,
                 .expect = "H 200 OK 1.1 #1 te=0 cl=1:14 ce=x-gzip hb=65 "
                           "[Content-Encoding=x-gzip;Content-Length=14;]\n"
                           "E f=4 raw=14 body=0\n"
                           "H 200 OK 1.1 #2 te=0 cl=1:2 ce=- hb=38 [Content-Length=2;]\n"
                           "B ok\n"
                           "E f=0 raw=2 body=2\n",
                 .st = ST(2, 0, 0, 0, 1, 0, 0, 0)},
    },
    {
        .name = "chunk-size lines: extensions, stray CR, whitespace",
        .resp = {.segs = {SEG("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "3 \t;a=b\rc\r\n" /* 11: BWS, a CR inside the extension */
                              "abc\r\n"         /* 5 */
                              "0;\r\n"          /* 4 */
                              "\r\n"            /* 2 */
                              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "2\r\r\n" /* a CR not before the LF */
                              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              " 2\r\n" /* whitespace first */
                              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "2 2\r\n" /* digits after whitespace */
                              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")},
                 .nsegs = 1,
                 .expect = "H 200 OK 1.1 #1 te=1 cl=0:0 ce=- hb=47 [Transfer-Encoding=chunked;]\n"
                           "B abc\n"
                           "E f=0 raw=22 body=3\n"
                           "H 200 OK 1.1 #2 te=1 cl=0:0 ce=- hb=47 [Transfer-Encoding=chunked;]\n"
                           "E f=1 raw=4 body=0\n"
                           "H 200 OK 1.1 #3 te=1 cl=0:0 ce=- hb=47 [Transfer-Encoding=chunked;]\n"
                           "E f=1 raw=4 body=0\n"
                           "H 200 OK 1.1 #4 te=1 cl=0:0 ce=- hb=47 [Transfer-Encoding=chunked;]\n"
                           "E f=1 raw=5 body=0\n"
                           "H 200 OK 1.1 #5 te=0 cl=1:2 ce=- hb=38 [Content-Length=2;]\n"
                           "B ok\n"
                           "E f=0 raw=2 body=2\n",
                 .st = ST(5, 3, 3, 0, 0, 3, 0, 0)},
    },
};

/*
 * Whitespace between a field name and its colon (RFC 9112 section 5.1: a
 * server rejects it, a proxy strips it from a response): an observer accepts
 * it both ways, strips it from the name and counts the lines in reported
 * messages (stat ws_before_colon).
 */
static const struct hcase ws_cases[] = {
    {
        .name = "whitespace before the colon, request and response",
        .req = {.segs = {SEG("GET / HTTP/1.1\r\n"
                             "Host : h\r\n"
                             "X-Ws \t :  v \r\n" /* SP HTAB SP before the colon */
                             "\r\n"
                             "POST /x HTTP/1.1\r\n"
                             "Content-Length  : 3\r\n" /* still frames the body */
                             "\r\n"
                             "abc")},
                .nsegs = 1,
                .expect = "H GET / 1.1 #1 te=0 cl=0:0 ce=- hb=42 [Host=h;X-Ws=v;]\n"
                          "E f=0 raw=0 body=0\n"
                          "H POST /x 1.1 #2 te=0 cl=1:3 ce=- hb=41 [Content-Length=3;]\n"
                          "B abc\n"
                          "E f=0 raw=3 body=3\n",
                .st = {.messages = 2, .ws_before_colon = 3}},
        .resp = {.segs = {SEG("HTTP/1.1 200 OK\r\n"
                              "Access-Control-Allow-Credentials : true\r\n"
                              "Content-Length\t: 2\r\n"
                              "X-A: b\r\n"
                              "\r\n"
                              "ok"
                              "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")},
                 .nsegs = 1,
                 .expect = "H 200 OK 1.1 #1 te=0 cl=1:2 ce=- hb=88 "
                           "[Access-Control-Allow-Credentials=true;Content-Length=2;X-A=b;]\n"
                           "B ok\n"
                           "E f=0 raw=2 body=2\n"
                           "H 200 OK 1.1 #2 te=0 cl=1:0 ce=- hb=38 [Content-Length=0;]\n"
                           "E f=0 raw=0 body=0\n",
                 .st = {.messages = 2, .ws_before_colon = 2}},
    },
    {
        .name =
            "whitespace inside a name or with no colon is malformed; rejected blocks not counted",
        .resp = {.segs = {SEG("HTTP/1.1 200 OK\r\n"
                              "Bad Name : a\r\n" /* SP inside the name */
                              "\r\n"
                              "HTTP/1.1 200 OK\r\n"
                              "X-A : 1\r\n"
                              "Content-Length: 1\r\n"
                              "Content-Length : 2\r\n" /* the stripped name conflicts */
                              "\r\n"
                              "HTTP/1.1 200 OK\r\n"
                              "NoColon \r\n"
                              "\r\n"
                              "HTTP/1.1 200 OK\r\n"
                              "X-Empty :\r\n"
                              "Content-Length: 2\r\n"
                              "\r\n"
                              "ok")},
                 .nsegs = 1,
                 .expect = "H 200 OK 1.1 #1 te=0 cl=1:2 ce=- hb=49 "
                           "[X-Empty=;Content-Length=2;]\n"
                           "B ok\n"
                           "E f=0 raw=2 body=2\n",
                 .st = {.messages = 1, .malformed = 3, .resyncs = 3, .ws_before_colon = 1}},
    },
};

static void test_ws_before_colon(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ws_cases) / sizeof(ws_cases[0]); i++) {
        run_case(&ws_cases[i]);
    }
}

static void test_plain_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(plain_cases) / sizeof(plain_cases[0]); i++) {
        run_case(&plain_cases[i]);
    }
}

/* ---- coded bodies, built with zlib ---- */

static size_t zcompress(const void *in, size_t n, uint8_t *out, size_t cap, int wbits)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t len = cap - zs.avail_out;
    deflateEnd(&zs);
    return len;
}

static const char json_text[] = "{\"greeting\":\"hello, hello, hello world\",\"n\":[1,2,3,4,5]}";

/* A response carrying json_text under `coding` (zlib window bits wbits), length-framed. */
static void coded_case(const char *coding, int wbits)
{
    static uint8_t z[512], stream[1024];
    static char hdr[256], expect[1024];
    size_t zl = zcompress(json_text, sizeof(json_text) - 1, z, sizeof(z), wbits);
    int hl = snprintf(hdr, sizeof(hdr),
                      "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %zu\r\n\r\n",
                      coding, zl);
    assert_true(hl > 0 && (size_t)hl < sizeof(hdr));
    memcpy(stream, hdr, (size_t)hl);
    memcpy(stream + hl, z, zl);
    snprintf(expect, sizeof(expect),
             "H 200 OK 1.1 #1 te=0 cl=1:%zu ce=%s hb=%d [Content-Encoding=%s;Content-Length=%zu;]\n"
             "B %s\n"
             "E f=0 raw=%zu body=%zu\n",
             zl, coding, hl, coding, zl, json_text, zl, sizeof(json_text) - 1);
    struct hcase c = {
        .name = coding,
        .resp = {.segs = {{stream, (size_t)hl + zl, 0}},
                 .nsegs = 1,
                 .expect = expect,
                 .st = ST(1, 0, 0, 0, 0, 0, 0, 0)},
    };
    run_case(&c);
}

static void test_gzip_body(void **state)
{
    (void)state;
    coded_case("gzip", 31);
}

static void test_deflate_wrapped(void **state)
{
    (void)state;
    coded_case("deflate", 15);
}

static void test_deflate_raw(void **state)
{
    (void)state;
    coded_case("Deflate", -15);
}

/* Chunked and gzip together: the gzip bytes sent in 7-byte chunks. */
static void test_chunked_gzip(void **state)
{
    (void)state;
    static uint8_t z[512], stream[2048];
    static char expect[1024];
    size_t zl = zcompress(json_text, sizeof(json_text) - 1, z, sizeof(z), 31);
    static const char hdr[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                              "Content-Encoding: gzip\r\n\r\n";
    size_t n = sizeof(hdr) - 1;
    memcpy(stream, hdr, n);
    size_t raw = 0;
    for (size_t off = 0; off < zl; off += 7) {
        size_t take = zl - off < 7 ? zl - off : 7;
        int w = snprintf((char *)stream + n, sizeof(stream) - n, "%zx\r\n", take);
        n += (size_t)w;
        memcpy(stream + n, z + off, take);
        n += take;
        memcpy(stream + n, "\r\n", 2);
        n += 2;
        raw += (size_t)w + take + 2;
    }
    memcpy(stream + n, "0\r\n\r\n", 5);
    n += 5;
    raw += 5;
    snprintf(expect, sizeof(expect),
             "H 200 OK 1.1 #1 te=1 cl=0:0 ce=gzip hb=%zu "
             "[Transfer-Encoding=chunked;Content-Encoding=gzip;]\n"
             "B %s\n"
             "E f=0 raw=%zu body=%zu\n",
             sizeof(hdr) - 1, json_text, raw, sizeof(json_text) - 1);
    struct hcase c = {
        .name = "chunked gzip",
        .resp = {.segs = {{stream, n, 0}},
                 .nsegs = 1,
                 .expect = expect,
                 .st = ST(1, 0, 0, 0, 0, 0, 0, 0)},
    };
    run_case(&c);
}

/* A gap inside a gzip body: framing goes on, decoding stops. */
static void test_gap_in_gzip_body(void **state)
{
    (void)state;
    static uint8_t stream[1024];
    static char expect[1024];
    static char text[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(text); i++) {
        x = x * 1103515245u + 12345u; /* an LCG: hardly compressible letters */
        text[i] = (char)('a' + (x >> 16) % 26);
    }
    static uint8_t zz[8192];
    size_t zl = zcompress(text, sizeof(text), zz, sizeof(zz), 31);
    assert_true(zl > 100);
    int hl =
        snprintf((char *)stream, sizeof(stream),
                 "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zl);
    /* the first 10 bytes (the gzip header) are seen; then a gap of 20; then the rest */
    memcpy(stream + hl, zz, 10);
    snprintf(expect, sizeof(expect),
             "H 200 OK 1.1 #1 te=0 cl=1:%zu ce=gzip hb=%d "
             "[Content-Encoding=gzip;Content-Length=%zu;]\n"
             "E f=5 raw=%zu body=0\n",
             zl, hl, zl, zl - 20);
    struct hcase c = {
        .name = "gap in gzip body",
        .resp = {.segs = {{stream, (size_t)hl + 10, 0}, GAP(20), {zz + 30, zl - 30, 0}},
                 .nsegs = 3,
                 .expect = expect,
                 .st = ST(1, 0, 1, 0, 1, 0, 0, 0)},
    };
    run_case(&c);
}

/* A small gzip body inflating far past max_body_bytes: truncated, bounded, framing kept. */
static void test_zip_bomb(void **state)
{
    (void)state;
    static uint8_t zeros[1 << 20];
    static uint8_t z[8192], stream[16384];
    static char expect[16384];
    memset(zeros, 0, sizeof(zeros));
    size_t zl = zcompress(zeros, sizeof(zeros), z, sizeof(z), 31);
    assert_true(zl < 4096);
    int hl =
        snprintf((char *)stream, sizeof(stream),
                 "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zl);
    memcpy(stream + hl, z, zl);
    static const char next[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    memcpy(stream + (size_t)hl + zl, next, sizeof(next) - 1);
    size_t n = (size_t)hl + zl + sizeof(next) - 1;
    int e = snprintf(expect, sizeof(expect),
                     "H 200 OK 1.1 #1 te=0 cl=1:%zu ce=gzip hb=%d "
                     "[Content-Encoding=gzip;Content-Length=%zu;]\nB ",
                     zl, hl, zl);
    size_t el = (size_t)e;
    for (int i = 0; i < 1000; i++) {
        memcpy(expect + el, "\\x00", 4);
        el += 4;
    }
    snprintf(expect + el, sizeof(expect) - el,
             "\nE f=2 raw=%zu body=1000\n"
             "H 200 OK 1.1 #2 te=0 cl=1:2 ce=- hb=38 [Content-Length=2;]\n"
             "B ok\n"
             "E f=0 raw=2 body=2\n",
             zl);
    struct hcase c = {
        .name = "zip bomb",
        .max_body_bytes = 1000,
        .resp = {.segs = {{stream, n, 0}},
                 .nsegs = 1,
                 .expect = expect,
                 .st = ST(2, 0, 0, 1, 0, 0, 0, 0)},
    };
    /* 1-byte and every-split feeding of ~1 KiB is cheap; keep the whole run */
    run_case(&c);
}

/* Plain bodies are capped at max_body_bytes too. */
static void test_plain_body_cap(void **state)
{
    (void)state;
    struct hcase c = {
        .name = "plain body cap",
        .max_body_bytes = 4,
        .resp = {.segs = {SEG("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef")},
                 .nsegs = 1,
                 .expect = "H 200 OK 1.1 #1 te=0 cl=1:6 ce=- hb=38 [Content-Length=6;]\n"
                           "B abcd\n"
                           "E f=2 raw=6 body=4\n",
                 .st = ST(1, 0, 0, 1, 0, 0, 0, 0)},
    };
    run_case(&c);
}

/* A refused CONNECT: the request side parses again; a full method queue is counted. */
static void test_connect_refused_and_queue(void **state)
{
    (void)state;
    struct hcase c = {
        .name = "connect refused",
        .max_pending = 1,
        .req = {.segs = {SEG("CONNECT h:443 HTTP/1.1\r\n\r\n")},
                .nsegs = 1,
                .expect = "H CONNECT h:443 1.1 #1 te=0 cl=0:0 ce=- hb=26 []\n"
                          "E f=0 raw=0 body=0\n",
                .st = ST(1, 0, 0, 0, 0, 0, 1, 0)},
        .resp = {.segs = {SEG("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: "
                              "1\r\n\r\nx")},
                 .nsegs = 1,
                 .expect = "H 407 Proxy Authentication Required 1.1 #1 te=0 cl=1:1 ce=- hb=65 "
                           "[Content-Length=1;]\n"
                           "B x\n"
                           "E f=0 raw=1 body=1\n",
                 .st = ST(1, 0, 0, 0, 0, 0, 0, 0)},
    };
    run_case(&c);

    /* after the 407 the request parser is back to HTTP; queue of 1 overflows on the 2nd */
    static struct hlog lq, ls;
    memset(&lq, 0, sizeof(lq));
    memset(&ls, 0, sizeof(ls));
    struct ns_http_opts o;
    ns_http_opts_init(&o);
    o.max_pending = 1;
    struct ns_http_callbacks cbq = {log_headers, log_body, log_end, &lq};
    struct ns_http_callbacks cbs = {log_headers, log_body, log_end, &ls};
    struct ns_http_parser *req, *resp;
    assert_int_equal(ns_http_parser_new(&req, NS_HTTP_REQUEST, &o, &cbq), 0);
    assert_int_equal(ns_http_parser_new(&resp, NS_HTTP_RESPONSE, &o, &cbs), 0);
    ns_http_pair(req, resp);
    static const char q1[] = "CONNECT h:443 HTTP/1.1\r\n\r\n";
    static const char s1[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    static const char q2[] = "HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    static const char s2[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
                             "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    assert_int_equal(ns_http_feed(req, (const uint8_t *)q1, sizeof(q1) - 1), 0);
    assert_int_equal(ns_http_feed(resp, (const uint8_t *)s1, sizeof(s1) - 1), 0);
    assert_int_equal(ns_http_feed(req, (const uint8_t *)q2, sizeof(q2) - 1), 0);
    assert_int_equal(ns_http_feed(resp, (const uint8_t *)s2, sizeof(s2) - 1), 0);
    assert_string_equal(lq.s, "H CONNECT h:443 1.1 #1 te=0 cl=0:0 ce=- hb=26 []\n"
                              "E f=0 raw=0 body=0\n"
                              "H HEAD /a 1.1 #2 te=0 cl=0:0 ce=- hb=20 []\n"
                              "E f=0 raw=0 body=0\n"
                              "H GET /b 1.1 #3 te=0 cl=0:0 ce=- hb=19 []\n"
                              "E f=0 raw=0 body=0\n");
    assert_string_equal(ls.s, "H 403 Forbidden 1.1 #1 te=0 cl=1:0 ce=- hb=45 [Content-Length=0;]\n"
                              "E f=0 raw=0 body=0\n"
                              "H 200 OK 1.1 #2 te=0 cl=1:3 ce=- hb=38 [Content-Length=3;]\n"
                              "E f=0 raw=0 body=0\n"
                              "H 200 OK 1.1 #3 te=0 cl=1:3 ce=- hb=38 [Content-Length=3;]\n"
                              "B abc\n"
                              "E f=0 raw=3 body=3\n");
    assert_int_equal(ns_http_stats(req)->pending_overflow, 1);
    assert_int_equal(ns_http_stats(req)->tunnels, 1);
    ns_http_parser_free(req);
    ns_http_parser_free(resp);
}

/* Options, defaults and allocation failures. */
static void test_opts_and_alloc(void **state)
{
    (void)state;
    struct ns_http_opts o;
    ns_http_opts_init(&o);
    assert_int_equal(o.max_header_bytes, 64 * 1024);
    assert_int_equal(o.max_headers, 128);
    assert_int_equal(o.max_body_bytes, 256ull * 1024 * 1024);
    assert_int_equal(o.max_pending, 64);
    assert_true(o.decode_content);

    /* decode_content off: the gzip bytes are given as they are */
    static struct hlog l;
    memset(&l, 0, sizeof(l));
    o.decode_content = false;
    struct ns_http_callbacks cb = {log_headers, log_body, log_end, &l};
    struct ns_http_parser *p;
    assert_int_equal(ns_http_parser_new(&p, NS_HTTP_RESPONSE, &o, &cb), 0);
    static const char s[] = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n"
                            "\r\n\x1f\x8b";
    assert_int_equal(ns_http_feed(p, (const uint8_t *)s, sizeof(s) - 1), 0);
    assert_string_equal(l.s, "H 200 OK 1.1 #1 te=0 cl=1:2 ce=gzip hb=62 "
                             "[Content-Encoding=gzip;Content-Length=2;]\n"
                             "B \\x1f\\x8b\n"
                             "E f=0 raw=2 body=2\n");
    ns_http_parser_free(p);
    ns_http_parser_free(NULL);

    /*
     * every allocation of new, of the header block (buffer, array) and of the
     * first coded body failing in turn
     */
    static const char g[] = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 1\r\n"
                            "\r\n\x1f";
    unsigned dropped = 0;
    for (uint64_t n = 1; n < 64; n++) {
        memset(&l, 0, sizeof(l));
        ns_alloc_fail_at(n);
        int rc = ns_http_parser_new(&p, NS_HTTP_RESPONSE, NULL, &cb);
        if (rc != 0) {
            ns_alloc_fail_at(0);
            assert_int_equal(rc, NS_ENOMEM);
            assert_null(p);
            continue;
        }
        rc = ns_http_feed(p, (const uint8_t *)g, sizeof(g) - 1);
        ns_alloc_fail_at(0);
        assert_int_equal(rc, 0);
        const struct ns_http_stats *st = ns_http_stats(p);
        if (l.len == 0) {
            /* the header buffer or array could not be had: the block is dropped, counted */
            assert_int_equal(st->dropped, 1);
            assert_int_equal(st->nomem, 1);
            assert_int_equal(st->messages, 0);
            assert_int_equal(st->malformed, 0);
            dropped++;
        } else {
            /* either decoding was set up (unfinished stream) or it failed: DECODE_ERR both ways */
            assert_string_equal(l.s, "H 200 OK 1.1 #1 te=0 cl=1:1 ce=gzip hb=62 "
                                     "[Content-Encoding=gzip;Content-Length=1;]\n"
                                     "E f=4 raw=1 body=0\n");
            assert_int_equal(st->dropped, 0);
            assert_true(st->nomem <= 1);
        }
        /* the inflater is gone with the message: what is left is the resting size */
        assert_true(ns_http_parser_mem(p) < 2048);
        ns_http_parser_free(p);
    }
    assert_int_equal(dropped, 2); /* one for the buffer, one for the array */
}

/* ---- memory held by a parser (ns_http_parser_mem) ---- */

struct mem_rec {
    struct ns_http_parser *p;
    size_t at_headers; /* ns_http_parser_mem in on_headers */
    size_t in_body;    /* largest ns_http_parser_mem in on_body */
    size_t at_end;     /* ns_http_parser_mem in on_end */
    size_t nheaders;
    size_t header_bytes;
    uint64_t body;
    unsigned nend, flags;
};

static void mem_headers(void *ud, const struct ns_http_msg *m)
{
    struct mem_rec *r = ud;
    r->at_headers = ns_http_parser_mem(r->p);
    r->nheaders = m->nheaders;
    r->header_bytes = m->header_bytes;
}

static void mem_body(void *ud, const uint8_t *data, size_t len)
{
    struct mem_rec *r = ud;
    (void)data;
    size_t m = ns_http_parser_mem(r->p);
    r->in_body = m > r->in_body ? m : r->in_body;
    r->body += len;
}

static void mem_end(void *ud, unsigned flags, uint64_t raw, uint64_t body)
{
    struct mem_rec *r = ud;
    (void)raw;
    (void)body;
    r->at_end = ns_http_parser_mem(r->p);
    r->nend++;
    r->flags = flags;
}

/* Feed (d, n) whole or one byte at a time; every call must return 0. */
static void mem_feed(struct ns_http_parser *p, const uint8_t *d, size_t n, bool bytes)
{
    if (!bytes) {
        assert_int_equal(ns_http_feed(p, d, n), 0);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ns_http_feed(p, d + i, 1), 0);
    }
}

/* "GET /big HTTP/1.1" and 40 fields of 500 bytes each: about 21 KiB of header block. */
static size_t big_request(char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "GET /big HTTP/1.1\r\n");
    for (int i = 0; i < 40; i++) {
        n += (size_t)snprintf(out + n, cap - n, "X-Field-%02d: ", i);
        assert_true(cap - n > 520);
        memset(out + n, 'a' + i % 26, 500);
        n += 500;
        n += (size_t)snprintf(out + n, cap - n, "\r\n");
    }
    n += (size_t)snprintf(out + n, cap - n, "\r\n");
    assert_true(n < cap);
    return n;
}

/*
 * A large header block makes the buffer and the array grow (doubling, as
 * much as needed); once it is reported both are freed, and the parser at
 * rest holds what a new one holds. A small block takes 512 bytes and 8
 * entries while it is read, and gives them back too. A coded body holds the
 * inflater only until its message ends.
 */
static void test_parser_mem(void **state)
{
    (void)state;
    static char big[32768];
    size_t bn = big_request(big, sizeof(big));
    assert_true(bn > 16384 && bn <= 32768);
    const size_t hsz = sizeof(struct ns_http_header);

    for (int mode = 0; mode < 2; mode++) {
        bool bytes = mode == 1;
        static struct mem_rec rq, rs;
        memset(&rq, 0, sizeof(rq));
        memset(&rs, 0, sizeof(rs));
        struct ns_http_callbacks cbq = {mem_headers, mem_body, mem_end, &rq};
        struct ns_http_callbacks cbs = {mem_headers, mem_body, mem_end, &rs};
        struct ns_http_parser *req, *resp;
        assert_int_equal(ns_http_parser_new(&req, NS_HTTP_REQUEST, NULL, &cbq), 0);
        assert_int_equal(ns_http_parser_new(&resp, NS_HTTP_RESPONSE, NULL, &cbs), 0);
        ns_http_pair(req, resp);
        rq.p = req;
        rs.p = resp;
        size_t q0 = ns_http_parser_mem(req);
        size_t s0 = ns_http_parser_mem(resp);
        assert_int_equal(s0, q0 + 64); /* the method queue: max_pending bytes */
        assert_true(q0 < 1024);

        /* large header block: 512 doubled to 32 KiB, 8 entries doubled to 64 */
        mem_feed(req, (const uint8_t *)big, bn, bytes);
        assert_int_equal(rq.nheaders, 40);
        assert_int_equal(rq.header_bytes, bn);
        assert_int_equal(rq.at_headers, q0 + 32768 + 64 * hsz);
        assert_int_equal(rq.nend, 1);
        /* at rest after it: all given back */
        assert_int_equal(ns_http_parser_mem(req), q0);

        /* a small block: the first buffer and array, given back once reported */
        static const char small[] = "GET /s HTTP/1.1\r\nHost: h\r\n\r\n";
        mem_feed(req, (const uint8_t *)small, sizeof(small) - 1, bytes);
        assert_int_equal(rq.nend, 2);
        assert_int_equal(rq.at_headers, q0 + 512 + 8 * hsz);
        assert_int_equal(ns_http_parser_mem(req), q0);

        /* a gzip body: the inflater is there while it is decoded, gone at its end */
        static uint8_t zbody[256], zresp[512];
        size_t zl = zcompress(json_text, sizeof(json_text) - 1, zbody, sizeof(zbody), 31);
        int hl = snprintf((char *)zresp, sizeof(zresp),
                          "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n"
                          "\r\n",
                          zl);
        memcpy(zresp + hl, zbody, zl);
        mem_feed(resp, zresp, (size_t)hl + zl, bytes);
        assert_int_equal(rs.nend, 1);
        assert_int_equal(rs.flags, 0);
        assert_int_equal(rs.body, sizeof(json_text) - 1);
        /* the 16 KiB output buffer and zlib's state (its size is zlib's business) */
        assert_true(rs.in_body > s0 + 16384);
        assert_int_equal(rs.at_end, s0);
        assert_int_equal(ns_http_parser_mem(resp), s0);

        /*
         * a gzip body after a header block that outgrew the kept buffer: the
         * coding is read before the buffer is given back (ASan checks it)
         */
        static char cookie[900];
        memset(cookie, 'c', sizeof(cookie));
        static uint8_t zbig[2048];
        int bl = snprintf((char *)zbig, sizeof(zbig),
                          "HTTP/1.1 200 OK\r\nSet-Cookie: %.*s\r\nContent-Encoding: gzip\r\n"
                          "Content-Length: %zu\r\n\r\n",
                          (int)sizeof(cookie), cookie, zl);
        assert_true(bl > 512 && bl <= 1024 && (size_t)bl + zl < sizeof(zbig));
        memcpy(zbig + bl, zbody, zl);
        rs.body = 0;
        rs.in_body = 0;
        mem_feed(resp, zbig, (size_t)bl + zl, bytes);
        assert_int_equal(rs.nend, 2);
        assert_int_equal(rs.flags, 0);
        assert_int_equal(rs.body, sizeof(json_text) - 1);
        assert_int_equal(rs.at_headers, s0 + 1024 + 8 * hsz);
        assert_true(rs.in_body > s0 + 8 * hsz + 16384);
        assert_int_equal(rs.at_end, s0); /* the 1 KiB buffer was given back */

        /* the large block again, then the close: still at rest */
        mem_feed(req, (const uint8_t *)big, bn, bytes);
        assert_int_equal(rq.nend, 3);
        ns_http_close(req);
        assert_int_equal(ns_http_parser_mem(req), q0);
        ns_http_parser_free(req);
        ns_http_parser_free(resp);
    }

    /* a cap that is not a power of two: the buffer grows to the cap exactly */
    static struct mem_rec r;
    memset(&r, 0, sizeof(r));
    struct ns_http_opts o;
    ns_http_opts_init(&o);
    o.max_header_bytes = 1000;
    o.max_headers = 10;
    struct ns_http_callbacks cb = {mem_headers, mem_body, mem_end, &r};
    struct ns_http_parser *p;
    assert_int_equal(ns_http_parser_new(&p, NS_HTTP_REQUEST, &o, &cb), 0);
    r.p = p;
    size_t p0 = ns_http_parser_mem(p);
    static char blk[1000];
    size_t n = (size_t)snprintf(blk, sizeof(blk), "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 10; i++) {
        n += (size_t)snprintf(blk + n, sizeof(blk) - n, "X%d: %s\r\n", i,
                              "0123456789012345678901234567890123456789012345678901234567890123456"
                              "7890123456789");
    }
    n += (size_t)snprintf(blk + n, sizeof(blk) - n, "\r\n");
    assert_true(n > 512 && n <= 1000);
    assert_int_equal(ns_http_feed(p, (const uint8_t *)blk, n), 0);
    assert_int_equal(r.nend, 1);
    assert_int_equal(r.nheaders, 10);
    assert_int_equal(r.at_headers, p0 + 1000 + 10 * hsz); /* 512 -> 1000, 8 -> 10 */
    assert_int_equal(ns_http_parser_mem(p), p0);
    ns_http_parser_free(p);
}

/* Feed the whole of s to p (must return 0). */
static void reset_feed(struct ns_http_parser *p, const char *s)
{
    assert_int_equal(ns_http_feed(p, (const uint8_t *)s, strlen(s)), 0);
}

/*
 * ns_http_parser_reset: the parser behaves as a new one of the given kind
 * (callbacks, counters, pairing, a half-read block forgotten), and with
 * keep_buffers holds on to its header buffer and array instead of
 * allocating them again.
 */
static void test_parser_reset(void **state)
{
    (void)state;
    static const char req[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    const size_t hsz = sizeof(struct ns_http_header);
    for (int keep = 0; keep < 2; keep++) {
        static struct hlog la, lb, lfresh;
        memset(&la, 0, sizeof(la));
        memset(&lb, 0, sizeof(lb));
        memset(&lfresh, 0, sizeof(lfresh));
        struct ns_http_callbacks ca = {log_headers, log_body, log_end, &la};
        struct ns_http_callbacks cb = {log_headers, log_body, log_end, &lb};
        struct ns_http_callbacks cf = {log_headers, log_body, log_end, &lfresh};
        struct ns_http_opts o;
        ns_http_opts_init(&o);
        o.keep_buffers = keep == 1;
        struct ns_http_parser *p, *peer, *fresh;
        assert_int_equal(ns_http_parser_new(&p, NS_HTTP_REQUEST, &o, &ca), 0);
        assert_int_equal(ns_http_parser_new(&peer, NS_HTTP_RESPONSE, &o, NULL), 0);
        assert_int_equal(ns_http_parser_new(&fresh, NS_HTTP_RESPONSE, &o, &cf), 0);
        size_t q0 = ns_http_parser_mem(p);
        ns_http_pair(p, peer);

        reset_feed(p, req);
        assert_string_equal(la.s, "H GET /a 1.1 #1 te=0 cl=0:0 ce=- hb=28 [Host=h;]\n"
                                  "E f=0 raw=0 body=0\n");
        /* at rest: a new parser's bytes, or those and the first buffer and array kept */
        assert_int_equal(ns_http_parser_mem(p), keep ? q0 + 512 + 8 * hsz : q0);

        /* half a header block, then a new stream the other way: the half is forgotten */
        reset_feed(p, "GET /b HTTP/1.1\r\nHo");
        size_t la_len = la.len;
        assert_int_equal(ns_http_parser_reset(p, NS_HTTP_RESPONSE, &cb), 0);
        ns_http_parser_free(peer); /* the pairing went with the reset */
        reset_feed(p, resp);
        reset_feed(fresh, resp);
        assert_string_equal(lb.s, lfresh.s);
        assert_int_equal(la.len, la_len); /* the old callbacks heard nothing more */
        const struct ns_http_stats *st = ns_http_stats(p);
        assert_int_equal(st->messages, 1);
        assert_int_equal(st->dropped, 0);
        assert_int_equal(st->malformed, 0);
        /* what a new response parser holds after the same message: method queue, kept buffers */
        assert_int_equal(ns_http_parser_mem(p), ns_http_parser_mem(fresh));

        /* and back to a request parser, with no callbacks */
        assert_int_equal(ns_http_parser_reset(p, NS_HTTP_REQUEST, NULL), 0);
        reset_feed(p, req);
        assert_int_equal(ns_http_stats(p)->messages, 1);
        ns_http_parser_free(p);
        ns_http_parser_free(fresh);
    }
}

/* The header buffer cannot grow: the block is dropped and counted, the next message is parsed. */
static void test_header_growth_nomem(void **state)
{
    (void)state;
    static char stream[4096];
    size_t n = (size_t)snprintf(stream, sizeof(stream), "GET /a HTTP/1.1\r\nX-Big: ");
    memset(stream + n, 'b', 2000);
    n += 2000;
    n += (size_t)snprintf(stream + n, sizeof(stream) - n,
                          "\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    for (int mode = 0; mode < 2; mode++) {
        static struct hlog l;
        memset(&l, 0, sizeof(l));
        struct ns_http_callbacks cb = {log_headers, log_body, log_end, &l};
        struct ns_http_parser *p;
        assert_int_equal(ns_http_parser_new(&p, NS_HTTP_REQUEST, NULL, &cb), 0);
        /* allocation 1: the first 512 bytes; 2: their growth to 1 KiB fails */
        ns_alloc_fail_at(2);
        if (mode == 0) {
            assert_int_equal(ns_http_feed(p, (const uint8_t *)stream, n), 0);
        } else {
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(ns_http_feed(p, (const uint8_t *)stream + i, 1), 0);
            }
        }
        ns_alloc_fail_at(0);
        assert_string_equal(l.s, "H GET /b 1.1 #1 te=0 cl=0:0 ce=- hb=28 [Host=h;]\n"
                                 "E f=0 raw=0 body=0\n");
        struct ns_http_stats want = {.messages = 1, .resyncs = 1, .dropped = 1, .nomem = 1};
        check_stats("header growth nomem", "request", ns_http_stats(p), &want);
        ns_http_parser_free(p);
    }
}

/* ---- a real capture: tcpflow's test-gzip.pcap (gzip + chunked response) ---- */

#define CAP_PATH NS_SHARED_DATA "/pcap/http/tcpflow_test-gzip.pcap"

/* tshark -r tcpflow_test-gzip.pcap -Y http -T fields -e http.file_data (and --export-objects) */
static const char cap_req_body[] =
    "{\"methodName\":\"getData\",\"requestInfo\":{\"customerId\":753},\"interfaceName\":"
    "\"CustomerRecordingEntry\",\"userRole\":\"Customer\",\"userId\":\"hyhy@mailinator.com\","
    "\"userCustomerId\":753}";
static const char cap_resp_body[] =
    "{\"responseInfo\":{\"data\":[]},\"message\":\"No Data found!!!\",\"status\":1000}\n";

struct capture_side {
    uint8_t bytes[4096];
    size_t len;
};

struct body_rec {
    uint8_t body[1024];
    size_t len;
    unsigned nmsg, nend, flags;
    uint64_t raw;
    bool chunked;
    char ce[16];
};

static void cap_headers(void *ud, const struct ns_http_msg *m)
{
    struct body_rec *b = ud;
    b->nmsg++;
    b->chunked = m->chunked;
    if (m->content_encoding != NULL && m->content_encoding_len < sizeof(b->ce)) {
        memcpy(b->ce, m->content_encoding, m->content_encoding_len);
    }
}

static void cap_body(void *ud, const uint8_t *data, size_t len)
{
    struct body_rec *b = ud;
    assert_true(len <= sizeof(b->body) - b->len);
    memcpy(b->body + b->len, data, len);
    b->len += len;
}

static void cap_end(void *ud, unsigned flags, uint64_t raw, uint64_t body)
{
    struct body_rec *b = ud;
    b->nend++;
    b->flags = flags;
    b->raw = raw;
    assert_int_equal(body, b->len);
}

/* Classic pcap (little-endian, Ethernet), IPv4 / TCP: payloads by direction (port 80 = server). */
static void read_capture(const uint8_t *f, size_t n, struct capture_side *to_srv,
                         struct capture_side *to_cli)
{
    struct ns_rd r;
    ns_rd_init(&r, f, n, 0);
    assert_int_equal(ns_rd_le32(&r), 0xa1b2c3d4u);
    assert_true(ns_rd_skip(&r, 16));
    assert_int_equal(ns_rd_le32(&r), 1); /* LINKTYPE_ETHERNET */
    while (ns_rd_left(&r) > 0) {
        assert_true(ns_rd_skip(&r, 8));
        uint32_t incl = ns_rd_le32(&r);
        (void)ns_rd_le32(&r);
        struct ns_rd pk = ns_rd_sub(&r, incl);
        assert_true(ns_rd_ok(&r));
        assert_true(ns_rd_skip(&pk, 12));
        assert_int_equal(ns_rd_be16(&pk), 0x0800);
        uint8_t vihl = ns_rd_u8(&pk);
        assert_true(ns_rd_skip(&pk, 1));
        uint16_t tot = ns_rd_be16(&pk);
        assert_true(ns_rd_skip(&pk, 5));
        assert_int_equal(ns_rd_u8(&pk), 6); /* TCP */
        size_t ihl = (size_t)(vihl & 0x0f) * 4;
        assert_true(ns_rd_skip(&pk, ihl - 10));
        struct ns_rd tcp = ns_rd_sub(&pk, tot - ihl);
        assert_true(ns_rd_ok(&pk));
        uint16_t sport = ns_rd_be16(&tcp);
        (void)ns_rd_be16(&tcp);
        assert_true(ns_rd_skip(&tcp, 8));
        size_t doff = (size_t)(ns_rd_u8(&tcp) >> 4) * 4;
        assert_true(ns_rd_skip(&tcp, doff - 13));
        size_t plen = ns_rd_left(&tcp);
        const uint8_t *pl = ns_rd_bytes(&tcp, plen);
        struct capture_side *s = sport == 80 ? to_cli : to_srv;
        assert_true(plen <= sizeof(s->bytes) - s->len);
        if (plen > 0) {
            memcpy(s->bytes + s->len, pl, plen);
            s->len += plen;
        }
    }
}

static void test_capture_gzip_chunked(void **state)
{
    (void)state;
    FILE *fp = fopen(CAP_PATH, "rb");
    if (fp == NULL) {
        print_message("skip: shared data not found (%s)\n", CAP_PATH);
        skip();
        return;
    }
    static uint8_t file[8192];
    size_t n = fread(file, 1, sizeof(file), fp);
    fclose(fp);
    static struct capture_side cs, sc;
    memset(&cs, 0, sizeof(cs));
    memset(&sc, 0, sizeof(sc));
    read_capture(file, n, &cs, &sc);

    /* fed whole and one byte at a time */
    for (int mode = 0; mode < 2; mode++) {
        static struct body_rec bq, bs;
        memset(&bq, 0, sizeof(bq));
        memset(&bs, 0, sizeof(bs));
        struct ns_http_callbacks cbq = {cap_headers, cap_body, cap_end, &bq};
        struct ns_http_callbacks cbs = {cap_headers, cap_body, cap_end, &bs};
        struct ns_http_parser *req, *resp;
        assert_int_equal(ns_http_parser_new(&req, NS_HTTP_REQUEST, NULL, &cbq), 0);
        assert_int_equal(ns_http_parser_new(&resp, NS_HTTP_RESPONSE, NULL, &cbs), 0);
        ns_http_pair(req, resp);
        if (mode == 0) {
            assert_int_equal(ns_http_feed(req, cs.bytes, cs.len), 0);
            assert_int_equal(ns_http_feed(resp, sc.bytes, sc.len), 0);
        } else {
            for (size_t i = 0; i < cs.len; i++) {
                assert_int_equal(ns_http_feed(req, cs.bytes + i, 1), 0);
            }
            for (size_t i = 0; i < sc.len; i++) {
                assert_int_equal(ns_http_feed(resp, sc.bytes + i, 1), 0);
            }
        }
        ns_http_close(req);
        ns_http_close(resp);
        assert_int_equal(bq.nmsg, 1);
        assert_int_equal(bq.nend, 1);
        assert_int_equal(bq.flags, 0);
        assert_int_equal(bq.raw, 172);
        assert_int_equal(bq.len, sizeof(cap_req_body) - 1);
        assert_memory_equal(bq.body, cap_req_body, bq.len);
        assert_int_equal(bs.nmsg, 1);
        assert_int_equal(bs.nend, 1);
        assert_int_equal(bs.flags, 0);
        assert_true(bs.chunked);
        assert_string_equal(bs.ce, "gzip");
        /* "5b\r\n" + 91 gzip bytes + "\r\n" + "0\r\n\r\n" */
        assert_int_equal(bs.raw, 4 + 91 + 2 + 5);
        assert_int_equal(bs.len, 72);
        assert_memory_equal(bs.body, cap_resp_body, 72);
        ns_http_parser_free(req);
        ns_http_parser_free(resp);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_cases),
        cmocka_unit_test(test_ws_before_colon),
        cmocka_unit_test(test_gzip_body),
        cmocka_unit_test(test_deflate_wrapped),
        cmocka_unit_test(test_deflate_raw),
        cmocka_unit_test(test_chunked_gzip),
        cmocka_unit_test(test_gap_in_gzip_body),
        cmocka_unit_test(test_zip_bomb),
        cmocka_unit_test(test_plain_body_cap),
        cmocka_unit_test(test_connect_refused_and_queue),
        cmocka_unit_test(test_opts_and_alloc),
        cmocka_unit_test(test_parser_mem),
        cmocka_unit_test(test_parser_reset),
        cmocka_unit_test(test_header_growth_nomem),
        cmocka_unit_test(test_capture_gzip_chunked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
