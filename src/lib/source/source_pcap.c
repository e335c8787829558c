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
 * Classic pcap is read by libpcap (pcap_fopen_offline_with_tstamp_precision
 * with nanosecond precision, so ts_ns is exact for both kinds of files):
 *
 *   file header (24 bytes)            record header (16 bytes)
 *   +------------------------------+  +------------------------------+
 *   | magic (4) | major 2 | minor 4 |  | ts seconds (4)               |
 *   | thiszone (4) | sigfigs (4)    |  | ts micro- or nanoseconds (4) |
 *   | snaplen (4) | linktype (4)    |  | caplen (4) | original len (4)|
 *   +------------------------------+  +------------------------------+
 *                                     | caplen bytes of packet data  |
 *
 * The offset of a record is therefore 24 + the sum of (16 + caplen) over
 * the records before it; we keep that sum so messages can name it exactly.
 * libpcap silently cuts a record whose caplen is above the file's snap
 * length (but below 262144) to the snap length; we catch that case by
 * asking the stream where it is (a cheap ftell on our cookie stream) only
 * when a record comes back exactly snap length long and shorter than on the
 * wire, and report "record length L exceeds snap length S".
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
    char errbuf[PCAP_ERRBUF_SIZE];

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
    in->fp = ns__stream_fopen(in->st, bufsize);
    if (in->fp == NULL) {
        rc = ns_error_set(err, NS_ENOMEM, "%s: out of memory", in->name);
        goto out;
    }
    if (in->fmt == NS__FMT_PCAPNG) {
        rc = ns__pcapng_open(&in->ng, in->fp, in->name, err);
        if (rc != NS_OK && stream_failed(in, 0, err) != 0) {
            rc = err != NULL ? err->code : NS_EIO;
        }
        goto out;
    }
    errbuf[0] = '\0';
    in->pcap = pcap_fopen_offline_with_tstamp_precision(in->fp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (in->pcap == NULL) {
        rc = stream_failed(in, 0, err);
        if (rc == 0 && strstr(errbuf, "truncated") != NULL) {
            rc = ns_error_set(err, NS_ETRUNC, "%s: truncated file header at offset 0", in->name);
        } else if (rc == 0) {
            rc = ns_error_set(err, NS_EMALFORMED, "%s: bad file header at offset 0 (%s)", in->name,
                              errbuf);
        }
        goto out;
    }
    in->linktype = pcap_datalink(in->pcap);
    in->snaplen = pcap_snapshot(in->pcap);
    in->next_off = 24;
    rc = NS_OK;
out:
    if (rc != NS_OK) {
        ns__input_close(in);
        return rc;
    }
    in->is_open = true;
    in->done = false;
    return NS_OK;
}

/* Turn libpcap's message for a bad record into ours. */
static int pcap_record_error(struct ns__input *in, uint64_t off, const char *msg,
                             struct ns_error *err)
{
    unsigned len = 0;
    const char *p;
    if (strstr(msg, "header bytes") != NULL) {
        return ns_error_set(err, NS_ETRUNC, "%s: truncated record header at offset %" PRIu64,
                            in->name, off);
    }
    if (strstr(msg, "captured bytes") != NULL) {
        return ns_error_set(err, NS_ETRUNC,
                            "%s: truncated file, record data cut at offset %" PRIu64, in->name,
                            off);
    }
    p = strstr(msg, "invalid packet capture length ");
    if (p != NULL && sscanf(p, "invalid packet capture length %u", &len) == 1) {
        return ns_error_set(err, NS_EMALFORMED,
                            "%s: record length %u exceeds snap length %d at offset %" PRIu64,
                            in->name, len, in->snaplen, off);
    }
    if (strstr(msg, "error reading dump file") != NULL) {
        return ns_error_set(err, NS_EIO, "%s: read error at offset %" PRIu64 " (%s)", in->name, off,
                            msg);
    }
    return ns_error_set(err, NS_EMALFORMED, "%s: bad record at offset %" PRIu64 " (%s)", in->name,
                        off, msg);
}

static int read_pcap(struct ns__input *in, struct ns_error *err)
{
    struct pcap_pkthdr *h;
    const u_char *d;
    uint64_t off = in->next_off;
    int r = pcap_next_ex(in->pcap, &h, &d);
    if (r == 1) {
        if (h->caplen >= (uint32_t)in->snaplen && h->len > h->caplen) {
            /* libpcap may have cut a record longer than the snap length: see the header */
            long pos = ftell(in->fp);
            if (pos >= 0 && (uint64_t)pos > off + 16 + h->caplen) {
                return ns_error_set(err, NS_EMALFORMED,
                                    "%s: record length %" PRIu64
                                    " exceeds snap length %d at offset %" PRIu64,
                                    in->name, (uint64_t)pos - off - 16, in->snaplen, off);
            }
        }
        in->next_off = off + 16 + h->caplen;
        in->nread++;
        in->cur.data = d;
        in->cur.caplen = h->caplen;
        in->cur.wirelen = h->len;
        in->cur.ts_ns = (uint64_t)h->ts.tv_sec * UINT64_C(1000000000) + (uint64_t)h->ts.tv_usec;
        in->cur.linktype = in->linktype;
        in->cur.index = in->nread;
        return NS_OK;
    }
    int rc = stream_failed(in, off, err);
    if (rc != 0) {
        return rc;
    }
    if (r == PCAP_ERROR_BREAK) {
        return NS_EOF;
    }
    return pcap_record_error(in, off, pcap_geterr(in->pcap), err);
}

int ns__input_read(struct ns__input *in, struct ns_error *err)
{
    if (in->fmt == NS__FMT_PCAP) {
        return read_pcap(in, err);
    }
    int rc = ns__pcapng_next(in->ng, &in->cur, err);
    if (rc == NS_OK) {
        in->nread++;
        in->cur.index = in->nread;
        return NS_OK;
    }
    if (rc != NS_ENOMEM) {
        /* a gzip or read error explains a cut block better than the block does */
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
    if (in->pcap != NULL) {
        pcap_close(in->pcap); /* closes the FILE too */
        in->pcap = NULL;
        if (in->st != NULL) {
            ns__stream_fp_closed(in->st);
        }
    }
    ns__pcapng_free(in->ng);
    in->ng = NULL;
    ns__stream_free(in->st);
    in->st = NULL;
    in->fp = NULL;
    in->is_open = false;
}
