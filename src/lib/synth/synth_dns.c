/*
 * synth_dns.c - DNS over UDP for the generator (RFC 1035; AAAA RFC 3596;
 * EDNS(0) RFC 6891): queries for A and AAAA, answers that use name
 * compression (RFC 1035 4.1.4) the way servers do - the answer owner points
 * at the question name, a CNAME target points into it, the record after a
 * CNAME points at the CNAME's target - an NXDOMAIN with the zone's SOA, and
 * the large TXT answer the frag kind fragments.
 *
 *   header:  ID | QR Opcode AA TC RD RA Z RCODE | QD | AN | NS | AR  (6 x u16)
 *   name:    labels <len><bytes>... 0, or a pointer 11xxxxxx xxxxxxxx
 *   RR:      name | type | class | TTL (u32) | RDLENGTH | RDATA
 */
#include "synth_int.h"

#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int u16(struct ns__synth_buf *b, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return ns__synth_buf_put(b, p, 2);
}

static int u32(struct ns__synth_buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return ns__synth_buf_put(b, p, 4);
}

/* Labels of `name` ("a.b.c"); then a pointer to `ptr` if ptr != 0, else the root label. */
static int labels(struct ns__synth_buf *b, const char *name, uint16_t ptr)
{
    int rc = 0;
    const char *s = name;
    while (rc == 0 && *s != '\0') {
        const char *dot = strchr(s, '.');
        size_t n = dot != NULL ? (size_t)(dot - s) : strlen(s);
        uint8_t l = (uint8_t)n;
        rc = ns__synth_buf_put(b, &l, 1);
        if (rc == 0) {
            rc = ns__synth_buf_put(b, s, n);
        }
        s += n;
        if (*s == '.') {
            s++;
        }
    }
    if (rc != 0) {
        return rc;
    }
    if (ptr != 0) {
        return u16(b, (uint16_t)(0xc000 | ptr));
    }
    return ns__synth_buf_put(b, "", 1);
}

static int header(struct ns__synth_buf *b, uint16_t id, uint16_t flags, uint16_t an, uint16_t ns,
                  uint16_t ar)
{
    int rc = u16(b, id);
    uint16_t rest[5] = {flags, 1, an, ns, ar};
    for (size_t i = 0; rc == 0 && i < 5; i++) {
        rc = u16(b, rest[i]);
    }
    return rc;
}

/* Owner (a pointer), type, class IN, TTL, and an RDLENGTH to fill by rr_end. */
static int rr_begin(struct ns__synth_buf *b, uint16_t owner, uint16_t type, uint32_t ttl,
                    size_t *len_at)
{
    int rc = u16(b, (uint16_t)(0xc000 | owner));
    if (rc == 0) {
        rc = u16(b, type);
    }
    if (rc == 0) {
        rc = u16(b, 1);
    }
    if (rc == 0) {
        rc = u32(b, ttl);
    }
    *len_at = b->len;
    if (rc == 0) {
        rc = u16(b, 0);
    }
    return rc;
}

static void rr_end(struct ns__synth_buf *b, size_t len_at)
{
    size_t n = b->len - len_at - 2;
    b->p[len_at] = (uint8_t)(n >> 8);
    b->p[len_at + 1] = (uint8_t)n;
}

static int opt_rr(struct ns__synth_buf *b, uint16_t size)
{
    int rc = ns__synth_buf_put(b, "", 1);
    uint16_t f[4] = {41, size, 0, 0};
    for (size_t i = 0; rc == 0 && i < 4; i++) {
        rc = u16(b, f[i]);
    }
    return rc == 0 ? u16(b, 0) : rc;
}

enum answer {
    ANS_A2,    /* two A records */
    ANS_A1,    /* one A record */
    ANS_AAAA,  /* one AAAA record */
    ANS_CNAME, /* CNAME edge.<parent>, then an A for it */
    ANS_NX,    /* NXDOMAIN, SOA of the parent in the authority section */
};

struct dns_case {
    const char *name;
    uint16_t qtype;
    enum answer ans;
    uint8_t addr[16];
};

static const struct dns_case cases[] = {
    {"www.example.com", 1, ANS_A2, {198, 51, 100, 10}},
    {"www.example.com", 28, ANS_AAAA, {0x20, 0x01, 0x0d, 0xb8, 0, 0x10, [15] = 0x80}},
    {"api.example.net", 1, ANS_CNAME, {203, 0, 113, 40}},
    {"pacs.hospital.example", 1, ANS_A1, {10, 40, 0, 5}},
    {"wpad.hospital.example", 1, ANS_NX, {0}},
    {"mail.example.org", 1, ANS_A1, {203, 0, 113, 25}},
    {"time.example.com", 1, ANS_A2, {198, 51, 100, 123}},
    {"portal6.hospital.example", 28, ANS_AAAA, {0x20, 0x01, 0x0d, 0xb8, 0, 0x02, [15] = 0x80}},
    {"updates.example.org", 28, ANS_AAAA, {0x20, 0x01, 0x0d, 0xb8, 0, 0x20, [14] = 1, 0x43}},
};

/* Offset of the parent domain of the question name (the name after its first label). */
static uint16_t parent_off(const char *name)
{
    const char *dot = strchr(name, '.');
    return (uint16_t)(12 + (dot != NULL ? (size_t)(dot - name) + 1 : 0));
}

static int query(struct ns__synth_buf *b, uint16_t id, const struct dns_case *q, bool edns)
{
    int rc = header(b, id, 0x0100, 0, 0, edns ? 1 : 0);
    if (rc == 0) {
        rc = labels(b, q->name, 0);
    }
    if (rc == 0) {
        rc = u16(b, q->qtype);
    }
    if (rc == 0) {
        rc = u16(b, 1);
    }
    if (rc == 0 && edns) {
        rc = opt_rr(b, 1232);
    }
    return rc;
}

static int response(struct ns__synth_ctx *x, struct ns__synth_buf *b, uint16_t id,
                    const struct dns_case *q, bool edns)
{
    uint16_t an = q->ans == ANS_A2 || q->ans == ANS_CNAME ? 2 : q->ans == ANS_NX ? 0 : 1;
    uint16_t ns = q->ans == ANS_NX ? 1 : 0;
    uint16_t flags = (uint16_t)(q->ans == ANS_NX ? 0x8183 : 0x8180);
    int rc = header(b, id, flags, an, ns, edns ? 1 : 0);
    size_t at = 0;
    if (rc == 0) {
        rc = labels(b, q->name, 0);
    }
    if (rc == 0) {
        rc = u16(b, q->qtype);
    }
    if (rc == 0) {
        rc = u16(b, 1);
    }
    uint32_t ttl = ns__synth_between(&x->rng, 30, 3600);
    uint8_t a[16];
    memcpy(a, q->addr, 16);
    switch (q->ans) {
    case ANS_A2:
    case ANS_A1:
        for (uint16_t i = 0; rc == 0 && i < an; i++) {
            a[3] = (uint8_t)(q->addr[3] + i);
            rc = rr_begin(b, 12, 1, ttl, &at);
            if (rc == 0) {
                rc = ns__synth_buf_put(b, a, 4);
                rr_end(b, at);
            }
        }
        break;
    case ANS_AAAA:
        rc = rc == 0 ? rr_begin(b, 12, 28, ttl, &at) : rc;
        if (rc == 0) {
            rc = ns__synth_buf_put(b, a, 16);
            rr_end(b, at);
        }
        break;
    case ANS_CNAME: {
        rc = rc == 0 ? rr_begin(b, 12, 5, ttl, &at) : rc;
        uint16_t target = (uint16_t)(at + 2);
        if (rc == 0) {
            rc = labels(b, "edge", parent_off(q->name));
            rr_end(b, at);
        }
        rc = rc == 0 ? rr_begin(b, target, 1, 60, &at) : rc;
        if (rc == 0) {
            rc = ns__synth_buf_put(b, a, 4);
            rr_end(b, at);
        }
        break;
    }
    case ANS_NX: {
        uint16_t zone = parent_off(q->name);
        rc = rc == 0 ? rr_begin(b, zone, 6, 900, &at) : rc;
        if (rc == 0) {
            rc = labels(b, "ns1", zone);
        }
        if (rc == 0) {
            rc = labels(b, "hostmaster", zone);
        }
        uint32_t soa[5] = {2024030101, 3600, 600, 1209600, 300};
        for (size_t i = 0; rc == 0 && i < 5; i++) {
            rc = u32(b, soa[i]);
        }
        if (rc == 0) {
            rr_end(b, at);
        }
        break;
    }
    }
    if (rc == 0 && edns) {
        rc = opt_rr(b, 1232);
    }
    return rc;
}

int ns__synth_dns_big(struct ns__synth_ctx *x, struct ns__synth_buf *b, uint16_t id,
                      const char *name, unsigned n, bool is_response)
{
    int rc = header(b, id, is_response ? 0x8180 : 0x0100, (uint16_t)(is_response ? n : 0), 0, 1);
    if (rc == 0) {
        rc = labels(b, name, 0);
    }
    if (rc == 0) {
        rc = u16(b, 16);
    }
    if (rc == 0) {
        rc = u16(b, 1);
    }
    for (unsigned i = 0; rc == 0 && is_response && i < n; i++) {
        size_t at;
        char txt[241];
        int k = snprintf(txt, sizeof(txt), "v=synth%u key=", i);
        for (size_t j = (size_t)k; j < 240; j++) {
            txt[j] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                [ns__synth_between(&x->rng, 0, 63)];
        }
        uint8_t l = 240;
        rc = rr_begin(b, 12, 16, 300, &at);
        if (rc == 0) {
            rc = ns__synth_buf_put(b, &l, 1);
        }
        if (rc == 0) {
            rc = ns__synth_buf_put(b, txt, 240);
            rr_end(b, at);
        }
    }
    return rc == 0 ? opt_rr(b, 4096) : rc;
}

static int exchange(struct ns__synth_ctx *x, const struct ns__synth_host *cli,
                    const struct ns__synth_host *srv, const struct dns_case *q, uint64_t t)
{
    struct ns__synth_conv c;
    bool edns = cli->os == NS__OS_LINUX || cli->os == NS__OS_MACOS;
    uint16_t id = (uint16_t)ns__synth_next(&x->rng);
    int rc = ns__synth_conv_open(&c, x, "dns", cli, ns__synth_port(x), srv, 53, 17, t);
    struct ns__synth_buf *b = &x->msg;
    b->len = 0;
    if (rc == 0) {
        rc = query(b, id, q, edns);
    }
    if (rc == 0) {
        rc = ns__synth_udp(&c, 0, b->p, b->len);
    }
    c.t += ns__synth_between(&x->rng, 100, 25000); /* the resolver works */
    b->len = 0;
    if (rc == 0) {
        rc = response(x, b, id, q, edns);
    }
    if (rc == 0) {
        rc = ns__synth_udp(&c, 1, b->p, b->len);
    }
    return rc;
}

int ns__synth_kind_dns(struct ns__synth_ctx *x, uint64_t t0)
{
    static const struct {
        int vendor;
        int os;
    } who[] = {{NS__V_DELL, NS__OS_WINDOWS},
               {NS__V_APPLE, NS__OS_MACOS},
               {NS__V_LENOVO, NS__OS_LINUX},
               {NS__V_HP, NS__OS_WINDOWS}};
    struct ns__synth_host srv4;
    struct ns__synth_host srv6;
    ns__synth_host4(&srv4, NS__IP4(192, 168, 1, 1), NS__V_CISCO, NS__OS_LINUX);
    ns__synth_host6(&srv6, 1, 0x53, NS__V_CISCO, NS__OS_LINUX);
    uint64_t t = t0;
    int rc = 0;
    /* IPv4: the A/AAAA cases from a few clients */
    for (size_t i = 0; rc == 0 && i < 7; i++) {
        struct ns__synth_host cli;
        size_t w = ns__synth_between(&x->rng, 0, NELEM(who) - 1);
        ns__synth_host4(&cli, NS__IP4(192, 168, 1, 20 + 50 * w + ns__synth_between(&x->rng, 0, 3)),
                        who[w].vendor, who[w].os);
        rc = exchange(x, &cli, &srv4, &cases[i], t);
        t += ns__synth_between(&x->rng, 2000, 300000);
    }
    /* IPv6: AAAA lookups from dual-stack hosts */
    for (size_t i = 0; rc == 0 && i < 3; i++) {
        struct ns__synth_host cli;
        static const uint8_t v6cases[3] = {1, 7, 8};
        ns__synth_host6(&cli, 1, 0x0200 + 0x10 * i + ns__synth_between(&x->rng, 0, 3),
                        who[i].vendor, who[i].os);
        rc = exchange(x, &cli, &srv6, &cases[v6cases[i]], t);
        t += ns__synth_between(&x->rng, 2000, 300000);
    }
    return rc;
}
