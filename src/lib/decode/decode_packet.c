/*
 * decode_packet.c - the decode stage's entry points: one frame into a struct
 * ns_packet (ns_decode_packet), the transport header of a reassembled
 * datagram (ns_decode_transport), and the reason names.
 *
 * The link type picks the first decoder (decode_link.c); the chain and the
 * counting policy are described in decode_int.h and decode.h. Link-type
 * numbers are those of tcpdump.org's LINKTYPE_ list.
 */
#include "netsift/decode.h"

#include <stddef.h>
#include <string.h>

#include "decode_int.h"

static const char *const reason_names[NS_DEC_REASON_COUNT] = {[NS_DEC_OK] = "ok",
#define NS_DEC_REASON_TEXT(name, text) [NS_DEC_##name] = text,
                                                              NS_DEC_REASON_MAP(NS_DEC_REASON_TEXT)
#undef NS_DEC_REASON_TEXT
};

const char *ns_dec_reason_name(enum ns_dec_reason r)
{
    if ((unsigned)r >= NS_DEC_REASON_COUNT) {
        return "unknown";
    }
    return reason_names[r];
}

/* Readers never see a NULL base, so that views handed on are never NULL + offset. */
static const uint8_t empty_frame[1];

int ns__decode_ip_payload(struct ns__dec *d, struct ns_packet *p, const uint8_t *data, size_t len,
                          uint32_t wire_len)
{
    int rc = ns__decode_l4(d, p, data, len, wire_len);
    return rc == NS_ENOTSUP ? 0 : rc;
}

static int decode_link(struct ns__dec *d, struct ns_packet *p, struct ns_rd *r)
{
    switch (p->linktype) {
    case NS_LINK_EN10MB:
        return ns__decode_eth(d, p, r);
    case NS_LINK_LINUX_SLL:
        return ns__decode_sll(d, p, r);
    case NS_LINK_SLL2:
        return ns__decode_sll2(d, p, r);
    case NS_LINK_NULL:
        return ns__decode_null(d, p, r, false);
    case NS_LINK_LOOP:
        return ns__decode_null(d, p, r, true);
    case NS_LINK_RAW:
    case NS_LINK_RAW_OLD1:
    case NS_LINK_RAW_OLD2:
        return ns__decode_raw(d, p, r);
    case NS_LINK_IPV4:
        p->ethertype = NS__ETH_IPV4;
        return ns__decode_ipv4(d, p, r);
    case NS_LINK_IPV6:
        p->ethertype = NS__ETH_IPV6;
        return ns__decode_ipv6(d, p, r);
    default:
        return ns__dec_fail(d, NS_ENOTSUP, NS_DEC_LINK_UNSUPPORTED);
    }
}

int ns_decode_packet(struct ns_packet *p, struct ns_decode_stats *stats, enum ns_dec_reason *reason)
{
    struct ns__dec d = {.stats = stats, .fail = NS_DEC_OK, .note = NS_DEC_OK};

    /* everything from `flags` on is output; the frame metadata before it is the caller's */
    memset((unsigned char *)p + offsetof(struct ns_packet, flags), 0,
           sizeof(*p) - offsetof(struct ns_packet, flags));

    struct ns_rd r;
    if (p->data != NULL) {
        ns_rd_init(&r, p->data, p->caplen, 0);
    } else {
        ns_rd_init(&r, empty_frame, 0, 0);
    }
    int rc = decode_link(&d, p, &r);

    enum ns_dec_reason why = rc == 0 ? d.note : d.fail;
    if (stats != NULL) {
        stats->frames++;
        if (rc == 0) {
            stats->decoded++;
            if ((p->flags & NS_PKT_F_SNAPPED) != 0) {
                stats->snapped++;
            }
        } else if (why == NS_DEC_L3_UNSUPPORTED) {
            stats->non_ip++;
        } else {
            stats->reason[why]++;
        }
    }
    if (reason != NULL) {
        *reason = why;
    }
    return rc;
}

int ns_decode_transport(struct ns_packet *p, const uint8_t *data, size_t len, uint32_t wire_len,
                        struct ns_decode_stats *stats, enum ns_dec_reason *reason)
{
    struct ns__dec d = {.stats = stats, .fail = NS_DEC_OK, .note = NS_DEC_OK};

    /* the transport fields run from sport to the end of the struct */
    memset((unsigned char *)p + offsetof(struct ns_packet, sport), 0,
           sizeof(*p) - offsetof(struct ns_packet, sport));
    p->flags &= ~(uint32_t)NS_PKT_F_HAS_L4;
    if (data == NULL) {
        data = empty_frame;
        len = 0;
    }
    int rc = ns__decode_l4(&d, p, data, len, wire_len);

    enum ns_dec_reason why = NS_DEC_OK;
    if (rc == 0) {
        why = d.note;
    } else if (rc != NS_ENOTSUP) {
        why = d.fail;
        if (stats != NULL) {
            stats->reason[why]++;
        }
    }
    if (reason != NULL) {
        *reason = why;
    }
    return rc;
}
