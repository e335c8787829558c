/*
 * hosts.h - the per-host table of `netsift hosts`: who sent and received
 * what, to how many peers, on which ports, from which MAC address, with
 * which OS, and the per-country sums.
 *
 * One record per IP address seen as a source or destination. Counters are
 * frames and their original (wire) lengths, as in flow records.
 *
 * Bounded by design (STYLE.md B4):
 *   - at most `max_hosts` hosts; when full, the least recently seen host is
 *     evicted (counted in stats.evicted) and its counters are folded into
 *     the per-country sums first, so country totals still cover all traffic.
 *     "Least recently seen" to within one second of capture time: a host
 *     moves to the head of the LRU list at most once a second, which spares
 *     three random memory accesses on most packets;
 *   - peers (counted on the first packet of each flow, or on every packet
 *     when no flow is given): a sketch of 64 bytes per host: the exact set
 *     of up to 8 peers
 *     (64-bit hashes of their addresses), then a HyperLogLog of 64 6-bit
 *     registers (Flajolet et al. 2007, with the linear-counting correction
 *     for small cardinalities): exact up to 8, about 13% standard error
 *     above;
 *   - ports contacted (destination ports of the TCP / UDP flows the host
 *     opened) and served (ports of flows to the host that it answered; for
 *     TCP with anything but a RST) are the top NS_HOST_TOP_PORTS by flows,
 *     kept with the Space-Saving algorithm (Metwally et al. 2005): a port
 *     seen more often than flows / NS_HOST_TOP_PORTS times is always kept;
 *     `count` may over-count by at most `error`.
 *
 * MAC attribution: a MAC address is attributed to an IP address when that
 * address sends a frame from it with a TTL (hop limit) equal to a common
 * initial value (1, 32, 64, 128, 255), i.e. zero hops: the frame left the
 * host itself. Frames that crossed a router carry the router's MAC and a
 * decremented TTL, so remote hosts do not get the router's address. The last
 * such MAC wins; `mac_changes` counts how often it changed (ARP spoofing and
 * DHCP reuse show up there).
 *
 * OS guess: the best p0f result seen for the host as a sender: exact over
 * fuzzy over generic over none, and at equal quality a SYN over a SYN+ACK;
 * the first one seen wins a tie. To keep fingerprinting off the hot path, a
 * host gets at most NS_HOSTS_OS_TRIES fingerprints of each kind (SYN,
 * SYN+ACK) once it has a result, then none until it is evicted: a host's
 * stack rarely changes, and one that keeps the same generic answer for 16
 * SYNs will not give a better one on the 17th.
 *
 * Windows (live summaries): ns_hosts_window() starts a new window; every
 * host also has counters for the current window, and ns_hosts_list() can
 * list only the hosts active in it.
 */
#ifndef NETSIFT_HOSTS_H
#define NETSIFT_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsift/decode.h"
#include "netsift/ilist.h"
#include "netsift/err.h"
#include "netsift/flow.h"
#include "netsift/geo.h"
#include "netsift/p0f.h"

#define NS_HOST_TOP_PORTS      8
#define NS_HOSTS_DEFAULT_MAX   65536
#define NS_HOSTS_MAX_COUNTRIES 512
#define NS_HOSTS_OS_TRIES      16

struct ns_host_port {
    uint16_t port;
    uint8_t proto; /* NS_IPPROTO_TCP or NS_IPPROTO_UDP */
    uint64_t count;
    uint64_t error; /* Space-Saving over-count bound */
};

struct ns_host_counts {
    uint64_t packets_sent;
    uint64_t packets_recv;
    uint64_t bytes_sent;
    uint64_t bytes_recv;
};

/*
 * The HTTP fingerprint of a host in one role (p0f [http:request] when it is
 * the client, [http:response] when it is the server): the best match seen
 * (exact over generic over none; the first one wins a tie).
 */
struct ns_host_http {
    bool seen;
    bool dishonest;          /* User-Agent / Server contradicts the match */
    enum ns_p0f_match match; /* NS_P0F_EXACT, NS_P0F_GENERIC or NS_P0F_NONE */
    const char *name;        /* label name (p0f database string), NULL when no match */
    const char *flavor;      /* "" when none */
    const char *class_;      /* "!" for applications, else an OS class */
    const char *ua_os;       /* requests: the OS the User-Agent names, or NULL */
    uint32_t messages;       /* messages fingerprinted in this role */
    char *raw_sig;           /* p0f's raw_sig of the kept message; owned by the table */
};

struct ns_host {
    /* touched by every packet: kept together in the first two cache lines */
    struct ns_addr addr;
    uint32_t hash;       /* table internal */
    struct ns_ilink lru; /* table internal */
    uint64_t lru_ns;     /* table internal: capture time of the last move to the LRU head */
    uint64_t win_id;
    struct ns_host_counts total;
    struct ns_host_counts win; /* in the current window (valid when win_id matches) */
    uint64_t first_ns;
    uint64_t last_ns;

    /* touched once per flow */
    uint64_t flows_opened;   /* TCP / UDP flows this host started */
    uint64_t flows_answered; /* flows to this host that it answered */
    uint8_t peer_n;          /* peers sketch (read it with ns_host_peers): exact entries, */
    union {                  /* 0xff once it became a HyperLogLog */
        uint64_t exact[8];
        uint8_t reg[64];
    } peers;
    bool has_mac;
    uint8_t mac[6];
    uint32_t mac_changes;
    struct ns_host_port contacted[NS_HOST_TOP_PORTS];
    uint8_t ncontacted;
    struct ns_host_port served[NS_HOST_TOP_PORTS];
    uint8_t nserved;

    /* rarely touched */
    bool has_os;
    bool os_syn;         /* the result came from a SYN (else a SYN+ACK) */
    uint8_t os_tries[2]; /* fingerprints offered: [0] SYN+ACK, [1] SYN */
    struct ns_p0f_result os;
    uint32_t alerts_attacker; /* alerts naming this host as the attacker */
    uint32_t alerts_victim;
    uint32_t alert_kinds;        /* bit (1 << kind) of the alerts involving it */
    struct ns_host_http http[2]; /* [0] as an HTTP server (responses), [1] as a client */
};

/* Per-country (or per-scope) sums. */
struct ns_country {
    /* ISO 3166-1 alpha-2 code ("GB"); for addresses not looked up, the scope name ("private",
     * "loopback", ...); "unknown" for public addresses no database knew. */
    char key[16];
    bool is_country; /* key is an ISO code */
    uint64_t hosts;
    struct ns_host_counts c;
};

struct ns_hosts_opts {
    size_t max_hosts;         /* 0: NS_HOSTS_DEFAULT_MAX */
    const struct ns_geo *geo; /* for folding evicted hosts into countries; may be NULL */
    /*
     * Count packets and bytes from the flow counters when each flow ends
     * (ns_hosts_flow_end) instead of per packet: then ns_hosts_packet only
     * looks at the first packet of each direction of a flow (MAC, ports,
     * peers), which spares two table lookups per packet. Window counters
     * need per-packet counting: leave this off for live summaries.
     */
    bool count_at_flow_end;
};

struct ns_hosts_stats {
    uint64_t created;    /* hosts ever added */
    uint64_t active;     /* hosts in the table now */
    uint64_t active_max; /* most hosts held at once */
    uint64_t evicted;    /* hosts dropped to make room */
    uint64_t no_memory;  /* packets whose host could not be allocated */
    uint64_t packets;    /* IP packets counted */
};

struct ns_hosts;

int ns_hosts_new(struct ns_hosts **out, const struct ns_hosts_opts *opts);
void ns_hosts_free(struct ns_hosts *h);

/*
 * Count one IP packet (after the flow table saw it: `flow` and `dir` as
 * ns_flow_table_update gives them; flow may be NULL). Updates the sender
 * and the receiver. The table keeps its own per-flow state in flow->app (a
 * number, not a pointer: nothing to free): which directions it has seen and
 * the slab indices of the two hosts, so the caller must not use flow->app
 * for anything else. Returns 0 or NS_ENOMEM (counted in stats.no_memory).
 */
int ns_hosts_packet(struct ns_hosts *h, const struct ns_packet *p, struct ns_flow *flow, int dir);

/*
 * With count_at_flow_end: credit the flow's packets, bytes and first / last
 * seen to its two hosts (from the pipeline's on_flow_end). A no-op
 * otherwise. Returns 0 or NS_ENOMEM.
 */
int ns_hosts_flow_end(struct ns_hosts *h, const struct ns_flow *flow);

/* The host of an address, or NULL. Valid until the next call that adds a host. */
const struct ns_host *ns_hosts_find(const struct ns_hosts *h, const struct ns_addr *a);

/* Rank of a p0f result for the OS choice (higher is better). */
int ns_hosts_os_rank(enum ns_p0f_match m, bool syn);

/*
 * Whether a fingerprint from this host's SYN (syn true) or SYN+ACK could
 * improve its OS guess: false when the host already has an exact match of
 * that kind or better, had NS_HOSTS_OS_TRIES of that kind already, or is
 * unknown (the caller then skips the p0f work).
 */
bool ns_hosts_wants_os(const struct ns_hosts *h, const struct ns_addr *a, bool syn);

/* Offer a p0f result for the sender `a`; kept when it ranks above the current one. */
void ns_hosts_offer_os(struct ns_hosts *h, const struct ns_addr *a, const struct ns_p0f_result *res,
                       bool syn);

/*
 * Offer the p0f result of one HTTP message sent by `a` (request: a is the
 * client; else the server) and its raw signature (copied), seen at capture
 * time ts_ns. Kept when it ranks above the one held. The host is added when
 * unknown (stream data can come before the packet carrying it is counted).
 * Returns 0 or NS_ENOMEM (the offer is dropped).
 */
int ns_hosts_offer_http(struct ns_hosts *h, const struct ns_addr *a,
                        const struct ns_p0f_result *res, const char *raw_sig, bool request,
                        uint64_t ts_ns);

/* Note an alert of `kind` (a bit number < 32) naming `a` as attacker or victim. */
void ns_hosts_note_alert(struct ns_hosts *h, const struct ns_addr *a, unsigned kind, bool attacker);

/* Estimated number of distinct peers (exact up to 8). */
uint64_t ns_host_peers(const struct ns_host *host);

/* Start a new window: per-window counters start from zero. */
void ns_hosts_window(struct ns_hosts *h);

/*
 * The hosts, sorted by bytes sent + received (descending), then address
 * (ascending; IPv4 before IPv6). window_only: only the hosts active in the
 * current window, sorted by their window bytes. *out is a new array of
 * borrowed pointers (free it with ns_free); valid until the table changes.
 * Returns 0 or NS_ENOMEM.
 */
int ns_hosts_list(const struct ns_hosts *h, bool window_only, const struct ns_host ***out,
                  size_t *n);

/*
 * Per-country sums: the hosts in the table (or only their window counters
 * when window_only) plus, unless window_only, the hosts evicted earlier.
 * Sorted by bytes sent + received descending, then key. *out is a new array
 * (ns_free). geo may be NULL (every public address is then "unknown").
 * Returns 0 or NS_ENOMEM.
 */
int ns_hosts_countries(const struct ns_hosts *h, const struct ns_geo *geo, bool window_only,
                       struct ns_country **out, size_t *n);

void ns_hosts_get_stats(const struct ns_hosts *h, struct ns_hosts_stats *st);

#endif
