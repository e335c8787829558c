/*
 * alloc.c - failable, countable allocation (alloc.h).
 */
#include "netsift/alloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* AddressSanitizer checks heap blocks only: give it the big blocks too. */
#if defined(__SANITIZE_ADDRESS__)
#define NS_BIG_MAPPED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define NS_BIG_MAPPED 0
#endif
#endif
#ifndef NS_BIG_MAPPED
#define NS_BIG_MAPPED 1
#endif

#define NS_BIG_ALIGN ((size_t)2 << 20) /* the x86-64 and arm64 (4 KiB base) huge page */

static _Atomic uint64_t ns_alloc_calls;
static _Atomic uint64_t ns_alloc_fail_target;

static int ns_alloc_should_fail(void)
{
    uint64_t n = atomic_fetch_add(&ns_alloc_calls, 1) + 1;
    uint64_t t = atomic_load(&ns_alloc_fail_target);
    return t != 0 && n == t;
}

void ns_alloc_fail_at(uint64_t n)
{
    atomic_store(&ns_alloc_fail_target, n == 0 ? 0 : atomic_load(&ns_alloc_calls) + n);
}

uint64_t ns_alloc_count(void)
{
    return atomic_load(&ns_alloc_calls);
}

void *ns_malloc(size_t size)
{
    if (ns_alloc_should_fail()) {
        return NULL;
    }
    return malloc(size == 0 ? 1 : size);
}

void *ns_calloc(size_t n, size_t size)
{
    if (ns_alloc_should_fail()) {
        return NULL;
    }
    if (n == 0 || size == 0) {
        return calloc(1, 1);
    }
    return calloc(n, size); /* calloc checks n * size itself */
}

void *ns_reallocarray(void *p, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        return NULL;
    }
    if (ns_alloc_should_fail()) {
        return NULL;
    }
    size_t total = n * size;
    return realloc(p, total == 0 ? 1 : total);
}

void ns_free(void *p)
{
    free(p);
}

char *ns_strndup(const char *s, size_t len)
{
    if (len == SIZE_MAX) {
        return NULL;
    }
    char *d = ns_malloc(len + 1);
    if (d == NULL) {
        return NULL;
    }
    if (len > 0) {
        memcpy(d, s, len);
    }
    d[len] = '\0';
    return d;
}

char *ns_strdup(const char *s)
{
    return ns_strndup(s, strlen(s));
}

static bool ns_big_mapped(size_t size)
{
    return NS_BIG_MAPPED && size >= NS_BIG_MIN;
}

/* The mapped length of a big block: whole huge pages. */
static size_t ns_big_len(size_t size)
{
    return (size + NS_BIG_ALIGN - 1) & ~(NS_BIG_ALIGN - 1);
}

void *ns_big_alloc(size_t size)
{
    if (size > SIZE_MAX / 2) {
        return NULL; /* no table is that big, and the rounding below must not wrap */
    }
    if (!ns_big_mapped(size)) {
        return ns_calloc(1, size);
    }
    if (ns_alloc_should_fail()) {
        return NULL;
    }
    size_t len = ns_big_len(size);
    /* one huge page more than needed, then the unaligned head and tail go back */
    size_t span = len + NS_BIG_ALIGN;
    uint8_t *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        return NULL;
    }
    uintptr_t at = ((uintptr_t)m + NS_BIG_ALIGN - 1) & ~(uintptr_t)(NS_BIG_ALIGN - 1);
    size_t head = at - (uintptr_t)m;
    if (head > 0) {
        (void)munmap(m, head);
    }
    if (span - head - len > 0) {
        (void)munmap(m + head + len, span - head - len);
    }
    /* a hint: without transparent huge pages the block simply has small ones */
    (void)madvise(m + head, len, MADV_HUGEPAGE);
    return m + head;
}

void ns_big_free(void *p, size_t size)
{
    if (p == NULL) {
        return;
    }
    if (!ns_big_mapped(size)) {
        ns_free(p);
        return;
    }
    (void)munmap(p, ns_big_len(size));
}

void *ns_big_realloc(void *p, size_t old_size, size_t new_size)
{
    if (p == NULL) {
        return ns_big_alloc(new_size);
    }
    if (!ns_big_mapped(old_size) && !ns_big_mapped(new_size)) {
        uint8_t *n = ns_reallocarray(p, new_size, 1);
        if (n != NULL && new_size > old_size) {
            memset(n + old_size, 0, new_size - old_size);
        }
        return n;
    }
    if (ns_big_mapped(old_size) && ns_big_mapped(new_size) &&
        ns_big_len(old_size) == ns_big_len(new_size)) {
        /* the same mapping: only the bytes between the sizes change */
        if (new_size < old_size) {
            memset((uint8_t *)p + new_size, 0, old_size - new_size);
        }
        return p;
    }
    void *n = ns_big_alloc(new_size);
    if (n == NULL) {
        return NULL;
    }
    memcpy(n, p, old_size < new_size ? old_size : new_size);
    ns_big_free(p, old_size);
    return n;
}
