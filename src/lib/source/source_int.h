/*
 * source_int.h - internals shared by the files of the source stage.
 *
 *   source_stream.c  byte streams: a file descriptor or a memory block, plain
 *                    or gzip (RFC 1952, inflated with zlib), wrapped in a
 *                    stdio FILE with fopencookie for the pcapng reader
 *   source_pcapng.c  our own pcapng block reader (libpcap 1.10 refuses files
 *                    whose interfaces have different link types)
 *   source_pcapr.c   our own classic pcap reader: records as views into one
 *                    large buffer filled straight from the stream
 *   source_pcap.c    one input: opens the stream, detects the format by its
 *                    magic, reads records with one of the two readers
 *   source_dir.c     directory walk
 *   source_merge.c   ns_source_open/next/free: peek, heap merge, BPF
 *   source_live.c    live interfaces
 */
#ifndef NETSIFT_SOURCE_INT_H
#define NETSIFT_SOURCE_INT_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "netsift/err.h"
#include "netsift/source.h"

#define NS__SOURCE_BIG_BUF   ((size_t)1 << 20) /* stdio buffer of an input under the cap */
#define NS__SOURCE_SMALL_BUF ((size_t)1 << 16) /* stdio buffer of an input over the cap */
#define NS__SOURCE_MAX_SNAP  262144u           /* libpcap's MAXIMUM_SNAPLEN */

/* ---- source_stream.c ---- */

struct ns__stream;

/*
 * Open a stream over `fd` (taken: closed by ns__stream_free) or, when fd < 0,
 * over the memory block (mem, len) (borrowed). The first bytes are peeked to
 * detect gzip (1f 8b), which is then inflated transparently; `magic` receives
 * the first (up to) 4 bytes of the logical (inflated) content and `nmagic`
 * how many there are. The peeked bytes are still delivered by the FILE.
 */
int ns__stream_open(struct ns__stream **out, int fd, const uint8_t *mem, size_t len,
                    uint8_t magic[4], size_t *nmagic, struct ns_error *err);

/*
 * Read up to n logical (inflated) bytes straight into buf: the count, 0 at
 * the end, -1 on an error the stream keeps (ns__stream_error). Not to be
 * mixed with reading through the FILE.
 */
ssize_t ns__stream_read(struct ns__stream *st, uint8_t *buf, size_t n);

/* A stdio FILE reading the stream, with a buffer of `bufsize` bytes from ns_malloc. */
FILE *ns__stream_fopen(struct ns__stream *st, size_t bufsize);

/* True if the stream is gzip-compressed. */
bool ns__stream_is_gz(const struct ns__stream *st);

/*
 * The sticky error of the stream (a read error or a zlib error), or 0; when
 * set, `msg` says what went wrong ("gzip: invalid distance too far back").
 */
int ns__stream_error(const struct ns__stream *st, const char **msg);

/* Close the FILE (if any) and free everything. NULL is fine. */
void ns__stream_free(struct ns__stream *st);

/* ---- source_pcapng.c ---- */

struct ns__pcapng;

/* One raw record, as read. `data` is a view valid until the next read. */
struct ns__rec {
    const uint8_t *data;
    uint32_t caplen;
    uint32_t wirelen;
    uint64_t ts_ns;
    int linktype;
    uint64_t index;
};

/*
 * Start reading a pcapng file from `fp` (positioned at its first byte).
 * Reads the first Section Header Block. Messages in `err` are prefixed with
 * `name`. The FILE stays the caller's.
 */
int ns__pcapng_open(struct ns__pcapng **out, FILE *fp, const char *name, struct ns_error *err);

/* Next packet (EPB, SPB, OPB): 0, NS_EOF, or an error with "NAME: ... at offset N". */
int ns__pcapng_next(struct ns__pcapng *ng, struct ns__rec *rec, struct ns_error *err);

void ns__pcapng_free(struct ns__pcapng *ng);

/* LINKTYPE_ value of a file to the DLT_ value libpcap reports for it. */
int ns__linktype_to_dlt(int linktype);

/* ---- source_pcapr.c: classic pcap ---- */

struct ns__pcapr;

/*
 * Read and check the file header from the stream (positioned at its first
 * byte), with a buffer of `bufsize` bytes. Messages in `err` are prefixed
 * with `name` (borrowed, like the stream).
 */
int ns__pcapr_open(struct ns__pcapr **out, struct ns__stream *st, size_t bufsize, const char *name,
                   struct ns_error *err);
/* Next record, a view valid until the next call: 0, NS_EOF, or an error "NAME: ... at offset N". */
int ns__pcapr_next(struct ns__pcapr *r, struct ns__rec *rec, struct ns_error *err);
int ns__pcapr_linktype(const struct ns__pcapr *r); /* DLT_ value */
int ns__pcapr_snaplen(const struct ns__pcapr *r);  /* 262144 when the header says 0 or more */
void ns__pcapr_free(struct ns__pcapr *r);

/* ---- source_pcap.c: one input ---- */

enum ns__input_fmt {
    NS__FMT_NONE = 0,
    NS__FMT_PCAP,
    NS__FMT_PCAPNG,
};

struct ns__input {
    char *name;         /* src_name: the path as given, or dir/relative */
    char *path;         /* path to (re)open; NULL for standard input */
    const uint8_t *mem; /* memory input (fuzzing), or NULL */
    size_t mem_len;
    size_t order; /* position among the inputs, for stable ties */
    bool from_dir;

    struct ns__stream *st;
    FILE *fp;
    enum ns__input_fmt fmt;
    struct ns__pcapr *pr; /* classic pcap */
    struct ns__pcapng *ng;
    uint64_t nread; /* records read so far (the index of `cur`) */
    struct ns__rec cur;
    uint8_t *copy; /* `cur` bytes kept while the file is closed */
    size_t copy_cap;

    bool is_open;
    bool has_cur;
    bool done;
    bool not_capture; /* open failed on the magic number */
    int err_code;     /* error found while peeking, reported by ns_source_next */
    char *err_msg;
};

/* Open the input's stream and read its header; `bufsize` is the stdio buffer. */
int ns__input_open(struct ns__input *in, size_t bufsize, struct ns_error *err);

/* Read the next raw record into in->cur (index in->nread). 0, NS_EOF or an error. */
int ns__input_read(struct ns__input *in, struct ns_error *err);

/* Keep a copy of in->cur and close the file (it is reopened by path later). */
int ns__input_park(struct ns__input *in);

/* Close the file (in->cur is no longer valid unless parked). */
void ns__input_close(struct ns__input *in);

/* ---- source_dir.c ---- */

typedef int ns__dir_fn(void *ud, const char *path);

/*
 * Call `fn` for every regular file below `dir` (recursive, names starting
 * with '.' skipped, entries in byte order of their names). `*others` counts
 * entries that are neither regular files nor directories.
 */
int ns__dir_walk(const char *dir, ns__dir_fn *fn, void *ud, uint64_t *others, struct ns_error *err);

/* ---- source_live.c ---- */

struct ns__live;

int ns__live_open(struct ns__live **out, const struct ns_source_opts *opts, struct ns_error *err);
int ns__live_next(struct ns__live *lv, struct ns_frame *frame, struct ns_source_stats *stats,
                  struct ns_error *err);
void ns__live_break(struct ns__live *lv);
void ns__live_stats(struct ns__live *lv, struct ns_source_stats *stats);
void ns__live_free(struct ns__live *lv);

#endif
