/*
 * tcp_reasm.c - TCP stream reassembly per direction (tcp.h; RFC 9293
 * sections 3.4 "Sequence Numbers" and 3.10.7.4 "Other States" for the
 * segment text processing a receiver does; RFC 9293 section 3.3.1 for the
 * control bits).
 *
 *   TCP header fields used (the decoder already read them into ns_packet):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Source Port          |       Destination Port        |
 *   |                        Sequence Number                        |  p->seq
 *   |                    Acknowledgment Number                      |
 *   | Offset|  Rsrvd|C|E|U|A|P|R|S|F|            Window             |  p->tcp_flags
 *   |           Checksum            |         Urgent Pointer        |
 *   |                    Options / data ...                         |  p->payload
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * A SYN occupies one sequence number before the data (the ISN), and so does
 * a FIN after it. Sequence numbers are compared modulo 2^32 through the
 * signed difference (int32_t)(a - b).
 *
 * Per direction the state is the next expected sequence number (`next`,
 * valid once `known`), a FIN position, and the out-of-order segments held
 * as a sorted singly linked list of copies that never overlap each other and
 * all lie strictly after `next`:
 *
 *       delivered            hole          held        hole     held
 *   ----------------|==================|########|===========|#####|---->
 *                 next                  h1                   h2
 *
 * In-order data (a segment starting at `next`) is handed to the consumer
 * straight from the packet (no copy, no allocation); held segments that
 * become contiguous are then delivered and freed. Held copies are the only
 * allocations besides the per-connection state. When a held segment
 * overlaps new bytes, the held bytes win ("first wins") and differing bytes
 * are counted as conflicts.
 *
 * A RST closes only its sender's direction; the peer's direction stays open
 * (under the same caps) until its own FIN or RST or the end of the flow.
 */
#include "netsift/tcp.h"

#include <string.h>

#include "netsift/alloc.h"
#include "netsift/err.h"
#include "netsift/pool.h"

#define TCP_DEF_PER_DIR ((size_t)1 << 20)
#define TCP_DEF_TOTAL   ((size_t)64 << 20)

/* One held out-of-order range [seq, seq + len), plus an uncaptured tail. */
struct tcp_seg {
    struct tcp_seg *next;
    uint32_t seq;
    uint32_t len;  /* bytes in data[] */
    uint32_t tail; /* sequence space after data[] that the capture cut off */
    uint8_t data[];
};

struct tcp_dir {
    struct tcp_seg *held; /* sorted by seq, disjoint, all after `next` */
    size_t held_bytes;
    uint32_t next;     /* next expected sequence number, once `known` */
    uint32_t fin_seq;  /* sequence number of the FIN, once `fin` */
    uint32_t lost_end; /* end of an uncaptured tail in front of us, once `lost` */
    bool known;
    bool fin;
    bool lost;
};

struct tcp_conn {
    struct ns_tcp_conn pub; /* what the callbacks see */
    struct tcp_dir d[2];
    struct tcp_conn *prev; /* every live connection, for ns_tcp_free */
    struct tcp_conn *next;
};

struct ns_tcp {
    struct ns_tcp_reasm_opts opts;
    struct ns_tcp_stats stats;
    size_t held; /* bytes held over all connections */
    struct tcp_conn *conns;
    struct ns_pool conn_pool; /* connection states (one per connection, made at a high rate) */
};

static bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static bool seq_leq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}

/* ---- delivery ---- */

static void tcp_emit(struct ns_tcp *t, struct tcp_conn *c, int dir, const uint8_t *b, size_t len,
                     uint64_t ts)
{
    if (len == 0) {
        return;
    }
    if (c->pub.ignore[dir]) {
        return; /* the consumer stopped following it during this segment */
    }
    c->pub.delivered[dir] += len;
    t->stats.bytes += len;
    if (t->opts.on_data != NULL) {
        t->opts.on_data(t->opts.ud, &c->pub, dir, b, len, ts);
    }
}

static void tcp_gap(struct ns_tcp *t, struct tcp_conn *c, int dir, uint32_t n, uint64_t ts)
{
    if (n == 0 || c->pub.ignore[dir]) {
        return;
    }
    c->pub.gaps[dir]++;
    c->pub.gap_bytes[dir] += n;
    t->stats.gaps++;
    t->stats.gap_bytes += n;
    if (t->opts.on_gap != NULL) {
        t->opts.on_gap(t->opts.ud, &c->pub, dir, n, ts);
    }
}

/* Move `next` forward to n; an uncaptured tail we went past is settled. */
static void tcp_advance(struct tcp_dir *d, uint32_t n)
{
    d->next = n;
    if (d->lost && seq_leq(d->lost_end, n)) {
        d->lost = false;
    }
}

/* Remember that [end, end + tail) was on the wire but not captured. */
static void tcp_mark_lost(struct tcp_dir *d, uint32_t end, uint32_t tail)
{
    uint32_t le = end + tail;
    if (tail == 0 || seq_leq(le, d->next)) {
        return;
    }
    if (!d->lost || seq_lt(d->lost_end, le)) {
        d->lost_end = le;
    }
    d->lost = true;
}

/*
 * Later bytes start at `upto`: the uncaptured tail in front of them (up to
 * upto) will never come, report it as a gap.
 */
static void tcp_lost_skip(struct ns_tcp *t, struct tcp_conn *c, int dir, uint32_t upto, uint64_t ts)
{
    struct tcp_dir *d = &c->d[dir];
    if (!d->lost || !seq_lt(d->next, upto)) {
        return;
    }
    uint32_t end = seq_lt(upto, d->lost_end) ? upto : d->lost_end;
    tcp_gap(t, c, dir, end - d->next, ts);
    tcp_advance(d, end);
    d->lost = false;
}

/* Unlink the first held segment, deliver it and free it. */
static void tcp_deliver_first(struct ns_tcp *t, struct tcp_conn *c, int dir, uint64_t ts)
{
    struct tcp_dir *d = &c->d[dir];
    struct tcp_seg *h = d->held;
    d->held = h->next;
    d->held_bytes -= h->len;
    t->held -= h->len;
    tcp_emit(t, c, dir, h->data, h->len, ts);
    tcp_advance(d, h->seq + h->len);
    tcp_mark_lost(d, h->seq + h->len, h->tail);
    ns_free(h);
}

/* Deliver the held segments that are now contiguous with `next`. */
static void tcp_drain(struct ns_tcp *t, struct tcp_conn *c, int dir, uint64_t ts)
{
    struct tcp_dir *d = &c->d[dir];
    while (d->held != NULL) {
        tcp_lost_skip(t, c, dir, d->held->seq, ts);
        if (d->held->seq != d->next) {
            break;
        }
        tcp_deliver_first(t, c, dir, ts);
    }
}

/* Deliver everything held, reporting each hole in front of held data as a gap. */
static void tcp_flush(struct ns_tcp *t, struct tcp_conn *c, int dir, uint64_t ts)
{
    struct tcp_dir *d = &c->d[dir];
    while (d->held != NULL) {
        if (seq_lt(d->next, d->held->seq)) {
            tcp_gap(t, c, dir, d->held->seq - d->next, ts);
            tcp_advance(d, d->held->seq);
        }
        tcp_deliver_first(t, c, dir, ts);
    }
}

static void tcp_free_held(struct ns_tcp *t, struct tcp_dir *d)
{
    while (d->held != NULL) {
        struct tcp_seg *h = d->held;
        d->held = h->next;
        t->held -= h->len;
        ns_free(h);
    }
    d->held_bytes = 0;
}

static void tcp_close(struct ns_tcp *t, struct tcp_conn *c, int dir, enum ns_tcp_close why,
                      uint64_t ts)
{
    if (c->pub.closed[dir]) {
        return;
    }
    tcp_free_held(t, &c->d[dir]); /* only bytes past a FIN can be left */
    c->pub.closed[dir] = true;
    c->pub.close_reason[dir] = (uint8_t)why;
    if (t->opts.on_close != NULL) {
        t->opts.on_close(t->opts.ud, &c->pub, dir, why, ts);
    }
}

/* Close the direction with FIN once the stream reached its FIN. */
static void tcp_check_fin(struct ns_tcp *t, struct tcp_conn *c, int dir, uint64_t ts)
{
    struct tcp_dir *d = &c->d[dir];
    if (c->pub.closed[dir] || !d->fin || !d->known) {
        return;
    }
    tcp_lost_skip(t, c, dir, d->fin_seq, ts);
    if (d->next == d->fin_seq) {
        tcp_close(t, c, dir, NS_TCP_CLOSE_FIN, ts);
    }
}

/* The direction ends without more data: flush, fill the hole up to a FIN, close. */
static void tcp_finish(struct ns_tcp *t, struct tcp_conn *c, int dir, enum ns_tcp_close why,
                       uint64_t ts)
{
    struct tcp_dir *d = &c->d[dir];
    if (c->pub.closed[dir]) {
        return;
    }
    tcp_flush(t, c, dir, ts);
    if (d->fin && d->known) {
        int32_t off = (int32_t)(d->fin_seq - d->next);
        if (off > 0 && (uint32_t)off <= NS_TCP_MAX_JUMP) {
            tcp_gap(t, c, dir, (uint32_t)off, ts);
            tcp_advance(d, d->fin_seq);
        }
    }
    if (d->fin && why == NS_TCP_CLOSE_END) {
        why = NS_TCP_CLOSE_FIN;
    }
    tcp_close(t, c, dir, why, ts);
}

/* ---- the segment's data ---- */

/*
 * Data starting exactly at `next`: delivered from the packet, except where
 * held bytes were there first; then the held data that became contiguous.
 */
static void tcp_in_order(struct ns_tcp *t, struct tcp_conn *c, int dir, const uint8_t *b,
                         uint32_t len, uint32_t tail, uint64_t ts)
{
    struct tcp_dir *d = &c->d[dir];
    uint32_t s = d->next;
    uint32_t end = s + len;
    bool overlap = false;
    bool conflict = false;

    while (seq_lt(d->next, end)) {
        struct tcp_seg *h = d->held;
        if (h == NULL || seq_leq(end, h->seq)) {
            tcp_emit(t, c, dir, b + (d->next - s), end - d->next, ts);
            tcp_advance(d, end);
            break;
        }
        if (seq_lt(d->next, h->seq)) {
            tcp_emit(t, c, dir, b + (d->next - s), h->seq - d->next, ts);
            tcp_advance(d, h->seq);
        }
        /* h starts at next and was there first: compare what overlaps, deliver h */
        uint32_t hend = h->seq + h->len;
        uint32_t ov = (seq_lt(hend, end) ? hend : end) - h->seq;
        overlap = true;
        if (memcmp(b + (h->seq - s), h->data, ov) != 0) {
            conflict = true;
        }
        tcp_deliver_first(t, c, dir, ts);
    }
    tcp_mark_lost(d, end, tail);
    if (overlap) {
        t->stats.overlaps++;
    }
    if (conflict) {
        t->stats.overlap_conflicts++;
    }
    tcp_drain(t, c, dir, ts);
}

/* Bytes of [s, s + len) not covered by held segments. */
static uint32_t tcp_uncovered(const struct tcp_dir *d, uint32_t s, uint32_t len)
{
    uint32_t n = len;
    uint32_t end = s + len;
    for (const struct tcp_seg *h = d->held; h != NULL && seq_lt(h->seq, end); h = h->next) {
        uint32_t hend = h->seq + h->len;
        if (seq_leq(hend, s)) {
            continue;
        }
        uint32_t from = seq_lt(s, h->seq) ? h->seq : s;
        uint32_t to = seq_lt(hend, end) ? hend : end;
        n -= to - from;
    }
    return n;
}

/*
 * Hold the parts of [s, s + len) (after `next`) that no held segment covers,
 * as new segments in sorted position; compare the parts that are covered.
 */
static int tcp_hold(struct ns_tcp *t, struct tcp_conn *c, int dir, uint32_t s, const uint8_t *b,
                    uint32_t len, uint32_t tail)
{
    struct tcp_dir *d = &c->d[dir];
    struct tcp_seg **pp = &d->held;
    uint32_t pos = s;
    uint32_t end = s + len;
    bool overlap = false;
    bool conflict = false;
    bool added = false;
    int rc = 0;

    while (seq_lt(pos, end)) {
        struct tcp_seg *h = *pp;
        if (h != NULL && seq_leq(h->seq + h->len, pos)) {
            pp = &h->next;
            continue;
        }
        uint32_t piece_end = end;
        if (h != NULL && seq_lt(h->seq, end)) {
            if (seq_leq(h->seq, pos)) {
                /* pos lies inside h: the held bytes stay */
                uint32_t hend = h->seq + h->len;
                uint32_t to = seq_lt(hend, end) ? hend : end;
                overlap = true;
                if (memcmp(b + (pos - s), h->data + (pos - h->seq), to - pos) != 0) {
                    conflict = true;
                }
                pos = to;
                pp = &h->next;
                continue;
            }
            piece_end = h->seq;
        }
        uint32_t n = piece_end - pos;
        struct tcp_seg *seg = ns_malloc(sizeof(*seg) + n);
        if (seg == NULL) {
            rc = NS_ENOMEM;
            break;
        }
        seg->seq = pos;
        seg->len = n;
        seg->tail = piece_end == end ? tail : 0;
        memcpy(seg->data, b + (pos - s), n);
        seg->next = h;
        *pp = seg;
        pp = &seg->next;
        d->held_bytes += n;
        t->held += n;
        added = true;
        pos = piece_end;
    }
    if (added) {
        t->stats.ooo_segments++;
        if (t->held > t->stats.ooo_bytes_max) {
            t->stats.ooo_bytes_max = t->held;
        }
    }
    if (overlap) {
        t->stats.overlaps++;
    }
    if (conflict) {
        t->stats.overlap_conflicts++;
    }
    return rc;
}

/*
 * Payload of one segment: `len` captured bytes at sequence s, then `tail`
 * bytes the capture cut off. The direction's `next` is known.
 */
static int tcp_data(struct ns_tcp *t, struct tcp_conn *c, int dir, uint32_t s, const uint8_t *b,
                    uint32_t len, uint32_t tail, uint64_t ts)
{
    struct tcp_dir *d = &c->d[dir];

    if (d->fin) {
        /* nothing exists past the FIN */
        if (seq_leq(d->fin_seq, s)) {
            return 0;
        }
        uint32_t room = d->fin_seq - s;
        if (len >= room) {
            len = room;
            tail = 0;
        } else if (tail > room - len) {
            tail = room - len;
        }
    }
    for (;;) {
        int32_t off = (int32_t)(s - d->next);
        if (off > 0 && (uint32_t)off > NS_TCP_MAX_JUMP) {
            t->stats.seq_jumps++;
            return 0;
        }
        if (off < 0) {
            uint32_t behind = (uint32_t)(-(int64_t)off);
            t->stats.retransmitted++;
            if (behind >= len + tail) {
                return 0;
            }
            t->stats.overlaps++;
            if (behind >= len) {
                tail -= behind - len;
                len = 0; /* b is not read again */
            } else {
                b += behind;
                len -= behind;
            }
            s = d->next;
        }
        if (s != d->next) {
            tcp_lost_skip(t, c, dir, s, ts);
        }
        if (s == d->next) {
            tcp_in_order(t, c, dir, b, len, tail, ts);
            return 0;
        }
        if (len == 0) {
            return 0; /* only uncaptured bytes, ahead: the hole speaks for them later */
        }
        /* ahead of next: hold it, within the caps */
        size_t add = tcp_uncovered(d, s, len);
        bool per_dir = add > 0 && d->held_bytes + add > t->opts.max_ooo_per_dir;
        bool total = add > 0 && t->held + add > t->opts.max_ooo_total;
        if (!per_dir && !total) {
            return tcp_hold(t, c, dir, s, b, len, tail);
        }
        if (per_dir) {
            t->stats.cap_per_dir++;
        } else {
            t->stats.cap_total++;
        }
        if (d->held != NULL) {
            tcp_flush(t, c, dir, ts);
            continue; /* next moved on: classify the segment again */
        }
        /* it alone does not fit: skip to it and deliver it directly */
        tcp_gap(t, c, dir, s - d->next, ts);
        tcp_advance(d, s);
    }
}

/* ---- connections ---- */

static void tcp_conn_free(struct ns_tcp *t, struct tcp_conn *c)
{
    tcp_free_held(t, &c->d[0]);
    tcp_free_held(t, &c->d[1]);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        t->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    ns_pool_put(&t->conn_pool, c);
}

int ns_tcp_new(struct ns_tcp **out, const struct ns_tcp_reasm_opts *opts)
{
    *out = NULL;
    struct ns_tcp *t = ns_calloc(1, sizeof(*t));
    if (t == NULL) {
        return NS_ENOMEM;
    }
    if (opts != NULL) {
        t->opts = *opts;
    }
    if (t->opts.max_ooo_per_dir == 0) {
        t->opts.max_ooo_per_dir = TCP_DEF_PER_DIR;
    }
    if (t->opts.max_ooo_total == 0) {
        t->opts.max_ooo_total = TCP_DEF_TOTAL;
    }
    ns_pool_init(&t->conn_pool, sizeof(struct tcp_conn));
    *out = t;
    return 0;
}

void ns_tcp_free(struct ns_tcp *t)
{
    if (t == NULL) {
        return;
    }
    while (t->conns != NULL) {
        tcp_conn_free(t, t->conns);
    }
    ns_pool_release(&t->conn_pool);
    ns_free(t);
}

const struct ns_tcp_stats *ns_tcp_stats(const struct ns_tcp *t)
{
    return &t->stats;
}

size_t ns_tcp_held_bytes(const struct ns_tcp *t)
{
    return t->held;
}

/*
 * A segment of a direction the consumer no longer follows: what it held is
 * dropped, its payload counted; a FIN or RST still closes it.
 */
static int tcp_ignored(struct ns_tcp *t, struct tcp_conn *c, int dir, const struct ns_packet *p)
{
    struct tcp_dir *d = &c->d[dir];
    if (d->held != NULL) {
        tcp_free_held(t, d);
    }
    if (p->payload_len > 0 || p->payload_wire_len > 0) {
        t->stats.ignored++;
    }
    if (p->tcp_flags & NS_TCP_RST) {
        tcp_close(t, c, dir, NS_TCP_CLOSE_RST, p->ts_ns);
    } else if (p->tcp_flags & NS_TCP_FIN) {
        tcp_close(t, c, dir, NS_TCP_CLOSE_FIN, p->ts_ns);
    }
    return 0;
}

int ns_tcp_segment(struct ns_tcp *t, struct ns_flow *flow, int dir, const struct ns_packet *p)
{
    if (!(p->flags & NS_PKT_F_HAS_L4) || p->proto != NS_IPPROTO_TCP || (dir != 0 && dir != 1)) {
        return 0;
    }
    struct tcp_conn *c = flow->user;
    if (c == NULL) {
        c = ns_pool_get(&t->conn_pool);
        if (c == NULL) {
            t->stats.no_memory++;
            return NS_ENOMEM;
        }
        c->pub.first_ns = p->ts_ns;
        c->next = t->conns;
        if (t->conns != NULL) {
            t->conns->prev = c;
        }
        t->conns = c;
        flow->user = c;
        t->stats.conns++;
    }
    c->pub.flow = flow;
    if (p->ts_ns > c->pub.last_ns) {
        c->pub.last_ns = p->ts_ns;
    }

    struct tcp_dir *d = &c->d[dir];
    uint64_t ts = p->ts_ns;
    uint8_t fl = p->tcp_flags;
    uint32_t s = p->seq;
    uint32_t len = p->payload != NULL ? p->payload_len : 0;
    uint32_t tail = 0;
    if ((p->flags & NS_PKT_F_SNAPPED) && p->payload_wire_len > len) {
        tail = p->payload_wire_len - len;
    }
    uint32_t span = len + tail;
    int rc = 0;

    if (span > 0) {
        c->pub.segments[dir]++;
        t->stats.segments++;
    }
    if (c->pub.closed[dir]) {
        if (span > 0) {
            t->stats.after_close++;
        }
        return 0; /* a RST here changes nothing: it only ever closes its own direction */
    }
    if (c->pub.ignore[dir]) {
        return tcp_ignored(t, c, dir, p);
    }
    if (fl & NS_TCP_SYN) {
        c->pub.syn_seen[dir] = true;
        if (!d->known) {
            d->known = true;
            d->next = s + 1;
        }
        s++; /* the SYN takes one sequence number before the data */
    }
    if (span > 0) {
        if (!d->known) {
            d->known = true;
            d->next = s;
            t->stats.midstream++;
        }
        rc = tcp_data(t, c, dir, s, p->payload, len, tail, ts);
        if (rc != 0) {
            t->stats.no_memory++;
        }
    }
    if ((fl & NS_TCP_FIN) && !d->fin && !c->pub.closed[dir]) {
        uint32_t f = s + span;
        int32_t off = d->known ? (int32_t)(f - d->next) : 0;
        if (off > 0 && (uint32_t)off > NS_TCP_MAX_JUMP) {
            t->stats.seq_jumps++;
        } else if (off >= 0) {
            d->fin = true;
            d->fin_seq = f;
        }
    }
    if (fl & NS_TCP_RST) {
        int32_t off = d->known ? (int32_t)(s - d->next) : 0;
        if (off > 0 && (uint32_t)off > NS_TCP_MAX_JUMP) {
            t->stats.seq_jumps++;
        } else {
            /*
             * Only the sender's direction ends: what the peer sent before it
             * saw the RST is still on its way and is real traffic.
             */
            tcp_finish(t, c, dir, NS_TCP_CLOSE_RST, ts);
        }
    }
    tcp_check_fin(t, c, dir, ts);
    return rc;
}

void ns_tcp_flow_end(struct ns_tcp *t, struct ns_flow *flow)
{
    struct tcp_conn *c = flow->user;
    if (c == NULL) {
        return;
    }
    c->pub.flow = flow;
    uint64_t ts = c->pub.last_ns;
    for (int dir = 0; dir < 2; dir++) {
        tcp_finish(t, c, dir, NS_TCP_CLOSE_END, ts);
    }
    if (t->opts.on_conn_end != NULL) {
        t->opts.on_conn_end(t->opts.ud, &c->pub);
    }
    flow->user = NULL;
    tcp_conn_free(t, c);
}
