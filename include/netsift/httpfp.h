/*
 * httpfp.h - p0f HTTP fingerprints of the TCP connections in a capture,
 * optionally on a worker thread.
 *
 * Fed the TCP packets of the pipeline (after their flow update) and the end
 * of every flow, it reassembles each connection, recognises HTTP by the
 * first bytes of each direction, parses the first request and the first
 * response (p0f's bound: later messages and bodies are never looked at, and
 * the reassembler stops following a direction once it is done) and matches
 * them against the [http:request] / [http:response] signatures. Each
 * fingerprinted message gives one result: the sender's address, its p0f
 * result and raw signature.
 *
 * With opts.threaded the reassembly, parsing and matching run on a worker
 * thread. The calling thread copies what the worker needs of each TCP
 * packet into a bounded queue (spsc.h), skipping pure ACKs and the packets
 * of connections the worker is done with; results come back in the order
 * the worker made them and are handed to on_result on the calling thread,
 * from ns_httpfp_packet / ns_httpfp_flow_end (as they become ready),
 * ns_httpfp_sync and ns_httpfp_finish. Without it, on_result is called at
 * once. Either way the results and their order are the same; only the
 * moment on_result sees them differs.
 *
 * The flow's `user` pointer is this module's (the pipeline's own TCP
 * reassembly must be off): it holds the connection from its first packet to
 * ns_httpfp_flow_end.
 */
#ifndef NETSIFT_HTTPFP_H
#define NETSIFT_HTTPFP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsift/decode.h"
#include "netsift/flow.h"
#include "netsift/p0f.h"
#include "netsift/tcp.h"

/* Header bytes parsed per message at most (more: the message is not fingerprinted). */
#define NS_HTTPFP_MAX_HEADER (16u * 1024u)

struct ns_httpfp_result {
    struct ns_addr addr; /* the sender: the client of a request, the server of a response */
    bool request;
    uint64_t ts_ns;           /* capture time of the bytes that ended the headers */
    struct ns_p0f_result res; /* its raw_sig field is unused: see raw_sig */
    const char *raw_sig;      /* p0f's notation; valid during the callback */
};

typedef void ns_httpfp_result_fn(void *ud, const struct ns_httpfp_result *r);

struct ns_httpfp_opts {
    const struct ns_p0f_db *db; /* required; must outlive the fingerprinter */
    bool threaded;              /* reassemble, parse and match on a worker thread */
    size_t queue_bytes;         /* threaded: the queue's size (0: 4 MiB) */
    ns_httpfp_result_fn *on_result;
    void *ud;
};

struct ns_httpfp_stats {
    uint64_t connections; /* connections recognised as HTTP */
    uint64_t messages;    /* messages fingerprinted (results) */
    uint64_t
        too_many_headers;    /* messages over NS_P0F_HTTP_MAX_HDRS headers: skipped, as p0f does */
    uint64_t no_memory;      /* connections or messages lost to a failed allocation */
    uint64_t packets_queued; /* threaded: packets copied to the worker */
    uint64_t queue_bytes;    /* threaded: bytes through the queue */
    uint64_t queue_full;     /* threaded: times the caller waited for room */
    bool threaded;           /* a worker thread ran */
    struct ns_tcp_stats tcp;
};

struct ns_httpfp;

/* Returns 0, NS_EINVAL (no database) or NS_ENOMEM. A thread that cannot start: work inline. */
int ns_httpfp_new(struct ns_httpfp **out, const struct ns_httpfp_opts *opts);

/* A decoded packet of `flow` in direction `dir` (as ns_flow_table_update gave them); non-TCP is
 * ignored. */
void ns_httpfp_packet(struct ns_httpfp *fp, struct ns_flow *flow, int dir,
                      const struct ns_packet *p);

/* The flow ends (call it from on_flow_end): its connection is closed and forgotten. */
void ns_httpfp_flow_end(struct ns_httpfp *fp, struct ns_flow *flow);

/* Wait until every packet given so far is done, and hand over every result. */
void ns_httpfp_sync(struct ns_httpfp *fp);

/* No more packets: stop the worker and hand over the last results. */
void ns_httpfp_finish(struct ns_httpfp *fp);

/* Counters (complete after ns_httpfp_sync or ns_httpfp_finish). */
void ns_httpfp_get_stats(const struct ns_httpfp *fp, struct ns_httpfp_stats *st);

void ns_httpfp_free(struct ns_httpfp *fp);

#endif
