/*
 * test_sink.c - flow records and counters as JSON Lines, CSV and text
 * (sink.h, docs/schema/README.md).
 *
 * Flows are built by hand (key in canonical order, as the flow table keeps
 * it) and every output is compared byte for byte. The expected Community IDs
 * were computed independently from the Community ID v1 spec (SHA-1 over
 * seed, addresses, protocol, padding and, for TCP / UDP / SCTP / ICMP,
 * ports; the spec's own example
 * 128.232.110.120:34855 -> 66.35.250.204:80 tcp gives
 * 1:LQU9qZlK+B5F3KDmev6m5PMibrg= and is checked here as well).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netsift/err.h"
#include "netsift/flow.h"
#include "netsift/sink.h"

/* ---- helpers ---- */

struct capture {
    FILE *fp;
    char *buf;
    size_t len;
};

static void cap_open(struct capture *c)
{
    c->buf = NULL;
    c->len = 0;
    c->fp = open_memstream(&c->buf, &c->len);
    assert_non_null(c->fp);
}

/* Close the stream and compare everything written with `want`. */
static void cap_check(struct capture *c, const char *want)
{
    assert_int_equal(fclose(c->fp), 0);
    assert_string_equal(c->buf, want);
    free(c->buf);
    c->buf = NULL;
}

static void ip4(uint8_t *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
    memset(a, 0, 16);
    a[0] = b0;
    a[1] = b1;
    a[2] = b2;
    a[3] = b3;
}

/* 2001:db8::<last> */
static void ip6_doc(uint8_t *a, uint8_t last)
{
    memset(a, 0, 16);
    a[0] = 0x20;
    a[1] = 0x01;
    a[2] = 0x0d;
    a[3] = 0xb8;
    a[15] = last;
}

/*
 * A closed TCP connection 10.0.0.1:51000 -> 10.0.0.2:80; the client sent
 * FIN SYN PSH ACK, the server FIN SYN ACK.
 */
static void flow_tcp(struct ns_flow *f)
{
    memset(f, 0, sizeof(*f));
    f->key.ipver = 4;
    f->key.proto = NS_IPPROTO_TCP;
    ip4(f->key.lo, 10, 0, 0, 1);
    ip4(f->key.hi, 10, 0, 0, 2);
    f->key.lo_port = 51000;
    f->key.hi_port = 80;
    f->src_is_lo = true;
    f->syn_seen = true;
    f->state = NS_FLOW_ST_CLOSED;
    f->end = NS_FLOW_END_CLOSED;
    f->tcp_flags[0] = NS_TCP_FIN | NS_TCP_SYN | NS_TCP_PSH | NS_TCP_ACK;
    f->tcp_flags[1] = NS_TCP_FIN | NS_TCP_SYN | NS_TCP_ACK;
    f->packets[0] = 5;
    f->packets[1] = 4;
    f->bytes[0] = 420;
    f->bytes[1] = 3140;
    f->first_ns = 1709251200123456789ULL; /* 2024-03-01T00:00:00.123456789Z */
    f->last_ns = 1709251201500000000ULL;
    f->id = 1;
}

/*
 * A UDP exchange on VLAN 100 started by 2001:db8::2:40000, the key's hi
 * side, towards 2001:db8::1:53. The SYN bit in tcp_flags must not show for
 * UDP.
 */
static void flow_udp6(struct ns_flow *f)
{
    memset(f, 0, sizeof(*f));
    f->key.ipver = 6;
    f->key.proto = NS_IPPROTO_UDP;
    f->key.vlan = 100;
    ip6_doc(f->key.lo, 1);
    ip6_doc(f->key.hi, 2);
    f->key.lo_port = 53;
    f->key.hi_port = 40000;
    f->src_is_lo = false;
    f->state = NS_FLOW_ST_NEW;
    f->end = NS_FLOW_END_IDLE;
    f->tcp_flags[0] = NS_TCP_SYN;
    f->packets[0] = 1;
    f->packets[1] = 1;
    f->bytes[0] = 90;
    f->bytes[1] = 210;
    f->first_ns = 1709251199999999999ULL; /* leap day, last microsecond */
    f->last_ns = 1709251260000000000ULL;
    f->id = 2;
}

/* An ICMP echo exchange 192.168.1.1 -> 192.168.1.2 (type 8, code 0) at the epoch. */
static void flow_icmp(struct ns_flow *f)
{
    memset(f, 0, sizeof(*f));
    f->key.ipver = 4;
    f->key.proto = NS_IPPROTO_ICMP;
    ip4(f->key.lo, 192, 168, 1, 1);
    ip4(f->key.hi, 192, 168, 1, 2);
    f->key.lo_port = 8;
    f->key.hi_port = 0;
    f->src_is_lo = true;
    f->state = NS_FLOW_ST_NEW;
    f->end = NS_FLOW_END_EOF;
    f->packets[0] = 3;
    f->packets[1] = 3;
    f->bytes[0] = 294;
    f->bytes[1] = 294;
    f->first_ns = 0;
    f->last_ns = 999999999ULL;
    f->id = 3;
}

static const char json_tcp[] =
    "{\"type\":\"flow\",\"schema\":1,\"proto\":\"tcp\",\"src_addr\":\"10.0.0.1\",\"src_port\":"
    "51000,"
    "\"dst_addr\":\"10.0.0.2\",\"dst_port\":80,\"vlan\":0,"
    "\"first_seen\":\"2024-03-01T00:00:00.123456Z\",\"last_seen\":\"2024-03-01T00:00:01.500000Z\","
    "\"packets_fwd\":5,\"packets_rev\":4,\"bytes_fwd\":420,\"bytes_rev\":3140,"
    "\"tcp_flags\":\"FSPA\",\"state\":\"closed\",\"end_reason\":\"closed\","
    "\"community_id\":\"1:i4wouHb5mVBQZt2gbtgoobJX5Ak=\"}\n";

static const char json_udp6[] =
    "{\"type\":\"flow\",\"schema\":1,\"proto\":\"udp\",\"src_addr\":\"2001:db8::2\","
    "\"src_port\":40000,\"dst_addr\":\"2001:db8::1\",\"dst_port\":53,\"vlan\":100,"
    "\"first_seen\":\"2024-02-29T23:59:59.999999Z\",\"last_seen\":\"2024-03-01T00:01:00.000000Z\","
    "\"packets_fwd\":1,\"packets_rev\":1,\"bytes_fwd\":90,\"bytes_rev\":210,"
    "\"tcp_flags\":\"\",\"state\":\"new\",\"end_reason\":\"idle_timeout\","
    "\"community_id\":\"1:eGdaE36ivsxnM3NpfgD06A5eRj8=\"}\n";

static const char json_icmp[] =
    "{\"type\":\"flow\",\"schema\":1,\"proto\":\"icmp\",\"src_addr\":\"192.168.1.1\",\"src_port\":"
    "8,"
    "\"dst_addr\":\"192.168.1.2\",\"dst_port\":0,\"vlan\":0,"
    "\"first_seen\":\"1970-01-01T00:00:00.000000Z\",\"last_seen\":\"1970-01-01T00:00:00.999999Z\","
    "\"packets_fwd\":3,\"packets_rev\":3,\"bytes_fwd\":294,\"bytes_rev\":294,"
    "\"tcp_flags\":\"\",\"state\":\"new\",\"end_reason\":\"eof\","
    "\"community_id\":\"1:7xHB7MWKM0J/sHdibLFAey3nit8=\"}\n";

static const char csv_header[] =
    "proto,src_addr,src_port,dst_addr,dst_port,vlan,first_seen,last_seen,packets_fwd,"
    "packets_rev,bytes_fwd,bytes_rev,tcp_flags,state,end_reason,community_id\n";

static const char csv_tcp[] = "tcp,10.0.0.1,51000,10.0.0.2,80,0,2024-03-01T00:00:00.123456Z,"
                              "2024-03-01T00:00:01.500000Z,5,4,420,3140,FSPA,closed,closed,"
                              "1:i4wouHb5mVBQZt2gbtgoobJX5Ak=\n";

static const char csv_udp6[] = "udp,2001:db8::2,40000,2001:db8::1,53,100,2024-02-29T23:59:59."
                               "999999Z,2024-03-01T00:01:00.000000Z,1,1,90,210,,new,idle_timeout,"
                               "1:eGdaE36ivsxnM3NpfgD06A5eRj8=\n";

/* ---- field formatting ---- */

static void test_sink_time_edges(void **state)
{
    (void)state;
    char b[NS_SINK_TIME_SIZE];
    assert_string_equal(ns_sink_format_time(0, b, sizeof(b)), "1970-01-01T00:00:00.000000Z");
    /* nanoseconds are truncated, never rounded up into the next second */
    assert_string_equal(ns_sink_format_time(999999999ULL, b, sizeof(b)),
                        "1970-01-01T00:00:00.999999Z");
    assert_string_equal(ns_sink_format_time(1000ULL, b, sizeof(b)), "1970-01-01T00:00:00.000001Z");
    assert_string_equal(ns_sink_format_time(999ULL, b, sizeof(b)), "1970-01-01T00:00:00.000000Z");
    assert_string_equal(ns_sink_format_time(1709251199999999999ULL, b, sizeof(b)),
                        "2024-02-29T23:59:59.999999Z");
    assert_string_equal(ns_sink_format_time(1709251200000000000ULL, b, sizeof(b)),
                        "2024-03-01T00:00:00.000000Z");
    /* 2038-01-19T03:14:08Z, one second past the 32-bit time_t limit */
    assert_string_equal(ns_sink_format_time(2147483648000000000ULL, b, sizeof(b)),
                        "2038-01-19T03:14:08.000000Z");
    /* a buffer too small is cut, still NUL-terminated */
    char small[11];
    assert_string_equal(ns_sink_format_time(0, small, sizeof(small)), "1970-01-01");
}

static void test_sink_proto_names(void **state)
{
    (void)state;
    static const struct {
        uint8_t proto;
        const char *name;
    } cases[] = {
        {1, "icmp"}, {2, "igmp"},    {6, "tcp"},    {17, "udp"}, {47, "gre"}, {50, "esp"},
        {51, "ah"},  {58, "icmpv6"}, {132, "sctp"}, {0, "0"},    {99, "99"},  {255, "255"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char b[8];
        ns_sink_proto_name(cases[i].proto, b, sizeof(b));
        assert_string_equal(b, cases[i].name);
    }
}

static void test_sink_tcp_flag_letters(void **state)
{
    (void)state;
    char b[9];
    ns_sink_tcp_flags(0, b, sizeof(b));
    assert_string_equal(b, "");
    ns_sink_tcp_flags(0xff, b, sizeof(b));
    assert_string_equal(b, "FSRPAUEC");
    ns_sink_tcp_flags(NS_TCP_SYN | NS_TCP_ACK, b, sizeof(b));
    assert_string_equal(b, "SA");
    ns_sink_tcp_flags(NS_TCP_RST | NS_TCP_CWR | NS_TCP_FIN, b, sizeof(b));
    assert_string_equal(b, "FRC");
}

static void test_sink_record_fields(void **state)
{
    (void)state;
    struct ns_flow f;
    struct ns_flow_record r;
    flow_udp6(&f);
    ns_sink_flow_record(&f, &r);
    assert_string_equal(r.proto, "udp");
    assert_string_equal(r.src_addr, "2001:db8::2"); /* the initiator is the key's hi side */
    assert_int_equal(r.src_port, 40000);
    assert_string_equal(r.dst_addr, "2001:db8::1");
    assert_int_equal(r.dst_port, 53);
    assert_int_equal(r.vlan, 100);
    assert_string_equal(r.tcp_flags, "");
    assert_string_equal(r.state, "new");
    assert_string_equal(r.end_reason, "idle_timeout");
}

static void test_sink_community_id_spec_example(void **state)
{
    (void)state;
    struct ns_flow f;
    struct ns_flow_record r;
    memset(&f, 0, sizeof(f));
    f.key.ipver = 4;
    f.key.proto = NS_IPPROTO_TCP;
    ip4(f.key.lo, 66, 35, 250, 204); /* lower address first, with its port */
    ip4(f.key.hi, 128, 232, 110, 120);
    f.key.lo_port = 80;
    f.key.hi_port = 34855;
    f.src_is_lo = false;
    ns_sink_flow_record(&f, &r);
    assert_string_equal(r.community_id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    assert_string_equal(r.src_addr, "128.232.110.120");
    assert_int_equal(r.src_port, 34855);
}

/* ---- JSON ---- */

static void test_sink_json_lines(void **state)
{
    (void)state;
    struct ns_flow f;
    struct ns_flow_record r;
    struct capture c;

    flow_tcp(&f);
    ns_sink_flow_record(&f, &r);
    cap_open(&c);
    assert_int_equal(ns_sink_flow_json(c.fp, &r), 0);
    cap_check(&c, json_tcp);

    flow_udp6(&f);
    ns_sink_flow_record(&f, &r);
    cap_open(&c);
    assert_int_equal(ns_sink_flow_json(c.fp, &r), 0);
    cap_check(&c, json_udp6);

    flow_icmp(&f);
    ns_sink_flow_record(&f, &r);
    cap_open(&c);
    assert_int_equal(ns_sink_flow_json(c.fp, &r), 0);
    cap_check(&c, json_icmp);
}

static void test_sink_json_other_protocols(void **state)
{
    (void)state;
    struct ns_flow f;
    struct ns_flow_record r;
    struct capture c;

    /* GRE between 10.1.1.1 and 10.1.1.2: no ports, no flags */
    memset(&f, 0, sizeof(f));
    f.key.ipver = 4;
    f.key.proto = 47;
    ip4(f.key.lo, 10, 1, 1, 1);
    ip4(f.key.hi, 10, 1, 1, 2);
    f.src_is_lo = true;
    f.end = NS_FLOW_END_EVICTED;
    f.packets[0] = 1;
    f.bytes[0] = 1514;
    f.first_ns = 1709251200000001000ULL;
    f.last_ns = 1709251200000001000ULL;
    ns_sink_flow_record(&f, &r);
    cap_open(&c);
    assert_int_equal(ns_sink_flow_json(c.fp, &r), 0);
    cap_check(&c, "{\"type\":\"flow\",\"schema\":1,\"proto\":\"gre\",\"src_addr\":\"10.1.1.1\","
                  "\"src_port\":0,\"dst_addr\":\"10.1.1.2\",\"dst_port\":0,\"vlan\":0,"
                  "\"first_seen\":\"2024-03-01T00:00:00.000001Z\","
                  "\"last_seen\":\"2024-03-01T00:00:00.000001Z\",\"packets_fwd\":1,"
                  "\"packets_rev\":0,\"bytes_fwd\":1514,\"bytes_rev\":0,\"tcp_flags\":\"\","
                  "\"state\":\"new\",\"end_reason\":\"evicted\","
                  "\"community_id\":\"1:6bVMFPWneS3bg49/6T1HieDmRMQ=\"}\n");

    /* protocol 99 has no name: its number as a string */
    f.key.proto = 99;
    ns_sink_flow_record(&f, &r);
    assert_string_equal(r.proto, "99");
    assert_string_equal(r.community_id, "1:Y0byryakOpakHU7LU5NJelnFBYQ=");
}

static void test_sink_stats_json(void **state)
{
    (void)state;
    struct ns_pipeline_stats st;
    struct capture c;
    memset(&st, 0, sizeof(st));
    st.source.frames = 10;
    st.source.filtered = 1;
    st.source.inputs = 2;
    st.source.inputs_failed = 1;
    st.source.live_dropped = 4;
    st.decode.decoded = 7;
    st.decode.non_ip = 1;
    st.decode.snapped = 3;
    st.decode.reason[NS_DEC_IPV4_TRUNC] = 2;
    st.decode.reason[NS_DEC_ICMPV6_TRUNC] = 5;
    st.defrag.fragments = 2;
    st.defrag.reassembled = 1;
    st.defrag.duplicates = 6;
    st.defrag.invalid = 8;
    st.flow.created = 3;
    st.flow.ended = 3;
    st.flow.evicted = 9;
    st.flow.timed_out = 11;
    st.flow.reused = 12;
    st.flow.active_max = 13;
    /*
     * "malformed" lists every reason of decode.h in its order, zeros
     * included; the list is built from the same X-macro the decoder uses.
     */
    char mal[2048];
    size_t n = 0;
    mal[0] = '\0';
#define MAL_ITEM(name, text)                                                                       \
    n += (size_t)snprintf(mal + n, sizeof(mal) - n, "%s\"%s\":%d", n == 0 ? "" : ",", text,        \
                          NS_DEC_##name == NS_DEC_IPV4_TRUNC     ? 2                               \
                          : NS_DEC_##name == NS_DEC_ICMPV6_TRUNC ? 5                               \
                                                                 : 0);                             \
    assert_true(n < sizeof(mal));
    NS_DEC_REASON_MAP(MAL_ITEM)
#undef MAL_ITEM
    assert_non_null(strstr(mal, "\"link_unsupported\":0,\"eth_truncated\":0,"));
    assert_non_null(strstr(mal, ",\"ipv4_truncated\":2,"));
    assert_non_null(strstr(mal, ",\"icmpv6_truncated\":5"));

    char want[4096];
    snprintf(want, sizeof(want),
             "{\"type\":\"stats\",\"schema\":1,\"packets_read\":10,\"packets_decoded\":7,"
             "\"packets_non_ip\":1,\"packets_filtered\":1,\"packets_snapped\":3,"
             "\"malformed\":{%s},"
             "\"fragments\":2,\"datagrams_reassembled\":1,"
             "\"defrag\":{\"fragments\":2,\"reassembled\":1,\"duplicates\":6,\"overlaps\":0,"
             "\"overlaps_conflicting\":0,\"timeouts\":0,\"evicted\":0,\"too_big\":0,"
             "\"invalid\":8},"
             "\"flows\":{\"created\":3,\"ended\":3,\"evicted\":9,\"timed_out\":11,"
             "\"reused\":12,\"active_max\":13},"
             "\"inputs\":2,\"inputs_failed\":1,\"live_dropped\":4}\n",
             mal);
    cap_open(&c);
    assert_int_equal(ns_sink_stats_json(c.fp, &st), 0);
    cap_check(&c, want);
}

static void test_sink_stats_text(void **state)
{
    (void)state;
    struct ns_pipeline_stats st;
    struct capture c;
    memset(&st, 0, sizeof(st));
    st.source.frames = 1234;
    st.source.inputs = 1;
    st.decode.decoded = 1200;
    st.decode.reason[NS_DEC_TCP_TRUNC] = 3;
    st.decode.reason[NS_DEC_ETH_TRUNC] = 1;
    st.defrag.timeouts = 2;
    st.flow.created = 40;
    st.flow.ended = 40;
    st.flow.active_max = 17;
    cap_open(&c);
    assert_int_equal(ns_sink_stats_text(c.fp, &st), 0);
    cap_check(&c, "  packets read                         1234\n"
                  "  packets decoded                      1200\n"
                  "  packets non-IP                          0\n"
                  "  packets filtered                        0\n"
                  "  packets snapped                         0\n"
                  "  malformed                               4\n"
                  "    eth_truncated                         1\n"
                  "    tcp_truncated                         3\n"
                  "  fragments                               0\n"
                  "  datagrams reassembled                   0\n"
                  "  flows created                          40\n"
                  "  flows ended                            40\n"
                  "  flows evicted                           0\n"
                  "  flows timed out                         0\n"
                  "  flows reused                            0\n"
                  "  flows active max                       17\n"
                  "  inputs                                  1\n"
                  "  inputs failed                           0\n"
                  "  live dropped                            0\n"
                  "  defrag timeouts                         2\n");
}

/* ---- CSV ---- */

static void csv_one(const char *in, const char *want)
{
    struct capture c;
    cap_open(&c);
    assert_int_equal(ns_sink_csv_field(c.fp, in, strlen(in)), 0);
    cap_check(&c, want);
}

static void test_sink_csv_quoting(void **state)
{
    (void)state;
    csv_one("plain", "plain");
    csv_one("", "");
    csv_one("1:abc+/=", "1:abc+/="); /* base64 needs no quotes */
    csv_one("a,b", "\"a,b\"");
    csv_one("say \"hi\"", "\"say \"\"hi\"\"\"");
    csv_one("\"", "\"\"\"\"");
    csv_one("two\nlines", "\"two\nlines\"");
    csv_one("cr\r", "\"cr\r\"");
    csv_one("  spaces kept  ", "  spaces kept  ");

    /* a counted field: bytes after len are not written */
    struct capture c;
    cap_open(&c);
    assert_int_equal(ns_sink_csv_field(c.fp, "x,yz", 3), 0);
    cap_check(&c, "\"x,y\"");
}

static void test_sink_csv_rows(void **state)
{
    (void)state;
    struct ns_flow f;
    struct ns_flow_record r;
    struct capture c;

    flow_tcp(&f);
    ns_sink_flow_record(&f, &r);
    cap_open(&c);
    assert_int_equal(ns_sink_flow_csv_header(c.fp), 0);
    assert_int_equal(ns_sink_flow_csv(c.fp, &r), 0);
    flow_udp6(&f);
    ns_sink_flow_record(&f, &r);
    assert_int_equal(ns_sink_flow_csv(c.fp, &r), 0);

    char want[1024];
    snprintf(want, sizeof(want), "%s%s%s", csv_header, csv_tcp, csv_udp6);
    cap_check(&c, want);
}

/* ---- the writer ---- */

static void write_flows(enum ns_sink_format fmt, bool live, size_t rows, const char *want)
{
    struct ns_sink_flow *s = NULL;
    struct ns_flow f;
    struct capture c;
    cap_open(&c);
    struct ns_sink_flow_opts o = {
        .format = fmt, .out = c.fp, .live = live, .text_buffer_rows = rows};
    assert_int_equal(ns_sink_flow_new(&s, &o), 0);
    flow_tcp(&f);
    assert_int_equal(ns_sink_flow_write(s, &f), 0);
    flow_udp6(&f);
    assert_int_equal(ns_sink_flow_write(s, &f), 0);
    assert_int_equal(ns_sink_flow_finish(s), 0);
    assert_int_equal(ns_sink_flow_count(s), 2);
    ns_sink_flow_free(s);
    cap_check(&c, want);
}

static void test_sink_writer_json_csv(void **state)
{
    (void)state;
    char want[2048];
    snprintf(want, sizeof(want), "%s%s", json_tcp, json_udp6);
    write_flows(NS_SINK_JSON, false, 0, want);
    snprintf(want, sizeof(want), "%s%s%s", csv_header, csv_tcp, csv_udp6);
    write_flows(NS_SINK_CSV, false, 0, want);
}

static void test_sink_text_table(void **state)
{
    (void)state;
    /* all rows held: widths fit the widest cell of each column */
    write_flows(NS_SINK_TEXT, false, 0,
                "PROTO  SRC          SPORT  DST          DPORT  VLAN  FIRST                        "
                "LAST                         PKTS_FWD  PKTS_REV  BYTES_FWD  BYTES_REV  FLAGS  "
                "STATE   END\n"
                "tcp    10.0.0.1     51000  10.0.0.2        80     0  2024-03-01T00:00:00.123456Z  "
                "2024-03-01T00:00:01.500000Z         5         4        420       3140  FSPA   "
                "closed  closed\n"
                "udp    2001:db8::2  40000  2001:db8::1     53   100  2024-02-29T23:59:59.999999Z  "
                "2024-03-01T00:01:00.000000Z         1         1         90        210         "
                "new     idle_timeout\n");
}

static void test_sink_text_past_the_buffer(void **state)
{
    (void)state;
    /* one row held: the second keeps the widths of the first and overflows them */
    write_flows(NS_SINK_TEXT, false, 1,
                "PROTO  SRC       SPORT  DST       DPORT  VLAN  FIRST                        "
                "LAST                         PKTS_FWD  PKTS_REV  BYTES_FWD  BYTES_REV  FLAGS  "
                "STATE   END\n"
                "tcp    10.0.0.1  51000  10.0.0.2     80     0  2024-03-01T00:00:00.123456Z  "
                "2024-03-01T00:00:01.500000Z         5         4        420       3140  FSPA   "
                "closed  closed\n"
                "udp    2001:db8::2  40000  2001:db8::1     53   100  2024-02-29T23:59:59.999999Z  "
                "2024-03-01T00:01:00.000000Z         1         1         90        210         "
                "new     idle_timeout\n");
}

static void test_sink_text_live(void **state)
{
    (void)state;
    write_flows(NS_SINK_TEXT, true, 0,
                "PROTO   SRC              SPORT  DST              DPORT  VLAN  FIRST              "
                "          LAST                         PKTS_FWD  PKTS_REV   BYTES_FWD   BYTES_REV"
                "  FLAGS     STATE        END\n"
                "tcp     10.0.0.1         51000  10.0.0.2            80     0  2024-03-01T00:00:00"
                ".123456Z  2024-03-01T00:00:01.500000Z         5         4         420        3140"
                "  FSPA      closed       closed\n"
                "udp     2001:db8::2      40000  2001:db8::1         53   100  2024-02-29T23:59:59"
                ".999999Z  2024-03-01T00:01:00.000000Z         1         1          90         210"
                "            new          idle_timeout\n");
}

static void test_sink_no_flows(void **state)
{
    (void)state;
    static const struct {
        enum ns_sink_format fmt;
        bool live;
        const char *want;
    } cases[] = {
        {NS_SINK_JSON, false, ""},
        {NS_SINK_CSV, false, csv_header},
        {NS_SINK_TEXT, false,
         "PROTO  SRC  SPORT  DST  DPORT  VLAN  FIRST  LAST  PKTS_FWD  PKTS_REV  BYTES_FWD  "
         "BYTES_REV  FLAGS  STATE  END\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ns_sink_flow *s = NULL;
        struct capture c;
        cap_open(&c);
        struct ns_sink_flow_opts o = {.format = cases[i].fmt, .out = c.fp, .live = cases[i].live};
        assert_int_equal(ns_sink_flow_new(&s, &o), 0);
        assert_int_equal(ns_sink_flow_finish(s), 0);
        assert_int_equal(ns_sink_flow_count(s), 0);
        ns_sink_flow_free(s);
        cap_check(&c, cases[i].want);
    }
}

/*
 * The threaded writer gives the same bytes, in the same order, as the direct
 * one, across many batches and a last partial batch, in every format.
 */
static void test_sink_threaded_same_output(void **state)
{
    (void)state;
    const size_t n = NS_SINK_BATCH * NS_SINK_QUEUE_BATCHES * 3 + 17;
    const enum ns_sink_format fmts[] = {NS_SINK_JSON, NS_SINK_CSV, NS_SINK_TEXT};
    for (size_t k = 0; k < sizeof(fmts) / sizeof(fmts[0]); k++) {
        struct capture c[2];
        for (int threaded = 0; threaded < 2; threaded++) {
            struct ns_sink_flow *s = NULL;
            struct ns_flow f;
            cap_open(&c[threaded]);
            struct ns_sink_flow_opts o = {
                .format = fmts[k], .out = c[threaded].fp, .threaded = threaded != 0};
            assert_int_equal(ns_sink_flow_new(&s, &o), 0);
            for (size_t i = 0; i < n; i++) {
                if (i % 2 == 0) {
                    flow_tcp(&f);
                } else {
                    flow_udp6(&f);
                }
                f.packets[0] = i; /* every record differs, so order shows */
                assert_int_equal(ns_sink_flow_write(s, &f), 0);
            }
            assert_int_equal(ns_sink_flow_finish(s), 0);
            assert_int_equal(ns_sink_flow_count(s), n);
            ns_sink_flow_free(s);
            assert_int_equal(fclose(c[threaded].fp), 0);
        }
        assert_int_equal(c[0].len, c[1].len);
        assert_memory_equal(c[0].buf, c[1].buf, c[0].len);
        free(c[0].buf);
        free(c[1].buf);
    }
}

/* Freeing a threaded writer without finish stops its thread and loses nothing held. */
static void test_sink_threaded_free_without_finish(void **state)
{
    (void)state;
    struct ns_sink_flow *s = NULL;
    struct ns_flow f;
    struct capture c;
    cap_open(&c);
    struct ns_sink_flow_opts o = {.format = NS_SINK_JSON, .out = c.fp, .threaded = true};
    assert_int_equal(ns_sink_flow_new(&s, &o), 0);
    flow_tcp(&f);
    assert_int_equal(ns_sink_flow_write(s, &f), 0);
    ns_sink_flow_free(s);
    cap_check(&c, json_tcp);
}

static void test_sink_bad_args(void **state)
{
    (void)state;
    struct ns_sink_flow *s = (struct ns_sink_flow *)&s;
    struct ns_sink_flow_opts o = {.format = NS_SINK_JSON, .out = NULL};
    assert_int_equal(ns_sink_flow_new(&s, &o), NS_EINVAL);
    assert_null(s);
    ns_sink_flow_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_time_edges),
        cmocka_unit_test(test_sink_proto_names),
        cmocka_unit_test(test_sink_tcp_flag_letters),
        cmocka_unit_test(test_sink_record_fields),
        cmocka_unit_test(test_sink_community_id_spec_example),
        cmocka_unit_test(test_sink_json_lines),
        cmocka_unit_test(test_sink_json_other_protocols),
        cmocka_unit_test(test_sink_stats_json),
        cmocka_unit_test(test_sink_stats_text),
        cmocka_unit_test(test_sink_csv_quoting),
        cmocka_unit_test(test_sink_csv_rows),
        cmocka_unit_test(test_sink_writer_json_csv),
        cmocka_unit_test(test_sink_text_table),
        cmocka_unit_test(test_sink_text_past_the_buffer),
        cmocka_unit_test(test_sink_text_live),
        cmocka_unit_test(test_sink_no_flows),
        cmocka_unit_test(test_sink_threaded_same_output),
        cmocka_unit_test(test_sink_threaded_free_without_finish),
        cmocka_unit_test(test_sink_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
