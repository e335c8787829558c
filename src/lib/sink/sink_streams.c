/*
 * sink_streams.c - the streams sink: in-order bytes of each direction of a
 * TCP connection (RFC 9293, reassembled by src/lib/tcp) or of a UDP flow
 * (RFC 768) written to one file per direction, named as tcpflow names them
 * (sink_streams_name.c), through the descriptor cache (sink_streams_fdc.c).
 *
 * A direction's bytes go into "parts": part 1 is the first file; a gap
 * bigger than max_gap ends the part ("split") and the next bytes start a new
 * file, which gets the next free counter (`c1`, ...). A gap up to max_gap is
 * written as that many zero bytes, so offsets in the file stay those of the
 * stream (what tcpflow does for every gap, whatever its size: tcpflow #73).
 *
 *   bytes: [data][gap <= max_gap: zeros][data] | gap > max_gap | [data]...
 *          \____________ part 1 ____________/                 \_ part 2 _/
 *
 * Every part gets one DFXML fileobject and one JSON "stream" record when it
 * ends (close of the direction, end of the flow, or a split), with the MD5
 * and SHA-256 of its bytes computed while they were written.
 *
 * Names are chosen and files created on this (the producer's) thread;
 * digests and report records go to the hasher thread, writes and closes
 * to the writer thread (sink_streams_io.c), in order, so the output is the
 * same byte for byte as if one thread did it all.
 */
#include "netsift/streams.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netsift/alloc.h"
#include "sink_streams_int.h"

#define SF_DEFAULT_MAX_GAP (1u << 20)
#define SF_DEFAULT_MAX_FDS 256
#define SF_MAX_COUNTER     1000000 /* names tried before giving up on a free one */
#define SF_DEFAULT_QUEUE   (16u << 20)
#define SF_PEND_FILE_MAX   (64u << 10)

void ns__sf_io_error(struct ns_streams *s, const char *what, const char *path, int err_no)
{
    char buf[128];
    /* strerror() is not thread-safe; the GNU strerror_r returns the text it chose */
    const char *text = strerror_r(err_no, buf, sizeof(buf));
    pthread_mutex_lock(&s->err_mu);
    s->st.io_errors++;
    if (s->io_rc == 0) {
        s->io_rc = NS_EIO;
        snprintf(s->io_msg, sizeof(s->io_msg), "cannot %s '%s': %s", what, path != NULL ? path : "",
                 text);
    }
    pthread_mutex_unlock(&s->err_mu);
}

/* --- per-connection state --- */

static struct ns__sf_conn *conn_new(struct ns_streams *s, const struct ns_flow *f)
{
    struct ns__sf_conn *c = ns_calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        c->d[i].file.fd = -1;
    }
    ns_flow_endpoints(f, &c->addr[0], &c->port[0], &c->addr[1], &c->port[1]);
    c->proto = f->key.proto;
    c->ipver = f->key.ipver;
    c->vlan = f->key.vlan;
    c->conn_index = s->next_conn++;
    c->first_ns = f->first_ns;
    c->last_ns = f->last_ns;
    if (ns_flow_community_id(f, 0, c->community_id, sizeof(c->community_id)) != 0) {
        c->community_id[0] = '\0';
    }
    return c;
}

static void conn_counters(struct ns__sf_conn *c, const struct ns_flow *f)
{
    for (int i = 0; i < 2; i++) {
        c->d[i].pkts_now = f->packets[i];
        c->d[i].frame_bytes_now = f->bytes[i];
    }
    c->last_ns = f->last_ns;
}

static void name_of(const struct ns_streams *s, const struct ns__sf_conn *c, int dir,
                    struct ns_streams_name *nm)
{
    (void)s;
    memset(nm, 0, sizeof(*nm));
    nm->src = c->addr[dir];
    nm->dst = c->addr[1 - dir];
    nm->sport = c->port[dir];
    nm->dport = c->port[1 - dir];
    nm->vlan = c->vlan;
    nm->ts_ns = c->first_ns;
    nm->conn_index = c->conn_index;
}

/* outdir + "/" + name, with f->name pointing at the name. */
static int set_path(struct ns_streams *s, struct ns__sf_file *f, const char *name)
{
    size_t dl = s->outdir != NULL ? strlen(s->outdir) + 1 : 0;
    size_t nl = strlen(name);
    char *p = ns_malloc(dl + nl + 1);
    if (p == NULL) {
        return NS_ENOMEM;
    }
    if (dl > 0) {
        memcpy(p, s->outdir, dl - 1);
        p[dl - 1] = '/';
    }
    memcpy(p + dl, name, nl + 1);
    ns__sf_file_forget_path(&s->fdc, f);
    f->path = p;
    f->name = p + dl;
    return 0;
}

/*
 * Give the current part of direction dir a file: the template with the
 * lowest counter whose name is free, created with O_EXCL.
 */
static int part_create_file(struct ns_streams *s, struct ns__sf_conn *c, int dir)
{
    struct ns__sf_dir *d = &c->d[dir];
    struct ns_streams_name nm;
    char name[NS_STREAMS_NAME_MAX];
    name_of(s, c, dir, &nm);
    for (uint32_t count = 0; count < SF_MAX_COUNTER; count++) {
        nm.count = count;
        int rc = ns_streams_format_name(name, sizeof(name), s->tmpl, &nm);
        if (rc != 0) {
            ns__sf_io_error(s, "make a file name from the template", s->tmpl, ENAMETOOLONG);
            return rc;
        }
        rc = set_path(s, &d->file, name);
        if (rc != 0) {
            return rc;
        }
        bool excl = s->tmpl_counts;
        rc = ns__sf_file_create(&s->fdc, &d->file, s->tmpl_has_dirs, excl);
        if (rc == 0) {
            d->have_file = true;
            if (d->base_name == NULL) {
                d->base_name = ns_strdup(name);
                if (d->base_name == NULL) {
                    return NS_ENOMEM;
                }
            }
            return 0;
        }
        if (rc != -EEXIST) {
            ns__sf_io_error(s, "create", d->file.path, -rc);
            return NS_EIO;
        }
    }
    ns__sf_io_error(s, "find a free name for", d->file.path, EEXIST);
    return NS_EIO;
}

static void part_begin(struct ns_streams *s, struct ns__sf_conn *c, int dir, uint64_t ts)
{
    struct ns__sf_dir *d = &c->d[dir];
    d->part++;
    d->active = true;
    d->part_bytes = 0;
    d->part_first_ns = d->part == 1 ? c->first_ns : ts;
    d->part_last_ns = ts;
    d->part_capped = 0;
    if (s->need_digest && d->file.dg == NULL) {
        d->file.dg = ns_calloc(1, sizeof(*d->file.dg)); /* NULL: zero digests, as before */
    }
    if (d->base_name == NULL && (s->o.console != NULL || s->o.no_files)) {
        struct ns_streams_name nm;
        char name[NS_STREAMS_NAME_MAX];
        name_of(s, c, dir, &nm);
        if (ns_streams_format_name(name, sizeof(name), s->tmpl, &nm) == 0) {
            d->base_name = ns_strdup(name);
        }
    }
}

static bool part_active(const struct ns__sf_dir *d)
{
    return d->active;
}

/* Console mode: "NAME: " and the bytes, non-printable ones as '.', then a newline (tcpflow -c). */
static void console_write(struct ns_streams *s, const struct ns__sf_dir *d, const uint8_t *p,
                          size_t n)
{
    char buf[4096];
    FILE *out = s->o.console;
    fputs(d->base_name != NULL ? d->base_name : "", out);
    fputs(": ", out);
    while (n > 0) {
        size_t k = n < sizeof(buf) ? n : sizeof(buf);
        for (size_t i = 0; i < k; i++) {
            uint8_t ch = p[i];
            buf[i] = (ch >= 0x20 && ch < 0x7f) || ch == '\n' || ch == '\r' ? (char)ch : '.';
        }
        fwrite(buf, 1, k, out);
        p += k;
        n -= k;
    }
    fputc('\n', out);
}

/* Only hash (p, n): no file for this part. */
static void part_hash(struct ns_streams *s, struct ns__sf_dir *d, const uint8_t *p, size_t n)
{
    int rc = ns__sf_file_hash(&s->fdc, &d->file, p, n);
    if (rc != 0) {
        ns__sf_io_error(s, "hash", "a stream", -rc);
    }
}

/* Write (p, n) to the current part (which must be active), hashing it. */
static void part_write(struct ns_streams *s, struct ns__sf_conn *c, int dir, const uint8_t *p,
                       size_t n, bool zeros)
{
    struct ns__sf_dir *d = &c->d[dir];
    d->part_bytes += n;
    d->written += n;
    s->st.bytes += n;
    if (s->o.console != NULL || s->o.no_files) {
        if (s->o.console != NULL && !zeros) {
            console_write(s, d, p, n);
        }
        part_hash(s, d, p, n);
        return;
    }
    if (!d->have_file) {
        ns__sf_file_flush(&s->fdc, &d->file); /* bytes hashed while no file could be made */
        if (part_create_file(s, c, dir) != 0) {
            ns__sf_file_forget_path(&s->fdc, &d->file);
            part_hash(s, d, p, n);
            return;
        }
    }
    int rc = ns__sf_file_write(&s->fdc, &d->file, p, n);
    if (rc != 0) {
        ns__sf_io_error(s, "write", d->file.path, -rc);
    }
}

/* Apply max_bytes: how many of n bytes may still be kept. */
static size_t cap_room(struct ns_streams *s, struct ns__sf_dir *d, uint64_t n)
{
    if (s->o.max_bytes == 0) {
        return (size_t)n;
    }
    uint64_t room = d->written < s->o.max_bytes ? s->o.max_bytes - d->written : 0;
    uint64_t keep = n < room ? n : room;
    if (keep < n) {
        d->capped = true;
        d->part_capped += n - keep;
        s->st.capped_bytes += n - keep;
    }
    return (size_t)keep;
}

static void part_zeros(struct ns_streams *s, struct ns__sf_conn *c, int dir, uint64_t n)
{
    static const uint8_t zeros[65536];
    struct ns__sf_dir *d = &c->d[dir];
    n = cap_room(s, d, n);
    s->st.gap_zero_bytes += n;
    while (n > 0) {
        size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
        part_write(s, c, dir, zeros, k, true);
        n -= k;
    }
}

static const char *close_name(uint8_t why)
{
    switch (why) {
    case NS_TCP_CLOSE_FIN:
        return "fin";
    case NS_TCP_CLOSE_RST:
        return "rst";
    default:
        return "end";
    }
}

/* End the current part: hashes, reports, file time, descriptor. */
static void part_end(struct ns_streams *s, struct ns__sf_conn *c, int dir, const char *why)
{
    struct ns__sf_dir *d = &c->d[dir];
    if (!part_active(d)) {
        return;
    }
    /* the part's last bytes, then its record (the writer hashes in that order) */
    ns__sf_file_flush(&s->fdc, &d->file);
    struct ns__sf_digest *dg = d->file.dg;
    d->file.dg = NULL;
    ns__sf_report_stream(s, c, dir, why, dg);
    s->st.streams++;
    if (d->have_file) {
        struct timespec ts;
        ts.tv_sec = (time_t)(d->part_last_ns / 1000000000ULL);
        ts.tv_nsec = (long)(d->part_last_ns % 1000000000ULL);
        bool stamp = s->o.set_mtime && d->part_last_ns != 0;
        ns__sf_file_end(&s->fdc, &d->file, stamp ? &ts : NULL);
        d->have_file = false;
    }
    d->active = false;
    d->part_bytes = 0;
    d->part_last_ns = 0;
    d->part_gaps = 0;
    d->part_gap_bytes = 0;
    d->part_capped = 0;
    d->pkts_base = d->pkts_now;
    d->frame_bytes_base = d->frame_bytes_now;
}

static void dir_data(struct ns_streams *s, struct ns__sf_conn *c, int dir, const uint8_t *p,
                     size_t n, uint64_t ts)
{
    struct ns__sf_dir *d = &c->d[dir];
    if (n == 0) {
        return;
    }
    if (!part_active(d)) {
        part_begin(s, c, dir, ts);
    }
    d->part_last_ns = ts != 0 ? ts : d->part_last_ns;
    size_t keep = cap_room(s, d, n);
    if (keep > 0) {
        part_write(s, c, dir, p, keep, false);
    }
}

static void dir_gap(struct ns_streams *s, struct ns__sf_conn *c, int dir, uint64_t n, uint64_t ts)
{
    struct ns__sf_dir *d = &c->d[dir];
    uint64_t max_gap = s->o.max_gap;
    s->st.gaps++;
    s->st.gap_bytes += n;
    if (n <= max_gap) {
        if (!part_active(d)) {
            part_begin(s, c, dir, ts);
        }
        d->part_gaps++;
        d->part_gap_bytes += n;
        part_zeros(s, c, dir, n);
        return;
    }
    /* too big to fill: the part ends here (if it has begun) and the next bytes start a new one */
    if (part_active(d)) {
        d->part_gaps++;
        d->part_gap_bytes += n;
        part_end(s, c, dir, "split");
        s->st.splits++;
    }
}

static void dir_close(struct ns_streams *s, struct ns__sf_conn *c, int dir, uint8_t why)
{
    struct ns__sf_dir *d = &c->d[dir];
    if (d->closed) {
        return;
    }
    d->closed = true;
    d->close_reason = why;
    part_end(s, c, dir, close_name(why));
}

static void conn_free(struct ns_streams *s, struct ns__sf_conn *c)
{
    if (c == NULL) {
        return;
    }
    ns__sf_http_free(s, c);
    for (int i = 0; i < 2; i++) {
        struct ns__sf_dir *d = &c->d[i];
        ns__sf_file_release(&s->fdc, &d->file);
        ns_free(d->base_name);
    }
    ns_free(c);
}

/* --- TCP callbacks --- */

static struct ns__sf_conn *tcp_conn(struct ns_streams *s, struct ns_tcp_conn *tc)
{
    struct ns__sf_conn *c = tc->app;
    if (c == NULL && tc->flow != NULL) {
        c = conn_new(s, tc->flow);
        tc->app = c;
    }
    if (c != NULL && tc->flow != NULL) {
        conn_counters(c, tc->flow);
    }
    return c;
}

static void on_tcp_data(void *ud, struct ns_tcp_conn *tc, int dir, const uint8_t *data, size_t len,
                        uint64_t ts_ns)
{
    struct ns_streams *s = ud;
    struct ns__sf_conn *c = tcp_conn(s, tc);
    if (c == NULL || dir < 0 || dir > 1) {
        return;
    }
    dir_data(s, c, dir, data, len, ts_ns);
    if (s->o.http) {
        ns__sf_http_data(s, c, dir, data, len);
    }
}

static void on_tcp_gap(void *ud, struct ns_tcp_conn *tc, int dir, uint64_t len, uint64_t ts_ns)
{
    struct ns_streams *s = ud;
    struct ns__sf_conn *c = tcp_conn(s, tc);
    if (c == NULL || dir < 0 || dir > 1) {
        return;
    }
    dir_gap(s, c, dir, len, ts_ns);
    if (s->o.http) {
        ns__sf_http_gap(s, c, dir, len);
    }
}

static void on_tcp_close(void *ud, struct ns_tcp_conn *tc, int dir, enum ns_tcp_close why,
                         uint64_t ts_ns)
{
    struct ns_streams *s = ud;
    (void)ts_ns;
    struct ns__sf_conn *c = tc->app;
    if (c == NULL || dir < 0 || dir > 1) {
        return; /* no byte ever came: nothing to write or report */
    }
    conn_counters(c, tc->flow);
    if (s->o.http) {
        ns__sf_http_close(s, c, dir);
    }
    dir_close(s, c, dir, (uint8_t)why);
    if (c->d[0].closed && c->d[1].closed) {
        /*
         * Both directions are done: free the parsers now rather than when
         * the flow table lets the flow go (seconds later), so that memory
         * follows the open connections, not the lingering ones.
         */
        ns__sf_http_free(s, c);
    }
}

static void on_tcp_conn_end(void *ud, struct ns_tcp_conn *tc)
{
    struct ns_streams *s = ud;
    struct ns__sf_conn *c = tc->app;
    if (c == NULL) {
        return;
    }
    if (tc->flow != NULL) {
        conn_counters(c, tc->flow);
    }
    for (int i = 0; i < 2; i++) {
        if (s->o.http && !c->d[i].closed) {
            ns__sf_http_close(s, c, i);
        }
        dir_close(s, c, i, NS_TCP_CLOSE_END);
    }
    conn_free(s, c);
    tc->app = NULL;
}

void ns_streams_tcp_callbacks(struct ns_streams *s, struct ns_tcp_reasm_opts *ro)
{
    ro->on_data = on_tcp_data;
    ro->on_gap = on_tcp_gap;
    ro->on_close = on_tcp_close;
    ro->on_conn_end = on_tcp_conn_end;
    ro->ud = s;
}

/* --- UDP --- */

void ns_streams_packet(struct ns_streams *s, const struct ns_packet *p, struct ns_flow *flow,
                       int dir)
{
    if (!s->o.udp || flow == NULL || p->proto != NS_IPPROTO_UDP ||
        (p->flags & NS_PKT_F_HAS_L4) == 0 || dir < 0 || dir > 1) {
        return;
    }
    struct ns__sf_conn *c = flow->app;
    if (c == NULL) {
        if (p->payload_len == 0) {
            return;
        }
        c = conn_new(s, flow);
        if (c == NULL) {
            ns__sf_io_error(s, "allocate the state of", "a UDP flow", ENOMEM);
            return;
        }
        flow->app = c;
    }
    conn_counters(c, flow);
    s->st.udp_datagrams++;
    dir_data(s, c, dir, p->payload, p->payload_len, p->ts_ns);
}

void ns_streams_flow_end(struct ns_streams *s, struct ns_flow *flow)
{
    struct ns__sf_conn *c = flow->app;
    if (c == NULL || flow->key.proto != NS_IPPROTO_UDP) {
        return;
    }
    conn_counters(c, flow);
    for (int i = 0; i < 2; i++) {
        dir_close(s, c, i, NS_TCP_CLOSE_END);
    }
    conn_free(s, c);
    flow->app = NULL;
}

/* --- life cycle --- */

int ns_streams_new(struct ns_streams **out, const struct ns_streams_opts *opts,
                   struct ns_error *err)
{
    struct ns_streams *s = ns_calloc(1, sizeof(*s));
    int rc = 0;
    *out = NULL;
    if (s == NULL) {
        return ns_error_set(err, NS_ENOMEM, "out of memory");
    }
    s->o = *opts;
    if (!s->o.max_gap_set && s->o.max_gap == 0) {
        s->o.max_gap = SF_DEFAULT_MAX_GAP;
    }
    s->fdc.max = s->o.max_fds != 0 ? s->o.max_fds : SF_DEFAULT_MAX_FDS;
    s->fdc.st = &s->st;
    s->fdc.io = &s->io;
    s->fdc.dirfd = -1;
    size_t qcap = s->o.queue_bytes != 0 ? s->o.queue_bytes : SF_DEFAULT_QUEUE;
    s->fdc.pend_file_max = qcap / 8 < SF_PEND_FILE_MAX ? qcap / 8 : SF_PEND_FILE_MAX;
    if (s->fdc.pend_file_max == 0) {
        s->fdc.pend_file_max = 1;
    }
    s->fdc.pend_total_max = qcap / 2;
    if (pthread_mutex_init(&s->err_mu, NULL) != 0) {
        ns_free(s);
        return ns_error_set(err, NS_ENOMEM, "out of memory");
    }
    s->err_mu_init = true;
    s->tmpl = s->o.tmpl != NULL ? s->o.tmpl : NS_STREAMS_DEFAULT_TEMPLATE;
    s->tmpl_has_dirs = strchr(s->tmpl, '/') != NULL;
    s->tmpl_counts = strstr(s->tmpl, "%c") != NULL || strstr(s->tmpl, "%#") != NULL ||
                     strstr(s->tmpl, "%C") != NULL;
    ns_http_opts_init(&s->http_opts);
    if (opts->outdir != NULL && strcmp(opts->outdir, ".") != 0) {
        size_t n = strlen(opts->outdir);
        while (n > 1 && opts->outdir[n - 1] == '/') {
            n--;
        }
        s->outdir = ns_strndup(opts->outdir, n);
        if (s->outdir == NULL) {
            rc = ns_error_set(err, NS_ENOMEM, "out of memory");
            goto fail;
        }
        if (!s->o.no_files || s->o.report_xml) {
            if (mkdir(s->outdir, 0777) != 0 && errno != EEXIST) {
                rc = ns_error_set(err, NS_EIO, "cannot create directory '%s': %s", s->outdir,
                                  strerror(errno));
                goto fail;
            }
        }
    }
    if (s->outdir != NULL && !s->o.no_files && s->o.console == NULL) {
        s->fdc.dirfd = open(s->outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    s->md5_md = EVP_MD_fetch(NULL, "MD5", NULL);
    s->sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (s->md5_md == NULL || s->sha_md == NULL) {
        rc = ns_error_set(err, NS_ENOTSUP, "OpenSSL has no MD5 or SHA-256");
        goto fail;
    }
    rc = ns__sf_report_open(s, err);
    if (rc != 0) {
        goto fail;
    }
    s->need_digest = s->xml != NULL || s->o.report_json != NULL;
    if (ns__sf_io_start(&s->io, s, qcap, s->fdc.pend_file_max) != 0) {
        rc = ns_error_set(err, NS_ENOMEM, "cannot start the hasher and writer threads");
        goto fail;
    }
    *out = s;
    return 0;
fail:
    ns_streams_free(s);
    return rc;
}

/* Hand over every pending byte, close the open files, and wait for the writer to finish. */
static void io_finish(struct ns_streams *s)
{
    ns__sf_fdc_flush_all(&s->fdc);
    while (s->fdc.head != NULL) {
        ns__sf_file_close(&s->fdc, s->fdc.head, NULL);
    }
    ns__sf_io_stop(&s->io);
}

int ns_streams_finish(struct ns_streams *s, struct ns_error *err)
{
    io_finish(s);
    int rc = ns__sf_report_close(s);
    if (rc != 0 && s->io_rc == 0) {
        s->io_rc = rc;
        snprintf(s->io_msg, sizeof(s->io_msg), "cannot write the report: %s", strerror(errno));
    }
    if (s->io_rc != 0) {
        return ns_error_set(err, s->io_rc, "%s", s->io_msg);
    }
    return 0;
}

void ns_streams_get_stats(const struct ns_streams *s, struct ns_streams_stats *st)
{
    /* the writer may be counting an I/O error right now */
    pthread_mutex_t *mu = (pthread_mutex_t *)&s->err_mu;
    pthread_mutex_lock(mu);
    *st = s->st;
    pthread_mutex_unlock(mu);
}

void ns_streams_free(struct ns_streams *s)
{
    if (s == NULL) {
        return;
    }
    io_finish(s);
    if (s->xml != NULL) {
        fclose(s->xml);
    }
    EVP_MD_free(s->md5_md);
    EVP_MD_free(s->sha_md);
    ns_free(s->outdir);
    if (s->fdc.dirfd >= 0) {
        close(s->fdc.dirfd);
    }
    if (s->err_mu_init) {
        pthread_mutex_destroy(&s->err_mu);
    }
    ns_free(s);
}
