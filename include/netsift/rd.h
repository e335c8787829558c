/*
 * rd.h - the bounds-checked byte reader (STYLE.md B5).
 *
 * Every read of untrusted bytes (packets, files, stream payloads) goes
 * through a struct ns_rd. A reader is a window [base, base + len) with a
 * cursor; it never owns the bytes.
 *
 *   - Every read compares the wanted size with `len - pos`; `pos + n` is never
 *     formed, so no pointer or size can overflow.
 *   - A short read sets the sticky status NS_RD_TRUNC, leaves the cursor
 *     where it was and returns 0 (or NULL). Every later read is a no-op, so a
 *     decoder reads a whole header and checks ns_rd_ok() once.
 *   - ns_rd_invalid() records a bad value (a header length below its minimum)
 *     with a caller-defined reason code; it is sticky too and wins over TRUNC.
 *   - Multi-byte values are assembled from bytes in an explicit order; packet
 *     memory is never cast to a struct or an aligned integer.
 *   - ns_rd_sub() opens a child window for a length read from the wire.
 *
 * `off` is the absolute offset of `base` in the enclosing object (a packet,
 * a file), so that messages can say where something went wrong:
 * ns_rd_offset() is off + pos.
 */
#ifndef NETSIFT_RD_H
#define NETSIFT_RD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ns_rd_status {
    NS_RD_OK = 0,
    NS_RD_TRUNC = 1,
    NS_RD_INVALID = 2,
};

struct ns_rd {
    const uint8_t *base;
    size_t len;
    size_t pos;
    uint64_t off;
    uint8_t status;  /* enum ns_rd_status */
    uint16_t reason; /* caller's reason code when INVALID (or TRUNC, if set) */
};

static inline void ns_rd_init(struct ns_rd *r, const uint8_t *p, size_t len, uint64_t off)
{
    r->base = p;
    r->len = p != NULL ? len : 0;
    r->pos = 0;
    r->off = off;
    r->status = NS_RD_OK;
    r->reason = 0;
}

static inline bool ns_rd_ok(const struct ns_rd *r)
{
    return r->status == NS_RD_OK;
}

/* Bytes left after the cursor (0 once the reader failed). */
static inline size_t ns_rd_left(const struct ns_rd *r)
{
    return r->status == NS_RD_OK ? r->len - r->pos : 0;
}

/* Absolute offset of the cursor, for messages. */
static inline uint64_t ns_rd_offset(const struct ns_rd *r)
{
    return r->off + r->pos;
}

/* Pointer to the cursor, for handing a verified view on (never NULL-checked reads). */
static inline const uint8_t *ns_rd_cur(const struct ns_rd *r)
{
    return r->base + r->pos;
}

/* Mark the reader truncated (sticky; INVALID is kept if already set). */
static inline void ns_rd_trunc(struct ns_rd *r)
{
    if (r->status == NS_RD_OK) {
        r->status = NS_RD_TRUNC;
    }
}

/* Mark a bad value with a reason code of the caller's stage (sticky, wins over TRUNC). */
static inline void ns_rd_invalid(struct ns_rd *r, uint16_t reason)
{
    if (r->status != NS_RD_INVALID) {
        r->status = NS_RD_INVALID;
        r->reason = reason;
    }
}

/* True if n more bytes can be read; sets TRUNC otherwise. */
static inline bool ns_rd_need(struct ns_rd *r, size_t n)
{
    if (r->status != NS_RD_OK) {
        return false;
    }
    if (n > r->len - r->pos) {
        r->status = NS_RD_TRUNC;
        return false;
    }
    return true;
}

static inline uint8_t ns_rd_u8(struct ns_rd *r)
{
    if (!ns_rd_need(r, 1)) {
        return 0;
    }
    return r->base[r->pos++];
}

static inline uint16_t ns_rd_be16(struct ns_rd *r)
{
    if (!ns_rd_need(r, 2)) {
        return 0;
    }
    const uint8_t *p = r->base + r->pos;
    r->pos += 2;
    return (uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}

static inline uint32_t ns_rd_be24(struct ns_rd *r)
{
    if (!ns_rd_need(r, 3)) {
        return 0;
    }
    const uint8_t *p = r->base + r->pos;
    r->pos += 3;
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | (uint32_t)p[2];
}

static inline uint32_t ns_rd_be32(struct ns_rd *r)
{
    if (!ns_rd_need(r, 4)) {
        return 0;
    }
    const uint8_t *p = r->base + r->pos;
    r->pos += 4;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t ns_rd_be64(struct ns_rd *r)
{
    uint64_t hi = ns_rd_be32(r);
    uint64_t lo = ns_rd_be32(r);
    return ns_rd_ok(r) ? hi << 32 | lo : 0;
}

static inline uint16_t ns_rd_le16(struct ns_rd *r)
{
    if (!ns_rd_need(r, 2)) {
        return 0;
    }
    const uint8_t *p = r->base + r->pos;
    r->pos += 2;
    return (uint16_t)((unsigned)p[1] << 8 | (unsigned)p[0]);
}

static inline uint32_t ns_rd_le32(struct ns_rd *r)
{
    if (!ns_rd_need(r, 4)) {
        return 0;
    }
    const uint8_t *p = r->base + r->pos;
    r->pos += 4;
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | (uint32_t)p[0];
}

static inline uint64_t ns_rd_le64(struct ns_rd *r)
{
    uint64_t lo = ns_rd_le32(r);
    uint64_t hi = ns_rd_le32(r);
    return ns_rd_ok(r) ? hi << 32 | lo : 0;
}

/* Advance by n bytes; false (and TRUNC) if fewer are left. */
static inline bool ns_rd_skip(struct ns_rd *r, size_t n)
{
    if (!ns_rd_need(r, n)) {
        return false;
    }
    r->pos += n;
    return true;
}

/*
 * View of the next n bytes, advancing past them; NULL (and TRUNC) if fewer are
 * left. The view is valid as long as the bytes behind the reader are.
 */
static inline const uint8_t *ns_rd_bytes(struct ns_rd *r, size_t n)
{
    if (!ns_rd_need(r, n)) {
        return NULL;
    }
    const uint8_t *p = r->base + r->pos;
    r->pos += n;
    return p;
}

/* Copy the next n bytes into dst; false (and TRUNC, dst untouched) if fewer are left. */
bool ns_rd_copy(struct ns_rd *r, void *dst, size_t n);

/*
 * Child reader over the next n bytes (a length read from the wire): the parent
 * advances past them. If fewer than n bytes are left the parent becomes TRUNC
 * and the child is an empty reader that is TRUNC too.
 */
static inline struct ns_rd ns_rd_sub(struct ns_rd *r, size_t n)
{
    struct ns_rd c;
    if (!ns_rd_need(r, n)) {
        ns_rd_init(&c, NULL, 0, ns_rd_offset(r));
        c.status = NS_RD_TRUNC;
        return c;
    }
    ns_rd_init(&c, r->base + r->pos, n, ns_rd_offset(r));
    r->pos += n;
    return c;
}

/* Child reader over everything left (the parent is left at its end). */
static inline struct ns_rd ns_rd_rest(struct ns_rd *r)
{
    return ns_rd_sub(r, ns_rd_left(r));
}

#endif
