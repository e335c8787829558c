/*
 * cmd_flows.c - `netsift flows`: one record per flow (5-tuple + VLAN) with
 * packet and byte counters per direction, TCP flags, state, end reason and
 * Community ID, as a text table, JSON Lines or CSV (docs/cli/flows.md; the
 * record is schema 1 of docs/schema/README.md).
 *
 * Records are written when flows end: on a timeout while reading, and at the
 * end of the input in first-seen order. Input errors are reported one line
 * each and the rest is still read; the exit status is then 1
 * (docs/cli/exit-codes.md). SIGINT / SIGTERM stop the reading, and the flows
 * seen so far are still written.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netsift/alloc.h"
#include "netsift/pipeline.h"
#include "netsift/sink.h"

static const char flows_usage[] =
    "usage: netsift flows [-r FILE|DIR]... [-i IFACE] [--format text|json|csv] [--json]\n"
    "                     [--stats] [-q] [-v] [--max-flows N] [--idle-timeout S]\n"
    "                     [--no-defrag] [-B MiB] [BPF expression]\n";

static const char flows_help[] =
    "\n"
    "Read captures (or a live interface), follow every flow, and write one\n"
    "record per flow when it ends.\n"
    "\n"
    "  -r FILE|DIR          read a pcap / pcapng file (.gz too), a directory of\n"
    "                       them, or '-' for stdin; repeat to merge by time\n"
    "  -i IFACE             capture live from IFACE (rows appear as flows end)\n"
    "  --format FMT         text (aligned table, the default), json (JSON Lines)\n"
    "                       or csv\n"
    "  --json               the same as --format json\n"
    "  --stats              print the counters at the end (text on stderr; with\n"
    "                       json a \"stats\" record as the last line on stdout)\n"
    "  -q, --quiet          no progress line\n"
    "  -v, --verbose        a summary line on stderr at the end\n"
    "  --max-flows N        flows held at once (default 262144); the least\n"
    "                       recently seen one is ended when the table is full\n"
    "  --idle-timeout S     end a flow after S seconds without packets\n"
    "                       (default 120 for TCP, 60 for others)\n"
    "  --no-defrag          do not reassemble IP fragments\n"
    "  -B MiB               live: kernel capture buffer size\n"
    "  -h, --help           this help\n"
    "\n"
    "Trailing words are a BPF filter in tcpdump syntax, e.g. 'tcp port 80'.\n"
    "Exit status: 0 success, 1 an input could not be read, 2 usage error.\n";

enum {
    OPT_FORMAT = 256,
    OPT_JSON,
    OPT_STATS,
    OPT_MAX_FLOWS,
    OPT_IDLE_TIMEOUT,
    OPT_NO_DEFRAG,
};

static const struct option flows_options[] = {
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"json", no_argument, NULL, OPT_JSON},
    {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
    {"no-defrag", no_argument, NULL, OPT_NO_DEFRAG},
    {"quiet", no_argument, NULL, 'q'},
    {"stats", no_argument, NULL, OPT_STATS},
    {"verbose", no_argument, NULL, 'v'},
    {NULL, 0, NULL, 0},
};

struct flows_ctx {
    struct ns_sink_flow *sink;
    struct ns_pipeline *pl;
    struct ns_cli_progress progress;
    int write_rc; /* first failure of the output */
};

static void flows_on_end(void *ud, struct ns_flow *f)
{
    struct flows_ctx *c = ud;
    if (c->write_rc != 0) {
        return;
    }
    int rc = ns_sink_flow_write(c->sink, f);
    if (rc != 0) {
        c->write_rc = rc;
        if (rc == NS_EIO && c->pl != NULL) {
            ns_pipeline_break(c->pl); /* nobody reads the output any more */
        }
    }
}

static void flows_clear_progress(struct flows_ctx *c)
{
    ns_cli_progress_clear(&c->progress);
}

static void flows_on_error(void *ud, const struct ns_error *err)
{
    flows_clear_progress(ud);
    ns_cli_error("%s", err->msg);
}

static void flows_on_progress(void *ud, uint64_t frames, uint64_t bytes)
{
    struct flows_ctx *c = ud;
    ns_cli_progress_show(&c->progress, frames, bytes);
}

int cmd_flows(int argc, char **argv)
{
    struct ns_pipeline_opts po;
    struct flows_ctx ctx;
    struct ns_sink_flow_opts so;
    struct ns_error err;
    struct ns_pipeline_stats st;
    enum ns_cli_format fmt = NS_FMT_TEXT;
    const char **paths = NULL;
    size_t npaths = 0;
    char *bpf = NULL;
    bool stats = false;
    bool quiet = false;
    int verbose = 0;
    int status = NS_EXIT_OK;
    int rc;
    int opt;

    memset(&po, 0, sizeof(po));
    memset(&ctx, 0, sizeof(ctx));
    memset(&so, 0, sizeof(so));

    paths = ns_calloc((size_t)(argc > 0 ? argc : 1), sizeof(*paths));
    if (paths == NULL) {
        ns_cli_error("out of memory");
        return NS_EXIT_FAILURE;
    }

    optind = 0; /* glibc: a full reset, whatever ran before */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":r:i:qvhB:", flows_options, NULL)) != -1) {
        unsigned long long n = 0;
        switch (opt) {
        case 'r':
            paths[npaths++] = optarg;
            break;
        case 'i':
            po.source.iface = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'v':
            verbose++;
            break;
        case 'h':
            fputs(flows_usage, stdout);
            fputs(flows_help, stdout);
            status = NS_EXIT_OK;
            goto out;
        case 'B':
            if (!ns_cli_parse_count(optarg, 1u << 20, &n)) {
                status = ns_cli_usage_error(flows_usage, "invalid -B value '%s'", optarg);
                goto out;
            }
            po.source.buffer_mb = (int)n;
            break;
        case OPT_FORMAT:
            if (!ns_cli_parse_format(optarg, &fmt)) {
                status = ns_cli_usage_error(flows_usage, "unknown format '%s'", optarg);
                goto out;
            }
            break;
        case OPT_JSON:
            fmt = NS_FMT_JSON;
            break;
        case OPT_STATS:
            stats = true;
            break;
        case OPT_MAX_FLOWS:
            if (!ns_cli_parse_count(optarg, 1ULL << 32, &n)) {
                status = ns_cli_usage_error(flows_usage, "invalid --max-flows value '%s'", optarg);
                goto out;
            }
            po.flow.max_flows = (size_t)n;
            break;
        case OPT_IDLE_TIMEOUT:
            if (!ns_cli_parse_seconds(optarg, &po.flow.idle_timeout_ns)) {
                status =
                    ns_cli_usage_error(flows_usage, "invalid --idle-timeout value '%s'", optarg);
                goto out;
            }
            po.flow.udp_timeout_ns = po.flow.idle_timeout_ns;
            break;
        case OPT_NO_DEFRAG:
            po.no_defrag = true;
            break;
        case ':':
        case '?':
        default:
            status = ns_cli_getopt_error(flows_usage, opt, argc, argv);
            goto out;
        }
    }
    status = ns_cli_check_input(flows_usage, npaths, po.source.iface);
    if (status != NS_EXIT_OK) {
        goto out;
    }
    bool oom = false;
    bpf = ns_cli_join_bpf(argc, argv, optind, &oom);
    if (oom) {
        ns_cli_error("out of memory");
        status = NS_EXIT_FAILURE;
        goto out;
    }

    po.source.paths = paths;
    po.source.npaths = npaths;
    po.source.bpf = bpf;
    po.source.promisc = true;
    po.on_flow_end = flows_on_end;
    po.on_error = flows_on_error;
    po.on_progress = flows_on_progress;
    po.ud = &ctx;
    ctx.progress.enabled = !quiet && isatty(STDERR_FILENO);

    if (!isatty(STDOUT_FILENO)) {
        setvbuf(stdout, NULL, _IOFBF, 1u << 20);
    }
    so.out = stdout;
    so.format = fmt == NS_FMT_JSON ? NS_SINK_JSON : fmt == NS_FMT_CSV ? NS_SINK_CSV : NS_SINK_TEXT;
    so.live = po.source.iface != NULL;
    so.threaded = !so.live; /* formatting runs beside the pipeline on the other core */
    rc = ns_sink_flow_new(&ctx.sink, &so);
    if (rc != 0) {
        ns_cli_error("%s", ns_strerror(rc));
        status = NS_EXIT_FAILURE;
        goto out;
    }

    rc = ns_pipeline_new(&ctx.pl, &po, &err);
    if (rc != 0) {
        ns_cli_error("%s", err.msg[0] != '\0' ? err.msg : ns_strerror(rc));
        status = NS_EXIT_FAILURE;
        goto out;
    }

    rc = ns_cli_run_pipeline(ctx.pl, po.source.iface != NULL && !quiet ? po.source.iface : NULL,
                             &err);
    flows_clear_progress(&ctx);

    if (rc == NS_EIO) {
        status = NS_EXIT_FAILURE; /* each broken input was reported already */
    } else if (rc != 0) {
        ns_cli_error("%s", err.msg[0] != '\0' ? err.msg : ns_strerror(rc));
        status = NS_EXIT_FAILURE;
    }

    if (ctx.write_rc == 0) {
        ctx.write_rc = ns_sink_flow_finish(ctx.sink);
    }
    ns_pipeline_get_stats(ctx.pl, &st);
    if (stats && ctx.write_rc == 0) {
        if (fmt == NS_FMT_JSON) {
            ctx.write_rc = ns_sink_stats_json(stdout, &st);
        } else {
            fflush(stdout);
            ns_sink_stats_text(stderr, &st);
        }
    }
    if (ctx.write_rc == 0 && fflush(stdout) != 0) {
        ctx.write_rc = NS_EIO;
    }
    if (ctx.write_rc != 0) {
        ns_cli_error("cannot write the output: %s",
                     ctx.write_rc == NS_EIO ? strerror(errno) : ns_strerror(ctx.write_rc));
        status = NS_EXIT_FAILURE;
    }
    if (verbose > 0) {
        fprintf(stderr, "netsift: %llu flows from %llu packets in %llu inputs\n",
                (unsigned long long)ns_sink_flow_count(ctx.sink),
                (unsigned long long)st.source.frames, (unsigned long long)st.source.inputs);
    }

out:
    ns_pipeline_free(ctx.pl);
    ns_sink_flow_free(ctx.sink);
    ns_free(bpf);
    ns_free(paths);
    return status;
}
