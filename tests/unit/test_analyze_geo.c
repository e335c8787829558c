/*
 * test_analyze_geo.c - GeoIP lookups (netsift/geo.h) against MaxMind's own
 * test databases (maxmind/MaxMind-DB test-data, in NS_SHARED_DATA/mmdb),
 * with the answers their source JSON (the JSON files in source-data/) gives; the
 * deliberately broken search tree; scope classification of special-purpose
 * ranges (RFC 6890) without any database; the ISO 3166 table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "netsift/alloc.h"
#include "netsift/geo.h"

#define MMDB_DIR NS_SHARED_DATA "/mmdb"

static struct ns_addr addr(const char *s)
{
    struct ns_addr a;
    memset(&a, 0, sizeof(a));
    if (inet_pton(AF_INET, s, a.a) == 1) {
        a.family = 4;
    } else {
        assert_int_equal(inet_pton(AF_INET6, s, a.a), 1);
        a.family = 6;
    }
    return a;
}

static bool have_data(void)
{
    if (access(MMDB_DIR "/GeoIP2-Country-Test.mmdb", R_OK) != 0) {
        fprintf(stderr, "skip: %s not present\n", MMDB_DIR);
        return false;
    }
    return true;
}

static struct ns_geo *open_files(const char *const *files, size_t n)
{
    struct ns_geo *g = NULL;
    struct ns_error err;
    char path[512];
    assert_int_equal(ns_geo_new(&g), 0);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", MMDB_DIR, files[i]);
        int rc = ns_geo_open(g, path, &err);
        if (rc != 0) {
            fprintf(stderr, "%s\n", err.msg);
        }
        assert_int_equal(rc, 0);
    }
    assert_int_equal(ns_geo_count(g), n);
    return g;
}

static void test_geo_country(void **state)
{
    (void)state;
    if (!have_data()) {
        skip();
    }
    static const char *const files[] = {"GeoIP2-Country-Test.mmdb"};
    struct ns_geo *g = open_files(files, 1);
    static const struct {
        const char *ip;
        const char *cc;
        const char *name;
    } cases[] = {
        {"81.2.69.160", "GB", "United Kingdom"}, {"2.125.160.216", "GB", "United Kingdom"},
        {"89.160.20.112", "SE", "Sweden"},       {"216.160.83.56", "US", "United States"},
        {"2001:218::1", "JP", "Japan"},          {"202.196.224.1", "PH", "Philippines"},
        {"175.16.199.1", "CN", "China"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ns_geo_result r;
        struct ns_addr a = addr(cases[i].ip);
        assert_int_equal(ns_geo_lookup(g, &a, &r), 0);
        assert_int_equal(r.scope, NS_GEO_PUBLIC);
        assert_true(r.found);
        assert_string_equal(r.country_code, cases[i].cc);
        assert_string_equal(r.country_name, cases[i].name);
        assert_string_equal(r.city, "");
        assert_int_equal(r.asn, 0);
    }
    /* not in the test database */
    struct ns_geo_result r;
    struct ns_addr a = addr("1.1.1.1");
    assert_int_equal(ns_geo_lookup(g, &a, &r), 0);
    assert_false(r.found);
    assert_string_equal(r.country_code, "");
    ns_geo_free(g);
}

static void test_geo_city_asn_together(void **state)
{
    (void)state;
    if (!have_data()) {
        skip();
    }
    static const char *const files[] = {"GeoIP2-City-Test.mmdb", "GeoLite2-ASN-Test.mmdb"};
    struct ns_geo *g = open_files(files, 2);
    struct ns_geo_result r;

    struct ns_addr a = addr("81.2.69.160");
    assert_int_equal(ns_geo_lookup(g, &a, &r), 0);
    assert_string_equal(r.country_code, "GB");
    assert_string_equal(r.city, "London");
    assert_true(r.has_location);
    /* source-data/GeoIP2-City-Test.json: ::81.2.69.160/123 latitude 51.5142, longitude -0.0931 */
    assert_true(r.latitude > 51.51419 && r.latitude < 51.51421);
    assert_true(r.longitude > -0.09311 && r.longitude < -0.09309);
    assert_int_equal(r.asn, 0);

    a = addr("1.128.0.0");
    assert_int_equal(ns_geo_lookup(g, &a, &r), 0);
    assert_true(r.found);
    assert_int_equal(r.asn, 1221);
    assert_string_equal(r.as_org, "Telstra Pty Ltd");

    a = addr("12.81.92.0");
    assert_int_equal(ns_geo_lookup(g, &a, &r), 0);
    assert_int_equal(r.asn, 7018);
    assert_string_equal(r.as_org, "AT&T Services");

    a = addr("2600:6000::1");
    assert_int_equal(ns_geo_lookup(g, &a, &r), 0);
    assert_int_equal(r.asn, 237);
    assert_string_equal(r.as_org, "Merit Network Inc.");
    ns_geo_free(g);
}

static void test_geo_broken_tree(void **state)
{
    (void)state;
    if (!have_data()) {
        skip();
    }
    struct ns_geo *g = NULL;
    struct ns_error err;
    assert_int_equal(ns_geo_new(&g), 0);
    int rc = ns_geo_open(g, MMDB_DIR "/MaxMind-DB-test-broken-search-tree-24.mmdb", &err);
    assert_int_equal(rc, NS_EMALFORMED);
    assert_non_null(strstr(err.msg, "MaxMind-DB-test-broken-search-tree-24.mmdb"));
    assert_non_null(strstr(err.msg, "corrupt search tree"));
    assert_int_equal(ns_geo_count(g), 0);

    /* not an MMDB file at all: a capture */
    rc = ns_geo_open(g, NS_SHARED_DATA "/pcap/hl7/HL7-ORM.pcap", &err);
    assert_int_equal(rc, NS_EMALFORMED);
    assert_non_null(strstr(err.msg, "HL7-ORM.pcap"));

    rc = ns_geo_open(g, MMDB_DIR "/no-such-file.mmdb", &err);
    assert_int_equal(rc, NS_ENOENT);
    assert_non_null(strstr(err.msg, "no-such-file.mmdb"));

    /* the good files of the same directory still open */
    rc = ns_geo_open(g, MMDB_DIR "/GeoLite2-Country-Test.mmdb", &err);
    assert_int_equal(rc, 0);
    ns_geo_free(g);
}

static void test_geo_private_never_looked_up(void **state)
{
    (void)state;
    static const struct {
        const char *ip;
        enum ns_geo_scope scope;
    } cases[] = {
        {"10.1.2.3", NS_GEO_PRIVATE},
        {"172.16.0.1", NS_GEO_PRIVATE},
        {"172.31.255.255", NS_GEO_PRIVATE},
        {"172.32.0.1", NS_GEO_PUBLIC},
        {"192.168.1.1", NS_GEO_PRIVATE},
        {"127.0.0.1", NS_GEO_LOOPBACK},
        {"169.254.3.4", NS_GEO_LINK_LOCAL},
        {"224.0.0.251", NS_GEO_MULTICAST},
        {"239.255.255.250", NS_GEO_MULTICAST},
        {"100.64.0.1", NS_GEO_CGNAT},
        {"100.127.255.255", NS_GEO_CGNAT},
        {"100.128.0.1", NS_GEO_PUBLIC},
        {"192.0.2.7", NS_GEO_DOCUMENTATION},
        {"198.51.100.7", NS_GEO_DOCUMENTATION},
        {"203.0.113.7", NS_GEO_DOCUMENTATION},
        {"0.0.0.0", NS_GEO_UNSPECIFIED},
        {"255.255.255.255", NS_GEO_BROADCAST},
        {"240.0.0.1", NS_GEO_RESERVED},
        {"8.8.8.8", NS_GEO_PUBLIC},
        {"::", NS_GEO_UNSPECIFIED},
        {"::1", NS_GEO_LOOPBACK},
        {"fe80::1", NS_GEO_LINK_LOCAL},
        {"fd00::1", NS_GEO_PRIVATE},
        {"ff02::1", NS_GEO_MULTICAST},
        {"2001:db8::1", NS_GEO_DOCUMENTATION},
        {"::ffff:10.0.0.1", NS_GEO_PRIVATE},
        {"::ffff:81.2.69.160", NS_GEO_PUBLIC},
        {"2001:218::1", NS_GEO_PUBLIC},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ns_addr a = addr(cases[i].ip);
        assert_int_equal(ns_geo_classify(&a), cases[i].scope);
    }
    assert_string_equal(ns_geo_scope_name(NS_GEO_PRIVATE), "private");
    assert_string_equal(ns_geo_scope_name(NS_GEO_LINK_LOCAL), "link_local");
    assert_string_equal(ns_geo_scope_name(NS_GEO_CGNAT), "cgnat");

    if (!have_data()) {
        return;
    }
    /* with a database open: a private address is labelled and not looked up */
    static const char *const files[] = {"GeoIP2-Country-Test.mmdb"};
    struct ns_geo *g = open_files(files, 1);
    struct ns_geo_result r;
    struct ns_addr a = addr("192.168.0.1");
    assert_int_equal(ns_geo_lookup(g, &a, &r), 0);
    assert_int_equal(r.scope, NS_GEO_PRIVATE);
    assert_false(r.found);
    assert_string_equal(r.country_code, "");
    a = addr("::ffff:81.2.69.160"); /* mapped: looked up as IPv4 */
    assert_int_equal(ns_geo_lookup(g, &a, &r), 0);
    assert_string_equal(r.country_code, "GB");
    ns_geo_free(g);

    /* no database: classification only */
    a = addr("81.2.69.160");
    assert_int_equal(ns_geo_lookup(NULL, &a, &r), 0);
    assert_int_equal(r.scope, NS_GEO_PUBLIC);
    assert_false(r.found);
}

static void test_geo_open_dir_and_countries(void **state)
{
    (void)state;
    assert_string_equal(ns_geo_country_name("GB"), "United Kingdom");
    assert_string_equal(ns_geo_country_name("jp"), "Japan");
    assert_string_equal(ns_geo_country_iso3("GB"), "GBR");
    assert_string_equal(ns_geo_country_iso3("US"), "USA");
    assert_string_equal(ns_geo_country_iso3("XK"), "XKX");
    assert_null(ns_geo_country_name("QQ"));
    assert_null(ns_geo_country_name("GBR"));
    assert_null(ns_geo_country_name(NULL));

    struct ns_geo *g = NULL;
    struct ns_error err;
    size_t opened = 7;
    assert_int_equal(ns_geo_new(&g), 0);
    assert_int_equal(ns_geo_open_dir(g, "/nonexistent-netsift-dir", &opened, &err), 0);
    assert_int_equal(opened, 0);
    if (have_data()) {
        /* the shared directory has 10 .mmdb files: more than NS_GEO_MAX_FILES */
        assert_int_equal(ns_geo_open_dir(g, MMDB_DIR, &opened, &err), NS_ELIMIT);
        assert_int_equal(ns_geo_count(g), 0);

        /* a directory with a good file and the broken one: both sorted, the broken one fails */
        char dir[] = "/tmp/ns_geo_test_XXXXXX";
        char l1[64];
        char l2[64];
        assert_non_null(mkdtemp(dir));
        snprintf(l1, sizeof(l1), "%s/a-country.mmdb", dir);
        snprintf(l2, sizeof(l2), "%s/b-broken.mmdb", dir);
        assert_int_equal(symlink(MMDB_DIR "/GeoIP2-Country-Test.mmdb", l1), 0);
        assert_int_equal(ns_geo_open_dir(g, dir, &opened, &err), 0);
        assert_int_equal(opened, 1);
        assert_string_equal(ns_geo_path(g, 0), l1);
        assert_int_equal(symlink(MMDB_DIR "/MaxMind-DB-test-broken-search-tree-24.mmdb", l2), 0);
        int rc = ns_geo_open_dir(g, dir, &opened, &err);
        assert_int_equal(rc, NS_EMALFORMED);
        assert_non_null(strstr(err.msg, "b-broken.mmdb"));
        unlink(l1);
        unlink(l2);
        rmdir(dir);
    }
    ns_geo_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geo_country),
        cmocka_unit_test(test_geo_city_asn_together),
        cmocka_unit_test(test_geo_broken_tree),
        cmocka_unit_test(test_geo_private_never_looked_up),
        cmocka_unit_test(test_geo_open_dir_and_countries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
