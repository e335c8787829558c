/*
 * sink_webhook.c - JSON records POSTed from a worker thread with libcurl
 * (webhook.h; HTTP semantics RFC 9110: 2xx success, 429 / 5xx retryable;
 * bearer tokens RFC 6750 section 2.1).
 *
 * The queue is a ring of at most max_queue entries under one mutex; the
 * producer signals `cv` when it adds one, and the worker waits on the same
 * condition variable (timed) for back-off, so close() can wake it. The head
 * entry stays in the ring while it is being sent, so order is kept.
 *
 * Dedup memory: an open-addressing table (linear probing, FNV-1a) of
 * key -> last body sent, owned by the worker thread only.
 */
#include "netsift/webhook.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "netsift/alloc.h"

#define WH_DEFAULT_QUEUE   4096u
#define WH_DEFAULT_KEYS    65536u
#define WH_DEFAULT_RETRIES 8u
#define WH_DEFAULT_BACKOFF 100u
#define WH_DEFAULT_MAXBACK 10000u
#define WH_DEFAULT_TIMEOUT 10000u

struct wh_entry {
    char *key;
    size_t klen;
    char *body;
    size_t len;
};

struct wh_last {
    char *key; /* NULL: empty slot */
    size_t klen;
    char *body;
    size_t len;
};

struct ns_webhook {
    struct ns_webhook_opts o;
    char *url;
    char *auth_header; /* "Authorization: Bearer ..." or NULL */
    CURL *curl;
    struct curl_slist *headers;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct wh_entry *ring;
    size_t head;
    size_t count;
    bool closing;
    bool closed;
    struct timespec deadline; /* CLOCK_MONOTONIC, valid when closing */
    struct ns_webhook_stats st;
    char last_error[CURL_ERROR_SIZE + 32];
    /* worker-only */
    struct wh_last *last;
    size_t nlast;
    size_t caplast; /* power of two, >= 2 * max_keys */
};

static void entry_free(struct wh_entry *e)
{
    ns_free(e->key);
    ns_free(e->body);
    memset(e, 0, sizeof(*e));
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    }
    return h;
}

/* The dedup slot of key (found or empty), or NULL when the table is full. */
static struct wh_last *last_slot(struct ns_webhook *w, const char *key, size_t klen)
{
    size_t k = (size_t)fnv(key, klen) & (w->caplast - 1);
    for (size_t probes = 0; probes < w->caplast; probes++) {
        struct wh_last *l = &w->last[k];
        if (l->key == NULL || (l->klen == klen && memcmp(l->key, key, klen) == 0)) {
            return l;
        }
        k = (k + 1) & (w->caplast - 1);
    }
    return NULL;
}

static bool is_duplicate(struct ns_webhook *w, const struct wh_entry *e)
{
    struct wh_last *l = last_slot(w, e->key, e->klen);
    return l != NULL && l->key != NULL && l->len == e->len && memcmp(l->body, e->body, e->len) == 0;
}

/* Remember e as the last record sent for its key (moving its body out of e). */
static void remember(struct ns_webhook *w, struct wh_entry *e)
{
    struct wh_last *l = last_slot(w, e->key, e->klen);
    if (l == NULL) {
        return;
    }
    if (l->key == NULL) {
        if (w->nlast >= w->o.max_keys) {
            return;
        }
        l->key = e->key;
        l->klen = e->klen;
        e->key = NULL;
        w->nlast++;
    }
    ns_free(l->body);
    l->body = e->body;
    l->len = e->len;
    e->body = NULL;
}

static size_t discard_body(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static void ts_add_ms(struct timespec *t, uint64_t ms)
{
    t->tv_sec += (time_t)(ms / 1000);
    t->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Milliseconds from now to the close deadline (0 when passed); UINT64_MAX when not closing. */
static uint64_t ms_left(struct ns_webhook *w)
{
    if (!w->closing) {
        return UINT64_MAX;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!ts_before(&now, &w->deadline)) {
        return 0;
    }
    int64_t ms = (int64_t)(w->deadline.tv_sec - now.tv_sec) * 1000 +
                 (w->deadline.tv_nsec - now.tv_nsec) / 1000000;
    return ms <= 0 ? 1 : (uint64_t)ms;
}

enum wh_result {
    WH_SENT = 0,
    WH_RETRY,
    WH_GIVE_UP,
};

/* One POST of e (called without the lock). */
static enum wh_result post_once(struct ns_webhook *w, const struct wh_entry *e, uint64_t budget_ms)
{
    long code = 0;
    uint64_t t = w->o.timeout_ms < budget_ms ? w->o.timeout_ms : budget_ms;
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, e->body);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)e->len);
    curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, (long)(t == 0 ? 1 : t));
    CURLcode cc = curl_easy_perform(w->curl);
    char msg[sizeof(w->last_error)];
    enum wh_result r;
    if (cc != CURLE_OK) {
        /* libcurl's own text only: its error buffer would name the host */
        snprintf(msg, sizeof(msg), "%s", curl_easy_strerror(cc));
        r = WH_RETRY;
    } else {
        curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && code < 300) {
            return WH_SENT;
        }
        snprintf(msg, sizeof(msg), "HTTP %ld", code);
        r = code >= 500 || code == 429 ? WH_RETRY : WH_GIVE_UP;
    }
    pthread_mutex_lock(&w->mu);
    memcpy(w->last_error, msg, sizeof(w->last_error));
    pthread_mutex_unlock(&w->mu);
    return r;
}

/* Drop every queued entry (under the lock), counting them. */
static void drop_all_locked(struct ns_webhook *w)
{
    while (w->count > 0) {
        entry_free(&w->ring[w->head]);
        w->head = (w->head + 1) % w->o.max_queue;
        w->count--;
        w->st.dropped++;
    }
}

static void pop_locked(struct ns_webhook *w)
{
    entry_free(&w->ring[w->head]);
    w->head = (w->head + 1) % w->o.max_queue;
    w->count--;
}

static void *worker(void *arg)
{
    struct ns_webhook *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->count == 0 && !w->closing) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        if (w->count == 0 || ms_left(w) == 0) {
            drop_all_locked(w);
            break;
        }
        /* the head stays queued while in flight; only this thread pops */
        struct wh_entry e = w->ring[w->head];
        pthread_mutex_unlock(&w->mu);

        bool dup = is_duplicate(w, &e);
        enum wh_result r = WH_SENT;
        unsigned tries = 0;
        uint64_t backoff = w->o.backoff_initial_ms;
        while (!dup) {
            pthread_mutex_lock(&w->mu);
            uint64_t left = ms_left(w);
            pthread_mutex_unlock(&w->mu);
            if (left == 0) {
                r = WH_RETRY; /* out of time: dropped below */
                break;
            }
            r = post_once(w, &e, left);
            if (r != WH_RETRY || tries >= w->o.max_retries) {
                break;
            }
            tries++;
            /* wait for the back-off, or until close() moves the deadline */
            pthread_mutex_lock(&w->mu);
            w->st.retried++;
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            ts_add_ms(&until, backoff);
            while (ms_left(w) > 0) {
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (!ts_before(&now, &until) || (w->closing && ts_before(&w->deadline, &now))) {
                    break;
                }
                const struct timespec *wake =
                    w->closing && ts_before(&w->deadline, &until) ? &w->deadline : &until;
                pthread_cond_timedwait(&w->cv, &w->mu, wake);
            }
            pthread_mutex_unlock(&w->mu);
            backoff = backoff * 2 > w->o.backoff_max_ms ? w->o.backoff_max_ms : backoff * 2;
        }

        pthread_mutex_lock(&w->mu);
        if (dup) {
            w->st.deduplicated++;
        } else if (r == WH_SENT) {
            w->st.sent++;
            remember(w, &w->ring[w->head]);
        } else if (ms_left(w) == 0) {
            w->st.dropped++;
        } else {
            w->st.failed++;
        }
        pop_locked(w);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int ns_webhook_new(struct ns_webhook **out, const struct ns_webhook_opts *opts,
                   struct ns_error *err)
{
    int rc = 0;
    ns_error_clear(err);
    *out = NULL;
    if (opts == NULL || opts->url == NULL || opts->url[0] == '\0') {
        return ns_error_set(err, NS_EINVAL, "webhook: no URL");
    }
    struct ns_webhook *w = ns_calloc(1, sizeof(*w));
    if (w == NULL) {
        return ns_error_set(err, NS_ENOMEM, "webhook: %s", ns_strerror(NS_ENOMEM));
    }
    w->o = *opts;
    w->o.max_queue = w->o.max_queue == 0 ? WH_DEFAULT_QUEUE : w->o.max_queue;
    w->o.max_keys = w->o.max_keys == 0 ? WH_DEFAULT_KEYS : w->o.max_keys;
    w->o.max_retries = w->o.max_retries == 0 ? WH_DEFAULT_RETRIES : w->o.max_retries;
    w->o.backoff_initial_ms =
        w->o.backoff_initial_ms == 0 ? WH_DEFAULT_BACKOFF : w->o.backoff_initial_ms;
    w->o.backoff_max_ms = w->o.backoff_max_ms == 0 ? WH_DEFAULT_MAXBACK : w->o.backoff_max_ms;
    w->o.timeout_ms = w->o.timeout_ms == 0 ? WH_DEFAULT_TIMEOUT : w->o.timeout_ms;
    w->o.url = NULL;
    w->o.token = NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->closed = true; /* until the thread runs: freeing must not wait for it */

    w->caplast = 16;
    while (w->caplast < 2 * w->o.max_keys) {
        w->caplast *= 2;
    }
    w->url = ns_strdup(opts->url);
    w->ring = ns_calloc(w->o.max_queue, sizeof(*w->ring));
    w->last = ns_calloc(w->caplast, sizeof(*w->last));
    if (w->url == NULL || w->ring == NULL || w->last == NULL) {
        rc = ns_error_set(err, NS_ENOMEM, "webhook: %s", ns_strerror(NS_ENOMEM));
        goto out;
    }
    if (opts->token != NULL && opts->token[0] != '\0') {
        static const char prefix[] = "Authorization: Bearer ";
        size_t n = sizeof(prefix) + strlen(opts->token);
        w->auth_header = ns_malloc(n);
        if (w->auth_header == NULL) {
            rc = ns_error_set(err, NS_ENOMEM, "webhook: %s", ns_strerror(NS_ENOMEM));
            goto out;
        }
        snprintf(w->auth_header, n, "%s%s", prefix, opts->token);
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (w->curl = curl_easy_init()) == NULL) {
        rc = ns_error_set(err, NS_EIO, "webhook: libcurl could not start");
        goto out;
    }
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (h != NULL) {
        w->headers = h;
        h = curl_slist_append(w->headers, "Expect:");
    }
    if (h != NULL && w->auth_header != NULL) {
        h = curl_slist_append(w->headers, w->auth_header);
    }
    if (h == NULL) {
        rc = ns_error_set(err, NS_ENOMEM, "webhook: %s", ns_strerror(NS_ENOMEM));
        goto out;
    }
    curl_easy_setopt(w->curl, CURLOPT_URL, w->url);
    curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(w->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(w->curl, CURLOPT_USERAGENT, "netsift-devices");
    curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)w->o.timeout_ms);
    w->closed = false;
    if (pthread_create(&w->thread, NULL, worker, w) != 0) {
        w->closed = true;
        rc = ns_error_set(err, NS_EIO, "webhook: cannot start its thread");
        goto out;
    }
    w->thread_started = true;
out:
    if (rc != 0) {
        ns_webhook_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int ns_webhook_post(struct ns_webhook *w, const char *key, size_t klen, const char *body,
                    size_t len)
{
    while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == '\r')) {
        len--;
    }
    pthread_mutex_lock(&w->mu);
    bool closed = w->closing || w->closed;
    bool full = w->count >= w->o.max_queue;
    if (!closed) {
        w->st.posted++;
    }
    if (!closed && full) {
        w->st.dropped++;
    }
    pthread_mutex_unlock(&w->mu);
    if (closed) {
        return NS_EINVAL;
    }
    if (full) {
        return NS_ELIMIT;
    }
    struct wh_entry e;
    e.key = ns_strndup(key, klen);
    e.klen = klen;
    e.body = ns_strndup(body, len);
    e.len = len;
    if (e.key == NULL || e.body == NULL) {
        entry_free(&e);
        pthread_mutex_lock(&w->mu);
        w->st.dropped++;
        pthread_mutex_unlock(&w->mu);
        return NS_ENOMEM;
    }
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    if (w->count >= w->o.max_queue) {
        /* filled up while copying */
        w->st.dropped++;
        rc = NS_ELIMIT;
    } else {
        w->ring[(w->head + w->count) % w->o.max_queue] = e;
        w->count++;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    if (rc != 0) {
        entry_free(&e);
    }
    return rc;
}

int ns_webhook_close(struct ns_webhook *w, uint64_t deadline_ms)
{
    pthread_mutex_lock(&w->mu);
    if (w->closed) {
        pthread_mutex_unlock(&w->mu);
        return 0;
    }
    uint64_t dropped_before = w->st.dropped;
    if (!w->closing) {
        w->closing = true;
        clock_gettime(CLOCK_MONOTONIC, &w->deadline);
        ts_add_ms(&w->deadline, deadline_ms);
    }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->thread_started) {
        pthread_join(w->thread, NULL);
        w->thread_started = false;
    }
    pthread_mutex_lock(&w->mu);
    w->closed = true;
    bool lost = w->st.dropped != dropped_before;
    pthread_mutex_unlock(&w->mu);
    return lost ? NS_ELIMIT : 0;
}

void ns_webhook_get_stats(struct ns_webhook *w, struct ns_webhook_stats *st)
{
    pthread_mutex_lock(&w->mu);
    *st = w->st;
    pthread_mutex_unlock(&w->mu);
}

void ns_webhook_last_error(struct ns_webhook *w, char *buf, size_t size)
{
    pthread_mutex_lock(&w->mu);
    snprintf(buf, size, "%s", w->last_error);
    pthread_mutex_unlock(&w->mu);
}

void ns_webhook_free(struct ns_webhook *w)
{
    if (w == NULL) {
        return;
    }
    ns_webhook_close(w, 0);
    for (size_t i = 0; w->ring != NULL && i < w->o.max_queue; i++) {
        entry_free(&w->ring[i]);
    }
    for (size_t i = 0; w->last != NULL && i < w->caplast; i++) {
        ns_free(w->last[i].key);
        ns_free(w->last[i].body);
    }
    if (w->curl != NULL) {
        curl_easy_cleanup(w->curl);
        curl_global_cleanup();
    }
    curl_slist_free_all(w->headers);
    if (w->auth_header != NULL) {
        /* the token does not outlive the sink in freed memory */
        memset(w->auth_header, 0, strlen(w->auth_header));
    }
    ns_free(w->auth_header);
    ns_free(w->url);
    ns_free(w->ring);
    ns_free(w->last);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    ns_free(w);
}
