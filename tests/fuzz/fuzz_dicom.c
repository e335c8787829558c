/*
 * fuzz_dicom.c - fuzz target for the DICOM upper layer parser (dicom.h;
 * PS3.8 9.3 PDUs, PS3.7 command sets, PS3.5 data elements).
 *
 *   +----------+---------------------------------------------+
 *   | selector | stream bytes (one direction of a TCP stream) |
 *   +----------+---------------------------------------------+
 *   selector bits 0-5: chunk size (0 = whole stream)
 *   selector bit 6:    a second parser, paired with the first, gets the
 *                      same bytes (exercises the sharing of contexts)
 *   selector bit 7:    small caps (4 KiB PDUs, 4 contexts, 4 transfer
 *                      syntaxes, 8-byte values, depth 2, 64-byte data sets)
 *                      and a 5-byte gap after the first chunk
 *
 * Every view handed to a callback is read byte by byte so that the
 * sanitizers see any view that leaves its buffer.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsift/dicom.h"
#include "netsift/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned fuzz_sum;

static void fuzz_touch(struct ns_dicom_view v)
{
    for (size_t i = 0; i < v.len; i++) {
        fuzz_sum += (unsigned char)v.ptr[i];
    }
}

static void fuzz_assoc(void *ud, const struct ns_dicom_assoc *a)
{
    (void)ud;
    if (strlen(a->called_ae) >= NS_DICOM_AE_TEXT_MAX ||
        strlen(a->calling_ae) >= NS_DICOM_AE_TEXT_MAX) {
        abort();
    }
    fuzz_touch(a->application_context);
    fuzz_touch(a->impl_class_uid);
    fuzz_touch(a->impl_version_name);
    for (size_t i = 0; i < a->npctx; i++) {
        fuzz_touch(a->pctx[i].abstract_syntax);
        for (size_t k = 0; k < a->pctx[i].ntransfer_syntaxes; k++) {
            fuzz_touch(a->pctx[i].transfer_syntaxes[k]);
        }
    }
}

static void fuzz_command(void *ud, const struct ns_dicom_command *c)
{
    (void)ud;
    fuzz_touch(c->sop_class_uid);
    fuzz_touch(c->abstract_syntax);
}

static void fuzz_dataset(void *ud, const struct ns_dicom_dataset *d)
{
    (void)ud;
    fuzz_touch(d->sop_class_uid);
    fuzz_touch(d->modality);
    fuzz_touch(d->manufacturer);
    fuzz_touch(d->institution_name);
    fuzz_touch(d->station_name);
    fuzz_touch(d->model_name);
    fuzz_touch(d->device_serial_number);
    fuzz_touch(d->software_versions);
    fuzz_touch(d->abstract_syntax);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t sel = data[0];
    const uint8_t *s = data + 1;
    size_t n = size - 1;
    struct ns_dicom_callbacks cb = {
        .on_associate = fuzz_assoc, .on_command = fuzz_command, .on_dataset_attrs = fuzz_dataset};
    struct ns_dicom_opts o;
    ns_dicom_opts_init(&o);
    if (sel & 0x80) {
        o.max_pdu_bytes = 4096;
        o.max_pctx = 4;
        o.max_transfer_syntaxes = 4;
        o.max_value_bytes = 8;
        o.max_depth = 2;
        o.max_dataset_bytes = 64;
    }
    struct ns_dicom_parser *p = NULL, *q = NULL;
    if (ns_dicom_parser_new(&p, &o, &cb) != 0) {
        return 0;
    }
    if ((sel & 0x40) && ns_dicom_parser_new(&q, &o, &cb) == 0) {
        ns_dicom_pair(p, q);
    }
    size_t chunk = (sel & 0x3F) == 0 ? (n > 0 ? n : 1) : (size_t)(sel & 0x3F);
    for (size_t i = 0; i < n; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        int rc = ns_dicom_feed(p, s + i, k);
        if (rc != 0 && rc != NS_EMALFORMED) {
            abort();
        }
        if (q != NULL) {
            rc = ns_dicom_feed(q, s + i, k);
            if (rc != 0 && rc != NS_EMALFORMED) {
                abort();
            }
        }
        if (i == 0 && (sel & 0x80)) {
            ns_dicom_gap(p, 5);
        }
    }
    ns_dicom_close(p);
    if (ns_dicom_stats(p)->bytes != n) {
        abort();
    }
    /* freeing one side first must leave the other usable */
    ns_dicom_parser_free(q);
    ns_dicom_close(p);
    ns_dicom_parser_free(p);
    return 0;
}
