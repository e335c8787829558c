/*
 * test_sink_webhook.c - the webhook sink (webhook.h) against a real HTTP/1.1
 * server (RFC 9112) run by this test on 127.0.0.1 with an ephemeral port: a
 * small socket server thread that answers 503 to the first N requests, then
 * 200 (or 400 to a body saying so), and records every request.
 *
 * Asserted: every record arrives exactly once and in order, retries are
 * counted, an identical record for the same key is not re-sent, the
 * Authorization header carries the token and the error text does not, a
 * full queue drops the newest record, 4xx is not retried, and close() gives
 * up at its deadline when the endpoint is down.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netsift/err.h"
#include "netsift/webhook.h"

#define MAX_REQS 64

struct server {
    int fd;
    uint16_t port;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fail_first;  /* answer 503 to this many requests */
    bool hold_first; /* keep the first request waiting until released */
    bool released;
    bool stop;
    size_t nreqs;
    char bodies[MAX_REQS][256];
    char auth[MAX_REQS][128];
    int status[MAX_REQS];
};

/* Read one request (headers + Content-Length body) from fd into the server's tables. */
static int serve_one(struct server *s, int fd)
{
    char buf[8192];
    size_t n = 0;
    char *hdr_end = NULL;
    while (hdr_end == NULL && n < sizeof(buf) - 1) {
        ssize_t k = read(fd, buf + n, sizeof(buf) - 1 - n);
        if (k <= 0) {
            return -1;
        }
        n += (size_t)k;
        buf[n] = '\0';
        hdr_end = strstr(buf, "\r\n\r\n");
    }
    if (hdr_end == NULL) {
        return -1;
    }
    size_t clen = 0;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl != NULL) {
        clen = strtoul(cl + 17, NULL, 10);
    }
    size_t have = n - (size_t)(hdr_end + 4 - buf);
    while (have < clen && n < sizeof(buf) - 1) {
        ssize_t k = read(fd, buf + n, sizeof(buf) - 1 - n);
        if (k <= 0) {
            return -1;
        }
        n += (size_t)k;
        have += (size_t)k;
    }
    buf[n] = '\0';
    pthread_mutex_lock(&s->mu);
    size_t i = s->nreqs;
    int status = 200;
    if (i < MAX_REQS) {
        snprintf(s->bodies[i], sizeof(s->bodies[i]), "%.*s", (int)clen, hdr_end + 4);
        const char *a = strcasestr(buf, "\r\nAuthorization: ");
        s->auth[i][0] = '\0';
        if (a != NULL && a < hdr_end) {
            a += 17;
            snprintf(s->auth[i], sizeof(s->auth[i]), "%.*s", (int)strcspn(a, "\r"), a);
        }
        if ((int)i < s->fail_first) {
            status = 503;
        } else if (strstr(s->bodies[i], "\"bad\"") != NULL) {
            status = 400;
        }
        s->status[i] = status;
        s->nreqs++;
    }
    pthread_cond_broadcast(&s->cv);
    while (i == 0 && s->hold_first && !s->released) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    char resp[160];
    int m = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 %d %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status,
                     status == 200   ? "OK"
                     : status == 503 ? "Service Unavailable"
                                     : "Bad Request");
    return write(fd, resp, (size_t)m) == m ? 0 : -1;
}

static void *server_main(void *arg)
{
    struct server *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        pthread_mutex_lock(&s->mu);
        bool stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (c < 0 || stop) {
            if (c >= 0) {
                close(c);
            }
            break;
        }
        (void)serve_one(s, c);
        close(c);
    }
    return NULL;
}

static void server_start(struct server *s, int fail_first, bool hold_first)
{
    memset(s, 0, sizeof(*s));
    s->fail_first = fail_first;
    s->hold_first = hold_first;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0; /* ephemeral */
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void server_stop(struct server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    s->released = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    /* wake accept() with one last connection */
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(s->port);
    (void)connect(c, (struct sockaddr *)&a, sizeof(a));
    close(c);
    pthread_join(s->thread, NULL);
    close(s->fd);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

static struct ns_webhook *hook_new(uint16_t port, const char *token, size_t max_queue,
                                   unsigned max_retries, uint64_t backoff_ms)
{
    char url[64];
    struct ns_webhook_opts o;
    struct ns_webhook *w = NULL;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/assets", (unsigned)port);
    memset(&o, 0, sizeof(o));
    o.url = url;
    o.token = token;
    o.max_queue = max_queue;
    o.max_retries = max_retries;
    o.backoff_initial_ms = backoff_ms;
    o.backoff_max_ms = backoff_ms * 4;
    o.timeout_ms = 5000;
    assert_int_equal(ns_webhook_new(&w, &o, NULL), 0);
    return w;
}

static void post(struct ns_webhook *w, const char *key, const char *body, int want)
{
    assert_int_equal(ns_webhook_post(w, key, strlen(key), body, strlen(body)), want);
}

/* Three 503s, then every record once, in order; the duplicate is not re-sent. */
static void test_webhook_retry_order_dedup(void **state)
{
    (void)state;
    struct server s;
    struct ns_webhook_stats st;
    char err[300];
    server_start(&s, 3, false);
    struct ns_webhook *w = hook_new(s.port, "s3cret", 0, 0, 1);
    post(w, "10.0.0.1", "{\"id\":\"A1\"}\n", 0);
    post(w, "10.0.0.2", "{\"id\":\"B1\"}\n", 0);
    post(w, "10.0.0.1", "{\"id\":\"A2\"}\n", 0);
    post(w, "10.0.0.1", "{\"id\":\"A2\"}\n", 0); /* identical to the last sent for A */
    post(w, "10.0.0.2", "{\"id\":\"B1\"}\n", 0); /* identical to the last sent for B */
    post(w, "10.0.0.2", "{\"id\":\"B2\"}\n", 0);
    post(w, "10.0.0.1", "{\"id\":\"A1\"}\n", 0); /* A changed back: sent again */
    assert_int_equal(ns_webhook_close(w, 10000), 0);
    ns_webhook_get_stats(w, &st);
    ns_webhook_last_error(w, err, sizeof(err));
    ns_webhook_free(w);
    server_stop(&s);

    assert_int_equal(st.posted, 7);
    assert_int_equal(st.sent, 5);
    assert_int_equal(st.retried, 3);
    assert_int_equal(st.deduplicated, 2);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.failed, 0);
    assert_string_equal(err, "HTTP 503");
    assert_int_equal(s.nreqs, 8);
    static const char *const want[] = {"{\"id\":\"A1\"}", "{\"id\":\"A1\"}", "{\"id\":\"A1\"}",
                                       "{\"id\":\"A1\"}", "{\"id\":\"B1\"}", "{\"id\":\"A2\"}",
                                       "{\"id\":\"B2\"}", "{\"id\":\"A1\"}"};
    for (size_t i = 0; i < 8; i++) {
        assert_string_equal(s.bodies[i], want[i]);
        assert_string_equal(s.auth[i], "Bearer s3cret");
        assert_int_equal(s.status[i], i < 3 ? 503 : 200);
    }
}

/* A full queue drops the newest record; 4xx is given up at once; no token, no header. */
static void test_webhook_queue_full_and_4xx(void **state)
{
    (void)state;
    struct server s;
    struct ns_webhook_stats st;
    server_start(&s, 0, true);
    struct ns_webhook *w = hook_new(s.port, NULL, 2, 0, 1);
    post(w, "a", "{\"n\":1}", 0);
    /* wait until the first request is at the server (held there) */
    pthread_mutex_lock(&s.mu);
    while (s.nreqs == 0) {
        pthread_cond_wait(&s.cv, &s.mu);
    }
    pthread_mutex_unlock(&s.mu);
    post(w, "b", "{\"n\":\"bad\"}", 0); /* queued behind the one in flight: the queue is full */
    post(w, "c", "{\"n\":3}", NS_ELIMIT);
    pthread_mutex_lock(&s.mu);
    s.released = true;
    pthread_cond_broadcast(&s.cv);
    pthread_mutex_unlock(&s.mu);
    assert_int_equal(ns_webhook_close(w, 10000), 0);
    post(w, "d", "{\"n\":4}", NS_EINVAL); /* closed */
    ns_webhook_get_stats(w, &st);
    ns_webhook_free(w);
    server_stop(&s);
    assert_int_equal(st.posted, 3);
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.retried, 0);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(s.nreqs, 2);
    assert_string_equal(s.bodies[0], "{\"n\":1}");
    assert_string_equal(s.bodies[1], "{\"n\":\"bad\"}");
    assert_string_equal(s.auth[0], "");
}

/* Nobody listens: close() stops at its deadline and counts what was left as dropped. */
static void test_webhook_deadline(void **state)
{
    (void)state;
    struct ns_webhook_stats st;
    /* a port nobody listens on: bind one, then close it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    struct ns_webhook *w = hook_new(ntohs(a.sin_port), "tok", 0, 1000, 50);
    post(w, "a", "{}", 0);
    post(w, "b", "{}", 0);
    assert_int_equal(ns_webhook_close(w, 200), NS_ELIMIT);
    ns_webhook_get_stats(w, &st);
    char err[300];
    ns_webhook_last_error(w, err, sizeof(err));
    ns_webhook_free(w);
    assert_int_equal(st.sent, 0);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.dropped, 2);
    assert_true(st.retried >= 1);
    assert_true(err[0] != '\0');
    assert_null(strstr(err, "tok"));
    assert_null(strstr(err, "127.0.0.1"));
}

static void test_webhook_bad_args(void **state)
{
    (void)state;
    struct ns_webhook *w = NULL;
    struct ns_webhook_opts o;
    struct ns_error e;
    memset(&o, 0, sizeof(o));
    assert_int_equal(ns_webhook_new(&w, &o, &e), NS_EINVAL);
    assert_null(w);
    assert_string_equal(e.msg, "webhook: no URL");
    ns_webhook_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhook_retry_order_dedup),
        cmocka_unit_test(test_webhook_queue_full_and_4xx),
        cmocka_unit_test(test_webhook_deadline),
        cmocka_unit_test(test_webhook_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
