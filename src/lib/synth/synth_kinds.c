/*
 * synth_kinds.c - the kinds of the generator that are about the network
 * rather than an application: plain TCP, IPv6 (RFC 8200, with hop-by-hop
 * and destination options headers), 802.1Q VLANs and 802.1ad QinQ, IPv4 and
 * IPv6 fragmentation (RFC 791, RFC 8200 4.5), retransmissions and
 * out-of-order segments, and a SYN port scan. Syslog messages (RFC 3164
 * format, UDP port 514) serve as UDP payloads.
 */
#include "synth_int.h"

#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* `n` bytes of the text body, from a random offset (wrapping). */
static int text_slice(struct ns__synth_ctx *x, struct ns__synth_buf *out, size_t n)
{
    const struct ns__synth_buf *t = &x->body[NS__BODY_TEXT];
    size_t off = ns__synth_between(&x->rng, 0, (uint32_t)(t->len - 1));
    out->len = 0;
    int rc = ns__synth_buf_reserve(out, n);
    while (rc == 0 && out->len < n) {
        size_t k = t->len - off;
        if (k > n - out->len) {
            k = n - out->len;
        }
        rc = ns__synth_buf_put(out, t->p + off, k);
        off = 0;
    }
    return rc;
}

/* A request / response exchange of text on a plain TCP connection. */
static int plain_exchange(struct ns__synth_conv *c, size_t req, size_t resp, bool binary)
{
    struct ns__synth_ctx *x = c->x;
    struct ns__synth_buf *m = &x->msg;
    int rc = text_slice(x, m, req);
    if (rc == 0) {
        rc = ns__synth_tcp_send(c, 0, m->p, m->len, 0);
    }
    c->t += ns__synth_between(&x->rng, 200, 20000);
    if (rc == 0 && binary) {
        m->len = 0;
        rc = ns__synth_buf_reserve(m, resp);
        if (rc == 0) {
            ns__synth_fill(&x->rng, m->p, resp);
            m->len = resp;
        }
    } else if (rc == 0) {
        rc = text_slice(x, m, resp);
    }
    if (rc == 0) {
        rc = ns__synth_tcp_send(c, 1, m->p, m->len, 0);
    }
    return rc;
}

int ns__synth_kind_tcp(struct ns__synth_ctx *x, uint64_t t0)
{
    static const struct {
        int vendor;
        int os;
        uint8_t server;
        uint8_t exchanges;
        bool binary;
        int end; /* 0: client FIN, 1: server FIN, 2: client RST */
    } convs[] = {
        {NS__V_DELL, NS__OS_WINDOWS, 0, 2, false, 0},
        {NS__V_APPLE, NS__OS_MACOS, 1, 1, true, 1},
        {NS__V_LENOVO, NS__OS_LINUX, 2, 3, false, 0},
        {NS__V_HP, NS__OS_WINDOWS, 0, 1, true, 2},
        {NS__V_INTEL, NS__OS_LINUX, 1, 1, false, 1},
        {NS__V_FRESENIUS, NS__OS_EMBEDDED, 2, 2, false, 0},
    };
    static const uint16_t ports[3] = {8765, 7777, 9123};
    struct ns__synth_host srv[3];
    ns__synth_host4(&srv[0], NS__IP4(10, 10, 2, 20), NS__V_SUPERMICRO, NS__OS_LINUX);
    ns__synth_host4(&srv[1], NS__IP4(10, 10, 2, 21), NS__V_DELL, NS__OS_LINUX);
    ns__synth_host4(&srv[2], NS__IP4(192, 168, 10, 5), NS__V_VMWARE, NS__OS_LINUX);
    uint64_t t = t0;
    for (size_t i = 0; i < NELEM(convs); i++) {
        struct ns__synth_host cli;
        struct ns__synth_conv c;
        ns__synth_host4(&cli, NS__IP4(10, 10, 1, 10 + 30 * i + ns__synth_between(&x->rng, 0, 29)),
                        convs[i].vendor, convs[i].os);
        int rc = ns__synth_conv_open(&c, x, "tcp", &cli, ns__synth_port(x), &srv[convs[i].server],
                                     ports[convs[i].server], 6, t);
        if (rc == 0) {
            rc = ns__synth_tcp_handshake(&c);
        }
        for (unsigned k = 0; rc == 0 && k < convs[i].exchanges; k++) {
            rc = plain_exchange(&c, ns__synth_between(&x->rng, 120, 1800),
                                ns__synth_between(&x->rng, 3000, 40000), convs[i].binary);
            c.t += ns__synth_between(&x->rng, 1000, 150000);
        }
        if (rc == 0) {
            rc = convs[i].end == 2 ? ns__synth_tcp_reset(&c, 0)
                                   : ns__synth_tcp_close(&c, convs[i].end);
        }
        if (rc != 0) {
            return rc;
        }
        t += ns__synth_between(&x->rng, 10000, 400000);
    }
    return 0;
}

/* One RFC 3164 syslog line padded (with text) to `size` bytes. */
static int syslog_msg(struct ns__synth_ctx *x, struct ns__synth_buf *b, uint64_t t,
                      const char *host, size_t size)
{
    char ts[32];
    ns__synth_fmt_time(t, "%b %e %H:%M:%S", ts, sizeof(ts));
    b->len = 0;
    int rc = ns__synth_buf_printf(b, "<134>%s %s backupd[%u]: ", ts, host,
                                  ns__synth_between(&x->rng, 300, 32000));
    const struct ns__synth_buf *text = &x->body[NS__BODY_TEXT];
    size_t off = ns__synth_between(&x->rng, 0, (uint32_t)(text->len / 2));
    if (rc == 0 && size > b->len) {
        size_t n = size - b->len;
        if (n > text->len - off) {
            n = text->len - off;
        }
        rc = ns__synth_buf_put(b, text->p + off, n);
    }
    /* one line: newlines of the text become spaces */
    for (size_t i = 0; i < b->len; i++) {
        if (b->p[i] == '\n') {
            b->p[i] = ' ';
        }
    }
    return rc;
}

int ns__synth_kind_ipv6(struct ns__synth_ctx *x, uint64_t t0)
{
    static const uint8_t ex[] = {NS__HTTP_PAGE, NS__HTTP_EVENTS};
    struct ns__synth_host web;
    struct ns__synth_host app;
    struct ns__synth_host logs;
    struct ns__synth_host cli;
    struct ns__synth_conv c;
    ns__synth_host6(&web, 2, 0x80, NS__V_SUPERMICRO, NS__OS_LINUX);
    ns__synth_host6(&app, 2, 0x20, NS__V_DELL, NS__OS_LINUX);
    ns__synth_host6(&logs, 2, 0x514, NS__V_VMWARE, NS__OS_LINUX);
    uint64_t t = t0;

    /* HTTP over IPv6 */
    ns__synth_host6(&cli, 2, 0x1000 + ns__synth_between(&x->rng, 0, 0xff), NS__V_APPLE,
                    NS__OS_MACOS);
    int rc = ns__synth_conv_open(&c, x, "ipv6", &cli, ns__synth_port(x), &web, 80, 6, t);
    if (rc == 0) {
        rc = ns__synth_http_conv(&c, ex, NELEM(ex));
    }

    /* plain TCP with a destination options header */
    t += ns__synth_between(&x->rng, 5000, 200000);
    ns__synth_host6(&cli, 2, 0x2000 + ns__synth_between(&x->rng, 0, 0xff), NS__V_LENOVO,
                    NS__OS_LINUX);
    if (rc == 0) {
        rc = ns__synth_conv_open(&c, x, "ipv6", &cli, ns__synth_port(x), &app, 8765, 6, t);
    }
    c.v6ext = 60;
    if (rc == 0) {
        rc = ns__synth_tcp_handshake(&c);
    }
    if (rc == 0) {
        rc = plain_exchange(&c, ns__synth_between(&x->rng, 200, 900),
                            ns__synth_between(&x->rng, 4000, 20000), false);
    }
    if (rc == 0) {
        rc = ns__synth_tcp_close(&c, 0);
    }

    /* syslog over UDP with a hop-by-hop options header */
    t += ns__synth_between(&x->rng, 5000, 200000);
    ns__synth_host6(&cli, 2, 0x3000 + ns__synth_between(&x->rng, 0, 0xff), NS__V_HP, NS__OS_LINUX);
    if (rc == 0) {
        rc = ns__synth_conv_open(&c, x, "ipv6", &cli, ns__synth_port(x), &logs, 514, 17, t);
    }
    c.v6ext = 0;
    for (unsigned i = 0; rc == 0 && i < 3; i++) {
        rc = syslog_msg(x, &x->msg, c.t, "nas6", ns__synth_between(&x->rng, 80, 400));
        if (rc == 0) {
            rc = ns__synth_udp(&c, 0, x->msg.p, x->msg.len);
        }
        c.t += ns__synth_between(&x->rng, 10000, 900000);
    }
    return rc;
}

int ns__synth_kind_vlan(struct ns__synth_ctx *x, uint64_t t0)
{
    static const uint8_t ex[] = {NS__HTTP_PAGE};
    struct ns__synth_host srv;
    struct ns__synth_host cli;
    struct ns__synth_conv c;
    uint64_t t = t0;

    /* VLAN 100: HTTP */
    ns__synth_host4(&srv, NS__IP4(10, 100, 0, 80), NS__V_SUPERMICRO, NS__OS_LINUX);
    ns__synth_host4(&cli, NS__IP4(10, 100, 1, ns__synth_between(&x->rng, 10, 250)), NS__V_DELL,
                    NS__OS_WINDOWS);
    int rc = ns__synth_conv_open(&c, x, "vlan", &cli, ns__synth_port(x), &srv, 80, 6, t);
    if (rc == 0) {
        ns__synth_conv_vlan(&c, 100, 0, false);
        rc = ns__synth_http_conv(&c, ex, NELEM(ex));
    }

    /* VLAN 100: syslog */
    t += ns__synth_between(&x->rng, 5000, 200000);
    ns__synth_host4(&srv, NS__IP4(10, 100, 0, 5), NS__V_VMWARE, NS__OS_LINUX);
    ns__synth_host4(&cli, NS__IP4(10, 100, 2, ns__synth_between(&x->rng, 10, 250)), NS__V_CISCO,
                    NS__OS_EMBEDDED);
    if (rc == 0) {
        rc = ns__synth_conv_open(&c, x, "vlan", &cli, ns__synth_port(x), &srv, 514, 17, t);
    }
    if (rc == 0) {
        ns__synth_conv_vlan(&c, 100, 0, false);
    }
    for (unsigned i = 0; rc == 0 && i < 2; i++) {
        rc = syslog_msg(x, &x->msg, c.t, "sw-core-1", ns__synth_between(&x->rng, 80, 300));
        if (rc == 0) {
            rc = ns__synth_udp(&c, 0, x->msg.p, x->msg.len);
        }
        c.t += ns__synth_between(&x->rng, 10000, 500000);
    }

    /* VLAN 200: plain TCP */
    t += ns__synth_between(&x->rng, 5000, 200000);
    ns__synth_host4(&srv, NS__IP4(10, 200, 0, 20), NS__V_DELL, NS__OS_LINUX);
    ns__synth_host4(&cli, NS__IP4(10, 200, 1, ns__synth_between(&x->rng, 10, 250)), NS__V_APPLE,
                    NS__OS_MACOS);
    if (rc == 0) {
        rc = ns__synth_conv_open(&c, x, "vlan", &cli, ns__synth_port(x), &srv, 7777, 6, t);
    }
    if (rc == 0) {
        ns__synth_conv_vlan(&c, 200, 0, false);
        rc = ns__synth_tcp_handshake(&c);
    }
    if (rc == 0) {
        rc = plain_exchange(&c, ns__synth_between(&x->rng, 100, 800),
                            ns__synth_between(&x->rng, 2000, 16000), false);
    }
    if (rc == 0) {
        rc = ns__synth_tcp_close(&c, 1);
    }

    /* QinQ: service VLAN 300, customer VLAN 30 */
    t += ns__synth_between(&x->rng, 5000, 200000);
    ns__synth_host4(&srv, NS__IP4(10, 130, 0, 20), NS__V_SUPERMICRO, NS__OS_LINUX);
    ns__synth_host4(&cli, NS__IP4(10, 130, 1, ns__synth_between(&x->rng, 10, 250)), NS__V_INTEL,
                    NS__OS_LINUX);
    if (rc == 0) {
        rc = ns__synth_conv_open(&c, x, "vlan", &cli, ns__synth_port(x), &srv, 8765, 6, t);
    }
    if (rc == 0) {
        ns__synth_conv_vlan(&c, 300, 30, true);
        rc = ns__synth_tcp_handshake(&c);
    }
    if (rc == 0) {
        rc = plain_exchange(&c, ns__synth_between(&x->rng, 100, 800),
                            ns__synth_between(&x->rng, 2000, 16000), true);
    }
    if (rc == 0) {
        rc = ns__synth_tcp_close(&c, 0);
    }
    return rc;
}

int ns__synth_kind_frag(struct ns__synth_ctx *x, uint64_t t0)
{
    static const uint8_t ooo[] = {0, 2, 1};
    static const uint8_t dup[] = {0, 1, 1, 2};
    static const struct {
        const uint8_t *order;
        size_t n;
    } v4[] = {{NULL, 0}, {ooo, NELEM(ooo)}, {dup, NELEM(dup)}};
    struct ns__synth_host srv;
    struct ns__synth_host cli;
    struct ns__synth_conv c;
    uint64_t t = t0;
    int rc = 0;

    /* IPv4 syslog datagrams of 4000 bytes: in order, out of order, one fragment twice */
    ns__synth_host4(&srv, NS__IP4(10, 50, 0, 5), NS__V_VMWARE, NS__OS_LINUX);
    for (size_t i = 0; rc == 0 && i < NELEM(v4); i++) {
        ns__synth_host4(&cli, NS__IP4(10, 50, 1, 10 + 40 * i + ns__synth_between(&x->rng, 0, 39)),
                        NS__V_DELL, NS__OS_LINUX);
        rc = ns__synth_conv_open(&c, x, "frag", &cli, ns__synth_port(x), &srv, 514, 17, t);
        if (rc == 0) {
            rc = syslog_msg(x, &x->msg, c.t, "db-backup", 4000);
        }
        if (rc == 0) {
            rc = ns__synth_udp_frag(&c, 0, x->msg.p, x->msg.len, 1480, v4[i].order, v4[i].n);
        }
        t += ns__synth_between(&x->rng, 5000, 200000);
    }

    /* a DNS TXT answer over 4000 bytes (EDNS(0) 4096), fragmented */
    ns__synth_host4(&srv, NS__IP4(10, 50, 0, 53), NS__V_CISCO, NS__OS_LINUX);
    ns__synth_host4(&cli, NS__IP4(10, 50, 2, ns__synth_between(&x->rng, 10, 250)), NS__V_LENOVO,
                    NS__OS_LINUX);
    if (rc == 0) {
        rc = ns__synth_conv_open(&c, x, "frag", &cli, ns__synth_port(x), &srv, 53, 17, t);
    }
    uint16_t id = (uint16_t)ns__synth_next(&x->rng);
    x->msg.len = 0;
    if (rc == 0) {
        rc = ns__synth_dns_big(x, &x->msg, id, "keys.example.org", 16, false);
    }
    if (rc == 0) {
        rc = ns__synth_udp(&c, 0, x->msg.p, x->msg.len);
    }
    c.t += ns__synth_between(&x->rng, 500, 20000);
    x->msg.len = 0;
    if (rc == 0) {
        rc = ns__synth_dns_big(x, &x->msg, id, "keys.example.org", 16, true);
    }
    if (rc == 0) {
        rc = ns__synth_udp_frag(&c, 1, x->msg.p, x->msg.len, 1480, NULL, 0);
    }

    /* IPv6: a 4000-byte syslog datagram in fragments of 1448 bytes */
    t += ns__synth_between(&x->rng, 5000, 200000);
    ns__synth_host6(&srv, 3, 0x514, NS__V_VMWARE, NS__OS_LINUX);
    ns__synth_host6(&cli, 3, 0x100 + ns__synth_between(&x->rng, 0, 0xff), NS__V_DELL, NS__OS_LINUX);
    if (rc == 0) {
        rc = ns__synth_conv_open(&c, x, "frag", &cli, ns__synth_port(x), &srv, 514, 17, t);
    }
    if (rc == 0) {
        rc = syslog_msg(x, &x->msg, c.t, "db-backup6", 4000);
    }
    if (rc == 0) {
        rc = ns__synth_udp_frag(&c, 0, x->msg.p, x->msg.len, 1448, NULL, 0);
    }
    return rc;
}

int ns__synth_kind_retrans(struct ns__synth_ctx *x, uint64_t t0)
{
    static const struct {
        int vendor;
        int os;
        int dir; /* who sends the troubled data */
        int dup;
        int swap;
    } convs[] = {
        {NS__V_LENOVO, NS__OS_LINUX, 1, 3, -1},
        {NS__V_DELL, NS__OS_WINDOWS, 0, -1, 5},
        {NS__V_APPLE, NS__OS_MACOS, 1, 2, 6},
    };
    struct ns__synth_host srv;
    ns__synth_host4(&srv, NS__IP4(10, 60, 0, 20), NS__V_SUPERMICRO, NS__OS_LINUX);
    uint64_t t = t0;
    for (size_t i = 0; i < NELEM(convs); i++) {
        struct ns__synth_host cli;
        struct ns__synth_conv c;
        struct ns__synth_buf *m = &x->msg;
        ns__synth_host4(&cli, NS__IP4(10, 60, 1, 10 + 40 * i + ns__synth_between(&x->rng, 0, 39)),
                        convs[i].vendor, convs[i].os);
        int rc = ns__synth_conv_open(&c, x, "retrans", &cli, ns__synth_port(x), &srv, 8765, 6, t);
        c.rtt = ns__synth_between(&x->rng, 5000, 40000); /* a long path */
        if (rc == 0) {
            rc = ns__synth_tcp_handshake(&c);
        }
        if (rc == 0 && convs[i].dir == 1) {
            rc = text_slice(x, m, ns__synth_between(&x->rng, 100, 600));
            if (rc == 0) {
                rc = ns__synth_tcp_send(&c, 0, m->p, m->len, 0);
            }
        }
        if (rc == 0) {
            rc = text_slice(x, m, ns__synth_between(&x->rng, 12000, 24000));
        }
        if (rc == 0) {
            rc = ns__synth_tcp_send_messy(&c, convs[i].dir, m->p, m->len, convs[i].dup,
                                          convs[i].swap);
        }
        if (rc == 0 && convs[i].dir == 0) {
            rc = text_slice(x, m, ns__synth_between(&x->rng, 100, 600));
            if (rc == 0) {
                rc = ns__synth_tcp_send(&c, 1, m->p, m->len, 0);
            }
        }
        if (rc == 0) {
            rc = ns__synth_tcp_close(&c, 0);
        }
        if (rc != 0) {
            return rc;
        }
        t += ns__synth_between(&x->rng, 10000, 300000);
    }
    return 0;
}

int ns__synth_kind_scan(struct ns__synth_ctx *x, uint64_t t0)
{
    static const uint16_t common[] = {21,  22,   23,    25,   53,   80,   110,  111,  135,  139,
                                      143, 443,  445,   993,  995,  1723, 3306, 3389, 5900, 8080,
                                      104, 2575, 11112, 8443, 8000, 1433, 1521, 5432, 6379, 9200};
    static const uint16_t open[] = {22, 80, 443, 104};
    uint16_t ports[200];
    size_t n = 0;
    for (size_t i = 0; i < NELEM(common); i++) {
        ports[n++] = common[i];
    }
    while (n < NELEM(ports)) {
        uint16_t p = (uint16_t)ns__synth_between(&x->rng, 1, 10000);
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++) {
            seen = ports[i] == p;
        }
        if (!seen) {
            ports[n++] = p;
        }
    }
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = ns__synth_between(&x->rng, 0, (uint32_t)i);
        uint16_t tmp = ports[i];
        ports[i] = ports[j];
        ports[j] = tmp;
    }

    struct ns__synth_host scanner;
    struct ns__synth_host target;
    ns__synth_host4(&scanner, NS__IP4(192, 168, 66, ns__synth_between(&x->rng, 2, 250)),
                    NS__V_INTEL, NS__OS_LINUX);
    ns__synth_host4(&target, NS__IP4(10, 10, 2, 30), NS__V_DELL, NS__OS_LINUX);
    uint16_t sport = ns__synth_port(x);
    uint32_t seq = (uint32_t)ns__synth_next(&x->rng);
    static const uint8_t mss_opt[4] = {2, 4, 0x05, 0xb4};
    uint32_t rtt = ns__synth_between(&x->rng, 300, 3000);
    uint64_t t = t0;
    for (size_t i = 0; i < n; i++) {
        struct ns__synth_conv c;
        bool is_open = false;
        for (size_t k = 0; k < NELEM(open); k++) {
            is_open = is_open || ports[i] == open[k];
        }
        int rc = ns__synth_conv_open(&c, x, "scan", &scanner, sport, &target, ports[i], 6, t);
        c.rtt = rtt;
        if (rc == 0) {
            rc = ns__synth_tcp_raw(&c, 0, NS__TH_SYN, seq, 0, 1024, mss_opt, sizeof(mss_opt));
        }
        if (rc == 0 && is_open) {
            rc = ns__synth_tcp_raw(&c, 1, NS__TH_SYN | NS__TH_ACK, c.isn[1], seq + 1, 64240,
                                   mss_opt, sizeof(mss_opt));
            if (rc == 0) {
                rc = ns__synth_tcp_raw(&c, 0, NS__TH_RST, seq + 1, 0, 0, NULL, 0);
            }
        } else if (rc == 0) {
            rc = ns__synth_tcp_raw(&c, 1, NS__TH_RST | NS__TH_ACK, 0, seq + 1, 0, NULL, 0);
        }
        if (rc != 0) {
            return rc;
        }
        t += ns__synth_between(&x->rng, 60, 500);
    }
    return 0;
}
