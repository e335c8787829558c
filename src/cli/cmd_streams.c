/*
 * cmd_streams.c - `netsift streams`: tcpflow's job. Reassemble every TCP
 * connection (RFC 9293; src/lib/tcp) and write each direction to a file
 * named as tcpflow names it, optionally UDP flows too, HTTP/1.x headers and
 * decoded bodies (-a), a DFXML report.xml and a JSON Lines report
 * (docs/cli/streams.md; records in docs/schema/README.md).
 *
 * Options follow tcpflow where it has them (-r -i -o -c -a -b -F -T) and
 * netsift's habits elsewhere. SIGINT / SIGTERM stop the reading; streams
 * seen so far are still closed and reported.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "netsift/alloc.h"
#include "netsift/pipeline.h"
#include "netsift/streams.h"

#ifndef NS_VERSION_STRING
#define NS_VERSION_STRING "0.0.0"
#endif

static const char streams_usage[] =
    "usage: netsift streams [-r FILE|DIR]... [-i IFACE] [-o OUTDIR] [-c] [-a|--http]\n"
    "                       [-b N] [--udp] [-F FLAGS] [-T TEMPLATE] [--max-gap BYTES]\n"
    "                       [--max-fds N] [--report-json FILE] [--no-report] [-q] [-v]\n"
    "                       [BPF expression]\n";

static const char streams_help[] =
    "\n"
    "Reassemble TCP connections and write each direction to its own file,\n"
    "named as tcpflow names them (sourceip.port-destip.port, zero-padded).\n"
    "\n"
    "  -r FILE|DIR          read a pcap / pcapng file (.gz too), a directory of\n"
    "                       them, or '-' for stdin; repeat to merge by time\n"
    "  -i IFACE             capture live from IFACE\n"
    "  -o OUTDIR            write the files there (created; default: .)\n"
    "  -c                   print the bytes to stdout instead, each chunk\n"
    "                       prefixed with the stream name (tcpflow -c)\n"
    "  -a, --http           HTTP/1.x: headers to NAME-HTTP, each body to\n"
    "                       NAME-HTTPBODY-NNN[.ext], dechunked and decoded\n"
    "  -b N                 keep at most N bytes per direction (k, M, G)\n"
    "  --udp                write UDP flows as files too (same names)\n"
    "  -F FLAGS             tcpflow's name flags: t (Unix time prefix), T (ISO\n"
    "                       8601 prefix), c (always a counter), k / m / g (bins\n"
    "                       of 1000 connections), X (no files, report only)\n"
    "  -T TEMPLATE          file name template with tcpflow's % codes: %A %a\n"
    "                       %B %b (addresses, ports), %T %t (time), %V %v\n"
    "                       (VLAN), %C %c %# (counter), %N %K %M %G, %%\n"
    "  --max-gap BYTES      fill a gap with zeros only up to BYTES (default\n"
    "                       1M); a bigger gap starts a new file\n"
    "  --max-fds N          open files at most (default: the limit, <= 4096)\n"
    "  --report-json FILE   also write the report as JSON Lines ('-': stdout)\n"
    "  --no-report          do not write OUTDIR/report.xml\n"
    "  --max-flows N        flows held at once (default 262144)\n"
    "  --no-defrag          do not reassemble IP fragments\n"
    "  -q, --quiet          no progress line\n"
    "  -v, --verbose        a summary on stderr at the end\n"
    "  -h, --help           this help\n"
    "\n"
    "Trailing words are a BPF filter in tcpdump syntax, e.g. 'tcp port 80'.\n"
    "Exit status: 0 success, 1 an input or output failed, 2 usage error.\n";

enum {
    OPT_UDP = 256,
    OPT_MAX_GAP,
    OPT_MAX_FDS,
    OPT_REPORT_JSON,
    OPT_NO_REPORT,
    OPT_MAX_FLOWS,
    OPT_NO_DEFRAG,
};

static const struct option streams_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"http", no_argument, NULL, 'a'},
    {"max-fds", required_argument, NULL, OPT_MAX_FDS},
    {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
    {"max-gap", required_argument, NULL, OPT_MAX_GAP},
    {"no-defrag", no_argument, NULL, OPT_NO_DEFRAG},
    {"no-report", no_argument, NULL, OPT_NO_REPORT},
    {"quiet", no_argument, NULL, 'q'},
    {"report-json", required_argument, NULL, OPT_REPORT_JSON},
    {"udp", no_argument, NULL, OPT_UDP},
    {"verbose", no_argument, NULL, 'v'},
    {NULL, 0, NULL, 0},
};

struct streams_ctx {
    struct ns_streams *s;
    struct ns_cli_progress progress;
};

static void streams_on_packet(void *ud, const struct ns_packet *p, struct ns_flow *flow, int dir)
{
    struct streams_ctx *c = ud;
    ns_streams_packet(c->s, p, flow, dir);
}

static void streams_on_flow_end(void *ud, struct ns_flow *f)
{
    struct streams_ctx *c = ud;
    ns_streams_flow_end(c->s, f);
}

static void streams_clear_progress(struct streams_ctx *c)
{
    ns_cli_progress_clear(&c->progress);
}

static void streams_on_error(void *ud, const struct ns_error *err)
{
    streams_clear_progress(ud);
    ns_cli_error("%s", err->msg);
}

static void streams_on_progress(void *ud, uint64_t frames, uint64_t bytes)
{
    struct streams_ctx *c = ud;
    ns_cli_progress_show(&c->progress, frames, bytes);
}

/* argv joined with spaces, for the DFXML report (NULL on allocation failure). */
static char *join_argv(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++) {
        n += strlen(argv[i]) + 1;
    }
    char *s = ns_malloc(n);
    if (s == NULL) {
        return NULL;
    }
    size_t len = 0;
    for (int i = 0; i < argc; i++) {
        size_t k = strlen(argv[i]);
        if (i > 0) {
            s[len++] = ' ';
        }
        memcpy(s + len, argv[i], k);
        len += k;
    }
    s[len] = '\0';
    return s;
}

static size_t default_max_fds(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
        return 4096;
    }
    if (rl.rlim_cur <= 64) {
        return 16;
    }
    rlim_t n = rl.rlim_cur - 48; /* room for the inputs, the reports, stdio */
    return n > 4096 ? 4096 : (size_t)n;
}

int cmd_streams(int argc, char **argv)
{
    struct ns_pipeline_opts po;
    struct ns_tcp_reasm_opts ro;
    struct ns_streams_opts so;
    struct streams_ctx ctx;
    struct ns_pipeline *pl = NULL;
    struct ns_error err;
    const char **paths = NULL;
    size_t npaths = 0;
    char *bpf = NULL;
    char *cmdline = NULL;
    const char *fflags = NULL;
    const char *json_path = NULL;
    FILE *json_fp = NULL;
    char tmpl_buf[256];
    bool quiet = false;
    bool no_report = false;
    int verbose = 0;
    int status = NS_EXIT_OK;
    int rc;
    int opt;

    memset(&po, 0, sizeof(po));
    memset(&ro, 0, sizeof(ro));
    memset(&so, 0, sizeof(so));
    memset(&ctx, 0, sizeof(ctx));
    memset(&err, 0, sizeof(err));

    paths = ns_calloc((size_t)(argc > 0 ? argc : 1), sizeof(*paths));
    if (paths == NULL) {
        ns_cli_error("out of memory");
        return NS_EXIT_FAILURE;
    }

    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":r:i:o:cab:F:T:qvh", streams_options, NULL)) != -1) {
        unsigned long long n = 0;
        switch (opt) {
        case 'r':
            paths[npaths++] = optarg;
            break;
        case 'i':
            po.source.iface = optarg;
            break;
        case 'o':
            so.outdir = optarg;
            break;
        case 'c':
            so.console = stdout;
            break;
        case 'a':
            so.http = true;
            break;
        case 'b':
            if (!ns_cli_parse_size(optarg, &n) || n == 0) {
                status = ns_cli_usage_error(streams_usage, "invalid -b value '%s'", optarg);
                goto out;
            }
            so.max_bytes = n;
            break;
        case 'F':
            fflags = optarg;
            break;
        case 'T':
            so.tmpl = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'v':
            verbose++;
            break;
        case 'h':
            fputs(streams_usage, stdout);
            fputs(streams_help, stdout);
            goto out;
        case OPT_UDP:
            so.udp = true;
            break;
        case OPT_MAX_GAP:
            if (!ns_cli_parse_size(optarg, &n)) {
                status = ns_cli_usage_error(streams_usage, "invalid --max-gap value '%s'", optarg);
                goto out;
            }
            so.max_gap = n;
            so.max_gap_set = true;
            break;
        case OPT_MAX_FDS:
            if (!ns_cli_parse_size(optarg, &n) || n == 0 || n > (1u << 20)) {
                status = ns_cli_usage_error(streams_usage, "invalid --max-fds value '%s'", optarg);
                goto out;
            }
            so.max_fds = (size_t)n;
            break;
        case OPT_REPORT_JSON:
            json_path = optarg;
            break;
        case OPT_NO_REPORT:
            no_report = true;
            break;
        case OPT_MAX_FLOWS:
            if (!ns_cli_parse_size(optarg, &n) || n == 0 || n > (1ULL << 32)) {
                status =
                    ns_cli_usage_error(streams_usage, "invalid --max-flows value '%s'", optarg);
                goto out;
            }
            po.flow.max_flows = (size_t)n;
            break;
        case OPT_NO_DEFRAG:
            po.no_defrag = true;
            break;
        case ':':
        case '?':
        default:
            status = ns_cli_getopt_error(streams_usage, opt, argc, argv);
            goto out;
        }
    }
    status = ns_cli_check_input(streams_usage, npaths, po.source.iface);
    if (status != NS_EXIT_OK) {
        goto out;
    }
    if (fflags != NULL) {
        if (strspn(fflags, "tTckmgXM") != strlen(fflags)) {
            status = ns_cli_usage_error(streams_usage, "unknown -F flags '%s'", fflags);
            goto out;
        }
        so.no_files = strchr(fflags, 'X') != NULL;
        if (so.tmpl == NULL) {
            if (ns_streams_template_from_flags(tmpl_buf, sizeof(tmpl_buf), fflags) != 0) {
                status = ns_cli_usage_error(streams_usage, "invalid -F flags '%s'", fflags);
                goto out;
            }
            so.tmpl = tmpl_buf;
        }
    }
    if (so.tmpl != NULL) {
        struct ns_streams_name probe;
        char name[NS_STREAMS_NAME_MAX];
        memset(&probe, 0, sizeof(probe));
        probe.src.family = 4;
        probe.dst.family = 4;
        if (ns_streams_format_name(name, sizeof(name), so.tmpl, &probe) == NS_EINVAL) {
            status = ns_cli_usage_error(streams_usage, "invalid template '%s'", so.tmpl);
            goto out;
        }
        if (so.tmpl[0] == '/' || strstr(so.tmpl, "..") != NULL) {
            status = ns_cli_usage_error(streams_usage, "the template must stay inside OUTDIR: '%s'",
                                        so.tmpl);
            goto out;
        }
    }
    bool oom = false;
    bpf = ns_cli_join_bpf(argc, argv, optind, &oom);
    cmdline = join_argv(argc, argv);
    if (oom || cmdline == NULL) {
        ns_cli_error("out of memory");
        status = NS_EXIT_FAILURE;
        goto out;
    }

    if (json_path != NULL) {
        if (strcmp(json_path, "-") == 0) {
            if (so.console != NULL) {
                status = ns_cli_usage_error(streams_usage,
                                            "-c and --report-json - both write to stdout");
                goto out;
            }
            json_fp = stdout;
        } else {
            json_fp = fopen(json_path, "w");
            if (json_fp == NULL) {
                ns_cli_error("cannot create '%s': %s", json_path, strerror(errno));
                status = NS_EXIT_FAILURE;
                goto out;
            }
        }
    }
    if (so.console != NULL && !isatty(STDOUT_FILENO)) {
        setvbuf(stdout, NULL, _IOFBF, 1u << 20);
    }
    so.report_xml = !no_report && so.console == NULL;
    so.report_json = json_fp;
    so.max_fds = so.max_fds != 0 ? so.max_fds : default_max_fds();
    so.command_line = cmdline;
    so.version = NS_VERSION_STRING;
    so.set_mtime = true;
    rc = ns_streams_new(&ctx.s, &so, &err);
    if (rc != 0) {
        ns_cli_error("%s", err.msg[0] != '\0' ? err.msg : ns_strerror(rc));
        status = NS_EXIT_FAILURE;
        goto out;
    }

    ns_streams_tcp_callbacks(ctx.s, &ro);
    po.tcp = &ro;
    po.source.paths = paths;
    po.source.npaths = npaths;
    po.source.bpf = bpf;
    po.source.promisc = true;
    po.on_packet = so.udp ? streams_on_packet : NULL;
    po.on_flow_end = streams_on_flow_end;
    po.on_error = streams_on_error;
    po.on_progress = streams_on_progress;
    po.ud = &ctx;
    ctx.progress.enabled = !quiet && isatty(STDERR_FILENO);

    rc = ns_pipeline_new(&pl, &po, &err);
    if (rc != 0) {
        ns_cli_error("%s", err.msg[0] != '\0' ? err.msg : ns_strerror(rc));
        status = NS_EXIT_FAILURE;
        goto out;
    }
    rc = ns_cli_run_pipeline(pl, po.source.iface != NULL && !quiet ? po.source.iface : NULL, &err);
    streams_clear_progress(&ctx);
    if (rc == NS_EIO) {
        status = NS_EXIT_FAILURE;
    } else if (rc != 0) {
        ns_cli_error("%s", err.msg[0] != '\0' ? err.msg : ns_strerror(rc));
        status = NS_EXIT_FAILURE;
    }
    /* every flow has ended inside run(); the reports can be closed */
    rc = ns_streams_finish(ctx.s, &err);
    if (rc != 0) {
        ns_cli_error("%s", err.msg);
        status = NS_EXIT_FAILURE;
    }
    if (so.console != NULL && fflush(stdout) != 0) {
        ns_cli_error("cannot write the output: %s", strerror(errno));
        status = NS_EXIT_FAILURE;
    }
    if (verbose > 0) {
        struct ns_streams_stats st;
        struct ns_pipeline_stats ps;
        ns_streams_get_stats(ctx.s, &st);
        ns_pipeline_get_stats(pl, &ps);
        fprintf(stderr,
                "netsift: %llu stream files, %llu bytes from %llu packets; %llu gaps (%llu "
                "bytes, %llu splits), %llu bytes over -b, %llu http messages, %llu reopens\n",
                (unsigned long long)st.streams, (unsigned long long)st.bytes,
                (unsigned long long)ps.source.frames, (unsigned long long)st.gaps,
                (unsigned long long)st.gap_bytes, (unsigned long long)st.splits,
                (unsigned long long)st.capped_bytes, (unsigned long long)st.http_messages,
                (unsigned long long)st.reopens);
        if (st.http_messages > 0 || st.http_malformed > 0) {
            fprintf(stderr,
                    "netsift: http: %llu bodies, %llu malformed, %llu incomplete, %llu truncated, "
                    "%llu not decoded\n",
                    (unsigned long long)st.http_bodies, (unsigned long long)st.http_malformed,
                    (unsigned long long)st.http_incomplete, (unsigned long long)st.http_truncated,
                    (unsigned long long)st.http_decode_errors);
        }
    }

out:
    ns_pipeline_free(pl);
    ns_streams_free(ctx.s);
    if (json_fp != NULL && json_fp != stdout) {
        if (fclose(json_fp) != 0 && status == NS_EXIT_OK) {
            ns_cli_error("cannot write '%s': %s", json_path, strerror(errno));
            status = NS_EXIT_FAILURE;
        }
    }
    ns_free(cmdline);
    ns_free(bpf);
    ns_free(paths);
    return status;
}
