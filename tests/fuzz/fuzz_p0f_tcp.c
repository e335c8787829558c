/*
 * fuzz_p0f_tcp.c - libFuzzer target for TCP signature extraction and
 * matching (ns_p0f_tcp_peer, analyze_p0f.c): a frame decoded with
 * ns_decode_packet, then fingerprinted.
 *
 * Input layout:
 *
 *   +-----------+----------------+-------------------------------------+
 *   | link (1)  | peer MSS (2)   | frame bytes (the rest)              |
 *   +-----------+----------------+-------------------------------------+
 *
 *   link (modulo 4): 0 Ethernet, 1 raw IP (101), 2 Linux SLL, 3 IPv6 (229)
 *
 * The database is a small built-in p0f.fp text (every window notation,
 * quirk kinds, a random-TTL and a generic signature, [mtu]). Invariants
 * checked: raw_sig is NUL-terminated and starts with the IP version; a
 * match has a label; a non-SYN packet gives NS_EINVAL.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsift/decode.h"
#include "netsift/err.h"
#include "netsift/p0f.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_fp[] =
    "classes = win,unix,other\n"
    "[mtu]\n"
    "label = Ethernet or modem\n"
    "sig = 1500\n"
    "[tcp:request]\n"
    "label = s:unix:Linux:3.11 and newer\n"
    "sig = *:64:0:*:mss*20,7:mss,sok,ts,nop,ws:df,id+:0\n"
    "label = s:win:Windows:7 or 8\n"
    "sig = *:128:0:*:8192,2:mss,nop,ws,nop,nop,sok:df,id+:0\n"
    "label = s:unix:X:mod\n"
    "sig = 4:255:4:*:%512,*:nop,eol+3:0+,ecn,seq-:+\n"
    "label = g:other:Y:mtu\n"
    "sig = 6:64:0:1380:mtu*4,*:mss,?30:flow:*\n"
    "label = s:!:NMap:SYN scan\n"
    "sys = @unix\n"
    "sig = *:64-:0:1460:1024,0:mss::0\n"
    "[tcp:response]\n"
    "label = s:unix:Linux:3.x\n"
    "sig = *:64:0:*:mss*10,*:mss,sok,ts:df:0\n"
    "label = g:unix:Any:\n"
    "sig = *:64:0:*:*,*:mss:ack-,urgf+,pushf+,ts1-,ts2+,opt+,exws,bad:*\n";

static const int links[4] = {NS_LINK_EN10MB, NS_LINK_RAW, NS_LINK_LINUX_SLL, NS_LINK_IPV6};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ns_p0f_db *db;
    if (db == NULL && ns_p0f_load_buffer(&db, fuzz_fp, sizeof(fuzz_fp) - 1, "fuzz", NULL) != 0) {
        abort();
    }
    if (size < 3) {
        return 0;
    }
    struct ns_packet p;
    memset(&p, 0, sizeof(p));
    p.linktype = links[data[0] % 4];
    unsigned peer = (unsigned)data[1] << 8 | data[2];
    p.data = data + 3;
    p.caplen = (uint32_t)(size - 3);
    p.wirelen = p.caplen;
    if (ns_decode_packet(&p, NULL, NULL) != 0) {
        return 0;
    }
    struct ns_p0f_result r;
    int rc = ns_p0f_tcp_peer(db, &p, peer, &r);
    uint8_t type = p.tcp_flags & (NS_TCP_SYN | NS_TCP_ACK | NS_TCP_FIN | NS_TCP_RST);
    if (rc == 0) {
        if (memchr(r.raw_sig, '\0', sizeof(r.raw_sig)) == NULL ||
            (r.raw_sig[0] != '4' && r.raw_sig[0] != '6')) {
            abort();
        }
        if (r.match != NS_P0F_NONE && r.os == NULL) {
            abort();
        }
        if (type != NS_TCP_SYN && type != (NS_TCP_SYN | NS_TCP_ACK)) {
            abort();
        }
    } else if (rc != NS_EINVAL) {
        abort();
    }
    return 0;
}
