/*
 * proto_inflate.c - streaming gzip / deflate decompression for the stream
 * parsers (zlib). Specs: RFC 1950 (zlib format), RFC 1951 (deflate), RFC
 * 1952 (gzip), RFC 9110 section 8.4.1 (content codings).
 *
 * "deflate" on the web is sometimes raw RFC 1951 data instead of the zlib
 * wrapper the RFC asks for, so the first two bytes decide:
 *
 *    0   1
 *   +---+---+
 *   |CMF|FLG|   zlib: CM (low nibble of CMF) = 8, CINFO (high nibble) <= 7,
 *   +---+---+         (CMF * 256 + FLG) % 31 == 0; anything else is raw
 *
 * The decision waits for both bytes whatever the chunking, so the output
 * never depends on how the input was split. gzip uses windowBits 15 + 32
 * (zlib's automatic gzip / zlib header detection).
 *
 * zlib allocates through inflate_zalloc, which puts a small header holding
 * the size in front of each block so that inflate_zfree can subtract it:
 * ns__inflate_mem() is then exact. The z_stream's opaque pointer is the
 * struct ns__inflate itself, so that struct must not move while zlib state
 * exists (the HTTP parser allocates it on the heap).
 */
#include "proto_http_int.h"

#include <string.h>

#include "netsift/alloc.h"
#include "netsift/err.h"

/* Size header in front of each zlib block, aligned for any object. */
union inflate_blk {
    max_align_t align;
    size_t size;
};

static voidpf inflate_zalloc(voidpf opaque, uInt items, uInt size)
{
    struct ns__inflate *z = opaque;
    if (size != 0 && items > (SIZE_MAX - sizeof(union inflate_blk)) / size) {
        return Z_NULL;
    }
    size_t n = (size_t)items * size;
    union inflate_blk *b = ns_malloc(sizeof(*b) + n);
    if (b == NULL) {
        return Z_NULL;
    }
    b->size = n;
    z->zbytes += sizeof(*b) + n;
    return b + 1;
}

static void inflate_zfree(voidpf opaque, voidpf ptr)
{
    struct ns__inflate *z = opaque;
    if (ptr == NULL) {
        return;
    }
    union inflate_blk *b = (union inflate_blk *)ptr - 1;
    z->zbytes -= sizeof(*b) + b->size;
    ns_free(b);
}

void ns__inflate_init(struct ns__inflate *z)
{
    memset(z, 0, sizeof(*z));
}

int ns__inflate_begin(struct ns__inflate *z, enum ns__inflate_kind kind)
{
    if (z->out == NULL) {
        z->out = ns_malloc(NS__INFLATE_OUT);
        if (z->out == NULL) {
            return NS_ENOMEM;
        }
    }
    int bits = kind == NS__INFLATE_GZIP ? 15 + 32 : 15;
    if (!z->ready) {
        memset(&z->zs, 0, sizeof(z->zs));
        z->zs.zalloc = inflate_zalloc;
        z->zs.zfree = inflate_zfree;
        z->zs.opaque = z;
        if (inflateInit2(&z->zs, bits) != Z_OK) {
            return NS_ENOMEM;
        }
        z->ready = true;
    } else if (inflateReset2(&z->zs, bits) != Z_OK) {
        return NS_ENOMEM;
    }
    z->kind = (uint8_t)kind;
    z->decided = kind == NS__INFLATE_GZIP;
    z->done = false;
    z->failed = false;
    z->nhold = 0;
    z->in_seen = 0;
    return 0;
}

static bool inflate_is_zlib_header(uint8_t cmf, uint8_t flg)
{
    return (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && ((unsigned)cmf * 256u + flg) % 31u == 0;
}

/* Run inflate over (in, len); the stream's wrapper is already decided. */
static int inflate_run(struct ns__inflate *z, const uint8_t *in, size_t len,
                       ns__inflate_sink_fn sink, void *ud)
{
    while (len > 0 && !z->done && !z->failed) {
        /* zlib counts input in uInt: feed at most 1 GiB per round */
        uInt take = len > (1u << 30) ? (1u << 30) : (uInt)len;
        z->zs.next_in = (Bytef *)(uintptr_t)in;
        z->zs.avail_in = take;
        for (;;) {
            z->zs.next_out = z->out;
            z->zs.avail_out = NS__INFLATE_OUT;
            int rc = inflate(&z->zs, Z_NO_FLUSH);
            size_t produced = NS__INFLATE_OUT - z->zs.avail_out;
            if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
                z->failed = true;
                return rc == Z_MEM_ERROR ? NS_ENOMEM : NS_EMALFORMED;
            }
            if (produced > 0 && sink(ud, z->out, produced)) {
                z->done = true; /* the consumer wants no more */
                return 0;
            }
            if (rc == Z_STREAM_END) {
                z->done = true;
                break;
            }
            if (z->zs.avail_in == 0 && z->zs.avail_out != 0) {
                break; /* all input used and no output pending */
            }
            if (rc == Z_BUF_ERROR && produced == 0) {
                break; /* no progress possible (cannot happen with input left) */
            }
        }
        in += take;
        len -= take;
    }
    z->zs.next_in = Z_NULL;
    z->zs.avail_in = 0;
    return 0;
}

int ns__inflate_feed(struct ns__inflate *z, const uint8_t *in, size_t len, ns__inflate_sink_fn sink,
                     void *ud)
{
    if (!z->ready || z->done || z->failed || len == 0) {
        return 0;
    }
    z->in_seen += len;
    if (!z->decided) {
        while (z->nhold < 2 && len > 0) {
            z->hold[z->nhold++] = *in++;
            len--;
        }
        if (z->nhold < 2) {
            return 0;
        }
        int bits = inflate_is_zlib_header(z->hold[0], z->hold[1]) ? 15 : -15;
        if (inflateReset2(&z->zs, bits) != Z_OK) {
            z->failed = true;
            return NS_EMALFORMED;
        }
        z->decided = true;
        uint8_t held[2] = {z->hold[0], z->hold[1]};
        int rc = inflate_run(z, held, 2, sink, ud);
        if (rc != 0) {
            return rc;
        }
    }
    return inflate_run(z, in, len, sink, ud);
}

size_t ns__inflate_mem(const struct ns__inflate *z)
{
    return (z->out != NULL ? NS__INFLATE_OUT : 0) + z->zbytes;
}

void ns__inflate_release(struct ns__inflate *z)
{
    if (z->ready) {
        inflateEnd(&z->zs);
    }
    ns_free(z->out);
    memset(z, 0, sizeof(*z));
}
