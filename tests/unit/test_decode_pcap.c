/*
 * test_decode_pcap.c - the decode stage on real captures from the shared data
 * folder (NS_SHARED_DATA, see its MANIFEST.md): Linux cooked v1 and v2, raw
 * IPv6, BSD null, 802.1ad QinQ, VLAN + PPPoE, IPv4 fragments.
 *
 * The expected values were read with tshark 4.0 (`tshark -r FILE -T fields
 * -e ip.src -e tcp.srcport ...`) and written in here. Each test skips with a
 * message when the folder is absent.
 *
 * This test links only the decode stage, so the classic pcap format (the
 * files used here are all pcap, not pcapng) is read by the small reader
 * below rather than by libpcap:
 *
 *   global header (24): magic (4) version (2+2) thiszone (4) sigfigs (4)
 *                       snaplen (4) linktype (4)
 *   record header (16): ts_sec (4) ts_frac (4) caplen (4) wirelen (4), then
 *                       caplen bytes; all in the byte order the magic shows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "netsift/decode.h"
#include "netsift/err.h"

#define MAX_FRAMES 600
#define MAX_SNAP   65536

/* Every frame of one file, decoded. */
struct decoded_file {
    int linktype;
    size_t n;
    struct ns_decode_stats st;
    int rc[MAX_FRAMES];
    enum ns_dec_reason why[MAX_FRAMES];
    struct ns_packet pkt[MAX_FRAMES];
    uint8_t *frame[MAX_FRAMES]; /* owned copies, so that the views stay valid */
};

static uint32_t get32(const uint8_t *b, bool swap)
{
    if (swap) {
        return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    }
    return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

static bool shared_data_present(void)
{
    struct stat st;
    if (stat(NS_SHARED_DATA "/pcap", &st) != 0) {
        print_message("skipping: shared data folder %s is absent\n", NS_SHARED_DATA);
        return false;
    }
    return true;
}

/* Read and decode every frame of `rel` (relative to NS_SHARED_DATA). */
static struct decoded_file *decode_file(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", NS_SHARED_DATA, rel);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        fail_msg("cannot open '%s'", path);
    }
    struct decoded_file *df = test_calloc(1, sizeof(*df));
    assert_non_null(df);
    uint8_t gh[24];
    assert_int_equal(fread(gh, 1, sizeof(gh), fp), sizeof(gh));
    uint32_t magic = get32(gh, false);
    bool swap = false, nano = false;
    if (magic == 0xa1b2c3d4U || magic == 0xa1b23c4dU) {
        nano = magic == 0xa1b23c4dU;
    } else if (magic == 0xd4c3b2a1U || magic == 0x4d3cb2a1U) {
        swap = true;
        nano = magic == 0x4d3cb2a1U;
    } else {
        fail_msg("'%s' is not a classic pcap file", path);
    }
    df->linktype = (int)(get32(gh + 20, swap) & 0xffff);
    uint8_t rh[16];
    static uint8_t buf[MAX_SNAP];
    while (fread(rh, 1, sizeof(rh), fp) == sizeof(rh)) {
        assert_true(df->n < MAX_FRAMES);
        uint32_t caplen = get32(rh + 8, swap);
        uint32_t wirelen = get32(rh + 12, swap);
        assert_true(caplen <= sizeof(buf));
        assert_int_equal(fread(buf, 1, caplen, fp), caplen);
        uint8_t *copy = test_malloc(caplen > 0 ? caplen : 1);
        memcpy(copy, buf, caplen);
        struct ns_packet *p = &df->pkt[df->n];
        memset(p, 0, sizeof(*p));
        p->data = copy;
        p->caplen = caplen;
        p->wirelen = wirelen;
        p->ts_ns = (uint64_t)get32(rh, swap) * 1000000000ULL +
                   (uint64_t)get32(rh + 4, swap) * (nano ? 1 : 1000);
        p->linktype = df->linktype;
        p->index = df->n + 1;
        p->src_name = rel;
        df->frame[df->n] = copy;
        df->rc[df->n] = ns_decode_packet(p, &df->st, &df->why[df->n]);
        df->n++;
    }
    fclose(fp);
    return df;
}

static void free_file(struct decoded_file *df)
{
    for (size_t i = 0; i < df->n; i++) {
        test_free(df->frame[i]);
    }
    test_free(df);
}

static const char *fmt(const struct ns_addr *a, char *buf)
{
    return ns_addr_format(a, buf, 64);
}

static void test_decode_pcap_sll2(void **state)
{
    (void)state;
    if (!shared_data_present()) {
        skip();
    }
    struct decoded_file *df = decode_file("pcap/linktype/ppp_sll2.pcap");
    char a[64];
    assert_int_equal(df->linktype, NS_LINK_SLL2);
    assert_int_equal(df->n, 3);
    assert_int_equal(df->st.decoded, 3);
    static const uint8_t mac[6] = {0xf0, 0x3f, 0x95, 0x8f, 0x82, 0x63};
    static const uint16_t ids[3] = {0x872c, 0x872d, 0x872e};
    static const uint8_t flags[3] = {0x18, 0x11, 0x11};
    static const uint32_t seqs[3] = {2865673674U, 2865673705U, 2865673705U};
    static const uint32_t lens[3] = {31, 0, 0};
    for (size_t i = 0; i < 3; i++) {
        const struct ns_packet *p = &df->pkt[i];
        assert_int_equal(df->rc[i], 0);
        assert_memory_equal(p->mac_src, mac, 6);
        assert_string_equal(fmt(&p->src, a), "116.63.66.108");
        assert_string_equal(fmt(&p->dst, a), "7.249.151.114");
        assert_int_equal(p->ttl, 44);
        assert_int_equal(p->ip_id, ids[i]);
        assert_int_equal(p->sport, 443);
        assert_int_equal(p->dport, 57292);
        assert_int_equal(p->tcp_flags, flags[i]);
        assert_int_equal(p->seq, seqs[i]);
        assert_int_equal(p->ack, 2813042623U);
        assert_int_equal(p->payload_len, lens[i]);
    }
    free_file(df);
}

static void test_decode_pcap_sll_mixed(void **state)
{
    (void)state;
    if (!shared_data_present()) {
        skip();
    }
    /* 518 frames: 511 IPv4/IPv6 (483 TCP, 28 UDP), 7 ARP (frames 10 11 12 15 21 22 23) */
    struct decoded_file *df = decode_file("pcap/linktype/ppp_sll.pcap");
    assert_int_equal(df->linktype, NS_LINK_LINUX_SLL);
    assert_int_equal(df->n, 518);
    assert_int_equal(df->st.frames, 518);
    assert_int_equal(df->st.decoded, 511);
    assert_int_equal(df->st.non_ip, 7);
    size_t tcp = 0, udp = 0;
    for (size_t i = 0; i < df->n; i++) {
        if (df->rc[i] == 0 && df->pkt[i].proto == NS_IPPROTO_TCP) {
            assert_true(df->pkt[i].flags & NS_PKT_F_HAS_L4);
            tcp++;
        }
        if (df->rc[i] == 0 && df->pkt[i].proto == NS_IPPROTO_UDP) {
            udp++;
        }
    }
    assert_int_equal(tcp, 483);
    assert_int_equal(udp, 28);
    assert_int_equal(df->rc[9], NS_ENOTSUP); /* frame 10 */
    assert_int_equal(df->why[9], NS_DEC_L3_UNSUPPORTED);
    assert_int_equal(df->pkt[9].ethertype, 0x0806);
    free_file(df);
}

static void test_decode_pcap_sll_nanosecond_handshake(void **state)
{
    (void)state;
    if (!shared_data_present()) {
        skip();
    }
    struct decoded_file *df = decode_file("pcap/linktype/tcpdump_tcp-handshake-nano.pcap");
    char a[64];
    assert_int_equal(df->n, 3);
    assert_int_equal(df->st.decoded, 3);
    const struct ns_packet *p = &df->pkt[0];
    assert_string_equal(fmt(&p->src, a), "131.155.215.69");
    assert_string_equal(fmt(&p->dst, a), "137.116.81.94");
    assert_int_equal(p->sport, 46656);
    assert_int_equal(p->dport, 80);
    assert_int_equal(p->tcp_flags, NS_TCP_SYN);
    assert_int_equal(p->seq, 797190859U);
    assert_int_equal(p->tcp_opts.mss, 1360);
    p = &df->pkt[1];
    assert_int_equal(p->tcp_flags, NS_TCP_SYN | NS_TCP_ACK);
    assert_int_equal(p->seq, 3078856592U);
    assert_int_equal(p->tcp_opts.mss, 1440);
    assert_int_equal(df->pkt[2].tcp_flags, NS_TCP_ACK);
    free_file(df);
}

static void test_decode_pcap_raw_ipv6(void **state)
{
    (void)state;
    if (!shared_data_present()) {
        skip();
    }
    struct decoded_file *df = decode_file("pcap/linktype/ppp_linktype_ipv6.pcap");
    char a[64];
    assert_int_equal(df->linktype, NS_LINK_IPV6);
    assert_int_equal(df->n, 1);
    assert_int_equal(df->rc[0], 0);
    const struct ns_packet *p = &df->pkt[0];
    assert_string_equal(fmt(&p->src, a), "2001:618:400::5199:cc70");
    assert_string_equal(fmt(&p->dst, a), "2001:618:1:8000::5");
    assert_int_equal(p->sport, 35995);
    assert_int_equal(p->dport, 80);
    assert_int_equal(p->tcp_flags, NS_TCP_SYN);
    assert_int_equal(p->seq, 1793525558U);
    assert_true(p->tcp_opts.has_mss);
    assert_int_equal(p->tcp_opts.mss, 1420);
    assert_true(p->tcp_opts.has_wscale);
    assert_int_equal(p->tcp_opts.wscale, 2);
    free_file(df);
}

static void test_decode_pcap_null_loopback_ipv6(void **state)
{
    (void)state;
    if (!shared_data_present()) {
        skip();
    }
    /* 24 frames, AF_INET6 = 30 little endian (macOS), ::1 <-> ::1, ports 58799 / 8080 */
    struct decoded_file *df = decode_file("pcap/linktype/gopacket_test_loopback.pcap");
    char a[64];
    assert_int_equal(df->linktype, NS_LINK_NULL);
    assert_int_equal(df->n, 24);
    assert_int_equal(df->st.decoded, 24);
    for (size_t i = 0; i < df->n; i++) {
        assert_int_equal(df->pkt[i].ipver, 6);
        assert_string_equal(fmt(&df->pkt[i].src, a), "::1");
        assert_true(df->pkt[i].sport == 8080 || df->pkt[i].dport == 8080);
    }
    const struct ns_packet *p = &df->pkt[0];
    assert_int_equal(p->sport, 58799);
    assert_int_equal(p->dport, 8080);
    assert_int_equal(p->tcp_flags, NS_TCP_PSH | NS_TCP_ACK);
    assert_int_equal(p->seq, 144119398U);
    assert_int_equal(p->payload_len, 484);
    assert_true(p->tcp_opts.has_ts);
    assert_int_equal(p->tcp_opts.ts_val, 96505084U);
    assert_int_equal(p->tcp_opts.ts_ecr, 96483468U);
    assert_int_equal(df->pkt[2].payload_len, 4096);
    free_file(df);
}

static void test_decode_pcap_qinq_arp(void **state)
{
    (void)state;
    if (!shared_data_present()) {
        skip();
    }
    /* two 802.1ad (S-VID 200) + 802.1Q (C-VID 2001) ARP requests: not IP */
    struct decoded_file *df = decode_file("pcap/linktype/tcpdump_802.1ad_QinQ.pcap");
    assert_int_equal(df->n, 2);
    assert_int_equal(df->st.non_ip, 2);
    assert_int_equal(df->st.decoded, 0);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(df->rc[i], NS_ENOTSUP);
        assert_int_equal(df->why[i], NS_DEC_L3_UNSUPPORTED);
        assert_int_equal(df->pkt[i].vlan_count, 2);
        assert_int_equal(df->pkt[i].vlan[0], 200);
        assert_int_equal(df->pkt[i].vlan[1], 2001);
        assert_int_equal(df->pkt[i].ethertype, 0x0806);
    }
    free_file(df);
}

static void test_decode_pcap_vlan_pppoe(void **state)
{
    (void)state;
    if (!shared_data_present()) {
        skip();
    }
    /* VLAN 939 + VLAN 744 + PPPoE session + PPP + IPv4 + TCP, 10 frames */
    struct decoded_file *df = decode_file("pcap/http/ppp_one_http_stream_rst.pcap");
    char a[64];
    assert_int_equal(df->n, 10);
    assert_int_equal(df->st.decoded, 10);
    static const uint8_t flags[10] = {0x02, 0x12, 0x10, 0x18, 0x10, 0x18, 0x11, 0x10, 0x10, 0x14};
    static const uint32_t lens[10] = {0, 0, 0, 1036, 0, 600, 0, 0, 0, 0};
    for (size_t i = 0; i < df->n; i++) {
        const struct ns_packet *p = &df->pkt[i];
        assert_int_equal(df->rc[i], 0);
        assert_int_equal(p->vlan_count, 2);
        assert_int_equal(p->vlan[0], 939);
        assert_int_equal(p->vlan[1], 744);
        assert_int_equal(p->ethertype, 0x0800);
        assert_int_equal(p->tcp_flags, flags[i]);
        assert_int_equal(p->payload_len, lens[i]);
    }
    const struct ns_packet *p = &df->pkt[0];
    assert_string_equal(fmt(&p->src, a), "10.3.65.35");
    assert_string_equal(fmt(&p->dst, a), "185.8.212.46");
    assert_int_equal(p->sport, 5068);
    assert_int_equal(p->dport, 80);
    assert_int_equal(p->seq, 2631065158U);
    assert_int_equal(p->ttl, 128);
    assert_int_equal(p->ip_id, 0x3626);
    assert_int_equal(p->tcp_opts.mss, 1440);
    assert_int_equal(p->tcp_opts.wscale, 8);
    p = &df->pkt[1];
    assert_string_equal(fmt(&p->src, a), "185.8.212.46");
    assert_int_equal(p->ack, 2631065159U);
    assert_int_equal(p->tcp_opts.mss, 1200);
    assert_int_equal(p->tcp_opts.wscale, 7);
    free_file(df);
}

static void test_decode_pcap_vlan_and_llc(void **state)
{
    (void)state;
    if (!shared_data_present()) {
        skip();
    }
    /* 26 frames: 20 ICMP in VLANs 118 and 10, 6 CDP over 802.3 LLC (frames 21-26) */
    struct decoded_file *df = decode_file("pcap/linktype/ppp_VlanPackets.pcap");
    char a[64];
    assert_int_equal(df->n, 26);
    assert_int_equal(df->st.decoded, 20);
    assert_int_equal(df->st.non_ip, 6);
    const struct ns_packet *p = &df->pkt[0];
    assert_int_equal(p->vlan_count, 2);
    assert_int_equal(p->vlan[0], 118);
    assert_int_equal(p->vlan[1], 10);
    assert_string_equal(fmt(&p->src, a), "10.118.10.1");
    assert_string_equal(fmt(&p->dst, a), "10.118.10.2");
    assert_int_equal(p->proto, NS_IPPROTO_ICMP);
    assert_int_equal(p->icmp_type, 8);
    assert_int_equal(df->pkt[1].icmp_type, 0);
    for (size_t i = 20; i < 26; i++) {
        assert_int_equal(df->rc[i], NS_ENOTSUP);
    }
    free_file(df);
}

static void test_decode_pcap_ipv4_fragments(void **state)
{
    (void)state;
    if (!shared_data_present()) {
        skip();
    }
    /* 483 frames, 19 of them trailing IPv4 fragments (offset 93 * 8, MF clear) */
    struct decoded_file *df = decode_file("pcap/http/tcpflow_jpegs.cap");
    assert_int_equal(df->n, 483);
    assert_int_equal(df->st.decoded, 483);
    size_t frags = 0;
    for (size_t i = 0; i < df->n; i++) {
        if (df->pkt[i].flags & NS_PKT_F_FRAGMENT) {
            frags++;
            assert_int_equal(df->pkt[i].frag_off, 744);
            assert_false(df->pkt[i].frag_more);
            assert_int_equal(df->pkt[i].frag_len, 736);
            assert_int_equal(df->pkt[i].flags & NS_PKT_F_HAS_L4, 0);
        }
    }
    assert_int_equal(frags, 19);
    const struct ns_packet *p = &df->pkt[17]; /* frame 18 */
    assert_true(p->flags & NS_PKT_F_FRAGMENT);
    assert_int_equal(p->frag_id, 0xf6c5);
    assert_int_equal(p->proto, NS_IPPROTO_TCP);
    free_file(df);
}

static void test_decode_pcap_loopback_ethertype(void **state)
{
    (void)state;
    if (!shared_data_present()) {
        skip();
    }
    /* Ethernet configuration test frames (EtherType 0x9000): not IP */
    struct decoded_file *df = decode_file("pcap/linktype/tcpdump_loopback.pcap");
    assert_true(df->n > 0);
    assert_int_equal(df->st.non_ip, df->n);
    assert_int_equal(df->pkt[0].ethertype, 0x9000);
    free_file(df);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_pcap_sll2),
        cmocka_unit_test(test_decode_pcap_sll_mixed),
        cmocka_unit_test(test_decode_pcap_sll_nanosecond_handshake),
        cmocka_unit_test(test_decode_pcap_raw_ipv6),
        cmocka_unit_test(test_decode_pcap_null_loopback_ipv6),
        cmocka_unit_test(test_decode_pcap_qinq_arp),
        cmocka_unit_test(test_decode_pcap_vlan_pppoe),
        cmocka_unit_test(test_decode_pcap_vlan_and_llc),
        cmocka_unit_test(test_decode_pcap_ipv4_fragments),
        cmocka_unit_test(test_decode_pcap_loopback_ethertype),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
