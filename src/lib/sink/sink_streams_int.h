/*
 * sink_streams_int.h - what the files of the streams sink share: output files
 * behind an LRU cache of open descriptors (sink_streams_fdc.c), the
 * per-connection state (sink_streams.c), HTTP extraction
 * (sink_streams_http.c) and the reports (sink_streams_report.c).
 */
#ifndef NETSIFT_SINK_STREAMS_INT_H
#define NETSIFT_SINK_STREAMS_INT_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "netsift/http.h"
#include "netsift/streams.h"

/* --- files behind the descriptor cache --- */

struct ns__sf_file {
    char *path;               /* outdir/name (owned) */
    const char *name;         /* the name relative to the output directory (inside path) */
    int fd;                   /* -1 when not open */
    uint64_t size;            /* bytes written */
    struct ns__sf_file *prev; /* LRU: head is the most recently used */
    struct ns__sf_file *next;
};

struct ns__sf_fdc {
    size_t max;
    size_t open;
    struct ns__sf_file *head;
    struct ns__sf_file *tail;
    struct ns_streams_stats *st;
};

/*
 * Create path (its parent directories too when `mkdirs`), with O_EXCL when
 * `excl` (else an existing file is appended to), and hold it open in the
 * cache. Returns 0, or -errno (EEXIST: the name is taken).
 */
int ns__sf_file_create(struct ns__sf_fdc *c, struct ns__sf_file *f, bool mkdirs, bool excl);
/* Append (p, n), reopening the file for append when it was pushed out. Returns 0 or -errno. */
int ns__sf_file_write(struct ns__sf_fdc *c, struct ns__sf_file *f, const void *p, size_t n);
/* Append n zero bytes. Returns 0 or -errno. */
int ns__sf_file_zeros(struct ns__sf_fdc *c, struct ns__sf_file *f, uint64_t n);
/*
 * Set the file's times to ts (if not NULL; futimens when the descriptor is
 * open, saving a path walk), close the descriptor and leave the cache; the
 * path stays. Returns 0 or -errno.
 */
int ns__sf_file_close(struct ns__sf_fdc *c, struct ns__sf_file *f, const struct timespec *ts);
/* Close and free the path. */
void ns__sf_file_release(struct ns__sf_fdc *c, struct ns__sf_file *f);

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
    EVP_MD_CTX *md5;
    EVP_MD_CTX *sha;
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
    int io_rc;
    char io_msg[256];
    struct ns_http_opts http_opts;
    char jbuf[16384]; /* one JSON line */
};

/* Note an I/O failure (the first one is kept for ns_streams_finish). */
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
/* One finished part of direction dir; `why` is "fin", "rst", "end" or "split". */
void ns__sf_report_stream(struct ns_streams *s, const struct ns__sf_conn *c, int dir,
                          const char *why, const unsigned char *md5, const unsigned char *sha);
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
