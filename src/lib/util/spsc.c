/*
 * spsc.c - one producer, one consumer, records in a ring of bytes (spsc.h).
 *
 * Positions are byte counts since the start (64 bits: they never wrap); a
 * position's place in the ring is pos & (cap - 1). Each record has an
 * 8-byte header (its length and whether it is padding) and is padded to 8
 * bytes. A record that would cross the end of the ring is preceded by a
 * padding record that fills the ring to its end.
 *
 *   head  last position the producer published (release)
 *   tail  last position the consumer gave back (release)
 *
 * Each side keeps its own copy of the other's counter and reads the shared
 * one only when its copy says it must wait. Sleeping uses the usual pairing:
 * the sleeper raises its flag and re-checks under the mutex; the other side
 * stores its counter, then looks at the flag and signals under the mutex.
 * Both the flag and the counter are sequentially consistent, so one of the
 * two always sees the other.
 */
#include "netsift/spsc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "netsift/alloc.h"
#include "netsift/err.h"

#define SPSC_HDR  8u
#define SPSC_DATA 0u
#define SPSC_PAD  1u

struct spsc_hdr {
    uint32_t len; /* payload bytes (a padding record: bytes after its header) */
    uint32_t kind;
};

struct ns_spsc {
    uint8_t *buf;
    size_t cap; /* a power of two */
    size_t batch;
    pthread_mutex_t mu;
    pthread_cond_t data_cv; /* the consumer waits here */
    pthread_cond_t room_cv; /* the producer waits here */

    /* shared, each on its own cache line */
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) _Atomic int cons_sleep;
    _Atomic int prod_sleep;
    _Atomic bool closed;

    /* producer only */
    _Alignas(64) uint64_t wpos;
    uint64_t pub;       /* head as last stored */
    uint64_t tail_seen; /* a copy of tail */
    size_t reserved;    /* bytes of the record reserved last */
    uint64_t records;
    uint64_t bytes;
    uint64_t prod_waits;

    /* consumer only */
    _Alignas(64) uint64_t rpos;
    uint64_t head_seen; /* a copy of head */
    uint64_t released;  /* tail as last stored */
    size_t taken;       /* bytes of the record ns_spsc_next returned */
    uint64_t cons_waits;
};

static size_t spsc_round8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

int ns_spsc_new(struct ns_spsc **out, size_t cap, size_t batch)
{
    *out = NULL;
    if (cap == 0 || cap > ((size_t)1 << 40)) {
        return NS_EINVAL;
    }
    size_t c = 4096;
    while (c < cap) {
        c *= 2;
    }
    struct ns_spsc *q = ns_calloc(1, sizeof(*q));
    if (q == NULL) {
        return NS_ENOMEM;
    }
    q->buf = ns_big_alloc(c); /* the ring is touched all round: huge pages where offered */
    if (q->buf == NULL) {
        ns_free(q);
        return NS_ENOMEM;
    }
    q->cap = c;
    q->batch = batch == 0 || batch > c / 2 ? c / 16 : batch;
    int made = 0; /* of the mutex and the two condition variables, in that order */
    if (pthread_mutex_init(&q->mu, NULL) != 0) {
        goto out;
    }
    made = 1;
    if (pthread_cond_init(&q->data_cv, NULL) != 0) {
        goto out;
    }
    made = 2;
    if (pthread_cond_init(&q->room_cv, NULL) != 0) {
        goto out;
    }
    *out = q;
    return 0;
out:
    if (made >= 2) {
        pthread_cond_destroy(&q->data_cv);
    }
    if (made >= 1) {
        pthread_mutex_destroy(&q->mu);
    }
    ns_big_free(q->buf, q->cap);
    ns_free(q);
    return NS_ENOMEM;
}

void ns_spsc_free(struct ns_spsc *q)
{
    if (q == NULL) {
        return;
    }
    pthread_cond_destroy(&q->room_cv);
    pthread_cond_destroy(&q->data_cv);
    pthread_mutex_destroy(&q->mu);
    ns_big_free(q->buf, q->cap);
    ns_free(q);
}

size_t ns_spsc_max_record(const struct ns_spsc *q)
{
    return q->cap / 4 - SPSC_HDR;
}

/* ---- producer ---- */

void ns_spsc_publish(struct ns_spsc *q)
{
    if (q->pub == q->wpos) {
        return;
    }
    q->pub = q->wpos;
    atomic_store(&q->head, q->wpos);
    if (atomic_load(&q->cons_sleep)) {
        pthread_mutex_lock(&q->mu);
        pthread_cond_signal(&q->data_cv);
        pthread_mutex_unlock(&q->mu);
    }
}

/* Wait until the consumer has given back everything before `upto` (a position). */
static void spsc_wait_tail(struct ns_spsc *q, uint64_t upto)
{
    q->tail_seen = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (q->tail_seen >= upto) {
        return;
    }
    ns_spsc_publish(q); /* what the consumer must take before it can give room back */
    pthread_mutex_lock(&q->mu);
    atomic_store(&q->prod_sleep, 1);
    while ((q->tail_seen = atomic_load(&q->tail)) < upto) {
        q->prod_waits++;
        pthread_cond_wait(&q->room_cv, &q->mu);
    }
    atomic_store(&q->prod_sleep, 0);
    pthread_mutex_unlock(&q->mu);
}

void *ns_spsc_reserve(struct ns_spsc *q, size_t len)
{
    if (len > ns_spsc_max_record(q)) {
        return NULL;
    }
    size_t rec = SPSC_HDR + spsc_round8(len);
    size_t off = (size_t)(q->wpos & (q->cap - 1));
    size_t pad = off + rec > q->cap ? q->cap - off : 0;
    if (q->wpos + pad + rec - q->tail_seen > q->cap) {
        spsc_wait_tail(q, q->wpos + pad + rec - q->cap);
    }
    if (pad > 0) {
        struct spsc_hdr h = {(uint32_t)(pad - SPSC_HDR), SPSC_PAD};
        memcpy(q->buf + off, &h, sizeof(h));
        q->wpos += pad;
        off = 0;
    }
    struct spsc_hdr h = {(uint32_t)len, SPSC_DATA};
    memcpy(q->buf + off, &h, sizeof(h));
    q->reserved = rec;
    return q->buf + off + SPSC_HDR;
}

void ns_spsc_commit(struct ns_spsc *q)
{
    q->wpos += q->reserved;
    q->bytes += q->reserved;
    q->records++;
    q->reserved = 0;
    if (q->wpos - q->pub >= q->batch) {
        ns_spsc_publish(q);
    }
}

void ns_spsc_wait_empty(struct ns_spsc *q)
{
    ns_spsc_publish(q);
    spsc_wait_tail(q, q->wpos);
}

void ns_spsc_close(struct ns_spsc *q)
{
    ns_spsc_publish(q);
    pthread_mutex_lock(&q->mu);
    atomic_store(&q->closed, true);
    pthread_cond_signal(&q->data_cv);
    pthread_mutex_unlock(&q->mu);
}

/* ---- consumer ---- */

/* Give the room of every record taken so far back to the producer. */
static void spsc_give_back(struct ns_spsc *q)
{
    q->released = q->rpos;
    atomic_store(&q->tail, q->rpos);
    if (atomic_load(&q->prod_sleep)) {
        pthread_mutex_lock(&q->mu);
        pthread_cond_signal(&q->room_cv);
        pthread_mutex_unlock(&q->mu);
    }
}

/* Wait for a published record; false once the queue is closed and empty. */
static bool spsc_wait_head(struct ns_spsc *q)
{
    q->head_seen = atomic_load_explicit(&q->head, memory_order_acquire);
    if (q->head_seen != q->rpos) {
        return true;
    }
    if (q->released != q->rpos) {
        spsc_give_back(q); /* before sleeping: a producer may be waiting for this room */
    }
    pthread_mutex_lock(&q->mu);
    atomic_store(&q->cons_sleep, 1);
    while ((q->head_seen = atomic_load(&q->head)) == q->rpos && !atomic_load(&q->closed)) {
        q->cons_waits++;
        pthread_cond_wait(&q->data_cv, &q->mu);
    }
    atomic_store(&q->cons_sleep, 0);
    pthread_mutex_unlock(&q->mu);
    /* closed is stored after the last head: a head read now is the final one */
    q->head_seen = atomic_load(&q->head);
    return q->head_seen != q->rpos;
}

const void *ns_spsc_next(struct ns_spsc *q, size_t *len)
{
    for (;;) {
        if (q->head_seen == q->rpos && !spsc_wait_head(q)) {
            *len = 0;
            return NULL;
        }
        size_t off = (size_t)(q->rpos & (q->cap - 1));
        struct spsc_hdr h;
        memcpy(&h, q->buf + off, sizeof(h));
        if (h.kind == SPSC_PAD) {
            q->rpos += SPSC_HDR + h.len;
            continue;
        }
        q->taken = SPSC_HDR + spsc_round8(h.len);
        *len = h.len;
        return q->buf + off + SPSC_HDR;
    }
}

bool ns_spsc_pending(struct ns_spsc *q)
{
    if (q->head_seen - q->rpos > q->taken) {
        return true; /* another record is already known (taken: the one being worked on) */
    }
    q->head_seen = atomic_load_explicit(&q->head, memory_order_acquire);
    return q->head_seen - q->rpos > q->taken;
}

void ns_spsc_release(struct ns_spsc *q)
{
    q->rpos += q->taken;
    q->taken = 0;
    if (q->rpos - q->released >= q->batch || q->rpos == q->head_seen) {
        spsc_give_back(q);
    }
}

void ns_spsc_get_stats(const struct ns_spsc *q, struct ns_spsc_stats *st)
{
    st->records = q->records;
    st->bytes = q->bytes;
    st->producer_waits = q->prod_waits;
    st->consumer_waits = q->cons_waits;
}
