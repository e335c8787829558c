/*
 * decode.h - zero-copy decoding of one captured frame into a struct ns_packet.
 *
 * Link layers: Ethernet II (DLT_EN10MB) with 802.1Q / 802.1ad / QinQ tags,
 * Linux cooked capture v1 (DLT_LINUX_SLL, 113) and v2 (DLT_LINUX_SLL2, 276),
 * raw IP (DLT_RAW 12/14, LINKTYPE_RAW 101, LINKTYPE_IPV4 228, LINKTYPE_IPV6
 * 229), BSD null / loopback (DLT_NULL 0, DLT_LOOP 108; AF value in either
 * byte order). Network: IPv4 with options (RFC 791), IPv6 with extension
 * headers hop-by-hop, routing, fragment, destination options and AH (RFC
 * 8200, RFC 4302). Transport: TCP with options MSS, window scale, SACK
 * permitted, SACK, timestamps (RFC 9293, RFC 7323, RFC 2018), UDP (RFC 768),
 * ICMP (RFC 792), ICMPv6 (RFC 4443).
 *
 * Every byte is read through struct ns_rd. A frame that lies about a length
 * is classified with a reason (enum ns_dec_reason) and counted in the
 * decoder's stats; it is never read past its end.
 *
 * Snap-length cut frames: when the IP header and the transport header are
 * present but the payload was cut by the capture's snap length, the packet
 * still decodes (payload_len is what was captured, NS_PKT_F_SNAPPED is set);
 * such frames are real traffic and flows must count them, as tshark does.
 */
#ifndef NETSIFT_DECODE_H
#define NETSIFT_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Link types we decode (values are the pcap LINKTYPE_ numbers). */
#define NS_LINK_NULL      0
#define NS_LINK_EN10MB    1
#define NS_LINK_RAW_OLD1  12
#define NS_LINK_RAW_OLD2  14
#define NS_LINK_RAW       101
#define NS_LINK_LOOP      108
#define NS_LINK_LINUX_SLL 113
#define NS_LINK_IPV4      228
#define NS_LINK_IPV6      229
#define NS_LINK_SLL2      276

#define NS_IPPROTO_HOPOPTS  0
#define NS_IPPROTO_ICMP     1
#define NS_IPPROTO_TCP      6
#define NS_IPPROTO_UDP      17
#define NS_IPPROTO_ROUTING  43
#define NS_IPPROTO_FRAGMENT 44
#define NS_IPPROTO_AH       51
#define NS_IPPROTO_ICMPV6   58
#define NS_IPPROTO_NONE     59
#define NS_IPPROTO_DSTOPTS  60
#define NS_IPPROTO_SCTP     132

#define NS_TCP_FIN 0x01
#define NS_TCP_SYN 0x02
#define NS_TCP_RST 0x04
#define NS_TCP_PSH 0x08
#define NS_TCP_ACK 0x10
#define NS_TCP_URG 0x20
#define NS_TCP_ECE 0x40
#define NS_TCP_CWR 0x80

/* Caps on loops over untrusted structure (STYLE.md B5.6). */
#define NS_DEC_MAX_VLAN     4  /* stacked VLAN tags */
#define NS_DEC_MAX_IPV6_EXT 16 /* IPv6 extension headers */
#define NS_DEC_MAX_TCP_OPTS 40 /* TCP options (40 option bytes at most) */

/*
 * Reasons a frame is not (fully) decoded. Each has its own counter. The
 * X-macro gives the enum and the snake_case names used in --stats output.
 */
#define NS_DEC_REASON_MAP(X)                                                                       \
    X(LINK_UNSUPPORTED, "link_unsupported")                                                        \
    X(ETH_TRUNC, "eth_truncated")                                                                  \
    X(VLAN_TRUNC, "vlan_truncated")                                                                \
    X(VLAN_TOO_DEEP, "vlan_too_deep")                                                              \
    X(SLL_TRUNC, "sll_truncated")                                                                  \
    X(NULL_TRUNC, "null_truncated")                                                                \
    X(NULL_FAMILY, "null_unknown_family")                                                          \
    X(L3_UNSUPPORTED, "l3_not_ip")                                                                 \
    X(IPV4_TRUNC, "ipv4_truncated")                                                                \
    X(IPV4_VERSION, "ipv4_bad_version")                                                            \
    X(IPV4_HLEN_SMALL, "ipv4_header_length_small")                                                 \
    X(IPV4_TOTLEN_SMALL, "ipv4_total_length_small")                                                \
    X(IPV4_OPT_INVALID, "ipv4_option_invalid")                                                     \
    X(IPV6_TRUNC, "ipv6_truncated")                                                                \
    X(IPV6_VERSION, "ipv6_bad_version")                                                            \
    X(IPV6_EXT_TRUNC, "ipv6_ext_truncated")                                                        \
    X(IPV6_EXT_TOO_MANY, "ipv6_ext_too_many")                                                      \
    X(IPV6_FRAG_INVALID, "ipv6_fragment_invalid")                                                  \
    X(IPV4_FRAG_INVALID, "ipv4_fragment_invalid")                                                  \
    X(TCP_TRUNC, "tcp_truncated")                                                                  \
    X(TCP_HLEN_SMALL, "tcp_header_length_small")                                                   \
    X(TCP_OPT_INVALID, "tcp_option_invalid")                                                       \
    X(UDP_TRUNC, "udp_truncated")                                                                  \
    X(UDP_LEN_INVALID, "udp_length_invalid")                                                       \
    X(ICMP_TRUNC, "icmp_truncated")                                                                \
    X(ICMPV6_TRUNC, "icmpv6_truncated")                                                            \
    X(PPPOE_TRUNC, "pppoe_truncated")                                                              \
    X(SCTP_TRUNC, "sctp_truncated")

enum ns_dec_reason {
    NS_DEC_OK = 0,
#define NS_DEC_REASON_ENUM(name, text) NS_DEC_##name,
    NS_DEC_REASON_MAP(NS_DEC_REASON_ENUM)
#undef NS_DEC_REASON_ENUM
        NS_DEC_REASON_COUNT
};

/* snake_case name of a reason ("ipv4_truncated"); "ok" for NS_DEC_OK, "unknown" out of range. */
const char *ns_dec_reason_name(enum ns_dec_reason r);

/* An IPv4 or IPv6 address; IPv4 uses the first 4 bytes, the rest are zero. */
struct ns_addr {
    uint8_t family; /* 4 or 6; 0 when absent */
    uint8_t a[16];
};

/* Decoded TCP options, in the form p0f and the reassembler need. */
struct ns_tcp_opts {
    uint16_t mss;
    uint8_t wscale;
    bool has_mss;
    bool has_wscale;
    bool sack_permitted;
    bool has_ts;
    uint8_t sack_blocks; /* number of SACK blocks */
    uint32_t ts_val;
    uint32_t ts_ecr;
    uint8_t kinds[NS_DEC_MAX_TCP_OPTS]; /* option kinds in wire order (layout) */
    uint8_t nkinds;
    uint8_t eol_pad; /* bytes after an EOL option */
};

/* Packet flags. */
#define NS_PKT_F_SNAPPED     0x01 /* payload cut by the snap length */
#define NS_PKT_F_FRAGMENT    0x02 /* an IP fragment: l4 fields absent, frag_* set */
#define NS_PKT_F_REASSEMBLED 0x04 /* a datagram rebuilt by defrag */
#define NS_PKT_F_HAS_L4      0x08 /* sport/dport (or ICMP type/code) are valid */
#define NS_PKT_F_TRAILER     0x10 /* bytes after the IP total length (Ethernet padding) */

/*
 * One decoded frame. All pointers are views into the frame (or, for a
 * reassembled datagram, into defrag's buffer) and are valid until the next
 * frame is read from the source.
 */
struct ns_packet {
    /* the frame, as read */
    const uint8_t *data;
    uint32_t caplen;
    uint32_t wirelen;
    uint64_t ts_ns; /* nanoseconds since the epoch, UTC */
    int linktype;
    uint64_t index;       /* 1-based frame number in its input */
    const char *src_name; /* input name, for messages; may be NULL */

    uint32_t flags; /* NS_PKT_F_... */

    /* link layer */
    const uint8_t *mac_src; /* 6 bytes, or NULL */
    const uint8_t *mac_dst;
    uint16_t vlan[NS_DEC_MAX_VLAN]; /* VLAN IDs, outermost first */
    uint8_t vlan_count;
    uint16_t ethertype; /* of the network layer */

    /* network layer */
    uint8_t ipver; /* 4, 6, or 0 if not IP */
    struct ns_addr src;
    struct ns_addr dst;
    uint8_t ttl;         /* IPv4 TTL or IPv6 hop limit */
    uint8_t tos;         /* IPv4 TOS or IPv6 traffic class */
    uint16_t ip_id;      /* IPv4 identification */
    bool df;             /* IPv4 don't fragment */
    uint32_t flow_label; /* IPv6 */
    uint16_t ip_hdr_len; /* IPv4 header incl. options, or IPv6 header + extension headers */
    uint16_t ip_opt_len; /* IPv4 option bytes */
    const uint8_t *l3;   /* start of the IP header */
    uint32_t l3_len;     /* IP length from its header, clamped to captured bytes */
    uint8_t proto;       /* upper-layer protocol (after IPv6 extension headers) */

    /* fragment (NS_PKT_F_FRAGMENT) */
    uint32_t frag_id;         /* IPv4 identification or IPv6 fragment id */
    uint32_t frag_off;        /* offset in bytes */
    bool frag_more;           /* more fragments follow */
    const uint8_t *frag_data; /* fragment payload */
    uint32_t frag_len;
    uint32_t frag_unfrag_len; /* IPv6: bytes of the unfragmentable part */

    /* transport layer (NS_PKT_F_HAS_L4) */
    uint16_t sport; /* for ICMP: type in sport, code in dport (see below) */
    uint16_t dport;
    uint8_t icmp_type;
    uint8_t icmp_code;
    uint8_t tcp_flags;
    uint8_t tcp_hdr_len;
    uint32_t seq;
    uint32_t ack;
    uint16_t win;
    uint16_t urg;
    struct ns_tcp_opts tcp_opts;
    const uint8_t *l4; /* start of the transport header */
    const uint8_t *payload;
    uint32_t payload_len;      /* captured payload bytes */
    uint32_t payload_wire_len; /* payload length the headers declare */
};

struct ns_decode_stats {
    uint64_t frames;  /* frames given to the decoder */
    uint64_t decoded; /* frames with a valid IP header (fragments included) */
    uint64_t non_ip;  /* frames without IP (ARP, LLDP, ...): not malformed */
    uint64_t snapped; /* frames whose payload was cut by the snap length */
    uint64_t reason[NS_DEC_REASON_COUNT];
};

/*
 * Decode the frame in p->data / p->caplen / p->linktype (the caller sets
 * those and the frame metadata; everything else is filled here).
 *
 * Returns 0 when the frame carries IP that could be decoded (fragments
 * included: NS_PKT_F_FRAGMENT, and the transport header is not parsed),
 * NS_ENOTSUP for non-IP frames or an unsupported link type, NS_ETRUNC or
 * NS_EMALFORMED for frames that lie about their lengths. `*reason` (may be
 * NULL) gets the reason; `stats` (may be NULL) is updated.
 *
 * Counting: every call bumps stats->frames; a 0 return bumps decoded (and
 * snapped when NS_PKT_F_SNAPPED is set); a non-IP frame (reason
 * NS_DEC_L3_UNSUPPORTED) bumps non_ip only; every other failure bumps
 * reason[*reason] (LINK_UNSUPPORTED, NULL_FAMILY, the _TRUNC and invalid
 * reasons).
 *
 * Non-fatal anomalies: a bad IPv4 or TCP option length (IPV4_OPT_INVALID,
 * TCP_OPT_INVALID) stops the option walk but not the decode, since the header
 * length still says where the next layer starts: the call returns 0, the
 * reason is counted in stats->reason[] and reported in *reason. So on a 0
 * return *reason is NS_DEC_OK or one of those two.
 *
 * An IPv4 total length of 0 (TCP segmentation offload on the capturing host)
 * and an IPv6 payload length of 0 before a hop-by-hop header (jumbogram)
 * mean "the rest of the frame".
 * Without NS_PKT_F_HAS_L4, payload / payload_len / payload_wire_len describe
 * the IP payload after the IP headers (for a fragment: the fragment data).
 */
int ns_decode_packet(struct ns_packet *p, struct ns_decode_stats *stats,
                     enum ns_dec_reason *reason);

/*
 * Decode the transport header of (data, len), an IP payload of protocol
 * p->proto (used for a reassembled datagram). Sets the transport fields of p.
 * Returns 0, NS_ETRUNC or NS_EMALFORMED (with *reason), or NS_ENOTSUP for a
 * protocol without ports (the packet stays valid at the IP level). len is
 * clamped to wire_len; a failure is counted in stats->reason[] (frames and
 * decoded are left to ns_decode_packet).
 */
int ns_decode_transport(struct ns_packet *p, const uint8_t *data, size_t len, uint32_t wire_len,
                        struct ns_decode_stats *stats, enum ns_dec_reason *reason);

/*
 * Format an address into buf (at least 46 bytes); returns buf. An absent
 * address (family 0) or a buffer too small gives "-" (or "" if size < 2).
 */
char *ns_addr_format(const struct ns_addr *a, char *buf, size_t size);

#endif
