/*
 * streams.h - the sink of `netsift streams`: reassembled TCP (and UDP)
 * streams written to one file per direction, named as tcpflow names them,
 * with HTTP/1.x extraction, a DFXML report and a JSON Lines report.
 *
 * File names (tcpflow's rules, its default template "%A.%a-%B.%b%V%v%C%c"):
 *
 *   [prefix] sourceip.sourceport-destip.destport [--VLAN] [cNNNN]
 *   128.129.130.131.02345-010.011.012.013.45103--3c1
 *
 * IPv4 octets are zero-padded to 3 digits, ports to 5 digits; IPv6 addresses
 * are written in RFC 5952 text form. The counter (`c1`, `c2`, ...) is added
 * when the name without it is already taken, on disk or earlier in the run:
 * a name is never reused, an existing file is never overwritten.
 *
 * Template % codes (tcpflow's -T): %A %B source / destination address, %a
 * %b ports, %T ISO 8601 time of the first packet, %t the same as Unix
 * seconds, %V "--" when there is a VLAN, %v the VLAN ID, %C "c" when the
 * counter is > 0, %c the counter when > 0, %# the counter always, %N %K %M
 * %G the connection number modulo 1000 at the units, thousands, millions
 * and billions (3 digits), %% a '%'. A '/' makes directories, created as
 * needed.
 *
 * Open files are an LRU cache of at most max_fds descriptors: a file pushed
 * out is closed and reopened for append when more bytes come; an open that
 * fails for lack of descriptors (EMFILE / ENFILE) closes one more cached file
 * and retries, so no byte is lost at the open-file limit.
 *
 * Gaps (bytes the capture never had) are written as zero bytes up to max_gap
 * bytes; a bigger gap ends the file and the stream goes on in a new file
 * (the next counter), both recorded in the reports. max_bytes caps the bytes
 * written per direction (tcpflow -b), the rest is counted and dropped.
 *
 * Reports: report.xml in the output directory, DFXML with tcpflow's element
 * names (fileobject / filename / filesize / tcpflow attributes / hashdigest),
 * and optionally JSON Lines ("stream" and "http" records, schema 1 of
 * docs/schema/README.md). MD5 and SHA-256 are computed with OpenSSL EVP as
 * the bytes are written.
 *
 * Threads: the sink is fed from one thread, which names, creates and opens
 * the files; two threads of the sink's own do the digests and report
 * records (one) and the writes, time stamps and closes (the other), in the
 * order they were asked for (so the output does not depend on timing).
 * At most queue_bytes wait for them (plus up to half that gathered in the
 * files' buffers); a caller that gets ahead waits. ns_streams_finish() and
 * ns_streams_free() wait for them to be done and join them.
 *
 * Use: ns_streams_new(); ns_streams_tcp_callbacks() fills the reassembler's
 * callbacks; ns_streams_packet() for UDP packets (with udp set);
 * ns_streams_flow_end() at each flow end; ns_streams_finish() at the end.
 */
#ifndef NETSIFT_STREAMS_H
#define NETSIFT_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "netsift/decode.h"
#include "netsift/err.h"
#include "netsift/flow.h"
#include "netsift/tcp.h"

#define NS_STREAMS_SCHEMA 1

/* tcpflow's default file name template. */
#define NS_STREAMS_DEFAULT_TEMPLATE "%A.%a-%B.%b%V%v%C%c"

/* Longest file name (relative to the output directory) a template may give. */
#define NS_STREAMS_NAME_MAX 1024

/* What a template is expanded from. */
struct ns_streams_name {
    struct ns_addr src;
    struct ns_addr dst;
    uint16_t sport;
    uint16_t dport;
    uint16_t vlan;       /* 0: none */
    uint64_t ts_ns;      /* first packet of the connection */
    uint64_t conn_index; /* 0-based connection number in the run (%N %K %M %G) */
    uint32_t count;      /* the counter (%C %c %#) */
};

/*
 * Expand `tmpl` for `n` into buf. Returns 0, NS_ELIMIT (the name does not
 * fit in size bytes) or NS_EINVAL (an unknown % code, or a trailing '%').
 */
int ns_streams_format_name(char *buf, size_t size, const char *tmpl,
                           const struct ns_streams_name *n);

/*
 * The template that tcpflow's -F letters select: 't' prefixes the Unix
 * seconds and a 'T' ("%tT"), 'T' the ISO 8601 time, which ends in 'Z' ("%T"), 'c'
 * always appends "c" and the counter ("c%#"), 'k' / 'm' / 'g' bin into
 * directories of 1000 connections (1, 2 or 3 levels: "%K/", "%M/%K/",
 * "%G/%M/%K/"). Other letters ('X', 'M') are options of their own and
 * ignored here. Returns 0 or NS_ELIMIT.
 */
int ns_streams_template_from_flags(char *buf, size_t size, const char *flags);

/* Extension tcpflow-style for a Content-Type ("text/html; charset=x" -> "html"), or NULL. */
const char *ns_streams_mime_ext(const char *ctype, size_t len);

struct ns_streams_opts {
    const char *outdir;       /* NULL means "." */
    const char *tmpl;         /* NULL means NS_STREAMS_DEFAULT_TEMPLATE */
    bool no_files;            /* tcpflow -FX: reports only */
    FILE *console;            /* -c: stream bytes to this FILE instead of files */
    bool http;                /* -a: HTTP/1.x headers and bodies */
    bool udp;                 /* UDP flows as files too */
    uint64_t max_bytes;       /* per direction; 0: no cap */
    uint64_t max_gap;         /* zero bytes written for a gap at most; 0 means 1 MiB */
    bool max_gap_set;         /* max_gap 0 really means 0 (every gap splits) */
    size_t max_fds;           /* open files at most; 0 means 256 */
    bool report_xml;          /* write OUTDIR/report.xml */
    FILE *report_json;        /* JSON Lines report, or NULL (borrowed; flushed, never closed) */
    const char *command_line; /* for the DFXML creator element; may be NULL */
    bool set_mtime;           /* set each file's time to its last packet, as tcpflow does */
    const char *version;      /* for the DFXML creator element; may be NULL */
    size_t queue_bytes;       /* bytes waiting for the sink's threads at most; 0 means 16 MiB */
};

struct ns_streams_stats {
    uint64_t streams;        /* direction files (parts) written */
    uint64_t bytes;          /* stream bytes written (gap zeros included) */
    uint64_t gaps;           /* gap events */
    uint64_t gap_bytes;      /* bytes missing */
    uint64_t gap_zero_bytes; /* zero bytes written for gaps */
    uint64_t splits;         /* files ended by a gap bigger than max_gap */
    uint64_t capped_bytes;   /* bytes dropped by max_bytes */
    uint64_t opens;          /* open() calls (creation and reopen) */
    uint64_t reopens;        /* reopen for append after eviction */
    uint64_t evictions;      /* descriptors closed to make room */
    uint64_t emfile_retries; /* EMFILE / ENFILE answered by closing one more */
    uint64_t http_messages;
    uint64_t http_bodies; /* body files written */
    /* -a: the HTTP parsers' own counters (http.h), summed as each parser ends */
    uint64_t http_malformed;     /* bad start lines, headers, framing, caps */
    uint64_t http_incomplete;    /* messages whose body lost bytes (gap, cut, bad chunk) */
    uint64_t http_truncated;     /* bodies cut at the decoded size cap */
    uint64_t http_decode_errors; /* gzip / deflate bodies that could not be inflated */
    uint64_t udp_datagrams;
    uint64_t io_errors; /* writes or opens that failed for another reason */
};

struct ns_streams;

/* Returns 0, NS_ENOMEM, or NS_EIO (report.xml or the directory could not be made; err says why). */
int ns_streams_new(struct ns_streams **out, const struct ns_streams_opts *opts,
                   struct ns_error *err);

/* Fill the data, gap, close and conn_end callbacks (and ud) of a reassembler's options. */
void ns_streams_tcp_callbacks(struct ns_streams *s, struct ns_tcp_reasm_opts *ro);

/*
 * A packet of `flow` in direction `dir` (the pipeline's on_packet). Only UDP
 * packets with NS_PKT_F_HAS_L4 and payload are used, when opts.udp is set;
 * their state lives in flow->app until ns_streams_flow_end().
 */
void ns_streams_packet(struct ns_streams *s, const struct ns_packet *p, struct ns_flow *flow,
                       int dir);

/* A flow ended (the pipeline's on_flow_end): close its UDP files, free flow->app. */
void ns_streams_flow_end(struct ns_streams *s, struct ns_flow *flow);

/*
 * Close every file, end the DFXML report and flush the JSON one. Returns 0 or
 * NS_EIO (the first I/O failure seen during the run, err says which file).
 */
int ns_streams_finish(struct ns_streams *s, struct ns_error *err);

void ns_streams_get_stats(const struct ns_streams *s, struct ns_streams_stats *st);

/* Frees everything (files still open are closed without reports: call finish first). */
void ns_streams_free(struct ns_streams *s);

#endif
