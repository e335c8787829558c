/*
 * sink_streams_int.h - what the files of the streams sink share: output files
 * behind an LRU cache of open descriptors (sink_streams_fdc.c), the
 * per-connection state (sink_streams.c), HTTP extraction
 * (sink_streams_http.c) and the reports (sink_streams_report.c).
 */
#ifndef NETSIFT_SINK_STREAMS_INT_H
#define NETSIFT_SINK_STREAMS_INT_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "netsift/http.h"
#include "netsift/streams.h"

/* --- the hasher and writer threads (sink_streams_io.c) --- */

/*
 * MD5 and SHA-256 of one part. Made (zeroed) by the producer when the part
 * begins; from then on only the hasher thread looks inside: it hashes the
 * bytes of the DATA operations that name it and finishes, reports and frees
 * it in the part's REC operation.
 */
struct ns__sf_digest {
    EVP_MD_CTX *md5;
    EVP_MD_CTX *sha;
    bool failed; /* no contexts could be made: the digests are zeros */
};

enum ns__sf_op_kind {
    NS__SF_OP_DATA,  /* hash (dg) and write (fd) the bytes */
    NS__SF_OP_CLOSE, /* set the times (stamp), close fd, free path (free_path) */
    NS__SF_OP_REC,   /* finish dg, put the digests into the record text, write it */
};

/* At offsets `at` of a REC text go the hex digests (NS__SF_AT_NONE: not there). */
enum { NS__SF_AT_XML_MD5, NS__SF_AT_XML_SHA, NS__SF_AT_JSON_MD5, NS__SF_AT_JSON_SHA, NS__SF_AT_N };
#define NS__SF_AT_NONE SIZE_MAX

struct ns__sf_op {
    struct ns__sf_op *next;
    enum ns__sf_op_kind kind;
    int fd;                   /* DATA, CLOSE: -1 when none */
    bool stamp;               /* CLOSE: set the file's times to ts */
    bool free_path;           /* CLOSE: the path is freed after */
    struct timespec ts;       /* CLOSE */
    char *path;               /* DATA, CLOSE: for utimensat and messages; borrowed */
    struct ns__sf_digest *dg; /* DATA: hash into; REC: finish, then let go (NULL: zero digests) */
    uint8_t *buf;             /* DATA: the bytes; REC: XML then JSON text (owned) */
    size_t len;
    size_t cap;             /* buf's size when it came from ns__sf_io_buf_get, else 0 */
    size_t xml_len;         /* REC: buf[0, xml_len) is for report.xml, the rest JSON */
    size_t at[NS__SF_AT_N]; /* REC */
};

/*
 * Two threads behind a FIFO of operations: the producer (the thread that
 * feeds the sink) creates and opens files itself, so that names and the
 * counter are decided in order, and hands everything after to a pipeline:
 *
 *   producer --q1--> hasher (digests, report records) --q2--> writer
 *                                                 (write, futimens, close)
 *
 * FIFO order at each step keeps a file's writes before its close and the
 * report records in the order the parts ended. The bytes queued (q1, q2
 * and the operations being run) are capped: the producer waits when full.
 *
 * Shared, under mu: q1, q2, queued, done, the busy flags, stop and
 * hasher_done. The hasher alone uses pool (digest contexts) and writes the
 * reports; each thread alone uses the operations it has taken; the producer
 * alone the batch (b*), the pools of operations and buffers, and everything
 * else in the sink. Operations are queued in batches and each thread takes
 * its whole queue at once, so that the threads do not wake each other for
 * every operation; run operations come back to the producer (done) to be
 * used again, so memory is allocated and freed on one thread.
 */
struct ns__sf_io {
    struct ns_streams *s;
    pthread_mutex_t mu;
    pthread_cond_t q1_cond;  /* q1 got operations, or stop */
    pthread_cond_t q2_cond;  /* q2 got operations, or the hasher is done */
    pthread_cond_t not_full; /* operations were retired */
    pthread_cond_t idle;     /* nothing is queued or running */
    struct ns__sf_op *q1_head;
    struct ns__sf_op *q1_tail;
    struct ns__sf_op *q2_head;
    struct ns__sf_op *q2_tail;
    size_t queued; /* bytes of the operations not yet retired (with a fixed cost each) */
    size_t cap;
    bool hasher_busy;
    bool writer_busy;
    bool stop;
    bool hasher_done; /* stopped, q1 empty: the writer ends when q2 is */
    bool started;
    pthread_t hasher;
    pthread_t writer;
    struct ns__sf_op *bhead; /* producer only: a batch not yet queued */
    struct ns__sf_op *btail;
    size_t bbytes;
    size_t bcount;
    struct ns__sf_op *done;    /* retired operations, for the producer to reuse or free */
    struct ns__sf_op *op_pool; /* producer only: reusable operations and buffers */
    size_t nop_pool;
    size_t small_cap; /* the two sizes of pooled buffers */
    size_t big_cap;
    uint8_t *small_pool[2048];
    size_t nsmall;
    uint8_t *big_pool[64];
    size_t nbig;
    EVP_MD_CTX *pool[64]; /* hasher only: digest contexts to reuse, in pairs */
    size_t npool;
};

/*
 * Start the hasher and the writer; buffers are pooled in sizes
 * min(4096, buf_max) and buf_max. Returns 0 or NS_ENOMEM.
 */
int ns__sf_io_start(struct ns__sf_io *io, struct ns_streams *s, size_t cap, size_t buf_max);
/* Producer: a buffer of at least n bytes, *cap set to its size; NULL when out of memory. */
uint8_t *ns__sf_io_buf_get(struct ns__sf_io *io, size_t n, size_t *cap);
/* Producer: give back a buffer from ns__sf_io_buf_get (or free one with cap 0). */
void ns__sf_io_buf_put(struct ns__sf_io *io, uint8_t *buf, size_t cap);
/*
 * Queue a copy of *op (taking op->buf and, with free_path, op->path); waits
 * while the queue is full. When no memory is left for the copy, waits until
 * the pipeline is idle and runs the operation on this thread instead.
 */
void ns__sf_io_submit(struct ns__sf_io *io, const struct ns__sf_op *op);
/* Whether operations are queued or running. */
bool ns__sf_io_pending(struct ns__sf_io *io);
/* Wait until every queued operation is done. */
void ns__sf_io_drain(struct ns__sf_io *io);
/* Finish the queues and join the threads (no-op if they never started). */
void ns__sf_io_stop(struct ns__sf_io *io);

/* --- files behind the descriptor cache --- */

/*
 * A file's bytes are gathered in `pend` and handed to the writer in one
 * operation when they reach the per-file cap, when the file leaves the
 * cache, when all files' pending bytes reach their cap, and when it ends.
 * A file with no path (console mode, -FX, a failed create) only has its
 * bytes hashed.
 */
struct ns__sf_file {
    char *path;               /* outdir/name (owned) */
    const char *name;         /* the name relative to the output directory (inside path) */
    int fd;                   /* -1 when not open */
    uint64_t size;            /* bytes written */
    struct ns__sf_file *prev; /* LRU: head is the most recently used */
    struct ns__sf_file *next;
    uint8_t *pend; /* bytes not yet handed to the writer */
    size_t pend_len;
    size_t pend_cap;
    bool dirty;                /* in the list of files with pending bytes */
    bool shared;               /* queued operations use path: the writer frees it */
    struct ns__sf_file *dprev; /* list of files with pending bytes */
    struct ns__sf_file *dnext;
    struct ns__sf_digest *dg; /* the current part's digests (stream files), or NULL */
};

struct ns__sf_fdc {
    size_t max;
    size_t open;
    struct ns__sf_file *head;
    struct ns__sf_file *tail;
    struct ns_streams_stats *st;
    struct ns__sf_io *io;
    int dirfd;                 /* the output directory, for openat(); -1: use the paths */
    struct ns__sf_file *dirty; /* files with pending bytes */
    size_t pend_total;         /* the size of their buffers */
    size_t pend_file_max;      /* hand a file's bytes over at this many */
    size_t pend_total_max;     /* hand every file's bytes over when their buffers pass this */
};

/*
 * Create path (its parent directories too when `mkdirs`), with O_EXCL when
 * `excl` (else an existing file is appended to), and hold it open in the
 * cache. Returns 0, or -errno (EEXIST: the name is taken).
 */
int ns__sf_file_create(struct ns__sf_fdc *c, struct ns__sf_file *f, bool mkdirs, bool excl);
/*
 * Append (p, n) (copied), reopening the file for append when it was pushed
 * out. The writer reports its own failures (ns__sf_io_error). Returns 0 or
 * -errno (the reopen, or no memory).
 */
int ns__sf_file_write(struct ns__sf_fdc *c, struct ns__sf_file *f, const void *p, size_t n);
/* Hash (p, n) with f->dg only (a file with no path). Returns 0 or -ENOMEM. */
int ns__sf_file_hash(struct ns__sf_fdc *c, struct ns__sf_file *f, const void *p, size_t n);
/* Hand f's pending bytes to the writer. */
void ns__sf_file_flush(struct ns__sf_fdc *c, struct ns__sf_file *f);
/*
 * Set the file's times to ts (if not NULL; futimens when the descriptor is
 * open, saving a path walk), close the descriptor and leave the cache; the
 * path stays. Done by the writer, in order. Returns 0.
 */
int ns__sf_file_close(struct ns__sf_fdc *c, struct ns__sf_file *f, const struct timespec *ts);
/* Close and let go of the path. */
void ns__sf_file_release(struct ns__sf_fdc *c, struct ns__sf_file *f);
/* ns__sf_file_close then ns__sf_file_release, in one operation. */
void ns__sf_file_end(struct ns__sf_fdc *c, struct ns__sf_file *f, const struct timespec *ts);
/* Let go of f->path (not open): freed now, or by the writer when operations use it. */
void ns__sf_file_forget_path(struct ns__sf_fdc *c, struct ns__sf_file *f);
/* Hand every file's pending bytes to the writer. */
void ns__sf_fdc_flush_all(struct ns__sf_fdc *c);

/* --- per connection --- */

struct ns__sf_http;

struct ns__sf_dir {
    struct ns__sf_file file; /* the current part */
    bool active;             /* a part has begun and not ended */
    bool have_file;          /* the current part has been given a name */
    bool closed;
    bool capped;          /* max_bytes reached */
    uint8_t close_reason; /* enum ns_tcp_close */
    uint32_t part;        /* 1-based number of the current part, 0 before the first */
    uint64_t written;     /* over all parts, for max_bytes */
    uint64_t part_bytes;
    uint64_t part_first_ns;
    uint64_t part_last_ns;
    uint32_t part_gaps;
    uint64_t part_gap_bytes;
    uint64_t part_capped; /* bytes dropped by max_bytes in this part */
    uint64_t pkts_base;   /* flow counters when the part started */
    uint64_t frame_bytes_base;
    uint64_t pkts_now; /* flow counters at the last callback */
    uint64_t frame_bytes_now;
    char *base_name; /* name of part 1, the stem of the -HTTP files (owned) */
    bool http_tried; /* -a: the first bytes had their look (sink_streams_http.c) */
    struct ns__sf_http *http;
};

struct ns__sf_conn {
    struct ns__sf_dir d[2];
    uint8_t proto;
    uint8_t ipver;
    struct ns_addr addr[2]; /* [0] the flow's src, [1] its dst */
    uint16_t port[2];
    uint16_t vlan;
    uint64_t conn_index;
    uint64_t first_ns;
    uint64_t last_ns;
    char community_id[48];
};

/* --- the sink --- */

struct ns_streams {
    struct ns_streams_opts o;
    char *outdir; /* NULL when writing into "." */
    const char *tmpl;
    bool tmpl_has_dirs;
    bool tmpl_counts; /* the template's name changes with the counter */
    struct ns__sf_fdc fdc;
    struct ns_streams_stats st;
    EVP_MD *md5_md;
    EVP_MD *sha_md;
    FILE *xml;
    uint64_t next_conn;
    uint64_t xml_files;
    bool need_digest; /* a report wants MD5 and SHA-256 */
    struct ns__sf_io io;
    pthread_mutex_t err_mu; /* io_rc, io_msg, st.io_errors: both threads report */
    bool err_mu_init;
    int io_rc;
    char io_msg[256];
    struct ns_http_opts http_opts;
    char jbuf[16384]; /* one JSON line */
};

/* Note an I/O failure (the first one is kept for ns_streams_finish); either thread may call it. */
void ns__sf_io_error(struct ns_streams *s, const char *what, const char *path, int err_no);

/* --- HTTP (sink_streams_http.c) --- */

/* Feed in-order bytes of direction dir; creates the parsers on the first bytes. */
void ns__sf_http_data(struct ns_streams *s, struct ns__sf_conn *c, int dir, const uint8_t *p,
                      size_t n);
void ns__sf_http_gap(struct ns_streams *s, struct ns__sf_conn *c, int dir, uint64_t n);
void ns__sf_http_close(struct ns_streams *s, struct ns__sf_conn *c, int dir);
void ns__sf_http_free(struct ns_streams *s, struct ns__sf_conn *c);

/* --- reports (sink_streams_report.c) --- */

int ns__sf_report_open(struct ns_streams *s, struct ns_error *err);
/*
 * One finished part of direction dir; `why` is "fin", "rst", "end" or
 * "split". Takes dg: the record is queued for the writer, which puts in the
 * digests once it has hashed the part's bytes queued before it.
 */
void ns__sf_report_stream(struct ns_streams *s, const struct ns__sf_conn *c, int dir,
                          const char *why, struct ns__sf_digest *dg);
/* The writer's side of a REC operation: digests into the text, text into the reports. */
void ns__sf_report_commit(struct ns_streams *s, struct ns__sf_op *op, const unsigned char *md5,
                          const unsigned char *sha);
/* One finished HTTP message. */
struct ns__sf_http_rec {
    const char *file; /* body file name relative to the output directory, or NULL */
    const char *header_file;
    enum ns_http_kind kind;
    uint64_t index;
    const char *method;
    const char *target;
    unsigned status;
    const char *content_type;
    const char *content_encoding;
    uint64_t body_bytes;
    uint64_t raw_body_bytes;
    unsigned flags;
};
void ns__sf_report_http(struct ns_streams *s, const struct ns__sf_conn *c, int dir,
                        const struct ns__sf_http_rec *r);
int ns__sf_report_close(struct ns_streams *s);

#endif
