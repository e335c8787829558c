/*
 * decode_int.h - internals shared by the decode stage's files.
 *
 * The decoders are a chain of functions, one per layer, each reading through
 * a struct ns_rd positioned at its header and handing the next layer a reader
 * positioned after it:
 *
 *   ns_decode_packet (decode_packet.c)
 *     -> link: ns__decode_eth / _sll / _sll2 / _null / _raw (decode_link.c)
 *        -> ns__decode_ethertype: VLAN tags, PPPoE session, IP dispatch
 *           -> ns__decode_ipv4 (decode_ipv4.c) / ns__decode_ipv6 (decode_ipv6.c)
 *              -> ns__decode_l4: TCP, UDP, ICMP, ICMPv6, SCTP (decode_l4.c)
 *
 * Every function returns 0 or a negative NS_E... code; on failure it records
 * the reason in the context with ns__dec_fail(). Non-fatal anomalies (a bad
 * option length) are counted at once with ns__dec_note().
 */
#ifndef NETSIFT_DECODE_INT_H
#define NETSIFT_DECODE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "netsift/decode.h"
#include "netsift/err.h"
#include "netsift/rd.h"

/* Cap on the IPv4 option walk (40 option bytes, each pass consumes one or more). */
#define NS__DEC_MAX_IPV4_OPTS 40

#define NS__ETH_IPV4   0x0800
#define NS__ETH_IPV6   0x86dd
#define NS__ETH_VLAN   0x8100
#define NS__ETH_QINQ   0x88a8
#define NS__ETH_QINQ2  0x9100
#define NS__ETH_PPPOES 0x8864

/* One decode call's context: where to count, and what went wrong. */
struct ns__dec {
    struct ns_decode_stats *stats; /* may be NULL */
    enum ns_dec_reason fail;       /* reason of the failing return */
    enum ns_dec_reason note;       /* first non-fatal anomaly */
};

/* Record the reason of a failure and return rc, for `return ns__dec_fail(...)`. */
static inline int ns__dec_fail(struct ns__dec *d, int rc, enum ns_dec_reason r)
{
    d->fail = r;
    return rc;
}

/* Count a non-fatal anomaly now (the packet still decodes). */
static inline void ns__dec_note(struct ns__dec *d, enum ns_dec_reason r)
{
    if (d->stats != NULL) {
        d->stats->reason[r]++;
    }
    if (d->note == NS_DEC_OK) {
        d->note = r;
    }
}

/* Link layers (decode_link.c); `r` covers the whole frame. */
int ns__decode_eth(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r);
int ns__decode_sll(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r);
int ns__decode_sll2(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r);
int ns__decode_null(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r, bool loop);
int ns__decode_raw(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r);

/*
 * The layer named by an EtherType `type`, at the cursor of `r`: VLAN tags
 * (up to NS_DEC_MAX_VLAN), a PPPoE session, IPv4 or IPv6. Anything else is
 * non-IP: NS_ENOTSUP with NS_DEC_L3_UNSUPPORTED.
 */
int ns__decode_ethertype(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r, uint16_t type);

/* IP headers at the cursor of `r` (decode_ipv4.c, decode_ipv6.c). */
int ns__decode_ipv4(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r);
int ns__decode_ipv6(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r);

/*
 * Transport header of protocol p->proto in (data, len), whose length per the
 * IP header is wire_len (len is clamped to it). Sets l4, payload and the
 * transport fields; NS_ENOTSUP (with payload set to the whole of data) for a
 * protocol without ports.
 */
int ns__decode_l4(struct ns__dec *d, struct ns_packet *p, const uint8_t *data, size_t len,
                  uint32_t wire_len);

/*
 * Hand the IP payload (data, len; wire_len declared) of a non-fragment to
 * ns__decode_l4 and map "no ports" to success; shared by IPv4 and IPv6.
 */
int ns__decode_ip_payload(struct ns__dec *d, struct ns_packet *p, const uint8_t *data, size_t len,
                          uint32_t wire_len);

#endif
