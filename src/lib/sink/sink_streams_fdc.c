/*
 * sink_streams_fdc.c - output files of `netsift streams` behind an LRU cache
 * of open descriptors (tcpflow issue #134: bytes were lost at the open-file
 * limit).
 *
 *   head (most recent) <-> ... <-> tail (least recent: closed first)
 *
 * At most `max` descriptors are open. A file pushed out of the cache is
 * closed; its next write reopens it with O_APPEND. An open() that fails with
 * EMFILE or ENFILE (the process or the system ran out, e.g. a lower ulimit
 * than max) closes the least recently used file and tries again, until the
 * cache is empty: only then is it an error.
 *
 * Opens happen here, on the producer; writes, time stamps and closes are
 * operations for the writer thread (sink_streams_io.c, after the hasher
 * has seen the bytes), queued in order. A file's bytes are gathered first,
 * so that a stream written in many small pieces costs a few write(2) calls:
 *
 *   write -> pend (<= pend_file_max) -> DATA op when full, when the file is
 *   evicted or ends, or when all files' pending buffers pass pend_total_max
 *
 * A close is queued, so a descriptor stays open until the writer gets to
 * it: at EMFILE / ENFILE the queue is drained first, and only then is one
 * more file closed.
 */
#include "sink_streams_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netsift/alloc.h"

static void lru_unlink(struct ns__sf_fdc *c, struct ns__sf_file *f)
{
    if (f->prev != NULL) {
        f->prev->next = f->next;
    } else {
        c->head = f->next;
    }
    if (f->next != NULL) {
        f->next->prev = f->prev;
    } else {
        c->tail = f->prev;
    }
    f->prev = NULL;
    f->next = NULL;
}

static void lru_push(struct ns__sf_fdc *c, struct ns__sf_file *f)
{
    f->prev = NULL;
    f->next = c->head;
    if (c->head != NULL) {
        c->head->prev = f;
    }
    c->head = f;
    if (c->tail == NULL) {
        c->tail = f;
    }
}

static void dirty_unlink(struct ns__sf_fdc *c, struct ns__sf_file *f)
{
    if (!f->dirty) {
        return;
    }
    if (f->dprev != NULL) {
        f->dprev->dnext = f->dnext;
    } else {
        c->dirty = f->dnext;
    }
    if (f->dnext != NULL) {
        f->dnext->dprev = f->dprev;
    }
    f->dprev = NULL;
    f->dnext = NULL;
    f->dirty = false;
}

static void dirty_push(struct ns__sf_fdc *c, struct ns__sf_file *f)
{
    if (f->dirty) {
        return;
    }
    f->dprev = NULL;
    f->dnext = c->dirty;
    if (c->dirty != NULL) {
        c->dirty->dprev = f;
    }
    c->dirty = f;
    f->dirty = true;
}

/* Queue a DATA operation for f's descriptor (or none: hash only), taking buf (of size cap). */
static void submit_data(struct ns__sf_fdc *c, struct ns__sf_file *f, uint8_t *buf, size_t n,
                        size_t cap)
{
    struct ns__sf_op op;
    memset(&op, 0, sizeof(op));
    op.kind = NS__SF_OP_DATA;
    op.fd = f->fd;
    op.path = f->path;
    op.dg = f->dg;
    op.buf = buf;
    op.len = n;
    op.cap = cap;
    if (f->path != NULL) {
        f->shared = true;
    }
    ns__sf_io_submit(c->io, &op);
}

void ns__sf_file_flush(struct ns__sf_fdc *c, struct ns__sf_file *f)
{
    if (f->pend_len == 0) {
        return;
    }
    uint8_t *buf = f->pend;
    size_t n = f->pend_len;
    size_t cap = f->pend_cap;
    c->pend_total -= cap;
    f->pend = NULL;
    f->pend_len = 0;
    f->pend_cap = 0;
    dirty_unlink(c, f);
    submit_data(c, f, buf, n, cap);
}

void ns__sf_fdc_flush_all(struct ns__sf_fdc *c)
{
    while (c->dirty != NULL) {
        ns__sf_file_flush(c, c->dirty);
    }
}

/* Queue a CLOSE operation: times (ts), descriptor, and the path when `release`. */
static void submit_close(struct ns__sf_fdc *c, struct ns__sf_file *f, const struct timespec *ts,
                         bool release)
{
    struct ns__sf_op op;
    memset(&op, 0, sizeof(op));
    op.kind = NS__SF_OP_CLOSE;
    op.fd = f->fd;
    op.path = f->path;
    op.free_path = release;
    if (ts != NULL && f->path != NULL) {
        op.stamp = true;
        op.ts = *ts;
    }
    if (f->path != NULL && !release) {
        f->shared = true;
    }
    ns__sf_io_submit(c->io, &op);
}

/* Close the least recently used descriptor; false if none is open. */
static bool evict_one(struct ns__sf_fdc *c)
{
    struct ns__sf_file *v = c->tail;
    if (v == NULL) {
        return false;
    }
    ns__sf_file_flush(c, v);
    lru_unlink(c, v);
    submit_close(c, v, NULL, false);
    v->fd = -1;
    c->open--;
    c->st->evictions++;
    return true;
}

/* mkdir -p of the directories in path (not its last component). */
static int make_parents(const char *path)
{
    size_t n = strlen(path);
    char *tmp = ns_strndup(path, n);
    int rc = 0;
    if (tmp == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 1; i < n; i++) {
        if (tmp[i] != '/') {
            continue;
        }
        tmp[i] = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST) {
            rc = -errno;
            break;
        }
        tmp[i] = '/';
    }
    ns_free(tmp);
    return rc;
}

static int open_cached(struct ns__sf_fdc *c, struct ns__sf_file *f, int flags)
{
    while (c->open >= c->max && evict_one(c)) {
    }
    for (;;) {
        /* relative to the output directory's descriptor: a shorter path walk */
        int fd = c->dirfd >= 0 ? openat(c->dirfd, f->name, flags | O_CLOEXEC, 0666)
                               : open(f->path, flags | O_CLOEXEC, 0666);
        if (fd >= 0) {
            f->fd = fd;
            c->open++;
            c->st->opens++;
            lru_push(c, f);
            return 0;
        }
        int e = errno;
        if (e == EINTR) {
            continue;
        }
        if (e == EMFILE || e == ENFILE) {
            if (ns__sf_io_pending(c->io)) {
                ns__sf_io_drain(c->io); /* closes may be waiting in the queue */
                continue;
            }
            if (evict_one(c)) {
                c->st->emfile_retries++;
                ns__sf_io_drain(c->io);
                continue;
            }
        }
        return -e;
    }
}

int ns__sf_file_create(struct ns__sf_fdc *c, struct ns__sf_file *f, bool mkdirs, bool excl)
{
    int flags = O_WRONLY | O_CREAT | O_APPEND | (excl ? O_EXCL : 0);
    if (mkdirs) {
        int rc = make_parents(f->path);
        if (rc != 0) {
            return rc;
        }
    }
    return open_cached(c, f, flags);
}

/* Gather (p, n) in f->pend, handing bytes to the writer as the caps say. */
static int append(struct ns__sf_fdc *c, struct ns__sf_file *f, const uint8_t *p, size_t n)
{
    if (n == 0) {
        return 0;
    }
    if (f->pend_len + n > c->pend_file_max) {
        ns__sf_file_flush(c, f);
    }
    if (n >= c->pend_file_max) {
        size_t cap = 0;
        uint8_t *buf = ns__sf_io_buf_get(c->io, n, &cap);
        if (buf == NULL) {
            return -ENOMEM;
        }
        memcpy(buf, p, n);
        submit_data(c, f, buf, n, cap);
        return 0;
    }
    if (f->pend_len + n > f->pend_cap) {
        size_t cap = 0;
        uint8_t *np = ns__sf_io_buf_get(c->io, f->pend_len + n, &cap);
        if (np == NULL) {
            return -ENOMEM;
        }
        if (f->pend_len > 0) {
            memcpy(np, f->pend, f->pend_len);
        }
        ns__sf_io_buf_put(c->io, f->pend, f->pend_cap);
        c->pend_total += cap - f->pend_cap;
        f->pend = np;
        f->pend_cap = cap;
    }
    memcpy(f->pend + f->pend_len, p, n);
    f->pend_len += n;
    dirty_push(c, f);
    if (c->pend_total > c->pend_total_max) {
        ns__sf_fdc_flush_all(c);
    }
    return 0;
}

int ns__sf_file_write(struct ns__sf_fdc *c, struct ns__sf_file *f, const void *p, size_t n)
{
    f->size += n;
    if (f->fd < 0) {
        int rc = open_cached(c, f, O_WRONLY | O_APPEND);
        if (rc != 0) {
            if (f->dg != NULL) {
                /* not written, but hashed all the same (as the bytes are counted) */
                struct ns__sf_file tmp = *f;
                tmp.fd = -1;
                tmp.path = NULL;
                size_t cap = 0;
                uint8_t *buf = ns__sf_io_buf_get(c->io, n, &cap);
                if (buf != NULL) {
                    memcpy(buf, p, n);
                    submit_data(c, &tmp, buf, n, cap);
                }
            }
            return rc;
        }
        c->st->reopens++;
    } else if (c->head != f) {
        lru_unlink(c, f);
        lru_push(c, f);
    }
    return append(c, f, p, n);
}

int ns__sf_file_hash(struct ns__sf_fdc *c, struct ns__sf_file *f, const void *p, size_t n)
{
    if (f->dg == NULL) {
        return 0;
    }
    return append(c, f, p, n);
}

int ns__sf_file_close(struct ns__sf_fdc *c, struct ns__sf_file *f, const struct timespec *ts)
{
    ns__sf_file_flush(c, f);
    if (f->fd >= 0 || (ts != NULL && f->path != NULL)) {
        if (f->fd >= 0) {
            lru_unlink(c, f);
            c->open--;
        }
        submit_close(c, f, ts, false);
        f->fd = -1;
    }
    return 0;
}

void ns__sf_file_end(struct ns__sf_fdc *c, struct ns__sf_file *f, const struct timespec *ts)
{
    ns__sf_file_flush(c, f);
    if (f->fd >= 0) {
        lru_unlink(c, f);
        c->open--;
    }
    if (f->fd >= 0 || f->shared || (ts != NULL && f->path != NULL)) {
        submit_close(c, f, ts, true); /* the writer frees the path */
    } else {
        ns_free(f->path);
    }
    if (f->dg != NULL) {
        /* a part never reported: let the writer free its digests */
        struct ns__sf_op op;
        memset(&op, 0, sizeof(op));
        op.kind = NS__SF_OP_REC;
        op.dg = f->dg;
        for (int i = 0; i < NS__SF_AT_N; i++) {
            op.at[i] = NS__SF_AT_NONE;
        }
        ns__sf_io_submit(c->io, &op);
        f->dg = NULL;
    }
    c->pend_total -= f->pend_cap;
    ns__sf_io_buf_put(c->io, f->pend, f->pend_cap);
    f->pend = NULL;
    f->pend_cap = 0;
    f->fd = -1;
    f->path = NULL;
    f->name = NULL;
    f->size = 0;
    f->shared = false;
}

void ns__sf_file_forget_path(struct ns__sf_fdc *c, struct ns__sf_file *f)
{
    if (f->shared) {
        int fd = f->fd;
        f->fd = -1;
        submit_close(c, f, NULL, true);
        f->fd = fd;
    } else {
        ns_free(f->path);
    }
    f->path = NULL;
    f->name = NULL;
    f->shared = false;
}

void ns__sf_file_release(struct ns__sf_fdc *c, struct ns__sf_file *f)
{
    ns__sf_file_end(c, f, NULL);
}
