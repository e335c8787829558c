/*
 * ilist.c - index-linked intrusive list over a slab (ilist.h).
 */
#include "netsift/ilist.h"

static struct ns_ilink *link_at(void *slab, size_t size, size_t off, uint32_t ix)
{
    return (struct ns_ilink *)(void *)((char *)slab + (size_t)ix * size + off);
}

void ns_ilist_init(struct ns_ilist *l)
{
    l->head = NS_ILIST_NONE;
    l->tail = NS_ILIST_NONE;
}

void ns_ilist_push_head(struct ns_ilist *l, void *slab, size_t size, size_t off, uint32_t ix)
{
    struct ns_ilink *x = link_at(slab, size, off, ix);
    x->prev = NS_ILIST_NONE;
    x->next = l->head;
    if (l->head != NS_ILIST_NONE) {
        link_at(slab, size, off, l->head)->prev = ix;
    }
    l->head = ix;
    if (l->tail == NS_ILIST_NONE) {
        l->tail = ix;
    }
}

void ns_ilist_unlink(struct ns_ilist *l, void *slab, size_t size, size_t off, uint32_t ix)
{
    struct ns_ilink *x = link_at(slab, size, off, ix);
    if (x->prev != NS_ILIST_NONE) {
        link_at(slab, size, off, x->prev)->next = x->next;
    } else {
        l->head = x->next;
    }
    if (x->next != NS_ILIST_NONE) {
        link_at(slab, size, off, x->next)->prev = x->prev;
    } else {
        l->tail = x->prev;
    }
    x->prev = NS_ILIST_NONE;
    x->next = NS_ILIST_NONE;
}
