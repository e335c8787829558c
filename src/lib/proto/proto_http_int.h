/*
 * proto_http_int.h - internals shared inside the proto stage: a small zlib
 * wrapper for streaming decompression of HTTP content codings (RFC 9110
 * section 8.4.1: gzip = RFC 1952, deflate = RFC 1950 zlib-wrapped RFC 1951;
 * raw RFC 1951 is accepted for "deflate" too, as browsers do).
 *
 * One struct ns__inflate serves one or more streams in turn: its zlib state
 * (about 7 KiB, plus a 32 KiB window zlib adds at the first output) and its
 * 16 KiB output buffer are allocated at the first ns__inflate_begin(), all
 * through the failable allocator, and given back by ns__inflate_release().
 * The HTTP parser releases them at the end of each coded message, so an idle
 * connection holds none of it. ns__inflate_mem() tells how many bytes are
 * held (zlib's own allocations are counted through its zalloc hook).
 */
#ifndef NETSIFT_PROTO_HTTP_INT_H
#define NETSIFT_PROTO_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#define NS__INFLATE_OUT 16384u

enum ns__inflate_kind {
    NS__INFLATE_GZIP = 1, /* gzip member (a zlib stream is accepted too) */
    NS__INFLATE_DEFLATE =
        2, /* zlib-wrapped deflate, else raw deflate (told by the first 2 bytes) */
};

struct ns__inflate {
    z_stream zs;
    uint8_t *out;    /* NS__INFLATE_OUT bytes */
    bool ready;      /* inflateInit2 succeeded */
    bool decided;    /* the wrapper of the current stream is known */
    bool done;       /* the current stream reached its end; later input is ignored */
    bool failed;     /* the current stream is broken; later input is ignored */
    uint8_t kind;    /* enum ns__inflate_kind */
    uint8_t hold[2]; /* first bytes of a "deflate" stream, until the wrapper is known */
    uint8_t nhold;
    uint64_t in_seen; /* input bytes of the current stream */
    size_t zbytes;    /* bytes zlib holds through inflate_zalloc (headers included) */
};

/* Called per piece of output; return true to stop inflating this stream. */
typedef bool (*ns__inflate_sink_fn)(void *ud, const uint8_t *data, size_t len);

void ns__inflate_init(struct ns__inflate *z);

/* Start a new stream of `kind`. Returns 0 or NS_ENOMEM. */
int ns__inflate_begin(struct ns__inflate *z, enum ns__inflate_kind kind);

/*
 * Inflate `len` more input bytes, handing output to `sink` in pieces of at
 * most NS__INFLATE_OUT bytes. Returns 0 (input consumed or ignored after the
 * end / a stop), NS_EMALFORMED when the data is not a valid stream, or
 * NS_ENOMEM when zlib could not allocate its window (the stream is then
 * marked failed either way). A stop requested by the sink returns 0.
 */
int ns__inflate_feed(struct ns__inflate *z, const uint8_t *in, size_t len, ns__inflate_sink_fn sink,
                     void *ud);

/* Bytes held: the output buffer and zlib's allocations (not the struct itself). */
size_t ns__inflate_mem(const struct ns__inflate *z);

/* Give back everything; the struct is as after ns__inflate_init(). */
void ns__inflate_release(struct ns__inflate *z);

#endif
