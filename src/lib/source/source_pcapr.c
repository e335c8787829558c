/*
 * source_pcapr.c - our own reader of classic pcap files (the format of
 * libpcap's savefile.c / sf-pcap.c, documented in pcap-savefile(5) and
 * draft-ietf-opsawg-pcap), straight from the byte stream into one large
 * buffer: records are handed out as views into that buffer, never copied
 * (libpcap reads each record with fread into its own buffer, a second copy
 * of every byte that cost a fifth of the read loop).
 *
 *   file header (24 bytes)                record header (16 bytes; 24 for
 *   +-------------------------------+     the Kuznetzov magic a1b2cd34)
 *   | magic (4)                     |     +------------------------------+
 *   | major (2) = 2 | minor (2) = 4 |     | ts seconds (4)               |
 *   | thiszone (4) | sigfigs (4)    |     | ts micro- or nanoseconds (4) |
 *   | snaplen (4)                   |     | caplen (4)                   |
 *   | linktype (4): LINKTYPE_ in    |     | original length (4)          |
 *   |   the low 26 bits             |     | [ifindex 4, protocol 2,      |
 *   +-------------------------------+     |  pkt_type 1, pad 1]          |
 *                                         +------------------------------+
 *                                         | caplen bytes of packet data  |
 *
 * The byte order of every field follows the magic's. What libpcap 1.10
 * does, and we do the same: a version below 2 is refused; a snap length of
 * 0 or above 262144 means 262144; in files older than 2.3 a caplen larger
 * than the original length is the two swapped; a caplen above 262144 is an
 * error. Where libpcap silently cuts a record longer than the file's snap
 * length (and skips the rest), we report it as an error at its offset, as
 * the libpcap-based reader before this one did.
 *
 * Buffer: `cap` bytes (the source's buffer size, grown when one record is
 * larger), [pos, len) unread; when a record does not fit in what is left,
 * the unread tail moves to the front and the buffer is filled again. `base`
 * is the file offset of buf[0], so every message names an exact offset.
 */
#include "source_int.h"

#include <inttypes.h>
#include <string.h>

#include "netsift/alloc.h"
#include "netsift/rd.h"

#define PCAPR_FILE_HDR 24u
#define PCAPR_REC_HDR  16u
#define PCAPR_KUZ_HDR  24u

struct ns__pcapr {
    struct ns__stream *st; /* borrowed */
    const char *name;      /* borrowed */
    uint8_t *buf;
    size_t cap;
    size_t pos;
    size_t len;
    uint64_t base; /* file offset of buf[0] */
    bool eof;      /* the stream has nothing more */
    bool be;       /* fields are big-endian */
    bool nano;
    bool swap_lens; /* version < 2.3: caplen and length may be swapped */
    unsigned rec_hdr;
    int linktype;
    uint32_t snaplen;
};

static uint32_t get32(const struct ns__pcapr *r, const uint8_t *p)
{
    struct ns_rd rd;
    ns_rd_init(&rd, p, 4, 0);
    return r->be ? ns_rd_be32(&rd) : ns_rd_le32(&rd);
}

static uint16_t get16(const struct ns__pcapr *r, const uint8_t *p)
{
    struct ns_rd rd;
    ns_rd_init(&rd, p, 2, 0);
    return r->be ? ns_rd_be16(&rd) : ns_rd_le16(&rd);
}

/*
 * Make at least `need` unread bytes available if the stream has them.
 * Returns the bytes available (less than need only at the end of the
 * stream or on a read error, which the stream keeps), or -1 (no memory).
 */
static ssize_t pcapr_fill(struct ns__pcapr *r, size_t need)
{
    size_t have = r->len - r->pos;
    if (have >= need || r->eof) {
        return (ssize_t)have;
    }
    if (need > r->cap) {
        uint8_t *nb = ns_malloc(need);
        if (nb == NULL) {
            return -1;
        }
        memcpy(nb, r->buf + r->pos, have);
        ns_free(r->buf);
        r->buf = nb;
        r->cap = need;
    } else if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, have);
    }
    r->base += r->pos;
    r->pos = 0;
    r->len = have;
    while (r->len < need) {
        ssize_t got = ns__stream_read(r->st, r->buf + r->len, r->cap - r->len);
        if (got <= 0) {
            r->eof = true; /* 0: the end; < 0: the stream keeps its error */
            break;
        }
        r->len += (size_t)got;
    }
    return (ssize_t)(r->len - r->pos);
}

int ns__pcapr_open(struct ns__pcapr **out, struct ns__stream *st, size_t bufsize, const char *name,
                   struct ns_error *err)
{
    *out = NULL;
    struct ns__pcapr *r = ns_calloc(1, sizeof(*r));
    if (r == NULL) {
        return ns_error_set(err, NS_ENOMEM, "%s: out of memory", name);
    }
    r->st = st;
    r->name = name;
    r->cap = bufsize > PCAPR_FILE_HDR ? bufsize : PCAPR_FILE_HDR;
    r->buf = ns_malloc(r->cap);
    if (r->buf == NULL) {
        ns_free(r);
        return ns_error_set(err, NS_ENOMEM, "%s: out of memory", name);
    }
    int rc = NS_OK;
    ssize_t have = pcapr_fill(r, PCAPR_FILE_HDR);
    if (have < (ssize_t)PCAPR_FILE_HDR) {
        rc = ns_error_set(err, NS_ETRUNC, "%s: truncated file header at offset 0", name);
        goto out;
    }
    const uint8_t *h = r->buf;
    uint32_t magic = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    switch (magic) {
    case 0xa1b2c3d4u:
    case 0xa1b23c4du:
    case 0xa1b2cd34u:
        r->be = true;
        break;
    case 0xd4c3b2a1u:
    case 0x4d3cb2a1u:
    case 0x34cdb2a1u:
        r->be = false;
        break;
    default:
        rc = ns_error_set(err, NS_EMALFORMED,
                          "%s: not a capture file (bad magic 0x%08" PRIx32 ") at offset 0", name,
                          magic);
        goto out;
    }
    r->nano = magic == 0xa1b23c4du || magic == 0x4d3cb2a1u;
    r->rec_hdr = magic == 0xa1b2cd34u || magic == 0x34cdb2a1u ? PCAPR_KUZ_HDR : PCAPR_REC_HDR;
    unsigned major = get16(r, h + 4);
    unsigned minor = get16(r, h + 6);
    if (major < 2) {
        rc = ns_error_set(err, NS_EMALFORMED,
                          "%s: bad file header at offset 0 (archaic pcap savefile format %u.%u)",
                          name, major, minor);
        goto out;
    }
    r->swap_lens = major == 2 && minor < 3;
    r->snaplen = get32(r, h + 16);
    if (r->snaplen == 0 || r->snaplen > NS__SOURCE_MAX_SNAP) {
        r->snaplen = NS__SOURCE_MAX_SNAP;
    }
    r->linktype = ns__linktype_to_dlt((int)(get32(r, h + 20) & 0x03ffffffu));
    r->pos = PCAPR_FILE_HDR;
out:
    if (rc != NS_OK) {
        ns__pcapr_free(r);
        return rc;
    }
    *out = r;
    return NS_OK;
}

int ns__pcapr_linktype(const struct ns__pcapr *r)
{
    return r->linktype;
}

int ns__pcapr_snaplen(const struct ns__pcapr *r)
{
    return (int)r->snaplen;
}

int ns__pcapr_next(struct ns__pcapr *r, struct ns__rec *rec, struct ns_error *err)
{
    uint64_t off = r->base + r->pos;
    ssize_t have = pcapr_fill(r, r->rec_hdr);
    if (have < 0) {
        return ns_error_set(err, NS_ENOMEM, "%s: out of memory at offset %" PRIu64, r->name, off);
    }
    if (have == 0) {
        return NS_EOF;
    }
    if (have < (ssize_t)r->rec_hdr) {
        return ns_error_set(err, NS_ETRUNC, "%s: truncated record header at offset %" PRIu64,
                            r->name, off);
    }
    const uint8_t *h = r->buf + r->pos;
    uint32_t sec = get32(r, h);
    uint32_t frac = get32(r, h + 4);
    uint32_t caplen = get32(r, h + 8);
    uint32_t wirelen = get32(r, h + 12);
    if (r->swap_lens && caplen > wirelen) {
        uint32_t t = caplen;
        caplen = wirelen;
        wirelen = t;
    }
    if (caplen > r->snaplen) {
        return ns_error_set(err, NS_EMALFORMED,
                            "%s: record length %" PRIu32 " exceeds snap length %" PRIu32
                            " at offset %" PRIu64,
                            r->name, caplen, r->snaplen, off);
    }
    size_t need = r->rec_hdr + (size_t)caplen;
    have = pcapr_fill(r, need);
    if (have < 0) {
        return ns_error_set(err, NS_ENOMEM, "%s: out of memory at offset %" PRIu64, r->name, off);
    }
    if ((size_t)have < need) {
        return ns_error_set(err, NS_ETRUNC,
                            "%s: truncated file, record data cut at offset %" PRIu64, r->name, off);
    }
    rec->data = r->buf + r->pos + r->rec_hdr;
    rec->caplen = caplen;
    rec->wirelen = wirelen;
    rec->ts_ns = (uint64_t)sec * UINT64_C(1000000000) + (uint64_t)frac * (r->nano ? 1u : 1000u);
    rec->linktype = r->linktype;
    r->pos += need;
    return NS_OK;
}

void ns__pcapr_free(struct ns__pcapr *r)
{
    if (r == NULL) {
        return;
    }
    ns_free(r->buf);
    ns_free(r);
}
