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

/* FNV-1a (32 bits) of a header name: the slot to start probing at. */
static size_t name_slot(const char *name, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (uint8_t)name[i]) * 16777619u;
    }
    return h & (NS__P0F_NAME_SLOTS - 1);
}

/* The id of (name, len), or -1 when the table does not have it. */
static int name_find(const struct ns__p0f_names *nm, const char *name, size_t len)
{
    for (size_t i = name_slot(name, len);; i = (i + 1) & (NS__P0F_NAME_SLOTS - 1)) {
        unsigned v = nm->slot[i];
        if (v == 0) {
            return -1;
        }
        v--;
        if (nm->len[v] == len && memcmp(nm->name[v], name, len) == 0) {
            return (int)v;
        }
    }
}

int ns__p0f_name_add(struct ns__p0f_names *nm, const char *name, size_t len)
{
    if (len > UINT8_MAX) {
        return -1;
    }
    int id = name_find(nm, name, len);
    if (id >= 0) {
        return id;
    }
    if (nm->n >= NS__P0F_MAX_NAMES) {
        return -1;
    }
    size_t i = name_slot(name, len);
    while (nm->slot[i] != 0) {
        i = (i + 1) & (NS__P0F_NAME_SLOTS - 1); /* the table is at most half full */
    }
    id = (int)nm->n++;
    nm->name[id] = name;
    nm->len[id] = (uint8_t)len;
    nm->flags[id] = 0;
    nm->slot[i] = (uint16_t)(id + 1);
    return id;
}

static int name_add_static(struct ns__p0f_names *nm, const char *name, uint8_t flags)
{
    int id = ns__p0f_name_add(nm, name, strlen(name));
    nm->flags[id] |= flags; /* the built-in names always fit */
    return id;
}

void ns__p0f_names_init(struct ns__p0f_names *nm)
{
    memset(nm, 0, sizeof(*nm));
    for (size_t i = 0; http_builtin[i] != NULL; i++) {
        (void)name_add_static(nm, http_builtin[i], 0);
    }
    for (int d = 0; d < 2; d++) {
        for (size_t i = 0; http_optional[d][i] != NULL; i++) {
            (void)name_add_static(nm, http_optional[d][i], (uint8_t)(NS__P0F_HF_OPTIONAL << d));
        }
        for (size_t i = 0; http_skipval[d][i] != NULL; i++) {
            (void)name_add_static(nm, http_skipval[d][i], (uint8_t)(NS__P0F_HF_SKIPVAL << d));
        }
        for (size_t i = 0; http_common[d][i] != NULL; i++) {
            nm->common[d][i] =
                (uint16_t)name_add_static(nm, http_common[d][i], (uint8_t)(NS__P0F_HF_COMMON << d));
            nm->ncommon[d] = i + 1;
        }
    }
    nm->sw[0] = (uint16_t)name_find(nm, "Server", 6);
    nm->sw[1] = (uint16_t)name_find(nm, "User-Agent", 10);
}

/* A message's headers as ids (-1: a name p0f has no ID for) and the set of ids present. */
struct msg_ids {
    int16_t id[NS_P0F_HTTP_MAX_HDRS];
    uint64_t present[NS__P0F_NAME_WORDS];
};

static void msg_ids(const struct ns__p0f_names *nm, const struct ns_http_msg *m, struct msg_ids *x)
{
    memset(x->present, 0, sizeof(x->present));
    for (size_t i = 0; i < m->nheaders; i++) {
        int id = name_find(nm, m->headers[i].name, m->headers[i].name_len);
        x->id[i] = (int16_t)id;
        if (id >= 0) {
            x->present[id / 64] |= UINT64_C(1) << (id % 64);
        }
    }
}

static bool has_id(const struct msg_ids *x, unsigned id)
{
    return (x->present[id / 64] >> (id % 64)) & 1u;
}

static bool has_sub(const char *hay, size_t hay_len, const char *needle)
{
    size_t l = strlen(needle);
    if (l == 0) {
        return true;
    }
    return hay != NULL && memmem(hay, hay_len, needle, l) != NULL;
}

/*
 * fp_http.c http_find_match(): ordered headers with optional ones, absent
 * ones. The sets decide most signatures before any string is looked at.
 */
static bool http_sig_matches(const struct ns__p0f_http_sig *s, const struct ns_http_msg *m,
                             const struct msg_ids *x, int ver)
{
    if (s->ver != -1 && s->ver != ver) {
        return false;
    }
    for (size_t w = 0; w < NS__P0F_NAME_WORDS; w++) {
        if ((s->need[w] & ~x->present[w]) != 0 || (s->absent[w] & x->present[w]) != 0) {
            return false;
        }
    }
    size_t th = 0;
    for (size_t rh = 0; rh < s->nhdr; rh++) {
        const struct ns__p0f_http_hdr *want = &s->hdr[rh];
        size_t k = th;
        while (k < m->nheaders && x->id[k] != (int)want->id) {
            k++;
        }
        if (k == m->nheaders) {
            if (!want->optional || has_id(x, want->id)) {
                return false; /* missing, or only earlier than the order allows */
            }
            continue;
        }
        if (want->value != NULL &&
            !has_sub(m->headers[k].value, m->headers[k].value_len, want->value)) {
            return false;
        }
        th = k + 1;
    }
    return true;
}

/* The last (sig) or first (match) header with id `id` and a value, or NULL. */
static const struct ns_http_header *msg_header(const struct ns_http_msg *m, const struct msg_ids *x,
                                               int id, bool last, bool need_value)
{
    const struct ns_http_header *found = NULL;
    for (size_t j = 0; j < m->nheaders; j++) {
        if (x->id[j] == id && (!need_value || m->headers[j].value_len > 0)) {
            found = &m->headers[j];
            if (!last) {
                break;
            }
        }
    }
    return found;
}

static bool http_msg_ok(const struct ns_http_msg *m)
{
    return m != NULL && (m->nheaders == 0 || m->headers != NULL) &&
           m->nheaders <= NS_P0F_HTTP_MAX_HDRS;
}

int ns_p0f_http(const struct ns_p0f_db *db, const struct ns_http_msg *m, struct ns_p0f_result *res)
{
    result_clear(res);
    if (db == NULL || m == NULL || (m->nheaders > 0 && m->headers == NULL)) {
        return NS_EINVAL;
    }
    if (!http_msg_ok(m)) {
        return NS_ELIMIT;
    }
    struct msg_ids x;
    msg_ids(&db->names, m, &x);
    int dir = m->kind == NS_HTTP_REQUEST ? 1 : 0;
    int ver = (int)m->version_minor;
    const struct ns_http_header *sw = msg_header(m, &x, db->names.sw[dir], false, false);
    const struct ns__p0f_http_sig *match = NULL;
    const struct ns__p0f_http_sig *gmatch = NULL;
    for (size_t i = 0; i < db->nhttp[dir]; i++) {
        const struct ns__p0f_http_sig *s = &db->http[dir][i];
        if (!http_sig_matches(s, m, &x, ver)) {
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
    buf[0] = '\0';
    if (!http_msg_ok(m)) {
        return NS_ELIMIT;
    }
    /* without a database only the built-in names are known: a table of those */
    struct ns__p0f_names builtin;
    const struct ns__p0f_names *nm = db != NULL ? &db->names : &builtin;
    if (db == NULL) {
        ns__p0f_names_init(&builtin);
    }
    struct msg_ids x;
    msg_ids(nm, m, &x);
    struct sigbuf b = {buf, size, 0, false};
    int dir = m->kind == NS_HTTP_REQUEST ? 1 : 0;
    const struct ns_http_header *sw = msg_header(m, &x, nm->sw[dir], true, true);
    sig_put(&b, m->version_minor == 1 ? "1:" : "0:", 2);
    for (size_t i = 0; i < m->nheaders; i++) {
        const struct ns_http_header *h = &m->headers[i];
        int id = x.id[i];
        unsigned fl = id >= 0 ? nm->flags[id] : 0;
        bool known = id >= 0;
        bool optional = (fl & (NS__P0F_HF_OPTIONAL << dir)) != 0;
        bool show = h->value_len > 0 && !optional && !(fl & (NS__P0F_HF_SKIPVAL << dir));
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
    for (size_t c = 0; c < nm->ncommon[dir]; c++) {
        unsigned id = nm->common[dir][c];
        if (!has_id(&x, id)) {
            if (had) {
                sig_put(&b, ",", 1);
            }
            sig_put(&b, nm->name[id], nm->len[id]);
            had = true;
        }
    }
    sig_put(&b, ":", 1);
    if (sw != NULL) {
        sig_put(&b, sw->value, sig_shown(sw->value, sw->value_len, false));
    }
    return b.cut ? NS_ELIMIT : 0;
}
