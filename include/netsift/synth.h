/*
 * synth.h - the deterministic capture generator behind `netsift synth`.
 *
 * It writes a classic pcap file (little-endian magic 0xa1b2c3d4, version
 * 2.4, microsecond timestamps, snaplen 262144, LINKTYPE_ETHERNET) of
 * realistic traffic: TCP with real handshakes, HTTP/1.1, HL7 v2 over MLLP,
 * DICOM upper layer, DNS, IPv6 with extension headers, 802.1Q and QinQ,
 * IPv4 / IPv6 fragments, retransmissions, a SYN port scan. Every checksum is
 * correct and every frame belongs to a flow described by the truth file.
 *
 * Output is a pure function of the options: the generator has its own PRNG
 * (xoshiro256** seeded by splitmix64) and its own clock, which starts at
 * 2024-03-01T00:00:00Z; it never reads the time or rand().
 *
 * The traffic is made in rounds: one round holds a few conversations of
 * every selected kind, interleaved in time. Without a size one round is
 * written; with a size, rounds follow one another (with fresh addresses,
 * ports and timing) until the file has at least that many bytes.
 *
 * Truth (JSON Lines, one object per flow, in the order of each flow's first
 * frame):
 *   {"type":"flow","kind":"http","proto":"tcp","ip_version":4,
 *    "src_addr":"192.168.1.23","src_port":49875,"dst_addr":"10.20.0.80",
 *    "dst_port":80,"vlan":0,"packets_fwd":12,"packets_rev":14,
 *    "bytes_fwd":1030,"bytes_rev":25511,
 *    "first_seen":"2024-03-01T00:00:01.250000Z",
 *    "last_seen":"2024-03-01T00:00:01.412345Z"}
 * src is the initiator; vlan the outermost VLAN ID (0 untagged); packets
 * count frames (every IP fragment is a frame of its datagram's flow) and
 * bytes their original lengths. A 5-tuple is never reused within a round,
 * and rounds are seconds apart.
 */
#ifndef NETSIFT_SYNTH_H
#define NETSIFT_SYNTH_H

#include <stdint.h>
#include <stdio.h>

#include "netsift/err.h"

/* The kinds of traffic, in the order they are listed and generated. */
enum ns_synth_kind {
    NS_SYNTH_TCP = 0, /* plain TCP: handshakes with OS-typical options, data, FIN and RST */
    NS_SYNTH_HTTP,    /* HTTP/1.1: Content-Length, chunked, gzip, keep-alive, GET, POST */
    NS_SYNTH_HL7,     /* HL7 v2.5 over MLLP: ADT^A01 with PRT, ORU^R01 with OBX, ACKs */
    NS_SYNTH_DICOM,   /* DICOM PS3.8: associate, C-STORE, release */
    NS_SYNTH_DNS,     /* DNS over UDP (A, AAAA, CNAME, NXDOMAIN), some over IPv6 */
    NS_SYNTH_IPV6,    /* TCP and UDP over IPv6, with hop-by-hop / destination options */
    NS_SYNTH_VLAN,    /* 802.1Q (two VLAN IDs) and QinQ */
    NS_SYNTH_FRAG,    /* fragmented IPv4 and IPv6 UDP datagrams */
    NS_SYNTH_RETRANS, /* TCP with duplicated and swapped segments */
    NS_SYNTH_SCAN,    /* a SYN port scan */
    NS_SYNTH_KIND_COUNT
};

#define NS_SYNTH_KIND_BIT(k) (1u << (k))
#define NS_SYNTH_ALL_KINDS   ((1u << NS_SYNTH_KIND_COUNT) - 1u)

/* Called after each round with the bytes written so far and the target (0: none). */
typedef void ns_synth_progress_fn(void *ud, uint64_t bytes, uint64_t target);

struct ns_synth_opts {
    uint64_t seed;
    uint64_t size;  /* keep writing rounds until the pcap has this many bytes; 0: one round */
    uint32_t kinds; /* NS_SYNTH_KIND_BIT mask; 0 means all kinds */
    ns_synth_progress_fn *progress; /* optional */
    void *progress_ud;
};

struct ns_synth_stats {
    uint64_t rounds;
    uint64_t frames;
    uint64_t flows;
    uint64_t bytes;            /* pcap bytes, file header included */
    uint64_t last_round_bytes; /* pcap bytes of the last round */
};

/* "tcp", "http", ...; NULL for an unknown kind. */
const char *ns_synth_kind_name(enum ns_synth_kind k);

/*
 * Parse a comma-separated list of kind names ("dns,frag") into a mask.
 * Returns 0, or NS_EINVAL for an empty list, an empty item or an unknown name
 * (*mask is then left alone).
 */
int ns_synth_parse_kinds(const char *list, uint32_t *mask);

/*
 * Write the capture to `pcap` and, if `truth` is not NULL, the truth lines to
 * `truth`. The streams are borrowed (neither closed nor flushed here beyond
 * fwrite). `stats` may be NULL. Returns 0, NS_EINVAL (bad kinds mask),
 * NS_ENOMEM, or NS_EIO when a write fails.
 */
int ns_synth_write(FILE *pcap, FILE *truth, const struct ns_synth_opts *opts,
                   struct ns_synth_stats *stats, struct ns_error *err);

#endif
