/*
 * test_proto_hl7.c - unit tests of the HL7 v2 / MLLP parser (hl7.h).
 *
 * Every callback is written to a text log; a test compares logs of the same
 * bytes fed whole, byte by byte and split at every offset, and asserts the
 * exact fields and identifiers (provenance "HL7 PRT-10" ... "HL7 OBX-18").
 * Inputs: the shared HL7 fixtures (NS_SHARED_DATA/hl7, LF / CRLF segment
 * ends), tapirx's captures (HL7-ADT-UDI-PRT / -OBX), a loopback capture with
 * three messages on one MLLP connection, and synthetic messages written here
 * (annotated). No log may ever contain patient data (names, MRNs, dates of
 * birth from PID).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "netsift/alloc.h"
#include "netsift/err.h"
#include "netsift/hl7.h"
#include "netsift/rd.h"

#define LOG_CAP (1u << 20)

/* ------------------------------------------------------------------ */
/* callback log                                                        */

struct log {
    char *buf;
    size_t len;
    unsigned long long messages;
    bool with_index;
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

static void on_message(void *ud, const struct ns_hl7_msg *m)
{
    struct log *l = ud;
    l->messages++;
    if (l->with_index) {
        log_add(l, "#%llu ", (unsigned long long)m->index);
    }
    log_add(l,
            "msg flags=%x seg=%zu type=[%.*s] code=[%.*s] trig=[%.*s] ctl=[%.*s] ver=[%.*s] "
            "app=[%.*s] fac=[%.*s] ack=[%.*s] n=%zu\n",
            m->flags & ~(unsigned)NS_HL7_MSG_FRAMED, m->nsegments, (int)m->message_type.len,
            m->message_type.ptr, (int)m->message_code.len, m->message_code.ptr,
            (int)m->trigger_event.len, m->trigger_event.ptr, (int)m->control_id.len,
            m->control_id.ptr, (int)m->version.len, m->version.ptr, (int)m->sending_application.len,
            m->sending_application.ptr, (int)m->sending_facility.len, m->sending_facility.ptr,
            (int)m->ack_code.len, m->ack_code.ptr, m->nidents);
    for (size_t i = 0; i < m->nidents; i++) {
        const struct ns_hl7_ident *id = &m->idents[i];
        assert_string_equal(id->provenance, ns_hl7_provenance(id->field));
        log_add(l, " id %s seg=%u rep=%u value=[%.*s] raw=[%.*s]\n", id->provenance, id->segment,
                id->repetition, (int)id->value.len, id->value.ptr, (int)id->raw.len, id->raw.ptr);
    }
}

static void log_init(struct log *l)
{
    memset(l, 0, sizeof(*l));
    l->buf = ns_malloc(LOG_CAP);
    assert_non_null(l->buf);
    l->buf[0] = '\0';
}

static void log_free(struct log *l)
{
    ns_free(l->buf);
}

/* Feed `d` in pieces: split at `at` (0 = whole), or byte by byte when step == 1. */
static struct ns_hl7_stats run(const uint8_t *d, size_t n, size_t at, size_t step,
                               const struct ns_hl7_opts *o, struct log *l)
{
    struct ns_hl7_callbacks cb = {.on_message = on_message, .ud = l};
    struct ns_hl7_parser *p = NULL;
    assert_int_equal(ns_hl7_parser_new(&p, o, &cb), 0);
    if (step > 0) {
        for (size_t i = 0; i < n; i += step) {
            size_t k = n - i < step ? n - i : step;
            int rc = ns_hl7_feed(p, d + i, k);
            assert_true(rc == 0 || rc == NS_EMALFORMED);
        }
    } else if (at > 0 && at < n) {
        int rc = ns_hl7_feed(p, d, at);
        assert_true(rc == 0 || rc == NS_EMALFORMED);
        rc = ns_hl7_feed(p, d + at, n - at);
        assert_true(rc == 0 || rc == NS_EMALFORMED);
    } else {
        int rc = ns_hl7_feed(p, d, n);
        assert_true(rc == 0 || rc == NS_EMALFORMED);
    }
    ns_hl7_close(p);
    struct ns_hl7_stats st = *ns_hl7_stats(p);
    ns_hl7_parser_free(p);
    return st;
}

/* Whole, byte by byte and every two-piece split give the same log; returns the whole log. */
static struct ns_hl7_stats run_all_splits(const uint8_t *d, size_t n, struct log *whole)
{
    struct ns_hl7_stats st = run(d, n, 0, 0, NULL, whole);
    struct log l;
    log_init(&l);
    struct ns_hl7_stats st1 = run(d, n, 0, 1, NULL, &l);
    assert_string_equal(l.buf, whole->buf);
    assert_int_equal(st1.messages, st.messages);
    assert_int_equal(st1.malformed, st.malformed);
    for (size_t at = 1; at < n; at++) {
        l.len = 0;
        l.buf[0] = '\0';
        struct ns_hl7_stats st2 = run(d, n, at, 0, NULL, &l);
        assert_string_equal(l.buf, whole->buf);
        assert_int_equal(st2.messages, st.messages);
        assert_int_equal(st2.malformed, st.malformed);
    }
    log_free(&l);
    return st;
}

/* ------------------------------------------------------------------ */
/* files                                                               */

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

static bool have_shared(void)
{
    FILE *f = fopen(NS_SHARED_DATA "/hl7/adt-a01-basic.hl7", "rb");
    if (f == NULL) {
        return false;
    }
    fclose(f);
    return true;
}

#define SKIP_WITHOUT_SHARED()                                                                      \
    do {                                                                                           \
        if (!have_shared()) {                                                                      \
            print_message("shared data not found at %s: skipped\n", NS_SHARED_DATA);               \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/*
 * TCP payload of one direction of a classic pcap (Ethernet, IPv4): the
 * segments whose destination (or, by_src, source) port is `port`, in file order (each capture
 * used here is one in-order flow without retransmissions).
 */
static uint8_t *pcap_payload(const char *path, uint16_t port, bool by_src, size_t *out_len)
{
    size_t n = 0;
    uint8_t *f = read_file(path, &n);
    if (f == NULL) {
        return NULL;
    }
    uint8_t *out = ns_malloc(n + 1);
    assert_non_null(out);
    size_t olen = 0;
    struct ns_rd r;
    ns_rd_init(&r, f, n, 0);
    uint32_t magic = ns_rd_le32(&r);
    assert_int_equal(magic, 0xa1b2c3d4u);
    ns_rd_skip(&r, 16);
    uint32_t linktype = ns_rd_le32(&r);
    assert_int_equal(linktype, 1);
    while (ns_rd_ok(&r) && ns_rd_left(&r) > 0) {
        ns_rd_skip(&r, 8);
        uint32_t caplen = ns_rd_le32(&r);
        ns_rd_skip(&r, 4);
        struct ns_rd pk = ns_rd_sub(&r, caplen);
        assert_true(ns_rd_ok(&r));
        ns_rd_skip(&pk, 12);
        if (ns_rd_be16(&pk) != 0x0800) {
            continue;
        }
        uint8_t vihl = ns_rd_u8(&pk);
        ns_rd_skip(&pk, 1);
        uint16_t tot = ns_rd_be16(&pk);
        ns_rd_skip(&pk, 5);
        uint8_t proto = ns_rd_u8(&pk);
        ns_rd_skip(&pk, (size_t)(vihl & 15) * 4 - 10);
        if (proto != 6 || !ns_rd_ok(&pk)) {
            continue;
        }
        uint16_t sp = ns_rd_be16(&pk);
        uint16_t dp = ns_rd_be16(&pk);
        ns_rd_skip(&pk, 8);
        uint8_t doff = ns_rd_u8(&pk);
        ns_rd_skip(&pk, (size_t)(doff >> 4) * 4 - 13);
        size_t plen = (size_t)tot - (size_t)(vihl & 15) * 4 - (size_t)(doff >> 4) * 4;
        const uint8_t *pl = ns_rd_bytes(&pk, plen);
        if ((by_src ? sp : dp) == port && pl != NULL && plen > 0) {
            memcpy(out + olen, pl, plen);
            olen += plen;
        }
    }
    ns_free(f);
    *out_len = olen;
    return out;
}

/* ------------------------------------------------------------------ */
/* shared fixtures                                                     */

static const char *const fixtures[] = {
    "adt-a01-basic",
    "adt-a01-full",
    "dft-p03-charge",
    "edge-crlf-line-endings",
    "edge-custom-delimiters",
    "edge-empty-segments",
    "edge-escaped-delimiters",
    "edge-field-repetitions",
    "edge-non-ascii",
    "edge-z-segments",
    "invalid-missing-msh",
    "invalid-segment-header-length",
    "invalid-trailing-empty-fields",
    "invalid-wrong-version",
    "mdm-t02-document",
    "orm-o01-order",
    "oru-r01-lab",
    "siu-s12-schedule",
};
#define NFIX (sizeof(fixtures) / sizeof(fixtures[0]))

static uint8_t *fixture(const char *name, size_t *n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/hl7/%s.hl7", NS_SHARED_DATA, name);
    uint8_t *b = read_file(path, n);
    assert_non_null(b);
    return b;
}

/* Patient data of the fixtures (PID / NK1): never in any callback. */
static void assert_no_phi(const char *log)
{
    static const char *const phi[] = {"DOE",      "JOHN",   "MÜLLER", "JOSÉ",     "GARCÍA",
                                      "19800101", "MRN",    "54321",  "MAIN ST",  "MOUSE",
                                      "MICKEY",   "135769", "ROE",    "RICHARD",  "JANE",
                                      "SECRET",   "MRN777", "JONES",  "19750315", "999-00"};
    for (size_t i = 0; i < sizeof(phi) / sizeof(phi[0]); i++) {
        if (strstr(log, phi[i]) != NULL) {
            fail_msg("patient data '%s' reported in:\n%s", phi[i], log);
        }
    }
}

static void test_fixtures_all_splits(void **state)
{
    (void)state;
    SKIP_WITHOUT_SHARED();
    for (size_t i = 0; i < NFIX; i++) {
        size_t n = 0;
        uint8_t *b = fixture(fixtures[i], &n);
        struct log l;
        log_init(&l);
        struct ns_hl7_stats st = run_all_splits(b, n, &l);
        bool neg = strcmp(fixtures[i], "invalid-missing-msh") == 0;
        assert_int_equal(st.messages, neg ? 0 : 1);
        assert_int_equal(st.malformed, neg ? 1 : 0);
        assert_no_phi(l.buf);
        log_free(&l);
        ns_free(b);
    }
}

/* Expected header fields of some fixtures, checked by reading the files by eye. */
static void test_fixture_fields(void **state)
{
    (void)state;
    SKIP_WITHOUT_SHARED();
    static const struct {
        const char *name;
        const char *log;
    } want[] = {
        {"adt-a01-basic",
         "msg flags=0 seg=4 type=[ADT^A01^ADT_A01] code=[ADT] trig=[A01] ctl=[MSG00001] "
         "ver=[2.5.1] app=[ADT_APP] fac=[FACILITY_A] ack=[] n=0\n"},
        {"edge-crlf-line-endings", "msg flags=0 seg=3 type=[ADT^A01] code=[ADT] trig=[A01] "
                                   "ctl=[MSG006] ver=[2.5] app=[SENDER] fac=[FAC] ack=[] n=0\n"},
        /* MSH#!@%*#: components '!' are given back as '^' */
        {"edge-custom-delimiters", "msg flags=0 seg=2 type=[ADT^A01] code=[ADT] trig=[A01] "
                                   "ctl=[MSG007] ver=[2.5] app=[SENDER] fac=[FAC] ack=[] n=0\n"},
        /* OBX-18 is empty: no identifier */
        {"edge-escaped-delimiters", "msg flags=0 seg=3 type=[ADT^A01] code=[ADT] trig=[A01] "
                                    "ctl=[MSG001] ver=[2.5] app=[SENDER] fac=[FAC] ack=[] n=0\n"},
        {"invalid-wrong-version", "msg flags=0 seg=2 type=[ADT^A01] code=[ADT] trig=[A01] "
                                  "ctl=[MSG001] ver=[1.0] app=[SENDER] fac=[FAC] ack=[] n=0\n"},
        {"invalid-segment-header-length",
         "msg flags=0 seg=3 type=[ADT^A01] code=[ADT] trig=[A01] ctl=[MSG001] ver=[2.5] "
         "app=[SENDER] fac=[FAC] ack=[] n=0\n"},
        {"invalid-missing-msh", ""},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        size_t n = 0;
        uint8_t *b = fixture(want[i].name, &n);
        struct log l;
        log_init(&l);
        run(b, n, 0, 0, NULL, &l);
        assert_string_equal(l.buf, want[i].log);
        log_free(&l);
        ns_free(b);
    }
}

/* Separators of the custom-delimiter fixture are reported as found. */
static char seps_seen[5];

static void on_seps(void *ud, const struct ns_hl7_msg *m)
{
    (void)ud;
    memcpy(seps_seen, m->separators, 5);
}

static void test_custom_separators(void **state)
{
    (void)state;
    SKIP_WITHOUT_SHARED();
    size_t n = 0;
    uint8_t *b = fixture("edge-custom-delimiters", &n);
    struct ns_hl7_callbacks cb = {.on_message = on_seps};
    struct ns_hl7_parser *p = NULL;
    assert_int_equal(ns_hl7_parser_new(&p, NULL, &cb), 0);
    assert_int_equal(ns_hl7_feed(p, b, n), 0);
    ns_hl7_close(p);
    assert_memory_equal(seps_seen, "#!@%*", 5);
    ns_hl7_parser_free(p);
    ns_free(b);
}

/* Concatenate the valid fixtures, framed by MLLP (framed) or bare (LF-separated). */
static uint8_t *concat_fixtures(bool framed, size_t *out_len, struct log *expect)
{
    size_t cap = 1 << 16, len = 0;
    uint8_t *s = ns_malloc(cap);
    assert_non_null(s);
    for (size_t i = 0; i < NFIX; i++) {
        if (strcmp(fixtures[i], "invalid-missing-msh") == 0) {
            continue;
        }
        size_t n = 0;
        uint8_t *b = fixture(fixtures[i], &n);
        run(b, n, 0, 0, NULL, expect);
        assert_true(len + n + 3 < cap);
        if (framed) {
            s[len++] = 0x0B; /* MLLP start block */
        }
        memcpy(s + len, b, n);
        len += n;
        if (framed) {
            s[len++] = 0x1C; /* end block */
            s[len++] = 0x0D; /* carriage return */
        }
        ns_free(b);
    }
    *out_len = len;
    return s;
}

static void test_fixtures_mllp_and_bare_streams(void **state)
{
    (void)state;
    SKIP_WITHOUT_SHARED();
    for (int framed = 0; framed < 2; framed++) {
        struct log expect, got;
        log_init(&expect);
        log_init(&got);
        size_t n = 0;
        uint8_t *s = concat_fixtures(framed != 0, &n, &expect);
        struct ns_hl7_stats st = run_all_splits(s, n, &got);
        assert_string_equal(got.buf, expect.buf);
        assert_int_equal(st.messages, NFIX - 1);
        assert_int_equal(st.malformed, 0);
        assert_int_equal(st.resyncs, 0);
        /* odd chunk sizes */
        for (size_t step = 2; step < 40; step += 7) {
            struct log l;
            log_init(&l);
            run(s, n, 0, step, NULL, &l);
            assert_string_equal(l.buf, expect.buf);
            log_free(&l);
        }
        assert_no_phi(got.buf);
        log_free(&expect);
        log_free(&got);
        ns_free(s);
    }
}

/* ------------------------------------------------------------------ */
/* synthetic device messages                                           */

/*
 * An ADT^A01 (v2.8.2) with a PID (fake patient), a PRT carrying a UDI and
 * its production identifiers, and an OBX with two equipment identifiers.
 *   PRT-1 "1", -2 "UC", -4 "AP", -10 two repetitions, -16 the UDI DI,
 *   -17 manufacture date, -18 expiry date, -19 lot with an escaped
 *   sub-component separator (\T\), -20 serial, -21 HL7 null "" (skipped),
 *   -22 device type (CNE).
 *   OBX-18 after 11 empty fields (OBX-7..17).
 */
static const char synth_msg[] =
    "MSH|^~\\&|PUMPGW^1.2.3^ISO|ICU_EAST|EMR|HOSP|20240101120000||ADT^A01^ADT_A01|CTL\\F\\42|P|"
    "2.8.2\r"
    "PID|1||MRN777^^^HOSP||SECRET^PATIENT||19700101|F\r"
    "PRT|1|UC||AP||||||UDI-A^Infusion Pump^HL7~UDI-B||||||(01)00643169007222|20230115|20260630|"
    "LOT\\T\\A1|SN-0042|\"\"|PUMP^Infusion pump^L\r"
    "OBX|1|NM|157784^MDC_FLOW^MDC||12|ml/h||||||||||||0012345678ABCDEF^EUI-64~AABB^EUI-64\r";

static const char synth_idents[] =
    " id HL7 PRT-10 seg=3 rep=1 value=[UDI-A] raw=[UDI-A^Infusion Pump^HL7]\n"
    " id HL7 PRT-10 seg=3 rep=2 value=[UDI-B] raw=[UDI-B]\n"
    " id HL7 PRT-16 seg=3 rep=1 value=[(01)00643169007222] raw=[(01)00643169007222]\n"
    " id HL7 PRT-17 seg=3 rep=1 value=[20230115] raw=[20230115]\n"
    " id HL7 PRT-18 seg=3 rep=1 value=[20260630] raw=[20260630]\n"
    " id HL7 PRT-19 seg=3 rep=1 value=[LOT&A1] raw=[LOT&A1]\n"
    " id HL7 PRT-20 seg=3 rep=1 value=[SN-0042] raw=[SN-0042]\n"
    " id HL7 PRT-22 seg=3 rep=1 value=[PUMP] raw=[PUMP^Infusion pump^L]\n"
    " id HL7 OBX-18 seg=4 rep=1 value=[0012345678ABCDEF] raw=[0012345678ABCDEF^EUI-64]\n"
    " id HL7 OBX-18 seg=4 rep=2 value=[AABB] raw=[AABB^EUI-64]\n";

static void test_synthetic_identifiers(void **state)
{
    (void)state;
    char want[2048];
    snprintf(want, sizeof(want),
             "msg flags=0 seg=4 type=[ADT^A01^ADT_A01] code=[ADT] trig=[A01] ctl=[CTL|42] "
             "ver=[2.8.2] app=[PUMPGW^1.2.3^ISO] fac=[ICU_EAST] ack=[] n=10\n%s",
             synth_idents);
    struct log l;
    log_init(&l);
    struct ns_hl7_stats st = run_all_splits((const uint8_t *)synth_msg, sizeof(synth_msg) - 1, &l);
    assert_string_equal(l.buf, want);
    assert_int_equal(st.messages, 1);
    assert_int_equal(st.idents, 10);
    assert_no_phi(l.buf);
    log_free(&l);

    /* the same message MLLP-framed, with LF and with CRLF segment ends */
    char alt[1024];
    for (int v = 0; v < 3; v++) {
        size_t k = 0;
        if (v == 0) {
            alt[k++] = 0x0B;
        }
        for (size_t i = 0; i < sizeof(synth_msg) - 1; i++) {
            if (synth_msg[i] == '\r' && v == 1) {
                alt[k++] = '\n';
            } else if (synth_msg[i] == '\r' && v == 2) {
                alt[k++] = '\r';
                alt[k++] = '\n';
            } else {
                alt[k++] = synth_msg[i];
            }
        }
        if (v == 0) {
            alt[k++] = 0x1C;
            alt[k++] = 0x0D;
        }
        log_init(&l);
        run_all_splits((const uint8_t *)alt, k, &l);
        assert_string_equal(l.buf, want);
        log_free(&l);
    }
}

/* The same message written with separators # ! @ % * gives the same identifiers. */
static void test_synthetic_custom_separators(void **state)
{
    (void)state;
    char alt[1024];
    size_t k = 0;
    for (size_t i = 0; i < sizeof(synth_msg) - 1; i++) {
        char c = synth_msg[i];
        switch (c) {
        case '|':
            c = '#';
            break;
        case '^':
            c = '!';
            break;
        case '~':
            c = '@';
            break;
        case '\\':
            c = '%';
            break;
        case '&':
            c = '*';
            break;
        default:
            break;
        }
        alt[k++] = c;
    }
    char want[2048];
    /*
     * Escapes decode to this message's own separators: \F\ (now %F%) to '#',
     * \T\ (now %T%) to '*', as data.
     */
    char idents[sizeof(synth_idents)];
    memcpy(idents, synth_idents, sizeof(synth_idents));
    char *lot = strstr(idents, "LOT&A1] raw=[LOT&A1]");
    assert_non_null(lot);
    lot[3] = '*';
    lot[16] = '*';
    snprintf(want, sizeof(want),
             "msg flags=0 seg=4 type=[ADT^A01^ADT_A01] code=[ADT] trig=[A01] ctl=[CTL#42] "
             "ver=[2.8.2] app=[PUMPGW^1.2.3^ISO] fac=[ICU_EAST] ack=[] n=10\n%s",
             idents);
    struct log l;
    log_init(&l);
    run_all_splits((const uint8_t *)alt, k, &l);
    assert_string_equal(l.buf, want);
    log_free(&l);
}

static void test_escapes_and_short_encoding(void **state)
{
    (void)state;
    /*
     * OBX-18 with every escape: \F\ \S\ \T\ \R\ \E\ decode to | ^ & ~ \,
     * \X41\ and \.br\ are dropped, an unterminated \ is kept.
     */
    static const char m1[] =
        "MSH|^~\\&|A|B|||||ORU^R01|1|P|2.6\r"
        "OBX|1|||||||||||||||||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X41\\g\\.br\\h\\i\r";
    struct log l;
    log_init(&l);
    run((const uint8_t *)m1, sizeof(m1) - 1, 0, 0, NULL, &l);
    assert_string_equal(l.buf, "msg flags=0 seg=2 type=[ORU^R01] code=[ORU] trig=[R01] ctl=[1] "
                               "ver=[2.6] app=[A] fac=[B] ack=[] n=1\n"
                               " id HL7 OBX-18 seg=2 rep=1 value=[a|b^c&d~e\\fgh\\i] "
                               "raw=[a|b^c&d~e\\fgh\\i]\n");
    log_free(&l);

    /* MSH-2 with two characters only: no escape, no sub-component separator */
    static const char m2[] = "MSH|^~|A|B|||||ORU^R01|2|P|2.3\r"
                             "OBX|1|||||||||||||||||X\\T\\Y&Z^W\r";
    log_init(&l);
    run((const uint8_t *)m2, sizeof(m2) - 1, 0, 0, NULL, &l);
    assert_string_equal(l.buf, "msg flags=0 seg=2 type=[ORU^R01] code=[ORU] trig=[R01] ctl=[2] "
                               "ver=[2.3] app=[A] fac=[B] ack=[] n=1\n"
                               " id HL7 OBX-18 seg=2 rep=1 value=[X\\T\\Y&Z] raw=[X\\T\\Y&Z^W]\n");
    log_free(&l);

    /* bad separators: one encoding character, alphanumeric, duplicated, six */
    static const char *const bad[] = {"MSH|^|A\r", "MSHA^~\\&|A\r", "MSH|^^\\&|A\r",
                                      "MSH|^~\\&#$|A\r", "MSH\r"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        log_init(&l);
        struct ns_hl7_stats st = run((const uint8_t *)bad[i], strlen(bad[i]), 0, 0, NULL, &l);
        assert_int_equal(st.messages, 0);
        assert_int_equal(st.malformed, 1);
        assert_string_equal(l.buf, "");
        log_free(&l);
    }
}

static void test_ack(void **state)
{
    (void)state;
    static const char ack[] =
        "\x0bMSH|^~\\&|EMR_RECV|MEDCAP_HOSP|PUMPGW|ICU|20240101||ACK^A01|A9|P|"
        "2.8\rMSA|AA|CTL42\r\x1c\r";
    struct log l;
    log_init(&l);
    run_all_splits((const uint8_t *)ack, sizeof(ack) - 1, &l);
    assert_string_equal(l.buf, "msg flags=0 seg=2 type=[ACK^A01] code=[ACK] trig=[A01] ctl=[A9] "
                               "ver=[2.8] app=[EMR_RECV] fac=[MEDCAP_HOSP] ack=[AA] n=0\n");
    log_free(&l);
}

/* ------------------------------------------------------------------ */
/* caps, resync, gaps                                                  */

static void test_caps(void **state)
{
    (void)state;
    struct log l;
    /* identifiers past max_idents: 3 kept, 7 dropped */
    struct ns_hl7_opts o;
    ns_hl7_opts_init(&o);
    o.max_idents = 3;
    log_init(&l);
    struct ns_hl7_stats st = run((const uint8_t *)synth_msg, sizeof(synth_msg) - 1, 0, 0, &o, &l);
    assert_int_equal(st.idents, 3);
    assert_int_equal(st.idents_dropped, 7);
    assert_non_null(strstr(l.buf, "msg flags=2 seg=4"));
    log_free(&l);

    /* segments past max_segments: the PRT and OBX are not read */
    ns_hl7_opts_init(&o);
    o.max_segments = 2;
    log_init(&l);
    st = run((const uint8_t *)synth_msg, sizeof(synth_msg) - 1, 0, 0, &o, &l);
    assert_int_equal(st.segments_cut, 1);
    assert_int_equal(st.idents, 0);
    assert_non_null(strstr(l.buf, "msg flags=4 seg=2"));
    log_free(&l);

    /* an oversized framed message, then a small one: only the small one is reported */
    ns_hl7_opts_init(&o);
    o.max_message_bytes = 120;
    char s[1024];
    size_t k = 0;
    s[k++] = 0x0B;
    memcpy(s + k, synth_msg, sizeof(synth_msg) - 1); /* 390 bytes > 120 */
    k += sizeof(synth_msg) - 1;
    s[k++] = 0x1C;
    s[k++] = 0x0D;
    static const char small[] = "\x0bMSH|^~\\&|A|B|||||ACK|7|P|2.5\rMSA|AE|1\r\x1c\r";
    memcpy(s + k, small, sizeof(small) - 1);
    k += sizeof(small) - 1;
    for (size_t step = 0; step < 3; step++) {
        log_init(&l);
        st = run((const uint8_t *)s, k, 0, step, &o, &l);
        assert_int_equal(st.oversized, 1);
        assert_int_equal(st.messages, 1);
        assert_int_equal(st.malformed, 0);
        assert_string_equal(l.buf, "msg flags=0 seg=2 type=[ACK] code=[ACK] trig=[] ctl=[7] "
                                   "ver=[2.5] app=[A] fac=[B] ack=[AE] n=0\n");
        log_free(&l);
    }

    /* an oversized bare message, then a bare one at a line start */
    k = 0;
    memcpy(s + k, synth_msg, sizeof(synth_msg) - 1);
    k += sizeof(synth_msg) - 1;
    memcpy(s + k, small + 1, sizeof(small) - 4); /* without the framing */
    k += sizeof(small) - 4;
    log_init(&l);
    st = run((const uint8_t *)s, k, 0, 1, &o, &l);
    assert_int_equal(st.oversized, 1);
    assert_int_equal(st.messages, 1);
    assert_non_null(strstr(l.buf, "ctl=[7]"));
    log_free(&l);
}

static void test_resync(void **state)
{
    (void)state;
    /* garbage, then a frame: counted once, the frame is parsed */
    static const char g[] = "GARBAGE\x00\xff junk\x0bMSH|^~\\&|A|B|||||ACK|8|P|2.5\r\x1c\r";
    struct ns_hl7_callbacks cb = {.on_message = on_message};
    struct log l;
    log_init(&l);
    cb.ud = &l;
    struct ns_hl7_parser *p = NULL;
    assert_int_equal(ns_hl7_parser_new(&p, NULL, &cb), 0);
    assert_int_equal(ns_hl7_feed(p, (const uint8_t *)g, sizeof(g) - 1), NS_EMALFORMED);
    const struct ns_hl7_stats *st = ns_hl7_stats(p);
    assert_int_equal(st->malformed, 1);
    assert_int_equal(st->resyncs, 1);
    assert_int_equal(st->messages, 1);
    assert_non_null(strstr(l.buf, "ctl=[8]"));
    /* a frame that never ends before the next start block */
    static const char u[] = "\x0bMSH|^~\\&|A|B|||||ACK|9|P|2.5\r"
                            "\x0bMSH|^~\\&|A|B|||||ACK|10|P|2.5\r\x1c\r";
    assert_int_equal(ns_hl7_feed(p, (const uint8_t *)u, sizeof(u) - 1), NS_EMALFORMED);
    assert_int_equal(st->malformed, 2);
    assert_int_equal(st->messages, 2);
    assert_null(strstr(l.buf, "ctl=[9]"));
    assert_non_null(strstr(l.buf, "ctl=[10]"));
    /* 0x1C without its CR: parsed, flagged */
    static const char nt[] = "\x0bMSH|^~\\&|A|B|||||ACK|11|P|2.5\r\x1c"
                             "\x0bMSH|^~\\&|A|B|||||ACK|12|P|2.5\r\x1c\r";
    assert_int_equal(ns_hl7_feed(p, (const uint8_t *)nt, sizeof(nt) - 1), 0);
    assert_int_equal(st->messages, 4);
    assert_non_null(strstr(l.buf, "msg flags=8 seg=1 type=[ACK] code=[ACK] trig=[] ctl=[11]"));
    assert_non_null(strstr(l.buf, "msg flags=0 seg=1 type=[ACK] code=[ACK] trig=[] ctl=[12]"));
    /* a frame whose content does not start with MSH */
    static const char nm[] = "\x0bPID|1||X\r\x1c\r";
    assert_int_equal(ns_hl7_feed(p, (const uint8_t *)nm, sizeof(nm) - 1), NS_EMALFORMED);
    assert_int_equal(st->malformed, 3);
    ns_hl7_parser_free(p);
    log_free(&l);
}

static void test_gap_and_close(void **state)
{
    (void)state;
    struct ns_hl7_callbacks cb = {.on_message = on_message};
    struct log l;
    log_init(&l);
    cb.ud = &l;
    struct ns_hl7_parser *p = NULL;
    assert_int_equal(ns_hl7_parser_new(&p, NULL, &cb), 0);
    /* half a frame, a gap, the rest of it, then a whole frame */
    static const char f[] = "\x0bMSH|^~\\&|A|B|||||ACK|20|P|2.5\rMSA|AA|1\r\x1c\r";
    size_t n = sizeof(f) - 1;
    assert_int_equal(ns_hl7_feed(p, (const uint8_t *)f, 15), 0);
    ns_hl7_gap(p, 10);
    assert_int_equal(ns_hl7_feed(p, (const uint8_t *)f + 25, n - 25), 0);
    assert_int_equal(ns_hl7_feed(p, (const uint8_t *)f, n), 0);
    const struct ns_hl7_stats *st = ns_hl7_stats(p);
    assert_int_equal(st->incomplete, 1);
    assert_int_equal(st->messages, 1);
    assert_int_equal(st->malformed, 0);
    /* an open frame at close is incomplete; a bare message at close is parsed */
    assert_int_equal(ns_hl7_feed(p, (const uint8_t *)f, 20), 0);
    ns_hl7_close(p);
    assert_int_equal(st->incomplete, 2);
    static const char b[] = "MSH|^~\\&|A|B|||||ACK|21|P|2.5\rMSA|AA|1";
    assert_int_equal(ns_hl7_feed(p, (const uint8_t *)b, sizeof(b) - 1), 0);
    ns_hl7_close(p);
    assert_int_equal(st->messages, 2);
    assert_non_null(strstr(l.buf, "ctl=[21]"));
    ns_hl7_parser_free(p);
    log_free(&l);
}

/* Allocation failures: never a crash, never a leak. */
static void test_alloc_failures(void **state)
{
    (void)state;
    for (uint64_t k = 1; k < 6; k++) {
        struct log l;
        log_init(&l);
        struct ns_hl7_callbacks cb = {.on_message = on_message, .ud = &l};
        struct ns_hl7_parser *p = NULL;
        ns_alloc_fail_at(k);
        int rc = ns_hl7_parser_new(&p, NULL, &cb);
        if (rc == 0) {
            rc = ns_hl7_feed(p, (const uint8_t *)synth_msg, sizeof(synth_msg) - 1);
            /* a failed growth drops the message (counted oversized) and says so */
            assert_true(rc == 0 || rc == NS_ENOMEM);
            assert_int_equal(ns_hl7_stats(p)->oversized, rc == NS_ENOMEM ? 1 : 0);
            ns_hl7_close(p);
            ns_hl7_parser_free(p);
        } else {
            assert_int_equal(rc, NS_ENOMEM);
        }
        ns_alloc_fail_at(0);
        log_free(&l);
    }
}

/* ------------------------------------------------------------------ */
/* captures                                                            */

static void capture_check(const char *file, uint16_t port, const char *want_client,
                          const char *want_server)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/pcap/%s", NS_SHARED_DATA, file);
    size_t n = 0;
    uint8_t *c = pcap_payload(path, port, false, &n);
    if (c == NULL) {
        print_message("%s not found: skipped\n", path);
        skip();
    }
    struct log l;
    log_init(&l);
    run_all_splits(c, n, &l);
    assert_string_equal(l.buf, want_client);
    assert_no_phi(l.buf);
    log_free(&l);
    ns_free(c);
    /* the other direction: the server's ACK */
    c = pcap_payload(path, port, true, &n);
    assert_non_null(c);
    log_init(&l);
    run_all_splits(c, n, &l);
    assert_string_equal(l.buf, want_server);
    log_free(&l);
    ns_free(c);
}

/* The receiver's answer in both tapirx captures. */
#define TAPIRX_ACK                                                                                 \
    "msg flags=0 seg=2 type=[ACK] code=[ACK] trig=[] ctl=[20180129192342.245] ver=[2.3] "          \
    "app=[RECEIVING_APPLICATION] fac=[RECEIVING_FACILITY] ack=[AA] n=0\n"

static void test_tapirx_prt(void **state)
{
    (void)state;
    /* tshark -r HL7-ADT-UDI-PRT.pcap -d tcp.port==6661,hl7 -O hl7: PRT-16 'Hospira Plum A+' */
    capture_check("hl7/HL7-ADT-UDI-PRT.pcap", 6661,
                  "msg flags=0 seg=4 type=[ADT^A01] code=[ADT] trig=[A01] "
                  "ctl=[934576120110613083617] ver=[2.3] app=[SENDING_APPLICATION] "
                  "fac=[SENDING_FACILITY] ack=[] n=1\n"
                  " id HL7 PRT-16 seg=4 rep=1 value=[Hospira Plum A+] raw=[Hospira Plum A+]\n",
                  TAPIRX_ACK);
}

static void test_tapirx_obx(void **state)
{
    (void)state;
    capture_check("hl7/HL7-ADT-UDI-OBX.pcap", 6661,
                  "msg flags=0 seg=4 type=[ADT^A01] code=[ADT] trig=[A01] "
                  "ctl=[934576120110613083617] ver=[2.3] app=[SENDING_APPLICATION] "
                  "fac=[SENDING_FACILITY] ack=[] n=1\n"
                  " id HL7 OBX-18 seg=4 rep=1 value=[Hospira Plum A+] raw=[Hospira Plum A+]\n",
                  TAPIRX_ACK);
}

static void test_loopback_three_messages(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/pcap/medical-real/hl7_multi_adt_prt_oru_a08_2575.pcap",
             NS_SHARED_DATA);
    size_t n = 0;
    uint8_t *c = pcap_payload(path, 2575, false, &n);
    if (c == NULL) {
        print_message("%s not found: skipped\n", path);
        skip();
    }
    struct log l;
    log_init(&l);
    struct ns_hl7_stats st = run_all_splits(c, n, &l);
    assert_int_equal(st.messages, 3);
    assert_int_equal(st.malformed, 0);
    assert_non_null(strstr(l.buf, " id HL7 PRT-10 seg=5 rep=1 value=[Infusion Pump] "
                                  "raw=[Infusion Pump^^HL7]\n"
                                  " id HL7 PRT-16 seg=5 rep=1 value=[(01)00643169007222] "
                                  "raw=[(01)00643169007222]\n"
                                  " id HL7 PRT-20 seg=5 rep=1 value=[SN-4471-PUMP] "
                                  "raw=[SN-4471-PUMP]\n"));
    assert_non_null(strstr(l.buf, " id HL7 OBX-18 seg=5 rep=1 value=[AABBCCDDEEFF0011] "
                                  "raw=[AABBCCDDEEFF0011^EUI-64]\n"));
    assert_no_phi(l.buf);
    log_free(&l);
    ns_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_all_splits),
        cmocka_unit_test(test_fixture_fields),
        cmocka_unit_test(test_custom_separators),
        cmocka_unit_test(test_fixtures_mllp_and_bare_streams),
        cmocka_unit_test(test_synthetic_identifiers),
        cmocka_unit_test(test_synthetic_custom_separators),
        cmocka_unit_test(test_escapes_and_short_encoding),
        cmocka_unit_test(test_ack),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_resync),
        cmocka_unit_test(test_gap_and_close),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_tapirx_prt),
        cmocka_unit_test(test_tapirx_obx),
        cmocka_unit_test(test_loopback_three_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
