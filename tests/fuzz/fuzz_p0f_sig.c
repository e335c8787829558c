/*
 * fuzz_p0f_sig.c - libFuzzer target for the p0f.fp signature-file parser
 * (ns_p0f_load_buffer, analyze_p0f_sig.c; format in p0f 3.09b's README
 * section 5).
 *
 * Input: the whole file text. When it parses, a fixed SYN and a fixed HTTP
 * request are matched against the result, so that every signature the
 * parser accepts is also exercised by the matchers. A successful parse must
 * leave an empty error; a failed one must leave a message naming the input
 * ("fuzz.fp: ...") and no database.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsift/decode.h"
#include "netsift/err.h"
#include "netsift/http.h"
#include "netsift/p0f.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Ethernet + IPv4 + TCP SYN, Linux options (mss, sok, ts, nop, ws 7). */
static const uint8_t syn[] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00, /* eth */
    0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00,             /* IPv4, total 60, id, DF */
    0x40, 0x06, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x01,             /* ttl 64, TCP, 10.0.0.1 */
    0x0a, 0x00, 0x00, 0x02,                                     /* 10.0.0.2 */
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,             /* ports, seq 1000 */
    0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0x72, 0x10,             /* ack 0, doff 10, SYN, win 29200 */
    0x00, 0x00, 0x00, 0x00,                                     /* checksum, urg */
    0x02, 0x04, 0x05, 0xb4, 0x04, 0x02,                         /* mss 1460, sok */
    0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /* ts */
    0x01, 0x03, 0x03, 0x07,                                     /* nop, ws 7 */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ns_p0f_db *db = NULL;
    struct ns_error err;
    ns_error_clear(&err);
    int rc = ns_p0f_load_buffer(&db, (const char *)data, size, "fuzz.fp", &err);
    if (rc != 0) {
        if (db != NULL || strncmp(err.msg, "fuzz.fp: ", 9) != 0) {
            abort();
        }
        return 0;
    }
    if (err.msg[0] != '\0') {
        abort();
    }
    struct ns_packet p;
    memset(&p, 0, sizeof(p));
    p.data = syn;
    p.caplen = sizeof(syn);
    p.wirelen = sizeof(syn);
    p.linktype = NS_LINK_EN10MB;
    struct ns_p0f_result r;
    if (ns_decode_packet(&p, NULL, NULL) == 0) {
        (void)ns_p0f_tcp(db, &p, &r);
    }
    static const struct ns_http_header hs[] = {
        {"Host", 4, "h", 1}, {"User-Agent", 10, "curl/8 (Linux)", 14}, {"Accept", 6, "*/*", 3}};
    struct ns_http_msg m;
    memset(&m, 0, sizeof(m));
    m.kind = NS_HTTP_REQUEST;
    m.version_major = 1;
    m.version_minor = 1;
    m.headers = hs;
    m.nheaders = 3;
    char sig[256];
    (void)ns_p0f_http(db, &m, &r);
    (void)ns_p0f_http_sig(db, &m, sig, sizeof(sig)); /* header names known to this database */
    m.kind = NS_HTTP_RESPONSE;
    (void)ns_p0f_http(db, &m, &r);
    (void)ns_p0f_http_sig(db, &m, sig, sizeof(sig));
    ns_p0f_free(db);
    return 0;
}
