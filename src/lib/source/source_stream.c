/*
 * source_stream.c - the byte stream under every capture input: a file
 * descriptor (a file, a pipe, standard input) or a memory block (the fuzz
 * target), plain or gzip-compressed, read by the classic pcap reader with
 * ns__stream_read and by the pcapng reader as a stdio FILE made with glibc's
 * fopencookie.
 *
 * Why a stream of our own and not fopen:
 *   - gzip (RFC 1952) is inflated here with zlib's inflate() as a stream, no
 *     temporary file; concatenated members are read one after the other as
 *     gzip(1) does.
 *   - The format is detected by its magic bytes, also on pipes and standard
 *     input, which cannot seek back: the peeked bytes are replayed.
 *   - ftell() on the FILE asks our seek function for the logical position
 *     instead of making an lseek system call (glibc does that for fopen'ed
 *     files), so the source can check record offsets cheaply.
 * The read function fills stdio's own buffer straight from read(2), so a
 * plain file costs the same system calls as fopen + setvbuf.
 *
 *   gzip member (RFC 1952 2.3):
 *   +----+----+----+-----+-----+-----+-----+-----+-----+----+=========+
 *   | 1f | 8b | CM |FLG  |      MTIME            | XFL | OS | ...     |
 *   +----+----+----+-----+-----+-----+-----+-----+-----+----+=========+
 *   ... deflate data ... | CRC32 (4) | ISIZE (4) |
 */
#include "source_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "netsift/alloc.h"

#define ZBUF_SIZE ((size_t)1 << 17)

struct ns__stream {
    int fd;
    const uint8_t *mem;
    size_t mem_len;
    size_t mem_pos;

    /* raw bytes read for the magic peek, replayed before the source */
    uint8_t raw_pre[4];
    size_t raw_pre_len;
    size_t raw_pre_pos;
    bool raw_eof;

    bool gz;
    bool z_ready; /* inflateInit2 done */
    bool z_end;   /* last member finished and no other follows */
    z_stream z;
    uint8_t *zbuf;

    /* inflated bytes read for the magic peek, replayed first */
    uint8_t out_pre[4];
    size_t out_pre_len;
    size_t out_pre_pos;

    uint64_t pos; /* logical bytes handed to stdio */
    int err;
    char errmsg[128];

    FILE *fp;
    char *iobuf;
};

static void stream_fail(struct ns__stream *st, int code, const char *what, const char *detail)
{
    if (st->err == 0) {
        st->err = code;
        snprintf(st->errmsg, sizeof(st->errmsg), "%s%s%s", what, detail != NULL ? ": " : "",
                 detail != NULL ? detail : "");
    }
}

/* Raw bytes: the replayed peek first, then the descriptor or the memory. */
static ssize_t raw_read(struct ns__stream *st, uint8_t *buf, size_t n)
{
    if (st->raw_pre_pos < st->raw_pre_len) {
        size_t k = st->raw_pre_len - st->raw_pre_pos;
        if (k > n) {
            k = n;
        }
        memcpy(buf, st->raw_pre + st->raw_pre_pos, k);
        st->raw_pre_pos += k;
        return (ssize_t)k;
    }
    if (st->raw_eof || n == 0) {
        return 0;
    }
    if (st->fd < 0) {
        size_t k = st->mem_len - st->mem_pos;
        if (k > n) {
            k = n;
        }
        if (k > 0) {
            memcpy(buf, st->mem + st->mem_pos, k);
        }
        st->mem_pos += k;
        if (k == 0) {
            st->raw_eof = true;
        }
        return (ssize_t)k;
    }
    for (;;) {
        ssize_t r = read(st->fd, buf, n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            stream_fail(st, NS_EIO, "read error", strerror(errno));
            return -1;
        }
        if (r == 0) {
            st->raw_eof = true;
        }
        return r;
    }
}

/* Read up to n raw bytes, looping over short reads; returns the count or -1. */
static ssize_t raw_read_full(struct ns__stream *st, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = raw_read(st, buf + got, n - got);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Inflate up to n bytes into buf; 0 at the end of the last member, -1 on error. */
static ssize_t gz_read(struct ns__stream *st, uint8_t *buf, size_t n)
{
    if (st->z_end || st->err != 0) {
        return st->err != 0 ? -1 : 0;
    }
    st->z.next_out = buf;
    st->z.avail_out = n > UINT32_MAX ? UINT32_MAX : (uInt)n;
    while (st->z.avail_out > 0) {
        if (st->z.avail_in == 0) {
            ssize_t r = raw_read(st, st->zbuf, ZBUF_SIZE);
            if (r < 0) {
                return -1;
            }
            if (r == 0) {
                stream_fail(st, NS_ETRUNC, "gzip: unexpected end of compressed data", NULL);
                break;
            }
            st->z.next_in = st->zbuf;
            st->z.avail_in = (uInt)r;
        }
        int zr = inflate(&st->z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            /* another member may follow (gzip -c a b > c.gz); anything else ends the data */
            if (st->z.avail_in == 0) {
                ssize_t r = raw_read(st, st->zbuf, ZBUF_SIZE);
                if (r < 0) {
                    return -1;
                }
                st->z.next_in = st->zbuf;
                st->z.avail_in = (uInt)r;
            }
            if (st->z.avail_in >= 2 && st->z.next_in[0] == 0x1f && st->z.next_in[1] == 0x8b) {
                inflateReset(&st->z);
                continue;
            }
            st->z_end = true;
            break;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            stream_fail(st, NS_EMALFORMED, "gzip",
                        st->z.msg != NULL ? st->z.msg : "corrupt compressed data");
            break;
        }
    }
    size_t got = n - st->z.avail_out;
    if (got == 0 && st->err != 0) {
        return -1;
    }
    return (ssize_t)got;
}

static ssize_t logical_read(struct ns__stream *st, uint8_t *buf, size_t n)
{
    if (st->out_pre_pos < st->out_pre_len) {
        size_t k = st->out_pre_len - st->out_pre_pos;
        if (k > n) {
            k = n;
        }
        memcpy(buf, st->out_pre + st->out_pre_pos, k);
        st->out_pre_pos += k;
        return (ssize_t)k;
    }
    return st->gz ? gz_read(st, buf, n) : raw_read(st, buf, n);
}

ssize_t ns__stream_read(struct ns__stream *st, uint8_t *buf, size_t n)
{
    ssize_t r = logical_read(st, buf, n);
    if (r > 0) {
        st->pos += (uint64_t)r;
    }
    return r;
}

static ssize_t cookie_read(void *cookie, char *buf, size_t n)
{
    ssize_t r = ns__stream_read(cookie, (uint8_t *)buf, n);
    if (r < 0) {
        errno = EIO;
    }
    return r;
}

/* Only "where am I" is supported: ftell(), never a real seek. */
static int cookie_seek(void *cookie, off64_t *off, int whence)
{
    struct ns__stream *st = cookie;
    if ((whence == SEEK_CUR && *off == 0) || (whence == SEEK_SET && (uint64_t)*off == st->pos)) {
        *off = (off64_t)st->pos;
        return 0;
    }
    errno = ESPIPE;
    return -1;
}

static int cookie_close(void *cookie)
{
    (void)cookie;
    return 0;
}

int ns__stream_open(struct ns__stream **out, int fd, const uint8_t *mem, size_t len,
                    uint8_t magic[4], size_t *nmagic, struct ns_error *err)
{
    int rc = NS_OK;
    struct ns__stream *st = ns_calloc(1, sizeof(*st));
    *out = NULL;
    *nmagic = 0;
    if (st == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return ns_error_set(err, NS_ENOMEM, "out of memory");
    }
    st->fd = fd;
    st->mem = mem;
    st->mem_len = mem != NULL ? len : 0;

    ssize_t r = raw_read_full(st, st->raw_pre, sizeof(st->raw_pre));
    if (r < 0) {
        rc = ns_error_set(err, st->err, "%s", st->errmsg);
        goto out;
    }
    st->raw_pre_len = (size_t)r;
    if (r >= 2 && st->raw_pre[0] == 0x1f && st->raw_pre[1] == 0x8b) {
        st->gz = true;
        st->zbuf = ns_malloc(ZBUF_SIZE);
        if (st->zbuf == NULL) {
            rc = ns_error_set(err, NS_ENOMEM, "out of memory");
            goto out;
        }
        /* 15 + 16: a 32 KiB window and a gzip wrapper (RFC 1952) */
        if (inflateInit2(&st->z, 15 + 16) != Z_OK) {
            rc = ns_error_set(err, NS_ENOMEM, "gzip: cannot initialise zlib");
            goto out;
        }
        st->z_ready = true;
        size_t got = 0;
        while (got < sizeof(st->out_pre)) {
            ssize_t k = gz_read(st, st->out_pre + got, sizeof(st->out_pre) - got);
            if (k <= 0) {
                break;
            }
            got += (size_t)k;
        }
        st->out_pre_len = got;
        memcpy(magic, st->out_pre, got);
        *nmagic = got;
    } else {
        memcpy(magic, st->raw_pre, (size_t)r);
        *nmagic = (size_t)r;
    }
out:
    if (rc != NS_OK) {
        ns__stream_free(st);
        return rc;
    }
    *out = st;
    return NS_OK;
}

FILE *ns__stream_fopen(struct ns__stream *st, size_t bufsize)
{
    cookie_io_functions_t io = {
        .read = cookie_read,
        .write = NULL,
        .seek = cookie_seek,
        .close = cookie_close,
    };
    st->iobuf = ns_malloc(bufsize);
    if (st->iobuf == NULL) {
        return NULL;
    }
    st->fp = fopencookie(st, "r", io);
    if (st->fp == NULL) {
        ns_free(st->iobuf);
        st->iobuf = NULL;
        return NULL;
    }
    setvbuf(st->fp, st->iobuf, _IOFBF, bufsize);
    return st->fp;
}

bool ns__stream_is_gz(const struct ns__stream *st)
{
    return st->gz;
}

int ns__stream_error(const struct ns__stream *st, const char **msg)
{
    *msg = st->errmsg;
    return st->err;
}

void ns__stream_free(struct ns__stream *st)
{
    if (st == NULL) {
        return;
    }
    if (st->fp != NULL) {
        fclose(st->fp);
    }
    ns_free(st->iobuf);
    if (st->z_ready) {
        inflateEnd(&st->z);
    }
    ns_free(st->zbuf);
    if (st->fd >= 0) {
        close(st->fd);
    }
    ns_free(st);
}
