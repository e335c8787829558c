/*
 * synth_frame.c - frame builders of the generator: Ethernet (IEEE 802.3),
 * 802.1Q / 802.1ad tags, IPv4 (RFC 791), IPv6 (RFC 8200) with one extension
 * header and the fragment header, UDP (RFC 768), the Internet checksum
 * (RFC 1071) with the IPv4 / IPv6 pseudo headers (RFC 793, RFC 8200 8.1),
 * and the generator's PRNG, hosts and buffers.
 *
 *   Ethernet II, optionally tagged:
 *   +---------+---------+[------+-----+]...+-----------+------------------+
 *   | dst (6) | src (6) | TPID  | TCI |    | EtherType | IP packet        |
 *   +---------+---------+[------+-----+]   +-----------+------------------+
 *   QinQ: outer TPID 0x88a8, inner 0x8100. Frames shorter than 60 bytes are
 *   padded with zeros (the FCS is not captured).
 *
 *   IPv6 extension header written here (8 bytes, RFC 8200 4.2-4.3):
 *   +-------------+-------------+------+------+----+----+----+----+
 *   | next header | hdr ext len | PadN: type 1, len 4, 4 zeros   |
 *   +-------------+-------------+------+------+----+----+----+----+
 *   Fragment header (RFC 8200 4.5):
 *   +-------------+----------+---------------------+---+----------------+
 *   | next header | reserved | offset (13 bits) |00| M | identification |
 *   +-------------+----------+---------------------+---+----------------+
 */
#include "synth_int.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "netsift/alloc.h"

/* --- PRNG --- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void ns__synth_rng_seed(struct ns__synth_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&x);
    }
}

static uint64_t rotl(uint64_t v, int k)
{
    return (v << k) | (v >> (64 - k));
}

uint64_t ns__synth_next(struct ns__synth_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint32_t ns__synth_between(struct ns__synth_rng *r, uint32_t lo, uint32_t hi)
{
    if (hi <= lo) {
        return lo;
    }
    uint64_t span = (uint64_t)hi - lo + 1;
    return lo + (uint32_t)((ns__synth_next(r) >> 11) % span);
}

void ns__synth_fill(struct ns__synth_rng *r, uint8_t *p, size_t n)
{
    while (n > 0) {
        uint64_t v = ns__synth_next(r);
        size_t k = n < 8 ? n : 8;
        for (size_t i = 0; i < k; i++) {
            p[i] = (uint8_t)(v >> (8 * i));
        }
        p += k;
        n -= k;
    }
}

/* --- buffers --- */

int ns__synth_buf_reserve(struct ns__synth_buf *b, size_t n)
{
    if (b->cap - b->len >= n) {
        return 0;
    }
    size_t want = b->cap < 4096 ? 4096 : b->cap;
    while (want - b->len < n) {
        if (want > SIZE_MAX / 2) {
            return NS_ENOMEM;
        }
        want *= 2;
    }
    uint8_t *p = ns_reallocarray(b->p, want, 1);
    if (p == NULL) {
        return NS_ENOMEM;
    }
    b->p = p;
    b->cap = want;
    return 0;
}

int ns__synth_buf_put(struct ns__synth_buf *b, const void *p, size_t n)
{
    int rc = ns__synth_buf_reserve(b, n);
    if (rc != 0) {
        return rc;
    }
    if (n > 0) {
        memcpy(b->p + b->len, p, n);
    }
    b->len += n;
    return 0;
}

int ns__synth_buf_printf(struct ns__synth_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return NS_EINVAL;
    }
    int rc = ns__synth_buf_reserve(b, (size_t)n + 1);
    if (rc != 0) {
        return rc;
    }
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void ns__synth_buf_release(struct ns__synth_buf *b)
{
    ns_free(b->p);
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

/* --- hosts --- */

/* Real IEEE OUIs of the vendors (ieee-data oui.csv). */
static const uint8_t vendor_oui[NS__V_COUNT][3] = {
    [NS__V_DELL] = {0x98, 0xe7, 0x43},
    [NS__V_CISCO] = {0xf4, 0xbd, 0x9e},
    [NS__V_HP] = {0x9c, 0x7b, 0xef},
    [NS__V_APPLE] = {0x60, 0x8b, 0x0e},
    [NS__V_GE_HEALTH] = {0x44, 0x4b, 0x5d},
    [NS__V_PHILIPS_MED] = {0x00, 0x09, 0x5c},
    [NS__V_SIEMENS_HEALTH] = {0x20, 0xe7, 0x91},
    [NS__V_BAXTER] = {0x58, 0x46, 0xe1},
    [NS__V_BD] = {0x9c, 0xc8, 0xae},
    [NS__V_INTEL] = {0xac, 0xed, 0x5c},
    [NS__V_SUPERMICRO] = {0x0c, 0xc4, 0x7a},
    [NS__V_VMWARE] = {0x00, 0x50, 0x56},
    [NS__V_LENOVO] = {0x10, 0xc5, 0x95},
    [NS__V_FRESENIUS] = {0xb0, 0x4c, 0x05},
};

static const uint8_t os_ttl[NS__OS_COUNT] = {64, 128, 64, 64};

static void host_mac(struct ns__synth_host *h, int vendor)
{
    uint64_t x = 0;
    for (int i = 0; i < 16; i++) {
        x = x * 131 + h->addr[i];
    }
    uint64_t v = splitmix64(&x);
    memcpy(h->mac, vendor_oui[vendor], 3);
    h->mac[3] = (uint8_t)(v >> 16);
    h->mac[4] = (uint8_t)(v >> 8);
    h->mac[5] = (uint8_t)v;
}

void ns__synth_host4(struct ns__synth_host *h, uint32_t addr, int vendor, int os)
{
    memset(h, 0, sizeof(*h));
    h->ipver = 4;
    h->addr[0] = (uint8_t)(addr >> 24);
    h->addr[1] = (uint8_t)(addr >> 16);
    h->addr[2] = (uint8_t)(addr >> 8);
    h->addr[3] = (uint8_t)addr;
    h->os = (uint8_t)os;
    h->ttl = os_ttl[os];
    host_mac(h, vendor);
}

void ns__synth_host6(struct ns__synth_host *h, uint16_t subnet, uint64_t iid, int vendor, int os)
{
    memset(h, 0, sizeof(*h));
    h->ipver = 6;
    h->addr[0] = 0x20;
    h->addr[1] = 0x01;
    h->addr[2] = 0x0d;
    h->addr[3] = 0xb8;
    h->addr[4] = (uint8_t)(subnet >> 8);
    h->addr[5] = (uint8_t)subnet;
    for (int i = 0; i < 8; i++) {
        h->addr[8 + i] = (uint8_t)(iid >> (56 - 8 * i));
    }
    h->os = (uint8_t)os;
    h->ttl = os_ttl[os];
    host_mac(h, vendor);
}

uint16_t ns__synth_port(struct ns__synth_ctx *x)
{
    /* 7919 is prime and 28232 = 8 * 3529: the walk visits every port once per cycle. */
    uint32_t k = x->port_k++;
    return (uint16_t)(32768 + (uint32_t)(((uint64_t)k * 7919) % 28232));
}

void ns__synth_fmt_time(uint64_t us, const char *fmt, char *out, size_t size)
{
    time_t sec = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    /* the callers' formats are literals, checked through the attribute in synth_int.h */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    size_t n = strftime(out, size, fmt, &tm);
#pragma GCC diagnostic pop
    if (n == 0 && size > 0) {
        out[0] = '\0';
    }
}

/* --- conversations --- */

int ns__synth_conv_open(struct ns__synth_conv *c, struct ns__synth_ctx *x, const char *kind,
                        const struct ns__synth_host *cli, uint16_t cport,
                        const struct ns__synth_host *srv, uint16_t sport, uint8_t proto,
                        uint64_t t0)
{
    memset(c, 0, sizeof(*c));
    c->x = x;
    c->h[0] = *cli;
    c->h[1] = *srv;
    c->port[0] = cport;
    c->port[1] = sport;
    c->proto = proto;
    c->v6ext = -1;
    c->t = t0;
    c->t0 = t0;
    c->last_dir = -1;
    c->rtt = ns__synth_between(&x->rng, 180, 2400);
    for (int d = 0; d < 2; d++) {
        c->ipid[d] = (uint16_t)ns__synth_next(&x->rng);
        c->flowlabel[d] = ns__synth_between(&x->rng, 1, 0xfffff);
        c->isn[d] = (uint32_t)ns__synth_next(&x->rng);
        c->tsbase[d] = (uint32_t)(ns__synth_next(&x->rng) >> 40);
    }
    if (x->err != 0) {
        return x->err;
    }
    if (x->nfl == x->capfl) {
        size_t n = x->capfl == 0 ? 256 : x->capfl * 2;
        struct ns__synth_flow *fl = ns_reallocarray(x->fl, n, sizeof(*fl));
        if (fl == NULL) {
            x->err = NS_ENOMEM;
            return x->err;
        }
        x->fl = fl;
        x->capfl = n;
    }
    struct ns__synth_flow *f = &x->fl[x->nfl];
    memset(f, 0, sizeof(*f));
    f->kind = kind;
    f->ipver = cli->ipver;
    f->proto = proto;
    memcpy(f->saddr, cli->addr, 16);
    memcpy(f->daddr, srv->addr, 16);
    f->sport = cport;
    f->dport = sport;
    c->flow = (uint32_t)x->nfl++;
    return 0;
}

void ns__synth_conv_vlan(struct ns__synth_conv *c, uint16_t outer, uint16_t inner, bool qinq)
{
    c->nvlan = inner != 0 ? 2 : 1;
    c->tpid[0] = qinq ? 0x88a8 : 0x8100;
    c->vid[0] = outer;
    c->tpid[1] = 0x8100;
    c->vid[1] = inner;
    c->x->fl[c->flow].vlan = outer;
}

void ns__synth_gap(struct ns__synth_conv *c, int dir)
{
    struct ns__synth_rng *r = &c->x->rng;
    if (c->last_dir < 0) {
        /* the first frame is at t0 */
    } else if (dir == c->last_dir) {
        c->t += ns__synth_between(r, 4, 40);
    } else if (dir == 1) {
        /* seen near the initiator: the answer comes back after a round trip */
        c->t += c->rtt + ns__synth_between(r, 15, 250);
    } else {
        c->t += ns__synth_between(r, 20, 300);
    }
    c->last_dir = dir;
}

/* --- checksums --- */

uint32_t ns__synth_sum(uint32_t acc, const uint8_t *p, size_t n)
{
    uint64_t s = acc;
    size_t i = 0;
    for (; i + 1 < n; i += 2) {
        s += (uint32_t)((p[i] << 8) | p[i + 1]);
    }
    if (i < n) {
        s += (uint32_t)(p[i] << 8);
    }
    while (s >> 32) {
        s = (s & 0xffffffffu) + (s >> 32);
    }
    return (uint32_t)s;
}

uint16_t ns__synth_fold(uint32_t acc)
{
    uint64_t s = acc;
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int frec_push(struct ns__synth_ctx *x, uint64_t ts, uint64_t off, uint32_t len,
                     uint32_t flow, int dir)
{
    if (x->nfr == x->capfr) {
        size_t n = x->capfr == 0 ? 4096 : x->capfr * 2;
        struct ns__synth_frec *fr = ns_reallocarray(x->fr, n, sizeof(*fr));
        if (fr == NULL) {
            x->err = NS_ENOMEM;
            return x->err;
        }
        x->fr = fr;
        x->capfr = n;
    }
    struct ns__synth_frec *r = &x->fr[x->nfr];
    r->ts = ts;
    r->off = off;
    r->len = len;
    r->flow = flow;
    r->seq = (uint32_t)x->nfr;
    r->dir = (uint8_t)dir;
    x->nfr++;
    return 0;
}

int ns__synth_frame(struct ns__synth_conv *c, int dir, uint8_t proto, const uint8_t *hdr,
                    size_t hlen, const uint8_t *pay, size_t plen, int csum_off,
                    const struct ns__synth_frag *frag)
{
    struct ns__synth_ctx *x = c->x;
    if (x->err != 0) {
        return x->err;
    }
    const struct ns__synth_host *s = &c->h[dir];
    const struct ns__synth_host *d = &c->h[!dir];
    bool v6 = s->ipver == 6;
    size_t l2 = 14 + 4 * (size_t)c->nvlan;
    size_t ext = v6 && c->v6ext >= 0 ? 8 : 0;
    size_t fh = v6 && frag != NULL ? 8 : 0;
    size_t l3 = v6 ? 40 + ext + fh : 20;
    size_t l4len = hlen + plen;
    size_t len = l2 + l3 + l4len;
    size_t flen = len < 60 ? 60 : len;
    if (ns__synth_buf_reserve(&x->frames, flen) != 0) {
        x->err = NS_ENOMEM;
        return x->err;
    }
    uint64_t off = x->frames.len;
    uint8_t *f = x->frames.p + off;

    memcpy(f, d->mac, 6);
    memcpy(f + 6, s->mac, 6);
    size_t pos = 12;
    for (unsigned i = 0; i < c->nvlan; i++) {
        put16(f + pos, c->tpid[i]);
        put16(f + pos + 2, c->vid[i] & 0x0fff);
        pos += 4;
    }
    put16(f + pos, v6 ? 0x86dd : 0x0800);
    pos += 2;

    uint8_t *ip = f + pos;
    if (!v6) {
        ip[0] = 0x45;
        ip[1] = 0;
        put16(ip + 2, (uint16_t)(l3 + l4len));
        uint16_t fl = 0;
        if (frag != NULL) {
            put16(ip + 4, (uint16_t)frag->id);
            fl = (uint16_t)((frag->more ? 0x2000 : 0) | ((frag->off / 8) & 0x1fff));
        } else {
            put16(ip + 4, c->ipid[dir]++);
            fl = proto == 6 ? 0x4000 : 0;
        }
        put16(ip + 6, fl);
        ip[8] = s->ttl;
        ip[9] = proto;
        put16(ip + 10, 0);
        memcpy(ip + 12, s->addr, 4);
        memcpy(ip + 16, d->addr, 4);
        put16(ip + 10, ns__synth_fold(ns__synth_sum(0, ip, 20)));
    } else {
        put32(ip, (6u << 28) | (c->flowlabel[dir] & 0xfffff));
        put16(ip + 4, (uint16_t)(ext + fh + l4len));
        ip[6] = ext != 0 ? (uint8_t)c->v6ext : fh != 0 ? 44 : proto;
        ip[7] = s->ttl;
        memcpy(ip + 8, s->addr, 16);
        memcpy(ip + 24, d->addr, 16);
        uint8_t *e = ip + 40;
        if (ext != 0) {
            static const uint8_t padn[6] = {1, 4, 0, 0, 0, 0};
            e[0] = fh != 0 ? 44 : proto;
            e[1] = 0;
            memcpy(e + 2, padn, 6);
            e += 8;
        }
        if (fh != 0) {
            e[0] = proto;
            e[1] = 0;
            put16(e + 2, (uint16_t)((frag->off & 0xfff8) | (frag->more ? 1 : 0)));
            put32(e + 4, frag->id);
        }
    }
    uint8_t *l4 = ip + l3;
    if (hlen > 0) {
        memcpy(l4, hdr, hlen);
    }
    if (plen > 0) {
        memcpy(l4 + hlen, pay, plen);
    }
    if (csum_off >= 0) {
        uint32_t acc = 0;
        uint8_t ph[8];
        acc = ns__synth_sum(acc, s->addr, v6 ? 16 : 4);
        acc = ns__synth_sum(acc, d->addr, v6 ? 16 : 4);
        put32(ph, (uint32_t)l4len);
        put32(ph + 4, proto);
        acc = ns__synth_sum(acc, ph, 8);
        l4[csum_off] = 0;
        l4[csum_off + 1] = 0;
        acc = ns__synth_sum(acc, l4, l4len);
        uint16_t cs = ns__synth_fold(acc);
        if (proto == 17 && cs == 0) {
            cs = 0xffff;
        }
        put16(l4 + csum_off, cs);
    }
    if (flen > len) {
        memset(f + len, 0, flen - len);
    }
    x->frames.len += flen;
    return frec_push(x, c->t, off, (uint32_t)flen, c->flow, dir);
}

int ns__synth_frame_copy(struct ns__synth_conv *c, size_t idx)
{
    struct ns__synth_ctx *x = c->x;
    if (x->err != 0) {
        return x->err;
    }
    if (idx >= x->nfr) {
        x->err = NS_EINVAL;
        return x->err;
    }
    struct ns__synth_frec src = x->fr[idx];
    if (ns__synth_buf_reserve(&x->frames, src.len) != 0) {
        x->err = NS_ENOMEM;
        return x->err;
    }
    uint64_t off = x->frames.len;
    memcpy(x->frames.p + off, x->frames.p + src.off, src.len);
    x->frames.len += src.len;
    return frec_push(x, c->t, off, src.len, src.flow, src.dir);
}

/* --- UDP --- */

static void udp_header(uint8_t *h, uint16_t sport, uint16_t dport, size_t len)
{
    put16(h, sport);
    put16(h + 2, dport);
    put16(h + 4, (uint16_t)(8 + len));
    put16(h + 6, 0);
}

int ns__synth_udp(struct ns__synth_conv *c, int dir, const uint8_t *pay, size_t len)
{
    uint8_t h[8];
    udp_header(h, c->port[dir], c->port[!dir], len);
    ns__synth_gap(c, dir);
    return ns__synth_frame(c, dir, 17, h, 8, pay, len, 6, NULL);
}

int ns__synth_udp_frag(struct ns__synth_conv *c, int dir, const uint8_t *pay, size_t len,
                       size_t fragsize, const uint8_t *order, size_t norder)
{
    struct ns__synth_ctx *x = c->x;
    const struct ns__synth_host *s = &c->h[dir];
    const struct ns__synth_host *d = &c->h[!dir];
    bool v6 = s->ipver == 6;
    size_t total = 8 + len;
    struct ns__synth_buf *b = &x->scratch;
    b->len = 0;
    if (ns__synth_buf_reserve(b, total) != 0) {
        x->err = NS_ENOMEM;
        return x->err;
    }
    udp_header(b->p, c->port[dir], c->port[!dir], len);
    memcpy(b->p + 8, pay, len);
    b->len = total;
    uint8_t ph[8];
    uint32_t acc = ns__synth_sum(0, s->addr, v6 ? 16 : 4);
    acc = ns__synth_sum(acc, d->addr, v6 ? 16 : 4);
    put32(ph, (uint32_t)total);
    put32(ph + 4, 17);
    acc = ns__synth_sum(acc, ph, 8);
    acc = ns__synth_sum(acc, b->p, total);
    uint16_t cs = ns__synth_fold(acc);
    put16(b->p + 6, cs == 0 ? 0xffff : cs);

    size_t nfrag = (total + fragsize - 1) / fragsize;
    uint32_t id = v6 ? (uint32_t)ns__synth_next(&x->rng) : c->ipid[dir]++;
    uint8_t inorder[64];
    if (order == NULL) {
        if (nfrag > sizeof(inorder)) {
            x->err = NS_EINVAL;
            return x->err;
        }
        for (size_t i = 0; i < nfrag; i++) {
            inorder[i] = (uint8_t)i;
        }
        order = inorder;
        norder = nfrag;
    }
    ns__synth_gap(c, dir);
    for (size_t i = 0; i < norder; i++) {
        size_t k = order[i];
        if (k >= nfrag) {
            x->err = NS_EINVAL;
            return x->err;
        }
        struct ns__synth_frag fr = {
            .id = id, .off = (uint32_t)(k * fragsize), .more = k + 1 < nfrag};
        size_t n = total - k * fragsize < fragsize ? total - k * fragsize : fragsize;
        if (i > 0) {
            c->t += ns__synth_between(&x->rng, 12, 60);
        }
        int rc = ns__synth_frame(c, dir, 17, NULL, 0, b->p + k * fragsize, n, -1, &fr);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}
