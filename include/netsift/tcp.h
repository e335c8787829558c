/*
 * tcp.h - TCP stream reassembly, per direction (RFC 9293).
 *
 * The reassembler turns the TCP segments of a flow into two in-order byte
 * streams (one per direction) and tells its consumer about them through
 * callbacks: data chunks of any size, gaps (bytes that were never seen, with
 * their count), and the close of each direction.
 *
 *   segments (any order) --> [held out-of-order, bounded] --> in-order chunks
 *                                                         \-> gap(n) / close
 *
 * Rules:
 *   - A direction starts at its SYN's ISN + 1 when the SYN was seen; a flow
 *     picked up mid-stream starts at the first segment with data seen in that
 *     direction (counted as `midstream`).
 *   - Sequence numbers are compared modulo 2^32 (RFC 9293 section 3.4), so
 *     streams may wrap.
 *   - Retransmissions of bytes already delivered are dropped (counted).
 *   - Overlap policy, "first wins": bytes already delivered or already held
 *     are kept; a later segment only contributes bytes not seen before.
 *     Overlapping bytes that differ are counted (`overlap_conflicts`), as an
 *     evasion hint.
 *   - Out-of-order segments are held up to `max_ooo_per_dir` bytes per
 *     direction and `max_ooo_total` bytes over all connections. When a cap is
 *     hit, or when a direction's FIN/RST/end arrives with a hole in front of
 *     held data, the hole is reported as a gap of its size and delivery goes
 *     on after it: data already reassembled is never lost.
 *   - FIN (once the bytes before it were delivered), RST (of that
 *     direction's sender), or the end of the flow (timeout, eviction, end
 *     of input) close a direction exactly once.
 *   - A reused 4-tuple after a close is a new flow in the flow table, so a
 *     new connection here.
 *
 * Details of the policy (tcp_reasm.c):
 *   - Hostile sequence numbers: a segment, FIN or RST more than 1 GiB
 *     (NS_TCP_MAX_JUMP) ahead of the next expected byte is dropped and
 *     counted (`seq_jumps`), so no single gap is ever 1 GiB or more. A
 *     segment behind the next expected byte (up to 2^31) is a
 *     retransmission.
 *   - A FIN does not force a gap when it arrives: the data in front of it may
 *     still come (retransmissions are often captured after the FIN). The
 *     direction closes with NS_TCP_CLOSE_FIN when the stream reaches the FIN;
 *     if holes remain, they are reported as gaps at RST or at the end of the
 *     flow, and the close reason is still NS_TCP_CLOSE_FIN. Bytes past a
 *     known FIN are dropped.
 *   - A RST closes the direction of its sender with NS_TCP_CLOSE_RST,
 *     after delivering what that direction holds (holes reported as gaps).
 *     The other direction stays open: segments of it that arrive later
 *     (sent before the peer saw the RST) are delivered as usual, under the
 *     same out-of-order caps, until its own FIN or RST, or the end of the
 *     flow (NS_TCP_CLOSE_END; the flow table ends a reset flow after its
 *     closed timeout). Segments with payload of the RST's sender that
 *     arrive after it (retransmissions) are dropped and counted
 *     (`after_close`).
 *   - Snap-length cut segments (NS_PKT_F_SNAPPED): the captured bytes are
 *     delivered, the uncaptured tail is reported as a gap as soon as later
 *     bytes of the direction arrive (or at the FIN / end).
 *   - When a cap is hit the direction's held data is delivered with its holes
 *     reported as gaps; a segment that alone does not fit is delivered
 *     directly after a gap up to its start. Held bytes never exceed the caps.
 *   - Counters: `retransmitted` counts segments starting before the next
 *     expected byte; `overlaps` counts segments overlapping held bytes and
 *     segments that are partly retransmitted and partly new.
 *   - A consumer that has seen enough of a direction sets
 *     conn->ignore[dir] (in any callback, or between segments): from then on
 *     that direction gets no data and no gap callbacks, its held bytes are
 *     freed at its next segment, and its segments are only counted
 *     (`ignored`), neither copied nor compared. Its close is still reported
 *     (a FIN closes it at once, since no byte before it is awaited), so
 *     on_close and on_conn_end come as usual. Nothing else is undone: bytes
 *     already delivered stay delivered.
 *   - Callbacks must not call back into the reassembler.
 */
#ifndef NETSIFT_TCP_H
#define NETSIFT_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsift/decode.h"
#include "netsift/flow.h"

/* Largest forward sequence jump accepted (1 GiB); see the policy above. */
#define NS_TCP_MAX_JUMP (1u << 30)

enum ns_tcp_close {
    NS_TCP_CLOSE_FIN = 1, /* FIN seen and every byte before it delivered (or gapped) */
    NS_TCP_CLOSE_RST,     /* RST seen from this direction's sender */
    NS_TCP_CLOSE_END,     /* the flow ended (timeout, eviction, end of input) without FIN/RST */
};

/*
 * One reassembled connection, as the consumer sees it. `app` is the
 * consumer's own per-connection state (NULL at first; the consumer frees it
 * at NS_TCP close of both directions or in on_conn_end).
 */
struct ns_tcp_conn {
    const struct ns_flow *flow; /* valid during callbacks only */
    void *app;
    uint64_t delivered[2]; /* bytes delivered per direction (0 = fwd, from the flow's src) */
    uint64_t gap_bytes[2]; /* bytes reported missing per direction */
    uint32_t gaps[2];      /* gap events per direction */
    uint32_t segments[2];  /* segments with payload seen per direction */
    bool syn_seen[2];
    bool closed[2];
    bool ignore[2];          /* set by the consumer: stop following this direction (see above) */
    uint8_t close_reason[2]; /* enum ns_tcp_close, once closed */
    uint64_t first_ns;
    uint64_t last_ns;
};

/* In-order bytes of direction `dir`; the view is valid until the callback returns. */
typedef void ns_tcp_data_fn(void *ud, struct ns_tcp_conn *c, int dir, const uint8_t *data,
                            size_t len, uint64_t ts_ns);
/* `len` bytes of direction `dir` were never seen and are skipped. */
typedef void ns_tcp_gap_fn(void *ud, struct ns_tcp_conn *c, int dir, uint64_t len, uint64_t ts_ns);
/* Direction `dir` is closed; no more data will come for it. */
typedef void ns_tcp_close_fn(void *ud, struct ns_tcp_conn *c, int dir, enum ns_tcp_close why,
                             uint64_t ts_ns);
/* The connection's state is about to be freed (after both directions closed). */
typedef void ns_tcp_conn_end_fn(void *ud, struct ns_tcp_conn *c);

/*
 * Reassembler options. (Named ns_tcp_reasm_opts because decode.h already
 * has struct ns_tcp_opts for the decoded TCP header options.)
 */
struct ns_tcp_reasm_opts {
    size_t max_ooo_per_dir; /* 0 means 1 MiB */
    size_t max_ooo_total;   /* 0 means 64 MiB */
    ns_tcp_data_fn *on_data;
    ns_tcp_gap_fn *on_gap;
    ns_tcp_close_fn *on_close;
    ns_tcp_conn_end_fn *on_conn_end;
    void *ud;
};

struct ns_tcp_stats {
    uint64_t conns;             /* connections followed */
    uint64_t segments;          /* segments with payload */
    uint64_t bytes;             /* bytes delivered */
    uint64_t retransmitted;     /* segments (or parts) already delivered, dropped */
    uint64_t overlaps;          /* segments overlapping held or delivered bytes */
    uint64_t overlap_conflicts; /* ... whose overlapping bytes differed */
    uint64_t ooo_segments;      /* segments held out of order */
    uint64_t gaps;              /* gap events */
    uint64_t gap_bytes;         /* bytes reported missing */
    uint64_t cap_per_dir;       /* gaps forced by max_ooo_per_dir */
    uint64_t cap_total;         /* gaps forced by max_ooo_total */
    uint64_t midstream;         /* directions picked up without a SYN */
    uint64_t ooo_bytes_max;     /* most bytes held at once */
    uint64_t seq_jumps;         /* segments (or FIN/RST) more than 1 GiB ahead: dropped */
    uint64_t after_close;       /* segments with payload for a closed direction: dropped */
    uint64_t no_memory;         /* segments lost because an allocation failed */
    uint64_t ignored;           /* segments with payload of ignored directions: skipped */
};

struct ns_tcp;

int ns_tcp_new(struct ns_tcp **out, const struct ns_tcp_reasm_opts *opts);

/* Frees every connection left (without callbacks: call ns_tcp_flow_end first). */
void ns_tcp_free(struct ns_tcp *t);

/*
 * Feed one TCP packet p (NS_PKT_F_HAS_L4, proto TCP) of `flow` in direction
 * `dir` (as ns_flow_table_update gave them). The connection state lives in
 * flow->user, which the reassembler owns for TCP flows. Returns 0 or
 * NS_ENOMEM (the segment is then counted and treated as lost).
 */
int ns_tcp_segment(struct ns_tcp *t, struct ns_flow *flow, int dir, const struct ns_packet *p);

/*
 * The flow ended: deliver what is held (gaps reported), close both
 * directions with NS_TCP_CLOSE_END if still open, call on_conn_end, free the
 * state and clear flow->user.
 */
void ns_tcp_flow_end(struct ns_tcp *t, struct ns_flow *flow);

const struct ns_tcp_stats *ns_tcp_stats(const struct ns_tcp *t);

/* Bytes held out of order right now, over all connections. */
size_t ns_tcp_held_bytes(const struct ns_tcp *t);

#endif
