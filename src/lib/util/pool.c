/*
 * pool.c - blocks of one size carved from large chunks (pool.h).
 *
 *   chunk:  [header: next chunk, bytes][block][block]...[block]
 *            <--------- 16 ---------->
 */
#include "netsift/pool.h"

#include <stdbool.h>
#include <string.h>

#include "netsift/alloc.h"

#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif

#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POOL_POISON(b, n)   ASAN_POISON_MEMORY_REGION(b, n)
#define POOL_UNPOISON(b, n) ASAN_UNPOISON_MEMORY_REGION(b, n)
#else
#define POOL_POISON(b, n)   ((void)(b), (void)(n))
#define POOL_UNPOISON(b, n) ((void)(b), (void)(n))
#endif

#define POOL_ALIGN     16u
#define POOL_HDR       16u /* a chunk's header: the next chunk and the chunk's size */
#define POOL_CHUNK_MIN ((size_t)64 << 10)
#define POOL_CHUNK_MAX ((size_t)2 << 20)

struct pool_chunk {
    void *next;
    size_t bytes;
};

void ns_pool_init(struct ns_pool *p, size_t size)
{
    memset(p, 0, sizeof(*p));
    if (size < sizeof(void *)) {
        size = sizeof(void *);
    }
    p->size = (size + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
    p->chunk = POOL_CHUNK_MIN;
    while (p->chunk < POOL_HDR + p->size) {
        p->chunk *= 2; /* a block bigger than the first chunk: its own chunk size */
    }
}

void ns_pool_release(struct ns_pool *p)
{
    void *c = p->chunks;
    while (c != NULL) {
        struct pool_chunk h;
        POOL_UNPOISON(c, ((struct pool_chunk *)c)->bytes);
        memcpy(&h, c, sizeof(h));
        ns_big_free(c, h.bytes);
        c = h.next;
    }
    size_t size = p->size;
    ns_pool_init(p, size);
}

/* A new chunk to carve blocks from; false when out of memory. */
static bool pool_grow(struct ns_pool *p)
{
    uint8_t *c = ns_big_alloc(p->chunk);
    if (c == NULL) {
        return false;
    }
    struct pool_chunk h = {p->chunks, p->chunk};
    memcpy(c, &h, sizeof(h));
    p->chunks = c;
    p->carve = c + POOL_HDR;
    p->ncarve = (p->chunk - POOL_HDR) / p->size;
    POOL_POISON(p->carve, p->ncarve * p->size);
    if (p->chunk < POOL_CHUNK_MAX) {
        p->chunk *= 2;
    }
    return true;
}

void *ns_pool_get(struct ns_pool *p)
{
    uint8_t *b;
    if (p->free != NULL) {
        b = p->free;
        POOL_UNPOISON(b, p->size);
        memcpy(&p->free, b, sizeof(void *));
        memset(b, 0, p->size);
        return b;
    }
    if (p->ncarve == 0 && !pool_grow(p)) {
        return NULL;
    }
    b = p->carve; /* fresh from the chunk: zero already */
    p->carve += p->size;
    p->ncarve--;
    POOL_UNPOISON(b, p->size);
    return b;
}

void ns_pool_put(struct ns_pool *p, void *b)
{
    if (b == NULL) {
        return;
    }
    memcpy(b, &p->free, sizeof(void *));
    p->free = b;
    POOL_POISON((uint8_t *)b + sizeof(void *), p->size - sizeof(void *));
}
