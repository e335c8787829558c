/*
 * flow_community.c - Community ID v1 flow hashing.
 *
 * Spec: https://github.com/corelight/community-id-spec (version 1). The hash
 * input, all in network byte order, aligned on 32 bits:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |             seed              |  source address (4 or 16)   ...
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   ...                destination address (4 or 16)              ...
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   ...   |     proto     |  padding 0    |  source port  ...
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   ...   |   destination port    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The ports are present only for TCP, UDP, SCTP, ICMP and ICMPv6. The
 * endpoints are swapped so that the smaller (address, port) comes first,
 * except for ICMP messages without a request/reply counterpart ("one-way"),
 * which keep the sender first. ICMP type and code become ports as Zeek maps
 * them: (type, counterpart type) for paired messages, (type, code) for the
 * others. The result is "1:" and the base64 of the SHA-1 digest (OpenSSL
 * libcrypto).
 */
#include "netsift/flow.h"

#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "flow/flow_int.h"
#include "netsift/err.h"

/* ICMPv4 pairs (RFC 792, RFC 950, RFC 1256): echo, timestamp, information, router, mask. */
static const uint8_t icmp4_pairs[][2] = {
    {8, 0}, {13, 14}, {15, 16}, {10, 9}, {17, 18},
};

/*
 * ICMPv6 pairs (RFC 4443, RFC 4861, RFC 2710, RFC 4620, RFC 6275): echo,
 * router solicitation / advertisement, neighbor solicitation / advertisement,
 * MLD query / report, node information query / reply, home agent address
 * discovery request / reply.
 */
static const uint8_t icmp6_pairs[][2] = {
    {128, 129}, {133, 134}, {135, 136}, {130, 131}, {139, 140}, {144, 145},
};

static bool pair_lookup(const uint8_t (*pairs)[2], size_t n, uint8_t type, uint8_t *other)
{
    for (size_t i = 0; i < n; i++) {
        if (pairs[i][0] == type) {
            *other = pairs[i][1];
            return true;
        }
        if (pairs[i][1] == type) {
            *other = pairs[i][0];
            return true;
        }
    }
    return false;
}

bool ns__flow_icmp_ports(uint8_t proto, uint8_t type, uint8_t code, uint16_t *sport,
                         uint16_t *dport)
{
    uint8_t other = 0;
    bool paired = false;

    if (proto == NS_IPPROTO_ICMP) {
        paired =
            pair_lookup(icmp4_pairs, sizeof(icmp4_pairs) / sizeof(icmp4_pairs[0]), type, &other);
    } else if (proto == NS_IPPROTO_ICMPV6) {
        paired =
            pair_lookup(icmp6_pairs, sizeof(icmp6_pairs) / sizeof(icmp6_pairs[0]), type, &other);
    }
    *sport = type;
    *dport = paired ? other : code;
    return !paired;
}

bool ns__flow_proto_has_ports(uint8_t proto)
{
    return proto == NS_IPPROTO_TCP || proto == NS_IPPROTO_UDP || proto == NS_IPPROTO_SCTP ||
           proto == NS_IPPROTO_ICMP || proto == NS_IPPROTO_ICMPV6;
}

/*
 * SHA-1 is fetched from the provider once per process: EVP_sha1() inside
 * EVP_Digest() fetches it again on every call, under a lock, which cost about
 * 5% of `netsift flows` (one Community ID per flow record). The fetched
 * method is immutable and shared by every thread.
 */
static EVP_MD *cid_sha1;
static pthread_once_t cid_sha1_once = PTHREAD_ONCE_INIT;

static void cid_sha1_fetch(void)
{
    cid_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
}

int ns__flow_cid_ordered(uint8_t ipver, uint8_t proto, const uint8_t *a, const uint8_t *b,
                         uint16_t aport, uint16_t bport, uint16_t seed, char *buf, size_t size)
{
    uint8_t in[2 + 16 + 16 + 2 + 4];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    unsigned char b64[64];
    size_t alen;
    size_t n = 0;
    int len;

    if (buf == NULL || size < 32 || (ipver != 4 && ipver != 6)) {
        return NS_EINVAL;
    }
    alen = ipver == 6 ? 16 : 4;
    in[n++] = (uint8_t)(seed >> 8);
    in[n++] = (uint8_t)seed;
    memcpy(in + n, a, alen);
    n += alen;
    memcpy(in + n, b, alen);
    n += alen;
    in[n++] = proto;
    in[n++] = 0;
    if (ns__flow_proto_has_ports(proto)) {
        in[n++] = (uint8_t)(aport >> 8);
        in[n++] = (uint8_t)aport;
        in[n++] = (uint8_t)(bport >> 8);
        in[n++] = (uint8_t)bport;
    }
    pthread_once(&cid_sha1_once, cid_sha1_fetch);
    if (EVP_Digest(in, n, md, &mdlen, cid_sha1 != NULL ? cid_sha1 : EVP_sha1(), NULL) != 1 ||
        mdlen != 20) {
        return NS_ENOMEM;
    }
    /* 20 bytes give 28 base64 characters and a NUL */
    len = EVP_EncodeBlock(b64, md, (int)mdlen);
    if (len != 28) {
        return NS_EINVAL;
    }
    buf[0] = '1';
    buf[1] = ':';
    memcpy(buf + 2, b64, (size_t)len);
    buf[2 + len] = '\0';
    return 0;
}

int ns_community_id(uint8_t ipver, uint8_t proto, const uint8_t *saddr, const uint8_t *daddr,
                    uint16_t sport, uint16_t dport, uint16_t seed, char *buf, size_t size)
{
    bool one_way = false;
    size_t alen;
    int cmp;

    if (saddr == NULL || daddr == NULL || (ipver != 4 && ipver != 6)) {
        return NS_EINVAL;
    }
    alen = ipver == 6 ? 16 : 4;
    if (proto == NS_IPPROTO_ICMP || proto == NS_IPPROTO_ICMPV6) {
        /* sport and dport carry the ICMP type and code */
        one_way = ns__flow_icmp_ports(proto, (uint8_t)sport, (uint8_t)dport, &sport, &dport);
    } else if (!ns__flow_proto_has_ports(proto)) {
        sport = 0;
        dport = 0;
    }
    cmp = memcmp(saddr, daddr, alen);
    if (!one_way && (cmp > 0 || (cmp == 0 && sport > dport))) {
        return ns__flow_cid_ordered(ipver, proto, daddr, saddr, dport, sport, seed, buf, size);
    }
    return ns__flow_cid_ordered(ipver, proto, saddr, daddr, sport, dport, seed, buf, size);
}

int ns_flow_community_id(const struct ns_flow *f, uint16_t seed, char *buf, size_t size)
{
    /* the key is already in the spec's order, with the ICMP ports mapped */
    if (f == NULL) {
        return NS_EINVAL;
    }
    return ns__flow_cid_ordered(f->key.ipver, f->key.proto, f->key.lo, f->key.hi, f->key.lo_port,
                                f->key.hi_port, seed, buf, size);
}
