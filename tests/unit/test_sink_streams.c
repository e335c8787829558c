/*
 * test_sink_streams.c - the streams sink (include/netsift/streams.h): file
 * names from tcpflow's template codes, -F letters, the descriptor cache
 * (max_fds 2 with 5 streams), gaps filled or split at max_gap, the -b cap,
 * console mode, UDP files, and the DFXML and JSON Lines reports. The
 * writer thread: many streams interleaved through a tiny queue and two
 * descriptors (files, digests, times and record order as fed), the same
 * with no files (digests only), descriptors run out (EMFILE) while closes
 * wait in the queue, and a write error from the writer reported once.
 *
 * The sink is driven through the reassembler's callbacks with hand-made
 * flows and connections, so each test knows every byte it expects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netsift/alloc.h"
#include "netsift/streams.h"

/* --- helpers --- */

static void make_tmpdir(char *buf, size_t size)
{
    snprintf(buf, size, "%s/ns-streams-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(buf));
}

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char p[4096];
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                rm_rf(p);
            } else {
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(path);
}

/* Whole file into a static buffer; returns its length or -1. */
static long slurp(const char *dir, const char *name, char *buf, size_t size)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *fp = fopen(p, "rb");
    if (fp == NULL) {
        return -1;
    }
    size_t n = fread(buf, 1, size - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return (long)n;
}

static bool exists(const char *dir, const char *name)
{
    char p[4096];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

/* A TCP (or UDP) flow 10.0.0.1:sport -> 10.0.0.2:dport, initiator on the lo side. */
static void make_flow(struct ns_flow *f, uint8_t proto, uint16_t sport, uint16_t dport,
                      uint16_t vlan)
{
    memset(f, 0, sizeof(*f));
    f->key.ipver = 4;
    f->key.proto = proto;
    f->key.vlan = vlan;
    f->key.lo[0] = 10;
    f->key.lo[3] = 1;
    f->key.hi[0] = 10;
    f->key.hi[3] = 2;
    f->key.lo_port = sport;
    f->key.hi_port = dport;
    f->src_is_lo = true;
    f->first_ns = 1709251200000000000ULL; /* 2024-03-01T00:00:00Z */
    f->last_ns = f->first_ns;
}

static void make_conn(struct ns_tcp_conn *c, const struct ns_flow *f)
{
    memset(c, 0, sizeof(*c));
    c->flow = f;
}

static void hex_digest(const char *md, const void *p, size_t n, char *out)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(p, n, d, &len, EVP_get_digestbyname(md), NULL);
    for (unsigned i = 0; i < len; i++) {
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
}

/* --- names --- */

static void test_name_default_ipv4(void **state)
{
    (void)state;
    struct ns_streams_name n;
    char buf[256];
    memset(&n, 0, sizeof(n));
    n.src.family = 4;
    memcpy(n.src.a, (uint8_t[]){128, 129, 130, 131}, 4);
    n.dst.family = 4;
    memcpy(n.dst.a, (uint8_t[]){10, 11, 12, 13}, 4);
    n.sport = 2345;
    n.dport = 45103;
    assert_int_equal(ns_streams_format_name(buf, sizeof(buf), NS_STREAMS_DEFAULT_TEMPLATE, &n), 0);
    assert_string_equal(buf, "128.129.130.131.02345-010.011.012.013.45103");
    n.vlan = 3;
    n.count = 5;
    assert_int_equal(ns_streams_format_name(buf, sizeof(buf), NS_STREAMS_DEFAULT_TEMPLATE, &n), 0);
    assert_string_equal(buf, "128.129.130.131.02345-010.011.012.013.45103--3c5");
}

static void test_name_ipv6(void **state)
{
    (void)state;
    struct ns_streams_name n;
    char buf[256];
    memset(&n, 0, sizeof(n));
    n.src.family = 6;
    n.src.a[0] = 0x20;
    n.src.a[1] = 0x01;
    n.src.a[2] = 0x0d;
    n.src.a[3] = 0xb8;
    n.src.a[15] = 0x80;
    n.dst.family = 6;
    n.dst.a[0] = 0x20;
    n.dst.a[1] = 0x01;
    n.dst.a[2] = 0x0d;
    n.dst.a[3] = 0xb8;
    n.dst.a[14] = 0x10;
    n.dst.a[15] = 0x1f;
    n.sport = 80;
    n.dport = 57740;
    assert_int_equal(ns_streams_format_name(buf, sizeof(buf), NS_STREAMS_DEFAULT_TEMPLATE, &n), 0);
    assert_string_equal(buf, "2001:db8::80.00080-2001:db8::101f.57740");
}

static void test_name_codes(void **state)
{
    (void)state;
    struct ns_streams_name n;
    char buf[256];
    memset(&n, 0, sizeof(n));
    n.src.family = 4;
    n.src.a[0] = 1;
    n.dst.family = 4;
    n.dst.a[3] = 2;
    n.sport = 1;
    n.dport = 65535;
    n.ts_ns = 1361916250782158000ULL; /* 2013-02-26T22:04:10.782158Z */
    n.conn_index = 1234567;
    n.count = 0;
    assert_int_equal(
        ns_streams_format_name(buf, sizeof(buf), "%A/%a/%B/%b/%C%c_%#_%N_%K_%M_%G_%t_%T%V%v%%", &n),
        0);
    assert_string_equal(buf, "001.000.000.000/00001/000.000.000.002/65535/_0_567_234_001_000_"
                             "1361916250_2013-02-26T22:04:10Z%");
    n.vlan = 100;
    n.count = 2;
    assert_int_equal(ns_streams_format_name(buf, sizeof(buf), "x%V%v%C%c%#", &n), 0);
    assert_string_equal(buf, "x--100c22");
    assert_int_equal(ns_streams_format_name(buf, sizeof(buf), "bad%q", &n), NS_EINVAL);
    assert_int_equal(ns_streams_format_name(buf, sizeof(buf), "end%", &n), NS_EINVAL);
    assert_int_equal(ns_streams_format_name(buf, 8, "%A", &n), NS_ELIMIT);
    assert_int_equal(ns_streams_format_name(buf, 16, "%A", &n), 0);
    assert_string_equal(buf, "001.000.000.000");
    assert_int_equal(ns_streams_format_name(buf, 15, "%A", &n), NS_ELIMIT);
}

static void test_template_flags(void **state)
{
    (void)state;
    char buf[128];
    assert_int_equal(ns_streams_template_from_flags(buf, sizeof(buf), ""), 0);
    assert_string_equal(buf, NS_STREAMS_DEFAULT_TEMPLATE);
    assert_int_equal(ns_streams_template_from_flags(buf, sizeof(buf), "t"), 0);
    assert_string_equal(buf, "%tT%A.%a-%B.%b%V%v%C%c");
    assert_int_equal(ns_streams_template_from_flags(buf, sizeof(buf), "T"), 0);
    assert_string_equal(buf, "%T%A.%a-%B.%b%V%v%C%c");
    assert_int_equal(ns_streams_template_from_flags(buf, sizeof(buf), "kc"), 0);
    assert_string_equal(buf, "%K/%A.%a-%B.%b%V%vc%#");
    assert_int_equal(ns_streams_template_from_flags(buf, sizeof(buf), "g"), 0);
    assert_string_equal(buf, "%G/%M/%K/%A.%a-%B.%b%V%v%C%c");
    assert_int_equal(ns_streams_template_from_flags(buf, 10, "g"), NS_ELIMIT);
}

static void test_mime_ext(void **state)
{
    (void)state;
    const char *t = "text/html; charset=UTF-8";
    assert_string_equal(ns_streams_mime_ext(t, strlen(t)), "html");
    assert_string_equal(ns_streams_mime_ext("IMAGE/JPEG", 10), "jpg");
    assert_string_equal(ns_streams_mime_ext("application/json", 16), "json");
    assert_null(ns_streams_mime_ext("text/htmlx", 10));
    assert_null(ns_streams_mime_ext("application/x-unknown", 21));
    assert_null(ns_streams_mime_ext(NULL, 0));
}

/* --- the sink through the reassembler's callbacks --- */

struct rig {
    char dir[512];
    char json_path[600];
    FILE *json;
    struct ns_streams *s;
    struct ns_tcp_reasm_opts ro;
};

static void rig_open(struct rig *r, struct ns_streams_opts *o)
{
    struct ns_error err;
    memset(&err, 0, sizeof(err));
    make_tmpdir(r->dir, sizeof(r->dir));
    snprintf(r->json_path, sizeof(r->json_path), "%s.json", r->dir);
    r->json = fopen(r->json_path, "w+");
    assert_non_null(r->json);
    o->outdir = r->dir;
    o->report_json = r->json;
    o->report_xml = true;
    assert_int_equal(ns_streams_new(&r->s, o, &err), 0);
    memset(&r->ro, 0, sizeof(r->ro));
    ns_streams_tcp_callbacks(r->s, &r->ro);
}

/* Finish and read back the JSON lines. */
static json_t *rig_finish(struct rig *r)
{
    struct ns_error err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(ns_streams_finish(r->s, &err), 0);
    fflush(r->json);
    rewind(r->json);
    json_t *arr = json_array();
    char line[20000];
    while (fgets(line, sizeof(line), r->json) != NULL) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        assert_non_null(o);
        json_array_append_new(arr, o);
    }
    return arr;
}

static void rig_close(struct rig *r)
{
    ns_streams_free(r->s);
    fclose(r->json);
    unlink(r->json_path);
    rm_rf(r->dir);
}

static void data(struct rig *r, struct ns_tcp_conn *c, int dir, const char *s, uint64_t ts)
{
    r->ro.on_data(r->ro.ud, c, dir, (const uint8_t *)s, strlen(s), ts);
}

static void end_conn(struct rig *r, struct ns_tcp_conn *c, enum ns_tcp_close why)
{
    r->ro.on_close(r->ro.ud, c, 0, why, 0);
    r->ro.on_close(r->ro.ud, c, 1, why, 0);
    r->ro.on_conn_end(r->ro.ud, c);
    assert_null(c->app);
}

/* The byte at offset k of direction dir of stream i in round r (k < CHUNK). */
#define CHUNK 4100
static uint8_t pattern(int i, int dir, int r, size_t k)
{
    return (uint8_t)(k * 7 + (size_t)i * 31 + (size_t)dir * 101 + (size_t)r * 13);
}

/*
 * 5 streams (10 directions) through 2 descriptors, 4 rounds of writes of
 * CHUNK bytes (`big`) or 100 bytes each.
 */
static void run_fd_cache(bool big)
{
    struct ns_streams_opts o;
    struct rig r;
    struct ns_flow f[5];
    struct ns_tcp_conn c[5];
    static uint8_t chunk[CHUNK];
    static uint8_t buf[4 * CHUNK + 1];
    size_t len = big ? CHUNK : 100;
    memset(&o, 0, sizeof(o));
    o.max_fds = 2;
    rig_open(&r, &o);
    for (int i = 0; i < 5; i++) {
        make_flow(&f[i], NS_IPPROTO_TCP, (uint16_t)(1000 + i), 80, 0);
        make_conn(&c[i], &f[i]);
    }
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 5; i++) {
            for (int dir = 0; dir < 2; dir++) {
                for (size_t k = 0; k < len; k++) {
                    chunk[k] = pattern(i, dir, round, k);
                }
                r.ro.on_data(r.ro.ud, &c[i], dir, chunk, len, 1);
            }
        }
    }
    for (int i = 0; i < 5; i++) {
        end_conn(&r, &c[i], NS_TCP_CLOSE_FIN);
    }
    json_t *recs = rig_finish(&r);
    assert_int_equal(json_array_size(recs), 10);
    for (int i = 0; i < 5; i++) {
        for (int dir = 0; dir < 2; dir++) {
            char name[128];
            if (dir == 0) {
                snprintf(name, sizeof(name), "010.000.000.001.%05d-010.000.000.002.00080",
                         1000 + i);
            } else {
                snprintf(name, sizeof(name), "010.000.000.002.00080-010.000.000.001.%05d",
                         1000 + i);
            }
            assert_int_equal(slurp(r.dir, name, (char *)buf, sizeof(buf)), (long)(4 * len));
            for (int round = 0; round < 4; round++) {
                for (size_t k = 0; k < len; k++) {
                    assert_int_equal(buf[(size_t)round * len + k], pattern(i, dir, round, k));
                }
            }
        }
    }
    struct ns_streams_stats st;
    ns_streams_get_stats(r.s, &st);
    assert_int_equal(st.streams, 10);
    if (big) {
        /* 10 files created; each of the 30 later writes found its file evicted */
        assert_int_equal(st.opens, 10 + 30);
        assert_int_equal(st.reopens, 30);
        assert_int_equal(st.evictions, 38);
    } else {
        /* the same with writes smaller than a page */
        assert_int_equal(st.reopens, 30);
    }
    json_decref(recs);
    rig_close(&r);
}

static void test_fd_cache_eviction(void **state)
{
    (void)state;
    run_fd_cache(true);
}

static void test_fd_cache_buffered(void **state)
{
    (void)state;
    run_fd_cache(false);
}

static void test_gap_fill_and_split(void **state)
{
    (void)state;
    struct ns_streams_opts o;
    struct rig r;
    struct ns_flow f;
    struct ns_tcp_conn c;
    char buf[256];
    memset(&o, 0, sizeof(o));
    o.max_gap = 10;
    o.max_gap_set = true;
    rig_open(&r, &o);
    make_flow(&f, NS_IPPROTO_TCP, 2345, 80, 7);
    make_conn(&c, &f);
    f.packets[0] = 3;
    data(&r, &c, 0, "abc", 1709251200000000000ULL);
    r.ro.on_gap(r.ro.ud, &c, 0, 5, 0);
    data(&r, &c, 0, "def", 1709251201000000000ULL);
    f.packets[0] = 5;
    r.ro.on_gap(r.ro.ud, &c, 0, 100, 0); /* > max_gap: split */
    data(&r, &c, 0, "ghi", 1709251202000000000ULL);
    f.packets[0] = 6;
    end_conn(&r, &c, NS_TCP_CLOSE_FIN);
    json_t *recs = rig_finish(&r);

    const char *n1 = "010.000.000.001.02345-010.000.000.002.00080--7";
    const char *n2 = "010.000.000.001.02345-010.000.000.002.00080--7c1";
    assert_int_equal(slurp(r.dir, n1, buf, sizeof(buf)), 11);
    assert_memory_equal(buf, "abc\0\0\0\0\0def", 11);
    assert_int_equal(slurp(r.dir, n2, buf, sizeof(buf)), 3);
    assert_string_equal(buf, "ghi");
    assert_false(exists(r.dir, "010.000.000.002.00080-010.000.000.001.02345--7"));

    assert_int_equal(json_array_size(recs), 2);
    json_t *p1 = json_array_get(recs, 0);
    json_t *p2 = json_array_get(recs, 1);
    char md5[64];
    char sha[80];
    hex_digest("MD5", "abc\0\0\0\0\0def", 11, md5);
    hex_digest("SHA256", "abc\0\0\0\0\0def", 11, sha);
    assert_string_equal(json_string_value(json_object_get(p1, "type")), "stream");
    assert_int_equal(json_integer_value(json_object_get(p1, "schema")), 1);
    assert_string_equal(json_string_value(json_object_get(p1, "file")), n1);
    assert_string_equal(json_string_value(json_object_get(p1, "closed")), "split");
    assert_int_equal(json_integer_value(json_object_get(p1, "part")), 1);
    assert_int_equal(json_integer_value(json_object_get(p1, "bytes")), 11);
    assert_int_equal(json_integer_value(json_object_get(p1, "gaps")), 2);
    assert_int_equal(json_integer_value(json_object_get(p1, "gap_bytes")), 105);
    assert_int_equal(json_integer_value(json_object_get(p1, "packets")), 5);
    assert_int_equal(json_integer_value(json_object_get(p1, "vlan")), 7);
    assert_string_equal(json_string_value(json_object_get(p1, "src_addr")), "10.0.0.1");
    assert_int_equal(json_integer_value(json_object_get(p1, "dst_port")), 80);
    assert_string_equal(json_string_value(json_object_get(p1, "md5")), md5);
    assert_string_equal(json_string_value(json_object_get(p1, "sha256")), sha);
    assert_string_equal(json_string_value(json_object_get(p1, "first_seen")),
                        "2024-03-01T00:00:00.000000Z");
    assert_string_equal(json_string_value(json_object_get(p1, "last_seen")),
                        "2024-03-01T00:00:01.000000Z");
    assert_string_equal(json_string_value(json_object_get(p2, "file")), n2);
    assert_string_equal(json_string_value(json_object_get(p2, "closed")), "fin");
    assert_int_equal(json_integer_value(json_object_get(p2, "part")), 2);
    assert_int_equal(json_integer_value(json_object_get(p2, "packets")), 1);
    assert_int_equal(json_integer_value(json_object_get(p2, "gaps")), 0);
    hex_digest("MD5", "ghi", 3, md5);
    assert_string_equal(json_string_value(json_object_get(p2, "md5")), md5);

    /* the DFXML report names both files with their sizes and digests */
    char xml[8192];
    assert_true(slurp(r.dir, "report.xml", xml, sizeof(xml)) > 0);
    char want[1024];
    snprintf(want, sizeof(want), "<filename>%s/%s</filename>\n      <filesize>11</filesize>", r.dir,
             n1);
    assert_non_null(strstr(xml, want));
    snprintf(want, sizeof(want), "<filename>%s/%s</filename>\n      <filesize>3</filesize>", r.dir,
             n2);
    assert_non_null(strstr(xml, want));
    assert_non_null(strstr(xml, "src_ipn='10.0.0.1' dst_ipn='10.0.0.2' srcport='2345' "
                                "dstport='80' vlan='7' packets='5'"));
    snprintf(want, sizeof(want), "<hashdigest type='MD5'>%s</hashdigest>", md5);
    assert_non_null(strstr(xml, want));
    snprintf(want, sizeof(want), "<hashdigest type='SHA256'>%s</hashdigest>", sha);
    assert_non_null(strstr(xml, want));
    assert_non_null(strstr(xml, "<splits>1</splits>"));
    assert_non_null(strstr(xml, "</dfxml>\n"));

    struct ns_streams_stats st;
    ns_streams_get_stats(r.s, &st);
    assert_int_equal(st.gaps, 2);
    assert_int_equal(st.gap_bytes, 105);
    assert_int_equal(st.gap_zero_bytes, 5);
    assert_int_equal(st.splits, 1);
    json_decref(recs);
    rig_close(&r);
}

static void test_byte_cap(void **state)
{
    (void)state;
    struct ns_streams_opts o;
    struct rig r;
    struct ns_flow f;
    struct ns_tcp_conn c;
    char buf[256];
    memset(&o, 0, sizeof(o));
    o.max_bytes = 5;
    rig_open(&r, &o);
    make_flow(&f, NS_IPPROTO_TCP, 40000, 443, 0);
    make_conn(&c, &f);
    data(&r, &c, 0, "abc", 1);
    r.ro.on_gap(r.ro.ud, &c, 0, 1, 0); /* one zero, counted against the cap */
    data(&r, &c, 0, "defgh", 1);
    data(&r, &c, 1, "0123456789", 1);
    end_conn(&r, &c, NS_TCP_CLOSE_RST);
    json_t *recs = rig_finish(&r);
    assert_int_equal(slurp(r.dir, "010.000.000.001.40000-010.000.000.002.00443", buf, sizeof(buf)),
                     5);
    assert_memory_equal(buf, "abc\0d", 5);
    assert_int_equal(slurp(r.dir, "010.000.000.002.00443-010.000.000.001.40000", buf, sizeof(buf)),
                     5);
    assert_string_equal(buf, "01234");
    json_t *p = json_array_get(recs, 0);
    assert_int_equal(json_integer_value(json_object_get(p, "capped_bytes")), 4);
    assert_string_equal(json_string_value(json_object_get(p, "closed")), "rst");
    p = json_array_get(recs, 1);
    assert_int_equal(json_integer_value(json_object_get(p, "capped_bytes")), 5);
    struct ns_streams_stats st;
    ns_streams_get_stats(r.s, &st);
    assert_int_equal(st.capped_bytes, 9);
    json_decref(recs);
    rig_close(&r);
}

static void test_counter_on_reuse(void **state)
{
    (void)state;
    struct ns_streams_opts o;
    struct rig r;
    struct ns_flow f;
    struct ns_tcp_conn c;
    char buf[64];
    memset(&o, 0, sizeof(o));
    rig_open(&r, &o);
    for (int i = 0; i < 3; i++) {
        char s[8];
        make_flow(&f, NS_IPPROTO_TCP, 5555, 80, 0);
        make_conn(&c, &f);
        snprintf(s, sizeof(s), "conn%d", i);
        data(&r, &c, 0, s, 1);
        end_conn(&r, &c, NS_TCP_CLOSE_FIN);
    }
    json_t *recs = rig_finish(&r);
    assert_int_equal(slurp(r.dir, "010.000.000.001.05555-010.000.000.002.00080", buf, sizeof(buf)),
                     5);
    assert_string_equal(buf, "conn0");
    assert_int_equal(
        slurp(r.dir, "010.000.000.001.05555-010.000.000.002.00080c1", buf, sizeof(buf)), 5);
    assert_string_equal(buf, "conn1");
    assert_int_equal(
        slurp(r.dir, "010.000.000.001.05555-010.000.000.002.00080c2", buf, sizeof(buf)), 5);
    assert_string_equal(buf, "conn2");
    json_decref(recs);
    rig_close(&r);
}

static void test_template_dirs(void **state)
{
    (void)state;
    struct ns_streams_opts o;
    struct rig r;
    struct ns_flow f;
    struct ns_tcp_conn c;
    char buf[64];
    memset(&o, 0, sizeof(o));
    o.tmpl = "%A/%a/%B/%b/%#.flow";
    rig_open(&r, &o);
    make_flow(&f, NS_IPPROTO_TCP, 7, 9, 0);
    make_conn(&c, &f);
    data(&r, &c, 0, "x", 1);
    data(&r, &c, 1, "yz", 1);
    end_conn(&r, &c, NS_TCP_CLOSE_FIN);
    json_t *recs = rig_finish(&r);
    assert_int_equal(
        slurp(r.dir, "010.000.000.001/00007/010.000.000.002/00009/0.flow", buf, sizeof(buf)), 1);
    assert_int_equal(
        slurp(r.dir, "010.000.000.002/00009/010.000.000.001/00007/0.flow", buf, sizeof(buf)), 2);
    assert_string_equal(buf, "yz");
    json_decref(recs);
    rig_close(&r);
}

static void test_console(void **state)
{
    (void)state;
    struct ns_streams_opts o;
    struct ns_streams *s = NULL;
    struct ns_tcp_reasm_opts ro;
    struct ns_flow f;
    struct ns_tcp_conn c;
    struct ns_error err;
    char buf[256];
    FILE *out = tmpfile();
    assert_non_null(out);
    memset(&o, 0, sizeof(o));
    memset(&ro, 0, sizeof(ro));
    o.console = out;
    assert_int_equal(ns_streams_new(&s, &o, &err), 0);
    ns_streams_tcp_callbacks(s, &ro);
    make_flow(&f, NS_IPPROTO_TCP, 1, 2, 0);
    make_conn(&c, &f);
    ro.on_data(ro.ud, &c, 0, (const uint8_t *)"GET\r\n\x01\xff!", 8, 1);
    ro.on_data(ro.ud, &c, 1, (const uint8_t *)"ok", 2, 1);
    ro.on_close(ro.ud, &c, 0, NS_TCP_CLOSE_FIN, 0);
    ro.on_close(ro.ud, &c, 1, NS_TCP_CLOSE_FIN, 0);
    ro.on_conn_end(ro.ud, &c);
    assert_int_equal(ns_streams_finish(s, &err), 0);
    ns_streams_free(s);
    rewind(out);
    size_t n = fread(buf, 1, sizeof(buf) - 1, out);
    buf[n] = '\0';
    assert_string_equal(buf, "010.000.000.001.00001-010.000.000.002.00002: GET\r\n..!\n"
                             "010.000.000.002.00002-010.000.000.001.00001: ok\n");
    fclose(out);
}

static void test_udp(void **state)
{
    (void)state;
    struct ns_streams_opts o;
    struct rig r;
    struct ns_flow f;
    struct ns_packet p;
    char buf[64];
    memset(&o, 0, sizeof(o));
    o.udp = true;
    rig_open(&r, &o);
    make_flow(&f, NS_IPPROTO_UDP, 53000, 53, 0);
    memset(&p, 0, sizeof(p));
    p.proto = NS_IPPROTO_UDP;
    p.flags = NS_PKT_F_HAS_L4;
    p.payload = (const uint8_t *)"query";
    p.payload_len = 5;
    p.ts_ns = 5;
    f.packets[0] = 1;
    ns_streams_packet(r.s, &p, &f, 0);
    p.payload = (const uint8_t *)"answer";
    p.payload_len = 6;
    f.packets[1] = 1;
    ns_streams_packet(r.s, &p, &f, 1);
    p.payload = (const uint8_t *)"again";
    p.payload_len = 5;
    f.packets[0] = 2;
    ns_streams_packet(r.s, &p, &f, 0);
    assert_non_null(f.app);
    ns_streams_flow_end(r.s, &f);
    assert_null(f.app);
    json_t *recs = rig_finish(&r);
    assert_int_equal(slurp(r.dir, "010.000.000.001.53000-010.000.000.002.00053", buf, sizeof(buf)),
                     10);
    assert_string_equal(buf, "queryagain");
    assert_int_equal(slurp(r.dir, "010.000.000.002.00053-010.000.000.001.53000", buf, sizeof(buf)),
                     6);
    assert_int_equal(json_array_size(recs), 2);
    json_t *p0 = json_array_get(recs, 0);
    assert_string_equal(json_string_value(json_object_get(p0, "proto")), "udp");
    assert_int_equal(json_integer_value(json_object_get(p0, "packets")), 2);
    assert_string_equal(json_string_value(json_object_get(p0, "closed")), "end");
    json_decref(recs);
    rig_close(&r);
}

static void test_http_bodies(void **state)
{
    (void)state;
    struct ns_streams_opts o;
    struct rig r;
    struct ns_flow f;
    struct ns_tcp_conn c;
    char buf[512];
    memset(&o, 0, sizeof(o));
    o.http = true;
    rig_open(&r, &o);
    make_flow(&f, NS_IPPROTO_TCP, 50000, 80, 0);
    make_conn(&c, &f);
    data(&r, &c, 0, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    data(&r, &c, 1,
         "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
         "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
         "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nwxyz",
         1);
    end_conn(&r, &c, NS_TCP_CLOSE_FIN);
    json_t *recs = rig_finish(&r);
    const char *resp = "010.000.000.002.00080-010.000.000.001.50000";
    char name[128];
    snprintf(name, sizeof(name), "%s-HTTPBODY-001.html", resp);
    assert_int_equal(slurp(r.dir, name, buf, sizeof(buf)), 5);
    assert_string_equal(buf, "abcde");
    snprintf(name, sizeof(name), "%s-HTTPBODY-002", resp);
    assert_int_equal(slurp(r.dir, name, buf, sizeof(buf)), 4);
    assert_string_equal(buf, "wxyz");
    snprintf(name, sizeof(name), "%s-HTTP", resp);
    assert_true(slurp(r.dir, name, buf, sizeof(buf)) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"));
    assert_true(slurp(r.dir, "010.000.000.001.50000-010.000.000.002.00080-HTTP", buf, sizeof(buf)) >
                0);
    assert_string_equal(buf,
                        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    int http = 0;
    for (size_t i = 0; i < json_array_size(recs); i++) {
        json_t *j = json_array_get(recs, i);
        if (strcmp(json_string_value(json_object_get(j, "type")), "http") != 0) {
            continue;
        }
        http++;
        if (strcmp(json_string_value(json_object_get(j, "kind")), "response") == 0 &&
            json_integer_value(json_object_get(j, "index")) == 1) {
            assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
            assert_int_equal(json_integer_value(json_object_get(j, "body_bytes")), 5);
            assert_string_equal(json_string_value(json_object_get(j, "content_type")), "text/html");
            assert_false(json_is_true(json_object_get(j, "incomplete")));
        }
    }
    assert_int_equal(http, 4);
    json_decref(recs);
    rig_close(&r);
}

/* --- the writer thread --- */

#define WS_STREAMS 20
#define WS_ROUNDS  30
#define WS_BASE_NS 1709251200000000000ULL

static uint32_t ws_rand(uint32_t *x)
{
    /* xorshift32: the same bytes and sizes on every run */
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

struct ws_dir {
    uint8_t *bytes;
    size_t len;
    uint64_t last_ns;
};

/*
 * WS_STREAMS connections, both directions, fed interleaved in WS_ROUNDS
 * rounds of 1..3000 bytes (and now and then a gap of up to 40 bytes, filled
 * with zeros); `exp` gets what each direction's file must hold. The
 * connections end in a scattered order, recorded in `order`.
 */
static void ws_feed(struct rig *r, struct ws_dir exp[WS_STREAMS][2], int order[WS_STREAMS])
{
    struct ns_flow f[WS_STREAMS];
    struct ns_tcp_conn c[WS_STREAMS];
    static uint8_t chunk[3000];
    uint32_t x = 2463534242u;
    for (int i = 0; i < WS_STREAMS; i++) {
        make_flow(&f[i], NS_IPPROTO_TCP, (uint16_t)(2000 + i), 80, 0);
        make_conn(&c[i], &f[i]);
        for (int dir = 0; dir < 2; dir++) {
            exp[i][dir].bytes = malloc((size_t)WS_ROUNDS * (sizeof(chunk) + 40));
            assert_non_null(exp[i][dir].bytes);
            exp[i][dir].len = 0;
        }
    }
    for (int round = 0; round < WS_ROUNDS; round++) {
        for (int i = 0; i < WS_STREAMS; i++) {
            for (int dir = 0; dir < 2; dir++) {
                struct ws_dir *e = &exp[i][dir];
                uint64_t ts = WS_BASE_NS + (uint64_t)round * 1000000000ULL + (uint64_t)i * 1000;
                if (ws_rand(&x) % 7 == 0 && e->len > 0) {
                    uint64_t gap = ws_rand(&x) % 40 + 1;
                    r->ro.on_gap(r->ro.ud, &c[i], dir, gap, ts);
                    memset(e->bytes + e->len, 0, (size_t)gap);
                    e->len += (size_t)gap;
                }
                size_t n = ws_rand(&x) % sizeof(chunk) + 1;
                for (size_t k = 0; k < n; k++) {
                    chunk[k] = (uint8_t)ws_rand(&x);
                }
                f[i].packets[dir]++;
                r->ro.on_data(r->ro.ud, &c[i], dir, chunk, n, ts);
                memcpy(e->bytes + e->len, chunk, n);
                e->len += n;
                e->last_ns = ts;
            }
        }
    }
    for (int j = 0; j < WS_STREAMS; j++) {
        order[j] = (j * 7) % WS_STREAMS; /* 7 and 20 are coprime: every stream once */
        end_conn(r, &c[order[j]], NS_TCP_CLOSE_FIN);
    }
}

static void ws_name(char *buf, size_t size, int i, int dir)
{
    if (dir == 0) {
        snprintf(buf, size, "010.000.000.001.%05d-010.000.000.002.00080", 2000 + i);
    } else {
        snprintf(buf, size, "010.000.000.002.00080-010.000.000.001.%05d", 2000 + i);
    }
}

/* The JSON records name every direction in the order the connections ended, with its digests. */
static void ws_check_records(json_t *recs, struct ws_dir exp[WS_STREAMS][2],
                             const int order[WS_STREAMS], bool files)
{
    assert_int_equal(json_array_size(recs), 2 * WS_STREAMS);
    for (int j = 0; j < WS_STREAMS; j++) {
        for (int dir = 0; dir < 2; dir++) {
            int i = order[j];
            json_t *rec = json_array_get(recs, (size_t)(2 * j + dir));
            char name[128];
            char md5[64];
            char sha[80];
            ws_name(name, sizeof(name), i, dir);
            if (files) {
                assert_string_equal(json_string_value(json_object_get(rec, "file")), name);
            } else {
                assert_true(json_is_null(json_object_get(rec, "file")));
            }
            assert_int_equal(json_integer_value(json_object_get(rec, "src_port")),
                             dir == 0 ? 2000 + i : 80);
            assert_int_equal(json_integer_value(json_object_get(rec, "bytes")), exp[i][dir].len);
            hex_digest("MD5", exp[i][dir].bytes, exp[i][dir].len, md5);
            hex_digest("SHA256", exp[i][dir].bytes, exp[i][dir].len, sha);
            assert_string_equal(json_string_value(json_object_get(rec, "md5")), md5);
            assert_string_equal(json_string_value(json_object_get(rec, "sha256")), sha);
        }
    }
}

static void ws_free(struct ws_dir exp[WS_STREAMS][2])
{
    for (int i = 0; i < WS_STREAMS; i++) {
        free(exp[i][0].bytes);
        free(exp[i][1].bytes);
    }
}

/* Every stream file holds exactly its bytes (and, with `mtime`, its last packet's time). */
static void ws_check_files(const struct rig *r, struct ws_dir exp[WS_STREAMS][2], uint8_t *buf,
                           size_t size, bool mtime)
{
    for (int i = 0; i < WS_STREAMS; i++) {
        for (int dir = 0; dir < 2; dir++) {
            char name[128];
            char p[1024];
            struct stat st;
            ws_name(name, sizeof(name), i, dir);
            assert_int_equal(slurp(r->dir, name, (char *)buf, size), (long)exp[i][dir].len);
            assert_memory_equal(buf, exp[i][dir].bytes, exp[i][dir].len);
            if (mtime) {
                snprintf(p, sizeof(p), "%s/%s", r->dir, name);
                assert_int_equal(stat(p, &st), 0);
                assert_int_equal((uint64_t)st.st_mtim.tv_sec * 1000000000ULL +
                                     (uint64_t)st.st_mtim.tv_nsec,
                                 exp[i][dir].last_ns);
            }
        }
    }
}

static void test_writer_interleaved_tiny_queue(void **state)
{
    (void)state;
    struct ns_streams_opts o;
    struct rig r;
    static struct ws_dir exp[WS_STREAMS][2];
    int order[WS_STREAMS];
    static uint8_t buf[WS_ROUNDS * 3100];
    memset(&o, 0, sizeof(o));
    o.max_fds = 2;
    o.queue_bytes = 1024; /* a few operations at a time; 128 bytes gathered per file */
    o.set_mtime = true;
    rig_open(&r, &o);
    ws_feed(&r, exp, order);
    json_t *recs = rig_finish(&r);
    ws_check_records(recs, exp, order, true);
    ws_check_files(&r, exp, buf, sizeof(buf), true);
    /* report.xml lists the files in the same order */
    static char xml[1 << 20];
    assert_true(slurp(r.dir, "report.xml", xml, sizeof(xml)) > 0);
    const char *at = xml;
    for (int j = 0; j < WS_STREAMS; j++) {
        for (int dir = 0; dir < 2; dir++) {
            char name[128];
            char want[700];
            ws_name(name, sizeof(name), order[j], dir);
            snprintf(want, sizeof(want), "<filename>%s/%s</filename>", r.dir, name);
            at = strstr(at, want);
            assert_non_null(at);
        }
    }
    assert_non_null(strstr(xml, "<total_files>40</total_files>"));
    struct ns_streams_stats st;
    ns_streams_get_stats(r.s, &st);
    assert_int_equal(st.streams, 2 * WS_STREAMS);
    assert_int_equal(st.io_errors, 0);
    assert_true(st.reopens > 0);
    json_decref(recs);
    ws_free(exp);
    rig_close(&r);
}

static void test_writer_digests_only(void **state)
{
    (void)state;
    struct ns_streams_opts o;
    struct rig r;
    static struct ws_dir exp[WS_STREAMS][2];
    int order[WS_STREAMS];
    memset(&o, 0, sizeof(o));
    o.no_files = true;
    o.queue_bytes = 4096;
    rig_open(&r, &o);
    ws_feed(&r, exp, order);
    json_t *recs = rig_finish(&r);
    ws_check_records(recs, exp, order, false);
    char name[128];
    ws_name(name, sizeof(name), 0, 0);
    assert_false(exists(r.dir, name));
    json_decref(recs);
    ws_free(exp);
    rig_close(&r);
}

/* The highest descriptor open now. */
static int highest_fd(void)
{
    DIR *d = opendir("/proc/self/fd");
    int hi = 2;
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = (int)strtol(e->d_name, NULL, 10);
        if (fd > hi) {
            hi = fd;
        }
    }
    closedir(d);
    return hi;
}

static void test_writer_emfile(void **state)
{
    (void)state;
    struct ns_streams_opts o;
    struct rig r;
    static struct ws_dir exp[WS_STREAMS][2];
    int order[WS_STREAMS];
    static uint8_t buf[WS_ROUNDS * 3100];
    struct rlimit old;
    struct rlimit low;
    memset(&o, 0, sizeof(o));
    o.max_fds = 1000; /* the process limit, not the cache, runs out */
    o.queue_bytes = 1 << 20;
    rig_open(&r, &o);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)highest_fd() + 1 + 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    /* fill every free descriptor below the limit, then free 4: room for 4 stream files */
    static int filler[4096];
    int nfill = 0;
    for (;;) {
        int fd = dup(0);
        if (fd < 0) {
            assert_int_equal(errno, EMFILE);
            break;
        }
        assert_true(nfill < 4096);
        filler[nfill++] = fd;
    }
    assert_true(nfill >= 4);
    for (int k = 0; k < 4; k++) {
        close(filler[--nfill]);
    }
    ws_feed(&r, exp, order);
    json_t *recs = rig_finish(&r);
    while (nfill > 0) {
        close(filler[--nfill]);
    }
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    ws_check_records(recs, exp, order, true);
    ws_check_files(&r, exp, buf, sizeof(buf), false);
    struct ns_streams_stats st;
    ns_streams_get_stats(r.s, &st);
    assert_true(st.emfile_retries > 0);
    assert_int_equal(st.io_errors, 0);
    json_decref(recs);
    ws_free(exp);
    rig_close(&r);
}

static void test_writer_error_once(void **state)
{
    (void)state;
    struct ns_streams_opts o;
    struct rig r;
    struct ns_flow f;
    struct ns_tcp_conn c;
    struct ns_error err;
    char link[700];
    char want[1024];
    if (access("/dev/full", W_OK) != 0) {
        skip(); /* no /dev/full to fail the writes */
    }
    memset(&o, 0, sizeof(o));
    memset(&err, 0, sizeof(err));
    o.tmpl = "%A.%a-%B.%b"; /* no counter: an existing file is appended to */
    rig_open(&r, &o);
    snprintf(link, sizeof(link), "%s/010.000.000.001.03000-010.000.000.002.00080", r.dir);
    assert_int_equal(symlink("/dev/full", link), 0);
    make_flow(&f, NS_IPPROTO_TCP, 3000, 80, 0);
    make_conn(&c, &f);
    data(&r, &c, 0, "first", 1);
    data(&r, &c, 0, "second", 2);
    data(&r, &c, 1, "reply", 2);
    end_conn(&r, &c, NS_TCP_CLOSE_FIN);
    assert_int_equal(ns_streams_finish(r.s, &err), NS_EIO);
    snprintf(want, sizeof(want), "cannot write '%s': %s", link, strerror(ENOSPC));
    assert_string_equal(err.msg, want);
    struct ns_streams_stats st;
    ns_streams_get_stats(r.s, &st);
    assert_int_equal(st.io_errors, 1); /* both pieces went in one write(2) */
    char buf[64];
    assert_int_equal(slurp(r.dir, "010.000.000.002.00080-010.000.000.001.03000", buf, sizeof(buf)),
                     5);
    assert_string_equal(buf, "reply");
    unlink(link);
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_default_ipv4),
        cmocka_unit_test(test_name_ipv6),
        cmocka_unit_test(test_name_codes),
        cmocka_unit_test(test_template_flags),
        cmocka_unit_test(test_mime_ext),
        cmocka_unit_test(test_fd_cache_eviction),
        cmocka_unit_test(test_fd_cache_buffered),
        cmocka_unit_test(test_gap_fill_and_split),
        cmocka_unit_test(test_byte_cap),
        cmocka_unit_test(test_counter_on_reuse),
        cmocka_unit_test(test_template_dirs),
        cmocka_unit_test(test_console),
        cmocka_unit_test(test_udp),
        cmocka_unit_test(test_http_bodies),
        cmocka_unit_test(test_writer_interleaved_tiny_queue),
        cmocka_unit_test(test_writer_digests_only),
        cmocka_unit_test(test_writer_emfile),
        cmocka_unit_test(test_writer_error_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
