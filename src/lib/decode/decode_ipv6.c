/*
 * decode_ipv6.c - the IPv6 header, its extension headers, and fragments.
 *
 * Specifications: RFC 8200 (IPv6: section 3 header, section 4 extension
 * headers, 4.3 hop-by-hop, 4.4 routing, 4.5 fragment, 4.6 destination
 * options), RFC 4302 (AH: its length is in 4-byte units minus 2), RFC 4303
 * (ESP: opaque, ends the walk), RFC 2675 (jumbograms: payload length 0 and a
 * hop-by-hop header),
 * RFC 6946 (atomic fragments: offset 0 and M clear are not fragments).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version| Traffic Class |           Flow Label                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Payload Length        |  Next Header  |   Hop Limit   |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                  Source Address (16 bytes)                    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |               Destination Address (16 bytes)                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Hop-by-hop (0), routing (43), destination options (60):
 *   | Next Header | Hdr Ext Len (8-byte units, not counting the first 8) | ... |
 * Authentication header (51):
 *   | Next Header | Payload Len ((len + 2) * 4 bytes in all) | reserved | ... |
 * Fragment (44), 8 bytes:
 *   | Next Header | reserved | Fragment Offset (13) | Res (2) | M |
 *   | Identification (32)                                          |
 */
#include "decode_int.h"

#include <string.h>

int ns__decode_ipv6(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r)
{
    size_t avail = ns_rd_left(r);
    const uint8_t *l3 = ns_rd_cur(r);
    uint32_t vtf = ns_rd_be32(r);
    if (!ns_rd_ok(r)) {
        return ns__dec_fail(d, NS_ETRUNC, NS_DEC_IPV6_TRUNC);
    }
    if (vtf >> 28 != 6) {
        return ns__dec_fail(d, NS_EMALFORMED, NS_DEC_IPV6_VERSION);
    }
    uint16_t plen = ns_rd_be16(r);
    uint8_t nh = ns_rd_u8(r);
    uint8_t hlim = ns_rd_u8(r);
    const uint8_t *src = ns_rd_bytes(r, 16);
    const uint8_t *dst = ns_rd_bytes(r, 16);
    if (!ns_rd_ok(r)) {
        return ns__dec_fail(d, NS_ETRUNC, NS_DEC_IPV6_TRUNC);
    }

    p->ipver = 6;
    p->tos = (uint8_t)(vtf >> 20);
    p->flow_label = vtf & 0xfffff;
    p->ttl = hlim;
    p->src.family = 6;
    memcpy(p->src.a, src, 16);
    p->dst.family = 6;
    memcpy(p->dst.a, dst, 16);
    p->l3 = l3;

    /*
     * plen 0 with a hop-by-hop header first: a jumbogram (RFC 2675; also how
     * Linux BIG TCP shows up in captures): the frame bounds it. Otherwise 0
     * is 0 (a lone header, next header 59).
     */
    size_t declared = (size_t)plen + 40;
    if (plen == 0 && nh == NS_IPPROTO_HOPOPTS) {
        declared = avail;
    }
    size_t l3_len = declared;
    if (declared < avail) {
        p->flags |= NS_PKT_F_TRAILER;
    } else if (declared > avail) {
        p->flags |= NS_PKT_F_SNAPPED;
        l3_len = avail;
    }
    p->l3_len = (uint32_t)l3_len;

    /* the extension header walk runs over the captured part of the datagram */
    struct ns_rd x;
    ns_rd_init(&x, l3, l3_len, 0);
    (void)ns_rd_skip(&x, 40);
    unsigned count = 0;
    for (;;) {
        /* offset of this header from the start of the IPv6 header */
        size_t at = (size_t)ns_rd_offset(&x);
        if (nh != NS_IPPROTO_HOPOPTS && nh != NS_IPPROTO_ROUTING && nh != NS_IPPROTO_DSTOPTS &&
            nh != NS_IPPROTO_FRAGMENT && nh != NS_IPPROTO_AH) {
            break;
        }
        if (count >= NS_DEC_MAX_IPV6_EXT) {
            p->proto = nh;
            p->ip_hdr_len = (uint16_t)at;
            return ns__dec_fail(d, NS_EMALFORMED, NS_DEC_IPV6_EXT_TOO_MANY);
        }
        count++;
        uint8_t next = ns_rd_u8(&x);
        uint8_t len = ns_rd_u8(&x);
        if (!ns_rd_ok(&x)) {
            return ns__dec_fail(d, NS_ETRUNC, NS_DEC_IPV6_EXT_TRUNC);
        }
        if (nh == NS_IPPROTO_FRAGMENT) {
            uint16_t offm = ns_rd_be16(&x);
            uint32_t id = ns_rd_be32(&x);
            if (!ns_rd_ok(&x)) {
                return ns__dec_fail(d, NS_ETRUNC, NS_DEC_IPV6_EXT_TRUNC);
            }
            uint32_t off = (uint32_t)(offm >> 3) * 8;
            bool more = (offm & 1) != 0;
            if (off == 0 && !more) {
                /* an atomic fragment (RFC 6946): the whole datagram, decode on */
                nh = next;
                continue;
            }
            size_t hdr = (size_t)ns_rd_offset(&x);
            p->proto = next;
            p->ip_hdr_len = (uint16_t)hdr;
            p->flags |= NS_PKT_F_FRAGMENT;
            p->frag_id = id;
            p->frag_off = off;
            p->frag_more = more;
            p->frag_unfrag_len = (uint32_t)at;
            p->frag_data = ns_rd_cur(&x);
            p->frag_len = (uint32_t)(l3_len - hdr);
            p->payload = p->frag_data;
            p->payload_len = p->frag_len;
            /* x covers at most `declared` bytes, so hdr <= l3_len <= declared */
            uint32_t wire = (uint32_t)(declared - hdr);
            p->payload_wire_len = wire;
            /* RFC 8200 4.5: 8-byte multiples but for the last; 65535 bytes at most */
            if (off + wire > 65535 || (more && (wire == 0 || wire % 8 != 0))) {
                return ns__dec_fail(d, NS_EMALFORMED, NS_DEC_IPV6_FRAG_INVALID);
            }
            return 0;
        }
        size_t size = nh == NS_IPPROTO_AH ? ((size_t)len + 2) * 4 : ((size_t)len + 1) * 8;
        if (!ns_rd_skip(&x, size - 2)) {
            return ns__dec_fail(d, NS_ETRUNC, NS_DEC_IPV6_EXT_TRUNC);
        }
        nh = next;
    }

    /* nh is the upper layer: TCP, UDP, ICMPv6, or ESP / no-next-header and others */
    size_t hdr = (size_t)ns_rd_offset(&x);
    p->proto = nh;
    p->ip_hdr_len = (uint16_t)hdr;
    return ns__decode_ip_payload(d, p, ns_rd_cur(&x), l3_len - hdr, (uint32_t)(declared - hdr));
}
