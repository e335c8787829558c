/*
 * source_pcap.c - one capture input: a file, standard input or a memory
 * block, plain or gzip, in classic pcap or pcapng format.
 *
 * The format is told by the first four bytes (of the inflated data for
 * gzip), never by the name:
 *   a1 b2 c3 d4 / d4 c3 b2 a1   pcap, microseconds, big / little endian
 *   a1 b2 3c 4d / 4d 3c b2 a1   pcap, nanoseconds
 *   a1 b2 cd 34 / 34 cd b2 a1   pcap, Kuznetzov's patched format
 *   0a 0d 0d 0a                 pcapng (source_pcapng.c)
 *
 * Classic pcap is read by source_pcapr.c and pcapng by source_pcapng.c,
 * both through the stream (source_stream.c), so gzip, pipes and standard
 * input work the same for both. Every error names the input and the byte
 * offset of the record (or block) that broke off.
 */
#include "source_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "netsift/alloc.h"

static bool is_pcap_magic(uint32_t m)
{
    switch (m) {
    case 0xa1b2c3d4u:
    case 0xd4c3b2a1u:
    case 0xa1b23c4du:
    case 0x4d3cb2a1u:
    case 0xa1b2cd34u:
    case 0x34cdb2a1u:
        return true;
    default:
        return false;
    }
}

/* Report the stream's own error (gzip, read error) if it has one; 0 otherwise. */
static int stream_failed(struct ns__input *in, uint64_t off, struct ns_error *err)
{
    const char *msg = NULL;
    int code = ns__stream_error(in->st, &msg);
    if (code == 0) {
        return 0;
    }
    return ns_error_set(err, code, "%s: %s at offset %" PRIu64, in->name, msg, off);
}

int ns__input_open(struct ns__input *in, size_t bufsize, struct ns_error *err)
{
    int fd = -1;
    int rc;
    uint8_t magic[4] = {0};
    size_t nmagic = 0;

    if (in->mem != NULL && bufsize > NS__SOURCE_SMALL_BUF) {
        bufsize = NS__SOURCE_SMALL_BUF; /* the bytes are in memory already */
    }
    if (in->mem == NULL) {
        if (in->path == NULL) {
            fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
        } else {
            fd = open(in->path, O_RDONLY | O_CLOEXEC);
        }
        if (fd < 0) {
            return ns_error_set(err, NS_EIO, "%s: cannot open: %s", in->name, strerror(errno));
        }
    }
    rc = ns__stream_open(&in->st, fd, in->mem, in->mem_len, magic, &nmagic, err);
    if (rc != NS_OK) {
        /* err holds the stream's message: put the name and offset around it */
        char msg[sizeof(((struct ns_error *)NULL)->msg)];
        snprintf(msg, sizeof(msg), "%s", err != NULL ? err->msg : "error");
        return ns_error_set(err, rc, "%s: %s at offset 0", in->name, msg);
    }
    if (nmagic < 4) {
        in->not_capture = true;
        rc = stream_failed(in, 0, err);
        if (rc == 0) {
            rc = ns_error_set(err, NS_ETRUNC, "%s: truncated file header at offset 0", in->name);
        }
        goto out;
    }
    uint32_t m = (uint32_t)magic[0] << 24 | (uint32_t)magic[1] << 16 | (uint32_t)magic[2] << 8 |
                 (uint32_t)magic[3];
    if (m == 0x0a0d0d0au) {
        in->fmt = NS__FMT_PCAPNG;
    } else if (is_pcap_magic(m)) {
        in->fmt = NS__FMT_PCAP;
    } else {
        in->not_capture = true;
        rc = ns_error_set(err, NS_EMALFORMED,
                          "%s: not a capture file (bad magic 0x%08" PRIx32 ") at offset 0",
                          in->name, m);
        goto out;
    }
    if (in->fmt == NS__FMT_PCAP) {
        rc = ns__pcapr_open(&in->pr, in->st, bufsize, in->name, err);
        if (rc != NS_OK && rc != NS_ENOMEM && stream_failed(in, 0, err) != 0) {
            rc = err != NULL ? err->code : NS_EIO;
        }
        goto out;
    }
    in->fp = ns__stream_fopen(in->st, bufsize);
    if (in->fp == NULL) {
        rc = ns_error_set(err, NS_ENOMEM, "%s: out of memory", in->name);
        goto out;
    }
    rc = ns__pcapng_open(&in->ng, in->fp, in->name, err);
    if (rc != NS_OK && stream_failed(in, 0, err) != 0) {
        rc = err != NULL ? err->code : NS_EIO;
    }
out:
    if (rc != NS_OK) {
        ns__input_close(in);
        return rc;
    }
    in->is_open = true;
    in->done = false;
    return NS_OK;
}

int ns__input_read(struct ns__input *in, struct ns_error *err)
{
    int rc = in->fmt == NS__FMT_PCAP ? ns__pcapr_next(in->pr, &in->cur, err)
                                     : ns__pcapng_next(in->ng, &in->cur, err);
    if (rc == NS_OK) {
        in->nread++;
        in->cur.index = in->nread;
        return NS_OK;
    }
    if (rc != NS_ENOMEM) {
        /* a gzip or read error explains a cut record better than the record does */
        const char *msg = NULL;
        int code = ns__stream_error(in->st, &msg);
        if (code != 0) {
            char what[sizeof(((struct ns_error *)NULL)->msg)];
            snprintf(what, sizeof(what), "%s", err != NULL ? err->msg : "");
            const char *at = strstr(what, " at offset ");
            return ns_error_set(err, code, "%s: %s%s", in->name, msg, at != NULL ? at : "");
        }
    }
    return rc;
}

int ns__input_park(struct ns__input *in)
{
    if (in->has_cur && in->cur.data != in->copy) {
        if (in->cur.caplen > in->copy_cap) {
            uint8_t *n = ns_reallocarray(in->copy, in->cur.caplen, 1);
            if (n == NULL) {
                return NS_ENOMEM;
            }
            in->copy = n;
            in->copy_cap = in->cur.caplen;
        }
        if (in->cur.caplen > 0) {
            memcpy(in->copy, in->cur.data, in->cur.caplen);
        }
        in->cur.data = in->copy;
    }
    ns__input_close(in);
    return NS_OK;
}

void ns__input_close(struct ns__input *in)
{
    ns__pcapr_free(in->pr);
    in->pr = NULL;
    ns__pcapng_free(in->ng);
    in->ng = NULL;
    ns__stream_free(in->st); /* closes the FILE too */
    in->st = NULL;
    in->fp = NULL;
    in->is_open = false;
}
