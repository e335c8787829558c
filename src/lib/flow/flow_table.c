/*
 * flow_table.c - the bidirectional flow table (contract in netsift/flow.h).
 *
 * Storage:
 *
 *   slots[]  (power of two, load <= 1/2)      slab[]  (grows by doubling up to max_flows)
 *   +-----+-----+-----+-----+-----+           +--------+--------+--------+
 *   | NIL |  2  |  0  | NIL |  1  |  ---->    | flow 0 | flow 1 | flow 2 |  ...
 *   +-----+-----+-----+-----+-----+           +--------+--------+--------+
 *
 * A slot holds a slab index or NIL. Lookups probe linearly from hash & mask;
 * deletion shifts the following entries of the cluster back, so there are no
 * tombstones and probe chains stay short. Free slab entries are chained
 * through lru_next.
 *
 * Each live flow sits on one of three LRU lists, each ordered by last packet
 * time and each with one timeout, so that the head of a list is always the
 * next flow of that list to time out: open TCP flows (idle_timeout_ns),
 * UDP / ICMP / other flows (udp_timeout_ns), and TCP flows closed by FINs or
 * a RST (closed_timeout_ns). The least recently seen flow of the table is
 * the oldest of the three heads.
 *
 * TCP state (RFC 9293 section 3.3.2, seen from the wire, both sides at once):
 *
 *   NEW --SYN--> SYN_SENT --SYN+ACK--> SYN_RECEIVED --ACK from src--> ESTABLISHED
 *   NEW --packets both ways (mid-stream pick-up)--> ESTABLISHED
 *   any --FIN one way--> FIN_WAIT --FIN other way--> CLOSED
 *   any --RST--> RESET (a RST after both FINs leaves the flow CLOSED)
 *   CLOSED / RESET --SYN without ACK--> the flow ends (reused), a new one starts
 *
 * Times are capture times. The table sweeps its LRU heads itself whenever
 * capture time has moved by a second or more (or gone backwards) since the
 * last sweep. A packet that arrives for a flow which has already passed its
 * timeout ends that flow and starts a new one even when no sweep has run
 * yet, so results do not depend on when sweeps happen. A flow cut by the
 * active timeout continues in a new record that keeps its src and its TCP
 * state, since the conversation itself goes on.
 */
#include "netsift/flow.h"

#include <string.h>

#include "flow_int.h"
#include "netsift/alloc.h"
#include "netsift/err.h"

#define NIL UINT32_MAX

#define NS_FLOW_SEC ((uint64_t)1000000000)

#define FLOW_DEFAULT_MAX    ((size_t)262144)
#define FLOW_LIMIT_MAX      ((size_t)1 << 30) /* slab indices and slot counts stay in uint32 */
#define FLOW_SLAB_START     ((uint32_t)1024)
#define FLOW_SLAB_AT_ONCE   ((size_t)256 << 20) /* bytes of slab reserved up front, at most */
#define FLOW_SWEEP_INTERVAL NS_FLOW_SEC

enum {
    LRU_TCP = 0, /* open TCP flows */
    LRU_OTHER,   /* UDP, ICMP, everything else */
    LRU_CLOSED,  /* TCP flows in CLOSED or RESET */
    LRU_COUNT,
};

/*
 * A slot keeps the flow's hash beside its slab index, so that probing and the
 * backward shift compare hashes in the (small, dense) slot array and touch a
 * flow in the slab only on a likely match: one cache miss per lookup instead
 * of one per probe.
 */
struct slot {
    uint32_t idx; /* slab index, or NIL */
    uint32_t hash;
};

struct ns_flow_table {
    struct ns_flow_stats stats;
    ns_flow_end_fn *on_end;
    void *ud;
    uint64_t timeout[LRU_COUNT];
    uint64_t active_timeout;

    struct ns_flow *slab;
    uint32_t slab_cap;  /* entries allocated */
    uint32_t slab_used; /* entries handed out at least once */
    uint32_t free_head; /* free entries, chained through lru_next */
    uint32_t max_flows;

    struct slot *slots;
    uint32_t nslots; /* power of two */
    uint32_t max_slots;

    uint32_t count;
    uint32_t head[LRU_COUNT];
    uint32_t tail[LRU_COUNT];

    uint64_t next_id;
    uint64_t last_sweep_ns;
    uint64_t hash_seed;
};

const char *ns_flow_state_name(enum ns_flow_state s)
{
    switch (s) {
    case NS_FLOW_ST_NEW:
        return "new";
    case NS_FLOW_ST_SYN_SENT:
        return "syn_sent";
    case NS_FLOW_ST_SYN_RECEIVED:
        return "syn_received";
    case NS_FLOW_ST_ESTABLISHED:
        return "established";
    case NS_FLOW_ST_FIN_WAIT:
        return "fin_wait";
    case NS_FLOW_ST_CLOSED:
        return "closed";
    case NS_FLOW_ST_RESET:
        return "reset";
    }
    return "unknown";
}

const char *ns_flow_end_name(enum ns_flow_end e)
{
    switch (e) {
    case NS_FLOW_END_NONE:
        return "none";
    case NS_FLOW_END_IDLE:
        return "idle_timeout";
    case NS_FLOW_END_ACTIVE:
        return "active_timeout";
    case NS_FLOW_END_CLOSED:
        return "closed";
    case NS_FLOW_END_RESET:
        return "reset";
    case NS_FLOW_END_REUSED:
        return "reused";
    case NS_FLOW_END_EVICTED:
        return "evicted";
    case NS_FLOW_END_EOF:
        return "eof";
    }
    return "unknown";
}

void ns_flow_endpoints(const struct ns_flow *f, struct ns_addr *src, uint16_t *sport,
                       struct ns_addr *dst, uint16_t *dport)
{
    const uint8_t *s = f->src_is_lo ? f->key.lo : f->key.hi;
    const uint8_t *d = f->src_is_lo ? f->key.hi : f->key.lo;

    if (src != NULL) {
        src->family = f->key.ipver;
        memcpy(src->a, s, sizeof(src->a));
    }
    if (dst != NULL) {
        dst->family = f->key.ipver;
        memcpy(dst->a, d, sizeof(dst->a));
    }
    if (sport != NULL) {
        *sport = f->src_is_lo ? f->key.lo_port : f->key.hi_port;
    }
    if (dport != NULL) {
        *dport = f->src_is_lo ? f->key.hi_port : f->key.lo_port;
    }
}

/* ---- key and hash ---- */

/*
 * The key of a packet as views into the packet: lookups hash and compare it
 * in place, and a struct ns_flow_key is written only for a new flow (reading
 * back a key just written byte by byte would stall on store forwarding).
 */
struct pkt_key {
    const uint8_t *lo; /* 16 bytes; IPv4 uses the first 4 */
    const uint8_t *hi;
    uint16_t lo_port;
    uint16_t hi_port;
    uint16_t vlan;
    uint8_t ipver;
    uint8_t proto;
    bool from_lo; /* the packet's sender is the lo side */
};

static uint64_t load64(const uint8_t *b)
{
    uint64_t v;
    memcpy(&v, b, sizeof(v));
    return v;
}

static uint32_t load32(const uint8_t *b)
{
    uint32_t v;
    memcpy(&v, b, sizeof(v));
    return v;
}

/* Big-endian value of 8 bytes (compilers turn this into a load and a byte swap). */
static uint64_t load_be64(const uint8_t *b)
{
    return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 | (uint64_t)b[2] << 40 |
           (uint64_t)b[3] << 32 | (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 |
           (uint64_t)b[6] << 8 | (uint64_t)b[7];
}

static uint32_t load_be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* memcmp order of two addresses of the packet's family: <0, 0, >0 */
static int addr_cmp(const uint8_t *a, const uint8_t *b, bool v6)
{
    if (v6) {
        uint64_t x = load_be64(a);
        uint64_t y = load_be64(b);
        if (x == y) {
            x = load_be64(a + 8);
            y = load_be64(b + 8);
        }
        return (x > y) - (x < y);
    }
    {
        uint32_t x = load_be32(a);
        uint32_t y = load_be32(b);
        return (x > y) - (x < y);
    }
}

/*
 * Canonical key of p: the smaller (address, port) is lo. One-way ICMP
 * messages keep the sender as lo, as the Community ID does.
 */
static void pkt_key_build(const struct ns_packet *p, struct pkt_key *k)
{
    uint16_t sport = 0;
    uint16_t dport = 0;
    bool one_way = false;
    int cmp;

    k->ipver = p->ipver;
    k->proto = p->proto;
    k->vlan = p->vlan_count > 0 ? p->vlan[0] : 0;
    if ((p->flags & NS_PKT_F_HAS_L4) != 0) {
        if (p->proto == NS_IPPROTO_ICMP || p->proto == NS_IPPROTO_ICMPV6) {
            one_way = ns__flow_icmp_ports(p->proto, p->icmp_type, p->icmp_code, &sport, &dport);
        } else if (ns__flow_proto_has_ports(p->proto)) {
            sport = p->sport;
            dport = p->dport;
        }
    }
    cmp = addr_cmp(p->src.a, p->dst.a, p->ipver == 6);
    k->from_lo = one_way || cmp < 0 || (cmp == 0 && sport <= dport);
    if (k->from_lo) {
        k->lo = p->src.a;
        k->hi = p->dst.a;
        k->lo_port = sport;
        k->hi_port = dport;
    } else {
        k->lo = p->dst.a;
        k->hi = p->src.a;
        k->lo_port = dport;
        k->hi_port = sport;
    }
}

static uint64_t mix_step(uint64_t h, uint64_t w)
{
    h ^= w;
    h *= 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 29);
}

/* Multiply-xorshift over the key's words (not cryptographic; seeded per table). */
static uint32_t pkt_key_hash(const struct pkt_key *k, uint64_t seed)
{
    uint64_t h =
        mix_step(seed, (uint64_t)k->ipver | (uint64_t)k->proto << 8 | (uint64_t)k->vlan << 16 |
                           (uint64_t)k->lo_port << 32 | (uint64_t)k->hi_port << 48);

    if (k->ipver == 6) {
        h = mix_step(h, load64(k->lo));
        h = mix_step(h, load64(k->lo + 8));
        h = mix_step(h, load64(k->hi));
        h = mix_step(h, load64(k->hi + 8));
    } else {
        h = mix_step(h, (uint64_t)load32(k->lo) | (uint64_t)load32(k->hi) << 32);
    }
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    return (uint32_t)h;
}

static bool pkt_key_eq(const struct ns_flow_key *fk, const struct pkt_key *k)
{
    if (fk->lo_port != k->lo_port || fk->hi_port != k->hi_port || fk->proto != k->proto ||
        fk->ipver != k->ipver || fk->vlan != k->vlan) {
        return false;
    }
    if (k->ipver == 6) {
        return load64(fk->lo) == load64(k->lo) && load64(fk->lo + 8) == load64(k->lo + 8) &&
               load64(fk->hi) == load64(k->hi) && load64(fk->hi + 8) == load64(k->hi + 8);
    }
    return load32(fk->lo) == load32(k->lo) && load32(fk->hi) == load32(k->hi);
}

static void pkt_key_store(const struct pkt_key *k, struct ns_flow_key *out)
{
    size_t alen = k->ipver == 6 ? 16 : 4;

    memset(out, 0, sizeof(*out));
    out->ipver = k->ipver;
    out->proto = k->proto;
    out->vlan = k->vlan;
    memcpy(out->lo, k->lo, alen);
    memcpy(out->hi, k->hi, alen);
    out->lo_port = k->lo_port;
    out->hi_port = k->hi_port;
}

/* ---- index ---- */

static uint32_t index_find(const struct ns_flow_table *t, const struct pkt_key *k, uint32_t h)
{
    uint32_t mask = t->nslots - 1;
    uint32_t i = h & mask;

    for (;;) {
        const struct slot *sl = &t->slots[i];
        if (sl->idx == NIL) {
            return NIL;
        }
        if (sl->hash == h && pkt_key_eq(&t->slab[sl->idx].key, k)) {
            return sl->idx;
        }
        i = (i + 1) & mask;
    }
}

static void index_insert(struct ns_flow_table *t, uint32_t idx)
{
    uint32_t mask = t->nslots - 1;
    uint32_t h = t->slab[idx].hash;
    uint32_t i = h & mask;

    while (t->slots[i].idx != NIL) {
        i = (i + 1) & mask;
    }
    t->slots[i].idx = idx;
    t->slots[i].hash = h;
}

static void index_remove(struct ns_flow_table *t, uint32_t idx)
{
    uint32_t mask = t->nslots - 1;
    uint32_t i = t->slab[idx].hash & mask;
    uint32_t j;

    for (uint32_t n = 0; t->slots[i].idx != idx; n++) {
        if (n >= t->nslots) {
            return; /* not indexed: cannot happen */
        }
        i = (i + 1) & mask;
    }
    /*
     * Backward shift: move each following entry of the cluster into the hole
     * unless its home slot lies cyclically in (hole, entry].
     */
    j = i;
    for (;;) {
        uint32_t home;
        bool stays;

        j = (j + 1) & mask;
        if (t->slots[j].idx == NIL) {
            break;
        }
        home = t->slots[j].hash & mask;
        stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) {
            continue;
        }
        t->slots[i] = t->slots[j];
        i = j;
    }
    t->slots[i].idx = NIL;
}

/* ---- LRU lists ---- */

static unsigned flow_list(const struct ns_flow *f)
{
    if (f->key.proto != NS_IPPROTO_TCP) {
        return LRU_OTHER;
    }
    if (f->state == NS_FLOW_ST_CLOSED || f->state == NS_FLOW_ST_RESET) {
        return LRU_CLOSED;
    }
    return LRU_TCP;
}

static void lru_unlink(struct ns_flow_table *t, uint32_t idx)
{
    struct ns_flow *f = &t->slab[idx];
    unsigned l = flow_list(f);

    if (f->lru_prev != NIL) {
        t->slab[f->lru_prev].lru_next = f->lru_next;
    } else {
        t->head[l] = f->lru_next;
    }
    if (f->lru_next != NIL) {
        t->slab[f->lru_next].lru_prev = f->lru_prev;
    } else {
        t->tail[l] = f->lru_prev;
    }
    f->lru_prev = NIL;
    f->lru_next = NIL;
}

static void lru_append(struct ns_flow_table *t, uint32_t idx)
{
    struct ns_flow *f = &t->slab[idx];
    unsigned l = flow_list(f);

    f->lru_prev = t->tail[l];
    f->lru_next = NIL;
    if (t->tail[l] != NIL) {
        t->slab[t->tail[l]].lru_next = idx;
    } else {
        t->head[l] = idx;
    }
    t->tail[l] = idx;
}

/* ---- flow life cycle ---- */

static void flow_end(struct ns_flow_table *t, struct ns_flow *f, enum ns_flow_end reason)
{
    f->end = (uint8_t)reason;
    t->stats.ended++;
    if (t->on_end != NULL) {
        t->on_end(t->ud, f);
    }
}

/* End the live flow idx and give its storage back. */
static void flow_drop(struct ns_flow_table *t, uint32_t idx, enum ns_flow_end reason)
{
    struct ns_flow *f = &t->slab[idx];

    lru_unlink(t, idx);
    flow_end(t, f, reason);
    index_remove(t, idx);
    f->lru_next = t->free_head;
    t->free_head = idx;
    t->count--;
}

/* Start a new flow record in f (key, hash and LRU links are kept). */
static void flow_start(struct ns_flow_table *t, struct ns_flow *f, uint64_t now, bool src_is_lo)
{
    f->src_is_lo = src_is_lo;
    f->syn_seen = false;
    f->state = NS_FLOW_ST_NEW;
    f->end = NS_FLOW_END_NONE;
    f->tcp_flags[0] = 0;
    f->tcp_flags[1] = 0;
    f->packets[0] = 0;
    f->packets[1] = 0;
    f->bytes[0] = 0;
    f->bytes[1] = 0;
    f->first_ns = now;
    f->last_ns = now;
    f->id = ++t->next_id;
    f->user = NULL;
    f->app = NULL;
    t->stats.created++;
}

/*
 * Which side opened the flow, judged from its first packet: a SYN+ACK comes
 * from the server, anything else from the initiator.
 */
static bool first_src_is_lo(const struct ns_packet *p, bool from_lo)
{
    const uint8_t synack = NS_TCP_SYN | NS_TCP_ACK;

    if (p->proto == NS_IPPROTO_TCP && (p->flags & NS_PKT_F_HAS_L4) != 0 &&
        (p->tcp_flags & synack) == synack) {
        return !from_lo;
    }
    return from_lo;
}

static uint32_t lru_oldest(const struct ns_flow_table *t)
{
    uint32_t best = NIL;

    for (unsigned l = 0; l < LRU_COUNT; l++) {
        uint32_t h = t->head[l];
        if (h == NIL) {
            continue;
        }
        if (best == NIL || t->slab[h].last_ns < t->slab[best].last_ns ||
            (t->slab[h].last_ns == t->slab[best].last_ns && t->slab[h].id < t->slab[best].id)) {
            best = h;
        }
    }
    return best;
}

static int index_grow(struct ns_flow_table *t)
{
    uint32_t n = t->nslots * 2;
    struct slot *slots = ns_big_alloc((size_t)n * sizeof(*slots));

    if (slots == NULL) {
        return NS_ENOMEM;
    }
    memset(slots, 0xff, (size_t)n * sizeof(*slots));
    ns_big_free(t->slots, (size_t)t->nslots * sizeof(*t->slots));
    t->slots = slots;
    t->nslots = n;
    for (unsigned l = 0; l < LRU_COUNT; l++) {
        for (uint32_t i = t->head[l]; i != NIL; i = t->slab[i].lru_next) {
            index_insert(t, i);
        }
    }
    return 0;
}

static int slab_take(struct ns_flow_table *t, uint32_t *out)
{
    if (t->free_head != NIL) {
        *out = t->free_head;
        t->free_head = t->slab[*out].lru_next;
        return 0;
    }
    if (t->slab_used == t->slab_cap) {
        uint32_t cap = t->slab_cap * 2;
        struct ns_flow *slab;

        if (cap > t->max_flows) {
            cap = t->max_flows;
        }
        slab = ns_big_realloc(t->slab, (size_t)t->slab_cap * sizeof(*slab),
                              (size_t)cap * sizeof(*slab));
        if (slab == NULL) {
            return NS_ENOMEM;
        }
        t->slab = slab;
        t->slab_cap = cap;
    }
    *out = t->slab_used++;
    return 0;
}

/* A new indexed flow for key k (not yet on an LRU list, not yet started). */
static int flow_create(struct ns_flow_table *t, const struct pkt_key *k, uint32_t h, uint32_t *out)
{
    uint32_t idx;
    int rc;

    if (t->count >= t->max_flows) {
        uint32_t old = lru_oldest(t);
        if (old != NIL) {
            t->stats.evicted++;
            flow_drop(t, old, NS_FLOW_END_EVICTED);
        }
    }
    if ((uint64_t)(t->count + 1) * 2 > t->nslots && t->nslots < t->max_slots) {
        rc = index_grow(t);
        if (rc != 0) {
            return rc;
        }
    }
    rc = slab_take(t, &idx);
    if (rc != 0) {
        return rc;
    }
    pkt_key_store(k, &t->slab[idx].key);
    t->slab[idx].hash = h;
    t->slab[idx].lru_prev = NIL;
    t->slab[idx].lru_next = NIL;
    index_insert(t, idx);
    t->count++;
    if (t->count > t->stats.active_max) {
        t->stats.active_max = t->count;
    }
    *out = idx;
    return 0;
}

static void tcp_track(struct ns_flow *f, int dir, uint8_t fl)
{
    f->tcp_flags[dir] |= fl;
    if ((fl & NS_TCP_RST) != 0) {
        if (f->state != NS_FLOW_ST_CLOSED) {
            f->state = NS_FLOW_ST_RESET;
        }
        return;
    }
    if (f->state == NS_FLOW_ST_RESET) {
        return;
    }
    if ((fl & NS_TCP_SYN) != 0) {
        if ((fl & NS_TCP_ACK) == 0) {
            f->syn_seen = true;
            if (f->state == NS_FLOW_ST_NEW) {
                f->state = NS_FLOW_ST_SYN_SENT;
            }
        } else if (f->state == NS_FLOW_ST_NEW || f->state == NS_FLOW_ST_SYN_SENT) {
            f->state = NS_FLOW_ST_SYN_RECEIVED;
        }
    } else if ((fl & NS_TCP_ACK) != 0 && dir == 0 && f->state == NS_FLOW_ST_SYN_RECEIVED) {
        f->state = NS_FLOW_ST_ESTABLISHED;
    }
    if ((f->tcp_flags[0] & NS_TCP_FIN) != 0 && (f->tcp_flags[1] & NS_TCP_FIN) != 0) {
        f->state = NS_FLOW_ST_CLOSED;
    } else if ((fl & NS_TCP_FIN) != 0 && f->state != NS_FLOW_ST_CLOSED) {
        f->state = NS_FLOW_ST_FIN_WAIT;
    }
    if (f->state == NS_FLOW_ST_NEW && f->packets[0] > 0 && f->packets[1] > 0) {
        f->state = NS_FLOW_ST_ESTABLISHED;
    }
}

/*
 * Why the existing flow f cannot take the packet p: it timed out (idle or
 * after close), has lasted active_timeout, or a closed TCP flow sees a new SYN.
 */
static enum ns_flow_end flow_restart_reason(const struct ns_flow_table *t, const struct ns_flow *f,
                                            const struct ns_packet *p, uint64_t now)
{
    unsigned l = flow_list(f);

    if (now >= f->last_ns && now - f->last_ns >= t->timeout[l]) {
        if (l != LRU_CLOSED) {
            return NS_FLOW_END_IDLE;
        }
        return f->state == NS_FLOW_ST_RESET ? NS_FLOW_END_RESET : NS_FLOW_END_CLOSED;
    }
    if (now >= f->first_ns && now - f->first_ns >= t->active_timeout) {
        return NS_FLOW_END_ACTIVE;
    }
    if (l == LRU_CLOSED && (p->flags & NS_PKT_F_HAS_L4) != 0 &&
        (p->tcp_flags & (NS_TCP_SYN | NS_TCP_ACK)) == NS_TCP_SYN) {
        return NS_FLOW_END_REUSED;
    }
    return NS_FLOW_END_NONE;
}

void ns_flow_table_expire(struct ns_flow_table *t, uint64_t now_ns)
{
    if (t == NULL) {
        return;
    }
    for (unsigned l = 0; l < LRU_COUNT; l++) {
        while (t->head[l] != NIL) {
            uint32_t idx = t->head[l];
            const struct ns_flow *f = &t->slab[idx];
            enum ns_flow_end reason = NS_FLOW_END_IDLE;

            if (now_ns < f->last_ns || now_ns - f->last_ns < t->timeout[l]) {
                break;
            }
            if (l == LRU_CLOSED) {
                reason = f->state == NS_FLOW_ST_RESET ? NS_FLOW_END_RESET : NS_FLOW_END_CLOSED;
            }
            t->stats.timed_out++;
            flow_drop(t, idx, reason);
        }
    }
    t->last_sweep_ns = now_ns;
}

int ns_flow_table_update(struct ns_flow_table *t, const struct ns_packet *p, uint32_t frames,
                         uint64_t wire_bytes, struct ns_flow **flow, int *dir)
{
    struct pkt_key k;
    struct ns_flow *f;
    uint64_t now = p->ts_ns;
    uint32_t h;
    uint32_t idx;
    bool from_lo;
    int d;

    if (p->ipver != 4 && p->ipver != 6) {
        return NS_EINVAL;
    }
    if (now < t->last_sweep_ns || now - t->last_sweep_ns >= FLOW_SWEEP_INTERVAL) {
        ns_flow_table_expire(t, now);
    }
    pkt_key_build(p, &k);
    from_lo = k.from_lo;
    h = pkt_key_hash(&k, t->hash_seed);
    idx = index_find(t, &k, h);
    if (idx != NIL) {
        enum ns_flow_end reason;

        f = &t->slab[idx];
        lru_unlink(t, idx);
        reason = flow_restart_reason(t, f, p, now);
        if (reason == NS_FLOW_END_ACTIVE) {
            /* the same conversation goes on in a new record: keep its sides and state */
            bool src_is_lo = f->src_is_lo;
            uint8_t state = f->state;

            t->stats.timed_out++;
            flow_end(t, f, reason);
            flow_start(t, f, now, src_is_lo);
            f->state = state;
        } else if (reason != NS_FLOW_END_NONE) {
            if (reason == NS_FLOW_END_REUSED) {
                t->stats.reused++;
            } else {
                t->stats.timed_out++;
            }
            flow_end(t, f, reason);
            flow_start(t, f, now, first_src_is_lo(p, from_lo));
        }
    } else {
        int rc = flow_create(t, &k, h, &idx);
        if (rc != 0) {
            t->stats.no_memory++;
            return rc;
        }
        f = &t->slab[idx];
        flow_start(t, f, now, first_src_is_lo(p, from_lo));
    }

    d = from_lo == f->src_is_lo ? 0 : 1;
    f->packets[d] += frames;
    f->bytes[d] += wire_bytes;
    if (now > f->last_ns) {
        f->last_ns = now;
    }
    if (f->key.proto == NS_IPPROTO_TCP && (p->flags & NS_PKT_F_HAS_L4) != 0) {
        tcp_track(f, d, p->tcp_flags);
    }
    lru_append(t, idx);
    *flow = f;
    *dir = d;
    return 0;
}

/* ---- flush: first-seen order, sorted in place with a heap sort ---- */

static bool flow_before(const struct ns_flow *slab, uint32_t a, uint32_t b)
{
    if (slab[a].first_ns != slab[b].first_ns) {
        return slab[a].first_ns < slab[b].first_ns;
    }
    return slab[a].id < slab[b].id;
}

static void sift_down(const struct ns_flow *slab, uint32_t *v, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        uint32_t tmp;

        if (child >= n) {
            return;
        }
        if (child + 1 < n && flow_before(slab, v[child], v[child + 1])) {
            child++;
        }
        if (!flow_before(slab, v[root], v[child])) {
            return;
        }
        tmp = v[root];
        v[root] = v[child];
        v[child] = tmp;
        root = child;
    }
}

static void sort_first_seen(const struct ns_flow *slab, uint32_t *v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;) {
        sift_down(slab, v, i, n);
    }
    for (size_t end = n; end-- > 1;) {
        uint32_t tmp = v[0];
        v[0] = v[end];
        v[end] = tmp;
        sift_down(slab, v, 0, end);
    }
}

void ns_flow_table_flush(struct ns_flow_table *t)
{
    size_t n = 0;

    if (t == NULL) {
        return;
    }
    /*
     * The index is rebuilt empty below, so its array holds the order
     * meanwhile: nslots slots of 8 bytes hold far more than count indices.
     */
    uint32_t *order = (uint32_t *)(void *)t->slots;
    for (unsigned l = 0; l < LRU_COUNT; l++) {
        for (uint32_t i = t->head[l]; i != NIL; i = t->slab[i].lru_next) {
            order[n++] = i;
        }
        t->head[l] = NIL;
        t->tail[l] = NIL;
    }
    sort_first_seen(t->slab, order, n);
    for (size_t i = 0; i < n; i++) {
        flow_end(t, &t->slab[order[i]], NS_FLOW_END_EOF);
    }
    memset(t->slots, 0xff, (size_t)t->nslots * sizeof(*t->slots));
    t->count = 0;
    t->free_head = NIL;
    t->slab_used = 0;
}

/* ---- creation, accessors ---- */

static uint32_t pow2_at_least(uint64_t n)
{
    uint32_t p = 16;

    while (p < n) {
        p *= 2;
    }
    return p;
}

int ns_flow_table_new(struct ns_flow_table **out, const struct ns_flow_opts *opts)
{
    struct ns_flow_opts o = {0};
    struct ns_flow_table *t;

    if (out == NULL) {
        return NS_EINVAL;
    }
    *out = NULL;
    if (opts != NULL) {
        o = *opts;
    }
    if (o.max_flows == 0) {
        o.max_flows = FLOW_DEFAULT_MAX;
    }
    if (o.max_flows > FLOW_LIMIT_MAX) {
        return NS_EINVAL;
    }
    t = ns_calloc(1, sizeof(*t));
    if (t == NULL) {
        return NS_ENOMEM;
    }
    t->on_end = o.on_end;
    t->ud = o.ud;
    t->timeout[LRU_TCP] = o.idle_timeout_ns != 0 ? o.idle_timeout_ns : 120 * NS_FLOW_SEC;
    t->timeout[LRU_OTHER] = o.udp_timeout_ns != 0 ? o.udp_timeout_ns : 60 * NS_FLOW_SEC;
    t->timeout[LRU_CLOSED] = o.closed_timeout_ns != 0 ? o.closed_timeout_ns : 10 * NS_FLOW_SEC;
    t->active_timeout = o.active_timeout_ns != 0 ? o.active_timeout_ns : 1800 * NS_FLOW_SEC;
    t->max_flows = (uint32_t)o.max_flows;
    uint32_t first = t->max_flows < FLOW_SLAB_START ? t->max_flows : FLOW_SLAB_START;
    if ((size_t)t->max_flows * sizeof(struct ns_flow) <= FLOW_SLAB_AT_ONCE) {
        /*
         * The whole slab at once (ns_big_alloc: a mapping whose pages are
         * only backed as flows arrive): it never moves, so it is never
         * copied and no page of it is touched twice.
         */
        t->slab_cap = t->max_flows;
    } else {
        t->slab_cap = first;
    }
    t->max_slots = pow2_at_least((uint64_t)t->max_flows * 2);
    t->nslots = pow2_at_least((uint64_t)first * 2); /* the index grows with the flows */
    t->free_head = NIL;
    for (unsigned l = 0; l < LRU_COUNT; l++) {
        t->head[l] = NIL;
        t->tail[l] = NIL;
    }
    /* per-table seed: colliding keys cannot be precomputed against a known hash */
    t->hash_seed = ((uint64_t)(uintptr_t)t * 0x9e3779b97f4a7c15ULL) ^ 0x5bd1e9955bd1e995ULL;
    t->slab = ns_big_alloc((size_t)t->slab_cap * sizeof(*t->slab));
    t->slots = ns_big_alloc((size_t)t->nslots * sizeof(*t->slots));
    if (t->slab == NULL || t->slots == NULL) {
        ns_big_free(t->slab, (size_t)t->slab_cap * sizeof(*t->slab));
        ns_big_free(t->slots, (size_t)t->nslots * sizeof(*t->slots));
        ns_free(t);
        return NS_ENOMEM;
    }
    memset(t->slots, 0xff, (size_t)t->nslots * sizeof(*t->slots));
    *out = t;
    return 0;
}

void ns_flow_table_free(struct ns_flow_table *t)
{
    if (t == NULL) {
        return;
    }
    ns_flow_table_flush(t);
    ns_big_free(t->slab, (size_t)t->slab_cap * sizeof(*t->slab));
    ns_big_free(t->slots, (size_t)t->nslots * sizeof(*t->slots));
    ns_free(t);
}

size_t ns_flow_table_count(const struct ns_flow_table *t)
{
    return t != NULL ? t->count : 0;
}

const struct ns_flow_stats *ns_flow_table_stats(const struct ns_flow_table *t)
{
    return &t->stats;
}
