/*
 * fuzz_source.c - the input bytes are one capture file (pcap, pcapng or
 * gzip of either), read to its end through ns_source_open_memory(), which
 * uses the same stream, format detection and record readers as a file on
 * disk. Once with no filter and once with a BPF filter, so that filtering
 * of whatever link types the bytes declare is exercised too. Must never
 * crash, leak or print.
 */
#include <stddef.h>
#include <stdint.h>

#include "netsift/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drain(const uint8_t *data, size_t size, const char *bpf)
{
    struct ns_source *s = NULL;
    struct ns_error err;
    if (ns_source_open_memory(&s, data, size, "fuzz", bpf, &err) != 0) {
        return;
    }
    struct ns_frame f;
    uint64_t sum = 0;
    /* an input ends at its first error; the cap only guards against a bug */
    for (int i = 0; i < 1000000; i++) {
        int rc = ns_source_next(s, &f, &err);
        if (rc == NS_EOF) {
            break;
        }
        if (rc == 0 && f.caplen > 0) {
            sum += f.data[0] + f.data[f.caplen - 1];
        }
    }
    (void)sum;
    ns_source_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    drain(data, size, NULL);
    drain(data, size, "ip or ip6");
    return 0;
}
