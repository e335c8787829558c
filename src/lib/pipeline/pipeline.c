/*
 * pipeline.c - source -> decode -> defrag -> flow table, in one loop
 * (pipeline.h; DESIGN.md "One pipeline, many consumers").
 *
 * Per frame, with no allocation and no formatting:
 *
 *   ns_source_next ──► ns_decode_packet ──┬─ not IP / truncated / malformed: next
 *                                         │  (the decoder counted it)
 *                                         ├─ fragment, defrag on ──► ns_defrag_add
 *                                         │     waiting: next
 *                                         │     complete: transport of the datagram
 *                                         │     decoded into a copy of the packet,
 *                                         │     counted for all its frames
 *                                         └─ else ──► ns_flow_table_update ──► on_packet
 *
 * With opts.tcp, a TCP packet goes to ns_tcp_segment between the flow update
 * and on_packet, and a TCP flow's end goes to ns_tcp_flow_end (which flushes
 * and closes its streams) before on_flow_end; the reassembler keeps its
 * connection in flow->user.
 *
 * A reassembled datagram is one packet with the frame metadata (time,
 * index, input) of the fragment that completed it, so capture time never
 * runs backwards for the flow table; it counts res.frames frames and
 * res.wire_bytes bytes.
 *
 * Timeouts run on capture time: the flow table and the defragmenter are
 * asked to expire old entries whenever the newest timestamp seen moves on
 * by a second. At the end every flow left is ended in first-seen order and
 * the datagrams still waiting for fragments are dropped and counted.
 */
#include "netsift/pipeline.h"

#include <signal.h>
#include <string.h>
#include <time.h>

#include "netsift/alloc.h"

#define NS_PIPE_PROGRESS_MASK 0xffffu /* on_progress every 65536 frames */
#define NS_PIPE_EXPIRE_NS     1000000000u

struct ns_pipeline {
    struct ns_pipeline_opts opts;
    struct ns_source *src;
    struct ns_defrag *defrag; /* NULL with no_defrag */
    struct ns_flow_table *flows;
    struct ns_tcp *tcp; /* NULL without opts.tcp */
    struct ns_decode_stats dstats;
    uint64_t frames;
    uint64_t bytes;
    uint64_t now_ns;     /* newest capture time seen */
    uint64_t expired_ns; /* capture time of the last expiry pass */
    volatile sig_atomic_t stop;
    bool ran;
};

/* The flow table's end callback: hand the flow on to the consumer. */
static void pipe_flow_end(void *ud, struct ns_flow *f)
{
    struct ns_pipeline *pl = ud;
    if (pl->tcp != NULL && f->key.proto == NS_IPPROTO_TCP) {
        ns_tcp_flow_end(pl->tcp, f);
    }
    if (pl->opts.on_flow_end != NULL) {
        pl->opts.on_flow_end(pl->opts.ud, f);
    }
}

int ns_pipeline_new(struct ns_pipeline **out, const struct ns_pipeline_opts *opts,
                    struct ns_error *err)
{
    int rc;
    struct ns_pipeline *pl = NULL;
    struct ns_flow_opts fo;

    *out = NULL;
    ns_error_clear(err);
    pl = ns_calloc(1, sizeof(*pl));
    if (pl == NULL) {
        rc = ns_error_set(err, NS_ENOMEM, "pipeline: %s", ns_strerror(NS_ENOMEM));
        goto out;
    }
    pl->opts = *opts;

    fo = opts->flow;
    fo.on_end = pipe_flow_end;
    fo.ud = pl;
    rc = ns_flow_table_new(&pl->flows, &fo);
    if (rc != 0) {
        ns_error_set(err, rc, "flow table: %s", ns_strerror(rc));
        goto out;
    }
    if (opts->tcp != NULL) {
        rc = ns_tcp_new(&pl->tcp, opts->tcp);
        if (rc != 0) {
            ns_error_set(err, rc, "tcp: %s", ns_strerror(rc));
            goto out;
        }
    }
    pl->opts.tcp = NULL; /* copied by ns_tcp_new; the caller's may go away */
    if (!opts->no_defrag) {
        rc = ns_defrag_new(&pl->defrag, &opts->defrag);
        if (rc != 0) {
            ns_error_set(err, rc, "defrag: %s", ns_strerror(rc));
            goto out;
        }
    }
    /* last, so that a bad BPF expression or path is the error the user sees */
    struct ns_source_opts so = opts->source;
    so.wake_on_idle = opts->on_idle != NULL;
    rc = ns_source_open(&pl->src, &so, err);
    if (rc != 0) {
        if (err != NULL && err->msg[0] == '\0') {
            ns_error_set(err, rc, "source: %s", ns_strerror(rc));
        }
        goto out;
    }
    *out = pl;
    pl = NULL;
out:
    if (pl != NULL) {
        /* nothing was read: no flow can end, so nothing reaches the consumer */
        ns_flow_table_free(pl->flows);
        ns_tcp_free(pl->tcp);
        ns_defrag_free(pl->defrag);
        ns_free(pl);
    }
    return rc;
}

void ns_pipeline_free(struct ns_pipeline *pl)
{
    if (pl == NULL) {
        return;
    }
    ns_source_free(pl->src);
    ns_defrag_free(pl->defrag);
    ns_flow_table_free(pl->flows); /* ends the flows left, through the reassembler */
    ns_tcp_free(pl->tcp);
    ns_free(pl);
}

void ns_pipeline_break(struct ns_pipeline *pl)
{
    pl->stop = 1;
    if (pl->src != NULL) {
        ns_source_break(pl->src);
    }
}

void ns_pipeline_get_stats(const struct ns_pipeline *pl, struct ns_pipeline_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (pl->src != NULL) {
        st->source = *ns_source_stats(pl->src);
    }
    st->decode = pl->dstats;
    if (pl->defrag != NULL) {
        st->defrag = *ns_defrag_stats(pl->defrag);
    }
    st->flow = *ns_flow_table_stats(pl->flows);
    if (pl->tcp != NULL) {
        st->tcp = *ns_tcp_stats(pl->tcp);
    }
}

/*
 * Hand a TCP packet of `flow` to the reassembler (before on_packet). Returns
 * 0 or NS_ENOMEM (the segment is lost and counted by the reassembler).
 */
static int pipe_tcp(struct ns_pipeline *pl, const struct ns_packet *p, struct ns_flow *flow,
                    int dir)
{
    if (pl->tcp == NULL || p->proto != NS_IPPROTO_TCP || !(p->flags & NS_PKT_F_HAS_L4)) {
        return 0;
    }
    return ns_tcp_segment(pl->tcp, flow, dir, p);
}

/* Account p to its flow for `frames` frames of `wire` bytes and tell the consumer. */
static int pipe_account(struct ns_pipeline *pl, const struct ns_packet *p, uint32_t frames,
                        uint64_t wire)
{
    struct ns_flow *flow = NULL;
    int dir = 0;
    int rc = ns_flow_table_update(pl->flows, p, frames, wire, &flow, &dir);
    if (rc != 0) {
        return rc; /* counted by the table (no_memory) */
    }
    rc = pipe_tcp(pl, p, flow, dir);
    if (pl->opts.on_packet != NULL) {
        pl->opts.on_packet(pl->opts.ud, p, flow, dir);
    }
    return rc;
}

/* A fragment: hold it, or, when it completes its datagram, account the datagram. */
static int pipe_fragment(struct ns_pipeline *pl, const struct ns_packet *p)
{
    struct ns_defrag_result res;
    struct ns_packet whole;
    enum ns_dec_reason reason = NS_DEC_OK;
    int rc = ns_defrag_add(pl->defrag, p, &res);
    if (rc != 0) {
        return 0; /* waiting (NS_EAGAIN), or inconsistent / over a cap: counted there */
    }
    whole = *p;
    whole.flags = (p->flags & ~(uint32_t)NS_PKT_F_FRAGMENT) | NS_PKT_F_REASSEMBLED;
    whole.frag_data = NULL;
    whole.frag_len = 0;
    whole.frag_off = 0;
    whole.frag_more = false;
    rc = ns_decode_transport(&whole, res.payload, res.len, res.len, &pl->dstats, &reason);
    if (rc == NS_ETRUNC || rc == NS_EMALFORMED) {
        return 0; /* a datagram that lies about its transport header: counted */
    }
    /* 0, or NS_ENOTSUP for a protocol without ports: still an IP packet of a flow */
    struct ns_flow *flow = NULL;
    int dir = 0;
    rc = ns_flow_table_update(pl->flows, &whole, res.frames, res.wire_bytes, &flow, &dir);
    if (rc != 0) {
        return rc; /* counted by the table (no_memory) */
    }
    /*
     * The datagram is accounted when its last fragment arrives (capture time
     * never runs backwards), but the flow was seen from its first fragment on.
     */
    if (res.first_ts_ns < flow->first_ns) {
        flow->first_ns = res.first_ts_ns;
    }
    rc = pipe_tcp(pl, &whole, flow, dir);
    if (pl->opts.on_packet != NULL) {
        pl->opts.on_packet(pl->opts.ud, &whole, flow, dir);
    }
    return rc;
}

/* Run the capture-time timeouts once the newest timestamp moved on by a second. */
static void pipe_expire(struct ns_pipeline *pl, uint64_t ts_ns)
{
    if (ts_ns <= pl->now_ns) {
        return; /* out-of-order frames never move the clock back */
    }
    pl->now_ns = ts_ns;
    if (ts_ns - pl->expired_ns < NS_PIPE_EXPIRE_NS) {
        return;
    }
    pl->expired_ns = ts_ns;
    ns_flow_table_expire(pl->flows, ts_ns);
    if (pl->defrag != NULL) {
        ns_defrag_expire(pl->defrag, ts_ns);
    }
}

int ns_pipeline_run(struct ns_pipeline *pl, struct ns_error *err)
{
    struct ns_frame fr;
    struct ns_packet pkt;
    struct ns_error ierr;
    bool input_failed = false;
    bool no_memory = false;
    int rc = 0;

    ns_error_clear(err);
    if (pl->ran) {
        return ns_error_set(err, NS_EINVAL, "pipeline: already run");
    }
    pl->ran = true;

    while (!pl->stop) {
        ns_error_clear(&ierr);
        rc = ns_source_next(pl->src, &fr, &ierr);
        if (rc == NS_EOF) {
            break;
        }
        if (rc == NS_EAGAIN && pl->opts.on_idle != NULL) {
            /* a quiet live interface: the consumer's wall-clock timers */
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            pl->opts.on_idle(pl->opts.ud,
                             (uint64_t)now.tv_sec * UINT64_C(1000000000) + (uint64_t)now.tv_nsec);
            continue;
        }
        if (rc == NS_ENOMEM) {
            no_memory = true;
            ns_error_set(err, NS_ENOMEM, "%s", ierr.msg[0] != '\0' ? ierr.msg : "out of memory");
            break;
        }
        if (rc != 0) {
            /* one input broke off: say so, go on with the others */
            if (ierr.msg[0] == '\0') {
                ns_error_set(&ierr, rc, "input: %s", ns_strerror(rc));
            }
            ierr.code = rc;
            input_failed = true;
            if (pl->opts.on_error != NULL) {
                pl->opts.on_error(pl->opts.ud, &ierr);
            }
            continue;
        }

        pl->frames++;
        pl->bytes += fr.caplen;
        if ((pl->frames & NS_PIPE_PROGRESS_MASK) == 0 && pl->opts.on_progress != NULL) {
            pl->opts.on_progress(pl->opts.ud, pl->frames, pl->bytes);
        }
        pipe_expire(pl, fr.ts_ns);

        pkt.data = fr.data;
        pkt.caplen = fr.caplen;
        pkt.wirelen = fr.wirelen;
        pkt.ts_ns = fr.ts_ns;
        pkt.linktype = fr.linktype;
        pkt.index = fr.index;
        pkt.src_name = fr.src_name;

        rc = ns_decode_packet(&pkt, &pl->dstats, NULL);
        if (rc != 0) {
            continue; /* non-IP, truncated or malformed: the decoder counted it */
        }
        if ((pkt.flags & NS_PKT_F_FRAGMENT) && pl->defrag != NULL) {
            rc = pipe_fragment(pl, &pkt);
        } else {
            rc = pipe_account(pl, &pkt, 1, pkt.wirelen);
        }
        if (rc == NS_ENOMEM) {
            no_memory = true; /* the packet is lost and counted; the rest goes on */
        }
    }

    ns_flow_table_flush(pl->flows);
    if (pl->defrag != NULL) {
        /* datagrams still missing fragments at the end count as timed out */
        ns_defrag_expire(pl->defrag, UINT64_MAX);
    }
    if (no_memory) {
        if (err != NULL && err->code == 0) {
            ns_error_set(err, NS_ENOMEM, "out of memory: some packets were not counted");
        }
        return NS_ENOMEM;
    }
    if (input_failed) {
        return ns_error_set(err, NS_EIO, "some inputs could not be read to their end");
    }
    return 0;
}
