/*
 * spsc.h - a bounded queue of variable-size records from one producer
 * thread to one consumer thread.
 *
 * Records live in one ring of bytes, are never split at its end and come out
 * in the order they went in. The producer reserves room for a record, fills
 * it and commits it; committed records become visible to the consumer in
 * batches (ns_spsc_publish, or by themselves every `batch` bytes), so the
 * two threads seldom touch the same cache lines. Either side sleeps on a
 * condition variable only when it has to: the producer when the ring is
 * full, the consumer when it is empty.
 *
 * Memory is bounded by the ring: a full ring makes the producer wait (the
 * backpressure that keeps a fast reader from running away from a slow
 * consumer).
 */
#ifndef NETSIFT_SPSC_H
#define NETSIFT_SPSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ns_spsc;

/*
 * A queue of `cap` bytes (rounded up to a multiple of 64; at least 4 KiB)
 * whose records are published at least every `batch` bytes (0: cap / 16).
 * Returns 0, NS_EINVAL, NS_ENOMEM.
 */
int ns_spsc_new(struct ns_spsc **out, size_t cap, size_t batch);
void ns_spsc_free(struct ns_spsc *q);

/* The largest record the queue takes (a quarter of the ring, less its header). */
size_t ns_spsc_max_record(const struct ns_spsc *q);

/*
 * Producer: room for a record of `len` bytes (<= ns_spsc_max_record),
 * 8-byte aligned, waiting while the ring is full. Returns NULL for a record
 * too big. The record is not queued until ns_spsc_commit.
 */
void *ns_spsc_reserve(struct ns_spsc *q, size_t len);
/* Producer: queue the record reserved last. */
void ns_spsc_commit(struct ns_spsc *q);
/* Producer: make every committed record visible to the consumer now. */
void ns_spsc_publish(struct ns_spsc *q);
/* Producer: publish, then wait until the consumer has finished every record. */
void ns_spsc_wait_empty(struct ns_spsc *q);
/* Producer: no more records; the consumer gets NULL once it has taken the rest. */
void ns_spsc_close(struct ns_spsc *q);

/*
 * Consumer: the next record and its length, waiting for one; NULL once the
 * queue is closed and empty. The record stays valid until ns_spsc_release.
 */
const void *ns_spsc_next(struct ns_spsc *q, size_t *len);
/* Consumer: whether a record is there to take now (ns_spsc_next would not wait). */
bool ns_spsc_pending(struct ns_spsc *q);
/* Consumer: done with the record ns_spsc_next returned; its room goes back. */
void ns_spsc_release(struct ns_spsc *q);

struct ns_spsc_stats {
    uint64_t records;
    uint64_t bytes;          /* record bytes, headers and padding included */
    uint64_t producer_waits; /* times the producer found the ring full and slept */
    uint64_t consumer_waits; /* times the consumer found it empty and slept */
};
/* Counters (read them once both threads are done, or from the producer for records / bytes). */
void ns_spsc_get_stats(const struct ns_spsc *q, struct ns_spsc_stats *st);

#endif
