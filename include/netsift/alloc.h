/*
 * alloc.h - failable, countable allocation.
 *
 * Every allocation in libnetsift goes through these wrappers (a grep in CI bans
 * raw malloc elsewhere). They check size multiplications for overflow and
 * return NULL instead of aborting, so callers map NULL to NS_ENOMEM.
 *
 * For tests, ns_alloc_fail_at(n) makes the n-th allocation from now fail (curl
 * torture, SQLite test_malloc); 0 turns it off. This counter is the one piece
 * of process-wide mutable state in the library, and it exists for tests only.
 */
#ifndef NETSIFT_ALLOC_H
#define NETSIFT_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *ns_malloc(size_t size);
void *ns_calloc(size_t n, size_t size);
/* realloc of n elements of `size` bytes; on failure the old block is kept and NULL returned. */
void *ns_reallocarray(void *p, size_t n, size_t size);
void ns_free(void *p);
/* Copy of the counted string (s, len) with a NUL appended; NULL on failure. */
char *ns_strndup(const char *s, size_t len);
char *ns_strdup(const char *s);

/* Test hook: fail the n-th allocation from now (1 = the next one); 0 disables. */
void ns_alloc_fail_at(uint64_t n);
/* Number of allocations made so far (for tests that fail each one in turn). */
uint64_t ns_alloc_count(void);

#endif
