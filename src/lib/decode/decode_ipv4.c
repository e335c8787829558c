/*
 * decode_ipv4.c - the IPv4 header with its options, and fragments.
 *
 * Specifications: RFC 791 (Internet Protocol, section 3.1 header format and
 * options), RFC 815 and RFC 791 section 3.2 (fragments: offset in 8-byte
 * units, more-fragments flag), RFC 6864 (the identification field).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version|  IHL  |Type of Service|          Total Length         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Identification        |R|D|M|      Fragment Offset    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Time to Live |    Protocol   |         Header Checksum       |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                       Source Address                          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Destination Address                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Options (IHL * 4 - 20 bytes)               |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Options: kind 0 (end of list) and 1 (no-op) are one byte; every other
 * option is | kind | length (>= 2, counting kind and length) | data |.
 *
 * Lengths: the total length bounds the datagram. Bytes after it (Ethernet
 * padding) are ignored (NS_PKT_F_TRAILER); a total length beyond the captured
 * bytes is a snap-length cut (NS_PKT_F_SNAPPED), decoded as far as captured.
 * A total length of 0 is what hosts with TCP segmentation offload capture:
 * the frame's length is used instead.
 */
#include "decode_int.h"

#include <string.h>

#define IPV4_DF      0x4000
#define IPV4_MF      0x2000
#define IPV4_OFFMASK 0x1fff

/* Walk the options; a bad length is noted and ends the walk (the IHL still bounds them). */
static void ipv4_options(struct ns__dec *d, struct ns_rd *o)
{
    for (unsigned i = 0; i < NS__DEC_MAX_IPV4_OPTS && ns_rd_left(o) > 0; i++) {
        uint8_t kind = ns_rd_u8(o);
        if (kind == 0) {
            return;
        }
        if (kind == 1) {
            continue;
        }
        uint8_t len = ns_rd_u8(o);
        if (!ns_rd_ok(o) || len < 2 || !ns_rd_skip(o, (size_t)len - 2)) {
            ns__dec_note(d, NS_DEC_IPV4_OPT_INVALID);
            return;
        }
    }
}

int ns__decode_ipv4(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r)
{
    size_t avail = ns_rd_left(r);
    const uint8_t *l3 = ns_rd_cur(r);
    uint8_t vihl = ns_rd_u8(r);
    if (!ns_rd_ok(r)) {
        return ns__dec_fail(d, NS_ETRUNC, NS_DEC_IPV4_TRUNC);
    }
    if (vihl >> 4 != 4) {
        return ns__dec_fail(d, NS_EMALFORMED, NS_DEC_IPV4_VERSION);
    }
    size_t hlen = (size_t)(vihl & 0x0f) * 4;
    if (hlen < 20) {
        return ns__dec_fail(d, NS_EMALFORMED, NS_DEC_IPV4_HLEN_SMALL);
    }
    uint8_t tos = ns_rd_u8(r);
    uint16_t totlen = ns_rd_be16(r);
    uint16_t id = ns_rd_be16(r);
    uint16_t frag = ns_rd_be16(r);
    uint8_t ttl = ns_rd_u8(r);
    uint8_t proto = ns_rd_u8(r);
    (void)ns_rd_be16(r); /* header checksum: not verified (offload makes it unreliable) */
    const uint8_t *src = ns_rd_bytes(r, 4);
    const uint8_t *dst = ns_rd_bytes(r, 4);
    if (!ns_rd_ok(r)) {
        return ns__dec_fail(d, NS_ETRUNC, NS_DEC_IPV4_TRUNC);
    }
    if (totlen != 0 && totlen < hlen) {
        return ns__dec_fail(d, NS_EMALFORMED, NS_DEC_IPV4_TOTLEN_SMALL);
    }
    struct ns_rd opts = ns_rd_sub(r, hlen - 20);
    if (!ns_rd_ok(&opts)) {
        return ns__dec_fail(d, NS_ETRUNC, NS_DEC_IPV4_TRUNC);
    }

    p->ipver = 4;
    p->tos = tos;
    p->ip_id = id;
    p->df = (frag & IPV4_DF) != 0;
    p->ttl = ttl;
    p->proto = proto;
    p->src.family = 4;
    memcpy(p->src.a, src, 4);
    p->dst.family = 4;
    memcpy(p->dst.a, dst, 4);
    p->ip_hdr_len = (uint16_t)hlen;
    p->ip_opt_len = (uint16_t)(hlen - 20);
    p->l3 = l3;

    size_t declared = totlen != 0 ? totlen : avail;
    size_t l3_len = declared;
    if (declared < avail) {
        p->flags |= NS_PKT_F_TRAILER;
    } else if (declared > avail) {
        p->flags |= NS_PKT_F_SNAPPED;
        l3_len = avail;
    }
    p->l3_len = (uint32_t)l3_len;

    if (hlen > 20) {
        ipv4_options(d, &opts);
    }

    /* the IP payload: what was captured of it, and what the header declares */
    const uint8_t *pl = ns_rd_cur(r);
    size_t pl_len = l3_len - hlen;
    uint32_t pl_wire = (uint32_t)(declared - hlen);

    if ((frag & (IPV4_MF | IPV4_OFFMASK)) != 0) {
        uint32_t off = (uint32_t)(frag & IPV4_OFFMASK) * 8;
        bool more = (frag & IPV4_MF) != 0;
        p->flags |= NS_PKT_F_FRAGMENT;
        p->frag_id = id;
        p->frag_off = off;
        p->frag_more = more;
        p->frag_data = pl;
        p->frag_len = (uint32_t)pl_len;
        p->payload = pl;
        p->payload_len = (uint32_t)pl_len;
        p->payload_wire_len = pl_wire;
        /* RFC 791: all but the last fragment carry a multiple of 8 bytes; 65535 is the cap */
        if (off + pl_wire > 65535 || (more && (pl_wire == 0 || pl_wire % 8 != 0))) {
            return ns__dec_fail(d, NS_EMALFORMED, NS_DEC_IPV4_FRAG_INVALID);
        }
        return 0;
    }
    return ns__decode_ip_payload(d, p, pl, pl_len, pl_wire);
}
