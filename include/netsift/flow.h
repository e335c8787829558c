/*
 * flow.h - the bidirectional flow table and Community ID.
 *
 * Key: the canonical (IP version, protocol, lower address and port, higher
 * address and port, outermost VLAN ID). Both directions of a conversation map
 * to one flow. ICMP and ICMPv6 use the Community ID port mapping (type and
 * code, with requests and replies paired), so an echo request and its reply
 * are one flow; other protocols without ports use ports 0.
 *
 * The side that opened the flow is `src`: the sender of a SYN without ACK
 * when that is the first packet seen; for a flow picked up mid-stream, the
 * sender of a SYN+ACK is taken as the server (dst); otherwise the sender of
 * the first packet. Direction 0 ("fwd") is src -> dst, 1 ("rev") the other way.
 *
 * Storage: flows live in a slab that grows up to `max_flows`; the index is
 * an open-addressing hash table (linear probing, backward-shift deletion).
 * An LRU list ordered by last packet time drives idle timeouts and eviction:
 * when the table is full the least recently seen flow is ended with reason
 * "evicted" and counted. Times are capture times.
 *
 * Ends: idle timeout (no packet for idle_timeout_ns), active timeout (the
 * flow has lasted active_timeout_ns: it is ended and a new one starts),
 * closed (both FINs, or a RST, then closed_timeout_ns without packets),
 * reused (a SYN without ACK on a closed TCP flow starts a new flow),
 * evicted, end of input. The end callback gets each flow once.
 */
#ifndef NETSIFT_FLOW_H
#define NETSIFT_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsift/decode.h"

enum ns_flow_state {
    NS_FLOW_ST_NEW = 0,      /* no TCP handshake seen (UDP, ICMP: always) */
    NS_FLOW_ST_SYN_SENT,     /* SYN seen */
    NS_FLOW_ST_SYN_RECEIVED, /* SYN+ACK seen */
    NS_FLOW_ST_ESTABLISHED,  /* handshake completed, or data seen both ways */
    NS_FLOW_ST_FIN_WAIT,     /* one side sent FIN */
    NS_FLOW_ST_CLOSED,       /* both sides sent FIN */
    NS_FLOW_ST_RESET,        /* RST seen */
};

enum ns_flow_end {
    NS_FLOW_END_NONE = 0,
    NS_FLOW_END_IDLE,
    NS_FLOW_END_ACTIVE,
    NS_FLOW_END_CLOSED,
    NS_FLOW_END_RESET,
    NS_FLOW_END_REUSED,
    NS_FLOW_END_EVICTED,
    NS_FLOW_END_EOF,
};

/* "established", "idle_timeout", ...: the names used in JSON output. */
const char *ns_flow_state_name(enum ns_flow_state s);
const char *ns_flow_end_name(enum ns_flow_end e);

struct ns_flow_key {
    uint8_t ipver;
    uint8_t proto;
    uint16_t vlan;  /* outermost VLAN ID, 0 when untagged */
    uint8_t lo[16]; /* lower (address, port) side */
    uint8_t hi[16];
    uint16_t lo_port;
    uint16_t hi_port;
};

struct ns_flow {
    struct ns_flow_key key;
    bool src_is_lo;       /* the initiator is the key's lo side */
    bool syn_seen;        /* a SYN without ACK was seen */
    uint8_t state;        /* enum ns_flow_state */
    uint8_t end;          /* enum ns_flow_end, set before the end callback */
    uint8_t tcp_flags[2]; /* OR of TCP flags per direction (0 = fwd) */
    uint64_t packets[2];
    uint64_t bytes[2]; /* original frame lengths */
    uint64_t first_ns;
    uint64_t last_ns;
    uint64_t id; /* 1-based, in creation order */
    void *user;  /* the TCP reassembler's connection state; the table never touches it */
    void *app;   /* the command's own per-flow state (e.g. UDP stream files); never touched */
    /* table internals */
    uint32_t lru_prev;
    uint32_t lru_next;
    uint32_t hash;
};

/*
 * Source and destination of a flow as the user sees them (src = initiator).
 * Any output pointer may be NULL. For ICMP and ICMPv6 the ports are the
 * Community ID mapping: (type, counterpart type) for request/reply pairs,
 * (type, code) for one-way messages.
 */
void ns_flow_endpoints(const struct ns_flow *f, struct ns_addr *src, uint16_t *sport,
                       struct ns_addr *dst, uint16_t *dport);

/*
 * Community ID v1 (https://github.com/corelight/community-id-spec) of a flow,
 * as "1:<base64 of SHA-1>", into buf (at least 32 bytes). Seed 0 is the
 * standard one.
 */
int ns_flow_community_id(const struct ns_flow *f, uint16_t seed, char *buf, size_t size);

/* The same from explicit endpoints (for tests against the published vectors). */
int ns_community_id(uint8_t ipver, uint8_t proto, const uint8_t *saddr, const uint8_t *daddr,
                    uint16_t sport, uint16_t dport, uint16_t seed, char *buf, size_t size);

/*
 * Called once per flow when it ends; the flow is valid until the callback
 * returns. The callback may read the flow (and f->user) but must not call
 * into the table.
 */
typedef void ns_flow_end_fn(void *ud, struct ns_flow *f);

struct ns_flow_opts {
    size_t max_flows;           /* 0 means 262144 */
    uint64_t idle_timeout_ns;   /* 0 means 120 s (TCP) */
    uint64_t udp_timeout_ns;    /* 0 means 60 s (UDP, ICMP, other) */
    uint64_t active_timeout_ns; /* 0 means 1800 s */
    uint64_t closed_timeout_ns; /* 0 means 10 s after both FINs or a RST */
    ns_flow_end_fn *on_end;
    void *ud;
};

struct ns_flow_stats {
    uint64_t created;
    uint64_t ended;
    uint64_t evicted;
    uint64_t timed_out; /* ended by the idle, closed or active timeout */
    uint64_t reused;
    uint64_t active_max; /* most flows held at once */
    uint64_t no_memory;  /* packets not counted because a flow could not be allocated */
};

struct ns_flow_table;

int ns_flow_table_new(struct ns_flow_table **out, const struct ns_flow_opts *opts);

/* Ends every flow left (reason: end of input) in first-seen order, then frees. */
void ns_flow_table_free(struct ns_flow_table *t);

/*
 * Account the IP packet p (decoded, with NS_PKT_F_HAS_L4 or not) to its flow,
 * creating it if needed. `frames` and `wire_bytes` are what the packet counts
 * for (1 and p->wirelen, or the frames of a reassembled datagram). On return
 * `*flow` is the flow and `*dir` its direction (0 fwd, 1 rev); the pointer is
 * valid until the next call on the table. Returns 0 or NS_ENOMEM (NS_EINVAL
 * when p->ipver is neither 4 nor 6).
 */
int ns_flow_table_update(struct ns_flow_table *t, const struct ns_packet *p, uint32_t frames,
                         uint64_t wire_bytes, struct ns_flow **flow, int *dir);

/* End the flows that timed out at capture time `now_ns`. */
void ns_flow_table_expire(struct ns_flow_table *t, uint64_t now_ns);

/* End every flow (reason: end of input), in first-seen order (ties: creation order). */
void ns_flow_table_flush(struct ns_flow_table *t);

size_t ns_flow_table_count(const struct ns_flow_table *t);
const struct ns_flow_stats *ns_flow_table_stats(const struct ns_flow_table *t);

#endif
