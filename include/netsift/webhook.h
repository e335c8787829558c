/*
 * webhook.h - POST JSON records to an HTTP(S) endpoint with libcurl, from a
 * thread of the sink's own, so that capture never waits for the endpoint
 * (the `--post URL` of `netsift devices`, as tapirx's -apiurl).
 *
 *   producer (capture loop)           worker thread
 *   ns_webhook_post ──► [bounded FIFO] ──► dedup ──► POST ──► 2xx: sent
 *        │ full: the new record              ▲          │ error / 5xx / 429:
 *        ▼ is dropped and counted            └─ back-off┘ retried
 *
 * Requests: `POST URL` with `Content-Type: application/json`, the record as
 * the body (a trailing newline is removed), `Authorization: Bearer TOKEN`
 * when a token is given, no `Expect: 100-continue`.
 *
 * Policy:
 *   - Queue: at most max_queue records wait. When it is full the NEW record
 *     is dropped and counted (`dropped`): the records already queued keep
 *     their order, and a device's next record carries its newer state
 *     anyway. ns_webhook_post() never blocks on the network (it only takes
 *     the queue's lock) and never fails because of the endpoint.
 *   - Order: one record is in flight at a time, in queue order, so records
 *     of one device arrive in the order they were posted.
 *   - Retries: a transport error, a 5xx or a 429 answer is retried after
 *     backoff_initial_ms, doubling up to backoff_max_ms, at most max_retries
 *     times (`retried` counts each retry); then the record is given up
 *     (`failed`). Any other status (1xx, 3xx after redirects, 4xx) gives the
 *     record up at once (`failed`); 2xx is `sent`.
 *   - Dedup: a record whose key (the device) and body are identical to the
 *     last record sent for that key is not sent again (`deduplicated`). The
 *     last body of at most max_keys keys is remembered.
 *   - Secrets: the token is only put in the request header. Error texts
 *     (ns_webhook_last_error) never hold the token or the URL (which may
 *     carry credentials); libcurl's verbose output stays off.
 *   - Shutdown: ns_webhook_close() lets the worker drain the queue until the
 *     deadline, then stops it; records still queued then are `dropped`.
 */
#ifndef NETSIFT_WEBHOOK_H
#define NETSIFT_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "netsift/err.h"

struct ns_webhook_opts {
    const char *url;             /* required; copied */
    const char *token;           /* copied; NULL or "": no Authorization header */
    size_t max_queue;            /* records waiting; 0 means 4096 */
    size_t max_keys;             /* keys remembered for dedup; 0 means 65536 */
    unsigned max_retries;        /* retries per record; 0 means 8 */
    uint64_t backoff_initial_ms; /* 0 means 100 */
    uint64_t backoff_max_ms;     /* 0 means 10000 */
    uint64_t timeout_ms;         /* per request; 0 means 10000 */
};

struct ns_webhook_stats {
    uint64_t posted;       /* records given to ns_webhook_post */
    uint64_t sent;         /* answered with 2xx */
    uint64_t retried;      /* retries made */
    uint64_t dropped;      /* queue full, or still queued at the close deadline */
    uint64_t failed;       /* given up: retries exhausted or a non-retryable status */
    uint64_t deduplicated; /* identical to the last one sent for the same key */
};

struct ns_webhook;

/*
 * Start the sink and its thread. Returns 0, NS_EINVAL (no URL; err says
 * why), NS_ENOMEM or NS_EIO (libcurl or the thread could not start).
 */
int ns_webhook_new(struct ns_webhook **out, const struct ns_webhook_opts *opts,
                   struct ns_error *err);

/*
 * Queue one record (copied) for key (key, klen), e.g. the device's address.
 * Returns 0, NS_ELIMIT (queue full: dropped and counted), NS_ENOMEM, or
 * NS_EINVAL after ns_webhook_close().
 */
int ns_webhook_post(struct ns_webhook *w, const char *key, size_t klen, const char *body,
                    size_t len);

/*
 * Drain the queue for at most deadline_ms milliseconds, then stop the
 * thread (records left are dropped and counted). Idempotent. Returns 0, or
 * NS_ELIMIT when records were left at the deadline.
 */
int ns_webhook_close(struct ns_webhook *w, uint64_t deadline_ms);

/* A consistent copy of the counters (any time). */
void ns_webhook_get_stats(struct ns_webhook *w, struct ns_webhook_stats *st);

/* The last failure as text ("HTTP 503", "couldn't connect to server"), "" if none. */
void ns_webhook_last_error(struct ns_webhook *w, char *buf, size_t size);

/* Close with a deadline of 0 if still open, then free; NULL is allowed. */
void ns_webhook_free(struct ns_webhook *w);

#endif
