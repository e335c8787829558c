/*
 * rd.c - out-of-line parts of the bounds-checked byte reader (rd.h).
 */
#include "netsift/rd.h"

#include <string.h>

bool ns_rd_copy(struct ns_rd *r, void *dst, size_t n)
{
    const uint8_t *p = ns_rd_bytes(r, n);
    if (p == NULL) {
        return false;
    }
    if (n > 0) {
        memcpy(dst, p, n);
    }
    return true;
}
