/*
 * fuzz_hl7.c - fuzz target for the HL7 v2 / MLLP parser (hl7.h; HL7 v2.x
 * chapter 2, MLLP).
 *
 *   +----------+---------------------------------------------+
 *   | selector | stream bytes (one direction of a TCP stream) |
 *   +----------+---------------------------------------------+
 *   selector 0: the stream is fed whole; otherwise in chunks of `selector`
 *   bytes. Selector bit 7 also turns on small caps (512-byte messages,
 *   4 segments, 2 identifiers) and a gap of 3 bytes after the first chunk.
 *
 * Every view handed to the callback is read byte by byte (so the sanitizers
 * see any out-of-bounds view), and identifiers are checked to be a value
 * that is a prefix of its raw field.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsift/err.h"
#include "netsift/hl7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned fuzz_touch(struct ns_hl7_view v)
{
    unsigned s = 0;
    for (size_t i = 0; i < v.len; i++) {
        s += (unsigned char)v.ptr[i];
    }
    return s;
}

static void fuzz_on_message(void *ud, const struct ns_hl7_msg *m)
{
    unsigned *sum = ud;
    *sum += fuzz_touch(m->message_type) + fuzz_touch(m->message_code) +
            fuzz_touch(m->trigger_event) + fuzz_touch(m->control_id) + fuzz_touch(m->version) +
            fuzz_touch(m->sending_application) + fuzz_touch(m->sending_facility) +
            fuzz_touch(m->ack_code);
    for (size_t i = 0; i < m->nidents; i++) {
        const struct ns_hl7_ident *id = &m->idents[i];
        if (id->value.len > id->raw.len || (id->value.len > 0 && id->value.ptr != id->raw.ptr) ||
            id->raw.len == 0 || strcmp(id->provenance, ns_hl7_provenance(id->field)) != 0) {
            abort();
        }
        *sum += fuzz_touch(id->raw);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t sel = data[0];
    const uint8_t *s = data + 1;
    size_t n = size - 1;
    unsigned sum = 0;
    struct ns_hl7_callbacks cb = {.on_message = fuzz_on_message, .ud = &sum};
    struct ns_hl7_opts o;
    ns_hl7_opts_init(&o);
    if (sel & 0x80) {
        o.max_message_bytes = 512;
        o.max_segments = 4;
        o.max_idents = 2;
    }
    struct ns_hl7_parser *p = NULL;
    if (ns_hl7_parser_new(&p, &o, &cb) != 0) {
        return 0;
    }
    size_t chunk = (sel & 0x7F) == 0 ? (n > 0 ? n : 1) : (size_t)(sel & 0x7F);
    for (size_t i = 0; i < n; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        int rc = ns_hl7_feed(p, s + i, k);
        if (rc != 0 && rc != NS_EMALFORMED && rc != NS_ENOMEM) {
            abort();
        }
        if (i == 0 && (sel & 0x80)) {
            ns_hl7_gap(p, 3);
        }
    }
    ns_hl7_close(p);
    const struct ns_hl7_stats *st = ns_hl7_stats(p);
    if (st->bytes != n) {
        abort();
    }
    ns_hl7_parser_free(p);
    return 0;
}
