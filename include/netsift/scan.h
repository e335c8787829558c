/*
 * scan.h - attack hints: port scans, sweeps, SYN floods and brute-force
 * shapes, from the flows the flow table ends and a few packets.
 *
 * Input: one "attempt" per ended flow (ns_scan_flow: who opened it, to
 * which address and port, and how it went), plus ICMP port-unreachable
 * messages (ns_scan_packet). Outcomes of a TCP attempt, from the flags each
 * side sent:
 *
 *   completed    the responder sent SYN+ACK and the opener an ACK
 *   half_open    SYN+ACK came back, the opener never ACKed (SYN scan, flood)
 *   refused      the responder answered with RST only (closed port)
 *   unanswered   nothing came back (filtered port, dead or spoofed target)
 *
 * Only flows whose opening SYN was seen count as TCP attempts. A UDP
 * attempt is answered or unanswered; an ICMP attempt is an echo request
 * (answered when a reply came back).
 *
 * Detectors (each keyed as shown; thresholds in struct ns_scan_opts):
 *
 *   vertical_scan    (src, dst): distinct TCP ports with an attempt that did
 *                    not complete >= scan_ports
 *   horizontal_scan  (src, proto, port): distinct targets with an attempt
 *                    that did not complete (TCP) or was unanswered (UDP)
 *                    >= scan_hosts
 *   syn_flood        (dst, port): half-open + unanswered TCP attempts
 *                    >= flood_syns, from any number of (spoofed) sources
 *   icmp_sweep       (src): distinct targets of echo requests >= sweep_hosts
 *   udp_scan         (src, dst): distinct UDP ports with an unanswered
 *                    attempt >= udp_ports; ICMP port-unreachables from the
 *                    target are counted as evidence
 *   brute_force      (src, dst, port): refused + unanswered TCP attempts
 *                    >= brute_failures
 *
 * Completed connections never count, so a browser opening many
 * connections, a crawler or passive FTP data connections do not look like
 * scans; only attempts that went nowhere do. An alert's evidence counts the
 * attempts that counted toward its threshold (for an ICMP sweep every echo
 * request, answered or not); attempts that do not count never touch the
 * trackers, so ordinary traffic costs no table work.
 *
 * Windows: each tracker counts from its first attempt for `window_ns` of
 * capture time (attempt start times); an attempt after that starts a new
 * window (and, if the threshold is crossed again, a new alert). An alert is
 * raised once per tracker window, when the threshold is reached; its
 * evidence and end time keep growing until the window closes. A scan
 * slower than threshold / window is not reported (documented limitation).
 *
 * Bounds: at most `max_trackers` trackers (LRU eviction, counted), distinct
 * values per tracker in an exact hash set of at most NS_SCAN_SET_MAX
 * entries (then counted as saturated), at most `max_alerts` alerts kept
 * (more are counted and dropped).
 */
#ifndef NETSIFT_SCAN_H
#define NETSIFT_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsift/decode.h"
#include "netsift/flow.h"

#define NS_SCAN_SET_MAX 4096

enum ns_scan_kind {
    NS_SCAN_VERTICAL = 0,
    NS_SCAN_HORIZONTAL,
    NS_SCAN_SYN_FLOOD,
    NS_SCAN_ICMP_SWEEP,
    NS_SCAN_UDP,
    NS_SCAN_BRUTE_FORCE,
    NS_SCAN_KIND_COUNT
};

/* "vertical_scan", "horizontal_scan", "syn_flood", "icmp_sweep", "udp_scan", "brute_force". */
const char *ns_scan_kind_name(enum ns_scan_kind k);

enum ns_scan_outcome {
    NS_SCAN_COMPLETED = 0,
    NS_SCAN_HALF_OPEN,
    NS_SCAN_REFUSED,
    NS_SCAN_UNANSWERED,
    NS_SCAN_ANSWERED, /* UDP or ICMP echo with a reply */
};

struct ns_scan_opts {
    uint64_t window_ns;      /* 0: 60 s */
    uint32_t scan_ports;     /* 0: 100 */
    uint32_t scan_hosts;     /* 0: 50 */
    uint32_t flood_syns;     /* 0: 1000 */
    uint32_t sweep_hosts;    /* 0: 50 */
    uint32_t udp_ports;      /* 0: 100 */
    uint32_t brute_failures; /* 0: 50 */
    size_t max_trackers;     /* 0: 65536 */
    size_t max_alerts;       /* 0: 10000 */
};

struct ns_scan_alert {
    enum ns_scan_kind kind;
    struct ns_addr attacker; /* family 0: many sources (a flood from spoofed addresses) */
    struct ns_addr victim;   /* family 0: many targets (horizontal scan, sweep) */
    uint8_t proto;           /* NS_IPPROTO_TCP, _UDP, _ICMP or _ICMPV6 */
    uint16_t port;           /* the one port of horizontal_scan, syn_flood, brute_force */
    bool has_port;
    uint64_t start_ns; /* first attempt of the window */
    uint64_t end_ns;   /* last attempt counted */
    uint64_t id;       /* 1-based, in the order raised */
    /* evidence */
    uint64_t attempts;       /* attempts that counted toward the threshold in the window */
    uint64_t distinct;       /* distinct ports (vertical, udp), targets (horizontal, sweep) or
                                sources (flood) */
    bool distinct_saturated; /* the distinct set hit NS_SCAN_SET_MAX: distinct is a floor */
    uint64_t completed;
    uint64_t half_open;
    uint64_t refused;
    uint64_t unanswered;
    uint64_t answered;
    uint64_t icmp_unreachable; /* udp_scan: port-unreachables from the target */
};

/* Called when an alert is raised (its evidence may still grow afterwards). */
typedef void ns_scan_alert_fn(void *ud, const struct ns_scan_alert *a);

struct ns_scan_stats {
    uint64_t attempts;         /* flows looked at */
    uint64_t trackers;         /* trackers in use */
    uint64_t trackers_evicted; /* dropped to make room */
    uint64_t sets_saturated;   /* trackers whose distinct set filled up */
    uint64_t alerts;           /* alerts raised */
    uint64_t alerts_dropped;   /* raised beyond max_alerts (reported through the callback only) */
    uint64_t no_memory;
};

struct ns_scan;

/* Returns 0 or NS_ENOMEM. opts may be NULL (defaults). */
int ns_scan_new(struct ns_scan **out, const struct ns_scan_opts *opts, ns_scan_alert_fn *on_alert,
                void *ud);
void ns_scan_free(struct ns_scan *s);

/* The outcome of a flow as an attempt; false when the flow is not one (a TCP flow picked up
 * mid-stream, an ICMP message that is not an echo request, another protocol). */
bool ns_scan_classify(const struct ns_flow *f, enum ns_scan_outcome *out);

/* Feed an ended flow (from the pipeline's on_flow_end). */
void ns_scan_flow(struct ns_scan *s, const struct ns_flow *f);

/* Feed a packet: ICMP / ICMPv6 port-unreachables are counted for udp_scan. */
void ns_scan_packet(struct ns_scan *s, const struct ns_packet *p);

/* Alerts kept so far, in the order raised (start times ascending within a kind). */
const struct ns_scan_alert *ns_scan_alerts(const struct ns_scan *s, size_t *n);

void ns_scan_get_stats(const struct ns_scan *s, struct ns_scan_stats *st);

#endif
