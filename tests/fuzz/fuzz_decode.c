/*
 * fuzz_decode.c - libFuzzer target for the decode stage (decode.h): link
 * layers, IPv4 / IPv6 with options and extension headers, TCP / UDP / ICMP /
 * ICMPv6 / SCTP.
 *
 * Input layout: the first byte picks the link type (modulo the table below),
 * the rest is the frame:
 *
 *   +-----------+---------------------------------------------+
 *   | link (1)  | frame bytes (caplen = input size - 1)        |
 *   +-----------+---------------------------------------------+
 *
 *   0 Ethernet   1 Linux SLL   2 Linux SLL2   3 BSD null   4 BSD loop
 *   5 raw (101)  6 IPv4 (228)  7 IPv6 (229)   8 raw (12)   9 raw (14)
 *   10 an unsupported link type (IEEE 802.11, 105)
 *
 * After the frame decode, a fragment's data and a decoded transport header
 * are handed to ns_decode_transport as a reassembled datagram would be. The
 * views the decoder returns are checked to lie inside the input; a broken
 * invariant aborts. Nothing is printed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsift/decode.h"
#include "netsift/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int fuzz_links[] = {
    NS_LINK_EN10MB,   NS_LINK_LINUX_SLL, NS_LINK_SLL2, NS_LINK_NULL,
    NS_LINK_LOOP,     NS_LINK_RAW,       NS_LINK_IPV4, NS_LINK_IPV6,
    NS_LINK_RAW_OLD1, NS_LINK_RAW_OLD2,  105,
};

#define NLINKS (sizeof(fuzz_links) / sizeof(fuzz_links[0]))

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

static void check_view(const uint8_t *v, size_t len, const uint8_t *lo, const uint8_t *hi)
{
    if (v == NULL) {
        return;
    }
    check(v >= lo && v <= hi);
    check(len <= (size_t)(hi - v));
}

static void check_packet(const struct ns_packet *p, const uint8_t *lo, const uint8_t *hi)
{
    check_view(p->l3, p->l3_len, lo, hi);
    check_view(p->payload, p->payload_len, lo, hi);
    check_view(p->frag_data, p->frag_len, lo, hi);
    check_view(p->l4, 0, lo, hi);
    check_view(p->mac_src, 6, lo, hi);
    check_view(p->mac_dst, 6, lo, hi);
    check(p->vlan_count <= NS_DEC_MAX_VLAN);
    check(p->tcp_opts.nkinds <= NS_DEC_MAX_TCP_OPTS);
    check(p->payload == NULL || p->payload_len <= p->payload_wire_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const uint8_t *frame = data + 1;
    size_t len = size - 1;
    const uint8_t *end = frame + len;

    struct ns_packet p;
    memset(&p, 0, sizeof(p));
    p.data = frame;
    p.caplen = (uint32_t)len;
    p.wirelen = (uint32_t)len;
    p.linktype = fuzz_links[data[0] % NLINKS];
    p.index = 1;

    struct ns_decode_stats st;
    memset(&st, 0, sizeof(st));
    enum ns_dec_reason why = NS_DEC_OK;
    int rc = ns_decode_packet(&p, &st, &why);
    check(rc == 0 || rc == NS_ETRUNC || rc == NS_EMALFORMED || rc == NS_ENOTSUP);
    check(st.frames == 1);
    check((unsigned)why < NS_DEC_REASON_COUNT);
    check(ns_dec_reason_name(why) != NULL);
    check_packet(&p, frame, end);
    if (rc == 0) {
        check(st.decoded == 1);
        check(p.ipver == 4 || p.ipver == 6);
    }

    char buf[64];
    (void)ns_addr_format(&p.src, buf, sizeof(buf));
    (void)ns_addr_format(&p.dst, buf, sizeof(buf));

    if (rc == 0 && (p.flags & NS_PKT_F_FRAGMENT) != 0 && p.frag_data != NULL) {
        /* as if defrag had completed the datagram with this fragment alone */
        struct ns_packet q = p;
        q.flags = NS_PKT_F_REASSEMBLED;
        rc = ns_decode_transport(&q, p.frag_data, p.frag_len, p.frag_len, &st, &why);
        check(rc == 0 || rc == NS_ETRUNC || rc == NS_EMALFORMED || rc == NS_ENOTSUP);
        check_packet(&q, frame, end);
    } else if (rc == 0 && p.l4 != NULL) {
        /* the transport header again, through the public entry point */
        struct ns_packet q = p;
        size_t l4_len = (size_t)(end - p.l4);
        uint32_t wire = p.l3_len - (uint32_t)(p.l4 - p.l3);
        if (l4_len > wire) {
            l4_len = wire;
        }
        rc = ns_decode_transport(&q, p.l4, l4_len, wire, &st, &why);
        check(rc == 0 || rc == NS_ETRUNC || rc == NS_EMALFORMED || rc == NS_ENOTSUP);
        check_packet(&q, frame, end);
        if (rc == 0) {
            check(q.sport == p.sport && q.dport == p.dport);
        }
    }
    return 0;
}
