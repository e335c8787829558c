/*
 * sink_streams_io.c - the hasher and writer threads of `netsift streams`:
 * MD5 / SHA-256 (OpenSSL EVP) and the report records on one, write(2),
 * futimens(2) and close(2) on the other, taken off the thread that
 * reassembles (issue 3: on two cores, the file system calls and the
 * digests of ~250k files ran on one).
 *
 *   producer (reassembly, names, open)
 *   part bytes -> file's pending buffer
 *        | full / evicted / part end
 *        v
 *   [DATA fd dg bytes][CLOSE fd ts][REC dg text] ...   (batches, <= cap bytes)
 *        | q1
 *        v
 *   hasher: hash DATA, finish digests and write REC records
 *        | q2 (DATA with a descriptor, CLOSE)
 *        v
 *   writer: write, stamp, close            -> done -> producer (reuse)
 *
 * Only the producer opens files (in order, so that the O_EXCL counter names
 * the same files as a single thread would); the other two do everything
 * after, in queue order. A descriptor closed by the writer can be handed
 * out again by a later open() on the producer, whose operations are queued
 * after the close: FIFO order makes that safe.
 *
 * Locking: one mutex guards the queues, the count of queued bytes, the done
 * list and the flags; each thread runs the operations it took with the
 * mutex released. Conditions: q1_cond (for the hasher), q2_cond (for the
 * writer), not_full (for a producer over the cap), idle (for a producer
 * draining the queues: at EMFILE, at the end, or when out of memory).
 */
#include "sink_streams_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netsift/alloc.h"

/* What an operation counts against the cap besides its bytes. */
#define SF_OP_COST 256
/* A batch is queued at this many operations or bytes. */
#define SF_BATCH_OPS   512
#define SF_BATCH_BYTES (1u << 20)
/* The writer gives room back every this many bytes. */
#define SF_RELEASE_BYTES (1u << 20)

static size_t op_size(const struct ns__sf_op *op)
{
    return op->len + SF_OP_COST;
}

static void digest_start(struct ns__sf_io *io, struct ns__sf_digest *dg)
{
    if (dg->md5 != NULL || dg->failed) {
        return;
    }
    if (io->npool >= 2) {
        io->npool -= 2;
        dg->md5 = io->pool[io->npool];
        dg->sha = io->pool[io->npool + 1];
    } else {
        dg->md5 = EVP_MD_CTX_new();
        dg->sha = EVP_MD_CTX_new();
    }
    if (dg->md5 == NULL || dg->sha == NULL ||
        EVP_DigestInit_ex2(dg->md5, io->s->md5_md, NULL) != 1 ||
        EVP_DigestInit_ex2(dg->sha, io->s->sha_md, NULL) != 1) {
        EVP_MD_CTX_free(dg->md5);
        EVP_MD_CTX_free(dg->sha);
        dg->md5 = NULL;
        dg->sha = NULL;
        dg->failed = true; /* zero digests rather than those of a part of the bytes */
    }
}

/* Finish dg into md5 / sha (zeros when it could not be made) and free it. */
static void digest_finish(struct ns__sf_io *io, struct ns__sf_digest *dg, unsigned char *md5,
                          unsigned char *sha)
{
    unsigned int len = 0;
    memset(md5, 0, EVP_MAX_MD_SIZE);
    memset(sha, 0, EVP_MAX_MD_SIZE);
    if (dg == NULL) {
        return;
    }
    digest_start(io, dg);
    if (dg->md5 != NULL) {
        EVP_DigestFinal_ex(dg->md5, md5, &len);
        EVP_DigestFinal_ex(dg->sha, sha, &len);
        if (io->npool + 2 <= sizeof(io->pool) / sizeof(io->pool[0])) {
            io->pool[io->npool] = dg->md5;
            io->pool[io->npool + 1] = dg->sha;
            io->npool += 2;
        } else {
            EVP_MD_CTX_free(dg->md5);
            EVP_MD_CTX_free(dg->sha);
        }
    }
    ns_free(dg);
}

/* Hasher: the digest part of an operation. */
static void run_hash(struct ns__sf_io *io, struct ns__sf_op *op)
{
    unsigned char md5[EVP_MAX_MD_SIZE];
    unsigned char sha[EVP_MAX_MD_SIZE];
    switch (op->kind) {
    case NS__SF_OP_DATA:
        if (op->dg != NULL) {
            digest_start(io, op->dg);
            if (op->dg->md5 != NULL) {
                EVP_DigestUpdate(op->dg->md5, op->buf, op->len);
                EVP_DigestUpdate(op->dg->sha, op->buf, op->len);
            }
        }
        break;
    case NS__SF_OP_CLOSE:
        break;
    case NS__SF_OP_REC:
        digest_finish(io, op->dg, md5, sha);
        op->dg = NULL;
        ns__sf_report_commit(io->s, op, md5, sha);
        break;
    }
}

/* Whether the writer has a part in op. */
static bool for_writer(const struct ns__sf_op *op)
{
    return op->kind == NS__SF_OP_CLOSE || (op->kind == NS__SF_OP_DATA && op->fd >= 0);
}

/* Writer: the file part of an operation. */
static void run_io(struct ns__sf_io *io, struct ns__sf_op *op)
{
    if (op->kind == NS__SF_OP_DATA && op->fd >= 0) {
        const uint8_t *p = op->buf;
        size_t n = op->len;
        while (n > 0) {
            ssize_t w = write(op->fd, p, n);
            if (w < 0) {
                if (errno == EINTR) {
                    continue;
                }
                ns__sf_io_error(io->s, "write", op->path, errno);
                return;
            }
            p += w;
            n -= (size_t)w;
        }
        return;
    }
    if (op->kind != NS__SF_OP_CLOSE) {
        return;
    }
    if (op->stamp && op->path != NULL) {
        struct timespec t[2] = {op->ts, op->ts};
        if (op->fd >= 0) {
            futimens(op->fd, t);
        } else {
            utimensat(AT_FDCWD, op->path, t, 0);
        }
    }
    if (op->fd >= 0 && close(op->fd) != 0 && errno != EINTR) {
        ns__sf_io_error(io->s, "write", op->path, errno);
    }
    if (op->free_path) {
        ns_free(op->path);
        op->path = NULL;
    }
}

/* Operations a thread has run, to hand on (to q2) or to retire (to done), in order. */
struct sf_list {
    struct ns__sf_op *head;
    struct ns__sf_op *tail;
};

static void list_add(struct sf_list *l, struct ns__sf_op *op)
{
    op->next = NULL;
    if (l->tail != NULL) {
        l->tail->next = op;
    } else {
        l->head = op;
    }
    l->tail = op;
}

static bool is_idle(const struct ns__sf_io *io)
{
    return io->q1_head == NULL && io->q2_head == NULL && !io->hasher_busy && !io->writer_busy;
}

/* With mu held: move fwd to q2 and ret to done, giving back ret_bytes of room. */
static void hand_on(struct ns__sf_io *io, struct sf_list *fwd, struct sf_list *ret,
                    size_t *ret_bytes)
{
    if (fwd->head != NULL) {
        if (io->q2_tail != NULL) {
            io->q2_tail->next = fwd->head;
        } else {
            io->q2_head = fwd->head;
        }
        io->q2_tail = fwd->tail;
        pthread_cond_signal(&io->q2_cond);
    }
    if (ret->head != NULL) {
        ret->tail->next = io->done;
        io->done = ret->head;
        io->queued -= *ret_bytes;
        pthread_cond_signal(&io->not_full);
    }
    fwd->head = fwd->tail = NULL;
    ret->head = ret->tail = NULL;
    *ret_bytes = 0;
}

/* The body of both threads: `writer` picks the stage. */
static void stage_loop(struct ns__sf_io *io, bool writer)
{
    struct ns__sf_op **qh = writer ? &io->q2_head : &io->q1_head;
    struct ns__sf_op **qt = writer ? &io->q2_tail : &io->q1_tail;
    pthread_cond_t *cond = writer ? &io->q2_cond : &io->q1_cond;
    bool *busy = writer ? &io->writer_busy : &io->hasher_busy;
    pthread_mutex_lock(&io->mu);
    for (;;) {
        while (*qh == NULL && !(writer ? io->hasher_done : io->stop)) {
            pthread_cond_wait(cond, &io->mu);
        }
        struct ns__sf_op *op = *qh;
        if (op == NULL) {
            break; /* the stage before is done, and nothing is left */
        }
        *qh = NULL; /* take the whole queue */
        *qt = NULL;
        *busy = true;
        pthread_mutex_unlock(&io->mu);

        struct sf_list fwd = {NULL, NULL};
        struct sf_list ret = {NULL, NULL};
        size_t ret_bytes = 0;
        size_t ran = 0;
        while (op != NULL) {
            struct ns__sf_op *next = op->next;
            size_t size = op_size(op);
            if (writer) {
                run_io(io, op);
            } else {
                run_hash(io, op);
            }
            if (!writer && for_writer(op)) {
                list_add(&fwd, op);
            } else {
                list_add(&ret, op);
                ret_bytes += size;
            }
            ran += size;
            op = next;
            if (ran >= SF_RELEASE_BYTES && op != NULL) {
                /* hand on and give room back as we go, not only at the end */
                pthread_mutex_lock(&io->mu);
                hand_on(io, &fwd, &ret, &ret_bytes);
                pthread_mutex_unlock(&io->mu);
                ran = 0;
            }
        }

        pthread_mutex_lock(&io->mu);
        hand_on(io, &fwd, &ret, &ret_bytes);
        *busy = false;
        if (is_idle(io)) {
            pthread_cond_broadcast(&io->idle);
        }
    }
    if (!writer) {
        io->hasher_done = true;
        pthread_cond_signal(&io->q2_cond);
    }
    pthread_mutex_unlock(&io->mu);
}

static void *hasher_main(void *arg)
{
    stage_loop(arg, false);
    return NULL;
}

static void *writer_main(void *arg)
{
    stage_loop(arg, true);
    return NULL;
}

uint8_t *ns__sf_io_buf_get(struct ns__sf_io *io, size_t n, size_t *cap)
{
    if (n <= io->small_cap) {
        *cap = io->small_cap;
        return io->nsmall > 0 ? io->small_pool[--io->nsmall] : ns_malloc(io->small_cap);
    }
    if (n <= io->big_cap) {
        *cap = io->big_cap;
        return io->nbig > 0 ? io->big_pool[--io->nbig] : ns_malloc(io->big_cap);
    }
    *cap = 0;
    return ns_malloc(n);
}

void ns__sf_io_buf_put(struct ns__sf_io *io, uint8_t *buf, size_t cap)
{
    if (buf == NULL) {
        return;
    }
    if (cap != 0 && cap == io->small_cap &&
        io->nsmall < sizeof(io->small_pool) / sizeof(io->small_pool[0])) {
        io->small_pool[io->nsmall++] = buf;
    } else if (cap != 0 && cap == io->big_cap &&
               io->nbig < sizeof(io->big_pool) / sizeof(io->big_pool[0])) {
        io->big_pool[io->nbig++] = buf;
    } else {
        ns_free(buf);
    }
}

/* Producer: keep (or free) the operations the writer is done with. */
static void reclaim(struct ns__sf_io *io, struct ns__sf_op *op)
{
    while (op != NULL) {
        struct ns__sf_op *next = op->next;
        ns__sf_io_buf_put(io, op->buf, op->cap);
        op->buf = NULL;
        if (io->nop_pool < 4096) {
            op->next = io->op_pool;
            io->op_pool = op;
            io->nop_pool++;
        } else {
            ns_free(op);
        }
        op = next;
    }
}

/* Queue the producer's batch (waiting while the queue is full). */
static void publish(struct ns__sf_io *io)
{
    if (io->bhead == NULL) {
        return;
    }
    pthread_mutex_lock(&io->mu);
    while (io->queued > 0 && io->queued + io->bbytes > io->cap) {
        pthread_cond_wait(&io->not_full, &io->mu);
    }
    if (io->q1_tail != NULL) {
        io->q1_tail->next = io->bhead;
    } else {
        io->q1_head = io->bhead;
    }
    io->q1_tail = io->btail;
    io->queued += io->bbytes;
    struct ns__sf_op *done = io->done;
    io->done = NULL;
    pthread_cond_signal(&io->q1_cond);
    pthread_mutex_unlock(&io->mu);
    reclaim(io, done);
    io->bhead = NULL;
    io->btail = NULL;
    io->bbytes = 0;
    io->bcount = 0;
}

int ns__sf_io_start(struct ns__sf_io *io, struct ns_streams *s, size_t cap, size_t buf_max)
{
    memset(io, 0, sizeof(*io));
    io->s = s;
    io->cap = cap;
    io->big_cap = buf_max;
    io->small_cap = buf_max < 4096 ? buf_max : 4096;
    if (pthread_mutex_init(&io->mu, NULL) != 0) {
        return NS_ENOMEM;
    }
    int n = 0;
    pthread_cond_t *conds[] = {&io->q1_cond, &io->q2_cond, &io->not_full, &io->idle};
    for (; n < 4; n++) {
        if (pthread_cond_init(conds[n], NULL) != 0) {
            goto fail;
        }
    }
    /* the threads start with every signal blocked: SIGINT is for the thread that reads */
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int hrc = pthread_create(&io->hasher, NULL, hasher_main, io);
    int wrc = hrc == 0 ? pthread_create(&io->writer, NULL, writer_main, io) : hrc;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (hrc != 0) {
        goto fail;
    }
    if (wrc != 0) {
        pthread_mutex_lock(&io->mu);
        io->stop = true;
        pthread_cond_signal(&io->q1_cond);
        pthread_mutex_unlock(&io->mu);
        pthread_join(io->hasher, NULL);
        goto fail;
    }
    io->started = true;
    return 0;
fail:
    while (n > 0) {
        pthread_cond_destroy(conds[--n]);
    }
    pthread_mutex_destroy(&io->mu);
    return NS_ENOMEM;
}

void ns__sf_io_drain(struct ns__sf_io *io)
{
    if (!io->started) {
        return;
    }
    publish(io);
    pthread_mutex_lock(&io->mu);
    while (!is_idle(io)) {
        pthread_cond_wait(&io->idle, &io->mu);
    }
    pthread_mutex_unlock(&io->mu);
}

bool ns__sf_io_pending(struct ns__sf_io *io)
{
    if (!io->started) {
        return false;
    }
    if (io->bhead != NULL) {
        return true;
    }
    pthread_mutex_lock(&io->mu);
    bool r = !is_idle(io);
    pthread_mutex_unlock(&io->mu);
    return r;
}

void ns__sf_io_submit(struct ns__sf_io *io, const struct ns__sf_op *op)
{
    struct ns__sf_op *q = NULL;
    if (io->started && io->op_pool != NULL) {
        q = io->op_pool;
        io->op_pool = q->next;
        io->nop_pool--;
    } else if (io->started) {
        q = ns_malloc(sizeof(*q));
    }
    if (q == NULL) {
        /* no memory for the queue (or no writer): wait for it to be done, then run it here */
        struct ns__sf_op tmp = *op;
        ns__sf_io_drain(io);
        run_hash(io, &tmp);
        run_io(io, &tmp);
        ns__sf_io_buf_put(io, tmp.buf, tmp.cap);
        return;
    }
    *q = *op;
    q->next = NULL;
    if (io->btail != NULL) {
        io->btail->next = q;
    } else {
        io->bhead = q;
    }
    io->btail = q;
    io->bbytes += op_size(q);
    io->bcount++;
    if (io->bcount >= SF_BATCH_OPS || io->bbytes >= SF_BATCH_BYTES) {
        publish(io);
    }
}

void ns__sf_io_stop(struct ns__sf_io *io)
{
    if (io->started) {
        publish(io);
        pthread_mutex_lock(&io->mu);
        io->stop = true;
        pthread_cond_signal(&io->q1_cond);
        pthread_mutex_unlock(&io->mu);
        pthread_join(io->hasher, NULL); /* it tells the writer when it is done */
        pthread_join(io->writer, NULL);
        io->started = false;
        reclaim(io, io->done);
        io->done = NULL;
        pthread_cond_destroy(&io->idle);
        pthread_cond_destroy(&io->not_full);
        pthread_cond_destroy(&io->q2_cond);
        pthread_cond_destroy(&io->q1_cond);
        pthread_mutex_destroy(&io->mu);
    }
    while (io->npool > 0) {
        EVP_MD_CTX_free(io->pool[--io->npool]);
    }
    while (io->op_pool != NULL) {
        struct ns__sf_op *next = io->op_pool->next;
        ns_free(io->op_pool);
        io->op_pool = next;
    }
    io->nop_pool = 0;
    while (io->nsmall > 0) {
        ns_free(io->small_pool[--io->nsmall]);
    }
    while (io->nbig > 0) {
        ns_free(io->big_pool[--io->nbig]);
    }
}
