/*
 * analyze_p0f.c - passive OS fingerprinting of TCP SYN / SYN+ACK packets and
 * HTTP headers, matched against p0f v3 signatures the way p0f 3.09b does
 * (README section 5; RFC 791 and RFC 8200 for the IP fields, RFC 9293 and
 * RFC 7323 for the TCP header and options, RFC 3168 for ECN).
 *
 * Fields read from the IP header (IPv4, RFC 791):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-------+-------+-----------+---+-------------------------------+
 *   |Version|  IHL  |  DSCP     |ECN|          Total Length         |
 *   +-------+-------+-----------+---+-+-+-+-------------------------+
 *   |         Identification        |0|D|M|      Fragment Offset    |
 *   +---------------+---------------+-+-+-+-------------------------+
 *   |  Time to Live |    Protocol   |         Header Checksum       |
 *
 *   "0+" is the reserved bit ("must be zero"), "df" the D bit, "id+" a
 *   non-zero identification with D set, "id-" a zero one without D, "ecn"
 *   ECN bits (or, in TCP, ECE / CWR / the NS bit). IPv6: traffic class
 *   (ECN in its low 2 bits) and "flow" for a non-zero flow label.
 *
 * TCP header (RFC 9293) and options, walked the way p0f does:
 *
 *   | src port | dst port | seq | ack | off:4 rsv:3 NS:1 | flags | win | sum | urg |
 *   options: 0 EOL (the rest is padding: "eol+N", non-zero padding "opt+"),
 *   1 NOP, 2 MSS (len 4), 3 WS (len 3, "exws" past 14), 4 SACK-permitted
 *   (len 2), 5 SACK (10..34), 8 timestamps (len 10: "ts1-" own value zero,
 *   "ts2+" peer value non-zero on a SYN), other kinds "?N" with len 2..40;
 *   a wrong length is "bad", an option running past the header stops the
 *   walk with "bad".
 *
 * The observed signature is `ver:ttl+dist:olen:mss:wsize,scale:olayout:
 * quirks:pclass` (p0f's raw_sig). Matching, per direction in file order
 * among signatures with the same option layout: quirks equal, or differing
 * only by "df"/"id+" gone or "id-"/"ecn" added (fuzzy); same EOL padding
 * and IP option length; the signature TTL at or above the observed one and
 * within 35 hops (else fuzzy; "NN-" signatures only need NN >= TTL); MSS,
 * scale, payload class and the window (fixed, %N, mss*N, mtu*N, *). The
 * first exact specific match wins, then the first generic one, then the
 * first fuzzy one (never for applications).
 */
#include "netsift/p0f.h"

#include <stdio.h>
#include <string.h>

#include "analyze_p0f_int.h"
#include "netsift/rd.h"

#define MIN_TCP4 40 /* IPv4 + TCP headers without options */
#define MIN_TCP6 60 /* IPv6 + TCP headers */

/* What p0f extracts from one SYN or SYN+ACK. */
struct obs {
    int ver;
    int ttl;
    int tos;
    int olen;
    int mss;
    int win;
    int wscale;
    uint8_t layout[NS__P0F_MAX_OPTS];
    uint8_t nopt;
    int eol_pad;
    uint32_t quirks;
    bool pay;
    int tot_hdr;
    uint32_t ts1;
    bool synack;
};

const char *ns_p0f_match_name(enum ns_p0f_match m)
{
    switch (m) {
    case NS_P0F_EXACT:
        return "exact";
    case NS_P0F_FUZZY:
        return "fuzzy";
    case NS_P0F_GENERIC:
        return "generic";
    case NS_P0F_NONE:
        break;
    }
    return "none";
}

const char *ns_p0f_label(const struct ns_p0f_result *res, char *buf, size_t size)
{
    if (res->os == NULL) {
        snprintf(buf, size, "???");
    } else {
        snprintf(buf, size, "%s%s%s", res->os, res->flavor[0] != '\0' ? " " : "", res->flavor);
    }
    return buf;
}

static int guess_dist(int ttl)
{
    if (ttl <= 32) {
        return 32 - ttl;
    }
    if (ttl <= 64) {
        return 64 - ttl;
    }
    if (ttl <= 128) {
        return 128 - ttl;
    }
    return 255 - ttl;
}

/* Walk the TCP options as p0f does; see the file comment. */
static void walk_options(struct ns_rd *r, struct obs *o)
{
    bool abort = false;
    while (ns_rd_left(r) > 0 && o->nopt < NS__P0F_MAX_OPTS) {
        uint8_t kind = ns_rd_u8(r);
        size_t left = ns_rd_left(r);
        o->layout[o->nopt++] = kind;
        if (kind == 0) {
            /* p0f stops at the first non-zero pad byte and flags it unless it is the last one */
            o->eol_pad = (int)left;
            const uint8_t *pad = ns_rd_bytes(r, left);
            for (size_t i = 0; pad != NULL && i < left; i++) {
                if (pad[i] != 0) {
                    if (i + 1 < left) {
                        o->quirks |= NS__P0F_Q_OPT_NZ;
                    }
                    break;
                }
            }
            break;
        }
        if (kind == 1) {
            continue;
        }
        if (left == 0) {
            abort = true;
            break;
        }
        struct ns_rd peek = *r;
        uint8_t len = ns_rd_u8(&peek);
        switch (kind) {
        case 2:
            if (left < 3) {
                abort = true;
                break;
            }
            (void)ns_rd_u8(r);
            if (len != 4) {
                o->quirks |= NS__P0F_Q_OPT_BAD;
            }
            o->mss = ns_rd_be16(r);
            break;
        case 3:
            if (left < 2) {
                abort = true;
                break;
            }
            (void)ns_rd_u8(r);
            if (len != 3) {
                o->quirks |= NS__P0F_Q_OPT_BAD;
            }
            o->wscale = ns_rd_u8(r);
            if (o->wscale > 14) {
                o->quirks |= NS__P0F_Q_EXWS;
            }
            break;
        case 4:
            (void)ns_rd_u8(r);
            if (len != 2) {
                o->quirks |= NS__P0F_Q_OPT_BAD;
            }
            break;
        case 8: {
            if (left < 9) {
                abort = true;
                break;
            }
            (void)ns_rd_u8(r);
            if (len != 10) {
                o->quirks |= NS__P0F_Q_OPT_BAD;
            }
            o->ts1 = ns_rd_be32(r);
            uint32_t ts2 = ns_rd_be32(r);
            if (o->ts1 == 0) {
                o->quirks |= NS__P0F_Q_ZERO_TS1;
            }
            if (!o->synack && ts2 != 0) {
                o->quirks |= NS__P0F_Q_NZ_TS2;
            }
            break;
        }
        default: {
            /* SACK (5) must be 10..34 bytes, unknown kinds 2..40 */
            unsigned lo = kind == 5 ? 10 : 2;
            unsigned hi = kind == 5 ? 34 : 40;
            if (len < lo || len > hi || (size_t)len - 1 > left) {
                abort = true;
                break;
            }
            (void)ns_rd_skip(r, (size_t)len - 1);
            break;
        }
        }
        if (abort) {
            break;
        }
    }
    if (abort || ns_rd_left(r) != 0) {
        o->quirks |= NS__P0F_Q_OPT_BAD;
    }
}

static int extract(const struct ns_packet *p, struct obs *o)
{
    memset(o, 0, sizeof(*o));
    if (!(p->flags & NS_PKT_F_HAS_L4) || (p->flags & NS_PKT_F_FRAGMENT) ||
        p->proto != NS_IPPROTO_TCP || p->l3 == NULL || p->l4 == NULL || p->tcp_hdr_len < 20) {
        return NS_EINVAL;
    }
    uint8_t type = p->tcp_flags & (NS_TCP_SYN | NS_TCP_ACK | NS_TCP_FIN | NS_TCP_RST);
    if (type == (NS_TCP_SYN | NS_TCP_ACK)) {
        o->synack = true;
    } else if (type != NS_TCP_SYN) {
        return NS_EINVAL;
    }
    struct ns_rd r;
    if (p->ipver == 4) {
        ns_rd_init(&r, p->l3, p->ip_hdr_len, 0);
        (void)ns_rd_u8(&r);
        uint8_t tos = ns_rd_u8(&r);
        (void)ns_rd_be16(&r);
        uint16_t id = ns_rd_be16(&r);
        uint16_t flags_off = ns_rd_be16(&r);
        uint8_t ttl = ns_rd_u8(&r);
        if (!ns_rd_ok(&r) || p->ip_hdr_len < 20) {
            return NS_EINVAL;
        }
        o->ver = 4;
        o->ttl = ttl;
        o->tos = tos >> 2;
        o->olen = p->ip_hdr_len - 20;
        if (tos & 0x03) {
            o->quirks |= NS__P0F_Q_ECN;
        }
        if (flags_off & 0x8000) {
            o->quirks |= NS__P0F_Q_NZ_MBZ;
        }
        if (flags_off & 0x4000) {
            o->quirks |= NS__P0F_Q_DF;
            if (id != 0) {
                o->quirks |= NS__P0F_Q_NZ_ID;
            }
        } else if (id == 0) {
            o->quirks |= NS__P0F_Q_ZERO_ID;
        }
        o->tot_hdr = p->ip_hdr_len;
    } else if (p->ipver == 6) {
        ns_rd_init(&r, p->l3, 8, 0);
        uint32_t ver_tc_fl = ns_rd_be32(&r);
        (void)ns_rd_be16(&r);
        (void)ns_rd_u8(&r);
        uint8_t hlim = ns_rd_u8(&r);
        if (!ns_rd_ok(&r)) {
            return NS_EINVAL;
        }
        o->ver = 6;
        o->ttl = hlim;
        o->tos = (int)((ver_tc_fl >> 22) & 0x3f);
        o->olen = 0; /* p0f: always 0 for IPv6 */
        if (ver_tc_fl & 0xfffff) {
            o->quirks |= NS__P0F_Q_FLOW;
        }
        if ((ver_tc_fl >> 20) & 0x03) {
            o->quirks |= NS__P0F_Q_ECN;
        }
        o->tot_hdr = 40;
    } else {
        return NS_EINVAL;
    }

    ns_rd_init(&r, p->l4, p->tcp_hdr_len, 0);
    (void)ns_rd_skip(&r, 4);
    uint32_t seq = ns_rd_be32(&r);
    uint32_t ack = ns_rd_be32(&r);
    uint8_t off_rsv = ns_rd_u8(&r);
    uint8_t flags = ns_rd_u8(&r);
    uint16_t win = ns_rd_be16(&r);
    (void)ns_rd_be16(&r);
    uint16_t urg = ns_rd_be16(&r);
    if (!ns_rd_ok(&r)) {
        return NS_EINVAL;
    }
    o->tot_hdr += p->tcp_hdr_len;
    o->win = win;
    if ((flags & (NS_TCP_ECE | NS_TCP_CWR)) || (off_rsv & 0x01)) {
        o->quirks |= NS__P0F_Q_ECN;
    }
    if (seq == 0) {
        o->quirks |= NS__P0F_Q_ZERO_SEQ;
    }
    if (flags & NS_TCP_ACK) {
        if (ack == 0) {
            o->quirks |= NS__P0F_Q_ZERO_ACK;
        }
    } else if ((ack >> 24) & 0x01) {
        /*
         * p0f 3.09b tests `ack & !(flags & RST)`, i.e. bit 0 of the ack field
         * as the host loads it: on the little-endian hosts it runs on, the low
         * bit of the first ack byte on the wire. Conformance beats the README
         * ("ack+: ACK number non-zero") here; RST is never fingerprinted.
         */
        o->quirks |= NS__P0F_Q_NZ_ACK;
    }
    if (flags & NS_TCP_URG) {
        o->quirks |= NS__P0F_Q_URG;
    } else if (urg != 0) {
        o->quirks |= NS__P0F_Q_NZ_URG;
    }
    if (flags & NS_TCP_PSH) {
        o->quirks |= NS__P0F_Q_PUSH;
    }
    o->pay = p->payload_len > 0;
    walk_options(&r, o);
    return 0;
}

/* p0f's window multiplier: win / N for the first divisor that fits; -1 when none. */
static int win_multi(const struct obs *o, bool *use_mtu, unsigned syn_mss)
{
    int w = o->win;
    int mss = o->mss;
    if (w == 0 || mss < 100) {
        return -1;
    }
    struct {
        int div;
        bool mtu;
        bool on;
    } tries[] = {
        {mss, false, true},
        {mss - 12, false, o->ts1 != 0},
        {1500 - MIN_TCP4, false, true},
        {1500 - MIN_TCP4 - 12, false, true},
        {1500 - MIN_TCP6, false, o->ver == 6},
        {1500 - MIN_TCP6 - 12, false, o->ver == 6},
        {mss + MIN_TCP4, true, true},
        {mss + o->tot_hdr, true, true},
        {mss + MIN_TCP6, true, o->ver == 6},
        {1500, true, true},
        {(int)syn_mss, false, syn_mss != 0},
        {(int)syn_mss - 12, false, syn_mss != 0},
    };
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
        if (tries[i].on && tries[i].div > 0 && w % tries[i].div == 0) {
            *use_mtu = tries[i].mtu;
            return w / tries[i].div;
        }
    }
    return -1;
}

static void format_raw(const struct obs *o, unsigned syn_mss, char *buf, size_t size)
{
    size_t n = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        if (n < size) {                                                                            \
            int k_ = snprintf(buf + n, size - n, __VA_ARGS__);                                     \
            n += k_ > 0 ? (size_t)k_ : 0;                                                          \
        }                                                                                          \
    } while (0)
    int dist = guess_dist(o->ttl);
    if (dist > NS__P0F_MAX_DIST) {
        PUT("%d:%d+?:%d:", o->ver, o->ttl, o->olen);
    } else {
        PUT("%d:%d+%d:%d:", o->ver, o->ttl, dist, o->olen);
    }
    if (o->mss == NS__P0F_SPECIAL_MSS && o->synack) {
        PUT("*:");
    } else {
        PUT("%d:", o->mss);
    }
    bool use_mtu = false;
    int m = win_multi(o, &use_mtu, syn_mss);
    if (m > 0) {
        PUT("%s*%d", use_mtu ? "mtu" : "mss", m);
    } else {
        PUT("%d", o->win);
    }
    PUT(",%d:", o->wscale);
    for (size_t i = 0; i < o->nopt; i++) {
        const char *sep = i > 0 ? "," : "";
        switch (o->layout[i]) {
        case 0:
            PUT("%seol+%d", sep, o->eol_pad);
            break;
        case 1:
            PUT("%snop", sep);
            break;
        case 2:
            PUT("%smss", sep);
            break;
        case 3:
            PUT("%sws", sep);
            break;
        case 4:
            PUT("%ssok", sep);
            break;
        case 5:
            PUT("%ssack", sep);
            break;
        case 8:
            PUT("%sts", sep);
            break;
        default:
            PUT("%s?%u", sep, (unsigned)o->layout[i]);
            break;
        }
    }
    PUT(":");
    bool first = true;
    for (size_t q = 0; q < NS__P0F_NQUIRKS; q++) {
        if (o->quirks & (1u << q)) {
            PUT("%s%s", first ? "" : ",", ns__p0f_quirk_names[q]);
            first = false;
        }
    }
    PUT(":%s", o->pay ? "+" : "0");
#undef PUT
}

static bool same_layout(const struct ns__p0f_tcp_sig *s, const struct obs *o)
{
    return s->nopt == o->nopt && memcmp(s->layout, o->layout, o->nopt) == 0;
}

/* p0f 3.09b tcp_find_match(); *dist gets the hop count, *out the match (or NULL). */
static enum ns_p0f_match tcp_match(const struct ns_p0f_db *db, int dir, const struct obs *o,
                                   unsigned syn_mss, const struct ns__p0f_tcp_sig **out, int *dist)
{
    const struct ns__p0f_tcp_sig *fmatch = NULL;
    const struct ns__p0f_tcp_sig *gmatch = NULL;
    bool use_mtu = false;
    int wm = win_multi(o, &use_mtu, syn_mss);
    *out = NULL;
    for (size_t i = 0; i < db->ntcp[dir]; i++) {
        const struct ns__p0f_tcp_sig *s = &db->tcp[dir][i];
        bool fuzzy = false;
        if (!same_layout(s, o)) {
            continue;
        }
        uint32_t rq = s->quirks;
        if (s->ver == -1) {
            rq &= o->ver == 4 ? ~(uint32_t)NS__P0F_Q_FLOW
                              : ~(uint32_t)(NS__P0F_Q_DF | NS__P0F_Q_NZ_ID | NS__P0F_Q_ZERO_ID);
        }
        if (rq != o->quirks) {
            uint32_t deleted = (rq ^ o->quirks) & rq;
            uint32_t added = (rq ^ o->quirks) & o->quirks;
            if (fmatch != NULL || (deleted & ~(uint32_t)(NS__P0F_Q_DF | NS__P0F_Q_NZ_ID)) ||
                (added & ~(uint32_t)(NS__P0F_Q_ZERO_ID | NS__P0F_Q_ECN))) {
                continue;
            }
            fuzzy = true;
        }
        if (s->eol_pad != o->eol_pad || s->olen != o->olen) {
            continue;
        }
        if (s->bad_ttl) {
            if (s->ttl < o->ttl) {
                continue;
            }
        } else if (s->ttl < o->ttl || s->ttl - o->ttl > NS__P0F_MAX_DIST) {
            fuzzy = true;
        }
        if ((s->mss != -1 && s->mss != o->mss) || (s->scale != -1 && s->scale != o->wscale) ||
            (s->pclass != -1 && s->pclass != (o->pay ? 1 : 0))) {
            continue;
        }
        switch (s->win_type) {
        case NS__P0F_WIN_NORMAL:
            if (s->win != o->win) {
                continue;
            }
            break;
        case NS__P0F_WIN_MOD:
            if (o->win % s->win != 0) {
                continue;
            }
            break;
        case NS__P0F_WIN_MSS:
            if (use_mtu || s->win != wm) {
                continue;
            }
            break;
        case NS__P0F_WIN_MTU:
            if (!use_mtu || s->win != wm) {
                continue;
            }
            break;
        case NS__P0F_WIN_ANY:
            break;
        }
        if (!fuzzy) {
            if (!db->labels[s->label].generic) {
                *out = s;
                *dist = s->ttl - o->ttl;
                return NS_P0F_EXACT;
            }
            if (gmatch == NULL) {
                gmatch = s;
            }
        } else if (fmatch == NULL) {
            fmatch = s;
        }
    }
    if (gmatch != NULL) {
        *out = gmatch;
        *dist = gmatch->ttl - o->ttl;
        return NS_P0F_GENERIC;
    }
    if (fmatch != NULL && db->labels[fmatch->label].class_id == -1) {
        *dist = 0; /* p0f leaves the distance unset (0) here */
        return NS_P0F_NONE;
    }
    if (fmatch == NULL || fmatch->ttl < o->ttl ||
        (!fmatch->bad_ttl && fmatch->ttl - o->ttl > NS__P0F_MAX_DIST)) {
        *dist = guess_dist(o->ttl);
    } else {
        *dist = fmatch->ttl - o->ttl;
    }
    *out = fmatch;
    return fmatch != NULL ? NS_P0F_FUZZY : NS_P0F_NONE;
}

static void result_clear(struct ns_p0f_result *res)
{
    memset(res, 0, sizeof(*res));
    res->match = NS_P0F_NONE;
    res->flavor = "";
    res->class_ = "";
    res->dist = -1;
}

static void result_label(struct ns_p0f_result *res, const struct ns__p0f_label *lb)
{
    res->os = lb->name;
    res->flavor = lb->flavor;
    res->class_ = lb->class_;
    res->generic = lb->generic;
}

int ns_p0f_tcp_peer(const struct ns_p0f_db *db, const struct ns_packet *p, unsigned peer_syn_mss,
                    struct ns_p0f_result *res)
{
    struct obs o;
    result_clear(res);
    int rc = extract(p, &o);
    if (rc != 0) {
        return rc;
    }
    unsigned syn_mss = o.synack ? peer_syn_mss : 0;
    format_raw(&o, syn_mss, res->raw_sig, sizeof(res->raw_sig));
    if (db == NULL) {
        res->dist = guess_dist(o.ttl);
        return 0;
    }
    const struct ns__p0f_tcp_sig *s = NULL;
    int dist = 0;
    res->match = tcp_match(db, o.synack ? 0 : 1, &o, syn_mss, &s, &dist);
    res->dist = dist;
    if (s != NULL) {
        result_label(res, &db->labels[s->label]);
        res->random_ttl = s->bad_ttl;
    }
    if (o.mss != 0) {
        res->mtu = (unsigned)o.mss + (o.ver == 4 ? MIN_TCP4 : MIN_TCP6);
        for (size_t i = 0; i < db->nmtu; i++) {
            if (db->mtu[i].mtu == res->mtu) {
                res->link = db->mtu[i].label;
                break;
            }
        }
    }
    return 0;
}

int ns_p0f_tcp(const struct ns_p0f_db *db, const struct ns_packet *p, struct ns_p0f_result *res)
{
    return ns_p0f_tcp_peer(db, p, 0, res);
}

/* ---- HTTP ---- */

static bool name_is(const struct ns_http_header *h, const char *name)
{
    size_t l = strlen(name);
    return h->name_len == l && memcmp(h->name, name, l) == 0;
}

static bool has_sub(const char *hay, size_t hay_len, const char *needle)
{
    size_t l = strlen(needle);
    if (l == 0) {
        return true;
    }
    return hay != NULL && memmem(hay, hay_len, needle, l) != NULL;
}

/* fp_http.c http_find_match(): ordered headers with optional ones, absent ones. */
static bool http_sig_matches(const struct ns__p0f_http_sig *s, const struct ns_http_msg *m, int ver)
{
    if (s->ver != -1 && s->ver != ver) {
        return false;
    }
    size_t th = 0;
    for (size_t rh = 0; rh < s->nhdr; rh++) {
        const struct ns__p0f_http_hdr *want = &s->hdr[rh];
        size_t k = th;
        while (k < m->nheaders && !name_is(&m->headers[k], want->name)) {
            k++;
        }
        if (k == m->nheaders) {
            if (!want->optional) {
                return false;
            }
            for (size_t j = 0; j < m->nheaders; j++) {
                if (name_is(&m->headers[j], want->name)) {
                    return false;
                }
            }
            continue;
        }
        if (want->value != NULL &&
            !has_sub(m->headers[k].value, m->headers[k].value_len, want->value)) {
            return false;
        }
        th = k + 1;
    }
    for (size_t i = 0; i < s->nmiss; i++) {
        for (size_t j = 0; j < m->nheaders; j++) {
            if (name_is(&m->headers[j], s->miss[i])) {
                return false;
            }
        }
    }
    return true;
}

int ns_p0f_http(const struct ns_p0f_db *db, const struct ns_http_msg *m, struct ns_p0f_result *res)
{
    result_clear(res);
    if (db == NULL || m == NULL || (m->nheaders > 0 && m->headers == NULL)) {
        return NS_EINVAL;
    }
    int dir = m->kind == NS_HTTP_REQUEST ? 1 : 0;
    int ver = (int)m->version_minor;
    const char *swname = dir == 1 ? "User-Agent" : "Server";
    const struct ns_http_header *sw = NULL;
    for (size_t j = 0; j < m->nheaders; j++) {
        if (name_is(&m->headers[j], swname)) {
            sw = &m->headers[j];
            break;
        }
    }
    const struct ns__p0f_http_sig *match = NULL;
    const struct ns__p0f_http_sig *gmatch = NULL;
    for (size_t i = 0; i < db->nhttp[dir]; i++) {
        const struct ns__p0f_http_sig *s = &db->http[dir][i];
        if (!http_sig_matches(s, m, ver)) {
            continue;
        }
        if (!db->labels[s->label].generic) {
            match = s;
            break;
        }
        if (gmatch == NULL) {
            gmatch = s;
        }
    }
    if (match == NULL && gmatch != NULL) {
        match = gmatch;
        res->match = NS_P0F_GENERIC;
    } else if (match != NULL) {
        res->match = NS_P0F_EXACT;
    }
    if (match != NULL) {
        result_label(res, &db->labels[match->label]);
        if (match->sw != NULL && sw != NULL && !has_sub(sw->value, sw->value_len, match->sw)) {
            res->dishonest = true;
        }
    }
    if (dir == 1 && sw != NULL) {
        for (size_t i = 0; i < db->nua; i++) {
            if (has_sub(sw->value, sw->value_len, db->ua[i].match)) {
                res->ua_os = db->ua[i].name;
                break;
            }
        }
    }
    return 0;
}

/* ---- HTTP raw signature (p0f 3.09b fp_http.c dump_sig() output) ---- */

#define HTTP_MAX_SHOW 200

/* p0f config.h header lists: [0] responses, [1] requests. */
static const char *const http_optional[2][13] = {
    {"Set-Cookie", "Last-Modified", "ETag", "Content-Length", "Content-Disposition",
     "Cache-Control", "Expires", "Pragma", "Location", "Refresh", "Content-Range", "Vary", NULL},
    {"Cookie", "Referer", "Origin", "Range", "If-Modified-Since", "If-None-Match", "Via",
     "X-Forwarded-For", "Authorization", "Proxy-Authorization", "Cache-Control", NULL},
};
static const char *const http_common[2][9] = {
    {"Content-Type", "Connection", "Keep-Alive", "Accept-Ranges", "Date", NULL},
    {"Host", "User-Agent", "Connection", "Accept", "Accept-Encoding", "Accept-Language",
     "Accept-Charset", "Keep-Alive", NULL},
};
static const char *const http_skipval[2][4] = {
    {"Date", "Content-Type", "Server", NULL},
    {"Host", "User-Agent", NULL},
};
static const char *const http_builtin[] = {
    "User-Agent", "Server", "Accept-Language", "Via", "X-Forwarded-For", "Date", NULL,
};

static bool http_in_list(const char *const *list, const char *name, size_t len)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strlen(list[i]) == len && memcmp(list[i], name, len) == 0) {
            return true;
        }
    }
    return false;
}

static bool http_str_is(const char *s, const char *name, size_t len)
{
    return s != NULL && strlen(s) == len && memcmp(s, name, len) == 0;
}

/* Whether p0f has an ID for this header name: built in, in its lists, or named by a signature. */
static bool http_known(const struct ns_p0f_db *db, const char *name, size_t len)
{
    if (http_in_list(http_builtin, name, len)) {
        return true;
    }
    for (int d = 0; d < 2; d++) {
        if (http_in_list(http_optional[d], name, len) || http_in_list(http_common[d], name, len) ||
            http_in_list(http_skipval[d], name, len)) {
            return true;
        }
    }
    if (db == NULL) {
        return false;
    }
    for (int d = 0; d < 2; d++) {
        for (size_t i = 0; i < db->nhttp[d]; i++) {
            const struct ns__p0f_http_sig *s = &db->http[d][i];
            for (size_t k = 0; k < s->nhdr; k++) {
                if (http_str_is(s->hdr[k].name, name, len)) {
                    return true;
                }
            }
            for (size_t k = 0; k < s->nmiss; k++) {
                if (http_str_is(s->miss[k], name, len)) {
                    return true;
                }
            }
        }
    }
    return false;
}

struct sigbuf {
    char *buf;
    size_t size;
    size_t len;
    bool cut;
};

static void sig_put(struct sigbuf *b, const char *s, size_t n)
{
    if (b->cut) {
        return;
    }
    if (n >= b->size - b->len) {
        n = b->size - b->len - 1;
        b->cut = true;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

/* The shown part of a value: up to HTTP_MAX_SHOW printable ASCII bytes before ']' (and '|'). */
static size_t sig_shown(const char *v, size_t len, bool stop_bar)
{
    size_t n = 0;
    while (n < len && n < HTTP_MAX_SHOW) {
        unsigned char ch = (unsigned char)v[n];
        if (ch < 0x20 || ch >= 0x80 || ch == ']' || (stop_bar && ch == '|')) {
            break;
        }
        n++;
    }
    return n;
}

int ns_p0f_http_sig(const struct ns_p0f_db *db, const struct ns_http_msg *m, char *buf, size_t size)
{
    if (m == NULL || buf == NULL || size == 0 || (m->nheaders > 0 && m->headers == NULL)) {
        return NS_EINVAL;
    }
    struct sigbuf b = {buf, size, 0, false};
    int dir = m->kind == NS_HTTP_REQUEST ? 1 : 0;
    const char *swname = dir == 1 ? "User-Agent" : "Server";
    const struct ns_http_header *sw = NULL;
    buf[0] = '\0';
    sig_put(&b, m->version_minor == 1 ? "1:" : "0:", 2);
    for (size_t i = 0; i < m->nheaders; i++) {
        const struct ns_http_header *h = &m->headers[i];
        bool known = http_known(db, h->name, h->name_len);
        bool optional = known && http_in_list(http_optional[dir], h->name, h->name_len);
        bool show = h->value_len > 0 && !optional &&
                    !(known && http_in_list(http_skipval[dir], h->name, h->name_len));
        if (name_is(h, swname) && h->value_len > 0) {
            sw = h; /* p0f keeps the last one */
        }
        if (i > 0) {
            sig_put(&b, ",", 1);
        }
        if (optional) {
            sig_put(&b, "?", 1);
        }
        sig_put(&b, h->name, h->name_len);
        size_t n = show ? sig_shown(h->value, h->value_len, known) : 0;
        if (n > 0) {
            sig_put(&b, "=[", 2);
            sig_put(&b, h->value, n);
            sig_put(&b, "]", 1);
        }
    }
    sig_put(&b, ":", 1);
    bool had = false;
    for (size_t c = 0; http_common[dir][c] != NULL; c++) {
        bool present = false;
        for (size_t i = 0; i < m->nheaders && !present; i++) {
            present = name_is(&m->headers[i], http_common[dir][c]);
        }
        if (!present) {
            if (had) {
                sig_put(&b, ",", 1);
            }
            sig_put(&b, http_common[dir][c], strlen(http_common[dir][c]));
            had = true;
        }
    }
    sig_put(&b, ":", 1);
    if (sw != NULL) {
        sig_put(&b, sw->value, sig_shown(sw->value, sw->value_len, false));
    }
    return b.cut ? NS_ELIMIT : 0;
}
