/*
 * defrag.c - IPv4 and IPv6 fragment reassembly (defrag.h).
 *
 * Specifications: RFC 791 (IPv4 fragmentation, section 3.2 reassembly),
 * RFC 815 (hole-based reassembly), RFC 8200 section 4.5 (IPv6 fragment
 * header and reassembly), RFC 5722 (overlapping IPv6 fragments must abandon
 * the datagram), RFC 1858 and RFC 3128 (tiny and overlapping fragment
 * attacks: why offsets, lengths and ends are checked before any byte is
 * copied).
 *
 * The decoder has already read the headers (through the bounds-checked
 * reader); what arrives here is one fragment's payload and its place in the
 * datagram:
 *
 *    IPv4:  | IP header | payload (frag_data, frag_len) |
 *    IPv6:  | IPv6 header | ext hdrs | Fragment header | payload ... |
 *
 *           IPv6 Fragment header (RFC 8200 section 4.5):
 *            0                   1                   2                   3
 *            0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *           +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *           |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
 *           +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *           |                         Identification                        |
 *           +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * and the payload lands at frag_off in the datagram being rebuilt:
 *
 *    datagram:  [0 ................................................ total)
 *    held:      [0 ...... 1480)      [2960 ..... 4440)   <- ranges, sorted,
 *    buffer:    one block per datagram, grown with         adjacent merged
 *               ns_reallocarray, never above 65535 bytes
 *
 * Each datagram sits in a chained hash table (key: IP version, addresses,
 * protocol, identification, outermost VLAN) and in a doubly linked list in
 * creation order, oldest first, which drives both timeouts and eviction.
 * Memory accounting counts, per datagram, its struct, its buffer capacity and
 * its range array capacity; `max_bytes` bounds the sum.
 *
 * Allocation happens when a datagram is created (its struct) and when its
 * buffer or range array must grow (doubling, or straight to the total once the
 * last fragment is known); a fragment that fits in what is held allocates
 * nothing. A completed datagram is freed at once except its buffer, which is
 * kept as the result until the next ns_defrag_add() (or ns_defrag_free()).
 */
#include "netsift/defrag.h"

#include <stdbool.h>
#include <string.h>

#include "netsift/alloc.h"
#include "netsift/err.h"

#define DEFRAG_MAX_LEN         65535u /* largest datagram payload */
#define DEFRAG_DEFAULT_TIMEOUT 30000000000ull
#define DEFRAG_DEFAULT_BYTES   (32u * 1024u * 1024u)
#define DEFRAG_DEFAULT_DGRAMS  8192u
#define DEFRAG_MIN_BUCKETS     16u
#define DEFRAG_MAX_BUCKETS     (1u << 20)
#define DEFRAG_FIRST_RANGES    4u

/* Key of a datagram: the fields RFC 791 and RFC 8200 name, plus the VLAN. */
struct defrag_key {
    uint8_t ipver;
    uint8_t proto;
    uint16_t vlan; /* outermost VLAN ID, 0 when untagged (as flows key) */
    uint32_t id;
    uint8_t src[16];
    uint8_t dst[16];
};

/* Bytes [start, end) of the datagram are held. */
struct defrag_range {
    uint32_t start;
    uint32_t end;
};

struct defrag_dgram {
    struct defrag_key key;
    uint64_t hash;
    struct defrag_dgram *hnext; /* hash chain */
    struct defrag_dgram *older; /* creation-order list */
    struct defrag_dgram *newer;

    uint8_t *buf;
    uint32_t cap; /* bytes allocated in buf */
    struct defrag_range *ranges;
    uint32_t nranges;
    uint32_t rcap;

    uint32_t total; /* end of the last fragment, once have_last */
    bool have_last;
    bool overlapped; /* a fragment overlapped held bytes (not an exact duplicate) */

    uint32_t frames;
    uint64_t wire_bytes;
    uint64_t first_ts_ns;
};

struct ns_defrag {
    uint64_t timeout_ns;
    size_t max_bytes;
    size_t max_datagrams;
    struct ns_defrag_stats stats;

    struct defrag_dgram **buckets;
    size_t mask; /* bucket count - 1 (a power of two) */
    struct defrag_dgram *oldest;
    struct defrag_dgram *newest;
    size_t count;
    size_t bytes; /* accounted bytes of all held datagrams */

    uint8_t *result_buf; /* buffer of the last completed datagram */
};

/* What a fragment did to the bytes already held. */
enum defrag_merge {
    DEFRAG_MERGE_NEW = 0,   /* only new bytes */
    DEFRAG_MERGE_DUPLICATE, /* every byte held already, with the same value */
    DEFRAG_MERGE_OVERLAP,   /* some bytes held, all the same value */
    DEFRAG_MERGE_CONFLICT,  /* some bytes held with a different value */
};

static size_t dgram_mem(const struct defrag_dgram *g)
{
    return sizeof(*g) + (size_t)g->cap + (size_t)g->rcap * sizeof(struct defrag_range);
}

static void key_from_packet(struct defrag_key *k, const struct ns_packet *p)
{
    memset(k, 0, sizeof(*k));
    k->ipver = p->ipver;
    k->proto = p->proto;
    k->vlan = p->vlan_count > 0 ? p->vlan[0] : 0;
    k->id = p->frag_id;
    memcpy(k->src, p->src.a, sizeof(k->src));
    memcpy(k->dst, p->dst.a, sizeof(k->dst));
}

static bool key_equal(const struct defrag_key *a, const struct defrag_key *b)
{
    return a->ipver == b->ipver && a->proto == b->proto && a->vlan == b->vlan && a->id == b->id &&
           memcmp(a->src, b->src, sizeof(a->src)) == 0 &&
           memcmp(a->dst, b->dst, sizeof(a->dst)) == 0;
}

/* FNV-1a over the key's fields, one byte at a time in a fixed order. */
static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t key_hash(const struct defrag_key *k)
{
    uint8_t head[8] = {
        k->ipver,
        k->proto,
        (uint8_t)(k->vlan >> 8),
        (uint8_t)k->vlan,
        (uint8_t)(k->id >> 24),
        (uint8_t)(k->id >> 16),
        (uint8_t)(k->id >> 8),
        (uint8_t)k->id,
    };
    uint64_t h = 0xcbf29ce484222325ull;
    h = hash_bytes(h, head, sizeof(head));
    h = hash_bytes(h, k->src, sizeof(k->src));
    h = hash_bytes(h, k->dst, sizeof(k->dst));
    /* fold the high bits down so that the bucket mask sees all of them */
    return h ^ (h >> 29) ^ (h >> 47);
}

static struct defrag_dgram *dgram_find(const struct ns_defrag *d, const struct defrag_key *k,
                                       uint64_t h)
{
    for (struct defrag_dgram *g = d->buckets[h & d->mask]; g != NULL; g = g->hnext) {
        if (g->hash == h && key_equal(&g->key, k)) {
            return g;
        }
    }
    return NULL;
}

/* Unlink g from its chain and the creation list, and free it. */
static void dgram_drop(struct ns_defrag *d, struct defrag_dgram *g)
{
    struct defrag_dgram **pp = &d->buckets[g->hash & d->mask];
    while (*pp != NULL && *pp != g) {
        pp = &(*pp)->hnext;
    }
    if (*pp == g) {
        *pp = g->hnext;
    }
    if (g->older != NULL) {
        g->older->newer = g->newer;
    } else {
        d->oldest = g->newer;
    }
    if (g->newer != NULL) {
        g->newer->older = g->older;
    } else {
        d->newest = g->older;
    }
    d->count--;
    d->bytes -= dgram_mem(g);
    ns_free(g->buf);
    ns_free(g->ranges);
    ns_free(g);
}

/*
 * Evict the oldest datagrams other than `keep` until `need` more bytes fit
 * under max_bytes. Returns NS_ELIMIT when they cannot fit even then.
 */
static int make_room(struct ns_defrag *d, const struct defrag_dgram *keep, size_t need)
{
    while (need > d->max_bytes || d->bytes > d->max_bytes - need) {
        struct defrag_dgram *victim = d->oldest;
        if (victim == keep) {
            victim = victim->newer;
        }
        if (victim == NULL) {
            return NS_ELIMIT;
        }
        dgram_drop(d, victim);
        d->stats.evicted++;
    }
    return 0;
}

static void expire_head(struct ns_defrag *d, uint64_t now_ns)
{
    while (d->oldest != NULL && now_ns > d->oldest->first_ts_ns &&
           now_ns - d->oldest->first_ts_ns > d->timeout_ns) {
        dgram_drop(d, d->oldest);
        d->stats.timeouts++;
    }
}

static int dgram_new(struct ns_defrag *d, const struct defrag_key *k, uint64_t h, uint64_t ts_ns,
                     struct defrag_dgram **out)
{
    if (d->count >= d->max_datagrams && d->oldest != NULL) {
        dgram_drop(d, d->oldest);
        d->stats.evicted++;
    }
    if (make_room(d, NULL, sizeof(struct defrag_dgram)) != 0) {
        d->stats.evicted++; /* the new datagram itself does not fit */
        return NS_ELIMIT;
    }
    struct defrag_dgram *g = ns_calloc(1, sizeof(*g));
    if (g == NULL) {
        return NS_ENOMEM;
    }
    g->key = *k;
    g->hash = h;
    g->first_ts_ns = ts_ns;
    g->hnext = d->buckets[h & d->mask];
    d->buckets[h & d->mask] = g;
    g->older = d->newest;
    if (d->newest != NULL) {
        d->newest->newer = g;
    } else {
        d->oldest = g;
    }
    d->newest = g;
    d->count++;
    d->bytes += dgram_mem(g);
    *out = g;
    return 0;
}

/*
 * Make room in g for bytes up to `end` and for one more range. The buffer
 * grows straight to the total once the last fragment is known (or `end` is
 * it), and doubles otherwise. Returns 0, NS_ELIMIT (memory cap) or NS_ENOMEM.
 */
static int dgram_reserve(struct ns_defrag *d, struct defrag_dgram *g, uint32_t end, bool last)
{
    uint32_t cap = g->cap;
    if (end > cap) {
        if (g->have_last) {
            cap = g->total;
        } else if (last) {
            cap = end;
        } else {
            cap = g->cap > DEFRAG_MAX_LEN / 2 ? DEFRAG_MAX_LEN : g->cap * 2;
            if (cap < end) {
                cap = end;
            }
        }
    }
    uint32_t rcap = g->rcap;
    if (g->nranges == rcap) {
        rcap = rcap == 0 ? DEFRAG_FIRST_RANGES : rcap * 2;
    }
    size_t need = (size_t)(cap - g->cap) + (size_t)(rcap - g->rcap) * sizeof(struct defrag_range);
    if (need == 0) {
        return 0;
    }
    int rc = make_room(d, g, need);
    if (rc != 0) {
        return rc;
    }
    if (cap != g->cap) {
        uint8_t *nb = ns_reallocarray(g->buf, cap, 1);
        if (nb == NULL) {
            return NS_ENOMEM;
        }
        d->bytes += cap - g->cap;
        g->buf = nb;
        g->cap = cap;
    }
    if (rcap != g->rcap) {
        struct defrag_range *nr = ns_reallocarray(g->ranges, rcap, sizeof(*nr));
        if (nr == NULL) {
            return NS_ENOMEM;
        }
        d->bytes += (size_t)(rcap - g->rcap) * sizeof(*nr);
        g->ranges = nr;
        g->rcap = rcap;
    }
    return 0;
}

/*
 * Copy into g the bytes of [off, end) that it does not hold yet (first wins),
 * compare the ones it holds, and merge [off, end) into the range list. The
 * caller reserved room for the bytes and for one more range.
 */
static enum defrag_merge dgram_merge(struct defrag_dgram *g, uint32_t off, uint32_t end,
                                     const uint8_t *data)
{
    bool held = false, fresh = false, conflict = false;
    uint32_t pos = off;
    uint32_t i = 0;
    while (i < g->nranges && g->ranges[i].end <= off) {
        i++;
    }
    for (uint32_t j = i; j < g->nranges && g->ranges[j].start < end; j++) {
        const struct defrag_range *r = &g->ranges[j];
        if (r->start > pos) {
            memcpy(g->buf + pos, data + (pos - off), r->start - pos);
            fresh = true;
            pos = r->start;
        }
        uint32_t he = r->end < end ? r->end : end;
        if (memcmp(g->buf + pos, data + (pos - off), he - pos) != 0) {
            conflict = true;
        }
        held = true;
        pos = he;
    }
    if (pos < end) {
        memcpy(g->buf + pos, data + (pos - off), end - pos);
        fresh = true;
    }

    /* ranges [lo, hi) touch or overlap [off, end): they become one */
    uint32_t lo = 0;
    while (lo < g->nranges && g->ranges[lo].end < off) {
        lo++;
    }
    uint32_t hi = lo;
    while (hi < g->nranges && g->ranges[hi].start <= end) {
        hi++;
    }
    if (lo == hi) {
        memmove(&g->ranges[lo + 1], &g->ranges[lo], (g->nranges - lo) * sizeof(g->ranges[0]));
        g->ranges[lo].start = off;
        g->ranges[lo].end = end;
        g->nranges++;
    } else {
        uint32_t ns = g->ranges[lo].start < off ? g->ranges[lo].start : off;
        uint32_t ne = g->ranges[hi - 1].end > end ? g->ranges[hi - 1].end : end;
        g->ranges[lo].start = ns;
        g->ranges[lo].end = ne;
        memmove(&g->ranges[lo + 1], &g->ranges[hi], (g->nranges - hi) * sizeof(g->ranges[0]));
        g->nranges -= hi - lo - 1;
    }

    if (!held) {
        return DEFRAG_MERGE_NEW;
    }
    if (conflict) {
        return DEFRAG_MERGE_CONFLICT;
    }
    return fresh ? DEFRAG_MERGE_OVERLAP : DEFRAG_MERGE_DUPLICATE;
}

static bool dgram_complete(const struct defrag_dgram *g)
{
    return g->have_last && g->nranges == 1 && g->ranges[0].start == 0 &&
           g->ranges[0].end == g->total;
}

int ns_defrag_new(struct ns_defrag **out, const struct ns_defrag_opts *opts)
{
    if (out == NULL) {
        return NS_EINVAL;
    }
    *out = NULL;
    struct ns_defrag *d = ns_calloc(1, sizeof(*d));
    if (d == NULL) {
        return NS_ENOMEM;
    }
    d->timeout_ns =
        opts != NULL && opts->timeout_ns != 0 ? opts->timeout_ns : DEFRAG_DEFAULT_TIMEOUT;
    d->max_bytes = opts != NULL && opts->max_bytes != 0 ? opts->max_bytes : DEFRAG_DEFAULT_BYTES;
    d->max_datagrams =
        opts != NULL && opts->max_datagrams != 0 ? opts->max_datagrams : DEFRAG_DEFAULT_DGRAMS;

    size_t n = DEFRAG_MIN_BUCKETS;
    while (n < d->max_datagrams && n < DEFRAG_MAX_BUCKETS) {
        n *= 2;
    }
    d->buckets = ns_calloc(n, sizeof(d->buckets[0]));
    if (d->buckets == NULL) {
        ns_free(d);
        return NS_ENOMEM;
    }
    d->mask = n - 1;
    *out = d;
    return 0;
}

void ns_defrag_free(struct ns_defrag *d)
{
    if (d == NULL) {
        return;
    }
    while (d->oldest != NULL) {
        dgram_drop(d, d->oldest);
    }
    ns_free(d->result_buf);
    ns_free(d->buckets);
    ns_free(d);
}

int ns_defrag_add(struct ns_defrag *d, const struct ns_packet *p, struct ns_defrag_result *res)
{
    if (d == NULL || p == NULL || res == NULL) {
        return NS_EINVAL;
    }
    ns_free(d->result_buf);
    d->result_buf = NULL;
    if ((p->flags & NS_PKT_F_FRAGMENT) == 0 || (p->ipver != 4 && p->ipver != 6) ||
        (p->frag_len > 0 && p->frag_data == NULL)) {
        return NS_EINVAL;
    }
    d->stats.fragments++;
    expire_head(d, p->ts_ns);

    uint32_t off = p->frag_off;
    uint32_t len = p->frag_len;
    bool last = !p->frag_more;
    /*
     * Offsets travel in 8-byte units, so every fragment but the last carries
     * a multiple of 8 bytes (RFC 791, RFC 8200). An empty fragment adds
     * nothing and cannot be placed consistently: it is refused as well.
     */
    if (len == 0 || off % 8 != 0 || (!last && len % 8 != 0)) {
        d->stats.invalid++;
        return NS_EMALFORMED;
    }
    if (off > DEFRAG_MAX_LEN || len > DEFRAG_MAX_LEN - off) {
        d->stats.too_big++;
        return NS_EMALFORMED;
    }
    uint32_t end = off + len;

    struct defrag_key key;
    key_from_packet(&key, p);
    uint64_t h = key_hash(&key);
    struct defrag_dgram *g = dgram_find(d, &key, h);
    bool created = false;
    if (g != NULL) {
        if (g->have_last && (end > g->total || (last && end != g->total))) {
            d->stats.invalid++; /* past the end, or a second end */
            return NS_EMALFORMED;
        }
        if (!g->have_last && last && g->nranges > 0 && g->ranges[g->nranges - 1].end > end) {
            d->stats.invalid++; /* an end before bytes already held */
            return NS_EMALFORMED;
        }
    } else {
        int rc = dgram_new(d, &key, h, p->ts_ns, &g);
        if (rc != 0) {
            return rc;
        }
        created = true;
    }

    int rc = dgram_reserve(d, g, end, last);
    if (rc != 0) {
        if (rc == NS_ELIMIT) {
            dgram_drop(d, g);
            d->stats.evicted++;
        } else if (created) {
            dgram_drop(d, g); /* out of memory: do not keep an empty datagram */
        }
        return rc;
    }

    switch (dgram_merge(g, off, end, p->frag_data)) {
    case DEFRAG_MERGE_NEW:
        break;
    case DEFRAG_MERGE_DUPLICATE:
        d->stats.duplicates++;
        break;
    case DEFRAG_MERGE_CONFLICT:
        d->stats.overlaps_conflicting++;
        d->stats.overlaps++;
        g->overlapped = true;
        break;
    case DEFRAG_MERGE_OVERLAP:
        d->stats.overlaps++;
        g->overlapped = true;
        break;
    }
    g->frames++;
    g->wire_bytes += p->wirelen;
    if (last) {
        g->have_last = true;
        g->total = end;
    }
    if (!dgram_complete(g)) {
        return NS_EAGAIN;
    }
    if (g->key.ipver == 6 && g->overlapped) {
        /* RFC 5722: a datagram built from overlapping fragments is dropped */
        dgram_drop(d, g);
        d->stats.invalid++;
        return NS_EMALFORMED;
    }
    d->result_buf = g->buf;
    res->payload = g->buf;
    res->len = g->total;
    res->frames = g->frames;
    res->wire_bytes = g->wire_bytes;
    res->first_ts_ns = g->first_ts_ns;
    d->bytes -= g->cap; /* the buffer leaves the accounting with the datagram */
    g->buf = NULL;
    g->cap = 0;
    dgram_drop(d, g);
    d->stats.reassembled++;
    return 0;
}

void ns_defrag_expire(struct ns_defrag *d, uint64_t now_ns)
{
    if (d == NULL) {
        return;
    }
    struct defrag_dgram *g = d->oldest;
    while (g != NULL) {
        struct defrag_dgram *next = g->newer;
        if (now_ns > g->first_ts_ns && now_ns - g->first_ts_ns > d->timeout_ns) {
            dgram_drop(d, g);
            d->stats.timeouts++;
        }
        g = next;
    }
}

const struct ns_defrag_stats *ns_defrag_stats(const struct ns_defrag *d)
{
    return &d->stats;
}

size_t ns_defrag_bytes(const struct ns_defrag *d)
{
    return d->bytes;
}
