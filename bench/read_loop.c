/*
 * read_loop.c - read every record of a capture with libpcap, nothing else.
 *
 * usage: ns_read_loop [--plain] FILE
 *   default  fopen + setvbuf(1 MiB) + pcap_fopen_offline (what netsift does)
 *   --plain  pcap_open_offline (libpcap's own 4 KiB reads)
 * Prints "packets bytes" so the benchmark can check both read the same.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    static char iobuf[1 << 20];
    int plain = argc == 3 && strcmp(argv[1], "--plain") == 0;
    const char *path = argv[argc - 1];
    pcap_t *p;

    if (argc < 2) {
        fprintf(stderr, "usage: ns_read_loop [--plain] FILE\n");
        return 2;
    }
    if (plain) {
        p = pcap_open_offline(path, errbuf);
    } else {
        FILE *fp = fopen(path, "rb");
        if (fp == NULL) {
            perror(path);
            return 1;
        }
        setvbuf(fp, iobuf, _IOFBF, sizeof(iobuf));
        p = pcap_fopen_offline(fp, errbuf);
    }
    if (p == NULL) {
        fprintf(stderr, "%s: %s\n", path, errbuf);
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    uint64_t n = 0, bytes = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
        n++;
        bytes += h->caplen;
    }
    pcap_close(p);
    printf("%llu %llu\n", (unsigned long long)n, (unsigned long long)bytes);
    return rc == PCAP_ERROR ? 1 : 0;
}
