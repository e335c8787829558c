/*
 * synth_tcp.c - TCP conversations for the generator (RFC 9293): three-way
 * handshake with the options each OS sends (MSS RFC 9293 3.7.1, window
 * scale and timestamps RFC 7323, SACK-permitted RFC 2018), data in
 * segments of the negotiated MSS with correct sequence and acknowledgment
 * numbers, delayed ACKs every second segment, FIN and RST teardown, and the
 * deliberate trouble of the retrans kind (exact duplicates, swapped
 * segments).
 *
 *    0                   1                   2                   3
 *   +-------------------------------+-------------------------------+
 *   |          Source Port          |       Destination Port        |
 *   +-------------------------------+-------------------------------+
 *   |                        Sequence Number                        |
 *   +---------------------------------------------------------------+
 *   |                    Acknowledgment Number                      |
 *   +-------+-------+---------------+-------------------------------+
 *   |  Off  |  Rsv  |     Flags     |            Window             |
 *   +-------+-------+---------------+-------------------------------+
 *   |           Checksum            |        Urgent Pointer         |
 *   +-------------------------------+-------------------------------+
 *   |                    Options (0..40 bytes)                      |
 *   +---------------------------------------------------------------+
 *
 * SYN option layouts (as the stacks send them, p0f v3 notation):
 *   Linux    mss,sok,ts,nop,ws          win 64240, data window 502 << 7
 *   Windows  mss,nop,ws,nop,nop,sok     win 64240, data window 1026 << 8
 *   macOS    mss,nop,ws,nop,nop,ts,sok,eol+1   win 65535, data 2058 << 6
 *   embedded mss                        win 5840, no scaling
 */
#include "synth_int.h"

#include <string.h>

struct os_prof {
    bool has_ws;
    uint8_t ws;
    bool ts;
    bool sack;
    uint16_t syn_win;
    uint16_t win; /* scaled window field after the handshake */
};

static const struct os_prof profs[NS__OS_COUNT] = {
    [NS__OS_LINUX] = {true, 7, true, true, 64240, 502},
    [NS__OS_WINDOWS] = {true, 8, false, true, 64240, 1026},
    [NS__OS_MACOS] = {true, 6, true, true, 65535, 2058},
    [NS__OS_EMBEDDED] = {false, 0, false, false, 5840, 5840},
};

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

static uint32_t tsval(const struct ns__synth_conv *c, int dir)
{
    return c->tsbase[dir] + (uint32_t)((c->t - c->t0) / 1000);
}

static size_t opt_mss(uint8_t *o, uint16_t mss)
{
    o[0] = 2;
    o[1] = 4;
    put16(o + 2, mss);
    return 4;
}

static size_t opt_ts(uint8_t *o, uint32_t val, uint32_t ecr)
{
    o[0] = 8;
    o[1] = 10;
    put32(o + 2, val);
    put32(o + 6, ecr);
    return 10;
}

static size_t opt_ws(uint8_t *o, uint8_t ws)
{
    o[0] = 3;
    o[1] = 3;
    o[2] = ws;
    return 3;
}

/* The SYN (or SYN+ACK) options of `os`, limited to what is offered. */
static size_t syn_opts(uint8_t *o, int os, uint16_t mss, bool sack, bool ts, bool ws, uint8_t wsv,
                       uint32_t val, uint32_t ecr)
{
    size_t n = opt_mss(o, mss);
    switch (os) {
    case NS__OS_LINUX:
        if (sack && ts) {
            o[n++] = 4;
            o[n++] = 2;
            n += opt_ts(o + n, val, ecr);
        } else if (sack) {
            o[n++] = 1;
            o[n++] = 1;
            o[n++] = 4;
            o[n++] = 2;
        } else if (ts) {
            o[n++] = 1;
            o[n++] = 1;
            n += opt_ts(o + n, val, ecr);
        }
        if (ws) {
            o[n++] = 1;
            n += opt_ws(o + n, wsv);
        }
        break;
    case NS__OS_WINDOWS:
    case NS__OS_MACOS:
        if (ws) {
            o[n++] = 1;
            n += opt_ws(o + n, wsv);
        }
        if (ts) {
            o[n++] = 1;
            o[n++] = 1;
            n += opt_ts(o + n, val, ecr);
        }
        if (sack) {
            if (os == NS__OS_WINDOWS) {
                o[n++] = 1;
                o[n++] = 1;
            }
            o[n++] = 4;
            o[n++] = 2;
        }
        break;
    default:
        break;
    }
    while (n % 4 != 0) {
        o[n++] = 0; /* EOL, then padding */
    }
    return n;
}

static int tcp_seg(struct ns__synth_conv *c, int dir, uint8_t flags, uint32_t seq, uint32_t ack,
                   uint16_t win, const uint8_t *opts, size_t optlen, const uint8_t *data,
                   size_t len)
{
    uint8_t h[60];
    put16(h, c->port[dir]);
    put16(h + 2, c->port[!dir]);
    put32(h + 4, seq);
    put32(h + 8, (flags & NS__TH_ACK) != 0 ? ack : 0);
    h[12] = (uint8_t)(((20 + optlen) / 4) << 4);
    h[13] = flags;
    put16(h + 14, win);
    put16(h + 16, 0);
    put16(h + 18, 0);
    if (optlen > 0) {
        memcpy(h + 20, opts, optlen);
    }
    return ns__synth_frame(c, dir, 6, h, 20 + optlen, data, len, 16, NULL);
}

/* A segment of the established connection: ACK set, timestamps when negotiated. */
static int seg_est(struct ns__synth_conv *c, int dir, uint8_t flags, uint32_t seq,
                   const uint8_t *data, size_t len)
{
    uint8_t o[12];
    size_t n = 0;
    if (c->use_ts) {
        uint32_t v = tsval(c, dir);
        o[0] = 1;
        o[1] = 1;
        opt_ts(o + 2, v, c->tslast[!dir]);
        c->tslast[dir] = v;
        n = 12;
    }
    return tcp_seg(c, dir, (uint8_t)(flags | NS__TH_ACK), seq, c->nxt[!dir], c->win[dir], o, n,
                   data, len);
}

static int pure_ack(struct ns__synth_conv *c, int dir)
{
    ns__synth_gap(c, dir);
    c->unacked[!dir] = 0;
    return seg_est(c, dir, NS__TH_ACK, c->nxt[dir], NULL, 0);
}

int ns__synth_tcp_handshake(struct ns__synth_conv *c)
{
    const struct os_prof *p0 = &profs[c->h[0].os];
    const struct os_prof *p1 = &profs[c->h[1].os];
    bool v6 = c->h[0].ipver == 6;
    uint16_t mss = v6 ? 1440 : 1460;
    bool ws = p0->has_ws && p1->has_ws;
    bool ts = p0->ts && p1->ts;
    bool sack = p0->sack && p1->sack;
    uint8_t o[40];
    size_t n;
    int rc;

    ns__synth_gap(c, 0);
    n = syn_opts(o, c->h[0].os, mss, p0->sack, p0->ts, p0->has_ws, p0->ws, tsval(c, 0), 0);
    c->tslast[0] = tsval(c, 0);
    rc = tcp_seg(c, 0, NS__TH_SYN, c->isn[0], 0, p0->syn_win, o, n, NULL, 0);
    if (rc != 0) {
        return rc;
    }
    ns__synth_gap(c, 1);
    n = syn_opts(o, c->h[1].os, mss, sack, ts, ws, p1->ws, tsval(c, 1), c->tslast[0]);
    c->tslast[1] = tsval(c, 1);
    rc = tcp_seg(c, 1, NS__TH_SYN | NS__TH_ACK, c->isn[1], c->isn[0] + 1, p1->syn_win, o, n, NULL,
                 0);
    if (rc != 0) {
        return rc;
    }
    c->nxt[0] = c->isn[0] + 1;
    c->nxt[1] = c->isn[1] + 1;
    c->use_ts = ts;
    size_t l3 = v6 ? 40 + (c->v6ext >= 0 ? 8 : 0) : 20;
    for (int d = 0; d < 2; d++) {
        const struct os_prof *p = d == 0 ? p0 : p1;
        c->mss[d] = mss;
        c->ws[d] = ws ? p->ws : 0;
        c->win[d] = ws ? p->win : p->syn_win;
        size_t seg = 1500 - l3 - 20;
        if (seg > mss) {
            seg = mss;
        }
        c->seg[d] = (uint16_t)(seg - (ts ? 12 : 0));
    }
    ns__synth_gap(c, 0);
    return seg_est(c, 0, NS__TH_ACK, c->nxt[0], NULL, 0);
}

int ns__synth_tcp_send(struct ns__synth_conv *c, int dir, const uint8_t *p, size_t len,
                       size_t maxseg)
{
    size_t seg = c->seg[dir];
    if (maxseg != 0 && maxseg < seg) {
        seg = maxseg;
    }
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < seg ? len - off : seg;
        bool last = off + n == len;
        ns__synth_gap(c, dir);
        int rc = seg_est(c, dir, last ? NS__TH_PSH : 0, c->nxt[dir], p + off, n);
        if (rc != 0) {
            return rc;
        }
        c->nxt[dir] += (uint32_t)n;
        c->unacked[dir]++;
        off += n;
        if (c->unacked[dir] >= 2 || last) {
            rc = pure_ack(c, !dir);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

int ns__synth_tcp_send_messy(struct ns__synth_conv *c, int dir, const uint8_t *p, size_t len,
                             int dup, int swap)
{
    size_t seg = c->seg[dir];
    size_t nseg = (len + seg - 1) / seg;
    size_t dup_frame = SIZE_MAX;
    uint32_t base = c->nxt[dir];
    for (size_t i = 0; i < nseg; i++) {
        size_t k = i;
        if (swap >= 0 && (size_t)swap + 1 < nseg) {
            if (i == (size_t)swap) {
                k = i + 1;
            } else if (i == (size_t)swap + 1) {
                k = i - 1;
            }
        }
        size_t off = k * seg;
        size_t n = len - off < seg ? len - off : seg;
        ns__synth_gap(c, dir);
        int rc = seg_est(c, dir, k + 1 == nseg ? NS__TH_PSH : 0, base + (uint32_t)off, p + off, n);
        if (rc != 0) {
            return rc;
        }
        if (dup >= 0 && k == (size_t)dup) {
            dup_frame = c->x->nfr - 1;
        }
    }
    c->nxt[dir] = base + (uint32_t)len;
    if (dup_frame != SIZE_MAX) {
        /* no ACK came back in time: the retransmission timer fires (RFC 6298: >= 200 ms) */
        c->t += 200000 + ns__synth_between(&c->x->rng, 1000, 30000);
        int rc = ns__synth_frame_copy(c, dup_frame);
        if (rc != 0) {
            return rc;
        }
    }
    c->unacked[dir] = 1;
    return pure_ack(c, !dir);
}

int ns__synth_tcp_close(struct ns__synth_conv *c, int dir)
{
    int rc;
    ns__synth_gap(c, dir);
    rc = seg_est(c, dir, NS__TH_FIN, c->nxt[dir], NULL, 0);
    if (rc != 0) {
        return rc;
    }
    c->nxt[dir]++;
    ns__synth_gap(c, !dir);
    rc = seg_est(c, !dir, NS__TH_FIN, c->nxt[!dir], NULL, 0);
    if (rc != 0) {
        return rc;
    }
    c->nxt[!dir]++;
    c->unacked[0] = 0;
    c->unacked[1] = 0;
    ns__synth_gap(c, dir);
    return seg_est(c, dir, NS__TH_ACK, c->nxt[dir], NULL, 0);
}

int ns__synth_tcp_reset(struct ns__synth_conv *c, int dir)
{
    ns__synth_gap(c, dir);
    return tcp_seg(c, dir, NS__TH_RST | NS__TH_ACK, c->nxt[dir], c->nxt[!dir], 0, NULL, 0, NULL, 0);
}

int ns__synth_tcp_raw(struct ns__synth_conv *c, int dir, uint8_t flags, uint32_t seq, uint32_t ack,
                      uint16_t win, const uint8_t *opts, size_t optlen)
{
    ns__synth_gap(c, dir);
    return tcp_seg(c, dir, flags, seq, ack, win, opts, optlen, NULL, 0);
}
