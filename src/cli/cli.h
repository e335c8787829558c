/*
 * cli.h - what the subcommands share: the command signature, output format
 * parsing, and the exit codes (docs/cli/exit-codes.md).
 */
#ifndef NETSIFT_CLI_H
#define NETSIFT_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses, decided only here and in main.c. */
#define NS_EXIT_OK      0 /* success; malformed packets are counted, not failures */
#define NS_EXIT_FAILURE 1 /* unreadable input, I/O error, internal error */
#define NS_EXIT_USAGE   2 /* bad command line */

enum ns_cli_format {
    NS_FMT_TEXT = 0,
    NS_FMT_JSON,
    NS_FMT_CSV,
};

/* A subcommand: argv[0] is the command's name. Returns an NS_EXIT_ status. */
typedef int ns_cmd_fn(int argc, char **argv);

int cmd_devices(int argc, char **argv);
int cmd_flows(int argc, char **argv);
int cmd_hosts(int argc, char **argv);
int cmd_interfaces(int argc, char **argv);
int cmd_streams(int argc, char **argv);
int cmd_synth(int argc, char **argv);

/* Parse "text", "json" or "csv"; false if unknown. */
bool ns_cli_parse_format(const char *s, enum ns_cli_format *out);

/*
 * Report a usage error the git way: "error: <msg>" and the short usage on
 * stderr. Returns NS_EXIT_USAGE.
 */
int ns_cli_usage_error(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "netsift: <msg>" on stderr (errors the user must see, also under -q). */
void ns_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Join argv[first..argc) with spaces into a newly allocated BPF expression;
 * NULL when there are no words (or on allocation failure, with *oom set).
 */
char *ns_cli_join_bpf(int argc, char **argv, int first, bool *oom);

struct ns_pipeline;
struct ns_error;

/*
 * Run the pipeline with SIGINT and SIGTERM stopping it cleanly (the loop
 * ends, flows are flushed) and the previous handlers restored afterwards.
 * `listening` (may be NULL): the live interface, announced on stderr once
 * the handlers are in place ("netsift: listening on eth0", tcpdump's habit).
 * Returns what ns_pipeline_run() returns.
 */
int ns_cli_run_pipeline(struct ns_pipeline *pl, const char *listening, struct ns_error *err);

/* A progress line on stderr ("\r123 packets, 4.5 MiB"), drawn only when enabled. */
struct ns_cli_progress {
    bool enabled; /* stderr is a terminal and no -q */
    bool shown;   /* a line is drawn and needs clearing */
};

void ns_cli_progress_show(struct ns_cli_progress *p, uint64_t frames, uint64_t bytes);
/* Erase the progress line, if one is drawn (before any other stderr output). */
void ns_cli_progress_clear(struct ns_cli_progress *p);

/*
 * The option getopt_long just rejected, as the user typed it ("--max-flows",
 * "-r"), for "error: ..." messages: `opt` is optopt (or the option's value).
 */
void ns_cli_option_name(char *buf, size_t size, int opt, int argc, char **argv);

/*
 * The usage error for what getopt_long returned as ':' (an option's value
 * is missing) or anything else unknown ('?': an unknown option, or a known
 * long option given "=value" it does not take). Returns NS_EXIT_USAGE.
 */
int ns_cli_getopt_error(const char *usage, int opt, int argc, char **argv);

/*
 * A capture command reads either -r paths or one -i interface: the usage
 * error when it got neither or both, else NS_EXIT_OK.
 */
int ns_cli_check_input(const char *usage, size_t npaths, const char *iface);

/* A count in 1..max (suffixes as ns_cli_parse_size); false if invalid. */
bool ns_cli_parse_count(const char *s, unsigned long long max, unsigned long long *out);

/* A positive number of seconds (fractions allowed, at most 1e9) in nanoseconds. */
bool ns_cli_parse_seconds(const char *s, uint64_t *ns);

/* Parse a size such as "1G", "512M", "64k", "1000" (powers of 1024); false if invalid. */
bool ns_cli_parse_size(const char *s, unsigned long long *out);

#endif
