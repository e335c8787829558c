/*
 * test_jsonw.c - the streaming JSON writer (jsonw.h), with jansson as the
 * oracle: everything written must parse back to the values given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "netsift/err.h"
#include "netsift/jsonw.h"

static void test_jsonw_members(void **state)
{
    (void)state;
    char buf[512];
    struct ns_jsonw w;
    size_t n = 0;
    ns_jsonw_begin(&w, buf, sizeof(buf));
    ns_jsonw_cstr(&w, "type", "flow");
    ns_jsonw_u64(&w, "big", UINT64_MAX);
    ns_jsonw_u64(&w, "zero", 0);
    ns_jsonw_i64(&w, "neg", INT64_MIN);
    ns_jsonw_bool(&w, "t", true);
    ns_jsonw_null(&w, "n");
    ns_jsonw_obj_begin(&w, "o");
    ns_jsonw_u64(&w, "a", 1);
    ns_jsonw_arr_begin(&w, "arr");
    ns_jsonw_cstr(&w, NULL, "x");
    ns_jsonw_u64(&w, NULL, 2);
    ns_jsonw_arr_end(&w);
    ns_jsonw_obj_end(&w);
    ns_jsonw_arr_begin(&w, "empty");
    ns_jsonw_arr_end(&w);
    assert_int_equal(ns_jsonw_end(&w, &n), 0);
    buf[n] = '\0';
    assert_string_equal(buf, "{\"type\":\"flow\",\"big\":18446744073709551615,\"zero\":0,"
                             "\"neg\":-9223372036854775808,\"t\":true,\"n\":null,"
                             "\"o\":{\"a\":1,\"arr\":[\"x\",2]},\"empty\":[]}\n");
}

static void test_jsonw_escapes(void **state)
{
    (void)state;
    /* quote, backslash, newline, tab, 0x01, 0x7f (no escape needed), é (valid UTF-8) */
    static const char in[] = "a\"b\\c\nd\te\x01"
                             "f\x7f"
                             "\xc3\xa9";
    char buf[256];
    struct ns_jsonw w;
    size_t n = 0;
    ns_jsonw_begin(&w, buf, sizeof(buf));
    ns_jsonw_str(&w, "s", in, sizeof(in) - 1);
    assert_int_equal(ns_jsonw_end(&w, &n), 0);
    buf[n] = '\0';
    assert_string_equal(buf, "{\"s\":\"a\\\"b\\\\c\\nd\\te\\u0001f\x7f\xc3\xa9\"}\n");
    json_error_t e;
    json_t *o = json_loads(buf, 0, &e);
    assert_non_null(o);
    assert_int_equal(json_string_length(json_object_get(o, "s")), sizeof(in) - 1);
    assert_memory_equal(json_string_value(json_object_get(o, "s")), in, sizeof(in) - 1);
    json_decref(o);
}

static void test_jsonw_bad_utf8_replaced(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"\xff", 1, "\\ufffd"},                                  /* never valid */
        {"\xc0\xaf", 2, "\\ufffd\\ufffd"},                       /* overlong '/' */
        {"\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd"},            /* surrogate U+D800 */
        {"\xe2\x82", 2, "\\ufffd\\ufffd"},                       /* cut 3-byte sequence */
        {"\xf4\x90\x80\x80", 4, "\\ufffd\\ufffd\\ufffd\\ufffd"}, /* past U+10FFFF */
        {"\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80"},             /* U+1F600, valid */
        {"\x00", 1, "\\u0000"},                                  /* NUL inside a counted string */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[128];
        char want[128];
        struct ns_jsonw w;
        size_t n = 0;
        ns_jsonw_begin(&w, buf, sizeof(buf));
        ns_jsonw_str(&w, "s", cases[i].in, cases[i].len);
        assert_int_equal(ns_jsonw_end(&w, &n), 0);
        buf[n] = '\0';
        snprintf(want, sizeof(want), "{\"s\":\"%s\"}\n", cases[i].out);
        assert_string_equal(buf, want);
        json_error_t e;
        json_t *o = json_loads(buf, JSON_ALLOW_NUL, &e);
        assert_non_null(o);
        json_decref(o);
    }
}

static void test_jsonw_overflow_is_sticky(void **state)
{
    (void)state;
    char buf[64];
    for (size_t cap = 0; cap < 40; cap++) {
        struct ns_jsonw w;
        size_t n = 0;
        ns_jsonw_begin(&w, buf, cap);
        ns_jsonw_cstr(&w, "key", "a value that is long");
        ns_jsonw_u64(&w, "n", 12345);
        int rc = ns_jsonw_end(&w, &n);
        /* {"key":"a value that is long","n":12345}\n is 41 bytes */
        assert_int_equal(rc, NS_ELIMIT);
        assert_true(w.len <= cap);
    }
    struct ns_jsonw w;
    size_t n = 0;
    ns_jsonw_begin(&w, buf, 41);
    ns_jsonw_cstr(&w, "key", "a value that is long");
    ns_jsonw_u64(&w, "n", 12345);
    assert_int_equal(ns_jsonw_end(&w, &n), 0);
    assert_int_equal(n, 41);
}

static void test_jsonw_unbalanced(void **state)
{
    (void)state;
    char buf[64];
    struct ns_jsonw w;
    ns_jsonw_begin(&w, buf, sizeof(buf));
    ns_jsonw_obj_begin(&w, "o");
    assert_int_equal(ns_jsonw_end(&w, NULL), NS_ELIMIT);
    ns_jsonw_begin(&w, buf, sizeof(buf));
    ns_jsonw_obj_end(&w);
    assert_int_equal(ns_jsonw_end(&w, NULL), NS_ELIMIT);
    ns_jsonw_begin(&w, buf, sizeof(buf));
    for (int i = 0; i <= NS_JSONW_MAX_DEPTH; i++) {
        ns_jsonw_arr_begin(&w, i == 0 ? "a" : NULL);
    }
    assert_int_equal(ns_jsonw_end(&w, NULL), NS_ELIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonw_members),
        cmocka_unit_test(test_jsonw_escapes),
        cmocka_unit_test(test_jsonw_bad_utf8_replaced),
        cmocka_unit_test(test_jsonw_overflow_is_sticky),
        cmocka_unit_test(test_jsonw_unbalanced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
