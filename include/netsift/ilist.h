/*
 * ilist.h - an intrusive doubly linked list over the elements of a slab
 * (an array), linked by 32-bit indices instead of pointers, so that the
 * slab may be reallocated and a link costs 8 bytes. Used for the LRU orders
 * of the bounded tables (hosts, scan trackers).
 *
 * An element embeds a `struct ns_ilink`; the list functions reach it
 * through the slab, the element size and the member's offset, which the
 * NS_ILIST_* macros derive from the slab pointer and the member name:
 *
 *   NS_ILIST_PUSH_HEAD(&t->lru, t->slab, ix, lru);
 *   NS_ILIST_UNLINK(&t->lru, t->slab, ix, lru);
 */
#ifndef NETSIFT_ILIST_H
#define NETSIFT_ILIST_H

#include <stddef.h>
#include <stdint.h>

#define NS_ILIST_NONE UINT32_MAX

struct ns_ilink {
    uint32_t prev;
    uint32_t next;
};

struct ns_ilist {
    uint32_t head; /* most recently pushed */
    uint32_t tail;
};

void ns_ilist_init(struct ns_ilist *l);

/* Put element ix (not on the list) at the head. */
void ns_ilist_push_head(struct ns_ilist *l, void *slab, size_t size, size_t off, uint32_t ix);

/* Take element ix (on the list) off it; its links become NS_ILIST_NONE. */
void ns_ilist_unlink(struct ns_ilist *l, void *slab, size_t size, size_t off, uint32_t ix);

#define NS_ILIST_OFF(slab, member) ((size_t)((char *)&(slab)[0].member - (char *)(slab)))
#define NS_ILIST_PUSH_HEAD(l, slab, ix, member)                                                    \
    ns_ilist_push_head((l), (slab), sizeof(*(slab)), NS_ILIST_OFF(slab, member), (ix))
#define NS_ILIST_UNLINK(l, slab, ix, member)                                                       \
    ns_ilist_unlink((l), (slab), sizeof(*(slab)), NS_ILIST_OFF(slab, member), (ix))

#endif
