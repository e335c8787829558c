/*
 * sink.h - flow records and counters as text, JSON Lines or CSV.
 *
 * The record layout is the JSON Lines schema of docs/schema/README.md
 * (schema 1): one "flow" object per ended flow, one "stats" object for the
 * counters. JSON is written with jansson, one compact object per line. CSV
 * follows RFC 4180 for quoting (a field holding a comma, a double quote, CR
 * or LF is enclosed in double quotes and its quotes doubled); lines end in
 * LF. Times are RFC 3339 UTC with microseconds, the nanoseconds truncated:
 * "2024-03-01T00:00:00.123456Z".
 *
 * The text format is an aligned table. Column widths come from the rows
 * themselves, so rows are held back (up to `text_buffer_rows`) until
 * ns_sink_flow_finish(); past that many, the held rows are printed and the
 * rest follow with the widths found so far. With `live` set each row is
 * printed as it arrives, with fixed widths.
 *
 * Nothing here is on the per-packet path: a sink formats once per flow.
 */
#ifndef NETSIFT_SINK_H
#define NETSIFT_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "netsift/flow.h"
#include "netsift/pipeline.h"

#define NS_SINK_SCHEMA 1

enum ns_sink_format {
    NS_SINK_TEXT = 0,
    NS_SINK_JSON,
    NS_SINK_CSV,
};

/* Size of a buffer for ns_sink_format_time(): "2024-03-01T00:00:00.123456Z" + NUL. */
#define NS_SINK_TIME_SIZE 32

/*
 * One flow as the schema shows it: every field already formatted or
 * converted. Filled by ns_sink_flow_record() from a struct ns_flow.
 */
struct ns_flow_record {
    char proto[8]; /* "tcp", "udp", ..., or the decimal protocol number */
    char src_addr[48];
    uint16_t src_port; /* ICMP / ICMPv6: type; 0 for protocols without ports */
    char dst_addr[48];
    uint16_t dst_port; /* ICMP / ICMPv6: code */
    uint16_t vlan;     /* 0 when untagged */
    char first_seen[NS_SINK_TIME_SIZE];
    char last_seen[NS_SINK_TIME_SIZE];
    uint64_t packets_fwd;
    uint64_t packets_rev;
    uint64_t bytes_fwd;
    uint64_t bytes_rev;
    char tcp_flags[9];      /* letters of "FSRPAUEC" seen either way; "" for non-TCP */
    const char *state;      /* ns_flow_state_name() */
    const char *end_reason; /* ns_flow_end_name() */
    char community_id[40];  /* "1:<base64>", or "" if it could not be computed */
};

/*
 * Format `ts_ns` (nanoseconds since the epoch, UTC) as RFC 3339 with
 * microseconds into buf (at least NS_SINK_TIME_SIZE bytes). Returns buf.
 */
char *ns_sink_format_time(uint64_t ts_ns, char *buf, size_t size);

/* Name of an IP protocol number as the schema writes it ("tcp", "47" -> "gre", "99"). */
void ns_sink_proto_name(uint8_t proto, char *buf, size_t size);

/* Letters of the TCP flags in `flags` in the order "FSRPAUEC" (buf: at least 9 bytes). */
void ns_sink_tcp_flags(uint8_t flags, char *buf, size_t size);

/* Fill `r` from the flow `f` (which is only read). */
void ns_sink_flow_record(const struct ns_flow *f, struct ns_flow_record *r);

/*
 * Write (s, len) as one CSV field to fp, quoted when it holds a comma, a
 * double quote, CR or LF (RFC 4180 section 2). Returns 0 or NS_EIO.
 */
int ns_sink_csv_field(FILE *fp, const char *s, size_t len);

/* Write one flow record as one JSON line. Returns 0, NS_ELIMIT (cannot happen) or NS_EIO. */
int ns_sink_flow_json(FILE *fp, const struct ns_flow_record *r);

/* The CSV header line and one CSV row. Return 0 or NS_EIO. */
int ns_sink_flow_csv_header(FILE *fp);
int ns_sink_flow_csv(FILE *fp, const struct ns_flow_record *r);

/* The "stats" record as one JSON line. Returns 0, NS_ENOMEM or NS_EIO. */
int ns_sink_stats_json(FILE *fp, const struct ns_pipeline_stats *st);

/*
 * The counters as aligned "  packets read        1234" lines (for stderr,
 * so that stdout stays the table). Returns 0 or NS_EIO.
 */
int ns_sink_stats_text(FILE *fp, const struct ns_pipeline_stats *st);

/* A flow writer: one of the three formats, to a FILE the caller owns. */
struct ns_sink_flow;

struct ns_sink_flow_opts {
    enum ns_sink_format format;
    FILE *out;               /* borrowed; flushed but never closed */
    bool live;               /* text: print each row at once, fixed widths */
    size_t text_buffer_rows; /* text: rows held to size the columns; 0 means 100000 */
    /*
     * Format and write on a thread of the sink's own, so that formatting runs
     * beside the pipeline on another core. Ended flows are copied into a
     * bounded queue of batches (NS_SINK_QUEUE_BATCHES x NS_SINK_BATCH flows);
     * when it is full, ns_sink_flow_write() waits for the writer. Records
     * keep their order.
     */
    bool threaded;
};

#define NS_SINK_BATCH         256
#define NS_SINK_QUEUE_BATCHES 8

/* Returns 0, NS_EINVAL (no output), NS_ENOMEM, or NS_EIO (the thread could not start). */
int ns_sink_flow_new(struct ns_sink_flow **out, const struct ns_sink_flow_opts *opts);

/*
 * Write one ended flow. Text rows may be held back until
 * ns_sink_flow_finish(). Returns 0, NS_ENOMEM or NS_EIO (the output
 * failed; later writes keep failing).
 */
int ns_sink_flow_write(struct ns_sink_flow *s, const struct ns_flow *f);

/*
 * Print the rows held back (text) and the header if no row came (text and
 * CSV), then fflush the output. Returns 0 or NS_EIO.
 */
int ns_sink_flow_finish(struct ns_sink_flow *s);

/* Records written so far (when threaded: valid after ns_sink_flow_finish()). */
uint64_t ns_sink_flow_count(const struct ns_sink_flow *s);

void ns_sink_flow_free(struct ns_sink_flow *s);

#endif
