/*
 * test_analyze_devices.c - the device inventory (devices.h) driven through
 * its stream callbacks with HL7 v2 messages (MLLP, split at every byte) and
 * a DICOM A-ASSOCIATE-RQ (PS3.8 9.3.2) built here: detection, identifier
 * precedence and provenance, ports, MAC and vendor, reports only when new or
 * changed, the final refresh, caps, privacy, the JSON / CSV writers, and
 * allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netsift/alloc.h"
#include "netsift/devices.h"
#include "netsift/err.h"

#define MAX_RECS 16

/* What on_record saw: the JSON and CSV of each report. */
struct recs {
    size_t n;
    char json[MAX_RECS][4096];
    struct ns_device last;
    char last_identifier[256];
    char last_provenance[64];
    size_t last_nidents;
};

static void on_record(void *ud, const struct ns_device *d)
{
    struct recs *r = ud;
    size_t len = 0;
    assert_true(r->n < MAX_RECS);
    assert_int_equal(ns_device_json(d, r->json[r->n], sizeof(r->json[r->n]) - 1, &len), 0);
    r->json[r->n][len] = '\0';
    r->n++;
    r->last = *d;
    snprintf(r->last_identifier, sizeof(r->last_identifier), "%s", d->identifier);
    snprintf(r->last_provenance, sizeof(r->last_provenance), "%s", d->provenance);
    r->last_nidents = d->nidentifiers;
}

/* A TCP connection 10.1.2.3:40000 -> 10.9.9.9:<port> (the client is src, direction 0). */
struct fake_conn {
    struct ns_flow flow;
    struct ns_tcp_conn conn;
};

static void fake_conn_init(struct fake_conn *f, uint16_t server_port)
{
    memset(f, 0, sizeof(*f));
    f->flow.key.ipver = 4;
    f->flow.key.proto = 6;
    memcpy(f->flow.key.lo, (const uint8_t[]){10, 1, 2, 3}, 4);
    memcpy(f->flow.key.hi, (const uint8_t[]){10, 9, 9, 9}, 4);
    f->flow.key.lo_port = 40000;
    f->flow.key.hi_port = server_port;
    f->flow.src_is_lo = true;
    f->conn.flow = &f->flow;
}

static const uint8_t client_mac[6] = {0x00, 0x03, 0xb1, 0xb5, 0xb6, 0x48};

/* The packet that carried the last chunk, from the client (dir 0) or the server. */
static void packet_from(struct ns_devices *d, int dir)
{
    struct ns_packet p;
    memset(&p, 0, sizeof(p));
    p.ipver = 4;
    p.src.family = 4;
    memcpy(p.src.a, dir == 0 ? (const uint8_t[]){10, 1, 2, 3} : (const uint8_t[]){10, 9, 9, 9}, 4);
    p.mac_src = client_mac;
    ns_devices_packet(d, &p);
}

/* Feed (s, n) one byte per call: messages split everywhere. */
static void feed_bytes(struct ns_devices *d, struct fake_conn *f, int dir, const char *s, size_t n,
                       uint64_t ts)
{
    for (size_t i = 0; i < n; i++) {
        ns_devices_on_data(d, &f->conn, dir, (const uint8_t *)s + i, 1, ts);
    }
}

static void feed(struct ns_devices *d, struct fake_conn *f, int dir, const char *s, size_t n,
                 uint64_t ts)
{
    ns_devices_on_data(d, &f->conn, dir, (const uint8_t *)s, n, ts);
}

static void end_conn(struct ns_devices *d, struct fake_conn *f)
{
    ns_devices_on_close(d, &f->conn, 0, NS_TCP_CLOSE_FIN, 0);
    ns_devices_on_close(d, &f->conn, 1, NS_TCP_CLOSE_FIN, 0);
    ns_devices_on_conn_end(d, &f->conn);
    assert_null(f->conn.app);
}

/* MLLP-framed ADT with a patient (PID), PRT-16 and OBX-18; '#' as field separator. */
static const char adt_prt16_obx18[] =
    "\x0b"
    "MSH#^~\\&#PUMPGW#ICU#HIS#GENHOSP#20240301000000##ADT^A01#C1#P#2.7\r"
    "PID#1##MRN777^^^H^MR##DOE^SECRETNAME\r"
    "PRT#1#UC##############Pump-16^IHE\r"
    "OBX#1#NM#x##5######F#######Obx-18\r"
    "\x1c\x0d";

/* The same device later: PRT-10 with an escaped separator (\S\ is '^'). */
static const char adt_prt10[] =
    "\x0b"
    "MSH|^~\\&|PUMPGW|ICU|HIS|GENHOSP|20240301000100||ADT^A08|C2|P|2.7\r"
    "PRT|2|UC||||||||(01)00643169007222\\S\\x\r"
    "\x1c\x0d";

/* An order without any device identifier. */
static const char orm[] = "\x0b"
                          "MSH|^~\\&|LIS|LAB|HIS|GENHOSP|20240301000000||ORM^O01|C3|P|2.3\r"
                          "PID|1||MRN999||ROE^HIDDEN\r"
                          "\x1c\x0d";

static const char oui_csv[] = "Registry,Assignment,Organization Name,Organization Address\n"
                              "MA-L,0003B1,\"Pumps, Inc.\",1 Road\n";

static struct ns_devices *new_devices(struct recs *r, const struct ns_oui *oui, size_t max_devices,
                                      size_t max_idents)
{
    struct ns_devices_opts o;
    struct ns_devices *d = NULL;
    memset(&o, 0, sizeof(o));
    o.on_record = on_record;
    o.ud = r;
    o.oui = oui;
    o.client_id = "sensor-1";
    o.max_devices = max_devices;
    o.max_idents = max_idents;
    assert_int_equal(ns_devices_new(&d, &o), 0);
    return d;
}

static void test_devices_hl7_precedence(void **state)
{
    (void)state;
    struct recs r = {0};
    struct ns_oui *oui = NULL;
    struct fake_conn f;
    assert_int_equal(ns_oui_load_buffer(&oui, oui_csv, strlen(oui_csv), 24, NULL), 0);
    struct ns_devices *d = new_devices(&r, oui, 0, 0);
    fake_conn_init(&f, 2575);

    /* message 1, split at every byte: PRT-16 wins over OBX-18 */
    feed_bytes(d, &f, 0, adt_prt16_obx18, sizeof(adt_prt16_obx18) - 1, 1709251200000000000ULL);
    assert_int_equal(r.n, 0); /* waits for the packet, to learn its MAC */
    packet_from(d, 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(
        r.json[0],
        "{\"type\":\"device\",\"schema\":1,\"ipv4_address\":\"10.1.2.3\",\"ipv6_address\":\"\","
        "\"mac_address\":\"00:03:b1:b5:b6:48\",\"vendor\":\"Pumps, Inc.\",\"open_port_tcp\":\"\","
        "\"connect_port_tcp\":\"2575\",\"identifier\":\"Pump-16^IHE\",\"provenance\":\"HL7 "
        "PRT-16\",\"identifiers\":[{\"value\":\"Pump-16^IHE\",\"provenance\":\"HL7 PRT-16\"},"
        "{\"value\":\"Obx-18\",\"provenance\":\"HL7 OBX-18\"},{\"value\":\"PUMPGW\","
        "\"provenance\":\"HL7 MSH-3\"},{\"value\":\"ICU\",\"provenance\":\"HL7 MSH-4\"}],"
        "\"protocol\":\"hl7\",\"first_seen\":\"2024-03-01T00:00:00.000000Z\",\"last_seen\":"
        "\"2024-03-01T00:00:00.000000Z\",\"client_id\":\"sensor-1\",\"community_id\":"
        "\"1:rwxJpL6h77aF16Bh97EB1CImDkE=\"}\n");

    /* the server's ACK: no device identifier, no asset for the server */
    static const char ack[] = "\x0bMSH|^~\\&|HIS|GENHOSP|PUMPGW|ICU|20240301000000||ACK|A1|P|2.7\r"
                              "MSA|AA|C1\r\x1c\x0d";
    feed(d, &f, 1, ack, sizeof(ack) - 1, 1709251200500000000ULL);
    packet_from(d, 1);
    assert_int_equal(r.n, 1);

    /* the same message again: nothing changed, no report */
    feed(d, &f, 0, adt_prt16_obx18, sizeof(adt_prt16_obx18) - 1, 1709251201000000000ULL);
    packet_from(d, 0);
    assert_int_equal(r.n, 1);

    /* message 2: a UDI in PRT-10 becomes the identifier */
    feed(d, &f, 0, adt_prt10, sizeof(adt_prt10) - 1, 1709251260000000000ULL);
    packet_from(d, 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.last_identifier, "(01)00643169007222^x");
    assert_string_equal(r.last_provenance, "HL7 PRT-10");
    assert_int_equal(r.last_nidents, 5);
    assert_int_equal(r.last.connect_port_tcp, 2575);
    assert_int_equal(r.last.open_port_tcp, 0);
    assert_int_equal(r.last.protocols, NS_DEVICE_PROTO_HL7);
    assert_int_equal(r.last.report, 2);

    end_conn(d, &f);
    ns_devices_finish(d);
    assert_int_equal(r.n, 2); /* last_seen did not move since report 2 */
    const struct ns_devices_stats *st = ns_devices_stats(d);
    assert_int_equal(st->devices, 1);
    assert_int_equal(st->records, 2);
    assert_int_equal(st->conns_hl7, 1);
    assert_int_equal(st->hl7_messages, 4);
    for (size_t i = 0; i < r.n; i++) {
        assert_null(strstr(r.json[i], "SECRETNAME"));
        assert_null(strstr(r.json[i], "MRN777"));
        assert_null(strstr(r.json[i], "DOE"));
    }
    ns_devices_free(d);
    ns_oui_free(oui);
}

/* A device that accepts the connection gets open_port_tcp; finish refreshes last_seen. */
static void test_devices_hl7_server_side_and_refresh(void **state)
{
    (void)state;
    struct recs r = {0};
    struct fake_conn f;
    struct ns_devices *d = new_devices(&r, NULL, 0, 0);
    fake_conn_init(&f, 6661);
    feed(d, &f, 0, orm, sizeof(orm) - 1, 1000000000ULL);
    packet_from(d, 0);
    assert_int_equal(r.n, 0); /* no identifier: no asset */
    feed(d, &f, 1, adt_prt10, sizeof(adt_prt10) - 1, 2000000000ULL);
    packet_from(d, 1);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.last.ipv4_address, "10.9.9.9");
    assert_int_equal(r.last.open_port_tcp, 6661);
    assert_int_equal(r.last.connect_port_tcp, 0);
    assert_string_equal(r.last.mac_address, "00:03:b1:b5:b6:48");
    assert_string_equal(r.last.vendor, "");
    feed(d, &f, 1, adt_prt10, sizeof(adt_prt10) - 1, 5000000000ULL);
    packet_from(d, 1);
    assert_int_equal(r.n, 1);
    end_conn(d, &f);
    ns_devices_finish(d);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.last.first_ns, 2000000000ULL);
    assert_int_equal(r.last.last_ns, 5000000000ULL);
    assert_null(strstr(r.json[0], "HIDDEN"));
    ns_devices_free(d);
}

/* Append a DICOM item: type, reserved, u16 BE length, value. */
static size_t put_item(uint8_t *p, uint8_t type, const char *v, size_t n)
{
    p[0] = type;
    p[1] = 0;
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
    memcpy(p + 4, v, n);
    return 4 + n;
}

/* An A-ASSOCIATE-RQ from calling AE "MODALITY_7" to "ARCHIVE" (PS3.8 9.3.2). */
static size_t make_rq(uint8_t *b)
{
    size_t n = 6;
    b[n++] = 0x00; /* protocol version 1 */
    b[n++] = 0x01;
    b[n++] = 0; /* reserved */
    b[n++] = 0;
    memcpy(b + n, "ARCHIVE         ", 16); /* called AE */
    n += 16;
    memcpy(b + n, "MODALITY_7      ", 16); /* calling AE */
    n += 16;
    memset(b + n, 0, 32); /* reserved */
    n += 32;
    n += put_item(b + n, 0x10, "1.2.840.10008.3.1.1.1", 21); /* application context */
    uint8_t pc[64];
    size_t k = 0;
    pc[k++] = 1; /* presentation context id */
    pc[k++] = 0;
    pc[k++] = 0;
    pc[k++] = 0;
    k += put_item(pc + k, 0x30, "1.2.840.10008.1.1", 17); /* abstract syntax: verification */
    k += put_item(pc + k, 0x40, "1.2.840.10008.1.2", 17); /* transfer syntax: implicit LE */
    n += put_item(b + n, 0x20, (const char *)pc, k);
    uint8_t ui[64];
    k = 0;
    k += put_item(ui + k, 0x51, "\x00\x00\x40\x00", 4); /* max length 16384 */
    k += put_item(ui + k, 0x52, "1.2.3.4", 7);          /* implementation class UID */
    k += put_item(ui + k, 0x55, "TESTIMPL", 8);         /* implementation version name */
    n += put_item(b + n, 0x50, (const char *)ui, k);
    b[0] = 0x01; /* A-ASSOCIATE-RQ */
    b[1] = 0;
    uint32_t len = (uint32_t)(n - 6);
    b[2] = (uint8_t)(len >> 24);
    b[3] = (uint8_t)(len >> 16);
    b[4] = (uint8_t)(len >> 8);
    b[5] = (uint8_t)len;
    return n;
}

static void test_devices_dicom_requestor(void **state)
{
    (void)state;
    struct recs r = {0};
    struct fake_conn f;
    uint8_t rq[512];
    size_t n = make_rq(rq);
    struct ns_devices *d = new_devices(&r, NULL, 0, 0);
    fake_conn_init(&f, 104);
    /* first chunk of 3 bytes: too short to decide, held */
    feed(d, &f, 0, (const char *)rq, 3, 7000000000ULL);
    assert_non_null(f.conn.app);
    feed(d, &f, 0, (const char *)rq + 3, n - 3, 7000000000ULL);
    ns_devices_flush(d); /* no packet: no MAC */
    assert_int_equal(r.n, 1);
    assert_string_equal(r.last_identifier, "MODALITY_7");
    assert_string_equal(r.last_provenance, "DICOM calling AE title");
    assert_string_equal(r.last.mac_address, "");
    assert_int_equal(r.last.connect_port_tcp, 104);
    assert_int_equal(r.last_nidents, 3);
    assert_non_null(strstr(r.json[0], "{\"value\":\"TESTIMPL\",\"provenance\":\"DICOM "
                                      "implementation version name\"}"));
    end_conn(d, &f);
    assert_int_equal(ns_devices_stats(d)->associations, 1);
    assert_int_equal(ns_devices_stats(d)->conns_dicom, 1);
    ns_devices_free(d);
}

/* Other traffic costs no memory and reports nothing. */
static void test_devices_ignored(void **state)
{
    (void)state;
    struct recs r = {0};
    struct fake_conn f;
    struct ns_devices *d = new_devices(&r, NULL, 0, 0);
    fake_conn_init(&f, 80);
    static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\n\r\nMSH|^~\\&|not|at|the|start";
    uint64_t before = ns_alloc_count();
    feed(d, &f, 0, get, sizeof(get) - 1, 1);
    feed(d, &f, 1, resp, sizeof(resp) - 1, 2);
    feed(d, &f, 0, adt_prt10, sizeof(adt_prt10) - 1, 3); /* later bytes are not looked at */
    assert_int_equal(ns_alloc_count(), before);
    packet_from(d, 0);
    end_conn(d, &f);
    ns_devices_finish(d);
    assert_int_equal(r.n, 0);
    assert_int_equal(ns_devices_stats(d)->conns_ignored, 1);
    ns_devices_free(d);
}

/* Caps: one device at most, two identifiers per device. */
static void test_devices_caps(void **state)
{
    (void)state;
    struct recs r = {0};
    struct fake_conn f;
    struct ns_devices *d = new_devices(&r, NULL, 1, 2);
    fake_conn_init(&f, 2575);
    feed(d, &f, 0, adt_prt16_obx18, sizeof(adt_prt16_obx18) - 1, 1);
    feed(d, &f, 1, adt_prt10, sizeof(adt_prt10) - 1, 2); /* the server: a second device */
    ns_devices_flush(d);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.last_nidents, 2);
    const struct ns_devices_stats *st = ns_devices_stats(d);
    assert_int_equal(st->devices, 1);
    assert_int_equal(st->devices_dropped, 1);
    assert_int_equal(st->idents_dropped, 2); /* MSH-3 and MSH-4 */
    end_conn(d, &f);
    ns_devices_free(d);
}

/* CSV: one header, 14 columns in every row, identifiers in one quoted column. */
static void test_devices_csv(void **state)
{
    (void)state;
    struct ns_device_ident ids[2] = {{"a;b%c", "HL7 PRT-10"}, {"x,y", "HL7 MSH-3"}};
    struct ns_device dv;
    memset(&dv, 0, sizeof(dv));
    snprintf(dv.ipv4_address, sizeof(dv.ipv4_address), "10.0.0.1");
    dv.vendor = "Pumps, Inc.";
    dv.connect_port_tcp = 2575;
    dv.identifier = "a;b%c";
    dv.provenance = "HL7 PRT-10";
    dv.identifiers = ids;
    dv.nidentifiers = 2;
    dv.protocols = NS_DEVICE_PROTO_HL7 | NS_DEVICE_PROTO_DICOM;
    dv.first_ns = 1709251200123456789ULL;
    dv.last_ns = 1709251200123456789ULL;
    dv.client_id = "c";
    dv.community_id = "1:x";
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    assert_non_null(fp);
    assert_int_equal(ns_device_csv_header(fp), 0);
    assert_int_equal(ns_device_csv(fp, &dv), 0);
    fclose(fp);
    assert_string_equal(
        buf, "ipv4_address,ipv6_address,mac_address,vendor,open_port_tcp,connect_port_tcp,"
             "identifier,provenance,identifiers,protocol,first_seen,last_seen,client_id,"
             "community_id\n"
             "10.0.0.1,,,\"Pumps, Inc.\",,2575,a;b%c,HL7 PRT-10,\"HL7 PRT-10=a%3Bb%25c;HL7 "
             "MSH-3=x,y\",\"hl7,dicom\",2024-03-01T00:00:00.123456Z,2024-03-01T00:00:00.123456Z,"
             "c,1:x\n");
    free(buf);
}

/* Every allocation failing in turn: no crash, no leak (ASan), counted. */
static void test_devices_alloc_failures(void **state)
{
    (void)state;
    uint8_t rq[512];
    size_t n = make_rq(rq);
    for (uint64_t k = 1; k < 200; k++) {
        struct recs r = {0};
        struct fake_conn f;
        struct ns_devices_opts o;
        struct ns_devices *d = NULL;
        memset(&o, 0, sizeof(o));
        o.on_record = on_record;
        o.ud = &r;
        ns_alloc_fail_at(k);
        if (ns_devices_new(&d, &o) != 0) {
            ns_alloc_fail_at(0);
            continue;
        }
        fake_conn_init(&f, 2575);
        feed(d, &f, 0, adt_prt16_obx18, sizeof(adt_prt16_obx18) - 1, 1);
        feed(d, &f, 1, (const char *)rq, n, 2);
        ns_devices_flush(d);
        end_conn(d, &f);
        ns_devices_finish(d);
        ns_alloc_fail_at(0);
        assert_true(r.n <= 1);
        ns_devices_free(d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devices_hl7_precedence),
        cmocka_unit_test(test_devices_hl7_server_side_and_refresh),
        cmocka_unit_test(test_devices_dicom_requestor),
        cmocka_unit_test(test_devices_ignored),
        cmocka_unit_test(test_devices_caps),
        cmocka_unit_test(test_devices_csv),
        cmocka_unit_test(test_devices_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
