/*
 * defrag.h - IPv4 (RFC 791) and IPv6 (RFC 8200 section 4.5) fragment reassembly.
 *
 * Fragments are keyed on (IP version, source, destination, protocol,
 * identification, outermost VLAN). A datagram is complete when the fragment
 * with offset 0 and the last fragment (MF clear) are present and the bytes in
 * between are covered.
 *
 * Overlap policy ("first wins", as the BSD and Linux stacks do for the bytes
 * of an overlap and as RFC 5722 recommends treating conflicts): bytes already
 * held are kept, and only the new bytes of a later fragment are copied. An
 * exact duplicate (a fragment whose bytes are all held already, with the same
 * values) is counted and ignored. Overlapping fragments with different
 * content are counted (`overlaps_conflicting`); IPv6 datagrams with overlaps
 * are dropped when they complete, as RFC 5722 requires (counted `invalid`;
 * exact duplicates are not overlaps, RFC 8200 section 4.5), IPv4 ones are
 * kept.
 *
 * Limits: a datagram may not exceed 65535 bytes of payload; a datagram older
 * than `timeout_ns` (measured on capture time) is dropped; all buffered
 * bytes together stay under `max_bytes` and all datagrams under
 * `max_datagrams`: at the cap the oldest datagram is evicted and counted.
 */
#ifndef NETSIFT_DEFRAG_H
#define NETSIFT_DEFRAG_H

#include <stddef.h>
#include <stdint.h>

#include "netsift/decode.h"

struct ns_defrag;

struct ns_defrag_opts {
    uint64_t timeout_ns;  /* 0 means 30 s */
    size_t max_bytes;     /* 0 means 32 MiB */
    size_t max_datagrams; /* 0 means 8192 */
};

struct ns_defrag_stats {
    uint64_t fragments;            /* fragments given */
    uint64_t reassembled;          /* datagrams completed */
    uint64_t duplicates;           /* exact duplicate fragments */
    uint64_t overlaps;             /* fragments overlapping held bytes */
    uint64_t overlaps_conflicting; /* overlaps whose bytes differ */
    uint64_t timeouts;             /* datagrams dropped after timeout_ns */
    uint64_t evicted;              /* datagrams dropped at the memory cap */
    uint64_t too_big;              /* fragments past 65535 bytes */
    uint64_t invalid;              /* inconsistent fragments (length after the last, ...) */
};

/*
 * A completed datagram. `payload` is the transport header and data of the
 * reassembled datagram, owned by the defragmenter and valid until the next
 * call on it. `frames` and `wire_bytes` count the frames (and their original
 * lengths) that carried it, so that flows count every frame: duplicates and
 * overlapping fragments included, fragments refused as invalid or too big
 * excluded. For IPv6 the payload is the fragmentable part (what follows the
 * Fragment header), without the unfragmentable part.
 */
struct ns_defrag_result {
    const uint8_t *payload;
    uint32_t len;
    uint32_t frames;
    uint64_t wire_bytes;
    uint64_t first_ts_ns;
};

int ns_defrag_new(struct ns_defrag **out, const struct ns_defrag_opts *opts);
void ns_defrag_free(struct ns_defrag *d);

/*
 * Add the fragment `p` (NS_PKT_F_FRAGMENT set by the decoder). Returns 0 with
 * `*res` filled when this fragment completes its datagram, NS_EAGAIN while it
 * waits for others, NS_EMALFORMED for an inconsistent fragment (counted),
 * NS_ELIMIT when it could not be held (counted), NS_ENOMEM when an
 * allocation failed (the fragment is not held), NS_EINVAL when `p` is not an
 * IPv4 or IPv6 fragment. The previous result's payload is released here.
 */
int ns_defrag_add(struct ns_defrag *d, const struct ns_packet *p, struct ns_defrag_result *res);

/*
 * Drop datagrams older than the timeout at capture time `now_ns` (it walks
 * them all; ns_defrag_add() itself only checks the oldest ones).
 */
void ns_defrag_expire(struct ns_defrag *d, uint64_t now_ns);

const struct ns_defrag_stats *ns_defrag_stats(const struct ns_defrag *d);

/* Bytes currently buffered (for tests and --stats). */
size_t ns_defrag_bytes(const struct ns_defrag *d);

#endif
