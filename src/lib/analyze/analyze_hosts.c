/*
 * analyze_hosts.c - the per-host table (hosts.h): an open-addressing hash
 * index (linear probing, backward-shift deletion) over a slab of hosts, an
 * LRU list by last packet for eviction, per-host peer sketches (exact set,
 * then HyperLogLog: Flajolet, Fusy, Gandouet, Meunier, "HyperLogLog: the
 * analysis of a near-optimal cardinality estimation algorithm", 2007) and
 * Space-Saving top ports (Metwally, Agrawal, El Abbadi, "Efficient
 * computation of frequent and top-k elements in data streams", 2005).
 *
 * No packet bytes are read here: everything comes from the decoded
 * struct ns_packet and the flow table.
 */
#include "netsift/hosts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsift/alloc.h"
#include "netsift/ilist.h"

#define HOSTS_NONE         UINT32_MAX
#define HOSTS_EMPTY        UINT64_MAX /* an index slot (its slab index part is HOSTS_NONE) */
#define HOSTS_HLL          0xff       /* peer_n once the sketch is a HyperLogLog */
#define HOSTS_HLL_M        64
#define HOSTS_HLL_BIT      6             /* log2(HOSTS_HLL_M) */
#define HOSTS_LRU_NS       1000000000ull /* a host moves to the LRU head at most once a second */
#define HOSTS_SLAB_AT_ONCE ((size_t)128 << 20) /* bytes of slab reserved up front, at most */

struct ns_hosts {
    struct ns_host *slab;
    size_t nslab; /* hosts allocated in the slab (used + free) */
    size_t cap_slab;
    uint32_t free_head; /* free slab entries, linked through lru.next */
    uint64_t *index;    /* per slot: hash << 32 | slab index; HOSTS_EMPTY when empty */
    size_t index_cap;   /* power of two, >= 2 x max_hosts */
    size_t max_hosts;
    struct ns_ilist lru; /* head: most recently seen */
    uint64_t win_id;
    bool at_flow_end;
    const struct ns_geo *geo;
    struct ns_country evicted[NS_HOSTS_MAX_COUNTRIES];
    size_t nevicted;
    struct ns_hosts_stats st;
};

/* splitmix64 finaliser: a good 64-bit mix. */
static uint64_t hosts_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t hosts_addr_hash(const struct ns_addr *a)
{
    uint64_t lo;
    uint64_t hi;
    /* native byte order: a hash, not a wire value */
    memcpy(&lo, a->a, 8);
    memcpy(&hi, a->a + 8, 8);
    return hosts_mix(lo ^ hosts_mix(hi ^ a->family));
}

static bool hosts_addr_eq(const struct ns_addr *x, const struct ns_addr *y)
{
    return x->family == y->family && memcmp(x->a, y->a, 16) == 0;
}

int ns_hosts_new(struct ns_hosts **out, const struct ns_hosts_opts *opts)
{
    struct ns_hosts *h = ns_calloc(1, sizeof(*h));
    *out = NULL;
    if (h == NULL) {
        return NS_ENOMEM;
    }
    h->max_hosts = opts != NULL && opts->max_hosts > 0 ? opts->max_hosts : NS_HOSTS_DEFAULT_MAX;
    if (h->max_hosts > (1u << 30)) {
        h->max_hosts = 1u << 30;
    }
    h->geo = opts != NULL ? opts->geo : NULL;
    h->at_flow_end = opts != NULL && opts->count_at_flow_end;
    h->index_cap = 16;
    while (h->index_cap < h->max_hosts * 2) {
        h->index_cap *= 2;
    }
    h->index = ns_big_alloc(h->index_cap * sizeof(*h->index));
    if (h->index == NULL) {
        ns_free(h);
        return NS_ENOMEM;
    }
    memset(h->index, 0xff, h->index_cap * sizeof(*h->index));
    if (h->max_hosts <= HOSTS_SLAB_AT_ONCE / sizeof(struct ns_host)) {
        /*
         * The whole slab at once: its pages are only touched (and counted in
         * RSS) as hosts arrive, and it never moves, so no copy of it is made
         * and no page of it is touched twice.
         */
        h->slab = ns_big_alloc(h->max_hosts * sizeof(struct ns_host));
        if (h->slab == NULL) {
            ns_big_free(h->index, h->index_cap * sizeof(*h->index));
            ns_free(h);
            return NS_ENOMEM;
        }
        h->cap_slab = h->max_hosts;
    }
    ns_ilist_init(&h->lru);
    h->free_head = HOSTS_NONE;
    h->win_id = 1;
    *out = h;
    return 0;
}

void ns_hosts_free(struct ns_hosts *h)
{
    if (h == NULL) {
        return;
    }
    for (size_t i = 0; i < h->nslab; i++) {
        ns_free(h->slab[i].http[0].raw_sig);
        ns_free(h->slab[i].http[1].raw_sig);
    }
    ns_big_free(h->slab, h->cap_slab * sizeof(*h->slab));
    ns_big_free(h->index, h->index_cap * sizeof(*h->index));
    ns_free(h);
}

static size_t hosts_slot_of(const struct ns_hosts *h, const struct ns_addr *a, uint32_t hash,
                            bool *found)
{
    size_t mask = h->index_cap - 1;
    size_t j = hash & mask;
    for (;;) {
        uint64_t v = h->index[j];
        uint32_t ix = (uint32_t)v;
        if (ix == HOSTS_NONE) {
            *found = false;
            return j;
        }
        /* the hash in the slot spares a visit to the slab for other keys */
        if ((uint32_t)(v >> 32) == hash && hosts_addr_eq(&h->slab[ix].addr, a)) {
            *found = true;
            return j;
        }
        j = (j + 1) & mask;
    }
}

/* Remove the index slot j (backward-shift deletion keeps probe chains whole). */
static void hosts_index_delete(struct ns_hosts *h, size_t j)
{
    size_t mask = h->index_cap - 1;
    size_t hole = j;
    size_t k = j;
    for (;;) {
        k = (k + 1) & mask;
        uint64_t v = h->index[k];
        if ((uint32_t)v == HOSTS_NONE) {
            break;
        }
        size_t home = (size_t)(v >> 32) & mask;
        /* move k into the hole unless its home lies cyclically in (hole, k] */
        bool stays = hole <= k ? (home > hole && home <= k) : (home > hole || home <= k);
        if (!stays) {
            h->index[hole] = v;
            hole = k;
        }
    }
    h->index[hole] = HOSTS_EMPTY;
}

/* The sums entry for a key in an array of countries (added when new); NULL when full. */
static struct ns_country *hosts_country_slot(struct ns_country *arr, size_t *n, size_t cap,
                                             const char *key, bool is_country)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(arr[i].key, key) == 0) {
            return &arr[i];
        }
    }
    if (*n == cap) {
        return NULL;
    }
    struct ns_country *c = &arr[(*n)++];
    memset(c, 0, sizeof(*c));
    snprintf(c->key, sizeof(c->key), "%s", key);
    c->is_country = is_country;
    return c;
}

static void hosts_country_key(const struct ns_geo *geo, const struct ns_addr *a, char *key,
                              size_t size, bool *is_country)
{
    struct ns_geo_result r;
    ns_geo_lookup(geo, a, &r);
    *is_country = false;
    if (r.scope != NS_GEO_PUBLIC) {
        snprintf(key, size, "%s", ns_geo_scope_name(r.scope));
    } else if (r.country_code[0] != '\0') {
        snprintf(key, size, "%s", r.country_code);
        *is_country = true;
    } else {
        snprintf(key, size, "unknown");
    }
}

static void hosts_country_add(struct ns_country *c, const struct ns_host_counts *k)
{
    c->hosts++;
    c->c.packets_sent += k->packets_sent;
    c->c.packets_recv += k->packets_recv;
    c->c.bytes_sent += k->bytes_sent;
    c->c.bytes_recv += k->bytes_recv;
}

/* Evict the least recently seen host, sparing `keep` (the other host of the packet at hand). */
static void hosts_evict_one(struct ns_hosts *h, uint32_t keep)
{
    uint32_t ix = h->lru.tail;
    if (ix == keep && h->slab[ix].lru.prev != HOSTS_NONE) {
        ix = h->slab[ix].lru.prev;
    }
    struct ns_host *x = &h->slab[ix];
    bool found = false;
    char key[16];
    bool is_country = false;

    hosts_country_key(h->geo, &x->addr, key, sizeof(key), &is_country);
    struct ns_country *c =
        hosts_country_slot(h->evicted, &h->nevicted, NS_HOSTS_MAX_COUNTRIES, key, is_country);
    if (c == NULL) {
        c = hosts_country_slot(h->evicted, &h->nevicted, NS_HOSTS_MAX_COUNTRIES, "unknown", false);
    }
    if (c != NULL) {
        hosts_country_add(c, &x->total);
    }
    size_t j = hosts_slot_of(h, &x->addr, x->hash, &found);
    if (found) {
        hosts_index_delete(h, j);
    }
    NS_ILIST_UNLINK(&h->lru, h->slab, ix, lru);
    for (int r = 0; r < 2; r++) {
        ns_free(x->http[r].raw_sig);
        x->http[r].raw_sig = NULL;
    }
    memset(&x->addr, 0, sizeof(x->addr)); /* a free slot matches no address (flow caches) */
    x->lru.next = h->free_head;
    h->free_head = ix;
    h->st.evicted++;
    h->st.active--;
}

/* The host of a, added when new (evicting the least recently seen one but `keep` when full). */
static struct ns_host *hosts_get(struct ns_hosts *h, const struct ns_addr *a, uint64_t ts,
                                 uint32_t keep)
{
    uint32_t hash = (uint32_t)hosts_addr_hash(a);
    bool found = false;
    size_t j = hosts_slot_of(h, a, hash, &found);
    if (found) {
        uint32_t ix = (uint32_t)h->index[j];
        struct ns_host *x = &h->slab[ix];
        if (ts > x->lru_ns + HOSTS_LRU_NS && h->lru.head != ix) {
            NS_ILIST_UNLINK(&h->lru, h->slab, ix, lru);
            NS_ILIST_PUSH_HEAD(&h->lru, h->slab, ix, lru);
            x->lru_ns = ts;
        }
        return x;
    }
    if (h->st.active >= h->max_hosts) {
        hosts_evict_one(h, keep);
        j = hosts_slot_of(h, a, hash, &found); /* the deletion may have moved slots */
    }
    uint32_t ix;
    if (h->free_head != HOSTS_NONE) {
        ix = h->free_head;
        h->free_head = h->slab[ix].lru.next;
    } else {
        if (h->nslab == h->cap_slab) {
            size_t ncap = h->cap_slab == 0 ? 256 : h->cap_slab * 2;
            if (ncap > h->max_hosts) {
                ncap = h->max_hosts;
            }
            struct ns_host *s =
                ns_big_realloc(h->slab, h->cap_slab * sizeof(*s), ncap * sizeof(*s));
            if (s == NULL) {
                h->st.no_memory++;
                return NULL;
            }
            h->slab = s;
            h->cap_slab = ncap;
        }
        ix = (uint32_t)h->nslab++;
    }
    struct ns_host *x = &h->slab[ix];
    memset(x, 0, sizeof(*x));
    x->addr = *a;
    x->hash = hash;
    x->first_ns = ts;
    x->last_ns = ts;
    x->lru_ns = ts;
    x->win_id = h->win_id;
    x->os.dist = -1;
    h->index[j] = (uint64_t)hash << 32 | ix;
    NS_ILIST_PUSH_HEAD(&h->lru, h->slab, ix, lru);
    h->st.created++;
    h->st.active++;
    if (h->st.active > h->st.active_max) {
        h->st.active_max = h->st.active;
    }
    return x;
}

const struct ns_host *ns_hosts_find(const struct ns_hosts *h, const struct ns_addr *a)
{
    bool found = false;
    uint32_t hash = (uint32_t)hosts_addr_hash(a);
    size_t j = hosts_slot_of(h, a, hash, &found);
    return found ? &h->slab[(uint32_t)h->index[j]] : NULL;
}

static struct ns_host *hosts_find_mut(struct ns_hosts *h, const struct ns_addr *a)
{
    return (struct ns_host *)ns_hosts_find(h, a);
}

/* --- peers sketch --------------------------------------------------------- */

static void hosts_hll_add(struct ns_host *x, uint64_t hv)
{
    unsigned j = (unsigned)(hv & (HOSTS_HLL_M - 1));
    uint64_t w = hv >> HOSTS_HLL_BIT; /* 58 bits left */
    uint8_t rho = 1;
    while (rho <= 58 && (w & 1) == 0) {
        rho++;
        w >>= 1;
    }
    if (rho > x->peers.reg[j]) {
        x->peers.reg[j] = rho;
    }
}

static void hosts_peer_add(struct ns_host *x, const struct ns_addr *peer)
{
    uint64_t hv = hosts_mix(hosts_addr_hash(peer) + 0x9e3779b97f4a7c15ull);
    if (x->peer_n == HOSTS_HLL) {
        hosts_hll_add(x, hv);
        return;
    }
    for (uint8_t i = 0; i < x->peer_n; i++) {
        if (x->peers.exact[i] == hv) {
            return;
        }
    }
    if (x->peer_n < 8) {
        x->peers.exact[x->peer_n++] = hv;
        return;
    }
    uint64_t old[8];
    memcpy(old, x->peers.exact, sizeof(old));
    memset(x->peers.reg, 0, sizeof(x->peers.reg));
    x->peer_n = HOSTS_HLL;
    for (int i = 0; i < 8; i++) {
        hosts_hll_add(x, old[i]);
    }
    hosts_hll_add(x, hv);
}

uint64_t ns_host_peers(const struct ns_host *x)
{
    if (x->peer_n != HOSTS_HLL) {
        return x->peer_n;
    }
    double sum = 0;
    unsigned zeros = 0;
    for (int j = 0; j < HOSTS_HLL_M; j++) {
        sum += ldexp(1.0, -(int)x->peers.reg[j]);
        zeros += x->peers.reg[j] == 0;
    }
    const double m = HOSTS_HLL_M;
    double e = 0.709 * m * m / sum; /* alpha_64 */
    if (e <= 2.5 * m && zeros > 0) {
        e = m * log(m / (double)zeros); /* linear counting */
    }
    uint64_t v = (uint64_t)llround(e);
    return v < 9 ? 9 : v; /* the sketch switched after 8 distinct peers */
}

/* --- top ports (Space-Saving) ---------------------------------------------- */

static void hosts_port_add(struct ns_host_port *arr, uint8_t *n, uint8_t proto, uint16_t port)
{
    for (uint8_t i = 0; i < *n; i++) {
        if (arr[i].port == port && arr[i].proto == proto) {
            arr[i].count++;
            return;
        }
    }
    if (*n < NS_HOST_TOP_PORTS) {
        arr[*n].port = port;
        arr[*n].proto = proto;
        arr[*n].count = 1;
        arr[*n].error = 0;
        (*n)++;
        return;
    }
    uint8_t min = 0;
    for (uint8_t i = 1; i < *n; i++) {
        if (arr[i].count < arr[min].count) {
            min = i;
        }
    }
    arr[min].error = arr[min].count;
    arr[min].count++;
    arr[min].port = port;
    arr[min].proto = proto;
}

/* --- packets ----------------------------------------------------------------- */

static bool hosts_zero_hops(uint8_t ttl)
{
    return ttl == 1 || ttl == 32 || ttl == 64 || ttl == 128 || ttl == 255;
}

static void hosts_count(struct ns_hosts *h, struct ns_host *x, uint64_t ts, uint64_t bytes,
                        bool sent)
{
    if (x->win_id != h->win_id) {
        memset(&x->win, 0, sizeof(x->win));
        x->win_id = h->win_id;
    }
    if (sent) {
        x->total.packets_sent++;
        x->total.bytes_sent += bytes;
        x->win.packets_sent++;
        x->win.bytes_sent += bytes;
    } else {
        x->total.packets_recv++;
        x->total.bytes_recv += bytes;
        x->win.packets_recv++;
        x->win.bytes_recv += bytes;
    }
    if (ts < x->first_ns) {
        x->first_ns = ts;
    }
    if (ts > x->last_ns) {
        x->last_ns = ts;
    }
}

/* The sender and the receiver of a packet, both in the table (NULL on failure). */
static int hosts_pair(struct ns_hosts *h, const struct ns_addr *src, const struct ns_addr *dst,
                      uint64_t ts, struct ns_host **ps, struct ns_host **pd)
{
    *ps = NULL;
    *pd = NULL;
    struct ns_host *s = hosts_get(h, src, ts, HOSTS_NONE);
    if (s == NULL) {
        return NS_ENOMEM;
    }
    /* the second lookup may evict or move the slab: refer to the sender by index */
    uint32_t six = (uint32_t)(s - h->slab);
    struct ns_host *d = hosts_get(h, dst, ts, six);
    if (d == NULL) {
        return NS_ENOMEM;
    }
    s = &h->slab[six];
    *pd = d;
    /* in a table of one host the sender gave way to the receiver */
    *ps = hosts_addr_eq(&s->addr, src) ? s : NULL;
    return 0;
}

/*
 * flow->app, for every flow the table is given (a number, not a pointer):
 *
 *    63   62 ........... 32   31   30 ............ 0
 *   +----+-----------------+----+-------------------+
 *   |seen| slab index of   |seen| slab index of     |
 *   |dir0| the flow's src+1|dir1| the flow's dst+1  |
 *   +----+-----------------+----+-------------------+
 *
 * "seen" says the table has had a packet of that direction (a reassembled
 * datagram counts several frames, so the flow's packet counters cannot say
 * which packet was the first); the indices spare the hash lookups and are
 * checked against the addresses on use, since a host may have been evicted
 * and its slot reused meanwhile. Indices are below 2^30 (the host cap).
 */
#define HOSTS_APP_SEEN0 (1ull << 63)
#define HOSTS_APP_SEEN1 (1ull << 31)
#define HOSTS_APP_IX    0x7fffffffull

static bool hosts_app_usable(void)
{
    return sizeof(uintptr_t) >= sizeof(uint64_t);
}

static uint64_t hosts_app_get(const struct ns_flow *f)
{
    return hosts_app_usable() ? (uint64_t)(uintptr_t)f->app : 0;
}

static void hosts_app_set(struct ns_flow *f, uint64_t v)
{
    if (hosts_app_usable()) {
        f->app = (void *)(uintptr_t)v;
    }
}

/* The flow's two hosts from the cached indices, when still valid (and touched in the LRU). */
static bool hosts_app_hosts(struct ns_hosts *h, uint64_t app, const struct ns_addr *src,
                            const struct ns_addr *dst, uint64_t ts, struct ns_host **ps,
                            struct ns_host **pd)
{
    uint64_t si = (app >> 32) & HOSTS_APP_IX;
    uint64_t di = app & HOSTS_APP_IX;
    if (si == 0 || di == 0 || si > h->nslab || di > h->nslab ||
        !hosts_addr_eq(&h->slab[si - 1].addr, src) || !hosts_addr_eq(&h->slab[di - 1].addr, dst)) {
        return false;
    }
    *ps = &h->slab[si - 1];
    *pd = &h->slab[di - 1];
    for (int i = 0; i < 2; i++) {
        struct ns_host *x = i == 0 ? *ps : *pd;
        uint32_t ix = (uint32_t)(x - h->slab);
        if (ts > x->lru_ns + HOSTS_LRU_NS && h->lru.head != ix) {
            NS_ILIST_UNLINK(&h->lru, h->slab, ix, lru);
            NS_ILIST_PUSH_HEAD(&h->lru, h->slab, ix, lru);
            x->lru_ns = ts;
        }
    }
    return true;
}

/* The flow's (src, dst) hosts: from the cache, else looked up (and cached in *app). */
static int hosts_flow_pair(struct ns_hosts *h, uint64_t *app, const struct ns_addr *src,
                           const struct ns_addr *dst, uint64_t ts, struct ns_host **ps,
                           struct ns_host **pd)
{
    if (hosts_app_hosts(h, *app, src, dst, ts, ps, pd)) {
        return 0;
    }
    if (hosts_pair(h, src, dst, ts, ps, pd) != 0) {
        return NS_ENOMEM; /* counted in hosts_get */
    }
    if (*ps != NULL && *pd != NULL) {
        *app = (*app & (HOSTS_APP_SEEN0 | HOSTS_APP_SEEN1)) |
               ((uint64_t)(*ps - h->slab) + 1) << 32 | ((uint64_t)(*pd - h->slab) + 1);
    }
    return 0;
}

int ns_hosts_packet(struct ns_hosts *h, const struct ns_packet *p, struct ns_flow *flow, int dir)
{
    struct ns_host *s = NULL;
    struct ns_host *d = NULL;
    if (p->src.family == 0 || p->dst.family == 0) {
        return 0;
    }
    h->st.packets++;
    bool have_flow = flow != NULL && (dir == 0 || dir == 1);
    bool first_dir = false; /* the first packet of its direction in the flow */
    bool first_flow = true; /* the first packet of the flow (or no flow: count peers always) */
    uint64_t app = have_flow ? hosts_app_get(flow) : 0;
    if (have_flow && hosts_app_usable()) {
        first_dir = (app & (dir == 0 ? HOSTS_APP_SEEN0 : HOSTS_APP_SEEN1)) == 0;
        first_flow = (app & (HOSTS_APP_SEEN0 | HOSTS_APP_SEEN1)) == 0;
    } else if (have_flow) {
        first_dir = flow->packets[dir] == 1;
        first_flow = flow->packets[0] + flow->packets[1] == 1;
    }
    bool per_flow = h->at_flow_end && have_flow;
    if (per_flow && !first_dir) {
        return 0; /* counted when the flow ends; nothing else to learn from this packet */
    }
    uint64_t bytes = p->wirelen;
    int rc;
    if (!have_flow) {
        rc = hosts_pair(h, &p->src, &p->dst, p->ts_ns, &s, &d);
    } else if (dir == 0) {
        rc = hosts_flow_pair(h, &app, &p->src, &p->dst, p->ts_ns, &s, &d);
    } else {
        rc = hosts_flow_pair(h, &app, &p->dst, &p->src, p->ts_ns, &d, &s);
    }
    if (have_flow) {
        hosts_app_set(flow, app | (dir == 0 ? HOSTS_APP_SEEN0 : HOSTS_APP_SEEN1));
    }
    if (rc != 0) {
        return rc;
    }
    if (s == NULL || d == NULL) {
        /* in a table of one host, one of the two gave way to the other */
        struct ns_host *x = s != NULL ? s : d;
        if (!per_flow && x != NULL) {
            hosts_count(h, x, p->ts_ns, bytes, x == s);
        }
        return 0;
    }
    if (!per_flow) {
        /* every packet is sent by one host and received by one, the same one included */
        hosts_count(h, s, p->ts_ns, bytes, true);
        hosts_count(h, d, p->ts_ns, bytes, false);
    }
    if (s != d) {
        /* peers change only with a new flow: its first packet is enough */
        if (first_flow) {
            hosts_peer_add(s, &p->dst);
            hosts_peer_add(d, &p->src);
        }
    }

    if (p->mac_src != NULL && (p->mac_src[0] & 0x01) == 0 && hosts_zero_hops(p->ttl)) {
        if (!s->has_mac) {
            memcpy(s->mac, p->mac_src, 6);
            s->has_mac = true;
        } else if (memcmp(s->mac, p->mac_src, 6) != 0) {
            memcpy(s->mac, p->mac_src, 6);
            s->mac_changes++;
        }
    }

    if (!have_flow || !first_dir || (p->flags & NS_PKT_F_HAS_L4) == 0 ||
        (p->proto != NS_IPPROTO_TCP && p->proto != NS_IPPROTO_UDP)) {
        return 0;
    }
    if (dir == 0) {
        /* the first packet of a flow the sender opened */
        s->flows_opened++;
        hosts_port_add(s->contacted, &s->ncontacted, p->proto, p->dport);
    } else if (!(p->proto == NS_IPPROTO_TCP && (p->tcp_flags & NS_TCP_RST) != 0)) {
        /* the first answer of the responder: it serves the port */
        s->flows_answered++;
        hosts_port_add(s->served, &s->nserved, p->proto, p->sport);
    }
    return 0;
}

int ns_hosts_flow_end(struct ns_hosts *h, const struct ns_flow *f)
{
    struct ns_addr src;
    struct ns_addr dst;
    struct ns_host *s = NULL;
    struct ns_host *d = NULL;
    if (!h->at_flow_end) {
        return 0;
    }
    ns_flow_endpoints(f, &src, NULL, &dst, NULL);
    if (src.family == 0 || dst.family == 0) {
        return 0;
    }
    if (!hosts_app_hosts(h, hosts_app_get(f), &src, &dst, f->last_ns, &s, &d) &&
        hosts_pair(h, &src, &dst, f->last_ns, &s, &d) != 0) {
        return NS_ENOMEM; /* counted in hosts_get */
    }
    struct ns_host *side[2] = {s, d};
    for (int i = 0; i < 2; i++) {
        struct ns_host *x = side[i];
        if (x == NULL || (i == 1 && x == s)) {
            continue;
        }
        /* side 0 sent direction 0 and received direction 1; side 1 the other way */
        x->total.packets_sent += f->packets[i];
        x->total.bytes_sent += f->bytes[i];
        x->total.packets_recv += f->packets[1 - i];
        x->total.bytes_recv += f->bytes[1 - i];
        if (i == 0 && x == d) {
            /* a flow from a host to itself: both directions are its own */
            x->total.packets_sent += f->packets[1];
            x->total.bytes_sent += f->bytes[1];
            x->total.packets_recv += f->packets[0];
            x->total.bytes_recv += f->bytes[0];
        }
        if (f->first_ns < x->first_ns) {
            x->first_ns = f->first_ns;
        }
        if (f->last_ns > x->last_ns) {
            x->last_ns = f->last_ns;
        }
    }
    return 0;
}

/* --- OS and alerts ------------------------------------------------------------ */

int ns_hosts_os_rank(enum ns_p0f_match m, bool syn)
{
    int q = 0;
    switch (m) {
    case NS_P0F_EXACT:
        q = 3;
        break;
    case NS_P0F_FUZZY:
        q = 2;
        break;
    case NS_P0F_GENERIC:
        q = 1;
        break;
    default:
        q = 0;
        break;
    }
    return q * 2 + (syn ? 1 : 0);
}

bool ns_hosts_wants_os(const struct ns_hosts *h, const struct ns_addr *a, bool syn)
{
    const struct ns_host *x = ns_hosts_find(h, a);
    if (x == NULL) {
        return false;
    }
    if (!x->has_os) {
        return true;
    }
    if (x->os_tries[syn ? 1 : 0] >= NS_HOSTS_OS_TRIES) {
        return false;
    }
    return ns_hosts_os_rank(NS_P0F_EXACT, syn) > ns_hosts_os_rank(x->os.match, x->os_syn);
}

void ns_hosts_offer_os(struct ns_hosts *h, const struct ns_addr *a, const struct ns_p0f_result *res,
                       bool syn)
{
    struct ns_host *x = hosts_find_mut(h, a);
    if (x == NULL || res == NULL) {
        return;
    }
    if (x->os_tries[syn ? 1 : 0] < UINT8_MAX) {
        x->os_tries[syn ? 1 : 0]++;
    }
    if (x->has_os &&
        ns_hosts_os_rank(res->match, syn) <= ns_hosts_os_rank(x->os.match, x->os_syn)) {
        return;
    }
    x->os = *res;
    x->os_syn = syn;
    x->has_os = true;
}

static int hosts_http_rank(enum ns_p0f_match m)
{
    return m == NS_P0F_EXACT ? 2 : m == NS_P0F_GENERIC ? 1 : 0;
}

int ns_hosts_offer_http(struct ns_hosts *h, const struct ns_addr *a,
                        const struct ns_p0f_result *res, const char *raw_sig, bool request,
                        uint64_t ts_ns)
{
    if (res == NULL || a == NULL || a->family == 0) {
        return 0;
    }
    struct ns_host *x = hosts_get(h, a, ts_ns, HOSTS_NONE);
    if (x == NULL) {
        return NS_ENOMEM;
    }
    struct ns_host_http *w = &x->http[request ? 1 : 0];
    if (w->messages < UINT32_MAX) {
        w->messages++;
    }
    if (w->seen && hosts_http_rank(res->match) <= hosts_http_rank(w->match)) {
        return 0;
    }
    size_t n = raw_sig != NULL ? strlen(raw_sig) : 0;
    char *copy = ns_malloc(n + 1);
    if (copy == NULL) {
        return NS_ENOMEM;
    }
    if (n > 0) {
        memcpy(copy, raw_sig, n);
    }
    copy[n] = '\0';
    ns_free(w->raw_sig);
    w->raw_sig = copy;
    w->seen = true;
    w->dishonest = res->dishonest;
    w->match = res->match;
    w->name = res->os;
    w->flavor = res->flavor != NULL ? res->flavor : "";
    w->class_ = res->class_;
    w->ua_os = res->ua_os;
    return 0;
}

void ns_hosts_note_alert(struct ns_hosts *h, const struct ns_addr *a, unsigned kind, bool attacker)
{
    struct ns_host *x = hosts_find_mut(h, a);
    if (x == NULL || a->family == 0) {
        return;
    }
    if (attacker) {
        x->alerts_attacker++;
    } else {
        x->alerts_victim++;
    }
    if (kind < 32) {
        x->alert_kinds |= 1u << kind;
    }
}

void ns_hosts_window(struct ns_hosts *h)
{
    h->win_id++;
}

/* --- listing --------------------------------------------------------------------- */

static int hosts_addr_cmp(const struct ns_addr *x, const struct ns_addr *y)
{
    if (x->family != y->family) {
        return x->family < y->family ? -1 : 1;
    }
    return memcmp(x->a, y->a, 16);
}

/* A host with its sort key: sorting compares these without visiting the (large) hosts. */
struct hosts_rank {
    uint64_t bytes; /* sent + received, in total or in the window */
    struct ns_addr addr;
    const struct ns_host *x;
};

/* Most bytes first; ties by address. */
static int hosts_rank_cmp(const void *a, const void *b)
{
    const struct hosts_rank *x = a;
    const struct hosts_rank *y = b;
    if (x->bytes != y->bytes) {
        return x->bytes > y->bytes ? -1 : 1;
    }
    return hosts_addr_cmp(&x->addr, &y->addr);
}

static bool hosts_in_window(const struct ns_hosts *h, const struct ns_host *x)
{
    return x->win_id == h->win_id && (x->win.packets_sent | x->win.packets_recv) != 0;
}

int ns_hosts_list(const struct ns_hosts *h, bool window_only, const struct ns_host ***out,
                  size_t *n)
{
    *out = NULL;
    *n = 0;
    const struct ns_host **arr = ns_calloc(h->st.active > 0 ? h->st.active : 1, sizeof(*arr));
    if (arr == NULL) {
        return NS_ENOMEM;
    }
    struct hosts_rank *rank = ns_calloc(h->st.active > 0 ? h->st.active : 1, sizeof(*rank));
    if (rank == NULL) {
        ns_free(arr);
        return NS_ENOMEM;
    }
    size_t k = 0;
    for (uint32_t ix = h->lru.head; ix != HOSTS_NONE; ix = h->slab[ix].lru.next) {
        const struct ns_host *x = &h->slab[ix];
        if (!window_only || hosts_in_window(h, x)) {
            const struct ns_host_counts *c = window_only ? &x->win : &x->total;
            rank[k].bytes = c->bytes_sent + c->bytes_recv;
            rank[k].addr = x->addr;
            rank[k].x = x;
            k++;
        }
    }
    qsort(rank, k, sizeof(*rank), hosts_rank_cmp);
    for (size_t i = 0; i < k; i++) {
        arr[i] = rank[i].x;
    }
    ns_free(rank);
    *out = arr;
    *n = k;
    return 0;
}

static int hosts_cmp_country(const void *a, const void *b)
{
    const struct ns_country *x = a;
    const struct ns_country *y = b;
    uint64_t bx = x->c.bytes_sent + x->c.bytes_recv;
    uint64_t by = y->c.bytes_sent + y->c.bytes_recv;
    if (bx != by) {
        return bx > by ? -1 : 1;
    }
    return strcmp(x->key, y->key);
}

int ns_hosts_countries(const struct ns_hosts *h, const struct ns_geo *geo, bool window_only,
                       struct ns_country **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct ns_country *arr = ns_calloc(NS_HOSTS_MAX_COUNTRIES, sizeof(*arr));
    size_t k = 0;
    if (arr == NULL) {
        return NS_ENOMEM;
    }
    if (!window_only) {
        memcpy(arr, h->evicted, h->nevicted * sizeof(*arr));
        k = h->nevicted;
    }
    for (uint32_t ix = h->lru.head; ix != HOSTS_NONE; ix = h->slab[ix].lru.next) {
        const struct ns_host *x = &h->slab[ix];
        if (window_only && !hosts_in_window(h, x)) {
            continue;
        }
        char key[16];
        bool is_country = false;
        hosts_country_key(geo, &x->addr, key, sizeof(key), &is_country);
        struct ns_country *c = hosts_country_slot(arr, &k, NS_HOSTS_MAX_COUNTRIES, key, is_country);
        if (c == NULL) {
            c = hosts_country_slot(arr, &k, NS_HOSTS_MAX_COUNTRIES, "unknown", false);
        }
        if (c != NULL) {
            hosts_country_add(c, window_only ? &x->win : &x->total);
        }
    }
    qsort(arr, k, sizeof(*arr), hosts_cmp_country);
    *out = arr;
    *n = k;
    return 0;
}

void ns_hosts_get_stats(const struct ns_hosts *h, struct ns_hosts_stats *st)
{
    *st = h->st;
}
