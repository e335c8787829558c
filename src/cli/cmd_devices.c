/*
 * cmd_devices.c - `netsift devices`: passive discovery and identification of
 * medical devices from HL7 v2 and DICOM traffic (docs/cli/devices.md; the
 * record is the "device" object of docs/schema/README.md), what tapirx does
 * on reassembled streams.
 *
 *   pipeline (TCP reassembly on) ──► devices analyzer ──► on_record ──► stdout
 *                                                                  ├──► --csv FILE
 *                                                                  └──► --post URL
 *
 * A record is written when a device is new or its identity changed, and
 * once more at the end for each device seen again since its last record (so
 * the last record of a device carries its final last_seen). SIGINT / SIGTERM
 * stop the reading; what is pending is still written, the CSV file flushed
 * and the queued POSTs given up to 10 seconds.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netsift/alloc.h"
#include "netsift/devices.h"
#include "netsift/oui.h"
#include "netsift/pipeline.h"
#include "netsift/webhook.h"

#define DEVICES_JSON_BUF     (256u * 1024u)
#define DEVICES_POST_WAIT_MS 10000u

static const char devices_usage[] =
    "usage: netsift devices [-r FILE|DIR]... [-i IFACE] [--format json|csv|text]\n"
    "                       [--csv FILE] [--post URL [--token T]] [--client-id ID]\n"
    "                       [--oui-dir DIR] [-q] [-v] [BPF expression]\n";

static const char devices_help[] =
    "\n"
    "Find medical devices in HL7 v2 (MLLP or bare) and DICOM traffic, on any TCP\n"
    "port, and write one record per device when it is new or its identity\n"
    "changes (tapirx's fields, plus all identifiers with their provenance).\n"
    "\n"
    "  -r FILE|DIR          read a pcap / pcapng file (.gz too), a directory of\n"
    "                       them, or '-' for stdin; repeat to merge by time\n"
    "  -i IFACE             capture live from IFACE (a SPAN port)\n"
    "  --format FMT         json (JSON Lines, the default when stdout is not a\n"
    "                       terminal), csv, or text (a table, the default on a\n"
    "                       terminal)\n"
    "  --csv FILE           also write CSV to FILE\n"
    "  --post URL           also POST each record as JSON to URL (own thread,\n"
    "                       bounded queue, retries with back-off)\n"
    "  --token T            send 'Authorization: Bearer T' with each POST\n"
    "  --client-id ID       client_id of the records (default: the host name)\n"
    "  --oui-dir DIR        IEEE registry CSV files for the MAC vendor (default\n"
    "                       /usr/share/ieee-data; vendor empty when absent)\n"
    "  -q, --quiet          no progress line, no counters\n"
    "  -v, --verbose        counters on stderr at the end\n"
    "  -h, --help           this help\n"
    "\n"
    "Trailing words are a BPF filter in tcpdump syntax, e.g. 'tcp port 2575'.\n"
    "Exit status: 0 success, 1 an input or output failed, 2 usage error.\n";

enum {
    OPT_FORMAT = 256,
    OPT_CSV,
    OPT_POST,
    OPT_TOKEN,
    OPT_CLIENT_ID,
    OPT_OUI_DIR,
};

static const struct option devices_options[] = {
    {"client-id", required_argument, NULL, OPT_CLIENT_ID},
    {"csv", required_argument, NULL, OPT_CSV},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    {"oui-dir", required_argument, NULL, OPT_OUI_DIR},
    {"post", required_argument, NULL, OPT_POST},
    {"quiet", no_argument, NULL, 'q'},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"verbose", no_argument, NULL, 'v'},
    {NULL, 0, NULL, 0},
};

struct devices_ctx {
    struct ns_devices *dev;
    struct ns_pipeline *pl;
    struct ns_webhook *hook;
    enum ns_cli_format fmt;
    FILE *csv;        /* --csv FILE, or NULL */
    bool live;        /* flush each record */
    bool header_done; /* CSV / text header on stdout written */
    struct ns_cli_progress progress;
    char *json;   /* DEVICES_JSON_BUF bytes */
    int write_rc; /* first failure of stdout */
    int csv_rc;   /* first failure of the CSV file */
    uint64_t records;
};

static void devices_clear_progress(struct devices_ctx *c)
{
    ns_cli_progress_clear(&c->progress);
}

static void devices_on_record(void *ud, const struct ns_device *dv)
{
    struct devices_ctx *c = ud;
    size_t len = 0;
    int jrc = ns_device_json(dv, c->json, DEVICES_JSON_BUF, &len);
    c->records++;
    devices_clear_progress(c);
    if (c->write_rc == 0) {
        int rc = 0;
        if (c->fmt == NS_FMT_JSON) {
            rc = jrc != 0 ? jrc : fwrite(c->json, 1, len, stdout) == len ? 0 : NS_EIO;
        } else if (c->fmt == NS_FMT_CSV) {
            if (!c->header_done) {
                rc = ns_device_csv_header(stdout);
                c->header_done = true;
            }
            rc = rc == 0 ? ns_device_csv(stdout, dv) : rc;
        } else {
            if (!c->header_done) {
                rc = ns_device_text_header(stdout);
                c->header_done = true;
            }
            rc = rc == 0 ? ns_device_text(stdout, dv) : rc;
        }
        if (rc == 0 && c->live && fflush(stdout) != 0) {
            rc = NS_EIO;
        }
        if (rc != 0) {
            c->write_rc = rc;
            if (rc == NS_EIO && c->pl != NULL) {
                ns_pipeline_break(c->pl); /* nobody reads the output any more */
            }
        }
    }
    if (c->csv != NULL && c->csv_rc == 0) {
        c->csv_rc = ns_device_csv(c->csv, dv);
        if (c->csv_rc == 0 && c->live && fflush(c->csv) != 0) {
            c->csv_rc = NS_EIO;
        }
    }
    if (c->hook != NULL && jrc == 0) {
        const char *key = dv->ipv4_address[0] != '\0' ? dv->ipv4_address : dv->ipv6_address;
        /* a full queue drops the record and counts it (webhook.h) */
        (void)ns_webhook_post(c->hook, key, strlen(key), c->json, len);
    }
}

static void devices_on_packet(void *ud, const struct ns_packet *p, struct ns_flow *flow, int dir)
{
    struct devices_ctx *c = ud;
    (void)flow;
    (void)dir;
    ns_devices_packet(c->dev, p);
}

static void devices_on_flow_end(void *ud, struct ns_flow *f)
{
    struct devices_ctx *c = ud;
    (void)f;
    ns_devices_flush(c->dev);
}

static void devices_on_error(void *ud, const struct ns_error *err)
{
    devices_clear_progress(ud);
    ns_cli_error("%s", err->msg);
}

static void devices_on_progress(void *ud, uint64_t frames, uint64_t bytes)
{
    struct devices_ctx *c = ud;
    if (c->progress.enabled) {
        fprintf(stderr, "\r%llu packets, %.1f MiB, %llu records", (unsigned long long)frames,
                (double)bytes / (1024.0 * 1024.0), (unsigned long long)c->records);
        c->progress.shown = true;
    }
}

static void devices_print_stats(const struct ns_devices_stats *s,
                                const struct ns_pipeline_stats *ps)
{
    fprintf(stderr,
            "netsift: %llu devices, %llu records from %llu packets; connections hl7 %llu dicom "
            "%llu; hl7 messages %llu (malformed %llu); dicom pdus %llu (malformed %llu), "
            "associations %llu (rejected %llu, aborted %llu); devices dropped %llu, "
            "identifiers dropped %llu\n",
            (unsigned long long)s->devices, (unsigned long long)s->records,
            (unsigned long long)ps->source.frames, (unsigned long long)s->conns_hl7,
            (unsigned long long)s->conns_dicom, (unsigned long long)s->hl7_messages,
            (unsigned long long)s->hl7_malformed, (unsigned long long)s->dicom_pdus,
            (unsigned long long)s->dicom_malformed, (unsigned long long)s->associations,
            (unsigned long long)s->rejected, (unsigned long long)s->aborted,
            (unsigned long long)s->devices_dropped, (unsigned long long)s->idents_dropped);
}

int cmd_devices(int argc, char **argv)
{
    struct ns_pipeline_opts po;
    struct ns_tcp_reasm_opts to;
    struct ns_devices_opts dopts;
    struct devices_ctx ctx;
    struct ns_error err;
    struct ns_pipeline_stats st;
    struct ns_oui *oui = NULL;
    const char **paths = NULL;
    const char *csv_path = NULL;
    const char *post_url = NULL;
    const char *token = NULL;
    const char *client_id = NULL;
    const char *oui_dir = NULL;
    char hostname[256];
    size_t npaths = 0;
    char *bpf = NULL;
    bool fmt_given = false;
    bool quiet = false;
    int verbose = 0;
    int status = NS_EXIT_OK;
    int rc;
    int opt;

    memset(&po, 0, sizeof(po));
    memset(&to, 0, sizeof(to));
    memset(&dopts, 0, sizeof(dopts));
    memset(&ctx, 0, sizeof(ctx));
    ctx.fmt = NS_FMT_JSON;

    paths = ns_calloc((size_t)(argc > 0 ? argc : 1), sizeof(*paths));
    if (paths == NULL) {
        ns_cli_error("out of memory");
        return NS_EXIT_FAILURE;
    }

    optind = 0; /* glibc: a full reset, whatever ran before */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":r:i:qvh", devices_options, NULL)) != -1) {
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
            fputs(devices_usage, stdout);
            fputs(devices_help, stdout);
            status = NS_EXIT_OK;
            goto out;
        case OPT_FORMAT:
            if (!ns_cli_parse_format(optarg, &ctx.fmt)) {
                status = ns_cli_usage_error(devices_usage, "unknown format '%s'", optarg);
                goto out;
            }
            fmt_given = true;
            break;
        case OPT_CSV:
            csv_path = optarg;
            break;
        case OPT_POST:
            post_url = optarg;
            break;
        case OPT_TOKEN:
            token = optarg;
            break;
        case OPT_CLIENT_ID:
            client_id = optarg;
            break;
        case OPT_OUI_DIR:
            oui_dir = optarg;
            break;
        case ':':
        case '?':
        default:
            status = ns_cli_getopt_error(devices_usage, opt, argc, argv);
            goto out;
        }
    }
    status = ns_cli_check_input(devices_usage, npaths, po.source.iface);
    if (status != NS_EXIT_OK) {
        goto out;
    }
    if (token != NULL && post_url == NULL) {
        status = ns_cli_usage_error(devices_usage, "--token needs --post URL");
        goto out;
    }
    bool oom = false;
    bpf = ns_cli_join_bpf(argc, argv, optind, &oom);
    if (oom) {
        ns_cli_error("out of memory");
        status = NS_EXIT_FAILURE;
        goto out;
    }
    if (!fmt_given && isatty(STDOUT_FILENO)) {
        ctx.fmt = NS_FMT_TEXT;
    }
    if (client_id == NULL) {
        if (gethostname(hostname, sizeof(hostname)) != 0) {
            hostname[0] = '\0';
        }
        hostname[sizeof(hostname) - 1] = '\0';
        client_id = hostname;
    }

    /* the vendor table: required when named, optional otherwise */
    rc = ns_oui_load(&oui, oui_dir, &err);
    if (rc != 0) {
        oui = NULL;
        if (oui_dir != NULL) {
            ns_cli_error("%s", err.msg[0] != '\0' ? err.msg : ns_strerror(rc));
            status = NS_EXIT_FAILURE;
            goto out;
        }
    }

    ctx.json = ns_malloc(DEVICES_JSON_BUF);
    if (ctx.json == NULL) {
        ns_cli_error("out of memory");
        status = NS_EXIT_FAILURE;
        goto out;
    }
    if (csv_path != NULL) {
        ctx.csv = fopen(csv_path, "w");
        if (ctx.csv == NULL) {
            ns_cli_error("cannot open '%s': %s", csv_path, strerror(errno));
            status = NS_EXIT_FAILURE;
            goto out;
        }
        if (ns_device_csv_header(ctx.csv) != 0) {
            ctx.csv_rc = NS_EIO;
        }
    }
    if (post_url != NULL) {
        struct ns_webhook_opts wo;
        memset(&wo, 0, sizeof(wo));
        wo.url = post_url;
        wo.token = token;
        rc = ns_webhook_new(&ctx.hook, &wo, &err);
        if (rc != 0) {
            ns_cli_error("%s", err.msg[0] != '\0' ? err.msg : ns_strerror(rc));
            status = NS_EXIT_FAILURE;
            goto out;
        }
    }

    dopts.oui = oui;
    dopts.client_id = client_id;
    dopts.on_record = devices_on_record;
    dopts.ud = &ctx;
    rc = ns_devices_new(&ctx.dev, &dopts);
    if (rc != 0) {
        ns_cli_error("%s", ns_strerror(rc));
        status = NS_EXIT_FAILURE;
        goto out;
    }
    ns_devices_tcp_callbacks(ctx.dev, &to);

    po.source.paths = paths;
    po.source.npaths = npaths;
    po.source.bpf = bpf;
    po.source.promisc = true;
    po.tcp = &to;
    po.on_packet = devices_on_packet;
    po.on_flow_end = devices_on_flow_end;
    po.on_error = devices_on_error;
    po.on_progress = devices_on_progress;
    po.ud = &ctx;
    ctx.live = po.source.iface != NULL;
    ctx.progress.enabled = !quiet && isatty(STDERR_FILENO);
    if (!ctx.live && !isatty(STDOUT_FILENO)) {
        setvbuf(stdout, NULL, _IOFBF, 1u << 20);
    }

    rc = ns_pipeline_new(&ctx.pl, &po, &err);
    if (rc != 0) {
        ns_cli_error("%s", err.msg[0] != '\0' ? err.msg : ns_strerror(rc));
        status = NS_EXIT_FAILURE;
        goto out;
    }

    rc = ns_cli_run_pipeline(ctx.pl, po.source.iface != NULL && !quiet ? po.source.iface : NULL,
                             &err);
    ns_devices_finish(ctx.dev);
    devices_clear_progress(&ctx);

    if (rc == NS_EIO) {
        status = NS_EXIT_FAILURE; /* each broken input was reported already */
    } else if (rc != 0) {
        ns_cli_error("%s", err.msg[0] != '\0' ? err.msg : ns_strerror(rc));
        status = NS_EXIT_FAILURE;
    }
    if (ctx.write_rc == 0 && ctx.fmt != NS_FMT_JSON && !ctx.header_done) {
        ctx.write_rc =
            ctx.fmt == NS_FMT_CSV ? ns_device_csv_header(stdout) : ns_device_text_header(stdout);
    }
    if (ctx.write_rc == 0 && fflush(stdout) != 0) {
        ctx.write_rc = NS_EIO;
    }
    if (ctx.write_rc != 0) {
        ns_cli_error("cannot write the output: %s",
                     ctx.write_rc == NS_EIO ? strerror(errno) : ns_strerror(ctx.write_rc));
        status = NS_EXIT_FAILURE;
    }
    if (ctx.csv != NULL) {
        if (ctx.csv_rc == 0 && fflush(ctx.csv) != 0) {
            ctx.csv_rc = NS_EIO;
        }
        if (ctx.csv_rc != 0) {
            ns_cli_error("cannot write '%s': %s", csv_path, ns_strerror(ctx.csv_rc));
            status = NS_EXIT_FAILURE;
        }
    }
    if (ctx.hook != NULL) {
        struct ns_webhook_stats ws;
        char last[300];
        ns_webhook_close(ctx.hook, DEVICES_POST_WAIT_MS);
        ns_webhook_get_stats(ctx.hook, &ws);
        ns_webhook_last_error(ctx.hook, last, sizeof(last));
        if (!quiet) {
            fprintf(stderr,
                    "netsift: posted %llu records: %llu sent, %llu retried, %llu dropped, %llu "
                    "failed, %llu unchanged%s%s\n",
                    (unsigned long long)ws.posted, (unsigned long long)ws.sent,
                    (unsigned long long)ws.retried, (unsigned long long)ws.dropped,
                    (unsigned long long)ws.failed, (unsigned long long)ws.deduplicated,
                    last[0] != '\0' ? "; last error: " : "", last);
        }
    }
    if (verbose > 0 && !quiet) {
        ns_pipeline_get_stats(ctx.pl, &st);
        devices_print_stats(ns_devices_stats(ctx.dev), &st);
    }

out:
    ns_pipeline_free(ctx.pl);
    ns_devices_free(ctx.dev);
    ns_webhook_free(ctx.hook);
    if (ctx.csv != NULL && fclose(ctx.csv) != 0 && status == NS_EXIT_OK) {
        ns_cli_error("cannot write '%s': %s", csv_path, strerror(errno));
        status = NS_EXIT_FAILURE;
    }
    if (oui != NULL) {
        ns_oui_free(oui);
    }
    ns_free(ctx.json);
    ns_free(bpf);
    ns_free(paths);
    return status;
}
