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

/*
 * Large tables (slabs, hash indices, rings): zero-filled memory that the
 * kernel may back with transparent huge pages. A page fault costs
 * microseconds (over ten on some virtual machines); a 2 MiB page takes one
 * where 4 KiB pages take 512, and the TLB covers it with one entry. From
 * NS_BIG_MIN bytes on, the block is an anonymous mapping of its own, aligned
 * to 2 MiB, rounded up to whole 2 MiB pages and marked MADV_HUGEPAGE (the
 * kernel's "madvise" setting honours it; "never" leaves 4 KiB pages); its
 * pages are only backed once touched.
 * Smaller blocks, and every block in builds with AddressSanitizer (which
 * checks heap bounds, not mappings), come from ns_calloc.
 *
 * ns_big_free and ns_big_realloc take the size the block was allocated with.
 * ns_big_realloc keeps the first min(old_size, new_size) bytes and zeroes the
 * rest; on failure it returns NULL and p is untouched. Every new block
 * counts as an allocation for ns_alloc_fail_at; sizes over SIZE_MAX / 2 fail.
 */
#define NS_BIG_MIN ((size_t)1 << 20)
void *ns_big_alloc(size_t size);
void *ns_big_realloc(void *p, size_t old_size, size_t new_size);
void ns_big_free(void *p, size_t size);

/* Test hook: fail the n-th allocation from now (1 = the next one); 0 disables. */
void ns_alloc_fail_at(uint64_t n);
/* Number of allocations made so far (for tests that fail each one in turn). */
uint64_t ns_alloc_count(void);

#endif
