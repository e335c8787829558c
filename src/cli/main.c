/*
 * main.c - the netsift command table, common flags and exit codes.
 *
 * git's habit: `netsift <command> [options]`, `netsift help <command>`,
 * `netsift --version`; each command's -h/--help prints to stdout and exits 0.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsift/alloc.h"
#include "netsift/err.h"
#include "netsift/pipeline.h"

#ifndef NS_VERSION_STRING
#define NS_VERSION_STRING "0.0.0"
#endif

struct ns_command {
    const char *name;
    ns_cmd_fn *fn;
    const char *summary;
};

/* Sorted by name. */
static const struct ns_command commands[] = {
    {"devices", cmd_devices, "discover and identify medical devices from HL7 and DICOM traffic"},
    {"flows", cmd_flows, "one record per flow (5-tuple + VLAN) with counters and Community ID"},
    {"hosts", cmd_hosts, "per-host traffic, country / ASN, OS guess (p0f), scan and flood alerts"},
    {"interfaces", cmd_interfaces, "list capture interfaces with their addresses"},
    {"streams", cmd_streams, "reassemble TCP (and UDP) streams into files, HTTP bodies, DFXML"},
    {"synth", cmd_synth, "write a deterministic, realistic sample capture"},
};

static void usage(FILE *fp)
{
    fprintf(fp, "usage: netsift <command> [options] [BPF expression]\n"
                "       netsift help <command>\n"
                "       netsift --version\n\n"
                "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(fp, "  %-12s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(fp, "\nRun 'netsift <command> --help' for a command's options.\n");
}

static const struct ns_command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

bool ns_cli_parse_format(const char *s, enum ns_cli_format *out)
{
    if (strcmp(s, "text") == 0) {
        *out = NS_FMT_TEXT;
    } else if (strcmp(s, "json") == 0) {
        *out = NS_FMT_JSON;
    } else if (strcmp(s, "csv") == 0) {
        *out = NS_FMT_CSV;
    } else {
        return false;
    }
    return true;
}

int ns_cli_usage_error(const char *usage_text, const char *fmt, ...)
{
    va_list ap;
    fputs("error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (usage_text != NULL) {
        fputs(usage_text, stderr);
    }
    return NS_EXIT_USAGE;
}

void ns_cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("netsift: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

char *ns_cli_join_bpf(int argc, char **argv, int first, bool *oom)
{
    size_t len = 0;
    *oom = false;
    if (first >= argc) {
        return NULL;
    }
    for (int i = first; i < argc; i++) {
        len += strlen(argv[i]) + 1;
    }
    char *s = ns_malloc(len);
    if (s == NULL) {
        *oom = true;
        return NULL;
    }
    size_t pos = 0;
    for (int i = first; i < argc; i++) {
        size_t n = strlen(argv[i]);
        memcpy(s + pos, argv[i], n);
        pos += n;
        s[pos++] = i + 1 < argc ? ' ' : '\0';
    }
    return s;
}

bool ns_cli_parse_size(const char *s, unsigned long long *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long mul = 1;
    if (end == s || s[0] == '-') {
        return false;
    }
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mul = 1ULL << 10;
        end++;
        break;
    case 'm':
    case 'M':
        mul = 1ULL << 20;
        end++;
        break;
    case 'g':
    case 'G':
        mul = 1ULL << 30;
        end++;
        break;
    default:
        return false;
    }
    if (*end == 'i' || *end == 'B') {
        end += *end == 'i' && end[1] == 'B' ? 2 : 1;
    }
    if (*end != '\0' || (v != 0 && mul > ~0ULL / v)) {
        return false;
    }
    *out = v * mul;
    return true;
}

/*
 * The running pipeline, for the signal handler only: set around the run by
 * ns_cli_run_pipeline (the one piece of process state of the CLI).
 */
static struct ns_pipeline *volatile ns_cli_running;

static void ns_cli_on_signal(int sig)
{
    (void)sig;
    struct ns_pipeline *pl = ns_cli_running;
    if (pl != NULL) {
        ns_pipeline_break(pl);
    }
}

int ns_cli_run_pipeline(struct ns_pipeline *pl, const char *listening, struct ns_error *err)
{
    struct sigaction sa;
    struct sigaction old_int;
    struct sigaction old_term;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ns_cli_on_signal;
    sigemptyset(&sa.sa_mask);
    ns_cli_running = pl;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (listening != NULL) {
        fprintf(stderr, "netsift: listening on %s\n", listening);
    }
    int rc = ns_pipeline_run(pl, err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    ns_cli_running = NULL;
    return rc;
}

void ns_cli_progress_show(struct ns_cli_progress *p, uint64_t frames, uint64_t bytes)
{
    if (p->enabled) {
        fprintf(stderr, "\r%llu packets, %.1f MiB", (unsigned long long)frames,
                (double)bytes / (1024.0 * 1024.0));
        p->shown = true;
    }
}

void ns_cli_progress_clear(struct ns_cli_progress *p)
{
    if (p->shown) {
        fputs("\r\033[K", stderr);
        p->shown = false;
    }
}

void ns_cli_option_name(char *buf, size_t size, int opt, int argc, char **argv)
{
    const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    size_t n = strcspn(word, "=");
    if (opt == 0 || opt >= 256 || strncmp(word, "--", 2) == 0) {
        snprintf(buf, size, "%.*s", (int)n, word);
    } else {
        snprintf(buf, size, "-%c", opt);
    }
}

int ns_cli_getopt_error(const char *usage, int opt, int argc, char **argv)
{
    char name[64];
    ns_cli_option_name(name, sizeof(name), optopt, argc, argv);
    if (opt == ':') {
        return ns_cli_usage_error(usage, "option '%s' requires a value", name);
    }
    if (optopt != 0 && strncmp(name, "--", 2) == 0) {
        /* a known long option given "=value" it does not take */
        return ns_cli_usage_error(usage, "option '%s' takes no value", name);
    }
    return ns_cli_usage_error(usage, "unknown option '%s'", name);
}

int ns_cli_check_input(const char *usage, size_t npaths, const char *iface)
{
    if (npaths == 0 && iface == NULL) {
        return ns_cli_usage_error(usage, "no input: give -r FILE or -i IFACE");
    }
    if (npaths > 0 && iface != NULL) {
        return ns_cli_usage_error(usage, "-r and -i cannot be used together");
    }
    return NS_EXIT_OK;
}

bool ns_cli_parse_count(const char *s, unsigned long long max, unsigned long long *out)
{
    unsigned long long v = 0;
    if (!ns_cli_parse_size(s, &v) || v == 0 || v > max) {
        return false;
    }
    *out = v;
    return true;
}

bool ns_cli_parse_seconds(const char *s, uint64_t *ns)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    /* at most ~31 years, so the nanoseconds fit easily */
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v <= 0 || v > 1e9) {
        return false;
    }
    *ns = (uint64_t)(v * 1e9);
    return *ns > 0;
}

int main(int argc, char **argv)
{
    /*
     * Memory freed by a table or a worker thread is kept for the next
     * allocation rather than handed back to the kernel and faulted in again
     * moments later (glibc trims a thread's heap on every large free), and
     * heaps grow in steps of 8 MiB. Peak RSS still bounds what is kept.
     */
    (void)mallopt(M_TRIM_THRESHOLD, 64 << 20);
    (void)mallopt(M_TOP_PAD, 8 << 20);
    if (argc < 2) {
        usage(stderr);
        return NS_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("netsift %s\n", NS_VERSION_STRING);
        return NS_EXIT_OK;
    }
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
        usage(stdout);
        return NS_EXIT_OK;
    }
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return NS_EXIT_OK;
        }
        const struct ns_command *c = find_command(argv[2]);
        if (c == NULL) {
            return ns_cli_usage_error(NULL, "unknown command '%s'", argv[2]);
        }
        char *hargv[] = {argv[2], "--help", NULL};
        return c->fn(2, hargv);
    }
    const struct ns_command *c = find_command(name);
    if (c == NULL) {
        ns_cli_usage_error(NULL, "unknown command '%s'", name);
        usage(stderr);
        return NS_EXIT_USAGE;
    }
    return c->fn(argc - 1, argv + 1);
}
