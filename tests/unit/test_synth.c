/*
 * test_synth.c - unit tests of the capture generator (synth.h): determinism,
 * the pcap file and record headers, checksums of the generated frames
 * (RFC 1071), kinds parsing, the size target, the truth lines, and
 * allocation failures.
 *
 * The output is read back with a few lines of byte reading here, so that
 * these tests do not depend on the decode stage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netsift/alloc.h"
#include "netsift/synth.h"

struct out {
    char *pcap;
    size_t pcap_len;
    char *truth;
    size_t truth_len;
    struct ns_synth_stats st;
    int rc;
};

static void gen(struct out *o, uint64_t seed, uint64_t size, uint32_t kinds, bool truth)
{
    struct ns_synth_opts opts = {.seed = seed, .size = size, .kinds = kinds};
    FILE *p = open_memstream(&o->pcap, &o->pcap_len);
    FILE *t = truth ? open_memstream(&o->truth, &o->truth_len) : NULL;
    assert_non_null(p);
    o->rc = ns_synth_write(p, t, &opts, &o->st, NULL);
    fclose(p);
    if (t != NULL) {
        fclose(t);
    }
}

static void out_free(struct out *o)
{
    free(o->pcap);
    free(o->truth);
    memset(o, 0, sizeof(*o));
}

static uint32_t rd_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* One's complement sum of n bytes (RFC 1071), not folded. */
static uint32_t sum16(uint32_t acc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        acc += rd_be16(p + i);
    }
    if (n % 2 != 0) {
        acc += (uint32_t)p[n - 1] << 8;
    }
    return acc;
}

static uint16_t fold(uint32_t acc)
{
    while (acc >> 16) {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    return (uint16_t)acc;
}

static void test_synth_same_seed_same_bytes(void **state)
{
    (void)state;
    struct out a = {0};
    struct out b = {0};
    gen(&a, 1, 0, 0, true);
    gen(&b, 1, 0, 0, true);
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    assert_true(a.pcap_len > 24);
    assert_int_equal(a.pcap_len, b.pcap_len);
    assert_memory_equal(a.pcap, b.pcap, a.pcap_len);
    assert_int_equal(a.truth_len, b.truth_len);
    assert_memory_equal(a.truth, b.truth, a.truth_len);
    out_free(&a);
    out_free(&b);
}

static void test_synth_different_seeds_differ(void **state)
{
    (void)state;
    struct out a = {0};
    struct out b = {0};
    gen(&a, 1, 0, 0, false);
    gen(&b, 2, 0, 0, false);
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    size_t n = a.pcap_len < b.pcap_len ? a.pcap_len : b.pcap_len;
    assert_true(a.pcap_len != b.pcap_len || memcmp(a.pcap, b.pcap, n) != 0);
    /* the file headers are the same whatever the seed */
    assert_memory_equal(a.pcap, b.pcap, 24);
    out_free(&a);
    out_free(&b);
}

static void test_synth_file_header(void **state)
{
    (void)state;
    static const uint8_t want[24] = {
        0xd4, 0xc3, 0xb2, 0xa1, /* magic 0xa1b2c3d4 little-endian: microseconds */
        0x02, 0x00, 0x04, 0x00, /* version 2.4 */
        0x00, 0x00, 0x00, 0x00, /* thiszone */
        0x00, 0x00, 0x00, 0x00, /* sigfigs */
        0x00, 0x00, 0x04, 0x00, /* snaplen 262144 */
        0x01, 0x00, 0x00, 0x00, /* LINKTYPE_ETHERNET */
    };
    struct out a = {0};
    gen(&a, 5, 0, NS_SYNTH_KIND_BIT(NS_SYNTH_DNS), false);
    assert_int_equal(a.rc, 0);
    assert_memory_equal(a.pcap, want, sizeof(want));
    out_free(&a);
}

/* Walk the records: caplen == wirelen, time never goes back, frames >= 60 bytes. */
static void test_synth_records(void **state)
{
    (void)state;
    struct out a = {0};
    gen(&a, 3, 0, 0, false);
    assert_int_equal(a.rc, 0);
    const uint8_t *p = (const uint8_t *)a.pcap;
    size_t off = 24;
    uint64_t prev = 0;
    uint64_t n = 0;
    while (off < a.pcap_len) {
        assert_true(a.pcap_len - off >= 16);
        uint64_t ts = (uint64_t)rd_le32(p + off) * 1000000 + rd_le32(p + off + 4);
        uint32_t incl = rd_le32(p + off + 8);
        uint32_t orig = rd_le32(p + off + 12);
        assert_true(rd_le32(p + off + 4) < 1000000);
        assert_int_equal(incl, orig);
        assert_true(incl >= 60);
        assert_true(ts >= prev);
        /* 2024-03-01T00:00:00Z and later */
        assert_true(ts >= 1709251200000000ULL);
        prev = ts;
        off += 16;
        assert_true(a.pcap_len - off >= incl);
        off += incl;
        n++;
    }
    assert_int_equal(off, a.pcap_len);
    assert_int_equal(n, a.st.frames);
    assert_int_equal(a.st.bytes, a.pcap_len);
    assert_int_equal(a.st.rounds, 1);
    assert_true(a.pcap_len < 1024 * 1024);
    out_free(&a);
}

/*
 * Every untagged IPv4 frame: the header checksum verifies; for unfragmented
 * TCP and UDP, the transport checksum with the pseudo header verifies too.
 */
static void test_synth_ipv4_checksums(void **state)
{
    (void)state;
    struct out a = {0};
    gen(&a, 9, 0, 0, false);
    assert_int_equal(a.rc, 0);
    const uint8_t *p = (const uint8_t *)a.pcap;
    size_t off = 24;
    unsigned ip4 = 0;
    unsigned l4 = 0;
    while (off + 16 <= a.pcap_len) {
        uint32_t incl = rd_le32(p + off + 8);
        const uint8_t *f = p + off + 16;
        off += 16 + incl;
        if (rd_be16(f + 12) != 0x0800) {
            continue;
        }
        const uint8_t *ip = f + 14;
        size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
        assert_int_equal(ip[0] >> 4, 4);
        assert_int_equal(ihl, 20);
        assert_int_equal(fold(sum16(0, ip, ihl)), 0xffff);
        ip4++;
        uint16_t total = rd_be16(ip + 2);
        assert_true(14 + (size_t)total <= incl);
        if ((rd_be16(ip + 6) & 0x3fff) != 0 || (ip[9] != 6 && ip[9] != 17)) {
            continue; /* a fragment */
        }
        uint8_t ph[12];
        memcpy(ph, ip + 12, 8);
        ph[8] = 0;
        ph[9] = ip[9];
        ph[10] = (uint8_t)((total - ihl) >> 8);
        ph[11] = (uint8_t)(total - ihl);
        assert_int_equal(fold(sum16(sum16(0, ph, 12), ip + ihl, total - ihl)), 0xffff);
        l4++;
    }
    assert_true(ip4 > 100);
    assert_true(l4 > 100);
    out_free(&a);
}

static void test_synth_parse_kinds(void **state)
{
    (void)state;
    uint32_t m = 0x55;
    assert_int_equal(ns_synth_parse_kinds("dns", &m), 0);
    assert_int_equal(m, NS_SYNTH_KIND_BIT(NS_SYNTH_DNS));
    assert_int_equal(ns_synth_parse_kinds("frag,dns,tcp", &m), 0);
    assert_int_equal(m, NS_SYNTH_KIND_BIT(NS_SYNTH_FRAG) | NS_SYNTH_KIND_BIT(NS_SYNTH_DNS) |
                            NS_SYNTH_KIND_BIT(NS_SYNTH_TCP));
    assert_int_equal(ns_synth_parse_kinds("tcp,http,hl7,dicom,dns,ipv6,vlan,frag,retrans,scan", &m),
                     0);
    assert_int_equal(m, NS_SYNTH_ALL_KINDS);

    m = 0x55;
    assert_int_equal(ns_synth_parse_kinds("dns,smtp", &m), NS_EINVAL);
    assert_int_equal(ns_synth_parse_kinds("", &m), NS_EINVAL);
    assert_int_equal(ns_synth_parse_kinds("dns,", &m), NS_EINVAL);
    assert_int_equal(ns_synth_parse_kinds(",dns", &m), NS_EINVAL);
    assert_int_equal(ns_synth_parse_kinds("DNS", &m), NS_EINVAL);
    assert_int_equal(ns_synth_parse_kinds("dn", &m), NS_EINVAL);
    assert_int_equal(ns_synth_parse_kinds("dnss", &m), NS_EINVAL);
    assert_int_equal(m, 0x55); /* untouched on failure */

    assert_string_equal(ns_synth_kind_name(NS_SYNTH_RETRANS), "retrans");
    assert_null(ns_synth_kind_name(NS_SYNTH_KIND_COUNT));
}

static void test_synth_bad_mask(void **state)
{
    (void)state;
    struct out a = {0};
    gen(&a, 1, 0, 1u << NS_SYNTH_KIND_COUNT, false);
    assert_int_equal(a.rc, NS_EINVAL);
    out_free(&a);
}

/* --size: the file reaches the target, and without its last round it would not. */
static void test_synth_size(void **state)
{
    (void)state;
    const uint64_t target = 2u << 20;
    struct out a = {0};
    gen(&a, 11, target, 0, false);
    assert_int_equal(a.rc, 0);
    assert_int_equal(a.st.bytes, a.pcap_len);
    assert_true(a.pcap_len >= target);
    assert_true(a.pcap_len - a.st.last_round_bytes < target);
    assert_true(a.st.rounds > 1);
    out_free(&a);
}

static size_t count_lines(const char *s, size_t n, const char *needle)
{
    size_t lines = 0;
    const char *end = s + n;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        assert_non_null(nl);
        if (needle == NULL || memmem(s, (size_t)(nl - s), needle, strlen(needle)) != NULL) {
            lines++;
        }
        s = nl + 1;
    }
    return lines;
}

/* Only DNS: every frame is UDP to or from port 53, and every truth line is a dns flow. */
static void test_synth_kinds_subset(void **state)
{
    (void)state;
    struct out a = {0};
    gen(&a, 4, 0, NS_SYNTH_KIND_BIT(NS_SYNTH_DNS), true);
    assert_int_equal(a.rc, 0);
    const uint8_t *p = (const uint8_t *)a.pcap;
    size_t off = 24;
    while (off + 16 <= a.pcap_len) {
        uint32_t incl = rd_le32(p + off + 8);
        const uint8_t *f = p + off + 16;
        off += 16 + incl;
        uint16_t et = rd_be16(f + 12);
        const uint8_t *l4;
        if (et == 0x0800) {
            assert_int_equal(f[14 + 9], 17);
            l4 = f + 14 + 20;
        } else {
            assert_int_equal(et, 0x86dd);
            assert_int_equal(f[14 + 6], 17);
            l4 = f + 14 + 40;
        }
        assert_true(rd_be16(l4) == 53 || rd_be16(l4 + 2) == 53);
    }
    size_t flows = count_lines(a.truth, a.truth_len, NULL);
    assert_int_equal(flows, a.st.flows);
    assert_int_equal(count_lines(a.truth, a.truth_len, "\"kind\":\"dns\""), flows);
    /* one query and one response per flow */
    assert_int_equal(count_lines(a.truth, a.truth_len, "\"packets_fwd\":1,\"packets_rev\":1,"),
                     flows);
    assert_int_equal(a.st.frames, 2 * flows);
    out_free(&a);
}

/* Truth: one line per flow, and the frame and byte counters add up to the file. */
/*
 * Device truth: one line per HL7 session and DICOM association, with the
 * identifiers the generator put in (the UDI in PRT-10, the AE title).
 */
static void test_synth_truth_devices(void **state)
{
    (void)state;
    struct out a = {0};
    gen(&a, 3, 0, NS_SYNTH_KIND_BIT(NS_SYNTH_HL7) | NS_SYNTH_KIND_BIT(NS_SYNTH_DICOM), true);
    assert_int_equal(a.rc, 0);
    assert_int_equal(count_lines(a.truth, a.truth_len, "{\"type\":\"device\",\"kind\":\"hl7\""), 4);
    assert_int_equal(count_lines(a.truth, a.truth_len, "{\"type\":\"device\",\"kind\":\"dicom\""),
                     3);
    assert_int_equal(
        count_lines(a.truth, a.truth_len, "\"provenance\":\"HL7 PRT-10\",\"identifiers\""), 4);
    assert_int_equal(count_lines(a.truth, a.truth_len,
                                 "{\"value\":\"CT_REVO_01\",\"provenance\":"
                                 "\"DICOM calling AE title\"}"),
                     1);
    assert_int_equal(
        count_lines(a.truth, a.truth_len, "\"identifier\":\"MAGNETOM Vida\",\"provenance\":"), 1);
    /* the pcap is the same with or without the truth */
    struct out b = {0};
    gen(&b, 3, 0, NS_SYNTH_KIND_BIT(NS_SYNTH_HL7) | NS_SYNTH_KIND_BIT(NS_SYNTH_DICOM), false);
    assert_int_equal(a.pcap_len, b.pcap_len);
    assert_memory_equal(a.pcap, b.pcap, a.pcap_len);
    out_free(&a);
    out_free(&b);
}

static void test_synth_truth_totals(void **state)
{
    (void)state;
    struct out a = {0};
    gen(&a, 6, 0, 0, true);
    assert_int_equal(a.rc, 0);
    /* flow lines, plus one device line per HL7 session (4) and DICOM association (3) */
    assert_int_equal(count_lines(a.truth, a.truth_len, NULL), a.st.flows + 7);
    assert_int_equal(count_lines(a.truth, a.truth_len, "{\"type\":\"flow\","), a.st.flows);
    assert_int_equal(count_lines(a.truth, a.truth_len, "{\"type\":\"device\","), 7);
    uint64_t packets = 0;
    uint64_t bytes = 0;
    const char *s = a.truth;
    const char *end = a.truth + a.truth_len;
    static const char *const keys[] = {
        "\"packets_fwd\":", "\"packets_rev\":", "\"bytes_fwd\":", "\"bytes_rev\":"};
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        assert_non_null(nl);
        if (strncmp(s, "{\"type\":\"device\",", strlen("{\"type\":\"device\",")) == 0) {
            s = nl + 1;
            continue;
        }
        for (int k = 0; k < 4; k++) {
            const char *at = memmem(s, (size_t)(nl - s), keys[k], strlen(keys[k]));
            assert_non_null(at);
            unsigned long long v = strtoull(at + strlen(keys[k]), NULL, 10);
            if (k < 2) {
                packets += v;
            } else {
                bytes += v;
            }
        }
        s = nl + 1;
    }
    assert_int_equal(packets, a.st.frames);
    assert_int_equal(bytes + 16 * packets + 24, a.pcap_len);
    /* every kind made flows */
    for (int k = 0; k < NS_SYNTH_KIND_COUNT; k++) {
        char needle[32];
        snprintf(needle, sizeof(needle), "\"kind\":\"%s\"", ns_synth_kind_name(k));
        assert_true(count_lines(a.truth, a.truth_len, needle) > 0);
    }
    /* the scan: ~200 probes */
    assert_int_equal(count_lines(a.truth, a.truth_len, "\"kind\":\"scan\""), 200);
    out_free(&a);
}

/* Each allocation fails in turn: NS_ENOMEM comes back, nothing leaks, then it succeeds. */
static void test_synth_alloc_failures(void **state)
{
    (void)state;
    int rc = NS_ENOMEM;
    unsigned n = 1;
    for (; rc == NS_ENOMEM && n < 500; n++) {
        struct out a = {0};
        ns_alloc_fail_at(n);
        gen(&a, 1, 0, NS_SYNTH_KIND_BIT(NS_SYNTH_HTTP) | NS_SYNTH_KIND_BIT(NS_SYNTH_FRAG), false);
        ns_alloc_fail_at(0);
        rc = a.rc;
        out_free(&a);
    }
    assert_int_equal(rc, 0);
    assert_true(n > 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synth_same_seed_same_bytes),
        cmocka_unit_test(test_synth_different_seeds_differ),
        cmocka_unit_test(test_synth_file_header),
        cmocka_unit_test(test_synth_records),
        cmocka_unit_test(test_synth_ipv4_checksums),
        cmocka_unit_test(test_synth_parse_kinds),
        cmocka_unit_test(test_synth_bad_mask),
        cmocka_unit_test(test_synth_size),
        cmocka_unit_test(test_synth_kinds_subset),
        cmocka_unit_test(test_synth_truth_totals),
        cmocka_unit_test(test_synth_truth_devices),
        cmocka_unit_test(test_synth_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
