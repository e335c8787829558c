/*
 * test_decode.c - the decode stage (decode.h) on hand-written frames.
 *
 * Every sample below is a frame written byte by byte from the specifications
 * the decoders cite (IEEE 802.3 / 802.1Q / 802.1ad, RFC 2516, the tcpdump.org
 * LINKTYPE_ list, RFC 791, RFC 8200, RFC 4302, RFC 9293, RFC 7323, RFC 768,
 * RFC 792, RFC 4443) and checked with tshark. Each is decoded whole with its
 * fields asserted, then as every one of its prefixes (expecting the exact
 * truncation reason of the layer that was cut, or a snapped decode once the
 * headers are complete), then with single fields made invalid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netsift/decode.h"
#include "netsift/err.h"

/* ---------------------------------------------------------------- samples */

/* Ethernet II, IPv4, TCP SYN with the Linux option layout (74 bytes). */
static const uint8_t eth_ipv4_tcp_syn[] = {
    /* Ethernet @0 */
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, /* destination 00:11:22:33:44:55 */
    0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, /* source 66:77:88:99:aa:bb */
    0x08, 0x00,                         /* EtherType IPv4 */
    /* IPv4 @14 */
    0x45, 0x00, 0x00, 0x3c, /* version 4, IHL 5, TOS 0, total length 60 */
    0x1c, 0x46, 0x40, 0x00, /* id 0x1c46, DF, offset 0 */
    0x40, 0x06, 0x00, 0x00, /* TTL 64, protocol TCP, checksum (unchecked) */
    0xc0, 0xa8, 0x01, 0x02, /* source 192.168.1.2 */
    0xc0, 0xa8, 0x01, 0x03, /* destination 192.168.1.3 */
    /* TCP @34 */
    0xc3, 0x50, 0x00, 0x50, /* source port 50000, destination port 80 */
    0x11, 0x22, 0x33, 0x44, /* sequence 0x11223344 */
    0x00, 0x00, 0x00, 0x00, /* acknowledgment 0 */
    0xa0, 0x02, 0xfa, 0xf0, /* data offset 10 (40 bytes), SYN, window 64240 */
    0x00, 0x00, 0x00, 0x00, /* checksum, urgent pointer 0 */
    /* TCP options @54 */
    0x02, 0x04, 0x05, 0xb4, /* MSS 1460 */
    0x04, 0x02,             /* SACK permitted */
    0x08, 0x0a,             /* timestamps, length 10 */
    0x00, 0x01, 0x02, 0x03, /*   TSval 66051 */
    0x00, 0x00, 0x00, 0x00, /*   TSecr 0 */
    0x01,                   /* @70 NOP */
    0x03, 0x03, 0x07,       /* @71 window scale 7 */
};

/* Ethernet, 802.1Q tag, IPv4 with a Router Alert option, UDP, padding (60 bytes). */
static const uint8_t eth_vlan_ipv4opt_udp[] = {
    /* Ethernet @0 */
    0x00,
    0x00,
    0x5e,
    0x00,
    0x53,
    0x01, /* destination */
    0x00,
    0x00,
    0x5e,
    0x00,
    0x53,
    0x02, /* source */
    0x81,
    0x00, /* TPID 802.1Q */
    /* tag @14 */
    0x60,
    0x64, /* PCP 3, DEI 0, VID 100 */
    0x08,
    0x00, /* EtherType IPv4 */
    /* IPv4 @18 */
    0x46,
    0x00,
    0x00,
    0x24, /* version 4, IHL 6 (24 bytes), total length 36 */
    0xab,
    0xcd,
    0x00,
    0x00, /* id 0xabcd, no flags */
    0x01,
    0x11,
    0x00,
    0x00, /* TTL 1, protocol UDP */
    0x0a,
    0x00,
    0x00,
    0x01, /* source 10.0.0.1 */
    0x0a,
    0x00,
    0x00,
    0x02, /* destination 10.0.0.2 */
    0x94,
    0x04,
    0x00,
    0x00, /* @38 option Router Alert (RFC 2113), length 4 */
    /* UDP @42 */
    0x14,
    0xe9,
    0x00,
    0x35, /* source port 5353, destination port 53 */
    0x00,
    0x0c,
    0x00,
    0x00, /* length 12, checksum 0 */
    0xde,
    0xad,
    0xbe,
    0xef, /* payload */
    /* Ethernet padding @54 (not part of the datagram) */
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
};

/* Ethernet, 802.1ad S-tag 200, 802.1Q C-tag 2001, IPv6, ICMPv6 echo request (74 bytes). */
static const uint8_t eth_qinq_ipv6_icmp6[] = {
    /* Ethernet @0 */
    0x33, 0x33, 0x00, 0x00, 0x00, 0x01, /* destination */
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x03, /* source */
    0x88, 0xa8,                         /* TPID 802.1ad */
    0x00, 0xc8,                         /* @14 VID 200 */
    0x81, 0x00,                         /* TPID 802.1Q */
    0x07, 0xd1,                         /* @18 VID 2001 */
    0x86, 0xdd,                         /* EtherType IPv6 */
    /* IPv6 @22 */
    0x6b, 0x81, 0x23, 0x45, /* version 6, traffic class 0xb8, flow label 0x12345 */
    0x00, 0x0c, 0x3a, 0xff, /* payload length 12, next header ICMPv6, hop limit 255 */
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* source 2001:db8::1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* */
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* destination 2001:db8::2 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* */
    /* ICMPv6 @62 */
    0x80, 0x00, 0x00, 0x00, /* type 128 echo request, code 0, checksum */
    0x12, 0x34, 0x00, 0x01, /* identifier 0x1234, sequence 1 */
    0x61, 0x62, 0x63, 0x64, /* data "abcd" */
};

/* Ethernet, 802.1Q VID 939, PPPoE session, PPP IPv6, UDP (74 bytes). */
static const uint8_t eth_vlan_pppoe_ipv6_udp[] = {
    /* Ethernet @0 */
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x04, /* destination */
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x05, /* source */
    0x81, 0x00,                         /* TPID 802.1Q */
    0x03, 0xab,                         /* @14 VID 939 */
    0x88, 0x64,                         /* EtherType PPPoE session */
    /* PPPoE @18 */
    0x11, 0x00, /* version 1, type 1, code 0 (session data) */
    0x12, 0x34, /* session id */
    0x00, 0x32, /* length 50: PPP protocol (2) + IPv6 (48) */
    0x00, 0x57, /* @24 PPP protocol IPv6 */
    /* IPv6 @26 */
    0x60, 0x00, 0x00, 0x00, /* version 6 */
    0x00, 0x08, 0x11, 0x40, /* payload length 8, next header UDP, hop limit 64 */
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* source 2001:db8::a */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, /* */
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* destination 2001:db8::b */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, /* */
    /* UDP @66 */
    0x04, 0xd2, 0x16, 0x2e, /* source port 1234, destination port 5678 */
    0x00, 0x08, 0x00, 0x00, /* length 8 (no data), checksum */
};

/* Linux cooked v1, IPv4, ICMP echo request (48 bytes). */
static const uint8_t sll_ipv4_icmp[] = {
    /* SLL @0 */
    0x00, 0x00,                                     /* packet type 0: to us */
    0x00, 0x01,                                     /* ARPHRD_ETHER */
    0x00, 0x06,                                     /* address length 6 */
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x06, 0x00, 0x00, /* address, 2 unused bytes */
    0x08, 0x00,                                     /* protocol IPv4 */
    /* IPv4 @16 */
    0x45, 0x00, 0x00, 0x20, /* version 4, IHL 5, total length 32 */
    0x00, 0x01, 0x00, 0x00, /* id 1 */
    0x40, 0x01, 0x00, 0x00, /* TTL 64, protocol ICMP */
    0xc6, 0x33, 0x64, 0x01, /* source 198.51.100.1 */
    0xc6, 0x33, 0x64, 0x02, /* destination 198.51.100.2 */
    /* ICMP @36 */
    0x08, 0x00, 0x00, 0x00, /* type 8 echo request, code 0, checksum */
    0x00, 0x07, 0x00, 0x01, /* identifier 7, sequence 1 */
    0x70, 0x69, 0x6e, 0x67, /* data "ping" */
};

/* Linux cooked v2, IPv4, UDP DHCP (48 bytes). */
static const uint8_t sll2_ipv4_udp[] = {
    /* SLL2 @0 */
    0x08, 0x00,                                     /* protocol IPv4 */
    0x00, 0x00,                                     /* reserved */
    0x00, 0x00, 0x00, 0x02,                         /* interface index 2 */
    0x00, 0x01,                                     /* ARPHRD_ETHER */
    0x04,                                           /* packet type 4: outgoing */
    0x06,                                           /* address length 6 */
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x07, 0x00, 0x00, /* address, 2 unused bytes */
    /* IPv4 @20 */
    0x45, 0x10, 0x00, 0x1c, /* version 4, IHL 5, TOS 0x10, total length 28 */
    0xbe, 0xef, 0x40, 0x00, /* id 0xbeef, DF */
    0x80, 0x11, 0x00, 0x00, /* TTL 128, protocol UDP */
    0xc0, 0x00, 0x02, 0x0a, /* source 192.0.2.10 */
    0xc0, 0x00, 0x02, 0x14, /* destination 192.0.2.20 */
    /* UDP @40 */
    0x00, 0x44, 0x00, 0x43, /* source port 68, destination port 67 */
    0x00, 0x08, 0x00, 0x00, /* length 8, checksum */
};

/* BSD null, AF_INET in little-endian host order, IPv4, TCP PSH|ACK with 8 data bytes (52). */
static const uint8_t null_le_ipv4_tcp[] = {
    0x02, 0x00, 0x00, 0x00, /* AF_INET = 2, little endian */
    /* IPv4 @4 */
    0x45, 0x00, 0x00, 0x30, /* version 4, IHL 5, total length 48 */
    0x12, 0x34, 0x40, 0x00, /* id 0x1234, DF */
    0x40, 0x06, 0x00, 0x00, /* TTL 64, protocol TCP */
    0x7f, 0x00, 0x00, 0x01, /* source 127.0.0.1 */
    0x7f, 0x00, 0x00, 0x01, /* destination 127.0.0.1 */
    /* TCP @24 */
    0xc1, 0xbb, 0x00, 0x68, /* source port 49595, destination port 104 */
    0x00, 0x00, 0x00, 0x01, /* sequence 1 */
    0x00, 0x00, 0x00, 0x02, /* acknowledgment 2 */
    0x50, 0x18, 0x18, 0xeb, /* data offset 5, PSH|ACK, window 6379 */
    0x00, 0x00, 0x00, 0x00, /* checksum, urgent pointer */
    /* data @44 */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, /* start of a DICOM A-ASSOCIATE-RQ */
};

/* BSD null, AF_INET6 = 30 (macOS) in big-endian order, IPv6, TCP FIN|ACK (64 bytes). */
static const uint8_t null_be_ipv6_tcp[] = {
    0x00, 0x00, 0x00, 0x1e, /* AF_INET6 = 30, big endian */
    /* IPv6 @4 */
    0x60, 0x00, 0x00, 0x00,                         /* version 6 */
    0x00, 0x14, 0x06, 0x40,                         /* payload length 20, TCP, hop limit 64 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* source ::1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* destination ::1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* */
    /* TCP @44 */
    0x1f, 0x90, 0xe5, 0xaf, /* source port 8080, destination port 58799 */
    0xff, 0xff, 0xff, 0xf0, /* sequence 0xfffffff0 */
    0x80, 0x00, 0x00, 0x00, /* acknowledgment 0x80000000 */
    0x50, 0x11, 0x01, 0x00, /* data offset 5, FIN|ACK, window 256 */
    0x00, 0x00, 0x00, 0x00, /* checksum, urgent pointer */
};

/* DLT_LOOP, AF_INET6 = 24 in network order, IPv6, no next header (44 bytes). */
static const uint8_t loop_ipv6_nonext[] = {
    0x00, 0x00, 0x00, 0x18, /* AF_INET6 = 24 (OpenBSD), network order */
    /* IPv6 @4 */
    0x60, 0x00, 0x00, 0x00,                         /* version 6 */
    0x00, 0x00, 0x3b, 0x01,                         /* payload length 0, no next header, limit 1 */
    0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* source fe80::1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* */
    0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* destination ff02::1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* */
};

/*
 * Raw IPv6 with hop-by-hop, destination options and a type 2 routing header
 * before UDP (90 bytes).
 */
static const uint8_t raw_ipv6_ext_udp[] = {
    /* IPv6 @0 */
    0x60, 0x00, 0x00, 0x00,                         /* version 6 */
    0x00, 0x32, 0x00, 0x40,                         /* payload length 50, hop-by-hop, limit 64 */
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* source 2001:db8::1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* */
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* destination 2001:db8::2 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* */
    /* hop-by-hop @40 */
    0x3c, 0x00,                         /* next: destination options, length 0 (8 bytes) */
    0x01, 0x04, 0x00, 0x00, 0x00, 0x00, /* PadN, 4 bytes */
    /* destination options @48 */
    0x2b, 0x00,                         /* next: routing, length 0 (8 bytes) */
    0x01, 0x04, 0x00, 0x00, 0x00, 0x00, /* PadN, 4 bytes */
    /* routing @56 */
    0x11, 0x02,                                     /* next: UDP, length 2 (24 bytes) */
    0x02, 0x01,                                     /* routing type 2, segments left 1 */
    0x00, 0x00, 0x00, 0x00,                         /* reserved */
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* home address 2001:db8::99 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x99, /* */
    /* UDP @80 */
    0x02, 0x22, 0x02, 0x23, /* source port 546, destination port 547 */
    0x00, 0x0a, 0x00, 0x00, /* length 10, checksum */
    0x01, 0x02,             /* data */
};

/* LINKTYPE_IPV6: hop-by-hop, then a first fragment (M set) of a TCP datagram (72 bytes). */
static const uint8_t ipv6_hbh_frag[] = {
    /* IPv6 @0 */
    0x60, 0x00, 0x00, 0x00,                         /* version 6 */
    0x00, 0x20, 0x00, 0x40,                         /* payload length 32, hop-by-hop, limit 64 */
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* source 2001:db8::1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* */
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* destination 2001:db8::2 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* */
    /* hop-by-hop @40 */
    0x2c, 0x00,                         /* next: fragment, length 0 (8 bytes) */
    0x01, 0x04, 0x00, 0x00, 0x00, 0x00, /* PadN */
    /* fragment @48 */
    0x06, 0x00,             /* next: TCP, reserved */
    0x00, 0x01,             /* offset 0, M = 1 */
    0xde, 0xad, 0xbe, 0xef, /* identification 0xdeadbeef */
    /* fragment data @56: 16 bytes, the start of a TCP header */
    0x00, 0x50, 0xc3, 0x50, 0x00, 0x00, 0x00, 0x01, /* */
    0x00, 0x00, 0x00, 0x00, 0x50, 0x10, 0x10, 0x00, /* */
};

/* LINKTYPE_IPV4: the last fragment (offset 1480, MF clear) of a UDP datagram (28 bytes). */
static const uint8_t ipv4_last_frag[] = {
    0x45, 0x00, 0x00, 0x1c, /* version 4, IHL 5, total length 28 */
    0x42, 0x42, 0x00, 0xb9, /* id 0x4242, MF clear, offset 185 (1480 bytes) */
    0x40, 0x11, 0x00, 0x00, /* TTL 64, protocol UDP */
    0x0a, 0x01, 0x01, 0x01, /* source 10.1.1.1 */
    0x0a, 0x01, 0x01, 0x02, /* destination 10.1.1.2 */
    /* fragment data @20 */
    0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, /* "abcdefgh" */
};

/* Ethernet, IPv4 first fragment (MF, offset 0) holding a UDP header, padding (60 bytes). */
static const uint8_t eth_ipv4_first_frag[] = {
    /* Ethernet @0 */
    0x00,
    0x11,
    0x22,
    0x33,
    0x44,
    0x55, /* destination */
    0x66,
    0x77,
    0x88,
    0x99,
    0xaa,
    0xbb, /* source */
    0x08,
    0x00, /* IPv4 */
    /* IPv4 @14 */
    0x45,
    0x00,
    0x00,
    0x24, /* version 4, IHL 5, total length 36 */
    0x42,
    0x42,
    0x20,
    0x00, /* id 0x4242, MF, offset 0 */
    0x40,
    0x11,
    0x00,
    0x00, /* TTL 64, protocol UDP */
    0x0a,
    0x01,
    0x01,
    0x01, /* source 10.1.1.1 */
    0x0a,
    0x01,
    0x01,
    0x02, /* destination 10.1.1.2 */
    /* fragment data @34: 16 bytes */
    0x30,
    0x39,
    0x00,
    0x35, /* UDP source port 12345, destination port 53 (not parsed) */
    0x05,
    0xd8,
    0x00,
    0x00, /* UDP length 1496 */
    0x31,
    0x32,
    0x33,
    0x34,
    0x35,
    0x36,
    0x37,
    0x38, /* data */
    /* Ethernet padding @50 */
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
};

/* Raw IPv6 atomic fragment (offset 0, M clear, RFC 6946) carrying a TCP RST (68 bytes). */
static const uint8_t raw_ipv6_atomic_tcp[] = {
    /* IPv6 @0 */
    0x60, 0x00, 0x00, 0x00,                         /* version 6 */
    0x00, 0x1c, 0x2c, 0x40,                         /* payload length 28, fragment, limit 64 */
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* source 2001:db8::1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* */
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* destination 2001:db8::2 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* */
    /* fragment @40 */
    0x06, 0x00,             /* next: TCP, reserved */
    0x00, 0x00,             /* offset 0, M = 0: atomic */
    0x01, 0x02, 0x03, 0x04, /* identification */
    /* TCP @48 */
    0x01, 0xbb, 0xd4, 0x31, /* source port 443, destination port 54321 */
    0x00, 0x00, 0x10, 0x00, /* sequence 4096 */
    0x00, 0x00, 0x00, 0x00, /* acknowledgment 0 */
    0x50, 0x04, 0x00, 0x00, /* data offset 5, RST, window 0 */
    0x00, 0x00, 0x00, 0x00, /* checksum, urgent pointer */
};

/* Ethernet, IPv6 with an authentication header, TCP ACK (98 bytes). */
static const uint8_t eth_ipv6_ah_tcp[] = {
    /* Ethernet @0 */
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, /* destination */
    0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, /* source */
    0x86, 0xdd,                         /* IPv6 */
    /* IPv6 @14 */
    0x60, 0x00, 0x00, 0x00,                         /* version 6 */
    0x00, 0x2c, 0x33, 0x40,                         /* payload length 44, next AH, limit 64 */
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* source 2001:db8::1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* */
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* destination 2001:db8::2 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* */
    /* AH @54 */
    0x06, 0x04,             /* next: TCP, payload length 4: (4 + 2) * 4 = 24 bytes */
    0x00, 0x00,             /* reserved */
    0x00, 0x00, 0x01, 0x00, /* SPI 256 */
    0x00, 0x00, 0x00, 0x05, /* sequence 5 */
    0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, /* ICV, 12 bytes */
    /* TCP @78 */
    0x00, 0x16, 0xd4, 0x32, /* source port 22, destination port 54322 */
    0x00, 0x00, 0x00, 0x64, /* sequence 100 */
    0x00, 0x00, 0x00, 0xc8, /* acknowledgment 200 */
    0x50, 0x10, 0x20, 0x00, /* data offset 5, ACK, window 8192 */
    0x00, 0x00, 0x00, 0x00, /* checksum, urgent pointer */
};

/* Raw IPv4, GRE (protocol 47, no ports) with a 4-byte header (24 bytes). */
static const uint8_t raw_ipv4_gre[] = {
    0x45, 0x00, 0x00, 0x18, /* version 4, IHL 5, total length 24 */
    0x00, 0x09, 0x00, 0x00, /* id 9 */
    0xff, 0x2f, 0x00, 0x00, /* TTL 255, protocol GRE */
    0xcb, 0x00, 0x71, 0x01, /* source 203.0.113.1 */
    0xcb, 0x00, 0x71, 0x02, /* destination 203.0.113.2 */
    0x00, 0x00, 0x08, 0x00, /* GRE: no flags, protocol IPv4 */
};

/* Raw IPv6, ESP (ends the walk, no ports) with SPI and sequence (48 bytes). */
static const uint8_t raw_ipv6_esp[] = {
    0x60, 0x00, 0x00, 0x00,                         /* version 6 */
    0x00, 0x08, 0x32, 0x40,                         /* payload length 8, next ESP, limit 64 */
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* source 2001:db8::1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* */
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* destination 2001:db8::2 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* */
    0x00, 0x00, 0x10, 0x01,                         /* @40 SPI */
    0x00, 0x00, 0x00, 0x01,                         /* sequence 1 */
};

/* A truncation span: captures shorter than `end` (and not shorter than the previous span) fail. */
struct span {
    uint16_t end;
    enum ns_dec_reason reason;
};

struct sample {
    const char *name;
    int linktype;
    const uint8_t *bytes;
    size_t len;
    size_t l3_end; /* end of the IP datagram in the frame */
    struct span spans[6];
};

#define SAMPLE(n, lt, l3end, ...)                                                                  \
    {                                                                                              \
#n, lt, n, sizeof(n), l3end,                                                               \
        {                                                                                          \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }

static const struct sample samples[] = {
    SAMPLE(eth_ipv4_tcp_syn, NS_LINK_EN10MB, 74, {14, NS_DEC_ETH_TRUNC}, {34, NS_DEC_IPV4_TRUNC},
           {74, NS_DEC_TCP_TRUNC}),
    SAMPLE(eth_vlan_ipv4opt_udp, NS_LINK_EN10MB, 54, {14, NS_DEC_ETH_TRUNC},
           {18, NS_DEC_VLAN_TRUNC}, {42, NS_DEC_IPV4_TRUNC}, {50, NS_DEC_UDP_TRUNC}),
    SAMPLE(eth_qinq_ipv6_icmp6, NS_LINK_EN10MB, 74, {14, NS_DEC_ETH_TRUNC}, {22, NS_DEC_VLAN_TRUNC},
           {62, NS_DEC_IPV6_TRUNC}, {70, NS_DEC_ICMPV6_TRUNC}),
    SAMPLE(eth_vlan_pppoe_ipv6_udp, NS_LINK_EN10MB, 74, {14, NS_DEC_ETH_TRUNC},
           {18, NS_DEC_VLAN_TRUNC}, {26, NS_DEC_PPPOE_TRUNC}, {66, NS_DEC_IPV6_TRUNC},
           {74, NS_DEC_UDP_TRUNC}),
    SAMPLE(sll_ipv4_icmp, NS_LINK_LINUX_SLL, 48, {16, NS_DEC_SLL_TRUNC}, {36, NS_DEC_IPV4_TRUNC},
           {44, NS_DEC_ICMP_TRUNC}),
    SAMPLE(sll2_ipv4_udp, NS_LINK_SLL2, 48, {20, NS_DEC_SLL_TRUNC}, {40, NS_DEC_IPV4_TRUNC},
           {48, NS_DEC_UDP_TRUNC}),
    SAMPLE(null_le_ipv4_tcp, NS_LINK_NULL, 52, {4, NS_DEC_NULL_TRUNC}, {24, NS_DEC_IPV4_TRUNC},
           {44, NS_DEC_TCP_TRUNC}),
    SAMPLE(null_be_ipv6_tcp, NS_LINK_NULL, 64, {4, NS_DEC_NULL_TRUNC}, {44, NS_DEC_IPV6_TRUNC},
           {64, NS_DEC_TCP_TRUNC}),
    SAMPLE(loop_ipv6_nonext, NS_LINK_LOOP, 44, {4, NS_DEC_NULL_TRUNC}, {44, NS_DEC_IPV6_TRUNC}),
    /* raw: an empty frame has no version nibble and is reported as IPv4 */
    SAMPLE(raw_ipv6_ext_udp, NS_LINK_RAW, 90, {1, NS_DEC_IPV4_TRUNC}, {40, NS_DEC_IPV6_TRUNC},
           {80, NS_DEC_IPV6_EXT_TRUNC}, {88, NS_DEC_UDP_TRUNC}),
    SAMPLE(ipv6_hbh_frag, NS_LINK_IPV6, 72, {40, NS_DEC_IPV6_TRUNC}, {56, NS_DEC_IPV6_EXT_TRUNC}),
    SAMPLE(ipv4_last_frag, NS_LINK_IPV4, 28, {20, NS_DEC_IPV4_TRUNC}),
    SAMPLE(eth_ipv4_first_frag, NS_LINK_EN10MB, 50, {14, NS_DEC_ETH_TRUNC},
           {34, NS_DEC_IPV4_TRUNC}),
    SAMPLE(raw_ipv6_atomic_tcp, NS_LINK_RAW, 68, {1, NS_DEC_IPV4_TRUNC}, {40, NS_DEC_IPV6_TRUNC},
           {48, NS_DEC_IPV6_EXT_TRUNC}, {68, NS_DEC_TCP_TRUNC}),
    SAMPLE(eth_ipv6_ah_tcp, NS_LINK_EN10MB, 98, {14, NS_DEC_ETH_TRUNC}, {54, NS_DEC_IPV6_TRUNC},
           {78, NS_DEC_IPV6_EXT_TRUNC}, {98, NS_DEC_TCP_TRUNC}),
    SAMPLE(raw_ipv4_gre, NS_LINK_RAW, 24, {20, NS_DEC_IPV4_TRUNC}),
    SAMPLE(raw_ipv6_esp, NS_LINK_RAW, 48, {1, NS_DEC_IPV4_TRUNC}, {40, NS_DEC_IPV6_TRUNC}),
};

#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

/* ---------------------------------------------------------------- helpers */

/* The frame metadata a source sets; decode must keep it. */
#define META_TS    1700000000123456789ULL
#define META_INDEX 4411U

/*
 * Decode a copy of (b, len) in a heap block of exactly len bytes (so that a
 * read past the end is caught by ASan), with the output fields pre-filled with
 * garbage (so that a field left unset shows). The copy is freed by the caller
 * through *copy.
 */
static int decode_copy(const uint8_t *b, size_t len, int linktype, struct ns_packet *p,
                       struct ns_decode_stats *st, enum ns_dec_reason *why, uint8_t **copy)
{
    uint8_t *c = malloc(len > 0 ? len : 1);
    assert_non_null(c);
    if (len > 0) {
        memcpy(c, b, len);
    }
    *copy = c;
    memset(p, 0, sizeof(*p));
    /* garbage in the output part; bools are left alone (a non-0/1 bool is UB to load) */
    p->flags = 0xffffffffU;
    p->mac_src = b;
    p->vlan_count = 3;
    p->ipver = 9;
    p->src.family = 9;
    p->proto = 0xee;
    p->sport = 0xeeee;
    p->payload_len = 0xeeeeeeeeU;
    p->tcp_opts.nkinds = 7;
    p->frag_len = 99;
    p->data = c;
    p->caplen = (uint32_t)len;
    p->wirelen = 1514;
    p->ts_ns = META_TS;
    p->linktype = linktype;
    p->index = META_INDEX;
    p->src_name = "test.pcap";
    memset(st, 0, sizeof(*st));
    return ns_decode_packet(p, st, why);
}

/* Views into the frame must lie inside [data, data + caplen]. */
static void assert_views_inside(const struct ns_packet *p)
{
    const uint8_t *lo = p->data, *hi = p->data + p->caplen;
    if (p->l3 != NULL) {
        assert_true(p->l3 >= lo && p->l3 <= hi);
        assert_true(p->l3_len <= (size_t)(hi - p->l3));
    }
    if (p->payload != NULL) {
        assert_true(p->payload >= lo && p->payload <= hi);
        assert_true(p->payload_len <= (size_t)(hi - p->payload));
        assert_true(p->payload_len <= p->payload_wire_len);
    }
    if (p->frag_data != NULL) {
        assert_true(p->frag_data >= lo && p->frag_data <= hi);
        assert_true(p->frag_len <= (size_t)(hi - p->frag_data));
    }
    if (p->l4 != NULL) {
        assert_true(p->l4 >= lo && p->l4 <= hi);
    }
}

static void assert_meta_kept(const struct ns_packet *p)
{
    assert_true(p->ts_ns == META_TS);
    assert_int_equal(p->index, META_INDEX);
    assert_int_equal(p->wirelen, 1514);
    assert_string_equal(p->src_name, "test.pcap");
}

static const char *addr_str(const struct ns_addr *a, char *buf)
{
    return ns_addr_format(a, buf, 64);
}

/* Decode sample `name` whole, expect 0 and the counters of one IP frame. */
static void decode_ok(const uint8_t *b, size_t len, int linktype, struct ns_packet *p,
                      uint8_t **copy)
{
    struct ns_decode_stats st;
    enum ns_dec_reason why = NS_DEC_IPV4_TRUNC;
    assert_int_equal(decode_copy(b, len, linktype, p, &st, &why, copy), 0);
    assert_int_equal(why, NS_DEC_OK);
    assert_int_equal(st.frames, 1);
    assert_int_equal(st.decoded, 1);
    assert_int_equal(st.non_ip, 0);
    assert_int_equal(st.snapped, 0);
    for (int i = 0; i < NS_DEC_REASON_COUNT; i++) {
        assert_int_equal(st.reason[i], 0);
    }
    assert_views_inside(p);
    assert_meta_kept(p);
}

/* Decode a frame and expect failure `rc` with `reason`, counted once. */
static void decode_fail(const uint8_t *b, size_t len, int linktype, int rc,
                        enum ns_dec_reason reason)
{
    struct ns_packet p;
    struct ns_decode_stats st;
    enum ns_dec_reason why = NS_DEC_OK;
    uint8_t *copy;
    assert_int_equal(decode_copy(b, len, linktype, &p, &st, &why, &copy), rc);
    assert_int_equal(why, reason);
    assert_int_equal(st.frames, 1);
    assert_int_equal(st.decoded, 0);
    if (reason == NS_DEC_L3_UNSUPPORTED) {
        assert_int_equal(st.non_ip, 1);
        assert_int_equal(st.reason[reason], 0);
    } else {
        assert_int_equal(st.non_ip, 0);
        assert_int_equal(st.reason[reason], 1);
    }
    assert_views_inside(&p);
    assert_meta_kept(&p);
    free(copy);
}

/* A copy of a sample with byte `at` replaced, decoded; expects rc and reason. */
static void decode_patched(const uint8_t *b, size_t len, int linktype, size_t at, uint8_t value,
                           int rc, enum ns_dec_reason reason)
{
    uint8_t buf[256];
    assert_true(len <= sizeof(buf) && at < len);
    memcpy(buf, b, len);
    buf[at] = value;
    decode_fail(buf, len, linktype, rc, reason);
}

/* ------------------------------------------------------- valid, field by field */

static void test_decode_eth_ipv4_tcp_syn(void **state)
{
    (void)state;
    struct ns_packet p;
    uint8_t *c;
    char a[64];
    decode_ok(eth_ipv4_tcp_syn, sizeof(eth_ipv4_tcp_syn), NS_LINK_EN10MB, &p, &c);
    static const uint8_t dst[6] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55};
    static const uint8_t src[6] = {0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
    assert_memory_equal(p.mac_dst, dst, 6);
    assert_memory_equal(p.mac_src, src, 6);
    assert_int_equal(p.vlan_count, 0);
    assert_int_equal(p.ethertype, 0x0800);
    assert_int_equal(p.ipver, 4);
    assert_string_equal(addr_str(&p.src, a), "192.168.1.2");
    assert_string_equal(addr_str(&p.dst, a), "192.168.1.3");
    assert_int_equal(p.ttl, 64);
    assert_int_equal(p.tos, 0);
    assert_int_equal(p.ip_id, 0x1c46);
    assert_true(p.df);
    assert_int_equal(p.ip_hdr_len, 20);
    assert_int_equal(p.ip_opt_len, 0);
    assert_ptr_equal(p.l3, c + 14);
    assert_int_equal(p.l3_len, 60);
    assert_int_equal(p.proto, NS_IPPROTO_TCP);
    assert_int_equal(p.flags, NS_PKT_F_HAS_L4);
    assert_int_equal(p.sport, 50000);
    assert_int_equal(p.dport, 80);
    assert_int_equal(p.seq, 0x11223344);
    assert_int_equal(p.ack, 0);
    assert_int_equal(p.tcp_flags, NS_TCP_SYN);
    assert_int_equal(p.tcp_hdr_len, 40);
    assert_int_equal(p.win, 64240);
    assert_int_equal(p.urg, 0);
    assert_ptr_equal(p.l4, c + 34);
    assert_ptr_equal(p.payload, c + 74);
    assert_int_equal(p.payload_len, 0);
    assert_int_equal(p.payload_wire_len, 0);
    /* options: MSS, SACK permitted, timestamps, NOP, window scale */
    const struct ns_tcp_opts *o = &p.tcp_opts;
    static const uint8_t kinds[] = {2, 4, 8, 1, 3};
    assert_int_equal(o->nkinds, 5);
    assert_memory_equal(o->kinds, kinds, 5);
    assert_true(o->has_mss);
    assert_int_equal(o->mss, 1460);
    assert_true(o->sack_permitted);
    assert_true(o->has_ts);
    assert_int_equal(o->ts_val, 66051);
    assert_int_equal(o->ts_ecr, 0);
    assert_true(o->has_wscale);
    assert_int_equal(o->wscale, 7);
    assert_int_equal(o->sack_blocks, 0);
    assert_int_equal(o->eol_pad, 0);
    /* no fragment fields */
    assert_int_equal(p.frag_id, 0);
    assert_null(p.frag_data);
    free(c);
}

static void test_decode_eth_vlan_ipv4_options_udp(void **state)
{
    (void)state;
    struct ns_packet p;
    uint8_t *c;
    char a[64];
    decode_ok(eth_vlan_ipv4opt_udp, sizeof(eth_vlan_ipv4opt_udp), NS_LINK_EN10MB, &p, &c);
    assert_int_equal(p.vlan_count, 1);
    assert_int_equal(p.vlan[0], 100);
    assert_int_equal(p.ethertype, 0x0800);
    assert_string_equal(addr_str(&p.src, a), "10.0.0.1");
    assert_string_equal(addr_str(&p.dst, a), "10.0.0.2");
    assert_int_equal(p.ttl, 1);
    assert_false(p.df);
    assert_int_equal(p.ip_hdr_len, 24);
    assert_int_equal(p.ip_opt_len, 4);
    assert_int_equal(p.l3_len, 36);
    assert_int_equal(p.proto, NS_IPPROTO_UDP);
    /* 6 padding bytes after the total length */
    assert_int_equal(p.flags, NS_PKT_F_HAS_L4 | NS_PKT_F_TRAILER);
    assert_int_equal(p.sport, 5353);
    assert_int_equal(p.dport, 53);
    assert_ptr_equal(p.l4, c + 42);
    assert_ptr_equal(p.payload, c + 50);
    assert_int_equal(p.payload_len, 4);
    assert_int_equal(p.payload_wire_len, 4);
    assert_int_equal(p.tcp_opts.nkinds, 0);
    free(c);
}

static void test_decode_eth_qinq_ipv6_icmpv6(void **state)
{
    (void)state;
    struct ns_packet p;
    uint8_t *c;
    char a[64];
    decode_ok(eth_qinq_ipv6_icmp6, sizeof(eth_qinq_ipv6_icmp6), NS_LINK_EN10MB, &p, &c);
    assert_int_equal(p.vlan_count, 2);
    assert_int_equal(p.vlan[0], 200);
    assert_int_equal(p.vlan[1], 2001);
    assert_int_equal(p.ethertype, 0x86dd);
    assert_int_equal(p.ipver, 6);
    assert_string_equal(addr_str(&p.src, a), "2001:db8::1");
    assert_string_equal(addr_str(&p.dst, a), "2001:db8::2");
    assert_int_equal(p.tos, 0xb8);
    assert_int_equal(p.flow_label, 0x12345);
    assert_int_equal(p.ttl, 255);
    assert_int_equal(p.ip_hdr_len, 40);
    assert_int_equal(p.l3_len, 52);
    assert_int_equal(p.proto, NS_IPPROTO_ICMPV6);
    assert_int_equal(p.flags, NS_PKT_F_HAS_L4);
    assert_int_equal(p.icmp_type, 128);
    assert_int_equal(p.icmp_code, 0);
    assert_int_equal(p.sport, 128);
    assert_int_equal(p.dport, 0);
    assert_ptr_equal(p.payload, c + 70);
    assert_int_equal(p.payload_len, 4);
    free(c);
}

static void test_decode_eth_vlan_pppoe_ipv6_udp(void **state)
{
    (void)state;
    struct ns_packet p;
    uint8_t *c;
    char a[64];
    decode_ok(eth_vlan_pppoe_ipv6_udp, sizeof(eth_vlan_pppoe_ipv6_udp), NS_LINK_EN10MB, &p, &c);
    assert_int_equal(p.vlan_count, 1);
    assert_int_equal(p.vlan[0], 939);
    assert_int_equal(p.ethertype, 0x86dd);
    assert_ptr_equal(p.l3, c + 26);
    assert_string_equal(addr_str(&p.src, a), "2001:db8::a");
    assert_string_equal(addr_str(&p.dst, a), "2001:db8::b");
    assert_int_equal(p.proto, NS_IPPROTO_UDP);
    assert_int_equal(p.sport, 1234);
    assert_int_equal(p.dport, 5678);
    assert_int_equal(p.payload_len, 0);
    assert_int_equal(p.flags, NS_PKT_F_HAS_L4);
    free(c);
}

static void test_decode_sll_ipv4_icmp(void **state)
{
    (void)state;
    struct ns_packet p;
    uint8_t *c;
    char a[64];
    decode_ok(sll_ipv4_icmp, sizeof(sll_ipv4_icmp), NS_LINK_LINUX_SLL, &p, &c);
    static const uint8_t mac[6] = {0x00, 0x00, 0x5e, 0x00, 0x53, 0x06};
    assert_memory_equal(p.mac_src, mac, 6);
    assert_null(p.mac_dst);
    assert_int_equal(p.ethertype, 0x0800);
    assert_string_equal(addr_str(&p.src, a), "198.51.100.1");
    assert_string_equal(addr_str(&p.dst, a), "198.51.100.2");
    assert_int_equal(p.proto, NS_IPPROTO_ICMP);
    assert_int_equal(p.icmp_type, 8);
    assert_int_equal(p.icmp_code, 0);
    assert_int_equal(p.sport, 8);
    assert_int_equal(p.dport, 0);
    assert_int_equal(p.payload_len, 4);
    assert_memory_equal(p.payload, "ping", 4);
    free(c);
}

static void test_decode_sll2_ipv4_udp(void **state)
{
    (void)state;
    struct ns_packet p;
    uint8_t *c;
    char a[64];
    decode_ok(sll2_ipv4_udp, sizeof(sll2_ipv4_udp), NS_LINK_SLL2, &p, &c);
    static const uint8_t mac[6] = {0x00, 0x00, 0x5e, 0x00, 0x53, 0x07};
    assert_memory_equal(p.mac_src, mac, 6);
    assert_string_equal(addr_str(&p.src, a), "192.0.2.10");
    assert_string_equal(addr_str(&p.dst, a), "192.0.2.20");
    assert_int_equal(p.tos, 0x10);
    assert_int_equal(p.ttl, 128);
    assert_int_equal(p.ip_id, 0xbeef);
    assert_int_equal(p.sport, 68);
    assert_int_equal(p.dport, 67);
    assert_int_equal(p.flags, NS_PKT_F_HAS_L4);
    free(c);
}

static void test_decode_null_and_loop(void **state)
{
    (void)state;
    struct ns_packet p;
    uint8_t *c;
    char a[64];
    decode_ok(null_le_ipv4_tcp, sizeof(null_le_ipv4_tcp), NS_LINK_NULL, &p, &c);
    assert_int_equal(p.ethertype, 0x0800);
    assert_string_equal(addr_str(&p.src, a), "127.0.0.1");
    assert_int_equal(p.sport, 49595);
    assert_int_equal(p.dport, 104);
    assert_int_equal(p.seq, 1);
    assert_int_equal(p.ack, 2);
    assert_int_equal(p.tcp_flags, NS_TCP_PSH | NS_TCP_ACK);
    assert_int_equal(p.win, 6379);
    assert_int_equal(p.tcp_hdr_len, 20);
    assert_int_equal(p.payload_len, 8);
    assert_int_equal(p.payload_wire_len, 8);
    assert_ptr_equal(p.payload, c + 44);
    free(c);

    decode_ok(null_be_ipv6_tcp, sizeof(null_be_ipv6_tcp), NS_LINK_NULL, &p, &c);
    assert_int_equal(p.ethertype, 0x86dd);
    assert_string_equal(addr_str(&p.src, a), "::1");
    assert_string_equal(addr_str(&p.dst, a), "::1");
    assert_int_equal(p.sport, 8080);
    assert_int_equal(p.dport, 58799);
    assert_int_equal(p.seq, 0xfffffff0U);
    assert_int_equal(p.ack, 0x80000000U);
    assert_int_equal(p.tcp_flags, NS_TCP_FIN | NS_TCP_ACK);
    assert_int_equal(p.win, 256);
    free(c);

    /* DLT_LOOP: network order; no-next-header ends the walk without ports */
    decode_ok(loop_ipv6_nonext, sizeof(loop_ipv6_nonext), NS_LINK_LOOP, &p, &c);
    assert_string_equal(addr_str(&p.src, a), "fe80::1");
    assert_string_equal(addr_str(&p.dst, a), "ff02::1");
    assert_int_equal(p.proto, NS_IPPROTO_NONE);
    assert_int_equal(p.flags, 0);
    assert_int_equal(p.ttl, 1);
    assert_int_equal(p.l3_len, 40);
    assert_int_equal(p.payload_len, 0);
    free(c);
}

static void test_decode_raw_ipv6_ext_headers(void **state)
{
    (void)state;
    struct ns_packet p;
    uint8_t *c;
    decode_ok(raw_ipv6_ext_udp, sizeof(raw_ipv6_ext_udp), NS_LINK_RAW, &p, &c);
    assert_int_equal(p.ethertype, 0x86dd);
    assert_int_equal(p.ipver, 6);
    assert_int_equal(p.ip_hdr_len, 80);
    assert_int_equal(p.l3_len, 90);
    assert_int_equal(p.proto, NS_IPPROTO_UDP);
    assert_int_equal(p.flags, NS_PKT_F_HAS_L4);
    assert_int_equal(p.sport, 546);
    assert_int_equal(p.dport, 547);
    assert_ptr_equal(p.l4, c + 80);
    assert_int_equal(p.payload_len, 2);
    free(c);
}

static void test_decode_ipv6_fragment(void **state)
{
    (void)state;
    struct ns_packet p;
    uint8_t *c;
    decode_ok(ipv6_hbh_frag, sizeof(ipv6_hbh_frag), NS_LINK_IPV6, &p, &c);
    assert_int_equal(p.flags, NS_PKT_F_FRAGMENT);
    assert_int_equal(p.proto, NS_IPPROTO_TCP);
    assert_int_equal(p.ip_hdr_len, 56);
    assert_int_equal(p.frag_unfrag_len, 48);
    assert_int_equal(p.frag_id, 0xdeadbeefU);
    assert_int_equal(p.frag_off, 0);
    assert_true(p.frag_more);
    assert_ptr_equal(p.frag_data, c + 56);
    assert_int_equal(p.frag_len, 16);
    assert_int_equal(p.payload_wire_len, 16);
    /* no transport parsing for a fragment, even the first */
    assert_int_equal(p.sport, 0);
    assert_int_equal(p.dport, 0);
    assert_null(p.l4);
    free(c);

    /* an atomic fragment is the whole datagram: TCP is decoded */
    decode_ok(raw_ipv6_atomic_tcp, sizeof(raw_ipv6_atomic_tcp), NS_LINK_RAW, &p, &c);
    assert_int_equal(p.flags, NS_PKT_F_HAS_L4);
    assert_int_equal(p.ip_hdr_len, 48);
    assert_int_equal(p.proto, NS_IPPROTO_TCP);
    assert_int_equal(p.sport, 443);
    assert_int_equal(p.dport, 54321);
    assert_int_equal(p.seq, 4096);
    assert_int_equal(p.tcp_flags, NS_TCP_RST);
    assert_int_equal(p.frag_id, 0);
    free(c);
}

static void test_decode_ipv4_fragments(void **state)
{
    (void)state;
    struct ns_packet p;
    uint8_t *c;
    char a[64];
    decode_ok(ipv4_last_frag, sizeof(ipv4_last_frag), NS_LINK_IPV4, &p, &c);
    assert_int_equal(p.flags, NS_PKT_F_FRAGMENT);
    assert_string_equal(addr_str(&p.src, a), "10.1.1.1");
    assert_int_equal(p.proto, NS_IPPROTO_UDP);
    assert_int_equal(p.frag_id, 0x4242);
    assert_int_equal(p.frag_off, 1480);
    assert_false(p.frag_more);
    assert_ptr_equal(p.frag_data, c + 20);
    assert_int_equal(p.frag_len, 8);
    assert_int_equal(p.frag_unfrag_len, 0);
    assert_int_equal(p.sport, 0);
    free(c);

    /* a first fragment with Ethernet padding: the UDP header inside is not parsed */
    decode_ok(eth_ipv4_first_frag, sizeof(eth_ipv4_first_frag), NS_LINK_EN10MB, &p, &c);
    assert_int_equal(p.flags, NS_PKT_F_FRAGMENT | NS_PKT_F_TRAILER);
    assert_int_equal(p.frag_off, 0);
    assert_true(p.frag_more);
    assert_false(p.df);
    assert_int_equal(p.frag_len, 16);
    assert_int_equal(p.l3_len, 36);
    assert_int_equal(p.sport, 0);
    assert_int_equal(p.dport, 0);
    free(c);
}

static void test_decode_ipv6_ah_esp_and_other_protocols(void **state)
{
    (void)state;
    struct ns_packet p;
    uint8_t *c;
    char a[64];
    decode_ok(eth_ipv6_ah_tcp, sizeof(eth_ipv6_ah_tcp), NS_LINK_EN10MB, &p, &c);
    assert_int_equal(p.ip_hdr_len, 64);
    assert_int_equal(p.proto, NS_IPPROTO_TCP);
    assert_int_equal(p.sport, 22);
    assert_int_equal(p.dport, 54322);
    assert_int_equal(p.seq, 100);
    assert_int_equal(p.ack, 200);
    assert_int_equal(p.tcp_flags, NS_TCP_ACK);
    free(c);

    decode_ok(raw_ipv6_esp, sizeof(raw_ipv6_esp), NS_LINK_RAW, &p, &c);
    assert_int_equal(p.proto, 50);
    assert_int_equal(p.flags, 0);
    assert_int_equal(p.ip_hdr_len, 40);
    assert_ptr_equal(p.payload, c + 40);
    assert_int_equal(p.payload_len, 8);
    assert_int_equal(p.payload_wire_len, 8);
    free(c);

    decode_ok(raw_ipv4_gre, sizeof(raw_ipv4_gre), NS_LINK_RAW, &p, &c);
    assert_string_equal(addr_str(&p.src, a), "203.0.113.1");
    assert_int_equal(p.proto, 47);
    assert_int_equal(p.flags, 0);
    assert_int_equal(p.ttl, 255);
    assert_int_equal(p.payload_len, 4);
    assert_int_equal(p.sport, 0);
    free(c);

    /* the same datagrams through the other raw link types */
    decode_ok(raw_ipv4_gre, sizeof(raw_ipv4_gre), NS_LINK_RAW_OLD1, &p, &c);
    free(c);
    decode_ok(raw_ipv4_gre, sizeof(raw_ipv4_gre), NS_LINK_RAW_OLD2, &p, &c);
    free(c);
    decode_ok(raw_ipv4_gre, sizeof(raw_ipv4_gre), NS_LINK_IPV4, &p, &c);
    free(c);
    decode_ok(raw_ipv6_esp, sizeof(raw_ipv6_esp), NS_LINK_IPV6, &p, &c);
    free(c);
}

/* --------------------------------------------------- every prefix of every sample */

static void test_decode_truncated_at_every_length(void **state)
{
    (void)state;
    for (size_t s = 0; s < NSAMPLES; s++) {
        const struct sample *sm = &samples[s];
        size_t hdr_end = 0;
        for (size_t k = 0; k < 6 && sm->spans[k].end != 0; k++) {
            hdr_end = sm->spans[k].end;
        }
        for (size_t cut = 0; cut <= sm->len; cut++) {
            struct ns_packet p;
            struct ns_decode_stats st;
            enum ns_dec_reason why = NS_DEC_OK;
            uint8_t *copy;
            int rc = decode_copy(sm->bytes, cut, sm->linktype, &p, &st, &why, &copy);
            assert_views_inside(&p);
            assert_meta_kept(&p);
            assert_int_equal(st.frames, 1);
            if (cut < hdr_end) {
                enum ns_dec_reason want = NS_DEC_OK;
                for (size_t k = 0; k < 6; k++) {
                    if (cut < sm->spans[k].end) {
                        want = sm->spans[k].reason;
                        break;
                    }
                }
                if (rc != NS_ETRUNC || why != want) {
                    fail_msg("%s cut at %zu: rc %d reason %s, want %s", sm->name, cut, rc,
                             ns_dec_reason_name(why), ns_dec_reason_name(want));
                }
                assert_int_equal(st.reason[want], 1);
                assert_int_equal(st.decoded, 0);
            } else {
                if (rc != 0) {
                    fail_msg("%s cut at %zu: rc %d reason %s", sm->name, cut, rc,
                             ns_dec_reason_name(why));
                }
                bool snapped = cut < sm->l3_end;
                assert_int_equal((p.flags & NS_PKT_F_SNAPPED) != 0, snapped);
                assert_int_equal(st.snapped, snapped ? 1 : 0);
                assert_int_equal((p.flags & NS_PKT_F_TRAILER) != 0, cut > sm->l3_end);
                assert_int_equal(st.decoded, 1);
                if (p.l3 != NULL) {
                    size_t l3_off = (size_t)(p.l3 - p.data);
                    size_t want_l3 = (cut < sm->l3_end ? cut : sm->l3_end) - l3_off;
                    assert_int_equal(p.l3_len, want_l3);
                }
            }
            free(copy);
        }
    }
}

static void test_decode_snapped_payload(void **state)
{
    (void)state;
    struct ns_packet p;
    struct ns_decode_stats st;
    enum ns_dec_reason why;
    uint8_t *c;
    /* cut 4 bytes into the 8 data bytes: snapped, not malformed */
    assert_int_equal(decode_copy(null_le_ipv4_tcp, 48, NS_LINK_NULL, &p, &st, &why, &c), 0);
    assert_int_equal(why, NS_DEC_OK);
    assert_int_equal(p.flags, NS_PKT_F_HAS_L4 | NS_PKT_F_SNAPPED);
    assert_int_equal(p.l3_len, 44);
    assert_int_equal(p.payload_len, 4);
    assert_int_equal(p.payload_wire_len, 8);
    assert_int_equal(st.decoded, 1);
    assert_int_equal(st.snapped, 1);
    for (int i = 0; i < NS_DEC_REASON_COUNT; i++) {
        assert_int_equal(st.reason[i], 0);
    }
    free(c);

    /* a snapped fragment keeps its declared length for defrag */
    assert_int_equal(decode_copy(ipv4_last_frag, 24, NS_LINK_IPV4, &p, &st, &why, &c), 0);
    assert_int_equal(p.flags, NS_PKT_F_FRAGMENT | NS_PKT_F_SNAPPED);
    assert_int_equal(p.frag_len, 4);
    assert_int_equal(p.payload_wire_len, 8);
    free(c);
}

/* ------------------------------------------------------------ invalid values */

static void test_decode_ipv4_invalid(void **state)
{
    (void)state;
    const uint8_t *b = eth_ipv4_tcp_syn;
    size_t n = sizeof(eth_ipv4_tcp_syn);
    /* IHL 4 */
    decode_patched(b, n, NS_LINK_EN10MB, 14, 0x44, NS_EMALFORMED, NS_DEC_IPV4_HLEN_SMALL);
    /* version 5 */
    decode_patched(b, n, NS_LINK_EN10MB, 14, 0x55, NS_EMALFORMED, NS_DEC_IPV4_VERSION);
    /* total length 19 < IHL * 4 */
    decode_patched(b, n, NS_LINK_EN10MB, 17, 0x13, NS_EMALFORMED, NS_DEC_IPV4_TOTLEN_SMALL);
    /* IHL 15: the 60-byte header fills the datagram, no room for TCP */
    decode_patched(b, n, NS_LINK_EN10MB, 14, 0x4f, NS_ETRUNC, NS_DEC_TCP_TRUNC);
    /* raw with a bad version nibble, LINKTYPE_IPV4 given IPv6, LINKTYPE_IPV6 given IPv4 */
    decode_patched(raw_ipv4_gre, sizeof(raw_ipv4_gre), NS_LINK_RAW, 0, 0x75, NS_EMALFORMED,
                   NS_DEC_IPV4_VERSION);
    decode_fail(raw_ipv6_esp, sizeof(raw_ipv6_esp), NS_LINK_IPV4, NS_EMALFORMED,
                NS_DEC_IPV4_VERSION);
    decode_fail(raw_ipv4_gre, sizeof(raw_ipv4_gre), NS_LINK_IPV6, NS_EMALFORMED,
                NS_DEC_IPV6_VERSION);
    /* IPv6 EtherType with an IPv4 version nibble */
    decode_patched(eth_qinq_ipv6_icmp6, sizeof(eth_qinq_ipv6_icmp6), NS_LINK_EN10MB, 22, 0x4b,
                   NS_EMALFORMED, NS_DEC_IPV6_VERSION);
}

static void test_decode_ipv4_total_length_zero_is_offload(void **state)
{
    (void)state;
    uint8_t buf[sizeof(eth_ipv4_tcp_syn)];
    memcpy(buf, eth_ipv4_tcp_syn, sizeof(buf));
    buf[16] = 0x00; /* total length 0: TSO, the frame says how long */
    buf[17] = 0x00;
    struct ns_packet p;
    uint8_t *c;
    decode_ok(buf, sizeof(buf), NS_LINK_EN10MB, &p, &c);
    assert_int_equal(p.l3_len, 60);
    assert_int_equal(p.flags, NS_PKT_F_HAS_L4);
    free(c);
}

static void test_decode_ipv4_option_invalid_still_decodes(void **state)
{
    (void)state;
    static const uint8_t bad_len[] = {0x01, 0x08}; /* length 1; length 8 runs past the IHL */
    for (size_t i = 0; i < sizeof(bad_len); i++) {
        uint8_t buf[sizeof(eth_vlan_ipv4opt_udp)];
        memcpy(buf, eth_vlan_ipv4opt_udp, sizeof(buf));
        buf[39] = bad_len[i]; /* the Router Alert option's length */
        struct ns_packet p;
        struct ns_decode_stats st;
        enum ns_dec_reason why;
        uint8_t *c;
        assert_int_equal(decode_copy(buf, sizeof(buf), NS_LINK_EN10MB, &p, &st, &why, &c), 0);
        assert_int_equal(why, NS_DEC_IPV4_OPT_INVALID);
        assert_int_equal(st.reason[NS_DEC_IPV4_OPT_INVALID], 1);
        assert_int_equal(st.decoded, 1);
        assert_int_equal(p.ip_hdr_len, 24);
        assert_int_equal(p.sport, 5353);
        assert_int_equal(p.flags & NS_PKT_F_HAS_L4, NS_PKT_F_HAS_L4);
        free(c);
    }
}

static void test_decode_tcp_invalid(void **state)
{
    (void)state;
    const uint8_t *b = eth_ipv4_tcp_syn;
    size_t n = sizeof(eth_ipv4_tcp_syn);
    /* data offset 4 */
    decode_patched(b, n, NS_LINK_EN10MB, 46, 0x40, NS_EMALFORMED, NS_DEC_TCP_HLEN_SMALL);
    /* data offset 11 (44 bytes) is past the 40-byte segment */
    decode_patched(b, n, NS_LINK_EN10MB, 46, 0xb0, NS_ETRUNC, NS_DEC_TCP_TRUNC);
}

/* A TCP option anomaly: the segment decodes, the walk stops, the reason is counted. */
static void check_tcp_opt_invalid(size_t at, uint8_t value, uint8_t nkinds, bool mss, bool ts)
{
    uint8_t buf[sizeof(eth_ipv4_tcp_syn)];
    memcpy(buf, eth_ipv4_tcp_syn, sizeof(buf));
    buf[at] = value;
    struct ns_packet p;
    struct ns_decode_stats st;
    enum ns_dec_reason why;
    uint8_t *c;
    assert_int_equal(decode_copy(buf, sizeof(buf), NS_LINK_EN10MB, &p, &st, &why, &c), 0);
    assert_int_equal(why, NS_DEC_TCP_OPT_INVALID);
    assert_int_equal(st.reason[NS_DEC_TCP_OPT_INVALID], 1);
    assert_int_equal(st.decoded, 1);
    assert_int_equal(p.flags, NS_PKT_F_HAS_L4);
    assert_int_equal(p.sport, 50000);
    assert_int_equal(p.tcp_hdr_len, 40);
    assert_int_equal(p.tcp_opts.nkinds, nkinds);
    assert_int_equal(p.tcp_opts.has_mss, mss);
    assert_int_equal(p.tcp_opts.has_ts, ts);
    assert_false(p.tcp_opts.has_wscale);
    free(c);
}

static void test_decode_tcp_option_invalid_still_decodes(void **state)
{
    (void)state;
    /* MSS length 1 (< 2) */
    check_tcp_opt_invalid(55, 0x01, 1, false, false);
    /* MSS length 5 (MSS is 4) */
    check_tcp_opt_invalid(55, 0x05, 1, false, false);
    /* window scale length 5 at @71: only 3 bytes left in the header */
    check_tcp_opt_invalid(72, 0x05, 5, true, true);
    /* timestamps length 40 runs past the header */
    check_tcp_opt_invalid(61, 0x28, 3, true, false);
}

static void test_decode_tcp_eol_and_sack(void **state)
{
    (void)state;
    uint8_t buf[sizeof(eth_ipv4_tcp_syn)];
    memcpy(buf, eth_ipv4_tcp_syn, sizeof(buf));
    /* @70: EOL then 3 bytes of padding instead of NOP + window scale */
    buf[70] = 0x00;
    buf[71] = 0x00;
    buf[72] = 0x00;
    buf[73] = 0x00;
    struct ns_packet p;
    uint8_t *c;
    decode_ok(buf, sizeof(buf), NS_LINK_EN10MB, &p, &c);
    static const uint8_t kinds[] = {2, 4, 8, 0};
    assert_int_equal(p.tcp_opts.nkinds, 4);
    assert_memory_equal(p.tcp_opts.kinds, kinds, 4);
    assert_int_equal(p.tcp_opts.eol_pad, 3);
    assert_false(p.tcp_opts.has_wscale);
    free(c);

    /* SACK with two blocks: NOP NOP SACK(18) replacing MSS .. TS (20 bytes) */
    memcpy(buf, eth_ipv4_tcp_syn, sizeof(buf));
    static const uint8_t sack[20] = {
        0x01, 0x01,             /* NOP NOP */
        0x05, 0x12,             /* SACK, length 18: two blocks */
        0x00, 0x00, 0x00, 0x10, /* block 1 left */
        0x00, 0x00, 0x00, 0x20, /* block 1 right */
        0x00, 0x00, 0x00, 0x30, /* block 2 left */
        0x00, 0x00, 0x00, 0x40, /* block 2 right */
    };
    memcpy(buf + 54, sack, sizeof(sack));
    decode_ok(buf, sizeof(buf), NS_LINK_EN10MB, &p, &c);
    static const uint8_t kinds2[] = {1, 1, 5};
    assert_int_equal(p.tcp_opts.nkinds, 3);
    assert_memory_equal(p.tcp_opts.kinds, kinds2, 3);
    assert_int_equal(p.tcp_opts.sack_blocks, 2);
    assert_false(p.tcp_opts.has_mss);
    free(c);

    /* 40 bytes of NOPs: the kinds array fills exactly to its cap */
    uint8_t nops[54 + 60];
    memcpy(nops, eth_ipv4_tcp_syn, 54);
    nops[17] = 100;  /* IPv4 total length 20 + 60 + 20 */
    nops[46] = 0xf0; /* TCP data offset 15 (60 bytes) */
    memset(nops + 54, 0x01, 40);
    memset(nops + 94, 0x00, 20); /* payload */
    decode_ok(nops, sizeof(nops), NS_LINK_EN10MB, &p, &c);
    assert_int_equal(p.tcp_opts.nkinds, NS_DEC_MAX_TCP_OPTS);
    assert_int_equal(p.tcp_hdr_len, 60);
    assert_int_equal(p.payload_len, 20);
    free(c);
}

static void test_decode_udp_invalid(void **state)
{
    (void)state;
    const uint8_t *b = eth_vlan_ipv4opt_udp;
    size_t n = sizeof(eth_vlan_ipv4opt_udp);
    /* UDP length 3 */
    decode_patched(b, n, NS_LINK_EN10MB, 47, 0x03, NS_EMALFORMED, NS_DEC_UDP_LEN_INVALID);
    /* UDP length 32 > the 12 bytes the IP header gives it */
    decode_patched(b, n, NS_LINK_EN10MB, 47, 0x20, NS_EMALFORMED, NS_DEC_UDP_LEN_INVALID);

    /* UDP length 10 < 12: the datagram's tail is ignored, 2 payload bytes */
    uint8_t buf[sizeof(eth_vlan_ipv4opt_udp)];
    memcpy(buf, b, n);
    buf[47] = 0x0a;
    struct ns_packet p;
    uint8_t *c;
    decode_ok(buf, n, NS_LINK_EN10MB, &p, &c);
    assert_int_equal(p.payload_len, 2);
    assert_int_equal(p.payload_wire_len, 2);
    free(c);
}

/* Ethernet + n 802.1Q tags + IPv4/UDP. */
static size_t build_vlan_stack(uint8_t *buf, unsigned n)
{
    static const uint8_t eth[12] = {
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, /* destination */
        0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, /* source */
    };
    static const uint8_t ip_udp[] = {
        0x08, 0x00,             /* EtherType IPv4 */
        0x45, 0x00, 0x00, 0x1c, /* version 4, IHL 5, total length 28 */
        0x00, 0x00, 0x00, 0x00, /* id 0 */
        0x40, 0x11, 0x00, 0x00, /* TTL 64, UDP */
        0x0a, 0x00, 0x00, 0x01, /* 10.0.0.1 */
        0x0a, 0x00, 0x00, 0x02, /* 10.0.0.2 */
        0x00, 0x07, 0x00, 0x07, /* ports 7 -> 7 */
        0x00, 0x08, 0x00, 0x00, /* length 8 */
    };
    size_t len = 0;
    memcpy(buf, eth, sizeof(eth));
    len += sizeof(eth);
    for (unsigned i = 0; i < n; i++) {
        buf[len++] = 0x81; /* TPID 802.1Q */
        buf[len++] = 0x00;
        buf[len++] = 0x00; /* VID 10 + i */
        buf[len++] = (uint8_t)(10 + i);
    }
    memcpy(buf + len, ip_udp, sizeof(ip_udp));
    return len + sizeof(ip_udp);
}

static void test_decode_vlan_cap(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct ns_packet p;
    uint8_t *c;
    size_t len = build_vlan_stack(buf, NS_DEC_MAX_VLAN);
    decode_ok(buf, len, NS_LINK_EN10MB, &p, &c);
    assert_int_equal(p.vlan_count, NS_DEC_MAX_VLAN);
    for (unsigned i = 0; i < NS_DEC_MAX_VLAN; i++) {
        assert_int_equal(p.vlan[i], 10 + i);
    }
    assert_int_equal(p.sport, 7);
    free(c);

    len = build_vlan_stack(buf, NS_DEC_MAX_VLAN + 1);
    decode_fail(buf, len, NS_LINK_EN10MB, NS_EMALFORMED, NS_DEC_VLAN_TOO_DEEP);
}

/* Raw IPv6 with n destination-options headers, then UDP. */
static size_t build_ext_chain(uint8_t *buf, unsigned n)
{
    static const uint8_t ip6[40] = {
        0x60, 0x00, 0x00, 0x00,                         /* version 6 */
        0x00, 0x00, 0x3c, 0x40,                         /* length (set below), dstopts */
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* source 2001:db8::1 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* */
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* destination 2001:db8::2 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* */
    };
    memcpy(buf, ip6, sizeof(ip6));
    size_t len = sizeof(ip6);
    for (unsigned i = 0; i < n; i++) {
        static const uint8_t dst[8] = {
            0x3c, 0x00,                         /* next: destination options, 8 bytes */
            0x01, 0x04, 0x00, 0x00, 0x00, 0x00, /* PadN */
        };
        memcpy(buf + len, dst, sizeof(dst));
        if (i + 1 == n) {
            buf[len] = NS_IPPROTO_UDP;
        }
        len += sizeof(dst);
    }
    static const uint8_t udp[8] = {
        0x00, 0x35, 0x00, 0x35, /* ports 53 -> 53 */
        0x00, 0x08, 0x00, 0x00, /* length 8 */
    };
    memcpy(buf + len, udp, sizeof(udp));
    len += sizeof(udp);
    buf[4] = (uint8_t)((len - 40) >> 8);
    buf[5] = (uint8_t)(len - 40);
    return len;
}

static void test_decode_ipv6_ext_cap(void **state)
{
    (void)state;
    uint8_t buf[40 + 8 * (NS_DEC_MAX_IPV6_EXT + 1) + 8];
    struct ns_packet p;
    uint8_t *c;
    size_t len = build_ext_chain(buf, NS_DEC_MAX_IPV6_EXT);
    decode_ok(buf, len, NS_LINK_RAW, &p, &c);
    assert_int_equal(p.ip_hdr_len, 40 + 8 * NS_DEC_MAX_IPV6_EXT);
    assert_int_equal(p.sport, 53);
    free(c);

    len = build_ext_chain(buf, NS_DEC_MAX_IPV6_EXT + 1);
    decode_fail(buf, len, NS_LINK_RAW, NS_EMALFORMED, NS_DEC_IPV6_EXT_TOO_MANY);
}

static void test_decode_fragment_invalid(void **state)
{
    (void)state;
    /* IPv4: MF set on a fragment of 8 bytes is fine; on 7 bytes it is not */
    uint8_t b4[sizeof(ipv4_last_frag)];
    memcpy(b4, ipv4_last_frag, sizeof(b4));
    b4[6] = 0x20; /* MF, offset 0 */
    b4[7] = 0x00;
    b4[3] = 0x1b; /* total length 27: 7 data bytes */
    decode_fail(b4, 27, NS_LINK_IPV4, NS_EMALFORMED, NS_DEC_IPV4_FRAG_INVALID);
    /* offset 8191 * 8 + 8 bytes > 65535 */
    memcpy(b4, ipv4_last_frag, sizeof(b4));
    b4[6] = 0x1f;
    b4[7] = 0xff;
    decode_fail(b4, sizeof(b4), NS_LINK_IPV4, NS_EMALFORMED, NS_DEC_IPV4_FRAG_INVALID);

    /* IPv6: M set with 12 data bytes */
    uint8_t b6[sizeof(ipv6_hbh_frag)];
    memcpy(b6, ipv6_hbh_frag, sizeof(b6));
    b6[5] = 0x1c; /* payload length 28: 12 fragment bytes */
    decode_fail(b6, 68, NS_LINK_IPV6, NS_EMALFORMED, NS_DEC_IPV6_FRAG_INVALID);
}

/* ------------------------------------------------------- non-IP and link types */

static void test_decode_non_ip(void **state)
{
    (void)state;
    static const uint8_t arp[] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* destination broadcast */
        0x00, 0x20, 0xd2, 0x5a, 0xfb, 0x3f, /* source */
        0x08, 0x06,                         /* EtherType ARP */
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, /* Ethernet, IPv4, sizes 6 and 4 */
        0x00, 0x01,                         /* request */
        0x00, 0x20, 0xd2, 0x5a, 0xfb, 0x3f, /* sender MAC */
        0x0a, 0x00, 0x00, 0x01,             /* sender 10.0.0.1 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* target MAC */
        0x0a, 0x00, 0x00, 0x02,             /* target 10.0.0.2 */
    };
    decode_fail(arp, sizeof(arp), NS_LINK_EN10MB, NS_ENOTSUP, NS_DEC_L3_UNSUPPORTED);

    static const uint8_t llc_stp[] = {
        0x01, 0x80, 0xc2, 0x00, 0x00, 0x00, /* destination: bridge group */
        0x00, 0x00, 0x5e, 0x00, 0x53, 0x01, /* source */
        0x00, 0x26,                         /* 802.3 length 38 (< 0x0600) */
        0x42, 0x42, 0x03,                   /* LLC: DSAP/SSAP STP, UI */
        0x00, 0x00, 0x00,                   /* STP protocol id, version */
    };
    decode_fail(llc_stp, sizeof(llc_stp), NS_LINK_EN10MB, NS_ENOTSUP, NS_DEC_L3_UNSUPPORTED);

    static const uint8_t loopback_test[] = {
        0x00, 0x00, 0x5e, 0x00, 0x53, 0x01, /* destination */
        0x00, 0x00, 0x5e, 0x00, 0x53, 0x01, /* source */
        0x90, 0x00,                         /* EtherType configuration test (loopback) */
        0x00, 0x00, 0x01, 0x00,             /* skip count, function reply */
    };
    decode_fail(loopback_test, sizeof(loopback_test), NS_LINK_EN10MB, NS_ENOTSUP,
                NS_DEC_L3_UNSUPPORTED);

    /* PPPoE session carrying LCP (0xc021): control traffic, not IP */
    static const uint8_t pppoe_lcp[] = {
        0x00, 0x00, 0x5e, 0x00, 0x53, 0x01, /* destination */
        0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, /* source */
        0x88, 0x64,                         /* PPPoE session */
        0x11, 0x00, 0x00, 0x01, 0x00, 0x06, /* version/type, code, session 1, length 6 */
        0xc0, 0x21,                         /* PPP LCP */
        0x09, 0x01, 0x00, 0x04,             /* echo request */
    };
    decode_fail(pppoe_lcp, sizeof(pppoe_lcp), NS_LINK_EN10MB, NS_ENOTSUP, NS_DEC_L3_UNSUPPORTED);

    /* SLL carrying 802.2 frames (protocol 0x0004) */
    uint8_t sll[sizeof(sll_ipv4_icmp)];
    memcpy(sll, sll_ipv4_icmp, sizeof(sll));
    sll[14] = 0x00;
    sll[15] = 0x04;
    decode_fail(sll, sizeof(sll), NS_LINK_LINUX_SLL, NS_ENOTSUP, NS_DEC_L3_UNSUPPORTED);
}

static void test_decode_pppoe_compressed_protocol(void **state)
{
    (void)state;
    /* PPP protocol field compressed to one byte (RFC 1661 PFC): 0x21 is IPv4 */
    static const uint8_t frame[] = {
        0x00, 0x00, 0x5e, 0x00, 0x53, 0x01, /* destination */
        0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, /* source */
        0x88, 0x64,                         /* PPPoE session */
        0x11, 0x00, 0x00, 0x01, 0x00, 0x1d, /* version/type, code, session 1, length 29 */
        0x21,                               /* @20 PPP protocol IPv4, compressed */
        0x45, 0x00, 0x00, 0x1c,             /* @21 IPv4, total length 28 */
        0x00, 0x00, 0x00, 0x00,             /* id 0 */
        0x40, 0x11, 0x00, 0x00,             /* TTL 64, UDP */
        0x0a, 0x00, 0x00, 0x01,             /* 10.0.0.1 */
        0x0a, 0x00, 0x00, 0x02,             /* 10.0.0.2 */
        0x00, 0x07, 0x00, 0x09,             /* ports 7 -> 9 */
        0x00, 0x08, 0x00, 0x00,             /* length 8 */
    };
    struct ns_packet p;
    uint8_t *c;
    decode_ok(frame, sizeof(frame), NS_LINK_EN10MB, &p, &c);
    assert_ptr_equal(p.l3, c + 21);
    assert_int_equal(p.ethertype, 0x0800);
    assert_int_equal(p.dport, 9);
    free(c);
    /* version 2 is not a PPPoE we know */
    uint8_t bad[sizeof(frame)];
    memcpy(bad, frame, sizeof(bad));
    bad[14] = 0x21;
    decode_fail(bad, sizeof(bad), NS_LINK_EN10MB, NS_ENOTSUP, NS_DEC_L3_UNSUPPORTED);
}

static void test_decode_link_unsupported_and_null_family(void **state)
{
    (void)state;
    /* LINKTYPE_IEEE802_11 (105) is not decoded */
    decode_fail(eth_ipv4_tcp_syn, sizeof(eth_ipv4_tcp_syn), 105, NS_ENOTSUP,
                NS_DEC_LINK_UNSUPPORTED);
    decode_fail(eth_ipv4_tcp_syn, 0, 105, NS_ENOTSUP, NS_DEC_LINK_UNSUPPORTED);

    /* BSD null with AF 7 (AF_OSI on BSD): not IP, counted as an unknown family */
    uint8_t b[sizeof(null_le_ipv4_tcp)];
    memcpy(b, null_le_ipv4_tcp, sizeof(b));
    b[0] = 0x07;
    decode_fail(b, sizeof(b), NS_LINK_NULL, NS_ENOTSUP, NS_DEC_NULL_FAMILY);
    /* AF_INET6 = 24 in little-endian order is fine for DLT_NULL, not for DLT_LOOP */
    uint8_t l[sizeof(loop_ipv6_nonext)];
    memcpy(l, loop_ipv6_nonext, sizeof(l));
    l[0] = 0x18;
    l[3] = 0x00;
    struct ns_packet p;
    uint8_t *c;
    decode_ok(l, sizeof(l), NS_LINK_NULL, &p, &c);
    assert_int_equal(p.ipver, 6);
    free(c);
    decode_fail(l, sizeof(l), NS_LINK_LOOP, NS_ENOTSUP, NS_DEC_NULL_FAMILY);
    /* AF_INET6 as Linux (10) and FreeBSD (28) number it */
    l[0] = 10;
    decode_ok(l, sizeof(l), NS_LINK_NULL, &p, &c);
    free(c);
    l[0] = 28;
    decode_ok(l, sizeof(l), NS_LINK_NULL, &p, &c);
    free(c);
}

static void test_decode_null_data_and_stats_accumulate(void **state)
{
    (void)state;
    struct ns_packet p;
    memset(&p, 0, sizeof(p));
    p.linktype = NS_LINK_EN10MB;
    p.data = NULL;
    p.caplen = 100; /* lies: no data */
    struct ns_decode_stats st;
    memset(&st, 0, sizeof(st));
    assert_int_equal(ns_decode_packet(&p, &st, NULL), NS_ETRUNC);
    assert_int_equal(st.reason[NS_DEC_ETH_TRUNC], 1);

    /* counters accumulate over calls; stats and reason may be NULL */
    p.data = eth_ipv4_tcp_syn;
    p.caplen = sizeof(eth_ipv4_tcp_syn);
    assert_int_equal(ns_decode_packet(&p, &st, NULL), 0);
    assert_int_equal(ns_decode_packet(&p, NULL, NULL), 0);
    assert_int_equal(st.frames, 2);
    assert_int_equal(st.decoded, 1);
}

/* ------------------------------------------------------------ transport only */

static void test_decode_transport(void **state)
{
    (void)state;
    struct ns_packet p;
    struct ns_decode_stats st;
    enum ns_dec_reason why;
    memset(&p, 0, sizeof(p));
    memset(&st, 0, sizeof(st));

    /* the TCP segment of eth_ipv4_tcp_syn, as a reassembled datagram would hand it */
    const uint8_t *tcp = eth_ipv4_tcp_syn + 34;
    p.proto = NS_IPPROTO_TCP;
    p.flags = NS_PKT_F_REASSEMBLED;
    assert_int_equal(ns_decode_transport(&p, tcp, 40, 40, &st, &why), 0);
    assert_int_equal(why, NS_DEC_OK);
    assert_int_equal(p.flags, NS_PKT_F_REASSEMBLED | NS_PKT_F_HAS_L4);
    assert_int_equal(p.sport, 50000);
    assert_int_equal(p.tcp_opts.mss, 1460);
    assert_ptr_equal(p.l4, tcp);

    /* cut header */
    assert_int_equal(ns_decode_transport(&p, tcp, 30, 40, &st, &why), NS_ETRUNC);
    assert_int_equal(why, NS_DEC_TCP_TRUNC);
    assert_int_equal(st.reason[NS_DEC_TCP_TRUNC], 1);
    assert_int_equal(p.flags & NS_PKT_F_HAS_L4, 0);
    assert_int_equal(p.sport, 0);

    /* the UDP datagram of sll2_ipv4_udp */
    p.proto = NS_IPPROTO_UDP;
    assert_int_equal(ns_decode_transport(&p, sll2_ipv4_udp + 40, 8, 8, &st, &why), 0);
    assert_int_equal(p.sport, 68);
    assert_int_equal(p.dport, 67);

    /* UDP length 8 but only 6 bytes declared */
    assert_int_equal(ns_decode_transport(&p, sll2_ipv4_udp + 40, 8, 6, &st, &why), NS_ETRUNC);
    assert_int_equal(why, NS_DEC_UDP_TRUNC);

    /* SCTP common header: ports, no reason of its own when whole */
    static const uint8_t sctp[] = {
        0x0b, 0x59, 0x0b, 0x59, /* ports 2905 -> 2905 (M3UA) */
        0x00, 0x00, 0x00, 0x01, /* verification tag */
        0x00, 0x00, 0x00, 0x00, /* checksum */
    };
    p.proto = NS_IPPROTO_SCTP;
    assert_int_equal(ns_decode_transport(&p, sctp, sizeof(sctp), sizeof(sctp), &st, &why), 0);
    assert_int_equal(p.sport, 2905);
    assert_int_equal(p.flags & NS_PKT_F_HAS_L4, NS_PKT_F_HAS_L4);
    assert_int_equal(ns_decode_transport(&p, sctp, 11, 12, &st, &why), NS_ETRUNC);
    assert_int_equal(why, NS_DEC_SCTP_TRUNC);

    /* no ports: NS_ENOTSUP, not counted */
    struct ns_decode_stats before = st;
    p.proto = 47;
    assert_int_equal(ns_decode_transport(&p, sctp, sizeof(sctp), sizeof(sctp), &st, &why),
                     NS_ENOTSUP);
    assert_int_equal(why, NS_DEC_OK);
    assert_int_equal(p.payload_len, sizeof(sctp));
    assert_memory_equal(&st, &before, sizeof(st));

    /* NULL data */
    p.proto = NS_IPPROTO_ICMP;
    assert_int_equal(ns_decode_transport(&p, NULL, 0, 0, NULL, &why), NS_ETRUNC);
    assert_int_equal(why, NS_DEC_ICMP_TRUNC);
}

/* ------------------------------------------------------------ names, addresses */

static void test_decode_reason_names(void **state)
{
    (void)state;
    assert_string_equal(ns_dec_reason_name(NS_DEC_OK), "ok");
    assert_string_equal(ns_dec_reason_name(NS_DEC_IPV4_TRUNC), "ipv4_truncated");
    assert_string_equal(ns_dec_reason_name(NS_DEC_L3_UNSUPPORTED), "l3_not_ip");
    assert_string_equal(ns_dec_reason_name(NS_DEC_PPPOE_TRUNC), "pppoe_truncated");
    assert_string_equal(ns_dec_reason_name(NS_DEC_REASON_COUNT), "unknown");
    assert_string_equal(ns_dec_reason_name((enum ns_dec_reason) - 1), "unknown");
    for (int i = 0; i < NS_DEC_REASON_COUNT; i++) {
        const char *n = ns_dec_reason_name((enum ns_dec_reason)i);
        assert_non_null(n);
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(n, ns_dec_reason_name((enum ns_dec_reason)j));
        }
    }
}

static void test_decode_addr_format(void **state)
{
    (void)state;
    char buf[64];
    struct ns_addr a;
    memset(&a, 0, sizeof(a));
    assert_string_equal(ns_addr_format(&a, buf, sizeof(buf)), "-");
    a.family = 4;
    a.a[0] = 255;
    a.a[1] = 0;
    a.a[2] = 10;
    a.a[3] = 1;
    assert_string_equal(ns_addr_format(&a, buf, sizeof(buf)), "255.0.10.1");
    /* too small for the text */
    assert_string_equal(ns_addr_format(&a, buf, 8), "-");
    assert_string_equal(ns_addr_format(&a, buf, 1), "");
    memset(&a, 0, sizeof(a));
    a.family = 6;
    a.a[10] = 0xff;
    a.a[11] = 0xff;
    a.a[12] = 192;
    a.a[13] = 0;
    a.a[14] = 2;
    a.a[15] = 1;
    assert_string_equal(ns_addr_format(&a, buf, sizeof(buf)), "::ffff:192.0.2.1");
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    memcpy(a.a, v6, 16);
    assert_string_equal(ns_addr_format(&a, buf, sizeof(buf)), "2001:db8:0:1::1");
    a.family = 5;
    assert_string_equal(ns_addr_format(&a, buf, sizeof(buf)), "-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_eth_ipv4_tcp_syn),
        cmocka_unit_test(test_decode_eth_vlan_ipv4_options_udp),
        cmocka_unit_test(test_decode_eth_qinq_ipv6_icmpv6),
        cmocka_unit_test(test_decode_eth_vlan_pppoe_ipv6_udp),
        cmocka_unit_test(test_decode_sll_ipv4_icmp),
        cmocka_unit_test(test_decode_sll2_ipv4_udp),
        cmocka_unit_test(test_decode_null_and_loop),
        cmocka_unit_test(test_decode_raw_ipv6_ext_headers),
        cmocka_unit_test(test_decode_ipv6_fragment),
        cmocka_unit_test(test_decode_ipv4_fragments),
        cmocka_unit_test(test_decode_ipv6_ah_esp_and_other_protocols),
        cmocka_unit_test(test_decode_truncated_at_every_length),
        cmocka_unit_test(test_decode_snapped_payload),
        cmocka_unit_test(test_decode_ipv4_invalid),
        cmocka_unit_test(test_decode_ipv4_total_length_zero_is_offload),
        cmocka_unit_test(test_decode_ipv4_option_invalid_still_decodes),
        cmocka_unit_test(test_decode_tcp_invalid),
        cmocka_unit_test(test_decode_tcp_option_invalid_still_decodes),
        cmocka_unit_test(test_decode_tcp_eol_and_sack),
        cmocka_unit_test(test_decode_udp_invalid),
        cmocka_unit_test(test_decode_vlan_cap),
        cmocka_unit_test(test_decode_ipv6_ext_cap),
        cmocka_unit_test(test_decode_fragment_invalid),
        cmocka_unit_test(test_decode_non_ip),
        cmocka_unit_test(test_decode_pppoe_compressed_protocol),
        cmocka_unit_test(test_decode_link_unsupported_and_null_family),
        cmocka_unit_test(test_decode_null_data_and_stats_accumulate),
        cmocka_unit_test(test_decode_transport),
        cmocka_unit_test(test_decode_reason_names),
        cmocka_unit_test(test_decode_addr_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
