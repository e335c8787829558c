/*
 * analyze_httpfp.c - p0f HTTP fingerprints over reassembled TCP, inline or
 * on a worker thread (httpfp.h).
 *
 *   caller thread                          worker thread
 *   ns_httpfp_packet: skip pure ACKs and   ns_tcp_segment on the connection's
 *   connections marked done; copy the      shadow flow -> HTTP probe, parser,
 *   rest -> [SEG][SEG][END]... (spsc) ---> p0f match -> results (mutex)
 *   on_result <-- ready results <-------------------------------'
 *
 * The worker keeps its own copy of each TCP flow (a struct ns_flow with the key
 * and sides for the reassembler), made from an OPEN record when the caller
 * sees the flow's first packet worth queueing and found by flow id (ids are
 * never reused); the END record frees it, or the worker does as soon as
 * both directions are done with (the id then stays until END). Nothing is
 * allocated per flow on the caller's side: flow->user, as a number, says
 * OPEN was sent and where each direction's stream starts (see fp_window).
 *
 * Once a direction is not followed any more (fingerprinted, or not HTTP),
 * the worker writes the flow's id and the directions it is done with into
 * done[id % FP_DONE] (id << 2 | bit 1 << dir): the caller stops queueing the
 * packets of those directions (FIN and RST included: a direction nobody
 * follows has nothing to close).
 * A slot shared by two flows only makes the caller miss the hint and queue
 * packets the reassembler then skips, so results never depend on when, or
 * whether, the hint was seen.
 */
#include "netsift/httpfp.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "netsift/alloc.h"
#include "netsift/http.h"
#include "netsift/pool.h"
#include "netsift/spsc.h"

#define FP_PROBE         8 /* bytes needed to recognise "OPTIONS " / "HTTP/1." */
#define FP_QUEUE_BYTES   (4u << 20)
#define FP_DONE          16384 /* slots of the done hints (a power of two): 128 KiB */
#define FP_FLUSH_RESULTS 128   /* results the worker hands over at once, at most */
#define FP_SPARE_PARSERS 256   /* parsers kept for reuse (with their buffers), at most */

enum { FP_DIR_PROBE = 0, FP_DIR_ON, FP_DIR_OFF };
enum { FP_KIND_UNKNOWN = 0, FP_KIND_REQUEST, FP_KIND_RESPONSE, FP_KIND_OTHER };
enum { FP_REC_OPEN = 1, FP_REC_SEG, FP_REC_END };

/*
 * The worker's flows by id: open addressing, linear probing, backward-shift
 * deletion. It holds the flows whose OPEN was queued and END not yet: no
 * more than the caller's flow table does, whose cap is the bound here.
 */
struct fp_map {
    uint64_t *id;          /* 0: empty */
    struct ns_flow **slot; /* NULL for a connection retired before its END (fp_segment) */
    size_t cap;            /* a power of two */
    size_t n;
};

/* flow->user of a flow whose OPEN record was sent, where pointers cannot hold fp_window's bits. */
static const char fp_opened;

/*
 * flow->user on the caller's side where pointers have 64 bits:
 *
 *   bit 0       OPEN was sent
 *   bit 1 + d   the stream of direction d starts at a known sequence number
 *   bits 3..32  direction 0's start >> 2      bits 33..62  direction 1's
 *
 * The start is what the reassembler takes (it sees the same segments in the
 * same order): the sequence number after the first SYN, else that of the
 * first segment with payload. Only the first message of a direction is
 * parsed, and it starts the stream; its header block ends within
 * NS_HTTPFP_MAX_HEADER bytes or the direction is given up; so a segment
 * that starts FP_WINDOW bytes or more into the stream is never queued
 * (the start is kept to 4 bytes: the window has room for that).
 */
#define FP_U_OPEN     1ull
#define FP_U_KNOWN(d) (2ull << (d))
#define FP_U_SHIFT(d) ((d) == 0 ? 3 : 33)
#define FP_U_START    0x3fffffffull
#define FP_WINDOW     (NS_HTTPFP_MAX_HEADER + 64u)

static bool fp_user_is_number(void)
{
    return sizeof(uintptr_t) >= sizeof(uint64_t);
}

/* Whether the segment is worth queueing by its place in the stream; records a stream's start. */
static bool fp_window(struct ns_flow *flow, int dir, const struct ns_packet *p, bool has_span)
{
    if (!fp_user_is_number()) {
        if (flow->user == NULL) {
            flow->user = (void *)(uintptr_t)&fp_opened;
        }
        return true;
    }
    uint64_t u = (uint64_t)(uintptr_t)flow->user | FP_U_OPEN;
    if (u & FP_U_KNOWN(dir)) {
        uint32_t start = (uint32_t)((u >> FP_U_SHIFT(dir)) & FP_U_START) << 2;
        int32_t off = (int32_t)(p->seq - start);
        if (off >= (int32_t)FP_WINDOW) {
            return false; /* beyond anything the first message can use */
        }
    } else if ((p->tcp_flags & NS_TCP_SYN) || has_span) {
        uint32_t start = p->seq + ((p->tcp_flags & NS_TCP_SYN) ? 1u : 0u);
        u |= FP_U_KNOWN(dir) | (uint64_t)(start >> 2) << FP_U_SHIFT(dir);
    }
    flow->user = (void *)(uintptr_t)u;
    return true;
}

/*
 * One queued record: a flow's first (OPEN: the key follows), a segment
 * (SEG: payload bytes follow) or the flow's end (END).
 */
struct fp_rec {
    uint64_t id;
    uint64_t ts_ns;
    uint32_t seq;
    uint32_t payload_len; /* bytes that follow */
    uint32_t wire_len;    /* payload_wire_len */
    uint8_t kind;         /* FP_REC_... */
    bool src_is_lo;       /* OPEN */
    uint8_t dir;
    uint8_t tcp_flags;
    bool snapped;
};

struct fp_conn;

/*
 * One direction: PROBE (its first bytes are collected until they tell what
 * it is), ON (an HTTP parser until the end of the first message's headers),
 * OFF (done, or not HTTP: the reassembler stops following it).
 */
struct fp_dir {
    struct fp_conn *conn;
    int dir;
    uint8_t state; /* FP_DIR_... */
    uint8_t kind;  /* FP_KIND_...: what the probe said */
    uint8_t nprobe;
    uint8_t probe[FP_PROBE];
    struct ns_http_parser *parser;
};

/* conn->app of a connection while its HTTP is looked at. */
struct fp_conn {
    struct ns_httpfp *fp;
    struct ns_tcp_conn *tc;
    uint64_t id;            /* the flow's */
    struct ns_addr addr[2]; /* the sender of each direction (0 = the flow's initiator) */
    uint64_t ts_ns;         /* capture time of the bytes being fed */
    struct fp_dir d[2];
};

/* A result waiting for the caller; its raw signature is in the batch's text. */
struct fp_res {
    struct ns_addr addr;
    uint64_t ts_ns;
    bool request;
    struct ns_p0f_result res; /* raw_sig unused */
    size_t sig_off;
};

struct fp_batch {
    struct fp_res *v;
    size_t n;
    size_t cap;
    char *text;
    size_t len;
    size_t text_cap;
};

struct ns_httpfp {
    struct ns_httpfp_opts o;
    struct ns_tcp *tcp;
    char *sig;              /* NS_P0F_HTTP_SIG_MAX bytes: the raw signature being made */
    struct ns_packet pk;    /* the worker's view of a queued segment */
    struct fp_map flows;    /* the worker's */
    _Atomic uint64_t *done; /* FP_DONE hints: flows and directions the worker is done with */

    /*
     * The worker's per-connection objects, made and dropped at rates of
     * 10^5 a second: flows and struct fp_conn from pools, parsers kept for
     * reuse with their buffers.
     */
    struct ns_pool flow_pool;
    struct ns_pool conn_pool;
    struct ns_http_parser *spare_parsers[FP_SPARE_PARSERS];
    size_t nspare_parsers;
    bool retire; /* both directions of the connection being fed are done with */

    /* counters the worker (or the inline path) keeps */
    uint64_t connections;
    uint64_t messages;
    uint64_t too_many;
    uint64_t no_memory; /* worker side */

    /* caller side */
    uint64_t caller_no_memory;
    uint64_t queued;
    bool threaded;
    bool finished;
    struct ns_spsc *q;
    pthread_t worker;

    /* results made by the worker, not yet handed over (mu) */
    pthread_mutex_t mu;
    struct fp_batch work;  /* the worker's, not yet flushed */
    struct fp_batch ready; /* flushed, not yet handed over (mu) */
    struct fp_batch spare; /* the caller's, between hand-overs */
    _Atomic bool have_ready;
};

/* ---- results ---- */

static void fp_deliver(struct ns_httpfp *fp, const struct fp_res *r, const char *sig)
{
    struct ns_httpfp_result out;
    out.addr = r->addr;
    out.request = r->request;
    out.ts_ns = r->ts_ns;
    out.res = r->res;
    out.raw_sig = sig;
    fp->o.on_result(fp->o.ud, &out);
}

/* A capacity of at least `need`: `cap` doubled (from 64) as often as it takes. */
static size_t fp_cap(size_t cap, size_t need)
{
    size_t n = cap == 0 ? 64 : cap;
    while (n < need) {
        n *= 2;
    }
    return n;
}

/* Room for n results and `text` bytes of signatures; false when out of memory (b unchanged). */
static bool fp_batch_reserve(struct fp_batch *b, size_t n, size_t text)
{
    if (n > b->cap) {
        size_t c = fp_cap(b->cap, n);
        struct fp_res *v = ns_reallocarray(b->v, c, sizeof(*v));
        if (v == NULL) {
            return false;
        }
        b->v = v;
        b->cap = c;
    }
    if (text > b->text_cap) {
        size_t c = fp_cap(b->text_cap, text);
        char *t = ns_reallocarray(b->text, c, 1);
        if (t == NULL) {
            return false;
        }
        b->text = t;
        b->text_cap = c;
    }
    return true;
}

/* Append the results of `from` to `to`; false when out of memory (to is unchanged). */
static bool fp_batch_append(struct fp_batch *to, const struct fp_batch *from)
{
    if (!fp_batch_reserve(to, to->n + from->n, to->len + from->len)) {
        return false;
    }
    for (size_t i = 0; i < from->n; i++) {
        to->v[to->n + i] = from->v[i];
        to->v[to->n + i].sig_off += to->len;
    }
    memcpy(to->text + to->len, from->text, from->len);
    to->n += from->n;
    to->len += from->len;
    return true;
}

/* Worker: make the results held in `work` ready for the caller. */
static void fp_flush(struct ns_httpfp *fp)
{
    if (fp->work.n == 0) {
        return;
    }
    pthread_mutex_lock(&fp->mu);
    if (fp->ready.n == 0) {
        struct fp_batch t = fp->ready; /* the common case: hand the whole batch over */
        fp->ready = fp->work;
        fp->work = t;
    } else if (!fp_batch_append(&fp->ready, &fp->work)) {
        fp->no_memory += fp->work.n;
    }
    atomic_store_explicit(&fp->have_ready, true, memory_order_release);
    pthread_mutex_unlock(&fp->mu);
    fp->work.n = 0;
    fp->work.len = 0;
}

/* A result: handed over now (inline), or held until the worker's next flush. */
static void fp_result(struct ns_httpfp *fp, const struct fp_res *r)
{
    if (!fp->threaded) {
        fp_deliver(fp, r, fp->sig);
        return;
    }
    size_t sl = strlen(fp->sig) + 1;
    struct fp_batch *b = &fp->work;
    if (!fp_batch_reserve(b, b->n + 1, b->len + sl)) {
        fp->no_memory++;
        return;
    }
    b->v[b->n] = *r;
    b->v[b->n].sig_off = b->len;
    memcpy(b->text + b->len, fp->sig, sl);
    b->len += sl;
    b->n++;
}

/* Caller: hand over the results the worker has made. */
static void fp_drain(struct ns_httpfp *fp)
{
    if (!atomic_load_explicit(&fp->have_ready, memory_order_acquire)) {
        return;
    }
    pthread_mutex_lock(&fp->mu);
    struct fp_batch b = fp->ready;
    fp->ready = fp->spare;
    atomic_store_explicit(&fp->have_ready, false, memory_order_relaxed);
    pthread_mutex_unlock(&fp->mu);
    for (size_t i = 0; i < b.n; i++) {
        fp_deliver(fp, &b.v[i], b.text + b.v[i].sig_off);
    }
    b.n = 0;
    b.len = 0;
    fp->spare = b;
}

/* ---- HTTP over the reassembled bytes (worker) ---- */

/* Stop looking at direction dir; its parser goes once no feed is running. */
static void fp_stop(struct fp_conn *hc, int dir)
{
    hc->d[dir].state = FP_DIR_OFF;
    hc->tc->ignore[dir] = true;
    uint64_t off = 1u << dir;
    if (hc->d[1 - dir].state == FP_DIR_OFF) {
        off |= 1u << (1 - dir);
        hc->fp->retire = true;
    }
    atomic_store_explicit(&hc->fp->done[hc->id & (FP_DONE - 1)], hc->id << 2 | off,
                          memory_order_relaxed);
}

static void fp_drop_parser(struct fp_dir *d)
{
    struct ns_httpfp *fp = d->conn->fp;
    if (d->parser != NULL && fp->nspare_parsers < FP_SPARE_PARSERS) {
        fp->spare_parsers[fp->nspare_parsers++] = d->parser;
    } else {
        ns_http_parser_free(d->parser);
    }
    d->parser = NULL;
}

/* Neither direction is looked at any more. */
static void fp_stop_all(struct fp_conn *hc)
{
    for (int i = 0; i < 2; i++) {
        fp_stop(hc, i);
        fp_drop_parser(&hc->d[i]);
    }
}

static const char *const fp_methods[] = {
    "GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ", NULL,
};

/*
 * What the first bytes of a direction say: FP_KIND_REQUEST (a method and a
 * space), FP_KIND_RESPONSE ("HTTP/1."), FP_KIND_OTHER, or FP_KIND_UNKNOWN
 * (not enough bytes yet).
 */
static int fp_classify(const uint8_t *b, size_t n)
{
    bool maybe = false;
    for (size_t i = 0; fp_methods[i] != NULL; i++) {
        size_t l = strlen(fp_methods[i]);
        size_t k = n < l ? n : l;
        if (memcmp(b, fp_methods[i], k) == 0) {
            if (n >= l) {
                return FP_KIND_REQUEST;
            }
            maybe = true;
        }
    }
    size_t k = n < 7 ? n : 7;
    if (memcmp(b, "HTTP/1.", k) == 0) {
        if (n >= 7) {
            return FP_KIND_RESPONSE;
        }
        maybe = true;
    }
    return maybe ? FP_KIND_UNKNOWN : FP_KIND_OTHER;
}

static void fp_on_headers(void *ud, const struct ns_http_msg *m)
{
    struct fp_dir *d = ud;
    struct fp_conn *hc = d->conn;
    struct ns_httpfp *fp = hc->fp;
    struct fp_res r;

    if (d->state != FP_DIR_ON) {
        return; /* a later message in the same chunk */
    }
    fp_stop(hc, d->dir); /* p0f's rule: the first message of each direction */
    if (m->nheaders > NS_P0F_HTTP_MAX_HDRS) {
        fp->too_many++;
        return;
    }
    fp->messages++;
    if (ns_p0f_http(fp->o.db, m, &r.res) != 0) {
        return;
    }
    (void)ns_p0f_http_sig(fp->o.db, m, fp->sig, NS_P0F_HTTP_SIG_MAX);
    r.addr = hc->addr[d->dir];
    r.ts_ns = hc->ts_ns;
    r.request = m->kind == NS_HTTP_REQUEST;
    r.sig_off = 0;
    fp_result(fp, &r);
}

/*
 * A parser for the first message of a direction. Only its headers are
 * wanted, so it is not paired with the other side (pairing only helps frame
 * the bodies of later messages).
 */
static int fp_parser(struct fp_conn *hc, int dir, enum ns_http_kind kind)
{
    struct ns_httpfp *fp = hc->fp;
    struct ns_http_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.on_headers = fp_on_headers;
    cb.ud = &hc->d[dir];
    if (fp->nspare_parsers > 0) {
        struct ns_http_parser *p = fp->spare_parsers[--fp->nspare_parsers];
        if (ns_http_parser_reset(p, kind, &cb) != 0) {
            ns_http_parser_free(p);
            return NS_ENOMEM;
        }
        hc->d[dir].parser = p;
        return 0;
    }
    struct ns_http_opts o;
    ns_http_opts_init(&o);
    o.max_header_bytes = NS_HTTPFP_MAX_HEADER;
    o.decode_content = false;
    o.max_body_bytes = 1;
    o.max_pending = 1;
    o.keep_buffers = true; /* it goes back to the spares after its one message */
    return ns_http_parser_new(&hc->d[dir].parser, kind, &o, &cb);
}

/*
 * The first message of a direction went wrong: a bad start line or header,
 * the 16 KiB cap, a header block dropped. The parser would look for a later
 * message; the fingerprint is of the first one or none (as in p0f).
 */
static bool fp_failed(const struct ns_http_parser *p)
{
    const struct ns_http_stats *st = ns_http_stats(p);
    return st->malformed > 0 || st->resyncs > 0 || st->dropped > 0 || st->nomem > 0;
}

/* The probe of direction dir is complete enough to decide: start parsing or stop. */
static void fp_decide(struct fp_conn *hc, int dir, int kind)
{
    struct ns_httpfp *fp = hc->fp;
    struct fp_dir *d = &hc->d[dir];
    struct fp_dir *o = &hc->d[1 - dir];
    d->kind = (uint8_t)kind;
    if (kind == FP_KIND_OTHER || o->kind == kind) {
        /* not HTTP, or the same kind as the other side: this connection is not for us */
        fp_stop_all(hc);
        return;
    }
    if (o->kind != FP_KIND_REQUEST && o->kind != FP_KIND_RESPONSE) {
        fp->connections++;
    }
    enum ns_http_kind want = kind == FP_KIND_REQUEST ? NS_HTTP_REQUEST : NS_HTTP_RESPONSE;
    if (fp_parser(hc, dir, want) != 0) {
        fp->no_memory++;
        fp_stop_all(hc);
        return;
    }
    d->state = FP_DIR_ON;
}

static void fp_tcp_data(void *ud, struct ns_tcp_conn *tc, int dir, const uint8_t *data, size_t len,
                        uint64_t ts_ns)
{
    struct ns_httpfp *fp = ud;
    struct fp_conn *hc = tc->app;
    if (len == 0) {
        return;
    }
    if (hc == NULL) {
        hc = ns_pool_get(&fp->conn_pool);
        if (hc == NULL) {
            fp->no_memory++;
            tc->ignore[0] = true;
            tc->ignore[1] = true;
            return;
        }
        hc->fp = fp;
        hc->tc = tc;
        hc->id = tc->flow->id;
        ns_flow_endpoints(tc->flow, &hc->addr[0], NULL, &hc->addr[1], NULL);
        for (int i = 0; i < 2; i++) {
            hc->d[i].conn = hc;
            hc->d[i].dir = i;
        }
        tc->app = hc;
    }
    struct fp_dir *d = &hc->d[dir];
    hc->ts_ns = ts_ns;
    if (d->state == FP_DIR_PROBE) {
        size_t take = FP_PROBE - d->nprobe;
        take = take < len ? take : len;
        memcpy(d->probe + d->nprobe, data, take);
        d->nprobe = (uint8_t)(d->nprobe + take);
        int kind = fp_classify(d->probe, d->nprobe);
        if (kind == FP_KIND_UNKNOWN) {
            return; /* the probe bytes are all there is: fed when decided */
        }
        fp_decide(hc, dir, kind);
        if (d->state == FP_DIR_ON) {
            /* the probe bytes held before this chunk, then the chunk */
            size_t held = d->nprobe - take;
            if (held > 0) {
                ns_http_feed(d->parser, d->probe, held);
            }
        }
    }
    if (d->state == FP_DIR_ON) {
        ns_http_feed(d->parser, data, len);
    }
    if (d->state == FP_DIR_ON && fp_failed(d->parser)) {
        fp_stop(hc, dir); /* the first message is not HTTP after all: p0f gives up too */
    }
    if (d->state == FP_DIR_OFF) {
        fp_drop_parser(d); /* fp_stop told the reassembler */
    }
}

static void fp_tcp_gap(void *ud, struct ns_tcp_conn *tc, int dir, uint64_t len, uint64_t ts_ns)
{
    struct fp_conn *hc = tc->app;
    (void)ud;
    (void)len;
    (void)ts_ns;
    if (hc != NULL) {
        /* bytes of the first message are lost: no telling what it was (p0f needs them in sequence)
         */
        fp_stop(hc, dir);
        fp_drop_parser(&hc->d[dir]);
    }
}

static void fp_tcp_close(void *ud, struct ns_tcp_conn *tc, int dir, enum ns_tcp_close why,
                         uint64_t ts_ns)
{
    struct fp_conn *hc = tc->app;
    (void)ud;
    (void)why;
    if (hc == NULL) {
        return;
    }
    struct fp_dir *d = &hc->d[dir];
    if (d->state == FP_DIR_ON) {
        hc->ts_ns = ts_ns;
        ns_http_close(d->parser);
    }
    /* a direction shorter than the probe: a short request line cannot be HTTP anyway */
    fp_stop(hc, dir);
    fp_drop_parser(d);
}

static void fp_tcp_conn_end(void *ud, struct ns_tcp_conn *tc)
{
    struct ns_httpfp *fp = ud;
    struct fp_conn *hc = tc->app;
    if (hc != NULL) {
        fp_stop_all(hc);
        ns_pool_put(&fp->conn_pool, hc);
        tc->app = NULL;
    }
}

/* ---- the worker's flows ---- */

static size_t fp_map_home(const struct fp_map *m, uint64_t id)
{
    return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 17) & (m->cap - 1);
}

static void fp_map_release(struct fp_map *m)
{
    ns_big_free(m->id, m->cap * sizeof(uint64_t));
    ns_big_free(m->slot, m->cap * sizeof(struct ns_flow *));
}

static bool fp_map_grow(struct fp_map *m)
{
    size_t ncap = m->cap == 0 ? 1024 : m->cap * 2;
    struct fp_map nm = {ns_big_alloc(ncap * sizeof(uint64_t)),
                        ns_big_alloc(ncap * sizeof(struct ns_flow *)), ncap, m->n};
    if (nm.id == NULL || nm.slot == NULL) {
        fp_map_release(&nm);
        return false;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->id[i] != 0) {
            size_t j = fp_map_home(&nm, m->id[i]);
            while (nm.id[j] != 0) {
                j = (j + 1) & (ncap - 1);
            }
            nm.id[j] = m->id[i];
            nm.slot[j] = m->slot[i];
        }
    }
    fp_map_release(m);
    *m = nm;
    return true;
}

/* The slot of flow `id` (ids are 1-based), or of the empty slot where it would go. */
static size_t fp_map_find(const struct fp_map *m, uint64_t id)
{
    size_t j = fp_map_home(m, id);
    while (m->id[j] != 0 && m->id[j] != id) {
        j = (j + 1) & (m->cap - 1);
    }
    return j;
}

static bool fp_map_put(struct fp_map *m, struct ns_flow *sh)
{
    if ((m->n + 1) * 2 > m->cap && !fp_map_grow(m)) {
        return false;
    }
    size_t j = fp_map_find(m, sh->id);
    m->id[j] = sh->id;
    m->slot[j] = sh;
    m->n++;
    return true;
}

static void fp_map_del(struct fp_map *m, size_t j)
{
    size_t mask = m->cap - 1;
    m->id[j] = 0;
    m->slot[j] = NULL;
    m->n--;
    for (size_t i = (j + 1) & mask; m->id[i] != 0; i = (i + 1) & mask) {
        size_t home = fp_map_home(m, m->id[i]);
        /* move back an entry whose home is not in (j, i] */
        if (((i - home) & mask) >= ((i - j) & mask)) {
            m->id[j] = m->id[i];
            m->slot[j] = m->slot[i];
            m->id[i] = 0;
            m->slot[i] = NULL;
            j = i;
        }
    }
}

/* ---- records (worker, or inline on the caller's thread) ---- */

static void fp_open(struct ns_httpfp *fp, const struct fp_rec *r, const struct ns_flow_key *key)
{
    struct ns_flow *sh = ns_pool_get(&fp->flow_pool);
    if (sh == NULL) {
        fp->no_memory++;
        return; /* its segments find no flow and are dropped */
    }
    sh->key = *key;
    sh->src_is_lo = r->src_is_lo;
    sh->id = r->id;
    if (!fp_map_put(&fp->flows, sh)) {
        fp->no_memory++;
        ns_pool_put(&fp->flow_pool, sh);
    }
}

static void fp_segment(struct ns_httpfp *fp, const struct fp_rec *r, const uint8_t *payload)
{
    if (fp->flows.cap == 0) {
        return;
    }
    size_t j = fp_map_find(&fp->flows, r->id);
    struct ns_flow *sh = fp->flows.slot[j];
    if (sh == NULL) {
        return; /* its OPEN found no memory, or the connection was retired */
    }
    struct ns_packet *pk = &fp->pk;
    pk->flags = NS_PKT_F_HAS_L4 | (r->snapped ? NS_PKT_F_SNAPPED : 0);
    pk->ts_ns = r->ts_ns;
    pk->tcp_flags = r->tcp_flags;
    pk->seq = r->seq;
    pk->payload = r->payload_len > 0 ? payload : NULL;
    pk->payload_len = r->payload_len;
    pk->payload_wire_len = r->wire_len;
    fp->retire = false;
    (void)ns_tcp_segment(fp->tcp, sh, r->dir, pk); /* failures are counted there */
    if (fp->retire) {
        /*
         * Both directions are done with: the connection's state goes now
         * rather than at the flow's end, seconds later. Its id stays in the
         * map, without a flow, so that what still comes for it is dropped.
         */
        ns_tcp_flow_end(fp->tcp, sh);
        fp->flows.slot[j] = NULL;
        ns_pool_put(&fp->flow_pool, sh);
    }
}

static void fp_end(struct ns_httpfp *fp, uint64_t id)
{
    if (fp->flows.cap == 0) {
        return;
    }
    size_t j = fp_map_find(&fp->flows, id);
    if (fp->flows.id[j] != id) {
        return; /* its OPEN found no memory */
    }
    struct ns_flow *sh = fp->flows.slot[j];
    fp_map_del(&fp->flows, j);
    if (sh != NULL) {
        ns_tcp_flow_end(fp->tcp, sh);
        ns_pool_put(&fp->flow_pool, sh);
    }
}

/* One record, with the bytes that follow it. */
static void fp_record(struct ns_httpfp *fp, const struct fp_rec *r, const uint8_t *tail)
{
    switch (r->kind) {
    case FP_REC_OPEN: {
        struct ns_flow_key key;
        memcpy(&key, tail, sizeof(key));
        fp_open(fp, r, &key);
        break;
    }
    case FP_REC_SEG:
        fp_segment(fp, r, tail);
        break;
    default:
        fp_end(fp, r->id);
        break;
    }
}

static void *fp_worker(void *arg)
{
    struct ns_httpfp *fp = arg;
    (void)pthread_setname_np(pthread_self(), "netsift-httpfp"); /* for top -H, perf */
    size_t len;
    const void *p;
    while ((p = ns_spsc_next(fp->q, &len)) != NULL) {
        const struct fp_rec *r = p;
        fp_record(fp, r, (const uint8_t *)(r + 1));
        /* results go over in batches, and before the worker can go idle (see ns_httpfp_sync) */
        if (fp->work.n >= FP_FLUSH_RESULTS || (fp->work.n > 0 && !ns_spsc_pending(fp->q))) {
            fp_flush(fp);
        }
        ns_spsc_release(fp->q);
    }
    return NULL;
}

/* ---- the caller's side ---- */

int ns_httpfp_new(struct ns_httpfp **out, const struct ns_httpfp_opts *opts)
{
    *out = NULL;
    if (opts == NULL || opts->db == NULL || opts->on_result == NULL) {
        return NS_EINVAL;
    }
    struct ns_httpfp *fp = ns_calloc(1, sizeof(*fp));
    if (fp == NULL) {
        return NS_ENOMEM;
    }
    fp->o = *opts;
    fp->pk.proto = NS_IPPROTO_TCP;
    ns_pool_init(&fp->flow_pool, sizeof(struct ns_flow));
    ns_pool_init(&fp->conn_pool, sizeof(struct fp_conn));
    struct ns_tcp_reasm_opts t;
    memset(&t, 0, sizeof(t));
    t.on_data = fp_tcp_data;
    t.on_gap = fp_tcp_gap;
    t.on_close = fp_tcp_close;
    t.on_conn_end = fp_tcp_conn_end;
    t.ud = fp;
    fp->sig = ns_malloc(NS_P0F_HTTP_SIG_MAX);
    fp->done = ns_calloc(FP_DONE, sizeof(*fp->done));
    if (fp->sig == NULL || fp->done == NULL || ns_tcp_new(&fp->tcp, &t) != 0 ||
        pthread_mutex_init(&fp->mu, NULL) != 0) {
        ns_tcp_free(fp->tcp);
        ns_free(fp->done);
        ns_free(fp->sig);
        ns_free(fp);
        return NS_ENOMEM;
    }
    if (opts->threaded) {
        size_t qb = opts->queue_bytes > 0 ? opts->queue_bytes : FP_QUEUE_BYTES;
        if (ns_spsc_new(&fp->q, qb, 0) == 0) {
            fp->threaded = true; /* before the worker starts: it reads the flag */
            if (pthread_create(&fp->worker, NULL, fp_worker, fp) != 0) {
                fp->threaded = false; /* no thread: work inline */
                ns_spsc_free(fp->q);
                fp->q = NULL;
            }
        }
    }
    *out = fp;
    return 0;
}

/* Queue a record and the `n` bytes at `tail` (threaded), or do it now. */
static void fp_put(struct ns_httpfp *fp, const struct fp_rec *r, const void *tail, size_t n)
{
    void *slot = fp->threaded ? ns_spsc_reserve(fp->q, sizeof(*r) + n) : NULL;
    if (slot == NULL) {
        if (fp->threaded) {
            ns_httpfp_sync(fp); /* too big for the queue: the worker idles while this runs here */
        }
        fp_record(fp, r, tail);
        return;
    }
    memcpy(slot, r, sizeof(*r));
    if (n > 0) {
        memcpy((uint8_t *)slot + sizeof(*r), tail, n);
    }
    ns_spsc_commit(fp->q);
    fp->queued += r->kind == FP_REC_SEG;
}

void ns_httpfp_packet(struct ns_httpfp *fp, struct ns_flow *flow, int dir,
                      const struct ns_packet *p)
{
    if (p->proto != NS_IPPROTO_TCP || !(p->flags & NS_PKT_F_HAS_L4) || (dir != 0 && dir != 1) ||
        fp->finished) {
        return;
    }
    if (fp->threaded) {
        fp_drain(fp);
    }
    uint32_t len = p->payload != NULL ? p->payload_len : 0;
    bool snapped = (p->flags & NS_PKT_F_SNAPPED) != 0;
    if (len == 0 && !(snapped && p->payload_wire_len > 0) && !(p->tcp_flags & NS_TCP_SYN)) {
        /*
         * No bytes and no SYN: nothing to reassemble. A FIN or RST only ends
         * its direction, which never makes a fingerprint (headers end at a
         * blank line, not at a close); the flow's end closes what is left.
         */
        return;
    }
    uint64_t id = flow->id;
    uint64_t hint = atomic_load_explicit(&fp->done[id & (FP_DONE - 1)], memory_order_relaxed);
    if (hint >> 2 == id && (hint & (1u << dir)) != 0) {
        return; /* nothing more to learn from this direction */
    }
    bool opened = flow->user != NULL;
    if (!fp_window(flow, dir, p, len > 0 || (snapped && p->payload_wire_len > 0))) {
        return;
    }
    struct fp_rec r;
    memset(&r, 0, sizeof(r));
    r.id = id;
    if (!opened) {
        r.kind = FP_REC_OPEN;
        r.src_is_lo = flow->src_is_lo;
        fp_put(fp, &r, &flow->key, sizeof(flow->key));
    }
    r.ts_ns = p->ts_ns;
    r.seq = p->seq;
    r.payload_len = len;
    r.wire_len = p->payload_wire_len;
    r.kind = FP_REC_SEG;
    r.dir = (uint8_t)dir;
    r.tcp_flags = p->tcp_flags;
    r.snapped = snapped;
    fp_put(fp, &r, p->payload, len);
}

void ns_httpfp_flow_end(struct ns_httpfp *fp, struct ns_flow *flow)
{
    if (flow->user == NULL) {
        return;
    }
    flow->user = NULL;
    if (fp->threaded) {
        fp_drain(fp);
    }
    struct fp_rec r;
    memset(&r, 0, sizeof(r));
    r.id = flow->id;
    r.kind = FP_REC_END;
    fp_put(fp, &r, NULL, 0);
}

void ns_httpfp_sync(struct ns_httpfp *fp)
{
    if (fp->threaded) {
        ns_spsc_wait_empty(fp->q);
        fp_drain(fp);
    }
}

void ns_httpfp_finish(struct ns_httpfp *fp)
{
    if (fp->finished) {
        return;
    }
    fp->finished = true;
    if (fp->threaded) {
        ns_spsc_close(fp->q);
        pthread_join(fp->worker, NULL);
        fp_drain(fp);
        fp->threaded = false; /* what still comes (flow ends) is done here */
    }
}

void ns_httpfp_get_stats(const struct ns_httpfp *fp, struct ns_httpfp_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->connections = fp->connections;
    st->messages = fp->messages;
    st->too_many_headers = fp->too_many;
    st->no_memory = fp->no_memory + fp->caller_no_memory;
    st->packets_queued = fp->queued;
    st->threaded = fp->q != NULL;
    if (fp->q != NULL) {
        struct ns_spsc_stats qs;
        ns_spsc_get_stats(fp->q, &qs);
        st->queue_bytes = qs.bytes;
        st->queue_full = qs.producer_waits;
    }
    st->tcp = *ns_tcp_stats(fp->tcp);
}

static void fp_batch_free(struct fp_batch *b)
{
    ns_free(b->v);
    ns_free(b->text);
}

void ns_httpfp_free(struct ns_httpfp *fp)
{
    if (fp == NULL) {
        return;
    }
    ns_httpfp_finish(fp);
    for (size_t i = 0; i < fp->flows.cap; i++) {
        if (fp->flows.slot[i] != NULL) { /* a flow never ended (a run cut short) */
            ns_tcp_flow_end(fp->tcp, fp->flows.slot[i]);
            ns_pool_put(&fp->flow_pool, fp->flows.slot[i]);
        }
    }
    fp_map_release(&fp->flows);
    ns_tcp_free(fp->tcp);
    while (fp->nspare_parsers > 0) {
        ns_http_parser_free(fp->spare_parsers[--fp->nspare_parsers]);
    }
    ns_pool_release(&fp->flow_pool);
    ns_pool_release(&fp->conn_pool);
    ns_free(fp->done);
    ns_spsc_free(fp->q);
    pthread_mutex_destroy(&fp->mu);
    fp_batch_free(&fp->work);
    fp_batch_free(&fp->ready);
    fp_batch_free(&fp->spare);
    ns_free(fp->sig);
    ns_free(fp);
}
