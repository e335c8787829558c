/*
 * cmd_synth.c - `netsift synth`: write a deterministic, realistic sample
 * capture (classic pcap) and, optionally, the truth about its flows (JSON
 * Lines). See docs/cli/synth.md and include/netsift/synth.h.
 *
 * Files are written atomically: FILE.tmp first, renamed over FILE when
 * complete; `-o -` writes the capture to stdout.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netsift/alloc.h"
#include "netsift/synth.h"

static const char usage_text[] =
    "usage: netsift synth -o FILE [--seed N] [--size BYTES] [--kinds LIST] [--truth FILE] [-q]\n";

static void help(void)
{
    printf("%s\n"
           "Write a deterministic, realistic sample capture (classic pcap, Ethernet).\n\n"
           "  -o, --output FILE   the pcap to write ('-' for stdout)\n"
           "      --seed N        seed of the generator (default 1); same seed, same bytes\n"
           "      --size BYTES    keep adding rounds of traffic until the file has this\n"
           "                      size (k, M, G suffixes: powers of 1024); default: one round\n"
           "      --kinds LIST    comma-separated subset of: tcp, http, hl7, dicom, dns,\n"
           "                      ipv6, vlan, frag, retrans, scan (default: all)\n"
           "      --truth FILE    also write one JSON line per generated flow\n"
           "  -q, --quiet         no progress on stderr\n"
           "  -h, --help          this help\n",
           usage_text);
}

struct progress {
    bool shown;
};

static void on_progress(void *ud, uint64_t bytes, uint64_t target)
{
    struct progress *p = ud;
    if (target == 0) {
        return;
    }
    double pct = (double)bytes * 100.0 / (double)target;
    fprintf(stderr, "\rsynth: %.1f MiB of %.1f MiB (%.0f%%)", (double)bytes / 1048576.0,
            (double)target / 1048576.0, pct > 100.0 ? 100.0 : pct);
    p->shown = true;
}

/* "<path>.tmp", newly allocated. */
static char *tmp_name(const char *path)
{
    size_t n = strlen(path);
    char *s = ns_malloc(n + 5);
    if (s != NULL) {
        memcpy(s, path, n);
        memcpy(s + n, ".tmp", 5);
    }
    return s;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (s[0] == '\0' || s[0] == '-') {
        return false;
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *out = v;
    return true;
}

/* Close fp and move tmp over path; on failure remove tmp. */
static bool finish_file(FILE *fp, const char *tmp, const char *path, bool ok)
{
    if (fclose(fp) != 0) {
        ok = false;
    }
    if (ok && rename(tmp, path) != 0) {
        ns_cli_error("cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
        ok = false;
    }
    if (!ok) {
        remove(tmp);
    }
    return ok;
}

int cmd_synth(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'}, {"seed", required_argument, NULL, 'S'},
        {"size", required_argument, NULL, 's'},   {"kinds", required_argument, NULL, 'k'},
        {"truth", required_argument, NULL, 't'},  {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct ns_synth_opts opts = {.seed = 1};
    const char *output = NULL;
    const char *truth_path = NULL;
    bool quiet = false;
    int c;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:q", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return NS_EXIT_OK;
        case 'o':
            output = optarg;
            break;
        case 'S':
            if (!parse_u64(optarg, &opts.seed)) {
                return ns_cli_usage_error(usage_text, "invalid seed '%s'", optarg);
            }
            break;
        case 's': {
            unsigned long long v = 0;
            if (!ns_cli_parse_size(optarg, &v)) {
                return ns_cli_usage_error(usage_text, "invalid size '%s'", optarg);
            }
            opts.size = v;
            break;
        }
        case 'k':
            if (ns_synth_parse_kinds(optarg, &opts.kinds) != 0) {
                return ns_cli_usage_error(usage_text,
                                          "invalid kinds '%s' (expected a comma-separated list "
                                          "of tcp, http, hl7, dicom, dns, ipv6, vlan, frag, "
                                          "retrans, scan)",
                                          optarg);
            }
            break;
        case 't':
            truth_path = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case ':':
            return ns_cli_usage_error(usage_text, "option '%s' requires a value", argv[optind - 1]);
        default:
            if (optopt != 0) {
                return ns_cli_usage_error(usage_text, "unknown option '-%c'", optopt);
            }
            return ns_cli_usage_error(usage_text, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        return ns_cli_usage_error(usage_text, "unexpected argument '%s'", argv[optind]);
    }
    if (output == NULL) {
        return ns_cli_usage_error(usage_text, "missing -o FILE");
    }

    int status = NS_EXIT_FAILURE;
    bool to_stdout = strcmp(output, "-") == 0;
    char *pcap_tmp = NULL;
    char *truth_tmp = NULL;
    FILE *pcap = NULL;
    FILE *truth = NULL;
    struct progress prog = {false};
    struct ns_synth_stats st;
    struct ns_error err;
    ns_error_clear(&err);

    if (to_stdout) {
        pcap = stdout;
    } else {
        pcap_tmp = tmp_name(output);
        if (pcap_tmp == NULL) {
            ns_cli_error("out of memory");
            goto out;
        }
        pcap = fopen(pcap_tmp, "wb");
        if (pcap == NULL) {
            ns_cli_error("cannot create '%s': %s", pcap_tmp, strerror(errno));
            goto out;
        }
    }
    if (truth_path != NULL) {
        truth_tmp = tmp_name(truth_path);
        if (truth_tmp == NULL) {
            ns_cli_error("out of memory");
            goto out;
        }
        truth = fopen(truth_tmp, "w");
        if (truth == NULL) {
            ns_cli_error("cannot create '%s': %s", truth_tmp, strerror(errno));
            goto out;
        }
    }
    bool show = !quiet && isatty(STDERR_FILENO);
    if (show) {
        opts.progress = on_progress;
        opts.progress_ud = &prog;
    }
    int rc = ns_synth_write(pcap, truth, &opts, &st, &err);
    if (prog.shown) {
        fputc('\n', stderr);
    }
    if (rc != 0) {
        ns_cli_error("%s", err.msg[0] != '\0' ? err.msg : ns_strerror(rc));
    } else if (show) {
        fprintf(stderr, "synth: %llu frames, %llu flows, %llu bytes in %llu round%s\n",
                (unsigned long long)st.frames, (unsigned long long)st.flows,
                (unsigned long long)st.bytes, (unsigned long long)st.rounds,
                st.rounds == 1 ? "" : "s");
    }
    bool ok = rc == 0;
    if (to_stdout) {
        ok = fflush(stdout) == 0 && ok;
    } else {
        ok = finish_file(pcap, pcap_tmp, output, ok);
    }
    pcap = NULL;
    if (truth != NULL) {
        ok = finish_file(truth, truth_tmp, truth_path, ok);
        truth = NULL;
    }
    if (ok) {
        status = NS_EXIT_OK;
    } else if (rc == 0) {
        ns_cli_error("cannot write the output");
    }

out:
    if (pcap != NULL && !to_stdout) {
        fclose(pcap);
        remove(pcap_tmp);
    }
    if (truth != NULL) {
        fclose(truth);
        remove(truth_tmp);
    }
    ns_free(pcap_tmp);
    ns_free(truth_tmp);
    return status;
}
