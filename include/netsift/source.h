/*
 * source.h - where frames come from: capture files, directories, stdin and
 * live interfaces, merged into one stream in timestamp order.
 *
 * Inputs (struct ns_source_opts):
 *   - a pcap file in either byte order, micro- or nanosecond resolution, or a
 *     pcapng file with several interfaces and link types;
 *   - the same compressed with gzip (`.gz`, or detected by its magic bytes),
 *     inflated as a stream with zlib, no temporary file;
 *   - "-" for standard input (plain or gzip);
 *   - a directory: every capture file below it (recursively, hidden entries
 *     skipped), merged by timestamp, not by name;
 *   - several of the above (repeated -r), merged by timestamp too;
 *   - a live interface (libpcap, immediate mode, configurable buffer).
 * A BPF expression in tcpdump syntax is compiled per link type and applied to
 * files (pcap_offline_filter) and to live captures (pcap_setfilter).
 *
 * Files are read with 1 MiB buffers straight from read(2) (or zlib) by our
 * own bounds-checked readers: classic pcap records are handed out as views
 * into that buffer, never copied (libpcap's fread copy of every record cost
 * a fifth of the read loop); pcapng because libpcap 1.10 refuses files
 * whose interfaces have different link types. libpcap compiles the BPF
 * filters and does the live capture.
 *
 * Errors: a file that cannot be opened, has a wrong magic number, or breaks
 * off (a truncated record, a record longer than the snap length or the file,
 * garbage in the middle) ends that input only. ns_source_next() returns the
 * error once, with a message "FILE: <what> at offset N", after every frame
 * before the bad spot was returned; the next call goes on with the other
 * inputs. The caller decides the exit status.
 */
#ifndef NETSIFT_SOURCE_H
#define NETSIFT_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsift/err.h"

struct ns_source;

struct ns_source_opts {
    const char *const *paths; /* files, directories or "-" */
    size_t npaths;
    const char *iface;     /* live interface, or NULL */
    const char *bpf;       /* filter expression, or NULL */
    int snaplen;           /* live: 0 means 262144 */
    int buffer_mb;         /* live: kernel buffer in MiB, 0 means libpcap's default */
    bool promisc;          /* live */
    size_t max_open_files; /* directory merge: open at once, 0 means 64 */
    bool wake_on_idle; /* live: NS_EAGAIN from ns_source_next after each 100 ms without a frame */
};

/* One frame. Views are valid until the next ns_source_next() or ns_source_free(). */
struct ns_frame {
    const uint8_t *data;
    uint32_t caplen;
    uint32_t wirelen;
    uint64_t ts_ns;
    int linktype;
    uint64_t index;       /* 1-based frame number in its own input */
    const char *src_name; /* the input's name as given (or the file below a directory) */
};

struct ns_source_stats {
    uint64_t inputs;          /* files opened (or 1 for a live interface) */
    uint64_t inputs_failed;   /* inputs that could not be read to their end */
    uint64_t frames;          /* frames returned */
    uint64_t filtered;        /* frames rejected by the BPF filter */
    uint64_t bytes;           /* captured bytes returned */
    uint64_t out_of_order;    /* frames older than the previous one in the merged stream */
    uint64_t live_dropped;    /* live: pcap_stats ps_drop */
    uint64_t live_if_dropped; /* live: pcap_stats ps_ifdrop */
    uint64_t files_skipped;   /* directory entries that are not capture files (ignored) */
};

/*
 * Open every input. Returns 0, or a negative code with `err` filled for a
 * problem found before reading (a bad BPF expression, an interface that
 * cannot be opened, a path that does not exist). A file with a bad header is
 * not an open error: it is reported by ns_source_next() in turn, so that the
 * other inputs are still read.
 */
int ns_source_open(struct ns_source **out, const struct ns_source_opts *opts, struct ns_error *err);

/*
 * Open one capture held in memory (`data`, `len`: borrowed, must outlive the
 * source), read through the same code as a file: pcap, pcapng, gzip. `name`
 * is used as src_name and in messages; `bpf` may be NULL. For fuzzing and
 * tests.
 */
int ns_source_open_memory(struct ns_source **out, const void *data, size_t len, const char *name,
                          const char *bpf, struct ns_error *err);

/*
 * Next frame in timestamp order. Returns 0 with `*frame` filled; NS_EOF when
 * every input is done; another negative code (NS_EIO, NS_EMALFORMED,
 * NS_ETRUNC) with `err` filled when an input broke off (call again to go on
 * with the others); NS_EAGAIN (live with wake_on_idle: no frame for 100 ms,
 * call again).
 */
int ns_source_next(struct ns_source *s, struct ns_frame *frame, struct ns_error *err);

/* Ask a live capture to stop (async-signal-safe: sets a flag, breaks the loop). */
void ns_source_break(struct ns_source *s);

const struct ns_source_stats *ns_source_stats(const struct ns_source *s);

void ns_source_free(struct ns_source *s);

/*
 * List capture interfaces to `fp`-like callback: name, description, and
 * addresses (comma separated), one call per interface.
 */
typedef void ns_iface_fn(void *ud, const char *name, const char *desc, const char *addrs, bool up,
                         bool loopback);
int ns_source_list_interfaces(ns_iface_fn *fn, void *ud, struct ns_error *err);

#endif
