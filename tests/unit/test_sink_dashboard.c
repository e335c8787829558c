/*
 * test_sink_dashboard.c - the HTML page of `netsift hosts --html`
 * (dashboard.h, src/lib/sink/sink_dashboard.c).
 *
 * Pages are written to memory and checked exactly: the records array with
 * '<', '>' and '&' escaped (a record holding "</script>" stays inside its
 * JSON element), the title escaped, every embedded library present byte for
 * byte, exactly one opening and closing tag per script element, no template
 * directive left, bad records refused before anything is written.
 *
 * With NS_DASHBOARD_OUT set in the environment the binary runs no test:
 * it reads JSON Lines from the file named by its first argument and writes
 * the page to $NS_DASHBOARD_OUT (tests/e2e/test_hosts_html.sh uses this to
 * open pages in a browser until `netsift hosts --html` exists).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netsift/dashboard.h"
#include "netsift/err.h"
#include "sink/sink_dashboard_int.h"

/* ---- helpers ---- */

struct page {
    char *buf;
    size_t len;
};

/* Write a page to memory; returns the code of ns_dashboard_write(). */
static int render(struct page *pg, const char *title, const char *rec, size_t len,
                  struct ns_error *err)
{
    FILE *fp = open_memstream(&pg->buf, &pg->len);
    assert_non_null(fp);
    int rc = ns_dashboard_write(fp, title, rec, len, err);
    assert_int_equal(fclose(fp), 0);
    return rc;
}

static void page_free(struct page *pg)
{
    free(pg->buf);
    pg->buf = NULL;
}

static size_t count(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    size_t c = 0;
    const char *p = hay;
    const char *end = hay + n;

    while (p < end) {
        const char *q = memmem(p, (size_t)(end - p), needle, m);
        if (q == NULL) {
            break;
        }
        c++;
        p = q + m;
    }
    return c;
}

/*
 * The text of the element opened by `open` up to the next "</script>",
 * NUL-terminated in a fresh buffer (the caller frees it), or NULL.
 */
static char *element_text(const struct page *pg, const char *open)
{
    const char *s = memmem(pg->buf, pg->len, open, strlen(open));
    if (s == NULL) {
        return NULL;
    }
    s += strlen(open);
    const char *e = memmem(s, pg->len - (size_t)(s - pg->buf), "</script>", 9);
    if (e == NULL) {
        return NULL;
    }
    char *out = malloc((size_t)(e - s) + 1);
    assert_non_null(out);
    memcpy(out, s, (size_t)(e - s));
    out[e - s] = '\0';
    return out;
}

static void expect_data(const struct page *pg, const char *want)
{
    char *got = element_text(pg, "<script type=\"application/json\" id=\"ns-data\">");
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* ---- tests ---- */

static void test_empty_page_structure(void **state)
{
    struct page pg;
    (void)state;

    assert_int_equal(render(&pg, NULL, NULL, 0, NULL), 0);
    assert_true(pg.len > 100);
    assert_memory_equal(pg.buf, "<!DOCTYPE html>\n", 16);
    assert_string_equal(pg.buf + pg.len - 8, "</html>\n");
    expect_data(&pg, "[]");
    assert_int_equal(count(pg.buf, pg.len, "<title>netsift hosts</title>"), 1);
    assert_int_equal(count(pg.buf, pg.len, "<h1>netsift hosts</h1>"), 1);
    /* 1 data + 2 JSON assets + 4 scripts, each opened and closed once */
    assert_int_equal(count(pg.buf, pg.len, "<script"), 7);
    assert_int_equal(count(pg.buf, pg.len, "</script>"), 7);
    assert_int_equal(count(pg.buf, pg.len, "<style>"), 1);
    assert_int_equal(count(pg.buf, pg.len, "</style>"), 1);
    assert_int_equal(count(pg.buf, pg.len, "<!--ns:"), 0);
    /* every section the script fills */
    static const char *const ids[] = {"id=\"summary\"",  "id=\"map\"",        "id=\"legend\"",
                                      "id=\"nonmap\"",   "id=\"bars-bytes\"", "id=\"bars-hosts\"",
                                      "id=\"os-table\"", "id=\"alerts\"",     "id=\"talkers\"",
                                      "id=\"ns-atlas\"", "id=\"ns-iso\""};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        assert_int_equal(count(pg.buf, pg.len, ids[i]), 1);
    }
    /* nothing fetched at view time: no src= or href= to anywhere */
    assert_int_equal(count(pg.buf, pg.len, " src="), 0);
    assert_int_equal(count(pg.buf, pg.len, "<link"), 0);
    /* the page stays small (docs/cli/hosts.md promises under 1.5 MB) */
    assert_true(pg.len < 1500000);
    page_free(&pg);
}

static void test_libraries_inlined(void **state)
{
    struct page pg;
    (void)state;
    static const char *const js[] = {"d3-array.min.js", "d3-geo.min.js", "topojson-client.min.js",
                                     "dashboard.js"};

    assert_int_equal(render(&pg, NULL, NULL, 0, NULL), 0);
    for (size_t i = 0; i < sizeof js / sizeof js[0]; i++) {
        const struct ns__embed_file *f = ns__dashboard_asset(js[i]);
        assert_non_null(f);
        assert_true(f->len > 1000);
        assert_int_equal(f->data[f->len], 0);
        /* "<script>\n" + the file byte for byte + "\n</script>" */
        size_t n = f->len + 19;
        char *want = malloc(n + 1);
        assert_non_null(want);
        memcpy(want, "<script>\n", 9);
        memcpy(want + 9, f->data, f->len);
        memcpy(want + 9 + f->len, "\n</script>", 10);
        want[n] = '\0';
        assert_non_null(memmem(pg.buf, pg.len, want, n));
        free(want);
    }
    /* the libraries are the real ones: the calls dashboard.js makes */
    assert_true(count(pg.buf, pg.len, "geoNaturalEarth1") >= 2);
    assert_true(count(pg.buf, pg.len, "geoPath") >= 2);
    assert_true(count(pg.buf, pg.len, "topojson") >= 2);
    /* the world outlines (TopoJSON) and the ISO table, parsed as JSON by the page */
    char *atlas = element_text(&pg, "<script type=\"application/json\" id=\"ns-atlas\">");
    assert_non_null(atlas);
    assert_memory_equal(atlas, "{\"type\":\"Topology\"", 18);
    assert_non_null(strstr(atlas, "\"countries\":{\"type\":\"GeometryCollection\""));
    free(atlas);
    char *iso = element_text(&pg, "<script type=\"application/json\" id=\"ns-iso\">");
    assert_non_null(iso);
    assert_non_null(strstr(iso, "[\"DE\", \"DEU\", \"276\""));
    assert_non_null(strstr(iso, "[\"US\", \"USA\", \"840\""));
    free(iso);
    page_free(&pg);
}

static void test_records_array(void **state)
{
    struct page pg;
    /* LF, CRLF, a blank line, surrounding blanks and no final line end */
    static const char rec[] = "{\"type\":\"host\",\"addr\":\"10.0.0.1\"}\n"
                              "\r\n"
                              "  {\"type\":\"country\",\"country_code\":\"DE\"}\r\n"
                              "\n"
                              "{\"type\":\"alert\",\"kind\":\"syn_flood\"}";
    (void)state;

    assert_int_equal(render(&pg, "t", rec, sizeof rec - 1, NULL), 0);
    expect_data(&pg, "[{\"type\":\"host\",\"addr\":\"10.0.0.1\"},\n"
                     "{\"type\":\"country\",\"country_code\":\"DE\"},\n"
                     "{\"type\":\"alert\",\"kind\":\"syn_flood\"}]");
    page_free(&pg);
}

static void test_script_breakout_escaped(void **state)
{
    struct page pg;
    /* a host name and an evidence field an attacker could choose */
    static const char rec[] =
        "{\"type\":\"host\",\"addr\":\"</script><script>alert(1)</script>\"}\n"
        "{\"type\":\"alert\",\"note\":\"<!-- a & b > c </SCRIPT \"}\n";
    (void)state;

    assert_int_equal(render(&pg, NULL, rec, sizeof rec - 1, NULL), 0);
    expect_data(&pg, "[{\"type\":\"host\",\"addr\":\"\\u003c/script\\u003e\\u003cscript\\u003e"
                     "alert(1)\\u003c/script\\u003e\"},\n"
                     "{\"type\":\"alert\",\"note\":\"\\u003c!-- a \\u0026 b \\u003e c "
                     "\\u003c/SCRIPT \"}]");
    /* still exactly seven script elements: nothing broke out */
    assert_int_equal(count(pg.buf, pg.len, "<script"), 7);
    assert_int_equal(count(pg.buf, pg.len, "</script>"), 7);
    assert_int_equal(count(pg.buf, pg.len, "alert(1)</script>"), 0);
    page_free(&pg);
}

static void test_title_escaped(void **state)
{
    struct page pg;
    (void)state;

    assert_int_equal(render(&pg, "a<b>&\"c'", NULL, 0, NULL), 0);
    assert_int_equal(count(pg.buf, pg.len, "<title>a&lt;b&gt;&amp;&quot;c&#39;</title>"), 1);
    assert_int_equal(count(pg.buf, pg.len, "<h1>a&lt;b&gt;&amp;&quot;c&#39;</h1>"), 1);
    assert_int_equal(count(pg.buf, pg.len, "a<b>"), 0);
    page_free(&pg);
}

static void test_malformed_refused(void **state)
{
    struct page pg;
    struct ns_error err;
    static const char bad_json[] = "{\"type\":\"host\"}\n{\"type\":\n";
    static const char not_object[] = "{\"a\":1}\n\n[1,2]\n";
    static const char nul_byte[] = "{\"a\":\"x\0y\"}\n";
    (void)state;

    assert_int_equal(render(&pg, NULL, bad_json, sizeof bad_json - 1, &err), NS_EMALFORMED);
    assert_int_equal(err.code, NS_EMALFORMED);
    assert_memory_equal(err.msg, "dashboard: record line 2: ", 26);
    assert_int_equal(pg.len, 0);
    page_free(&pg);

    assert_int_equal(render(&pg, NULL, not_object, sizeof not_object - 1, &err), NS_EMALFORMED);
    assert_string_equal(err.msg, "dashboard: record line 3 is not a JSON object");
    assert_int_equal(pg.len, 0);
    page_free(&pg);

    assert_int_equal(render(&pg, NULL, nul_byte, sizeof nul_byte - 1, &err), NS_EMALFORMED);
    assert_memory_equal(err.msg, "dashboard: record line 1: ", 26);
    assert_int_equal(pg.len, 0);
    page_free(&pg);
}

static void test_bad_arguments_and_io(void **state)
{
    struct ns_error err;
    (void)state;

    assert_int_equal(ns_dashboard_write(NULL, NULL, NULL, 0, &err), NS_EINVAL);
    assert_int_equal(ns_dashboard_write(stdout, NULL, NULL, 5, &err), NS_EINVAL);
    /* a stream that cannot be written */
    FILE *ro = fopen("/dev/null", "r");
    assert_non_null(ro);
    assert_int_equal(ns_dashboard_write(ro, NULL, "{}", 2, &err), NS_EIO);
    assert_string_equal(err.msg, "dashboard: write failed");
    assert_int_equal(fclose(ro), 0);
}

/* ---- NS_DASHBOARD_OUT: write a page from a JSON Lines file ---- */

static int write_page_from_file(const char *in_path, const char *out_path)
{
    FILE *in = fopen(in_path, "rb");
    FILE *out = NULL;
    char *rec = NULL;
    size_t len = 0;
    size_t cap = 0;
    int status = 1;
    struct ns_error err = {0};

    if (in == NULL) {
        fprintf(stderr, "test_sink_dashboard: cannot open '%s'\n", in_path);
        return 1;
    }
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            char *grown = realloc(rec, cap);
            if (grown == NULL) {
                goto out;
            }
            rec = grown;
        }
        size_t got = fread(rec + len, 1, cap - len, in);
        len += got;
        if (got == 0) {
            break;
        }
    }
    out = fopen(out_path, "wb");
    if (out == NULL) {
        fprintf(stderr, "test_sink_dashboard: cannot create '%s'\n", out_path);
        goto out;
    }
    if (ns_dashboard_write(out, getenv("NS_DASHBOARD_TITLE"), rec, len, &err) != 0) {
        fprintf(stderr, "test_sink_dashboard: %s\n", err.msg);
        goto out;
    }
    status = 0;
out:
    if (out != NULL && fclose(out) != 0) {
        status = 1;
    }
    fclose(in);
    free(rec);
    return status;
}

int main(int argc, char **argv)
{
    const char *out = getenv("NS_DASHBOARD_OUT");

    if (out != NULL && out[0] != '\0') {
        if (argc != 2) {
            fprintf(stderr, "usage: NS_DASHBOARD_OUT=page.html %s records.jsonl\n", argv[0]);
            return 2;
        }
        return write_page_from_file(argv[1], out);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_page_structure), cmocka_unit_test(test_libraries_inlined),
        cmocka_unit_test(test_records_array),        cmocka_unit_test(test_script_breakout_escaped),
        cmocka_unit_test(test_title_escaped),        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_bad_arguments_and_io),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
