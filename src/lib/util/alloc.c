/*
 * alloc.c - failable, countable allocation (alloc.h).
 */
#include "netsift/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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
