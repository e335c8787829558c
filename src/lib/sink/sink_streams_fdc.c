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

/* Close the least recently used descriptor; false if none is open. */
static bool evict_one(struct ns__sf_fdc *c)
{
    struct ns__sf_file *v = c->tail;
    if (v == NULL) {
        return false;
    }
    lru_unlink(c, v);
    close(v->fd);
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
        int fd = open(f->path, flags | O_CLOEXEC, 0666);
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
        if ((e == EMFILE || e == ENFILE) && evict_one(c)) {
            c->st->emfile_retries++;
            continue;
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

/* write(2) all of (p, n), reopening the file for append when it was pushed out. */
static int write_raw(struct ns__sf_fdc *c, struct ns__sf_file *f, const uint8_t *p, size_t n)
{
    if (f->fd < 0) {
        int rc = open_cached(c, f, O_WRONLY | O_APPEND);
        if (rc != 0) {
            return rc;
        }
        c->st->reopens++;
    } else if (c->head != f) {
        lru_unlink(c, f);
        lru_push(c, f);
    }
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int ns__sf_file_write(struct ns__sf_fdc *c, struct ns__sf_file *f, const void *p, size_t n)
{
    f->size += n;
    return write_raw(c, f, p, n);
}

int ns__sf_file_zeros(struct ns__sf_fdc *c, struct ns__sf_file *f, uint64_t n)
{
    static const uint8_t zeros[65536];
    while (n > 0) {
        size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
        int rc = ns__sf_file_write(c, f, zeros, k);
        if (rc != 0) {
            return rc;
        }
        n -= k;
    }
    return 0;
}

int ns__sf_file_close(struct ns__sf_fdc *c, struct ns__sf_file *f, const struct timespec *ts)
{
    int rc = 0;
    if (ts != NULL && f->path != NULL) {
        struct timespec t[2] = {*ts, *ts};
        if (f->fd >= 0) {
            futimens(f->fd, t);
        } else {
            utimensat(AT_FDCWD, f->path, t, 0);
        }
    }
    if (f->fd >= 0) {
        lru_unlink(c, f);
        close(f->fd);
        f->fd = -1;
        c->open--;
    }
    return rc;
}

void ns__sf_file_release(struct ns__sf_fdc *c, struct ns__sf_file *f)
{
    ns__sf_file_close(c, f, NULL);
    ns_free(f->path);
    f->path = NULL;
    f->name = NULL;
    f->size = 0;
}
