/*
 * analyze_scan.c - scan, sweep, flood and brute-force hints (scan.h).
 *
 * Trackers live in a slab indexed by an open-addressing hash table (linear
 * probing, backward-shift deletion) with an LRU list for eviction. Each
 * tracker holds the counters of its current window and an exact set of the
 * distinct values it counts (ports, or 32-bit hashes of addresses), an
 * open-addressing set of uint32 that doubles up to NS_SCAN_SET_MAX entries.
 * All sets together are held under a global budget of set slots, so memory
 * stays bounded whatever the traffic.
 *
 * ICMP port-unreachable messages (RFC 792 type 3 code 3, RFC 4443 type 1
 * code 4) are recognised from the decoded ICMP type and code; their quoted
 * datagram is not read.
 */
#include "netsift/scan.h"

#include <stdlib.h>
#include <string.h>

#include "netsift/alloc.h"
#include "netsift/ilist.h"
#include "netsift/err.h"

#define SCAN_NONE         UINT32_MAX
#define SCAN_SET_BUDGET   (4u << 20) /* set slots over all trackers: 16 MiB */
#define SCAN_SET_INITIAL  16
#define SCAN_SLAB_AT_ONCE ((size_t)64 << 20) /* tracker slab bytes reserved at once, at most */

struct scan_tracker {
    /* key */
    uint8_t kind;
    uint8_t proto;
    uint16_t port;
    struct ns_addr a; /* the source (or the victim for syn_flood) */
    struct ns_addr b; /* the target; for syn_flood the first source seen */
    uint32_t hash;
    bool in_use;
    /* window */
    uint64_t start_ns;
    uint64_t end_ns;
    uint64_t attempts;
    uint64_t qualifying; /* attempts that count toward the threshold */
    uint64_t outcome[5]; /* by enum ns_scan_outcome */
    uint64_t icmp_unreachable;
    /* distinct values */
    uint32_t *set;
    uint32_t set_n;
    uint32_t set_cap;
    bool saturated;
    bool alerted;
    uint32_t alert_ix; /* index in the alerts array, SCAN_NONE if not kept */
    /* table internals */
    struct ns_ilink lru; /* LRU order; lru.next also chains free entries */
};

struct ns_scan {
    struct ns_scan_opts o;
    ns_scan_alert_fn *on_alert;
    void *ud;
    struct scan_tracker *slab;
    size_t nslab;
    size_t cap_slab;
    uint32_t free_head;
    uint32_t *index;
    size_t index_cap;
    struct ns_ilist lru;
    size_t set_slots; /* set slots allocated over all trackers */
    struct ns_scan_alert *alerts;
    size_t nalerts;
    size_t cap_alerts;
    struct ns_scan_stats st;
};

static const char *const scan_kind_names[NS_SCAN_KIND_COUNT] = {
    [NS_SCAN_VERTICAL] = "vertical_scan", [NS_SCAN_HORIZONTAL] = "horizontal_scan",
    [NS_SCAN_SYN_FLOOD] = "syn_flood",    [NS_SCAN_ICMP_SWEEP] = "icmp_sweep",
    [NS_SCAN_UDP] = "udp_scan",           [NS_SCAN_BRUTE_FORCE] = "brute_force",
};

const char *ns_scan_kind_name(enum ns_scan_kind k)
{
    return (unsigned)k < NS_SCAN_KIND_COUNT ? scan_kind_names[k] : "unknown";
}

static uint64_t scan_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t scan_addr_hash(const struct ns_addr *a)
{
    uint64_t lo = 0;
    uint64_t hi = 0;
    for (int i = 0; i < 8; i++) {
        lo = lo << 8 | a->a[i];
        hi = hi << 8 | a->a[8 + i];
    }
    return scan_mix(lo ^ scan_mix(hi ^ a->family));
}

static bool scan_addr_eq(const struct ns_addr *x, const struct ns_addr *y)
{
    return x->family == y->family && memcmp(x->a, y->a, 16) == 0;
}

int ns_scan_new(struct ns_scan **out, const struct ns_scan_opts *opts, ns_scan_alert_fn *on_alert,
                void *ud)
{
    struct ns_scan *s = ns_calloc(1, sizeof(*s));
    *out = NULL;
    if (s == NULL) {
        return NS_ENOMEM;
    }
    if (opts != NULL) {
        s->o = *opts;
    }
    if (s->o.window_ns == 0) {
        s->o.window_ns = 60ull * 1000000000ull;
    }
    if (s->o.scan_ports == 0) {
        s->o.scan_ports = 100;
    }
    if (s->o.scan_hosts == 0) {
        s->o.scan_hosts = 50;
    }
    if (s->o.flood_syns == 0) {
        s->o.flood_syns = 1000;
    }
    if (s->o.sweep_hosts == 0) {
        s->o.sweep_hosts = 50;
    }
    if (s->o.udp_ports == 0) {
        s->o.udp_ports = 100;
    }
    if (s->o.brute_failures == 0) {
        s->o.brute_failures = 50;
    }
    if (s->o.max_trackers == 0) {
        s->o.max_trackers = 65536;
    }
    if (s->o.max_trackers > (1u << 26)) {
        s->o.max_trackers = 1u << 26;
    }
    if (s->o.max_alerts == 0) {
        s->o.max_alerts = 10000;
    }
    s->on_alert = on_alert;
    s->ud = ud;
    s->index_cap = 16;
    while (s->index_cap < s->o.max_trackers * 2) {
        s->index_cap *= 2;
    }
    s->index = ns_malloc(s->index_cap * sizeof(*s->index));
    if (s->index == NULL) {
        ns_free(s);
        return NS_ENOMEM;
    }
    memset(s->index, 0xff, s->index_cap * sizeof(*s->index));
    if (s->o.max_trackers <= SCAN_SLAB_AT_ONCE / sizeof(struct scan_tracker)) {
        /* the whole slab at once: never moved or copied, pages backed as trackers arrive */
        s->slab = ns_big_alloc(s->o.max_trackers * sizeof(struct scan_tracker));
        if (s->slab == NULL) {
            ns_free(s->index);
            ns_free(s);
            return NS_ENOMEM;
        }
        s->cap_slab = s->o.max_trackers;
    }
    ns_ilist_init(&s->lru);
    s->free_head = SCAN_NONE;
    *out = s;
    return 0;
}

void ns_scan_free(struct ns_scan *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->nslab; i++) {
        ns_free(s->slab[i].set);
    }
    ns_big_free(s->slab, s->cap_slab * sizeof(*s->slab));
    ns_free(s->index);
    ns_free(s->alerts);
    ns_free(s);
}

static uint32_t scan_key_hash(uint8_t kind, uint8_t proto, uint16_t port, const struct ns_addr *a,
                              const struct ns_addr *b)
{
    uint64_t h = scan_addr_hash(a);
    if (b != NULL) {
        h ^= scan_mix(scan_addr_hash(b) + 1);
    }
    h = scan_mix(h ^ ((uint64_t)kind << 32 | (uint64_t)proto << 16 | port));
    return (uint32_t)h;
}

/* Trackers keyed on one address only have b.family == 0. */
static bool scan_key_eq(const struct scan_tracker *t, uint8_t kind, uint8_t proto, uint16_t port,
                        const struct ns_addr *a, const struct ns_addr *b)
{
    if (t->kind != kind || t->proto != proto || t->port != port || !scan_addr_eq(&t->a, a)) {
        return false;
    }
    if (kind == NS_SCAN_SYN_FLOOD) {
        return true; /* b is evidence there, not key */
    }
    return b == NULL ? t->b.family == 0 : scan_addr_eq(&t->b, b);
}

static void scan_index_delete(struct ns_scan *s, size_t j)
{
    size_t mask = s->index_cap - 1;
    size_t hole = j;
    size_t k = j;
    for (;;) {
        k = (k + 1) & mask;
        uint32_t ix = s->index[k];
        if (ix == SCAN_NONE) {
            break;
        }
        size_t home = s->slab[ix].hash & mask;
        bool stays = hole <= k ? (home > hole && home <= k) : (home > hole || home <= k);
        if (!stays) {
            s->index[hole] = ix;
            hole = k;
        }
    }
    s->index[hole] = SCAN_NONE;
}

static void scan_set_clear(struct ns_scan *s, struct scan_tracker *t)
{
    s->set_slots -= t->set_cap;
    ns_free(t->set);
    t->set = NULL;
    t->set_n = 0;
    t->set_cap = 0;
    t->saturated = false;
}

static void scan_evict(struct ns_scan *s)
{
    uint32_t ix = s->lru.tail;
    struct scan_tracker *t = &s->slab[ix];
    size_t mask = s->index_cap - 1;
    size_t j = t->hash & mask;
    while (s->index[j] != ix) {
        j = (j + 1) & mask;
    }
    scan_index_delete(s, j);
    NS_ILIST_UNLINK(&s->lru, s->slab, ix, lru);
    scan_set_clear(s, t);
    t->in_use = false;
    t->lru.next = s->free_head;
    s->free_head = ix;
    s->st.trackers--;
    s->st.trackers_evicted++;
}

/* The tracker of a key; created (at time ts) when `create`, else NULL when absent. */
static struct scan_tracker *scan_get(struct ns_scan *s, uint8_t kind, uint8_t proto, uint16_t port,
                                     const struct ns_addr *a, const struct ns_addr *b, uint64_t ts,
                                     bool create)
{
    uint32_t hash = scan_key_hash(kind, proto, port, a, kind == NS_SCAN_SYN_FLOOD ? NULL : b);
    size_t mask = s->index_cap - 1;
    size_t j = hash & mask;
    for (;;) {
        uint32_t ix = s->index[j];
        if (ix == SCAN_NONE) {
            break;
        }
        struct scan_tracker *t = &s->slab[ix];
        if (t->hash == hash && scan_key_eq(t, kind, proto, port, a, b)) {
            if (s->lru.head != ix) {
                NS_ILIST_UNLINK(&s->lru, s->slab, ix, lru);
                NS_ILIST_PUSH_HEAD(&s->lru, s->slab, ix, lru);
            }
            return t;
        }
        j = (j + 1) & mask;
    }
    if (!create) {
        return NULL;
    }
    if (s->st.trackers >= s->o.max_trackers) {
        scan_evict(s);
        j = hash & mask; /* find the free slot again: eviction moves entries */
        while (s->index[j] != SCAN_NONE) {
            j = (j + 1) & mask;
        }
    }
    uint32_t ix;
    if (s->free_head != SCAN_NONE) {
        ix = s->free_head;
        s->free_head = s->slab[ix].lru.next;
    } else {
        if (s->nslab == s->cap_slab) {
            size_t ncap = s->cap_slab == 0 ? 256 : s->cap_slab * 2;
            if (ncap > s->o.max_trackers) {
                ncap = s->o.max_trackers;
            }
            struct scan_tracker *ns =
                ns_big_realloc(s->slab, s->cap_slab * sizeof(*ns), ncap * sizeof(*ns));
            if (ns == NULL) {
                s->st.no_memory++;
                return NULL;
            }
            s->slab = ns;
            s->cap_slab = ncap;
        }
        ix = (uint32_t)s->nslab++;
    }
    struct scan_tracker *t = &s->slab[ix];
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    t->proto = proto;
    t->port = port;
    t->a = *a;
    if (b != NULL) {
        t->b = *b;
    }
    t->hash = hash;
    t->in_use = true;
    t->start_ns = ts;
    t->end_ns = ts;
    t->alert_ix = SCAN_NONE;
    s->index[j] = ix;
    NS_ILIST_PUSH_HEAD(&s->lru, s->slab, ix, lru);
    s->st.trackers++;
    return t;
}

/* Add v (never 0) to the tracker's set. */
static void scan_set_add(struct ns_scan *s, struct scan_tracker *t, uint32_t v)
{
    if (t->set_cap > 0) {
        uint32_t mask = t->set_cap - 1;
        uint32_t j = (uint32_t)scan_mix(v) & mask;
        while (t->set[j] != 0) {
            if (t->set[j] == v) {
                return;
            }
            j = (j + 1) & mask;
        }
        if ((t->set_n + 1) * 2 <= t->set_cap) {
            t->set[j] = v;
            t->set_n++;
            return;
        }
    }
    /* grow (load factor 1/2) */
    uint32_t ncap = t->set_cap == 0 ? SCAN_SET_INITIAL : t->set_cap * 2;
    if (t->set_n >= NS_SCAN_SET_MAX || ncap > 2 * NS_SCAN_SET_MAX ||
        s->set_slots + ncap - t->set_cap > SCAN_SET_BUDGET) {
        if (!t->saturated) {
            t->saturated = true;
            s->st.sets_saturated++;
        }
        return;
    }
    uint32_t *n = ns_calloc(ncap, sizeof(*n));
    if (n == NULL) {
        s->st.no_memory++;
        return;
    }
    for (uint32_t i = 0; i < t->set_cap; i++) {
        uint32_t x = t->set[i];
        if (x != 0) {
            uint32_t j = (uint32_t)scan_mix(x) & (ncap - 1);
            while (n[j] != 0) {
                j = (j + 1) & (ncap - 1);
            }
            n[j] = x;
        }
    }
    s->set_slots += ncap - t->set_cap;
    ns_free(t->set);
    t->set = n;
    t->set_cap = ncap;
    uint32_t j = (uint32_t)scan_mix(v) & (ncap - 1);
    while (n[j] != 0) {
        j = (j + 1) & (ncap - 1);
    }
    n[j] = v;
    t->set_n++;
}

static uint32_t scan_addr_value(const struct ns_addr *a)
{
    uint32_t v = (uint32_t)scan_addr_hash(a);
    return v != 0 ? v : 1;
}

/* Start a new window when ts is past the current one. */
static void scan_window(struct ns_scan *s, struct scan_tracker *t, uint64_t ts)
{
    if (ts > t->start_ns && ts - t->start_ns > s->o.window_ns) {
        scan_set_clear(s, t);
        t->start_ns = ts;
        t->end_ns = ts;
        t->attempts = 0;
        t->qualifying = 0;
        memset(t->outcome, 0, sizeof(t->outcome));
        t->icmp_unreachable = 0;
        t->alerted = false;
        t->alert_ix = SCAN_NONE;
    }
    if (ts > t->end_ns) {
        t->end_ns = ts;
    }
}

static uint32_t scan_threshold(const struct ns_scan *s, uint8_t kind)
{
    switch (kind) {
    case NS_SCAN_VERTICAL:
        return s->o.scan_ports;
    case NS_SCAN_HORIZONTAL:
        return s->o.scan_hosts;
    case NS_SCAN_SYN_FLOOD:
        return s->o.flood_syns;
    case NS_SCAN_ICMP_SWEEP:
        return s->o.sweep_hosts;
    case NS_SCAN_UDP:
        return s->o.udp_ports;
    default:
        return s->o.brute_failures;
    }
}

/* The measure compared with the threshold: distinct values, or qualifying attempts. */
static uint64_t scan_measure(const struct scan_tracker *t)
{
    if (t->kind == NS_SCAN_SYN_FLOOD || t->kind == NS_SCAN_BRUTE_FORCE) {
        return t->qualifying;
    }
    return t->set_n;
}

static void scan_fill_alert(const struct scan_tracker *t, struct ns_scan_alert *a)
{
    a->kind = (enum ns_scan_kind)t->kind;
    memset(&a->attacker, 0, sizeof(a->attacker));
    memset(&a->victim, 0, sizeof(a->victim));
    switch (t->kind) {
    case NS_SCAN_SYN_FLOOD:
        a->victim = t->a;
        if (t->set_n == 1) {
            a->attacker = t->b; /* one source only: name it */
        }
        break;
    case NS_SCAN_HORIZONTAL:
    case NS_SCAN_ICMP_SWEEP:
        a->attacker = t->a;
        break;
    default:
        a->attacker = t->a;
        a->victim = t->b;
        break;
    }
    a->proto = t->proto;
    a->port = t->port;
    a->has_port = t->kind == NS_SCAN_HORIZONTAL || t->kind == NS_SCAN_SYN_FLOOD ||
                  t->kind == NS_SCAN_BRUTE_FORCE;
    a->start_ns = t->start_ns;
    a->end_ns = t->end_ns;
    a->attempts = t->attempts;
    a->distinct = t->set_n;
    a->distinct_saturated = t->saturated;
    a->completed = t->outcome[NS_SCAN_COMPLETED];
    a->half_open = t->outcome[NS_SCAN_HALF_OPEN];
    a->refused = t->outcome[NS_SCAN_REFUSED];
    a->unanswered = t->outcome[NS_SCAN_UNANSWERED];
    a->answered = t->outcome[NS_SCAN_ANSWERED];
    a->icmp_unreachable = t->icmp_unreachable;
}

static void scan_check(struct ns_scan *s, struct scan_tracker *t)
{
    if (t->alerted) {
        if (t->alert_ix != SCAN_NONE) {
            uint64_t id = s->alerts[t->alert_ix].id;
            scan_fill_alert(t, &s->alerts[t->alert_ix]);
            s->alerts[t->alert_ix].id = id;
        }
        return;
    }
    if (scan_measure(t) < scan_threshold(s, t->kind)) {
        return;
    }
    struct ns_scan_alert a;
    memset(&a, 0, sizeof(a));
    scan_fill_alert(t, &a);
    t->alerted = true;
    s->st.alerts++;
    a.id = s->st.alerts;
    if (s->nalerts < s->o.max_alerts) {
        if (s->nalerts == s->cap_alerts) {
            size_t ncap = s->cap_alerts == 0 ? 16 : s->cap_alerts * 2;
            struct ns_scan_alert *n = ns_reallocarray(s->alerts, ncap, sizeof(*n));
            if (n == NULL) {
                s->st.no_memory++;
                goto cb;
            }
            s->alerts = n;
            s->cap_alerts = ncap;
        }
        s->alerts[s->nalerts] = a;
        t->alert_ix = (uint32_t)s->nalerts++;
    } else {
        s->st.alerts_dropped++;
    }
cb:
    if (s->on_alert != NULL) {
        s->on_alert(s->ud, &a);
    }
}

/*
 * One attempt that counts toward a tracker's threshold (it creates the
 * tracker when needed); `value`: the distinct value it adds (0: none).
 * Attempts that do not count (completed connections, answered datagrams)
 * never reach a tracker: normal traffic costs no table work at all.
 */
static void scan_feed(struct ns_scan *s, uint8_t kind, uint8_t proto, uint16_t port,
                      const struct ns_addr *a, const struct ns_addr *b, uint64_t ts,
                      enum ns_scan_outcome oc, bool qualifies, uint32_t value)
{
    if (!qualifies) {
        return;
    }
    struct scan_tracker *t = scan_get(s, kind, proto, port, a, b, ts, true);
    if (t == NULL) {
        return;
    }
    scan_window(s, t, ts);
    t->attempts++;
    t->outcome[oc]++;
    t->qualifying++;
    if (value != 0) {
        scan_set_add(s, t, value);
    }
    scan_check(s, t);
}

bool ns_scan_classify(const struct ns_flow *f, enum ns_scan_outcome *out)
{
    uint16_t sport = 0;
    switch (f->key.proto) {
    case NS_IPPROTO_TCP: {
        if (!f->syn_seen) {
            return false;
        }
        uint8_t fwd = f->tcp_flags[0];
        uint8_t rev = f->tcp_flags[1];
        if (f->packets[1] == 0) {
            *out = NS_SCAN_UNANSWERED;
        } else if ((rev & (NS_TCP_SYN | NS_TCP_ACK)) == (NS_TCP_SYN | NS_TCP_ACK)) {
            *out = (fwd & NS_TCP_ACK) != 0 ? NS_SCAN_COMPLETED : NS_SCAN_HALF_OPEN;
        } else if ((rev & NS_TCP_RST) != 0) {
            *out = NS_SCAN_REFUSED;
        } else {
            *out = NS_SCAN_COMPLETED; /* an answer of another kind: not a failed attempt */
        }
        return true;
    }
    case NS_IPPROTO_UDP:
        *out = f->packets[1] > 0 ? NS_SCAN_ANSWERED : NS_SCAN_UNANSWERED;
        return true;
    case NS_IPPROTO_ICMP:
    case NS_IPPROTO_ICMPV6:
        ns_flow_endpoints(f, NULL, &sport, NULL, NULL);
        if ((f->key.proto == NS_IPPROTO_ICMP && sport != 8) ||
            (f->key.proto == NS_IPPROTO_ICMPV6 && sport != 128)) {
            return false;
        }
        *out = f->packets[1] > 0 ? NS_SCAN_ANSWERED : NS_SCAN_UNANSWERED;
        return true;
    default:
        return false;
    }
}

void ns_scan_flow(struct ns_scan *s, const struct ns_flow *f)
{
    enum ns_scan_outcome oc;
    struct ns_addr src;
    struct ns_addr dst;
    uint16_t sport = 0;
    uint16_t dport = 0;
    if (!ns_scan_classify(f, &oc)) {
        return;
    }
    s->st.attempts++;
    ns_flow_endpoints(f, &src, &sport, &dst, &dport);
    uint64_t ts = f->first_ns;
    uint8_t proto = f->key.proto;
    if (proto == NS_IPPROTO_TCP) {
        bool failed = oc != NS_SCAN_COMPLETED;
        scan_feed(s, NS_SCAN_VERTICAL, proto, 0, &src, &dst, ts, oc, failed, (uint32_t)dport + 1);
        scan_feed(s, NS_SCAN_HORIZONTAL, proto, dport, &src, NULL, ts, oc, failed,
                  scan_addr_value(&dst));
        scan_feed(s, NS_SCAN_SYN_FLOOD, proto, dport, &dst, &src, ts, oc,
                  oc == NS_SCAN_HALF_OPEN || oc == NS_SCAN_UNANSWERED, scan_addr_value(&src));
        scan_feed(s, NS_SCAN_BRUTE_FORCE, proto, dport, &src, &dst, ts, oc,
                  oc == NS_SCAN_REFUSED || oc == NS_SCAN_UNANSWERED, 0);
    } else if (proto == NS_IPPROTO_UDP) {
        bool failed = oc == NS_SCAN_UNANSWERED;
        scan_feed(s, NS_SCAN_UDP, proto, 0, &src, &dst, ts, oc, failed, (uint32_t)dport + 1);
        scan_feed(s, NS_SCAN_HORIZONTAL, proto, dport, &src, NULL, ts, oc, failed,
                  scan_addr_value(&dst));
    } else {
        scan_feed(s, NS_SCAN_ICMP_SWEEP, proto, 0, &src, NULL, ts, oc, true, scan_addr_value(&dst));
    }
}

void ns_scan_packet(struct ns_scan *s, const struct ns_packet *p)
{
    if ((p->flags & NS_PKT_F_HAS_L4) == 0) {
        return;
    }
    bool unreach = (p->proto == NS_IPPROTO_ICMP && p->icmp_type == 3 && p->icmp_code == 3) ||
                   (p->proto == NS_IPPROTO_ICMPV6 && p->icmp_type == 1 && p->icmp_code == 4);
    if (!unreach) {
        return;
    }
    /* the target (p->src) tells the prober (p->dst) that a UDP port is closed */
    struct scan_tracker *t =
        scan_get(s, NS_SCAN_UDP, NS_IPPROTO_UDP, 0, &p->dst, &p->src, p->ts_ns, true);
    if (t == NULL) {
        return;
    }
    scan_window(s, t, p->ts_ns);
    t->icmp_unreachable++;
    if (t->alerted) {
        scan_check(s, t);
    }
}

const struct ns_scan_alert *ns_scan_alerts(const struct ns_scan *s, size_t *n)
{
    *n = s->nalerts;
    return s->alerts;
}

void ns_scan_get_stats(const struct ns_scan *s, struct ns_scan_stats *st)
{
    *st = s->st;
}
