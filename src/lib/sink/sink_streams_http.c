/*
 * sink_streams_http.c - `netsift streams -a`: HTTP/1.x messages of each
 * stream (RFC 9112 framing, RFC 9110 semantics, parsed by proto_http.c)
 * written to files whose names extend tcpflow's:
 *
 *   NAME-HTTP                 the start lines and header fields of every
 *                             message of that direction, in order
 *   NAME-HTTPBODY-001[.ext]   the body of message 1 (2, 3, ... on keep-alive
 *                             connections), chunked coding removed, gzip /
 *                             deflate decoded; .ext from the Content-Type
 *
 * NAME is the stream's own file name (its first part). tcpflow numbers the
 * bodies the same way but leaves chunk framing in and runs keep-alive bodies
 * together; here each message has its own body, and a body cut by a gap or
 * the end of the stream is kept and marked incomplete in the report.
 *
 * Roles: the direction whose first bytes are "HTTP/" is the response side;
 * otherwise the first direction with bytes sends requests. Parsers are
 * made when the first bytes of a direction hold a request or status line
 * (the other direction's first bytes get their own look); a connection
 * where neither does is not parsed at all. The two parsers
 * are paired so that responses to HEAD carry no body.
 */
#include "sink_streams_int.h"

#include <errno.h>
#include <string.h>

#include "netsift/alloc.h"

struct ns__sf_http {
    struct ns_streams *s;
    struct ns__sf_conn *c;
    int dir;
    struct ns_http_parser *p;
    struct ns__sf_file hdr;
    bool hdr_made;
    struct ns__sf_file body;
    bool body_made;
    bool in_msg;
    enum ns_http_kind kind;
    uint64_t index;
    unsigned status;
    bool has_ctype;
    bool has_cenc;
    char method[32];
    char *target; /* the current request's target (at most 1023 bytes), between its headers and its
                     end */
    char ctype[128];
    char cenc[64];
};

static void copy_view(char *dst, size_t size, const char *src, size_t len)
{
    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    if (len >= size) {
        len = size - 1;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Name "<stream name><suffix>" in f, created in the cache. false on failure (counted). */
static bool make_file(struct ns__sf_http *h, struct ns__sf_file *f, const char *suffix)
{
    struct ns_streams *s = h->s;
    const char *base = h->c->d[h->dir].base_name;
    if (base == NULL || s->o.no_files || s->o.console != NULL) {
        return false;
    }
    size_t dl = s->outdir != NULL ? strlen(s->outdir) + 1 : 0;
    size_t bl = strlen(base);
    size_t sl = strlen(suffix);
    char *p = ns_malloc(dl + bl + sl + 1);
    if (p == NULL) {
        return false;
    }
    if (dl > 0) {
        memcpy(p, s->outdir, dl - 1);
        p[dl - 1] = '/';
    }
    memcpy(p + dl, base, bl);
    memcpy(p + dl + bl, suffix, sl + 1);
    f->path = p;
    f->name = p + dl;
    f->fd = -1;
    f->size = 0;
    int rc = ns__sf_file_create(&s->fdc, f, false, false);
    if (rc != 0) {
        ns__sf_io_error(s, "create", f->path, -rc);
        ns__sf_file_release(&s->fdc, f);
        return false;
    }
    return true;
}

static void put(struct ns__sf_http *h, const char *p, size_t n)
{
    int rc = ns__sf_file_write(&h->s->fdc, &h->hdr, p, n);
    if (rc != 0) {
        ns__sf_io_error(h->s, "write", h->hdr.path, -rc);
    }
}

static void on_headers(void *ud, const struct ns_http_msg *m)
{
    struct ns__sf_http *h = ud;
    char line[64];
    h->in_msg = true;
    h->kind = m->kind;
    h->index = m->index;
    h->status = m->status;
    copy_view(h->method, sizeof(h->method), m->method, m->method_len);
    ns_free(h->target);
    h->target = NULL;
    if (m->target != NULL) {
        /* held per message, not per connection: thousands of parsers rest at once */
        h->target = ns_strndup(m->target, m->target_len < 1023 ? m->target_len : 1023);
    }
    h->has_ctype = false;
    h->has_cenc = m->content_encoding != NULL;
    copy_view(h->cenc, sizeof(h->cenc), m->content_encoding, m->content_encoding_len);
    for (size_t i = 0; i < m->nheaders; i++) {
        const struct ns_http_header *hd = &m->headers[i];
        if (hd->name_len == 12 && strncasecmp(hd->name, "Content-Type", 12) == 0) {
            copy_view(h->ctype, sizeof(h->ctype), hd->value, hd->value_len);
            h->has_ctype = true;
        }
    }
    h->s->st.http_messages++;

    if (!h->hdr_made) {
        h->hdr_made = make_file(h, &h->hdr, "-HTTP");
        if (!h->hdr_made) {
            return;
        }
    }
    if (m->kind == NS_HTTP_REQUEST) {
        put(h, m->method, m->method_len);
        put(h, " ", 1);
        put(h, m->target, m->target_len);
        int n = snprintf(line, sizeof(line), " HTTP/%u.%u\r\n", m->version_major, m->version_minor);
        put(h, line, (size_t)n);
    } else {
        int n = snprintf(line, sizeof(line), "HTTP/%u.%u %03u ", m->version_major, m->version_minor,
                         m->status);
        put(h, line, (size_t)n);
        put(h, m->reason, m->reason_len);
        put(h, "\r\n", 2);
    }
    for (size_t i = 0; i < m->nheaders; i++) {
        put(h, m->headers[i].name, m->headers[i].name_len);
        put(h, ": ", 2);
        put(h, m->headers[i].value, m->headers[i].value_len);
        put(h, "\r\n", 2);
    }
    put(h, "\r\n", 2);
}

static void on_body(void *ud, const uint8_t *data, size_t len)
{
    struct ns__sf_http *h = ud;
    if (len == 0) {
        return;
    }
    if (!h->body_made) {
        char suffix[64];
        const char *ext = h->has_ctype ? ns_streams_mime_ext(h->ctype, strlen(h->ctype)) : NULL;
        snprintf(suffix, sizeof(suffix), "-HTTPBODY-%03llu%s%s", (unsigned long long)h->index,
                 ext != NULL ? "." : "", ext != NULL ? ext : "");
        h->body_made = make_file(h, &h->body, suffix);
        if (!h->body_made) {
            h->body.size += len; /* counted for the report all the same */
            return;
        }
        h->s->st.http_bodies++;
    }
    int rc = ns__sf_file_write(&h->s->fdc, &h->body, data, len);
    if (rc != 0) {
        ns__sf_io_error(h->s, "write", h->body.path, -rc);
    }
}

static void on_end(void *ud, unsigned flags, uint64_t raw_body_bytes, uint64_t body_bytes)
{
    struct ns__sf_http *h = ud;
    struct ns__sf_http_rec r;
    memset(&r, 0, sizeof(r));
    r.file = h->body_made ? h->body.name : NULL;
    r.header_file = h->hdr_made ? h->hdr.name : NULL;
    r.kind = h->kind;
    r.index = h->index;
    r.method = h->method;
    r.target = h->target != NULL ? h->target : "";
    r.status = h->status;
    r.content_type = h->has_ctype ? h->ctype : NULL;
    r.content_encoding = h->has_cenc ? h->cenc : NULL;
    r.body_bytes = body_bytes;
    r.raw_body_bytes = raw_body_bytes;
    r.flags = flags;
    if (h->in_msg) {
        ns__sf_report_http(h->s, h->c, h->dir, &r);
    }
    ns_free(h->target);
    h->target = NULL;
    if (h->body_made) {
        ns__sf_file_end(&h->s->fdc, &h->body, NULL);
        h->body_made = false;
    } else {
        h->body.size = 0;
    }
    h->in_msg = false;
}

static struct ns__sf_http *http_new(struct ns_streams *s, struct ns__sf_conn *c, int dir,
                                    enum ns_http_kind kind)
{
    struct ns__sf_http *h = ns_calloc(1, sizeof(*h));
    if (h == NULL) {
        return NULL;
    }
    h->s = s;
    h->c = c;
    h->dir = dir;
    h->hdr.fd = -1;
    h->body.fd = -1;
    struct ns_http_callbacks cb = {on_headers, on_body, on_end, h};
    if (ns_http_parser_new(&h->p, kind, &s->http_opts, &cb) != 0) {
        ns_free(h);
        return NULL;
    }
    return h;
}

static void http_free(struct ns_streams *s, struct ns__sf_http *h)
{
    if (h == NULL) {
        return;
    }
    if (h->p != NULL) {
        const struct ns_http_stats *hs = ns_http_stats(h->p);
        s->st.http_malformed += hs->malformed;
        s->st.http_incomplete += hs->incomplete;
        s->st.http_truncated += hs->truncated;
        s->st.http_decode_errors += hs->decode_errors;
    }
    ns_http_parser_free(h->p);
    ns_free(h->target);
    ns__sf_file_release(&s->fdc, &h->hdr);
    ns__sf_file_release(&s->fdc, &h->body);
    ns_free(h);
}

/*
 * Does an HTTP/1.x message (a method of RFC 9110 section 9 and a space, or
 * "HTTP/") start within the first bytes of a direction (a stray byte or an
 * empty line may come first)? Parsers (64 KiB of header buffer each) are
 * only made for connections that pass, so TLS and other protocols cost
 * nothing.
 */
static bool looks_http(const uint8_t *p, size_t n, bool *resp)
{
    static const char *const starts[] = {"HTTP/",   "GET ",     "POST ",  "HEAD ",    "PUT ",
                                         "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "};
    for (size_t off = 0; off < 8 && off < n; off++) {
        for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
            size_t k = strlen(starts[i]);
            if (n - off >= k && memcmp(p + off, starts[i], k) == 0) {
                *resp = i == 0;
                return true;
            }
        }
    }
    return false;
}

void ns__sf_http_data(struct ns_streams *s, struct ns__sf_conn *c, int dir, const uint8_t *p,
                      size_t n)
{
    /* each direction's first bytes get one look; the first that passes sets the roles */
    if (c->d[0].http == NULL && !c->d[dir].http_tried) {
        c->d[dir].http_tried = true;
        bool resp = false;
        if (!looks_http(p, n, &resp)) {
            return;
        }
        int req_dir = resp ? 1 - dir : dir;
        c->d[req_dir].http = http_new(s, c, req_dir, NS_HTTP_REQUEST);
        c->d[1 - req_dir].http = http_new(s, c, 1 - req_dir, NS_HTTP_RESPONSE);
        if (c->d[0].http == NULL || c->d[1].http == NULL) {
            ns__sf_http_free(s, c);
            ns__sf_io_error(s, "allocate", "an HTTP parser", ENOMEM);
            return;
        }
        ns_http_pair(c->d[req_dir].http->p, c->d[1 - req_dir].http->p);
    }
    struct ns__sf_http *h = c->d[dir].http;
    if (h != NULL) {
        ns_http_feed(h->p, p, n);
    }
}

void ns__sf_http_gap(struct ns_streams *s, struct ns__sf_conn *c, int dir, uint64_t n)
{
    (void)s;
    struct ns__sf_http *h = c->d[dir].http;
    if (h != NULL) {
        ns_http_gap(h->p, n);
    }
}

void ns__sf_http_close(struct ns_streams *s, struct ns__sf_conn *c, int dir)
{
    struct ns__sf_http *h = c->d[dir].http;
    if (h != NULL) {
        ns_http_close(h->p);
        int rc = ns__sf_file_close(&s->fdc, &h->hdr, NULL);
        if (rc != 0) {
            ns__sf_io_error(s, "write", h->hdr.path, -rc);
        }
    }
}

void ns__sf_http_free(struct ns_streams *s, struct ns__sf_conn *c)
{
    for (int i = 0; i < 2; i++) {
        http_free(s, c->d[i].http);
        c->d[i].http = NULL;
    }
}
