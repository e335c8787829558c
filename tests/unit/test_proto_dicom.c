/*
 * test_proto_dicom.c - unit tests of the DICOM upper layer parser (dicom.h;
 * PS3.8 9.3 PDUs, PS3.7 command sets, PS3.5 data elements).
 *
 * Hand-built PDUs (annotated below) for association, C-STORE with explicit
 * and implicit VR LE data sets, reject, abort and release, fed whole, byte by
 * byte and split at every offset (identical callback logs); lying lengths
 * (items past their PDU, huge PDU lengths, PDV length 0, nested lengths,
 * undefined-length nesting past the cap); and captures: tapirx's
 * A-ASSOCIATE-RQ captures (pcapng, NULL link type; checked with
 * `tshark -r F -O dicom`) and a loopback DCMTK C-STORE capture. A patient
 * element (0010,xxxx) never shows up in any callback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "netsift/alloc.h"
#include "netsift/dicom.h"
#include "netsift/err.h"
#include "netsift/rd.h"

#define LOG_CAP (1u << 20)

/* ------------------------------------------------------------------ */
/* callback log                                                        */

struct log {
    char *buf;
    size_t len;
    bool brief; /* associations: header line only */
};

static void log_add(struct log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void log_add(struct log *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->len, LOG_CAP - l->len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < LOG_CAP - l->len);
    l->len += (size_t)n;
}

#define V(v) (int)(v).len, (v).ptr

static void on_assoc(void *ud, const struct ns_dicom_assoc *a)
{
    struct log *l = ud;
    log_add(l,
            "assoc %s v=%u called=[%s] calling=[%s] flags=%x ctx=[%.*s] impl=[%.*s] "
            "ver=[%.*s] max=%u npctx=%zu\n",
            a->kind == NS_DICOM_PDU_ASSOCIATE_RQ ? "RQ" : "AC", a->protocol_version, a->called_ae,
            a->calling_ae, a->flags, V(a->application_context), V(a->impl_class_uid),
            V(a->impl_version_name), a->has_max_length ? a->max_length : 0, a->npctx);
    if (l->brief) {
        return;
    }
    for (size_t i = 0; i < a->npctx; i++) {
        const struct ns_dicom_pctx *pc = &a->pctx[i];
        log_add(l, " pctx %u res=%u as=[%.*s] ts=", pc->id, pc->result, V(pc->abstract_syntax));
        for (size_t k = 0; k < pc->ntransfer_syntaxes; k++) {
            log_add(l, "%s%.*s", k > 0 ? "," : "", V(pc->transfer_syntaxes[k]));
        }
        log_add(l, "\n");
    }
}

static void on_reject(void *ud, uint8_t result, uint8_t source, uint8_t reason)
{
    log_add(ud, "reject %u %u %u\n", result, source, reason);
}

static void on_abort(void *ud, uint8_t source, uint8_t reason)
{
    log_add(ud, "abort %u %u\n", source, reason);
}

static void on_release(void *ud, bool response)
{
    log_add(ud, "release %s\n", response ? "RP" : "RQ");
}

static void on_command(void *ud, const struct ns_dicom_command *c)
{
    log_add(ud, "command ctx=%u field=%04x sop=[%.*s] msgid=%d status=%d ds=%d as=[%.*s]\n",
            c->pctx_id, c->command_field, V(c->sop_class_uid),
            c->has_message_id ? (int)c->message_id : -1, c->has_status ? (int)c->status : -1,
            c->has_dataset, V(c->abstract_syntax));
}

static void on_dataset(void *ud, const struct ns_dicom_dataset *d)
{
    log_add(ud,
            "dataset ctx=%u ts=%d flags=%x sop=[%.*s] mod=[%.*s] man=[%.*s] inst=[%.*s] "
            "station=[%.*s] model=[%.*s] serial=[%.*s] sw=[%.*s]\n",
            d->pctx_id, (int)d->ts, d->flags, V(d->sop_class_uid), V(d->modality),
            V(d->manufacturer), V(d->institution_name), V(d->station_name), V(d->model_name),
            V(d->device_serial_number), V(d->software_versions));
}

static void log_init(struct log *l)
{
    memset(l, 0, sizeof(*l));
    l->buf = ns_malloc(LOG_CAP);
    assert_non_null(l->buf);
    l->buf[0] = '\0';
}

static void log_reset(struct log *l)
{
    l->len = 0;
    l->buf[0] = '\0';
}

static struct ns_dicom_parser *parser(struct log *l, const struct ns_dicom_opts *o)
{
    struct ns_dicom_callbacks cb = {.on_associate = on_assoc,
                                    .on_reject = on_reject,
                                    .on_abort = on_abort,
                                    .on_release = on_release,
                                    .on_command = on_command,
                                    .on_dataset_attrs = on_dataset,
                                    .ud = l};
    struct ns_dicom_parser *p = NULL;
    assert_int_equal(ns_dicom_parser_new(&p, o, &cb), 0);
    return p;
}

/* Feed whole (at = 0), split at `at`, or in `step`-byte chunks. */
static void feed(struct ns_dicom_parser *p, const uint8_t *d, size_t n, size_t at, size_t step)
{
    if (step > 0) {
        for (size_t i = 0; i < n; i += step) {
            size_t k = n - i < step ? n - i : step;
            int rc = ns_dicom_feed(p, d + i, k);
            assert_true(rc == 0 || rc == NS_EMALFORMED);
        }
        return;
    }
    if (at > 0 && at < n) {
        int rc = ns_dicom_feed(p, d, at);
        assert_true(rc == 0 || rc == NS_EMALFORMED);
        d += at;
        n -= at;
    }
    int rc = ns_dicom_feed(p, d, n);
    assert_true(rc == 0 || rc == NS_EMALFORMED);
}

/* ------------------------------------------------------------------ */
/* PDU builder                                                         */

struct bb {
    uint8_t b[8192];
    size_t n;
};

static void b8(struct bb *b, unsigned v)
{
    assert_true(b->n < sizeof(b->b));
    b->b[b->n++] = (uint8_t)v;
}

static void b16be(struct bb *b, unsigned v)
{
    b8(b, v >> 8);
    b8(b, v);
}

static void b32be(struct bb *b, uint32_t v)
{
    b16be(b, v >> 16);
    b16be(b, v & 0xFFFF);
}

static void b16le(struct bb *b, unsigned v)
{
    b8(b, v);
    b8(b, v >> 8);
}

static void b32le(struct bb *b, uint32_t v)
{
    b16le(b, v & 0xFFFF);
    b16le(b, v >> 16);
}

static void bstr(struct bb *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        b8(b, (uint8_t)s[i]);
    }
}

static void bcat(struct bb *b, const struct bb *o)
{
    bstr(b, (const char *)o->b, o->n);
}

/* Item: type, reserved, BE16 length, value (PS3.8 9.3.2.x). */
static void item(struct bb *b, unsigned type, const char *s)
{
    b8(b, type);
    b8(b, 0);
    b16be(b, (unsigned)strlen(s));
    bstr(b, s, strlen(s));
}

/* AE title: 16 bytes, space padded. */
static void ae(struct bb *b, const char *s)
{
    size_t n = strlen(s);
    bstr(b, s, n);
    for (size_t i = n; i < 16; i++) {
        b8(b, ' ');
    }
}

/* Wrap a body into a PDU: type, reserved, BE32 length. */
static void pdu(struct bb *out, unsigned type, const struct bb *body)
{
    b8(out, type);
    b8(out, 0);
    b32be(out, (uint32_t)body->n);
    bcat(out, body);
}

#define UID_CT      "1.2.840.10008.5.1.4.1.1.2"
#define UID_VERIFY  "1.2.840.10008.1.1"
#define UID_IMPL_LE "1.2.840.10008.1.2"
#define UID_EXPL_LE "1.2.840.10008.1.2.1"
#define UID_APPCTX  "1.2.840.10008.3.1.1.1"

/*
 * A-ASSOCIATE-RQ (rq) or -AC: version 1, AEs, application context, context 1
 * (CT Image Storage: implicit, explicit), context 3 (Verification: implicit),
 * user information (max length 16384, DCMTK's class UID and version name).
 * The AC accepts context 1 with `ts1` and context 3 with implicit VR.
 */
static void assoc_pdu(struct bb *out, bool rq, const char *called, const char *calling,
                      const char *ts1)
{
    struct bb body = {.n = 0}, pc = {.n = 0}, ui = {.n = 0};
    b16be(&body, 1); /* protocol version */
    b16be(&body, 0); /* reserved */
    ae(&body, called);
    ae(&body, calling);
    for (int i = 0; i < 32; i++) {
        b8(&body, 0); /* reserved */
    }
    item(&body, 0x10, UID_APPCTX);
    /* context 1 */
    pc.n = 0;
    b8(&pc, 1); /* id */
    b8(&pc, 0);
    b8(&pc, 0); /* result (AC: acceptance) */
    b8(&pc, 0);
    if (rq) {
        item(&pc, 0x30, UID_CT);
        item(&pc, 0x40, UID_IMPL_LE);
        item(&pc, 0x40, UID_EXPL_LE);
    } else {
        item(&pc, 0x40, ts1);
    }
    b8(&body, rq ? 0x20 : 0x21);
    b8(&body, 0);
    b16be(&body, (unsigned)pc.n);
    bcat(&body, &pc);
    /* context 3 */
    pc.n = 0;
    b8(&pc, 3);
    b8(&pc, 0);
    b8(&pc, 0);
    b8(&pc, 0);
    if (rq) {
        item(&pc, 0x30, UID_VERIFY);
    }
    item(&pc, 0x40, UID_IMPL_LE);
    b8(&body, rq ? 0x20 : 0x21);
    b8(&body, 0);
    b16be(&body, (unsigned)pc.n);
    bcat(&body, &pc);
    /* user information */
    b8(&ui, 0x51);
    b8(&ui, 0);
    b16be(&ui, 4);
    b32be(&ui, 16384);
    item(&ui, 0x52, "1.2.276.0.7230010.3.0.3.6.7");
    item(&ui, 0x55, "OFFIS_DCMTK_367");
    b8(&body, 0x50);
    b8(&body, 0);
    b16be(&body, (unsigned)ui.n);
    bcat(&body, &ui);
    pdu(out, rq ? 1 : 2, &body);
}

/* Implicit VR LE element: tag, LE32 length, value (padded to even with pad). */
static void el_i(struct bb *b, unsigned g, unsigned e, const char *v, size_t n, char pad)
{
    b16le(b, g);
    b16le(b, e);
    b32le(b, (uint32_t)(n + (n & 1)));
    bstr(b, v, n);
    if (n & 1) {
        b8(b, (uint8_t)pad);
    }
}

static void el_i_us(struct bb *b, unsigned g, unsigned e, unsigned v)
{
    b16le(b, g);
    b16le(b, e);
    b32le(b, 2);
    b16le(b, v);
}

/* Explicit VR LE element with a short (16-bit length) VR. */
static void el_e(struct bb *b, unsigned g, unsigned e, const char *vr, const char *v, char pad)
{
    size_t n = strlen(v);
    b16le(b, g);
    b16le(b, e);
    bstr(b, vr, 2);
    b16le(b, (unsigned)(n + (n & 1)));
    bstr(b, v, n);
    if (n & 1) {
        b8(b, (uint8_t)pad);
    }
}

/* Explicit VR LE element header with a long VR (reserved, 32-bit length). */
static void el_e_long(struct bb *b, unsigned g, unsigned e, const char *vr, uint32_t len)
{
    b16le(b, g);
    b16le(b, e);
    bstr(b, vr, 2);
    b16le(b, 0);
    b32le(b, len);
}

static void el_item(struct bb *b, unsigned e, uint32_t len)
{
    b16le(b, 0xFFFE);
    b16le(b, e);
    b32le(b, len);
}

/* C-STORE-RQ command set (implicit VR LE, PS3.7 9.3.1.1). */
static void cstore_cmd(struct bb *b)
{
    el_i(b, 0x0000, 0x0002, UID_CT, strlen(UID_CT), '\0'); /* Affected SOP Class UID */
    el_i_us(b, 0x0000, 0x0100, 0x0001);                    /* Command Field: C-STORE-RQ */
    el_i_us(b, 0x0000, 0x0110, 7);                         /* Message ID */
    el_i_us(b, 0x0000, 0x0700, 0);                         /* Priority */
    el_i_us(b, 0x0000, 0x0800, 0x0000);                    /* data set present */
    el_i(b, 0x0000, 0x1000, "1.2.3.4.5", 9, '\0');         /* Affected SOP Instance UID */
}

/*
 * The CT data set, explicit VR LE: a sequence of undefined length holding an
 * item of undefined length; the patient group; pixel data that is never read.
 */
static void ct_dataset_explicit(struct bb *b)
{
    el_e(b, 0x0008, 0x0016, "UI", UID_CT, '\0');
    el_e(b, 0x0008, 0x0060, "CS", "CT", ' ');
    el_e(b, 0x0008, 0x0070, "LO", "GE MEDICAL SYSTEMS", ' ');
    el_e(b, 0x0008, 0x0080, "LO", "General Hospital", ' ');
    el_e(b, 0x0008, 0x1010, "SH", "CT01_OC0", ' ');
    el_e(b, 0x0008, 0x1090, "LO", "RHAPSODE", ' ');
    el_e_long(b, 0x0008, 0x1140, "SQ", 0xFFFFFFFFu); /* Referenced Image Sequence */
    el_item(b, 0xE000, 0xFFFFFFFFu);                 /* item, undefined length */
    el_e(b, 0x0008, 0x0060, "CS", "XX", ' ');        /* nested: not top level, not reported */
    el_item(b, 0xE00D, 0);                           /* item delimiter */
    el_item(b, 0xE000, 14);                          /* item of defined length: */
    el_e(b, 0x0008, 0x0070, "LO", "NESTED", ' ');    /* 8 + 6 bytes */
    el_item(b, 0xE0DD, 0);                           /* sequence delimiter */
    el_e(b, 0x0010, 0x0010, "PN", "SECRET^PATIENT", ' ');
    el_e(b, 0x0010, 0x0020, "LO", "MRN777", ' ');
    el_e(b, 0x0018, 0x1000, "LO", "SN-778899", ' ');
    el_e(b, 0x0018, 0x1020, "LO", "05\\06", ' ');
    el_e(b, 0x0028, 0x0010, "US", "\x00\x02", ' ');
    el_e_long(b, 0x7FE0, 0x0010, "OW", 4);
    bstr(b, "\x01\x02\x03\x04", 4);
}

/* The same attributes, implicit VR LE, with a defined-length sequence. */
static void ct_dataset_implicit(struct bb *b)
{
    el_i(b, 0x0008, 0x0016, UID_CT, strlen(UID_CT), '\0');
    el_i(b, 0x0008, 0x0060, "CT", 2, ' ');
    el_i(b, 0x0008, 0x0070, "GE MEDICAL SYSTEMS", 18, ' ');
    el_i(b, 0x0008, 0x0080, "General Hospital", 16, ' ');
    el_i(b, 0x0008, 0x1010, "CT01_OC0", 8, ' ');
    el_i(b, 0x0008, 0x1090, "RHAPSODE", 8, ' ');
    b16le(b, 0x0008); /* Referenced Image Sequence, defined length 18 */
    b16le(b, 0x1140);
    b32le(b, 18);
    el_item(b, 0xE000, 10); /* one item of 10 bytes */
    el_i(b, 0x0008, 0x0060, "XX", 2, ' ');
    el_i(b, 0x0010, 0x0010, "SECRET^PATIENT", 14, ' ');
    el_i(b, 0x0010, 0x0020, "MRN777", 6, ' ');
    el_i(b, 0x0018, 0x1000, "SN-778899", 9, ' ');
    el_i(b, 0x0018, 0x1020, "05\\06", 5, ' ');
    el_i(b, 0x7FE0, 0x0010, "\x01\x02\x03\x04", 4, 0);
}

/* PDV item: BE32 length, context id, message control header, fragment. */
static void pdv(struct bb *b, unsigned ctx, unsigned mch, const uint8_t *d, size_t n)
{
    b32be(b, (uint32_t)n + 2);
    b8(b, ctx);
    b8(b, mch);
    bstr(b, (const char *)d, n);
}

/*
 * Requestor stream after its RQ: one P-DATA-TF with the command (one
 * fragment, last), two P-DATA-TF with the data set in two fragments, then
 * A-RELEASE-RQ.
 */
static void store_stream(struct bb *out, unsigned ctx, bool explicit_vr)
{
    struct bb cmd = {.n = 0}, ds = {.n = 0}, body = {.n = 0};
    cstore_cmd(&cmd);
    if (explicit_vr) {
        ct_dataset_explicit(&ds);
    } else {
        ct_dataset_implicit(&ds);
    }
    pdv(&body, ctx, 0x03, cmd.b, cmd.n); /* command, last fragment */
    pdu(out, 4, &body);
    size_t half = ds.n / 2 + 1;
    body.n = 0;
    pdv(&body, ctx, 0x00, ds.b, half); /* data set, more to come */
    pdu(out, 4, &body);
    body.n = 0;
    pdv(&body, ctx, 0x02, ds.b + half, ds.n - half); /* data set, last fragment */
    pdu(out, 4, &body);
    body.n = 0;
    b32be(&body, 0); /* A-RELEASE-RQ: 4 reserved bytes */
    pdu(out, 5, &body);
}

/* Acceptor stream after its AC: the C-STORE-RSP (status 0) and A-RELEASE-RP. */
static void store_rsp_stream(struct bb *out)
{
    struct bb cmd = {.n = 0}, body = {.n = 0};
    el_i(&cmd, 0x0000, 0x0002, UID_CT, strlen(UID_CT), '\0');
    el_i_us(&cmd, 0x0000, 0x0100, 0x8001); /* C-STORE-RSP */
    el_i_us(&cmd, 0x0000, 0x0120, 7);      /* Message ID Being Responded To */
    el_i_us(&cmd, 0x0000, 0x0800, 0x0101); /* no data set */
    el_i_us(&cmd, 0x0000, 0x0900, 0x0000); /* Status: success */
    pdv(&body, 1, 0x03, cmd.b, cmd.n);
    pdu(out, 4, &body);
    body.n = 0;
    b32be(&body, 0);
    pdu(out, 6, &body);
}

static void assert_no_phi(const char *log)
{
    static const char *const phi[] = {"SECRET", "PATIENT", "MRN777", "XX", "NESTED"};
    for (size_t i = 0; i < sizeof(phi) / sizeof(phi[0]); i++) {
        if (strstr(log, phi[i]) != NULL) {
            fail_msg("'%s' reported in:\n%s", phi[i], log);
        }
    }
}

/*
 * One connection: requestor parser A, acceptor parser B, paired. A gets its
 * RQ, B its AC, then A the rest of its stream (split at `at` or in `step`
 * chunks), then B the rest of its stream.
 */
static void run_conn(const struct bb *a1, const struct bb *b1, const struct bb *a2,
                     const struct bb *b2, size_t at, size_t step, struct log *la, struct log *lb)
{
    struct ns_dicom_parser *a = parser(la, NULL), *b = parser(lb, NULL);
    ns_dicom_pair(a, b);
    feed(a, a1->b, a1->n, 0, step);
    feed(b, b1->b, b1->n, 0, step);
    feed(a, a2->b, a2->n, at, step);
    feed(b, b2->b, b2->n, 0, step);
    ns_dicom_close(a);
    ns_dicom_close(b);
    assert_int_equal(ns_dicom_stats(a)->malformed, 0);
    assert_int_equal(ns_dicom_stats(b)->malformed, 0);
    ns_dicom_parser_free(a);
    ns_dicom_parser_free(b);
}

static const char want_rq[] =
    "assoc RQ v=1 called=[PACS_MAIN] calling=[CT_SCANNER_01] flags=0 ctx=[1.2.840.10008.3.1.1.1] "
    "impl=[1.2.276.0.7230010.3.0.3.6.7] ver=[OFFIS_DCMTK_367] max=16384 npctx=2\n"
    " pctx 1 res=0 as=[1.2.840.10008.5.1.4.1.1.2] ts=1.2.840.10008.1.2,1.2.840.10008.1.2.1\n"
    " pctx 3 res=0 as=[1.2.840.10008.1.1] ts=1.2.840.10008.1.2\n";

static const char want_store[] =
    "command ctx=1 field=0001 sop=[1.2.840.10008.5.1.4.1.1.2] msgid=7 status=-1 ds=1 "
    "as=[1.2.840.10008.5.1.4.1.1.2]\n"
    "dataset ctx=1 ts=%d flags=0 sop=[1.2.840.10008.5.1.4.1.1.2] mod=[CT] "
    "man=[GE MEDICAL SYSTEMS] inst=[General Hospital] station=[CT01_OC0] model=[RHAPSODE] "
    "serial=[SN-778899] sw=[05\\06]\n"
    "release RQ\n";

static void check_store(bool explicit_vr)
{
    struct bb a1 = {.n = 0}, b1 = {.n = 0}, a2 = {.n = 0}, b2 = {.n = 0};
    assoc_pdu(&a1, true, "PACS_MAIN", "CT_SCANNER_01", NULL);
    assoc_pdu(&b1, false, "PACS_MAIN", "CT_SCANNER_01", explicit_vr ? UID_EXPL_LE : UID_IMPL_LE);
    store_stream(&a2, 1, explicit_vr);
    store_rsp_stream(&b2);
    char want_a[4096], want_b[4096];
    snprintf(want_a, sizeof(want_a), "%s", want_rq);
    size_t k = strlen(want_a);
    snprintf(want_a + k, sizeof(want_a) - k, want_store,
             explicit_vr ? NS_DICOM_TS_EXPLICIT_LE : NS_DICOM_TS_IMPLICIT_LE);
    snprintf(want_b, sizeof(want_b),
             "assoc AC v=1 called=[PACS_MAIN] calling=[CT_SCANNER_01] flags=0 "
             "ctx=[1.2.840.10008.3.1.1.1] impl=[1.2.276.0.7230010.3.0.3.6.7] "
             "ver=[OFFIS_DCMTK_367] max=16384 npctx=2\n"
             " pctx 1 res=0 as=[1.2.840.10008.5.1.4.1.1.2] ts=%s\n"
             " pctx 3 res=0 as=[1.2.840.10008.1.1] ts=1.2.840.10008.1.2\n"
             "command ctx=1 field=8001 sop=[1.2.840.10008.5.1.4.1.1.2] msgid=7 status=0 ds=0 "
             "as=[1.2.840.10008.5.1.4.1.1.2]\n"
             "release RP\n",
             explicit_vr ? UID_EXPL_LE : UID_IMPL_LE);
    struct log la, lb;
    log_init(&la);
    log_init(&lb);
    run_conn(&a1, &b1, &a2, &b2, 0, 0, &la, &lb);
    assert_string_equal(la.buf, want_a);
    assert_string_equal(lb.buf, want_b);
    assert_no_phi(la.buf);
    for (size_t at = 1; at < a2.n; at++) {
        log_reset(&la);
        log_reset(&lb);
        run_conn(&a1, &b1, &a2, &b2, at, 0, &la, &lb);
        assert_string_equal(la.buf, want_a);
        assert_string_equal(lb.buf, want_b);
    }
    for (size_t step = 1; step < 12; step += 3) {
        log_reset(&la);
        log_reset(&lb);
        run_conn(&a1, &b1, &a2, &b2, 0, step, &la, &lb);
        assert_string_equal(la.buf, want_a);
        assert_string_equal(lb.buf, want_b);
    }
    ns_free(la.buf);
    ns_free(lb.buf);
}

static void test_store_explicit(void **state)
{
    (void)state;
    check_store(true);
}

static void test_store_implicit(void **state)
{
    (void)state;
    check_store(false);
}

/* Without the association, the VR form is guessed from the first element. */
static void test_unpaired_guess(void **state)
{
    (void)state;
    for (int e = 0; e < 2; e++) {
        struct bb a2 = {.n = 0};
        store_stream(&a2, 1, e != 0);
        struct log l;
        log_init(&l);
        struct ns_dicom_parser *p = parser(&l, NULL);
        feed(p, a2.b, a2.n, 0, 1);
        ns_dicom_parser_free(p);
        char want[2048];
        snprintf(want, sizeof(want),
                 "command ctx=1 field=0001 sop=[1.2.840.10008.5.1.4.1.1.2] msgid=7 status=-1 "
                 "ds=1 as=[]\n"
                 "dataset ctx=1 ts=%d flags=1 sop=[1.2.840.10008.5.1.4.1.1.2] mod=[CT] "
                 "man=[GE MEDICAL SYSTEMS] inst=[General Hospital] station=[CT01_OC0] "
                 "model=[RHAPSODE] serial=[SN-778899] sw=[05\\06]\n"
                 "release RQ\n",
                 e ? NS_DICOM_TS_EXPLICIT_LE : NS_DICOM_TS_IMPLICIT_LE);
        assert_string_equal(l.buf, want);
        ns_free(l.buf);
    }
}

static void test_reject_abort_release(void **state)
{
    (void)state;
    /*
     * 03 00 | 00 00 00 04 | 00 01 01 07   A-ASSOCIATE-RJ permanent, service user,
     *                                     called AE title not recognized
     * 07 00 | 00 00 00 04 | 00 00 02 06   A-ABORT service provider, invalid parameter
     * 05 00 | 00 00 00 04 | 00 00 00 00   A-RELEASE-RQ
     * 06 00 | 00 00 00 04 | 00 00 00 00   A-RELEASE-RP
     */
    static const uint8_t s[] = {3, 0, 0, 0, 0, 4, 0, 1, 1, 7, 7, 0, 0, 0, 0, 4, 0, 0, 2, 6,
                                5, 0, 0, 0, 0, 4, 0, 0, 0, 0, 6, 0, 0, 0, 0, 4, 0, 0, 0, 0};
    struct log l;
    log_init(&l);
    for (size_t at = 0; at < sizeof(s); at++) {
        log_reset(&l);
        struct ns_dicom_parser *p = parser(&l, NULL);
        feed(p, s, sizeof(s), at, 0);
        const struct ns_dicom_stats *st = ns_dicom_stats(p);
        assert_int_equal(st->pdus, 4);
        assert_int_equal(st->associate_rj, 1);
        assert_int_equal(st->aborts, 1);
        assert_int_equal(st->releases, 2);
        ns_dicom_parser_free(p);
        assert_string_equal(l.buf, "reject 1 1 7\nabort 2 6\nrelease RQ\nrelease RP\n");
    }
    ns_free(l.buf);
}

static void test_ae_nonprintable(void **state)
{
    (void)state;
    struct bb a = {.n = 0};
    assoc_pdu(&a, true, "  PACS\\1", "CT\x01\xff", NULL);
    struct log l;
    log_init(&l);
    l.brief = true;
    struct ns_dicom_parser *p = parser(&l, NULL);
    feed(p, a.b, a.n, 0, 0);
    assert_int_equal(ns_dicom_stats(p)->ae_nonprintable, 2);
    ns_dicom_parser_free(p);
    assert_string_equal(l.buf, "assoc RQ v=1 called=[PACS\\x5C1] calling=[CT\\x01\\xFF] flags=3 "
                               "ctx=[1.2.840.10008.3.1.1.1] impl=[1.2.276.0.7230010.3.0.3.6.7] "
                               "ver=[OFFIS_DCMTK_367] max=16384 npctx=2\n");
    ns_free(l.buf);
}

/* ------------------------------------------------------------------ */
/* lying lengths                                                       */

static void test_lying_lengths(void **state)
{
    (void)state;
    struct log l;
    log_init(&l);
    l.brief = true;
    struct bb rq = {.n = 0};
    assoc_pdu(&rq, true, "PACS_MAIN", "CT_SCANNER_01", NULL);

    /* an item length past the end of the PDU: the items before it are kept */
    struct bb bad = rq;
    /* the application context item starts at 6 + 68: its length becomes 0xFFFF */
    bad.b[6 + 68 + 2] = 0xFF;
    bad.b[6 + 68 + 3] = 0xFF;
    struct ns_dicom_parser *p = parser(&l, NULL);
    assert_int_equal(ns_dicom_feed(p, bad.b, bad.n), NS_EMALFORMED);
    assert_int_equal(ns_dicom_stats(p)->malformed, 1);
    ns_dicom_parser_free(p);
    assert_string_equal(l.buf, "assoc RQ v=1 called=[PACS_MAIN] calling=[CT_SCANNER_01] flags=0 "
                               "ctx=[] impl=[] ver=[] max=0 npctx=0\n");

    /* a sub-item (abstract syntax) longer than its presentation context item */
    bad = rq;
    size_t pc = 6 + 68 + 4 + strlen(UID_APPCTX); /* context 1 item */
    bad.b[pc + 8 + 2] = 0x01;                    /* 0x30 length += 256 */
    log_reset(&l);
    p = parser(&l, NULL);
    assert_int_equal(ns_dicom_feed(p, bad.b, bad.n), NS_EMALFORMED);
    assert_int_equal(ns_dicom_stats(p)->malformed, 1);
    ns_dicom_parser_free(p);
    assert_non_null(strstr(l.buf, "npctx=2"));

    /* a PDU length over the cap: skipped as it streams, then a release is read */
    static const uint8_t huge[] = {0x04, 0, 0x7F, 0xFF, 0xFF, 0xFF, 1, 2, 3};
    struct ns_dicom_opts o;
    ns_dicom_opts_init(&o);
    o.max_pdu_bytes = 8;
    log_reset(&l);
    p = parser(&l, &o);
    assert_int_equal(ns_dicom_feed(p, huge, sizeof(huge)), NS_EMALFORMED);
    ns_dicom_gap(p, 0x7FFFFFFFu - 3); /* the rest of the PDU was not captured */
    static const uint8_t rel[] = {5, 0, 0, 0, 0, 4, 0, 0, 0, 0};
    assert_int_equal(ns_dicom_feed(p, rel, sizeof(rel)), 0);
    assert_int_equal(ns_dicom_stats(p)->oversized, 1);
    assert_int_equal(ns_dicom_stats(p)->malformed, 0);
    ns_dicom_parser_free(p);
    assert_string_equal(l.buf, "release RQ\n");

    /*
     * 04 00 00000006 | 00000000 01 03   P-DATA-TF whose PDV length is 0
     * 04 00 00000008 | 00000010 01 03 AA BB   PDV length past its PDU (16 - 2 > 2)
     * 05 00 00000004 00000000                  A-RELEASE-RQ, still read
     */
    static const uint8_t pd[] = {4, 0, 0, 0,    0, 6, 0,    0,    0, 0, 1, 3, 4, 0, 0, 0, 0, 8,
                                 0, 0, 0, 0x10, 1, 3, 0xAA, 0xBB, 5, 0, 0, 0, 0, 4, 0, 0, 0, 0};
    for (size_t step = 0; step < 3; step++) {
        log_reset(&l);
        p = parser(&l, NULL);
        feed(p, pd, sizeof(pd), 0, step);
        assert_int_equal(ns_dicom_stats(p)->malformed, 2);
        assert_int_equal(ns_dicom_stats(p)->releases, 1);
        ns_dicom_parser_free(p);
        assert_string_equal(l.buf, "release RQ\n");
    }

    /* an unknown PDU type, garbage, then a plausible release: resync */
    static const uint8_t g[] = {0x09, 0, 0, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef, 0x01,
                                0x02, 5, 0, 0, 0, 0, 4,    0,    0,    0,    0};
    log_reset(&l);
    p = parser(&l, NULL);
    assert_int_equal(ns_dicom_feed(p, g, sizeof(g)), NS_EMALFORMED);
    assert_int_equal(ns_dicom_stats(p)->malformed, 1);
    assert_int_equal(ns_dicom_stats(p)->resyncs, 1);
    ns_dicom_parser_free(p);
    assert_string_equal(l.buf, "release RQ\n");

    /* an A-ASSOCIATE-RQ shorter than its fixed fields */
    static const uint8_t sh[] = {1, 0, 0, 0, 0, 4, 0, 1, 0, 0};
    log_reset(&l);
    p = parser(&l, NULL);
    assert_int_equal(ns_dicom_feed(p, sh, sizeof(sh)), NS_EMALFORMED);
    ns_dicom_parser_free(p);
    assert_string_equal(l.buf, "");
    ns_free(l.buf);
}

/* Nested undefined lengths past max_depth: the data set stops there. */
static void test_depth_cap(void **state)
{
    (void)state;
    struct bb ds = {.n = 0}, body = {.n = 0}, s = {.n = 0};
    el_e(&ds, 0x0008, 0x0060, "CS", "MR", ' ');
    for (int i = 0; i < 20; i++) {
        el_e_long(&ds, 0x0008, 0x1140, "SQ", 0xFFFFFFFFu);
        el_item(&ds, 0xE000, 0xFFFFFFFFu);
    }
    el_e(&ds, 0x0008, 0x0070, "LO", "DEEP", ' ');
    pdv(&body, 1, 0x02, ds.b, ds.n);
    pdu(&s, 4, &body);
    struct log l;
    log_init(&l);
    struct ns_dicom_parser *p = parser(&l, NULL);
    feed(p, s.b, s.n, 0, 0);
    ns_dicom_parser_free(p);
    assert_string_equal(l.buf, "dataset ctx=1 ts=2 flags=5 sop=[] mod=[MR] man=[] inst=[] "
                               "station=[] model=[] serial=[] sw=[]\n");
    ns_free(l.buf);
}

/* A data set cut by an abort is reported as incomplete; a value past the cap is cut. */
static void test_abort_and_value_cap(void **state)
{
    (void)state;
    struct bb ds = {.n = 0}, body = {.n = 0}, s = {.n = 0};
    el_e(&ds, 0x0008, 0x0060, "CS", "US", ' ');
    el_e(&ds, 0x0008, 0x0070, "LO", "ACME ULTRASOUND", ' ');
    pdv(&body, 5, 0x00, ds.b, ds.n); /* not the last fragment */
    pdu(&s, 4, &body);
    body.n = 0;
    b16be(&body, 0);
    b8(&body, 0);
    b8(&body, 0);
    pdu(&s, 7, &body); /* A-ABORT from the service user */
    struct ns_dicom_opts o;
    ns_dicom_opts_init(&o);
    o.max_value_bytes = 4;
    struct log l;
    log_init(&l);
    struct ns_dicom_parser *p = parser(&l, &o);
    feed(p, s.b, s.n, 0, 0);
    ns_dicom_parser_free(p);
    assert_string_equal(l.buf, "dataset ctx=5 ts=2 flags=b sop=[] mod=[US] man=[ACME] inst=[] "
                               "station=[] model=[] serial=[] sw=[]\n"
                               "abort 0 0\n");
    ns_free(l.buf);
}

/* ------------------------------------------------------------------ */
/* captures                                                            */

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *b = ns_malloc(cap);
    assert_non_null(b);
    for (;;) {
        if (len == cap) {
            b = ns_reallocarray(b, cap * 2, 1);
            assert_non_null(b);
            cap *= 2;
        }
        size_t k = fread(b + len, 1, cap - len, f);
        if (k == 0) {
            break;
        }
        len += k;
    }
    fclose(f);
    *n = len;
    return b;
}

/* TCP segments of a capture in file order: direction (to `port`?) and payload. */
struct seg {
    bool to_port;
    size_t off;
    size_t len;
};

struct capture {
    uint8_t *data; /* concatenated payloads */
    size_t len;
    struct seg segs[256];
    size_t nsegs;
};

/* One link-layer frame (Ethernet or BSD loopback) with IPv4/TCP. */
static void frame(struct capture *c, uint32_t linktype, const uint8_t *d, size_t n, uint16_t port)
{
    struct ns_rd pk;
    ns_rd_init(&pk, d, n, 0);
    if (linktype == 1) {
        ns_rd_skip(&pk, 12);
        if (ns_rd_be16(&pk) != 0x0800) {
            return;
        }
    } else {
        ns_rd_skip(&pk, 4); /* NULL: address family in host order */
    }
    uint8_t vihl = ns_rd_u8(&pk);
    ns_rd_skip(&pk, 1);
    uint16_t tot = ns_rd_be16(&pk);
    ns_rd_skip(&pk, 5);
    uint8_t proto = ns_rd_u8(&pk);
    ns_rd_skip(&pk, (size_t)(vihl & 15) * 4 - 10);
    uint16_t sp = ns_rd_be16(&pk);
    uint16_t dp = ns_rd_be16(&pk);
    ns_rd_skip(&pk, 8);
    uint8_t doff = ns_rd_u8(&pk);
    ns_rd_skip(&pk, (size_t)(doff >> 4) * 4 - 13);
    if (!ns_rd_ok(&pk) || proto != 6) {
        return;
    }
    size_t plen = (size_t)tot - (size_t)(vihl & 15) * 4 - (size_t)(doff >> 4) * 4;
    const uint8_t *pl = ns_rd_bytes(&pk, plen);
    if (pl == NULL || plen == 0 || (sp != port && dp != port)) {
        return;
    }
    assert_true(c->nsegs < sizeof(c->segs) / sizeof(c->segs[0]));
    c->segs[c->nsegs].to_port = dp == port;
    c->segs[c->nsegs].off = c->len;
    c->segs[c->nsegs].len = plen;
    c->nsegs++;
    memcpy(c->data + c->len, pl, plen);
    c->len += plen;
}

/* Read a classic pcap or a pcapng (EPB) file; false if absent. */
static bool capture_read(const char *path, uint16_t port, struct capture *c)
{
    size_t n = 0;
    uint8_t *f = read_file(path, &n);
    if (f == NULL) {
        return false;
    }
    memset(c, 0, sizeof(*c));
    c->data = ns_malloc(n);
    assert_non_null(c->data);
    struct ns_rd r;
    ns_rd_init(&r, f, n, 0);
    uint32_t magic = ns_rd_le32(&r);
    if (magic == 0xa1b2c3d4u) {
        ns_rd_skip(&r, 16);
        uint32_t lt = ns_rd_le32(&r);
        while (ns_rd_ok(&r) && ns_rd_left(&r) > 0) {
            ns_rd_skip(&r, 8);
            uint32_t caplen = ns_rd_le32(&r);
            ns_rd_skip(&r, 4);
            struct ns_rd pk = ns_rd_sub(&r, caplen);
            assert_true(ns_rd_ok(&r));
            frame(c, lt, ns_rd_cur(&pk), caplen, port);
        }
    } else {
        assert_int_equal(magic, 0x0A0D0D0Au); /* section header block */
        uint32_t lt = 0;
        r.pos = 0;
        while (ns_rd_ok(&r) && ns_rd_left(&r) >= 12) {
            uint32_t type = ns_rd_le32(&r);
            uint32_t blen = ns_rd_le32(&r);
            assert_true(blen >= 12);
            struct ns_rd b = ns_rd_sub(&r, blen - 8);
            assert_true(ns_rd_ok(&r));
            if (type == 1) { /* interface description */
                lt = ns_rd_le16(&b);
            } else if (type == 6) { /* enhanced packet */
                ns_rd_skip(&b, 12);
                uint32_t caplen = ns_rd_le32(&b);
                ns_rd_skip(&b, 4);
                const uint8_t *d = ns_rd_bytes(&b, caplen);
                assert_non_null(d);
                frame(c, lt, d, caplen, port);
            }
        }
    }
    ns_free(f);
    return true;
}

static void test_tapirx_arq(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        const char *want;
        size_t npctx;
    } caps[] = {
        {"dicom_arq_1_find_testclient.pcap",
         "assoc RQ v=1 called=[testserver] calling=[testclient] flags=0 "
         "ctx=[1.2.840.10008.3.1.1.1] impl=[1.2.826.0.1.3680043.9.7133.1.1] ver=[GODICOM_1_1] "
         "max=4194304 npctx=4\n"
         " pctx 1 res=0 as=[1.2.840.10008.5.1.4.1.2.1.1] "
         "ts=1.2.840.10008.1.2,1.2.840.10008.1.2.1,1.2.840.10008.1.2.2,1.2.840.10008.1.2.1.99\n"
         " pctx 3 res=0 as=[1.2.840.10008.5.1.4.1.2.2.1] "
         "ts=1.2.840.10008.1.2,1.2.840.10008.1.2.1,1.2.840.10008.1.2.2,1.2.840.10008.1.2.1.99\n"
         " pctx 5 res=0 as=[1.2.840.10008.5.1.4.1.2.3.1] "
         "ts=1.2.840.10008.1.2,1.2.840.10008.1.2.1,1.2.840.10008.1.2.2,1.2.840.10008.1.2.1.99\n"
         " pctx 7 res=0 as=[1.2.840.10008.5.1.4.31] "
         "ts=1.2.840.10008.1.2,1.2.840.10008.1.2.1,1.2.840.10008.1.2.2,1.2.840.10008.1.2.1.99\n",
         4},
        {"dicom_arq_2_get_testclient.pcap", NULL, 123},
    };
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/pcap/dicom/%s", NS_SHARED_DATA, caps[i].file);
        struct capture *c = ns_calloc(1, sizeof(*c));
        assert_non_null(c);
        if (!capture_read(path, 104, c)) {
            ns_free(c);
            print_message("%s not found: skipped\n", path);
            skip();
        }
        struct log whole, l;
        log_init(&whole);
        log_init(&l);
        struct ns_dicom_parser *p = parser(&whole, NULL);
        feed(p, c->data, c->len, 0, 0);
        const struct ns_dicom_stats *st = ns_dicom_stats(p);
        assert_int_equal(st->associate_rq, 1);
        assert_int_equal(st->malformed, 0);
        assert_int_equal(st->pdus, 1);
        ns_dicom_parser_free(p);
        if (caps[i].want != NULL) {
            assert_string_equal(whole.buf, caps[i].want);
        } else {
            /* 16509 bytes in 2 segments: 123 contexts with 4 transfer syntaxes each */
            assert_int_equal(c->len, 16509);
            assert_int_equal(c->nsegs, 2);
            char head[512];
            snprintf(head, sizeof(head),
                     "assoc RQ v=1 called=[testserver] calling=[testclient] flags=0 "
                     "ctx=[1.2.840.10008.3.1.1.1] impl=[1.2.826.0.1.3680043.9.7133.1.1] "
                     "ver=[GODICOM_1_1] max=4194304 npctx=%zu\n",
                     caps[i].npctx);
            assert_memory_equal(whole.buf, head, strlen(head));
            size_t lines = 0, ts = 0;
            for (const char *q = whole.buf; *q != '\0'; q++) {
                lines += *q == '\n';
                ts += *q == ',';
            }
            assert_int_equal(lines, 1 + 123);
            assert_int_equal(ts, 123 * 3);
            assert_non_null(strstr(whole.buf, " pctx 245 res=0 as=[1.2.840.10008.5.1.4.45.1] "));
        }
        size_t stride = c->len > 4096 ? 97 : 1;
        for (size_t at = 1; at < c->len; at += stride) {
            log_reset(&l);
            p = parser(&l, NULL);
            feed(p, c->data, c->len, at, 0);
            ns_dicom_parser_free(p);
            assert_string_equal(l.buf, whole.buf);
        }
        log_reset(&l);
        p = parser(&l, NULL);
        feed(p, c->data, c->len, 0, 1);
        ns_dicom_parser_free(p);
        assert_string_equal(l.buf, whole.buf);
        ns_free(whole.buf);
        ns_free(l.buf);
        ns_free(c->data);
        ns_free(c);
    }
}

/* A real DCMTK C-STORE of pydicom's CT_small.dcm, both directions paired, in capture order. */
static void test_dcmtk_store(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/pcap/medical-real/dicom_dcmtk_store_ct_11112.pcap",
             NS_SHARED_DATA);
    struct capture *c = ns_calloc(1, sizeof(*c));
    assert_non_null(c);
    if (!capture_read(path, 11112, c)) {
        ns_free(c);
        print_message("%s not found: skipped\n", path);
        skip();
    }
    struct log la, lb;
    log_init(&la);
    log_init(&lb);
    la.brief = lb.brief = true;
    struct ns_dicom_parser *a = parser(&la, NULL), *b = parser(&lb, NULL);
    ns_dicom_pair(a, b);
    for (size_t i = 0; i < c->nsegs; i++) {
        struct ns_dicom_parser *p = c->segs[i].to_port ? a : b;
        feed(p, c->data + c->segs[i].off, c->segs[i].len, 0, 0);
    }
    ns_dicom_close(a);
    ns_dicom_close(b);
    assert_int_equal(ns_dicom_stats(a)->malformed, 0);
    assert_int_equal(ns_dicom_stats(b)->malformed, 0);
    ns_dicom_parser_free(a);
    ns_dicom_parser_free(b);
    /* values as dcmdump / tshark -O dicom show them; the CT is accepted on context 41 */
    assert_string_equal(
        la.buf, "assoc RQ v=1 called=[PACS_MAIN] calling=[CT_SCANNER_01] flags=0 "
                "ctx=[1.2.840.10008.3.1.1.1] impl=[1.2.276.0.7230010.3.0.3.6.7] "
                "ver=[OFFIS_DCMTK_367] max=16384 npctx=128\n"
                "command ctx=41 field=0001 sop=[1.2.840.10008.5.1.4.1.1.2] msgid=1 status=-1 ds=1 "
                "as=[1.2.840.10008.5.1.4.1.1.2]\n"
                "dataset ctx=41 ts=2 flags=0 sop=[1.2.840.10008.5.1.4.1.1.2] mod=[CT] "
                "man=[GE MEDICAL SYSTEMS] inst=[JFK IMAGING CENTER] station=[CT01_OC0] "
                "model=[RHAPSODE] serial=[] sw=[05]\n"
                "release RQ\n");
    assert_string_equal(
        lb.buf, "assoc AC v=1 called=[PACS_MAIN] calling=[CT_SCANNER_01] flags=0 "
                "ctx=[1.2.840.10008.3.1.1.1] impl=[1.2.276.0.7230010.3.0.3.6.7] "
                "ver=[OFFIS_DCMTK_367] max=16384 npctx=128\n"
                "command ctx=41 field=8001 sop=[1.2.840.10008.5.1.4.1.1.2] msgid=1 status=0 ds=0 "
                "as=[1.2.840.10008.5.1.4.1.1.2]\n"
                "release RP\n");
    ns_free(la.buf);
    ns_free(lb.buf);
    ns_free(c->data);
    ns_free(c);
}

static void test_ts_from_uid(void **state)
{
    (void)state;
    static const struct {
        const char *uid;
        size_t len;
        enum ns_dicom_ts ts;
    } t[] = {
        {"1.2.840.10008.1.2", 17, NS_DICOM_TS_IMPLICIT_LE},
        {"1.2.840.10008.1.2\0", 18, NS_DICOM_TS_IMPLICIT_LE},
        {"1.2.840.10008.1.2.1", 19, NS_DICOM_TS_EXPLICIT_LE},
        {"1.2.840.10008.1.2.2", 19, NS_DICOM_TS_EXPLICIT_BE},
        {"1.2.840.10008.1.2.1.99", 22, NS_DICOM_TS_DEFLATED},
        {"1.2.840.10008.1.2.4.50", 22, NS_DICOM_TS_EXPLICIT_LE},
        {"1.2.840.10008.1.20", 18, NS_DICOM_TS_UNKNOWN},
        {"1.2.840.10008.1.1", 17, NS_DICOM_TS_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        assert_int_equal(ns_dicom_ts_from_uid(t[i].uid, t[i].len), t[i].ts);
    }
}

static void test_alloc_failures(void **state)
{
    (void)state;
    struct bb a = {.n = 0};
    assoc_pdu(&a, true, "PACS_MAIN", "CT_SCANNER_01", NULL);
    store_stream(&a, 1, true);
    for (uint64_t k = 1; k < 10; k++) {
        struct log l;
        log_init(&l);
        struct ns_dicom_callbacks cb = {.on_dataset_attrs = on_dataset, .ud = &l};
        struct ns_dicom_parser *p = NULL;
        ns_alloc_fail_at(k);
        int rc = ns_dicom_parser_new(&p, NULL, &cb);
        if (rc == 0) {
            rc = ns_dicom_feed(p, a.b, a.n);
            assert_true(rc == 0 || rc == NS_EMALFORMED);
            ns_dicom_close(p);
            ns_dicom_parser_free(p);
        } else {
            assert_int_equal(rc, NS_ENOMEM);
        }
        ns_alloc_fail_at(0);
        ns_free(l.buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_explicit),  cmocka_unit_test(test_store_implicit),
        cmocka_unit_test(test_unpaired_guess),  cmocka_unit_test(test_reject_abort_release),
        cmocka_unit_test(test_ae_nonprintable), cmocka_unit_test(test_lying_lengths),
        cmocka_unit_test(test_depth_cap),       cmocka_unit_test(test_abort_and_value_cap),
        cmocka_unit_test(test_tapirx_arq),      cmocka_unit_test(test_dcmtk_store),
        cmocka_unit_test(test_ts_from_uid),     cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
