/*
 * decode_l4.c - transport headers: TCP with options, UDP, ICMP, ICMPv6, SCTP
 * ports.
 *
 * Specifications: RFC 9293 (TCP, section 3.1 header format, 3.2 options),
 * RFC 7323 (window scale, timestamps), RFC 2018 (SACK permitted, SACK),
 * RFC 768 (UDP), RFC 792 (ICMP), RFC 4443 (ICMPv6), RFC 9260 (SCTP common
 * header).
 *
 * TCP:
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Source Port          |       Destination Port        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                        Sequence Number                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Acknowledgment Number                      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Data |       |C|E|U|A|P|R|S|F|                               |
 *   | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |           Checksum            |         Urgent Pointer        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |           Options (Data Offset * 4 - 20 bytes)                |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * TCP options: kind 0 (EOL) and 1 (NOP) are one byte, the rest are
 * | kind | length | data |: MSS (2, len 4), window scale (3, len 3), SACK
 * permitted (4, len 2), SACK (5, len 2 + 8n), timestamps (8, len 10). A
 * length below 2, past the header, or wrong for a known kind ends the walk
 * and is counted as TCP_OPT_INVALID; the segment itself stays valid, because
 * the data offset still says where the payload starts.
 *
 * UDP:  | Source Port | Destination Port | Length (header + data) | Checksum |
 * ICMP and ICMPv6 (8 bytes): | Type | Code | Checksum | rest of header (4) |
 * SCTP: | Source Port | Destination Port | Verification Tag | Checksum |
 *
 * For ICMP and ICMPv6 sport holds the type and dport the code, so that the
 * flow table can map them the way Community ID does.
 */
#include "decode_int.h"

/* Length check of a known option kind; unknown kinds take any length. */
static bool tcp_opt_len_ok(uint8_t kind, uint8_t len)
{
    switch (kind) {
    case 2:
        return len == 4;
    case 3:
        return len == 3;
    case 4:
        return len == 2;
    case 5:
        return len >= 10 && (len - 2) % 8 == 0;
    case 8:
        return len == 10;
    default:
        return true;
    }
}

/* Option bytes in `o` into `t`; kinds are recorded in wire order, the bad one included. */
static void tcp_options(struct ns__dec *d, struct ns_tcp_opts *t, struct ns_rd *o)
{
    /* each pass consumes at least one byte, and there are 40 at most */
    while (t->nkinds < NS_DEC_MAX_TCP_OPTS && ns_rd_left(o) > 0) {
        uint8_t kind = ns_rd_u8(o);
        t->kinds[t->nkinds++] = kind;
        if (kind == 0) {
            t->eol_pad = (uint8_t)ns_rd_left(o);
            return;
        }
        if (kind == 1) {
            continue;
        }
        uint8_t len = ns_rd_u8(o);
        if (!ns_rd_ok(o) || len < 2 || !tcp_opt_len_ok(kind, len)) {
            ns__dec_note(d, NS_DEC_TCP_OPT_INVALID);
            return;
        }
        struct ns_rd v = ns_rd_sub(o, (size_t)len - 2);
        if (!ns_rd_ok(&v)) {
            ns__dec_note(d, NS_DEC_TCP_OPT_INVALID);
            return;
        }
        switch (kind) {
        case 2:
            t->mss = ns_rd_be16(&v);
            t->has_mss = true;
            break;
        case 3:
            t->wscale = ns_rd_u8(&v);
            t->has_wscale = true;
            break;
        case 4:
            t->sack_permitted = true;
            break;
        case 5:
            t->sack_blocks = (uint8_t)((len - 2) / 8);
            break;
        case 8:
            t->ts_val = ns_rd_be32(&v);
            t->ts_ecr = ns_rd_be32(&v);
            t->has_ts = true;
            break;
        default:
            break;
        }
    }
}

/* Payload view after a header of hlen bytes; SNAPPED when the capture cut it. */
static void set_payload(struct ns_packet *p, struct ns_rd *r, uint32_t wire_payload)
{
    size_t left = ns_rd_left(r);
    p->payload = ns_rd_cur(r);
    if (left > wire_payload) {
        left = wire_payload;
    }
    p->payload_len = (uint32_t)left;
    p->payload_wire_len = wire_payload;
    if (left < wire_payload) {
        p->flags |= NS_PKT_F_SNAPPED;
    }
}

static int decode_tcp(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r, uint32_t wire_len)
{
    uint16_t sport = ns_rd_be16(r);
    uint16_t dport = ns_rd_be16(r);
    uint32_t seq = ns_rd_be32(r);
    uint32_t ack = ns_rd_be32(r);
    uint8_t off = ns_rd_u8(r);
    uint8_t flags = ns_rd_u8(r);
    uint16_t win = ns_rd_be16(r);
    (void)ns_rd_be16(r); /* checksum */
    uint16_t urg = ns_rd_be16(r);
    if (!ns_rd_ok(r)) {
        return ns__dec_fail(d, NS_ETRUNC, NS_DEC_TCP_TRUNC);
    }
    size_t hlen = (size_t)(off >> 4) * 4;
    if (hlen < 20) {
        return ns__dec_fail(d, NS_EMALFORMED, NS_DEC_TCP_HLEN_SMALL);
    }
    struct ns_rd o = ns_rd_sub(r, hlen - 20);
    if (!ns_rd_ok(&o)) {
        return ns__dec_fail(d, NS_ETRUNC, NS_DEC_TCP_TRUNC);
    }
    p->sport = sport;
    p->dport = dport;
    p->seq = seq;
    p->ack = ack;
    p->tcp_flags = flags;
    p->tcp_hdr_len = (uint8_t)hlen;
    p->win = win;
    p->urg = urg;
    if (hlen > 20) {
        tcp_options(d, &p->tcp_opts, &o);
    }
    /* the reader is bounded by wire_len, so the header fits in it */
    set_payload(p, r, wire_len - (uint32_t)hlen);
    p->flags |= NS_PKT_F_HAS_L4;
    return 0;
}

static int decode_udp(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r, uint32_t wire_len)
{
    uint16_t sport = ns_rd_be16(r);
    uint16_t dport = ns_rd_be16(r);
    uint16_t ulen = ns_rd_be16(r);
    (void)ns_rd_be16(r); /* checksum */
    if (!ns_rd_ok(r)) {
        return ns__dec_fail(d, NS_ETRUNC, NS_DEC_UDP_TRUNC);
    }
    p->sport = sport;
    p->dport = dport;
    if (ulen < 8 || ulen > wire_len) {
        return ns__dec_fail(d, NS_EMALFORMED, NS_DEC_UDP_LEN_INVALID);
    }
    set_payload(p, r, (uint32_t)ulen - 8);
    p->flags |= NS_PKT_F_HAS_L4;
    return 0;
}

static int decode_icmp(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r, uint32_t wire_len,
                       enum ns_dec_reason trunc)
{
    uint8_t type = ns_rd_u8(r);
    uint8_t code = ns_rd_u8(r);
    (void)ns_rd_be16(r); /* checksum */
    (void)ns_rd_be32(r); /* rest of header: identifier and sequence, MTU, pointer, ... */
    if (!ns_rd_ok(r)) {
        return ns__dec_fail(d, NS_ETRUNC, trunc);
    }
    p->icmp_type = type;
    p->icmp_code = code;
    p->sport = type;
    p->dport = code;
    set_payload(p, r, wire_len - 8);
    p->flags |= NS_PKT_F_HAS_L4;
    return 0;
}

static int decode_sctp(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r, uint32_t wire_len)
{
    uint16_t sport = ns_rd_be16(r);
    uint16_t dport = ns_rd_be16(r);
    (void)ns_rd_be32(r); /* verification tag */
    (void)ns_rd_be32(r); /* checksum */
    if (!ns_rd_ok(r)) {
        return ns__dec_fail(d, NS_ETRUNC, NS_DEC_SCTP_TRUNC);
    }
    p->sport = sport;
    p->dport = dport;
    set_payload(p, r, wire_len - 12);
    p->flags |= NS_PKT_F_HAS_L4;
    return 0;
}

int ns__decode_l4(struct ns__dec *d, struct ns_packet *p, const uint8_t *data, size_t len,
                  uint32_t wire_len)
{
    if (len > wire_len) {
        len = wire_len;
    }
    struct ns_rd r;
    ns_rd_init(&r, data, len, 0);
    p->l4 = data;
    switch (p->proto) {
    case NS_IPPROTO_TCP:
        return decode_tcp(d, p, &r, wire_len);
    case NS_IPPROTO_UDP:
        return decode_udp(d, p, &r, wire_len);
    case NS_IPPROTO_ICMP:
        return decode_icmp(d, p, &r, wire_len, NS_DEC_ICMP_TRUNC);
    case NS_IPPROTO_ICMPV6:
        return decode_icmp(d, p, &r, wire_len, NS_DEC_ICMPV6_TRUNC);
    case NS_IPPROTO_SCTP:
        return decode_sctp(d, p, &r, wire_len);
    default:
        p->payload = data;
        p->payload_len = (uint32_t)len;
        p->payload_wire_len = wire_len;
        return NS_ENOTSUP;
    }
}
