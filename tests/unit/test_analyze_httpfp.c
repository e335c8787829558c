/*
 * test_analyze_httpfp.c - HTTP fingerprints of TCP connections: the exact
 * results of a small set of connections (split, out of order, not HTTP,
 * bigger than the queue, a bad first message, a gap), and the same results in the same order
 * whether the work runs inline or on the worker thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "netsift/httpfp.h"

static const char fp_text[] = "[http:request]\n"
                              "label = s:!:curl:\n"
                              "sys   = Linux\n"
                              "sig   = *:User-Agent,Host,Accept=[*/*]:Accept-Encoding:curl/\n"
                              "\n"
                              "[http:response]\n"
                              "label = s:!:nginx:1.x\n"
                              "sys   = Linux\n"
                              "sig   = *:Server,Date,Content-Type:Keep-Alive:nginx\n";

#define MAX_RESULTS 16

struct got {
    size_t n;
    char line[MAX_RESULTS][512];
};

static void on_result(void *ud, const struct ns_httpfp_result *r)
{
    struct got *g = ud;
    assert_true(g->n < MAX_RESULTS);
    snprintf(g->line[g->n], sizeof(g->line[0]), "%u.%u.%u.%u %s %s %s %s", r->addr.a[0],
             r->addr.a[1], r->addr.a[2], r->addr.a[3], r->request ? "request" : "response",
             r->res.os != NULL ? r->res.os : "-", ns_p0f_match_name(r->res.match), r->raw_sig);
    g->n++;
}

static void flow_init(struct ns_flow *f, uint64_t id, uint8_t client, uint16_t cport)
{
    memset(f, 0, sizeof(*f));
    f->key.ipver = 4;
    f->key.proto = NS_IPPROTO_TCP;
    f->key.lo[0] = 10; /* 10.0.0.<client> < 10.0.0.200 (the server) */
    f->key.lo[3] = client;
    f->key.hi[0] = 10;
    f->key.hi[3] = 200;
    f->key.lo_port = cport;
    f->key.hi_port = 80;
    f->src_is_lo = true;
    f->id = id;
}

/* One segment of `f` in direction dir (0: client to server). */
static void seg(struct ns_httpfp *fp, struct ns_flow *f, int dir, uint8_t flags, uint32_t seq,
                const char *data, size_t len)
{
    struct ns_packet p;
    memset(&p, 0, sizeof(p));
    p.flags = NS_PKT_F_HAS_L4;
    p.proto = NS_IPPROTO_TCP;
    p.ts_ns = 1000;
    p.tcp_flags = flags;
    p.seq = seq;
    p.payload = (const uint8_t *)data;
    p.payload_len = (uint32_t)len;
    p.payload_wire_len = (uint32_t)len;
    ns_httpfp_packet(fp, f, dir, &p);
}

static const char req[] = "GET / HTTP/1.1\r\nUser-Agent: curl/8.5.0\r\nHost: example.test\r\n"
                          "Accept: */*\r\n\r\n";
static const char resp[] = "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Mon, 23 Nov 2026 "
                           "07:00:00 GMT\r\nContent-Type: text/html\r\n\r\n<html>";

/* Connections 1..4 (see the file's comment); returns the fingerprinter's stats. */
static void run(bool threaded, struct got *g, struct ns_httpfp_stats *st)
{
    struct ns_p0f_db *db = NULL;
    struct ns_error err;
    assert_int_equal(ns_p0f_load_buffer(&db, fp_text, sizeof(fp_text) - 1, "t.fp", &err), 0);
    struct ns_httpfp_opts o;
    memset(&o, 0, sizeof(o));
    o.db = db;
    o.threaded = threaded;
    o.queue_bytes = 4096; /* records over 1016 bytes cannot be queued */
    o.on_result = on_result;
    o.ud = g;
    struct ns_httpfp *fp = NULL;
    assert_int_equal(ns_httpfp_new(&fp, &o), 0);

    struct ns_flow f[6];
    for (int i = 0; i < 6; i++) {
        flow_init(&f[i], (uint64_t)i + 1, (uint8_t)(i + 1), (uint16_t)(40001 + i));
    }
    size_t rl = sizeof(req) - 1;
    size_t sl = sizeof(resp) - 1;

    /* 1: handshake, the request in two segments, the response, more data after both */
    seg(fp, &f[0], 0, NS_TCP_SYN, 100, NULL, 0);
    seg(fp, &f[0], 1, NS_TCP_SYN | NS_TCP_ACK, 500, NULL, 0);
    seg(fp, &f[0], 0, NS_TCP_ACK, 101, NULL, 0);
    seg(fp, &f[0], 0, NS_TCP_ACK, 101, req, 20);
    seg(fp, &f[0], 0, NS_TCP_ACK, 121, req + 20, rl - 20);
    seg(fp, &f[0], 1, NS_TCP_ACK, 501, resp, sl);
    seg(fp, &f[0], 0, NS_TCP_ACK, (uint32_t)(101 + rl), req, rl); /* a second request: not wanted */
    /* 2: not HTTP */
    seg(fp, &f[1], 1, NS_TCP_ACK, 900, "SSH-2.0-OpenSSH_9.2\r\n", 21);
    seg(fp, &f[1], 0, NS_TCP_ACK, 50, "SSH-2.0-x\r\n", 11);
    /* 3: the request's two halves out of order, then only a FIN from the server */
    seg(fp, &f[2], 0, NS_TCP_SYN, 7000, NULL, 0);
    seg(fp, &f[2], 0, NS_TCP_ACK, 7031, req + 30, rl - 30);
    seg(fp, &f[2], 0, NS_TCP_ACK, 7001, req, 30);
    seg(fp, &f[2], 1, NS_TCP_FIN | NS_TCP_ACK, 1, NULL, 0);
    /* 4: a request with a long header, in one segment too big for the queue */
    char big[1500];
    int bl = snprintf(big, sizeof(big),
                      "GET /x HTTP/1.0\r\nUser-Agent: curl/7\r\nHost: h\r\n"
                      "Accept: */*\r\nX-Pad: ");
    memset(big + bl, 'p', 1200);
    bl += 1200;
    memcpy(big + bl, "\r\n\r\n", 4);
    seg(fp, &f[3], 0, NS_TCP_ACK, 1, big, (size_t)bl + 4);
    /* 5: a bad header line in the first request: no fingerprint of the valid one after it */
    static const char bad[] = "GET / HTTP/1.1\r\nno colon here\r\n\r\n";
    seg(fp, &f[4], 0, NS_TCP_ACK, 1, bad, sizeof(bad) - 1);
    seg(fp, &f[4], 0, NS_TCP_ACK, (uint32_t)sizeof(bad), req, rl);
    /* 6: bytes of the request lost (a gap), then the rest: nothing, as p0f */
    seg(fp, &f[5], 0, NS_TCP_SYN, 10, NULL, 0);
    seg(fp, &f[5], 0, NS_TCP_ACK, 11, req, 10);
    seg(fp, &f[5], 0, NS_TCP_ACK, 31, req + 20, rl - 20);
    seg(fp, &f[5], 0, NS_TCP_FIN | NS_TCP_ACK, (uint32_t)(11 + rl), NULL, 0);

    ns_httpfp_sync(fp);
    for (int i = 0; i < 6; i++) {
        ns_httpfp_flow_end(fp, &f[i]);
        assert_null(f[i].user);
    }
    ns_httpfp_flow_end(fp, &f[0]); /* ended already: nothing */
    ns_httpfp_finish(fp);
    ns_httpfp_finish(fp);
    ns_httpfp_get_stats(fp, st);
    ns_httpfp_free(fp);
    ns_p0f_free(db);
}

static const char *const want[] = {
    "10.0.0.1 request curl exact "
    "1:User-Agent,Host,Accept=[*/*]:Connection,Accept-Encoding,Accept-Language,Accept-Charset,"
    "Keep-Alive:curl/8.5.0",
    "10.0.0.200 response nginx exact "
    "1:Server,Date,Content-Type:Connection,Keep-Alive,Accept-Ranges:nginx/1.24.0",
    "10.0.0.3 request curl exact "
    "1:User-Agent,Host,Accept=[*/*]:Connection,Accept-Encoding,Accept-Language,Accept-Charset,"
    "Keep-Alive:curl/8.5.0",
    NULL, /* connection 4: see want_big */
};

/* p0f shows the first 200 bytes of a value */
static void want_big(char *buf, size_t size)
{
    char pad[201];
    memset(pad, 'p', 200);
    pad[200] = '\0';
    snprintf(buf, size,
             "10.0.0.4 request curl exact 0:User-Agent,Host,Accept=[*/*],X-Pad=[%s]:Connection,"
             "Accept-Encoding,Accept-Language,Accept-Charset,Keep-Alive:curl/7",
             pad);
}

static void check(const struct got *g, const struct ns_httpfp_stats *st)
{
    char big[512];
    want_big(big, sizeof(big));
    assert_int_equal(g->n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < g->n; i++) {
        assert_string_equal(g->line[i], want[i] != NULL ? want[i] : big);
    }
    assert_int_equal(st->connections, 5);
    assert_int_equal(st->messages, 4);
    assert_int_equal(st->too_many_headers, 0);
    assert_int_equal(st->no_memory, 0);
}

static void test_inline(void **state)
{
    (void)state;
    struct got g;
    struct ns_httpfp_stats st;
    memset(&g, 0, sizeof(g));
    run(false, &g, &st);
    check(&g, &st);
    assert_false(st.threaded);
    assert_int_equal(st.packets_queued, 0);
}

static void test_threaded(void **state)
{
    (void)state;
    struct got g;
    struct ns_httpfp_stats st;
    memset(&g, 0, sizeof(g));
    run(true, &g, &st);
    check(&g, &st);
    assert_true(st.threaded);
    /* pure ACKs are never queued; the oversized segment ran on the caller's thread */
    assert_true(st.packets_queued >= 13 && st.packets_queued <= 16);
}

static void test_bad_opts(void **state)
{
    (void)state;
    struct ns_httpfp *fp = (struct ns_httpfp *)1;
    struct ns_httpfp_opts o;
    memset(&o, 0, sizeof(o));
    assert_int_equal(ns_httpfp_new(&fp, &o), NS_EINVAL);
    assert_null(fp);
    assert_int_equal(ns_httpfp_new(&fp, NULL), NS_EINVAL);
    ns_httpfp_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inline),
        cmocka_unit_test(test_threaded),
        cmocka_unit_test(test_bad_opts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
