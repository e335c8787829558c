/*
 * fuzz_tcp.c - fuzz target for TCP stream reassembly (tcp.h, RFC 9293
 * section 3.4 sequence numbers).
 *
 * The input describes a reassembler with small caps and a sequence of
 * synthetic segments of two flows; the target builds struct ns_packet values
 * the way the decoder leaves them (NS_PKT_F_HAS_L4, proto 6) and feeds them
 * to ns_tcp_segment(), then ends both flows with ns_tcp_flow_end(). Every
 * input byte is read through struct ns_rd.
 *
 *   header (2 bytes):
 *   +---------+---------+
 *   | per_dir |  total  |  max_ooo_per_dir = 16 * (1 + per_dir) bytes,
 *   +---------+---------+  max_ooo_total = 32 * (1 + total) bytes
 *
 *   then records of 7 bytes, until the input ends:
 *   +------+-------+-----------------+------+------+-------+
 *   | ctl  | flags | seq offset be16 | len  | fill | extra |
 *   +------+-------+-----------------+------+------+-------+
 *   ctl bit 0: direction          bit 1: flow (0 or 1)
 *   ctl bit 2: snapped: `extra` more bytes were on the wire than captured
 *   ctl bit 3: ns_tcp_flow_end() on the flow after the segment
 *   ctl bit 4: add 2^30 + 2^29 to the sequence number (hostile jump)
 *   ctl bit 5: constant fill (else byte i = fill + i)
 *   ctl bit 6: the consumer stops following the direction (conn->ignore)
 *              before the segment, when the connection exists
 *   flags:  TCP flags as on the wire (FIN 0x01, SYN 0x02, RST 0x04, ...)
 *   seq:    0xffff0000 + 0x100 * direction + offset: streams wrap past 2^32
 *   len:    captured payload bytes
 *
 * Checked: every data and gap callback is non-empty and comes before its
 * direction's close; a gap is never NS_TCP_MAX_JUMP bytes or more; each
 * direction closes exactly once per connection; a segment closes at most
 * its own direction (FIN or RST of its sender: a RST never closes the
 * peer's direction); the connection's counters equal what the callbacks saw
 * (delivered and gap bytes); the stats agree with the callbacks; held bytes
 * stay under both caps and are 0 at the end; an ignored direction gets no
 * data or gap callback, and still closes exactly once.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsift/rd.h"
#include "netsift/tcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
    struct ns_flow flows[2];
    uint64_t data[2][2]; /* bytes seen per flow and direction, this connection */
    uint64_t gap[2][2];
    int closes[2][2];
    uint64_t all_data;
    uint64_t all_gap;
    uint64_t conn_ends;
    int seg_flow; /* flow and direction of the segment being fed, or -1 */
    int seg_dir;
    uint8_t sink;
};

static int fz_flow(struct fz *z, const struct ns_tcp_conn *c)
{
    if (c->flow == &z->flows[0]) {
        return 0;
    }
    if (c->flow != &z->flows[1]) {
        abort();
    }
    return 1;
}

static void fz_data(void *ud, struct ns_tcp_conn *c, int dir, const uint8_t *b, size_t len,
                    uint64_t ts)
{
    struct fz *z = ud;
    int f = fz_flow(z, c);
    (void)ts;
    if (len == 0 || z->closes[f][dir] != 0 || c->closed[dir] || c->ignore[dir]) {
        abort();
    }
    for (size_t i = 0; i < len; i++) {
        z->sink ^= b[i]; /* the view must be readable */
    }
    z->data[f][dir] += len;
    z->all_data += len;
}

static void fz_gap(void *ud, struct ns_tcp_conn *c, int dir, uint64_t len, uint64_t ts)
{
    struct fz *z = ud;
    int f = fz_flow(z, c);
    (void)ts;
    if (len == 0 || len > NS_TCP_MAX_JUMP || z->closes[f][dir] != 0 || c->ignore[dir]) {
        abort();
    }
    z->gap[f][dir] += len;
    z->all_gap += len;
}

static void fz_close(void *ud, struct ns_tcp_conn *c, int dir, enum ns_tcp_close why, uint64_t ts)
{
    struct fz *z = ud;
    int f = fz_flow(z, c);
    (void)ts;
    if (why < NS_TCP_CLOSE_FIN || why > NS_TCP_CLOSE_END || !c->closed[dir]) {
        abort();
    }
    if (++z->closes[f][dir] != 1) {
        abort();
    }
    if (z->seg_flow >= 0 && (f != z->seg_flow || dir != z->seg_dir)) {
        abort(); /* a segment closed another direction than its own */
    }
}

static void fz_conn_end(void *ud, struct ns_tcp_conn *c)
{
    struct fz *z = ud;
    int f = fz_flow(z, c);
    for (int d = 0; d < 2; d++) {
        if (z->closes[f][d] != 1 || c->delivered[d] != z->data[f][d] ||
            c->gap_bytes[d] != z->gap[f][d]) {
            abort();
        }
        z->closes[f][d] = 0;
        z->data[f][d] = 0;
        z->gap[f][d] = 0;
    }
    z->conn_ends++;
}

static void fz_check(struct fz *z, struct ns_tcp *t, const struct ns_tcp_reasm_opts *o)
{
    size_t held = ns_tcp_held_bytes(t);
    if (held > o->max_ooo_total || held > 4 * o->max_ooo_per_dir) {
        abort();
    }
    const struct ns_tcp_stats *st = ns_tcp_stats(t);
    if (st->bytes != z->all_data || st->gap_bytes != z->all_gap ||
        st->ooo_bytes_max > o->max_ooo_total) {
        abort();
    }
    for (int f = 0; f < 2; f++) {
        const struct ns_tcp_conn *c = z->flows[f].user;
        if (c == NULL) {
            continue;
        }
        for (int d = 0; d < 2; d++) {
            if (c->delivered[d] != z->data[f][d] || c->gap_bytes[d] != z->gap[f][d]) {
                abort();
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t bytes[256];
    struct ns_rd r;
    struct fz z;
    ns_rd_init(&r, data, size, 0);
    uint8_t per_dir = ns_rd_u8(&r);
    uint8_t total = ns_rd_u8(&r);
    if (!ns_rd_ok(&r)) {
        return 0;
    }
    memset(&z, 0, sizeof(z));
    z.seg_flow = -1;
    z.flows[0].key.proto = NS_IPPROTO_TCP;
    z.flows[1].key.proto = NS_IPPROTO_TCP;
    struct ns_tcp_reasm_opts o = {
        .max_ooo_per_dir = 16 * (1 + (size_t)per_dir),
        .max_ooo_total = 32 * (1 + (size_t)total),
        .on_data = fz_data,
        .on_gap = fz_gap,
        .on_close = fz_close,
        .on_conn_end = fz_conn_end,
        .ud = &z,
    };
    struct ns_tcp *t = NULL;
    if (ns_tcp_new(&t, &o) != 0) {
        return 0;
    }
    uint64_t now = 1;
    for (;;) {
        uint8_t ctl = ns_rd_u8(&r);
        uint8_t flags = ns_rd_u8(&r);
        uint16_t off = ns_rd_be16(&r);
        uint8_t len = ns_rd_u8(&r);
        uint8_t fill = ns_rd_u8(&r);
        uint8_t extra = ns_rd_u8(&r);
        if (!ns_rd_ok(&r)) {
            break;
        }
        int dir = ctl & 1;
        int f = (ctl >> 1) & 1;
        for (uint32_t i = 0; i < len; i++) {
            bytes[i] = (ctl & 0x20) ? fill : (uint8_t)(fill + i);
        }
        struct ns_packet p;
        memset(&p, 0, sizeof(p));
        p.flags = NS_PKT_F_HAS_L4;
        p.ipver = 4;
        p.proto = NS_IPPROTO_TCP;
        p.tcp_flags = flags;
        p.seq = 0xffff0000u + 0x100u * (uint32_t)dir + off;
        if (ctl & 0x10) {
            p.seq += (1u << 30) + (1u << 29);
        }
        p.ts_ns = now++;
        if (len > 0) {
            p.payload = bytes;
        }
        p.payload_len = len;
        p.payload_wire_len = len;
        if ((ctl & 4) && extra > 0) {
            p.flags |= NS_PKT_F_SNAPPED;
            p.payload_wire_len = (uint32_t)len + extra;
        }
        if ((ctl & 0x40) && z.flows[f].user != NULL) {
            ((struct ns_tcp_conn *)z.flows[f].user)->ignore[dir] = true;
        }
        z.seg_flow = f;
        z.seg_dir = dir;
        int rc = ns_tcp_segment(t, &z.flows[f], dir, &p);
        z.seg_flow = -1;
        if (rc != 0) {
            abort(); /* only NS_ENOMEM is possible, and nothing fails here */
        }
        fz_check(&z, t, &o);
        if (ctl & 8) {
            ns_tcp_flow_end(t, &z.flows[f]);
            if (z.flows[f].user != NULL) {
                abort();
            }
            fz_check(&z, t, &o);
        }
    }
    ns_tcp_flow_end(t, &z.flows[0]);
    ns_tcp_flow_end(t, &z.flows[1]);
    fz_check(&z, t, &o);
    if (ns_tcp_held_bytes(t) != 0 || ns_tcp_stats(t)->conns != z.conn_ends) {
        abort();
    }
    ns_tcp_free(t);
    return 0;
}
