/*
 * pool.h - blocks of one size, carved from large chunks and kept for reuse,
 * for objects made and dropped at a high rate (one per TCP connection, say).
 *
 * Blocks come from chunks of 64 KiB that double up to 2 MiB (ns_big_alloc:
 * huge pages where the kernel offers them), so that a hundred thousand live
 * connections take a few page faults instead of thousands, and malloc's
 * per-block header and search are skipped. A block given back waits on a
 * free list and is handed out again; chunks go back only with
 * ns_pool_release. So the memory held is that of the most blocks ever out
 * at once (rounded up to a chunk): the caller bounds it by bounding its
 * objects (the flow table's cap, for connection states).
 * Not thread-safe: one pool per thread or per owner.
 *
 * Under AddressSanitizer, blocks not handed out (waiting, or not carved
 * yet) are poisoned but for the link in a waiting block's first bytes, so a
 * use after ns_pool_put, or past the end of a block into one not in use, is
 * still reported.
 */
#ifndef NETSIFT_POOL_H
#define NETSIFT_POOL_H

#include <stddef.h>
#include <stdint.h>

struct ns_pool {
    size_t size;    /* of a block: the caller's size rounded up to 16 bytes */
    size_t chunk;   /* bytes of the next chunk */
    void *chunks;   /* chunks, linked through their headers */
    uint8_t *carve; /* blocks of the newest chunk not handed out yet */
    size_t ncarve;
    void *free; /* blocks given back, linked through their first bytes */
};

/* An empty pool of `size`-byte blocks (size > 0). */
void ns_pool_init(struct ns_pool *p, size_t size);
/* Give every chunk back (blocks still out become invalid). */
void ns_pool_release(struct ns_pool *p);

/* A zero-filled block, or NULL when out of memory. */
void *ns_pool_get(struct ns_pool *p);
/* Give block b (from this pool; NULL is ignored) back. */
void ns_pool_put(struct ns_pool *p, void *b);

#endif
