/*
 * pipeline.h - source -> decode -> defrag -> flow table, in one loop.
 *
 * Every netsift command is this loop with different consumers switched on
 * (DESIGN.md, "One pipeline, many consumers"). A consumer gets each IP packet
 * after its flow was updated (on_packet), and each flow when it ends
 * (on_flow_end). A reassembled datagram is delivered once, as one packet
 * with NS_PKT_F_REASSEMBLED, counting all the frames that carried it.
 *
 * TCP reassembly (tcp.h) is switched on with opts.tcp: every TCP packet
 * with ports is fed to the reassembler after its flow was updated and before
 * on_packet, and a TCP flow's connection is ended (its callbacks run) before
 * on_flow_end gets the flow.
 *
 * Input errors (a truncated file, a bad magic number) are passed to on_error
 * with their one-line message and the loop goes on with the other inputs;
 * ns_pipeline_run() then returns NS_EIO so the command exits with status 1.
 */
#ifndef NETSIFT_PIPELINE_H
#define NETSIFT_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "netsift/decode.h"
#include "netsift/defrag.h"
#include "netsift/err.h"
#include "netsift/flow.h"
#include "netsift/source.h"
#include "netsift/tcp.h"

/* Packet callback: `flow` and `dir` as ns_flow_table_update() gives them. */
typedef void ns_pipe_packet_fn(void *ud, const struct ns_packet *p, struct ns_flow *flow, int dir);
/* One-line message about an input that broke off. */
typedef void ns_pipe_error_fn(void *ud, const struct ns_error *err);
/* Progress: frames and bytes read so far (called about every 2^16 frames). */
typedef void ns_pipe_progress_fn(void *ud, uint64_t frames, uint64_t bytes);
/* Live capture, no frame for 100 ms: `now_ns` is the wall clock (CLOCK_REALTIME). */
typedef void ns_pipe_idle_fn(void *ud, uint64_t now_ns);

struct ns_pipeline_opts {
    struct ns_source_opts source;
    struct ns_defrag_opts defrag;
    struct ns_flow_opts flow;            /* on_end/ud are replaced by the pipeline's own */
    bool no_defrag;                      /* pass fragments on un-reassembled */
    const struct ns_tcp_reasm_opts *tcp; /* non-NULL: reassemble TCP streams (copied) */
    ns_pipe_packet_fn *on_packet;
    ns_flow_end_fn *on_flow_end;
    ns_pipe_error_fn *on_error;
    ns_pipe_progress_fn *on_progress;
    ns_pipe_idle_fn *on_idle; /* live only: set, the source wakes up on quiet interfaces */
    void *ud;
};

struct ns_pipeline_stats {
    struct ns_source_stats source;
    struct ns_decode_stats decode;
    struct ns_defrag_stats defrag;
    struct ns_flow_stats flow;
    struct ns_tcp_stats tcp; /* zero without opts.tcp */
};

struct ns_pipeline;

int ns_pipeline_new(struct ns_pipeline **out, const struct ns_pipeline_opts *opts,
                    struct ns_error *err);

/*
 * Read every input to its end (or until ns_pipeline_break()), then end every
 * flow left. Returns 0, NS_EIO if some input broke off (each one reported
 * through on_error), or NS_ENOMEM.
 */
int ns_pipeline_run(struct ns_pipeline *pl, struct ns_error *err);

/* Stop a running pipeline soon (async-signal-safe). */
void ns_pipeline_break(struct ns_pipeline *pl);

/* Counters so far (valid during and after run). */
void ns_pipeline_get_stats(const struct ns_pipeline *pl, struct ns_pipeline_stats *st);

void ns_pipeline_free(struct ns_pipeline *pl);

#endif
