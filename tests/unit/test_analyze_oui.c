/*
 * test_analyze_oui.c - MAC vendor lookup (netsift/oui.h): RFC 4180 quoting
 * (commas, doubled quotes and line breaks inside quoted fields), longest
 * prefix over 24 / 28 / 36-bit assignments, group and locally administered
 * addresses, malformed rows with their line numbers, every allocation
 * failing in turn, and the real IEEE registry from Debian's ieee-data
 * (skipped when /usr/share/ieee-data is absent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "netsift/alloc.h"
#include "netsift/oui.h"

/* A hand-written MA-L file: header, quoted names with commas and "" escapes, a name with a
 * line break in its quoted address, CRLF line ends, a blank line, a duplicate (first wins). */
static const char csv24[] =
    "Registry,Assignment,Organization Name,Organization Address\r\n"
    "MA-L,0003B1,\"ICU Medical, Inc.\",951 Calle Amanecer San Clemente CA US 92673 \r\n"
    "MA-L,000C29,\"VMware, Inc.\",\"3401 Hillview Avenue\nPalo Alto CA US 94304\"\r\n"
    "MA-L,ACDE48,\"The \"\"Quoted\"\" Corp\",Somewhere\r\n"
    "\r\n"
    "MA-L,70B3D5,IEEE Registration Authority,445 Hoes Lane\n"
    "MA-L,0003B1,Second Entry Loses,Nowhere\n";

static void test_oui_buffer_quoting(void **state)
{
    (void)state;
    struct ns_oui *o = NULL;
    struct ns_error err;
    assert_int_equal(ns_oui_load_buffer(&o, csv24, sizeof(csv24) - 1, 24, &err), 0);
    assert_int_equal(ns_oui_count(o), 5);

    static const uint8_t icu[6] = {0x00, 0x03, 0xb1, 0xb5, 0xb6, 0x48}; /* tapirx HL7 sender */
    static const uint8_t vmw[6] = {0x00, 0x0c, 0x29, 0x01, 0x02, 0x03};
    static const uint8_t quo[6] = {0xac, 0xde, 0x48, 0x00, 0x11, 0x22};
    static const uint8_t unknown[6] = {0x00, 0x03, 0xb2, 0x00, 0x00, 0x00};
    static const uint8_t group[6] = {0x01, 0x03, 0xb1, 0x00, 0x00, 0x01};
    static const uint8_t local[6] = {0x02, 0x03, 0xb1, 0x00, 0x00, 0x01};
    assert_string_equal(ns_oui_lookup(o, icu), "ICU Medical, Inc.");
    assert_string_equal(ns_oui_lookup(o, vmw), "VMware, Inc.");
    assert_string_equal(ns_oui_lookup(o, quo), "The \"Quoted\" Corp");
    assert_null(ns_oui_lookup(o, unknown));
    assert_null(ns_oui_lookup(o, group));
    assert_null(ns_oui_lookup(o, local));
    assert_null(ns_oui_lookup(NULL, icu));
    ns_oui_free(o);
}

static void test_oui_longest_prefix(void **state)
{
    (void)state;
    /* the same block as 24, 28 and 36-bit assignments in three files of one table is not
     * possible through the buffer API (one file, one size), so check each size alone */
    static const char csv28[] = "MA-M,70B3D5A,Twenty Eight Ltd,Addr\n";
    static const char csv36[] = "MA-S,70B3D5F2F,TELEPLATFORMS,\"Polbina st., 3/1 Moscow\"\n";
    struct ns_oui *o = NULL;
    struct ns_error err;
    static const uint8_t m28[6] = {0x70, 0xb3, 0xd5, 0xa1, 0x23, 0x45};
    static const uint8_t m36[6] = {0x70, 0xb3, 0xd5, 0xf2, 0xf1, 0x23};
    static const uint8_t m36_miss[6] = {0x70, 0xb3, 0xd5, 0xf2, 0xe1, 0x23};

    assert_int_equal(ns_oui_load_buffer(&o, csv28, sizeof(csv28) - 1, 28, &err), 0);
    assert_string_equal(ns_oui_lookup(o, m28), "Twenty Eight Ltd");
    assert_null(ns_oui_lookup(o, m36));
    ns_oui_free(o);

    assert_int_equal(ns_oui_load_buffer(&o, csv36, sizeof(csv36) - 1, 36, &err), 0);
    assert_string_equal(ns_oui_lookup(o, m36), "TELEPLATFORMS");
    assert_null(ns_oui_lookup(o, m36_miss));
    ns_oui_free(o);
}

static void test_oui_malformed(void **state)
{
    (void)state;
    struct ns_oui *o = NULL;
    struct ns_error err;
    static const char bad_hex[] = "Registry,Assignment,Organization Name,Organization Address\n"
                                  "MA-L,0003B1,Fine,x\n"
                                  "MA-L,00G3B1,Bad,x\n";
    assert_int_equal(ns_oui_load_buffer(&o, bad_hex, sizeof(bad_hex) - 1, 24, &err), NS_EMALFORMED);
    assert_null(o);
    assert_non_null(strstr(err.msg, "line 3"));
    assert_non_null(strstr(err.msg, "00G3B1"));

    static const char short_row[] = "MA-L,0003B1\n";
    assert_int_equal(ns_oui_load_buffer(&o, short_row, sizeof(short_row) - 1, 24, &err),
                     NS_EMALFORMED);
    assert_non_null(strstr(err.msg, "line 1"));

    static const char open_quote[] = "MA-L,0003B1,\"never ends,x\n";
    assert_int_equal(ns_oui_load_buffer(&o, open_quote, sizeof(open_quote) - 1, 24, &err),
                     NS_EMALFORMED);
    assert_non_null(strstr(err.msg, "quoted field never ends"));

    static const char wrong_size[] = "MA-L,0003B1,Six digits,x\n";
    assert_int_equal(ns_oui_load_buffer(&o, wrong_size, sizeof(wrong_size) - 1, 28, &err),
                     NS_EMALFORMED);
    assert_int_equal(ns_oui_load_buffer(&o, wrong_size, sizeof(wrong_size) - 1, 20, &err),
                     NS_EINVAL);

    /* empty input: an empty table */
    assert_int_equal(ns_oui_load_buffer(&o, "", 0, 24, &err), 0);
    assert_int_equal(ns_oui_count(o), 0);
    ns_oui_free(o);

    /* a long name is cut at 255 bytes, not at a UTF-8 continuation byte */
    char big[600];
    size_t n = (size_t)snprintf(big, sizeof(big), "MA-L,102233,");
    for (size_t i = 0; i < 126; i++) {
        big[n++] = 'a';
    }
    for (size_t i = 0; i < 100; i++) {
        big[n++] = (char)0xc3; /* U+00E9 */
        big[n++] = (char)0xa9;
    }
    big[n++] = '\n';
    static const uint8_t m[6] = {0x10, 0x22, 0x33, 0, 0, 0};
    assert_int_equal(ns_oui_load_buffer(&o, big, n, 24, &err), 0);
    const char *name = ns_oui_lookup(o, m);
    assert_non_null(name);
    /* 126 + 2 x 64 = 254 bytes: byte 255 would be half of an 'é' */
    assert_int_equal(strlen(name), 254);
    assert_int_equal((uint8_t)name[253], 0xa9);
    ns_oui_free(o);
}

static void test_oui_alloc_failures(void **state)
{
    (void)state;
    for (uint64_t n = 1; n < 64; n++) {
        struct ns_oui *o = NULL;
        struct ns_error err;
        ns_alloc_fail_at(n);
        int rc = ns_oui_load_buffer(&o, csv24, sizeof(csv24) - 1, 24, &err);
        ns_alloc_fail_at(0);
        if (rc == 0) {
            assert_int_equal(ns_oui_count(o), 5);
            ns_oui_free(o);
            break;
        }
        assert_int_equal(rc, NS_ENOMEM);
        assert_null(o);
    }
}

static void test_oui_ieee_data(void **state)
{
    (void)state;
    if (access(NS_OUI_DEFAULT_DIR "/oui.csv", R_OK) != 0) {
        fprintf(stderr, "skip: %s/oui.csv not present (Debian package ieee-data)\n",
                NS_OUI_DEFAULT_DIR);
        skip();
    }
    struct ns_oui *o = NULL;
    struct ns_error err;
    int rc = ns_oui_load(&o, NULL, &err);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err.msg);
    }
    assert_int_equal(rc, 0);
    assert_true(ns_oui_count(o) > 30000);
    static const uint8_t icu[6] = {0x00, 0x03, 0xb1, 0xb5, 0xb6, 0x48};
    static const uint8_t vmw[6] = {0x00, 0x0c, 0x29, 0xb5, 0xb6, 0x48};  /* HL7-ORM sender */
    static const uint8_t ma_s[6] = {0x70, 0xb3, 0xd5, 0xf2, 0xf0, 0x01}; /* oui36.csv row */
    assert_string_equal(ns_oui_lookup(o, icu), "ICU Medical, Inc.");
    assert_string_equal(ns_oui_lookup(o, vmw), "VMware, Inc.");
    assert_string_equal(ns_oui_lookup(o, ma_s), "TELEPLATFORMS");
    ns_oui_free(o);

    rc = ns_oui_load(&o, "/nonexistent-netsift-dir", &err);
    assert_int_equal(rc, NS_ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent-netsift-dir/oui.csv"));
    assert_null(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oui_buffer_quoting), cmocka_unit_test(test_oui_longest_prefix),
        cmocka_unit_test(test_oui_malformed),      cmocka_unit_test(test_oui_alloc_failures),
        cmocka_unit_test(test_oui_ieee_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
