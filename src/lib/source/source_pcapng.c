/*
 * source_pcapng.c - a bounds-checked pcapng reader (draft-ietf-opsawg-pcapng,
 * "PCAP Next Generation (pcapng) Capture File Format").
 *
 * Why our own: libpcap 1.10 (Debian 12) refuses a file whose Interface
 * Description Blocks have different link types ("an interface has a type 0
 * different from the type of the first interface"), which pcapng allows and
 * tshark reads with a link type per packet. This reader keeps a table of
 * interfaces per section, each with its link type, snap length, timestamp
 * resolution (if_tsresol) and offset (if_tsoffset).
 *
 * Every block:
 *    0                   1                   2                   3
 *   +---------------------------------------------------------------+
 *   |                          Block Type                           |
 *   +---------------------------------------------------------------+
 *   |                      Block Total Length                       |
 *   +---------------------------------------------------------------+
 *   /                          Block Body                           /
 *   +---------------------------------------------------------------+
 *   |                      Block Total Length                       |
 *   +---------------------------------------------------------------+
 *
 * Section Header Block (0x0A0D0D0A), body: byte-order magic 0x1A2B3C4D (its
 * byte order is the section's), major 1, minor 0, section length (64 bits),
 * options. A new SHB starts a new, empty interface table.
 * Interface Description Block (1): link type (16), reserved (16), snap
 * length (32), options (if_tsresol = 9, 1 byte: bit 7 clear = 10^-n s, set =
 * 2^-n s, default 10^-6; if_tsoffset = 14, 8 bytes, seconds).
 * Enhanced Packet Block (6): interface id, timestamp high, timestamp low,
 * captured length, original length, data padded to 32 bits, options.
 * Simple Packet Block (3): original length, data (interface 0, no time).
 * Packet Block (2, obsolete): interface id (16), drops (16), timestamp
 * high, low, captured length, original length, data, options.
 * Other blocks (name resolution, statistics, custom, ...) are skipped.
 *
 * Offsets in messages are those of the start of the offending block.
 */
#include "source_int.h"

#include <string.h>

#include "netsift/alloc.h"
#include "netsift/rd.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 1u
#define BT_PB  2u
#define BT_SPB 3u
#define BT_EPB 6u

#define BOM_LE 0x1A2B3C4Du

#define MAX_BLOCK ((uint32_t)16 << 20) /* cap on one block */
#define MAX_IFS   4096u                /* cap on interfaces in one section */

struct ng_if {
    int linktype;
    uint32_t snaplen;
    uint8_t tsresol;
    int64_t tsoffset;
};

struct ns__pcapng {
    FILE *fp;
    const char *name;
    uint64_t pos; /* offset of the next block */
    bool be;
    struct ng_if *ifs;
    size_t nifs;
    size_t cap_ifs;
    uint8_t *buf;
    size_t cap;
};

int ns__linktype_to_dlt(int linktype)
{
    /* the LINKTYPE_ values that differ from the DLT_ values on Linux (pcap-common.c) */
    switch (linktype) {
    case 100:
        return 11; /* ATM_RFC1483 */
    case 101:
        return 12; /* RAW */
    case 102:
        return 15; /* SLIP_BSDOS */
    case 103:
        return 16; /* PPP_BSDOS */
    default:
        return linktype;
    }
}

static uint32_t rd32(const struct ns__pcapng *ng, struct ns_rd *r)
{
    return ng->be ? ns_rd_be32(r) : ns_rd_le32(r);
}

static uint16_t rd16(const struct ns__pcapng *ng, struct ns_rd *r)
{
    return ng->be ? ns_rd_be16(r) : ns_rd_le16(r);
}

static uint32_t get32(const struct ns__pcapng *ng, const uint8_t *p)
{
    if (ng->be) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/*
 * Convert a timestamp in units of the interface's resolution to
 * nanoseconds. Resolutions finer than 1 ns are divided down; binary ones
 * keep 30 bits of fraction, enough for exact nanoseconds.
 */
static uint64_t ts_to_ns(const struct ng_if *itf, uint64_t ts)
{
    uint64_t ns;
    unsigned r = itf->tsresol & 0x7f;
    if ((itf->tsresol & 0x80) == 0) {
        uint64_t scale = 1;
        if (r <= 9) {
            for (unsigned i = r; i < 9; i++) {
                scale *= 10;
            }
            ns = ts * scale;
        } else {
            for (unsigned i = 9; i < r; i++) {
                scale *= 10;
            }
            ns = ts / scale;
        }
    } else {
        uint64_t sec = ts >> r;
        uint64_t frac = ts & ((UINT64_C(1) << r) - 1);
        unsigned shift = r;
        if (shift > 34) {
            frac >>= shift - 34;
            shift = 34;
        }
        ns = sec * UINT64_C(1000000000) + ((frac * UINT64_C(1000000000)) >> shift);
    }
    return ns + (uint64_t)itf->tsoffset * UINT64_C(1000000000);
}

static int fail(struct ns__pcapng *ng, struct ns_error *err, int code, uint64_t off,
                const char *what)
{
    return ns_error_set(err, code, "%s: %s at offset %llu", ng->name, what,
                        (unsigned long long)off);
}

/*
 * Read one whole block at ng->pos into ng->buf. On success `*type` and
 * `*body` / `*blen` (the body without the trailing length) are set.
 */
static int read_block(struct ns__pcapng *ng, uint32_t *type, struct ns_rd *body,
                      struct ns_error *err)
{
    uint8_t hdr[12];
    char what[96];
    uint64_t off = ng->pos;
    size_t got = fread(hdr, 1, 8, ng->fp);
    if (got == 0 && !ferror(ng->fp)) {
        return NS_EOF;
    }
    if (got < 8) {
        if (ferror(ng->fp)) {
            return fail(ng, err, NS_EIO, off, "read error");
        }
        return fail(ng, err, NS_ETRUNC, off, "truncated block header");
    }
    size_t hlen = 8;
    uint32_t t = get32(ng, hdr);
    if (t == BT_SHB) {
        /* the section's byte order comes with it */
        if (fread(hdr + 8, 1, 4, ng->fp) < 4) {
            return fail(ng, err, NS_ETRUNC, off, "truncated block header");
        }
        hlen = 12;
        if (((uint32_t)hdr[8] | (uint32_t)hdr[9] << 8 | (uint32_t)hdr[10] << 16 |
             (uint32_t)hdr[11] << 24) == BOM_LE) {
            ng->be = false;
        } else if (((uint32_t)hdr[8] << 24 | (uint32_t)hdr[9] << 16 | (uint32_t)hdr[10] << 8 |
                    (uint32_t)hdr[11]) == BOM_LE) {
            ng->be = true;
        } else {
            return fail(ng, err, NS_EMALFORMED, off, "bad byte-order magic in section header");
        }
    }
    uint32_t len = get32(ng, hdr + 4);
    if (len < 12 || len % 4 != 0 || len < hlen + 4) {
        snprintf(what, sizeof(what), "bad block length %u", len);
        return fail(ng, err, NS_EMALFORMED, off, what);
    }
    if (len > MAX_BLOCK) {
        snprintf(what, sizeof(what), "block length %u exceeds the limit of %u", len, MAX_BLOCK);
        return fail(ng, err, NS_ELIMIT, off, what);
    }
    size_t rest = len - 8; /* body and trailer; for an SHB 4 of them are read already */
    if (rest > ng->cap) {
        size_t ncap = ng->cap == 0 ? 4096 : ng->cap;
        while (ncap < rest) {
            ncap *= 2;
        }
        uint8_t *nb = ns_reallocarray(ng->buf, ncap, 1);
        if (nb == NULL) {
            return ns_error_set(err, NS_ENOMEM, "%s: out of memory", ng->name);
        }
        ng->buf = nb;
        ng->cap = ncap;
    }
    if (hlen == 12) {
        memcpy(ng->buf, hdr + 8, 4);
        if (fread(ng->buf + 4, 1, rest - 4, ng->fp) < rest - 4) {
            return fail(ng, err, NS_ETRUNC, off, "truncated file, block data cut");
        }
    } else if (fread(ng->buf, 1, rest, ng->fp) < rest) {
        if (ferror(ng->fp)) {
            return fail(ng, err, NS_EIO, off, "read error");
        }
        return fail(ng, err, NS_ETRUNC, off, "truncated file, block data cut");
    }
    uint32_t trail = get32(ng, ng->buf + rest - 4);
    if (trail != len) {
        snprintf(what, sizeof(what), "block length %u does not match its trailer %u", len, trail);
        return fail(ng, err, NS_EMALFORMED, off, what);
    }
    ng->pos += len;
    *type = t;
    /* for an SHB the body starts with the byte-order magic */
    ns_rd_init(body, ng->buf, rest - 4, off + 8);
    return NS_OK;
}

static int parse_shb(struct ns__pcapng *ng, struct ns_rd *r, uint64_t off, struct ns_error *err)
{
    (void)rd32(ng, r); /* byte-order magic, checked by read_block */
    uint16_t major = rd16(ng, r);
    uint16_t minor = rd16(ng, r);
    ns_rd_skip(r, 8); /* section length */
    if (!ns_rd_ok(r)) {
        return fail(ng, err, NS_EMALFORMED, off, "section header block too short");
    }
    if (major != 1) {
        char what[64];
        snprintf(what, sizeof(what), "unsupported pcapng version %u.%u", major, minor);
        return fail(ng, err, NS_EMALFORMED, off, what);
    }
    ng->nifs = 0;
    return NS_OK;
}

static int parse_idb(struct ns__pcapng *ng, struct ns_rd *r, uint64_t off, struct ns_error *err)
{
    struct ng_if itf = {.tsresol = 6};
    itf.linktype = ns__linktype_to_dlt(rd16(ng, r));
    (void)rd16(ng, r);
    itf.snaplen = rd32(ng, r);
    if (!ns_rd_ok(r)) {
        return fail(ng, err, NS_EMALFORMED, off, "interface description block too short");
    }
    /* options: code (16), length (16), value padded to 32 bits; each pass consumes 4+ bytes */
    while (ns_rd_left(r) >= 4) {
        uint16_t code = rd16(ng, r);
        uint16_t olen = rd16(ng, r);
        if (code == 0) {
            break;
        }
        struct ns_rd v = ns_rd_sub(r, olen);
        ns_rd_skip(r, (4 - olen % 4) % 4);
        if (!ns_rd_ok(&v) || !ns_rd_ok(r)) {
            return fail(ng, err, NS_EMALFORMED, off, "interface option runs past its block");
        }
        if (code == 9 && olen == 1) {
            itf.tsresol = ns_rd_u8(&v);
            unsigned e = itf.tsresol & 0x7f;
            if ((itf.tsresol & 0x80) ? e > 63 : e > 19) {
                char what[64];
                snprintf(what, sizeof(what), "bad if_tsresol 0x%02x", itf.tsresol);
                return fail(ng, err, NS_EMALFORMED, off, what);
            }
        } else if (code == 14 && olen == 8) {
            itf.tsoffset = (int64_t)(ng->be ? ns_rd_be64(&v) : ns_rd_le64(&v));
        }
    }
    if (ng->nifs == MAX_IFS) {
        return fail(ng, err, NS_ELIMIT, off, "too many interfaces in one section");
    }
    if (ng->nifs == ng->cap_ifs) {
        size_t ncap = ng->cap_ifs == 0 ? 4 : ng->cap_ifs * 2;
        struct ng_if *n = ns_reallocarray(ng->ifs, ncap, sizeof(*n));
        if (n == NULL) {
            return ns_error_set(err, NS_ENOMEM, "%s: out of memory", ng->name);
        }
        ng->ifs = n;
        ng->cap_ifs = ncap;
    }
    ng->ifs[ng->nifs++] = itf;
    return NS_OK;
}

int ns__pcapng_open(struct ns__pcapng **out, FILE *fp, const char *name, struct ns_error *err)
{
    struct ns__pcapng *ng = ns_calloc(1, sizeof(*ng));
    *out = NULL;
    if (ng == NULL) {
        return ns_error_set(err, NS_ENOMEM, "%s: out of memory", name);
    }
    ng->fp = fp;
    ng->name = name;
    uint32_t type = 0;
    struct ns_rd body;
    int rc = read_block(ng, &type, &body, err);
    if (rc == NS_EOF) {
        rc = fail(ng, err, NS_ETRUNC, 0, "truncated block header");
    }
    if (rc == NS_OK && type != BT_SHB) {
        rc = fail(ng, err, NS_EMALFORMED, 0, "file does not start with a section header block");
    }
    if (rc == NS_OK) {
        rc = parse_shb(ng, &body, 0, err);
    }
    if (rc != NS_OK) {
        ns__pcapng_free(ng);
        return rc;
    }
    *out = ng;
    return NS_OK;
}

int ns__pcapng_next(struct ns__pcapng *ng, struct ns__rec *rec, struct ns_error *err)
{
    char what[96];
    for (;;) {
        uint64_t off = ng->pos;
        uint32_t type = 0;
        struct ns_rd r;
        int rc = read_block(ng, &type, &r, err);
        if (rc != NS_OK) {
            return rc;
        }
        uint32_t ifid = 0;
        uint64_t ts = 0;
        uint32_t caplen = 0;
        uint32_t wirelen = 0;
        bool has_ts = true;
        switch (type) {
        case BT_SHB:
            rc = parse_shb(ng, &r, off, err);
            if (rc != NS_OK) {
                return rc;
            }
            continue;
        case BT_IDB:
            rc = parse_idb(ng, &r, off, err);
            if (rc != NS_OK) {
                return rc;
            }
            continue;
        case BT_EPB: {
            ifid = rd32(ng, &r);
            uint64_t hi = rd32(ng, &r);
            ts = hi << 32 | rd32(ng, &r);
            caplen = rd32(ng, &r);
            wirelen = rd32(ng, &r);
            break;
        }
        case BT_PB: {
            ifid = rd16(ng, &r);
            (void)rd16(ng, &r); /* drops count */
            uint64_t hi = rd32(ng, &r);
            ts = hi << 32 | rd32(ng, &r);
            caplen = rd32(ng, &r);
            wirelen = rd32(ng, &r);
            break;
        }
        case BT_SPB:
            wirelen = rd32(ng, &r);
            has_ts = false;
            break;
        default:
            continue;
        }
        if (!ns_rd_ok(&r)) {
            return fail(ng, err, NS_EMALFORMED, off, "packet block too short");
        }
        if (ifid >= ng->nifs) {
            snprintf(what, sizeof(what), "packet for unknown interface %u", ifid);
            return fail(ng, err, NS_EMALFORMED, off, what);
        }
        const struct ng_if *itf = &ng->ifs[ifid];
        if (!has_ts) {
            /* the SPB length is the original length cut to the snap length and the block */
            caplen = wirelen;
            if (itf->snaplen != 0 && caplen > itf->snaplen) {
                caplen = itf->snaplen;
            }
            if (caplen > ns_rd_left(&r)) {
                caplen = (uint32_t)ns_rd_left(&r);
            }
        }
        const uint8_t *data = ns_rd_bytes(&r, caplen);
        if (data == NULL) {
            snprintf(what, sizeof(what), "captured length %u exceeds its block", caplen);
            return fail(ng, err, NS_EMALFORMED, off, what);
        }
        rec->data = data;
        rec->caplen = caplen;
        rec->wirelen = wirelen;
        rec->ts_ns = has_ts ? ts_to_ns(itf, ts) : 0;
        rec->linktype = itf->linktype;
        return NS_OK;
    }
}

void ns__pcapng_free(struct ns__pcapng *ng)
{
    if (ng == NULL) {
        return;
    }
    ns_free(ng->ifs);
    ns_free(ng->buf);
    ns_free(ng);
}
