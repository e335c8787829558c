/*
 * decode_link.c - link layers: Ethernet II with 802.1Q / 802.1ad / QinQ tags
 * and PPPoE sessions, Linux cooked capture v1 and v2, BSD null / loopback,
 * raw IP.
 *
 * Specifications: IEEE 802.3 (Ethernet II and the 802.3 length field), IEEE
 * 802.1Q (C-tag 0x8100), IEEE 802.1ad (S-tag 0x88a8; 0x9100 is the older
 * vendor QinQ tag), RFC 2516 (PPPoE), RFC 1661 (PPP protocol field and its
 * compression), RFC 5072 (IPv6 over PPP, protocol 0x0057), tcpdump.org
 * link-layer header types: LINKTYPE_LINUX_SLL (113), LINKTYPE_LINUX_SLL2
 * (276), LINKTYPE_NULL (0), LINKTYPE_LOOP (108), LINKTYPE_RAW (101),
 * LINKTYPE_IPV4 (228), LINKTYPE_IPV6 (229).
 *
 * Ethernet II, with optional tags (each 4 bytes, outermost first):
 *
 *   +-------------------+-------------------+---------+
 *   | destination (6)   | source (6)        | type(2) |
 *   +-------------------+-------------------+---------+
 *   tag: | TPID 0x8100/0x88a8/0x9100 (2) | PCP(3) DEI(1) VID(12) | type (2) |
 *        (the TPID is the previous "type"; the tag adds TCI and the next type)
 *
 * PPPoE session stage (EtherType 0x8864), then PPP:
 *
 *   | VER(4)=1 | TYPE(4)=1 | CODE(8)=0 | SESSION_ID (16) | LENGTH (16) |
 *   | PPP protocol (16, or 8 when compressed: odd first byte) | ...
 *
 * Linux cooked v1 (16 bytes):
 *
 *   | packet type (2) | ARPHRD type (2) | address length (2) |
 *   | address (8, first `address length` bytes used) | protocol (2) |
 *
 * Linux cooked v2 (20 bytes):
 *
 *   | protocol (2) | reserved (2) | interface index (4) |
 *   | ARPHRD type (2) | packet type (1) | address length (1) | address (8) |
 *
 * BSD null / loopback (4 bytes): the address family, in the capturing host's
 * byte order for DLT_NULL, in network order for DLT_LOOP. AF_INET is 2
 * everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD, OpenBSD, classic BSD),
 * 28 (FreeBSD, DragonFly) or 30 (macOS, iOS).
 */
#include "decode_int.h"

static bool is_vlan_tpid(uint16_t type)
{
    return type == NS__ETH_VLAN || type == NS__ETH_QINQ || type == NS__ETH_QINQ2;
}

/* PPPoE session header and PPP protocol field; sets *type to the EtherType of what follows. */
static int decode_pppoe(struct ns__dec *d, struct ns_rd *r, uint16_t *type)
{
    uint8_t vertype = ns_rd_u8(r);
    uint8_t code = ns_rd_u8(r);
    (void)ns_rd_be16(r); /* session id */
    (void)ns_rd_be16(r); /* length of the PPP frame */
    uint8_t b0 = ns_rd_u8(r);
    uint16_t proto = b0;
    if ((b0 & 1) == 0) {
        /* uncompressed: two bytes, the first even (RFC 1661 section 2) */
        proto = (uint16_t)(b0 << 8 | ns_rd_u8(r));
    }
    if (!ns_rd_ok(r)) {
        return ns__dec_fail(d, NS_ETRUNC, NS_DEC_PPPOE_TRUNC);
    }
    if (vertype != 0x11 || code != 0) {
        return ns__dec_fail(d, NS_ENOTSUP, NS_DEC_L3_UNSUPPORTED);
    }
    switch (proto) {
    case 0x0021:
        *type = NS__ETH_IPV4;
        return 0;
    case 0x0057:
        *type = NS__ETH_IPV6;
        return 0;
    default:
        /* LCP, IPCP, CHAP, ...: control traffic, not IP */
        return ns__dec_fail(d, NS_ENOTSUP, NS_DEC_L3_UNSUPPORTED);
    }
}

int ns__decode_ethertype(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r, uint16_t type)
{
    /* each pass consumes 4 bytes; the tag count is capped */
    while (is_vlan_tpid(type)) {
        if (p->vlan_count >= NS_DEC_MAX_VLAN) {
            return ns__dec_fail(d, NS_EMALFORMED, NS_DEC_VLAN_TOO_DEEP);
        }
        uint16_t tci = ns_rd_be16(r);
        type = ns_rd_be16(r);
        if (!ns_rd_ok(r)) {
            return ns__dec_fail(d, NS_ETRUNC, NS_DEC_VLAN_TRUNC);
        }
        p->vlan[p->vlan_count++] = tci & 0x0fff;
    }
    if (type == NS__ETH_PPPOES) {
        int rc = decode_pppoe(d, r, &type);
        if (rc != 0) {
            p->ethertype = NS__ETH_PPPOES;
            return rc;
        }
    }
    p->ethertype = type;
    switch (type) {
    case NS__ETH_IPV4:
        return ns__decode_ipv4(d, p, r);
    case NS__ETH_IPV6:
        return ns__decode_ipv6(d, p, r);
    default:
        /* ARP, LLDP, loopback test, 802.3 length (< 0x0600) with LLC, ... */
        return ns__dec_fail(d, NS_ENOTSUP, NS_DEC_L3_UNSUPPORTED);
    }
}

int ns__decode_eth(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r)
{
    const uint8_t *dst = ns_rd_bytes(r, 6);
    const uint8_t *src = ns_rd_bytes(r, 6);
    uint16_t type = ns_rd_be16(r);
    if (!ns_rd_ok(r)) {
        return ns__dec_fail(d, NS_ETRUNC, NS_DEC_ETH_TRUNC);
    }
    p->mac_dst = dst;
    p->mac_src = src;
    return ns__decode_ethertype(d, p, r, type);
}

int ns__decode_sll(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r)
{
    (void)ns_rd_be16(r); /* packet type */
    (void)ns_rd_be16(r); /* ARPHRD type */
    uint16_t halen = ns_rd_be16(r);
    const uint8_t *addr = ns_rd_bytes(r, 8);
    uint16_t proto = ns_rd_be16(r);
    if (!ns_rd_ok(r)) {
        return ns__dec_fail(d, NS_ETRUNC, NS_DEC_SLL_TRUNC);
    }
    if (halen == 6) {
        p->mac_src = addr;
    }
    return ns__decode_ethertype(d, p, r, proto);
}

int ns__decode_sll2(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r)
{
    uint16_t proto = ns_rd_be16(r);
    (void)ns_rd_be16(r); /* reserved */
    (void)ns_rd_be32(r); /* interface index */
    (void)ns_rd_be16(r); /* ARPHRD type */
    (void)ns_rd_u8(r);   /* packet type */
    uint8_t halen = ns_rd_u8(r);
    const uint8_t *addr = ns_rd_bytes(r, 8);
    if (!ns_rd_ok(r)) {
        return ns__dec_fail(d, NS_ETRUNC, NS_DEC_SLL_TRUNC);
    }
    if (halen == 6) {
        p->mac_src = addr;
    }
    return ns__decode_ethertype(d, p, r, proto);
}

static bool is_af_inet6(uint32_t af)
{
    return af == 10 || af == 24 || af == 28 || af == 30;
}

int ns__decode_null(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r, bool loop)
{
    const uint8_t *b = ns_rd_bytes(r, 4);
    if (b == NULL) {
        return ns__dec_fail(d, NS_ETRUNC, NS_DEC_NULL_TRUNC);
    }
    uint32_t be = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    uint32_t le = (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
    if (loop) {
        le = be; /* DLT_LOOP is always network order */
    }
    if (be == 2 || le == 2) {
        p->ethertype = NS__ETH_IPV4;
        return ns__decode_ipv4(d, p, r);
    }
    if (is_af_inet6(be) || is_af_inet6(le)) {
        p->ethertype = NS__ETH_IPV6;
        return ns__decode_ipv6(d, p, r);
    }
    return ns__dec_fail(d, NS_ENOTSUP, NS_DEC_NULL_FAMILY);
}

int ns__decode_raw(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r)
{
    /* the version nibble says which; anything but 6 goes to IPv4, which rejects it */
    struct ns_rd peek = *r;
    uint8_t vers = ns_rd_u8(&peek);
    if (ns_rd_ok(&peek) && vers >> 4 == 6) {
        p->ethertype = NS__ETH_IPV6;
        return ns__decode_ipv6(d, p, r);
    }
    p->ethertype = NS__ETH_IPV4;
    return ns__decode_ipv4(d, p, r);
}
