/*
 * fuzz_defrag.c - fuzz target for fragment reassembly (defrag.h, RFC 791,
 * RFC 8200 section 4.5, RFC 5722).
 *
 * The input describes a defragmenter and a sequence of synthetic fragments;
 * the target builds struct ns_packet values the way the decoder leaves them
 * and feeds them to ns_defrag_add(). Every byte is read through struct ns_rd.
 *
 *   header (2 bytes):
 *   +-----------+-----------+
 *   | max_dgram | max_kib   |  max_datagrams = 1 + max_dgram % 16,
 *   +-----------+-----------+  max_bytes = (1 + max_kib) KiB, timeout 2 s
 *
 *   then records of 8 bytes, until the input ends:
 *   +------+------+--------+--------+--------+--------+------+------+
 *   | ctl  |  id  |  offset (be16)  |  length (be16)  |  dt  | fill |
 *   +------+------+--------+--------+--------+--------+------+------+
 *   ctl bit 0: IPv6          bit 1: more fragments     bit 2: VLAN 100
 *   ctl bit 3: call ns_defrag_expire() after the fragment
 *   ctl bits 4-7: last byte of the source address
 *   offset: byte offset as given (not in 8-byte units, so the target also
 *           sees offsets the decoder would never produce)
 *   length: fragment bytes, byte i = fill + i (mod 256)
 *   dt:     capture clock step, in units of 1/16 s
 *
 * Checked after every call: the result lies inside the 65535-byte limit and
 * is readable, and the held bytes stay under max_bytes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsift/defrag.h"
#include "netsift/err.h"
#include "netsift/rd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SEC 1000000000ull

static uint8_t fuzz_bytes[65536];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ns_rd r;
    ns_rd_init(&r, data, size, 0);
    uint8_t max_dgram = ns_rd_u8(&r);
    uint8_t max_kib = ns_rd_u8(&r);
    if (!ns_rd_ok(&r)) {
        return 0;
    }
    struct ns_defrag_opts o = {
        .timeout_ns = 2 * FUZZ_SEC,
        .max_bytes = (1 + (size_t)max_kib) * 1024,
        .max_datagrams = 1 + (size_t)(max_dgram % 16),
    };
    struct ns_defrag *d = NULL;
    if (ns_defrag_new(&d, &o) != 0) {
        return 0;
    }
    uint64_t now = FUZZ_SEC;
    for (;;) {
        uint8_t ctl = ns_rd_u8(&r);
        uint8_t id = ns_rd_u8(&r);
        uint16_t off = ns_rd_be16(&r);
        uint16_t len = ns_rd_be16(&r);
        uint8_t dt = ns_rd_u8(&r);
        uint8_t fill = ns_rd_u8(&r);
        if (!ns_rd_ok(&r)) {
            break;
        }
        for (uint32_t i = 0; i < len; i++) {
            fuzz_bytes[i] = (uint8_t)(fill + i);
        }
        now += (uint64_t)dt * (FUZZ_SEC / 16);

        struct ns_packet p;
        memset(&p, 0, sizeof(p));
        p.flags = NS_PKT_F_FRAGMENT;
        p.ipver = (ctl & 1) ? 6 : 4;
        p.src.family = p.ipver;
        p.dst.family = p.ipver;
        p.src.a[0] = 10;
        p.src.a[3] = (uint8_t)(ctl >> 4);
        p.dst.a[0] = 10;
        p.dst.a[3] = 200;
        p.proto = 17;
        p.frag_id = id;
        p.frag_off = off;
        p.frag_more = (ctl & 2) != 0;
        p.frag_data = fuzz_bytes;
        p.frag_len = len;
        p.ts_ns = now;
        p.wirelen = 34u + len;
        if (ctl & 4) {
            p.vlan[0] = 100;
            p.vlan_count = 1;
        }

        struct ns_defrag_result res;
        int rc = ns_defrag_add(d, &p, &res);
        if (rc == 0) {
            if (res.len == 0 || res.len > 65535 || res.frames == 0 || res.payload == NULL) {
                abort();
            }
            volatile uint8_t sum = 0;
            for (uint32_t i = 0; i < res.len; i++) {
                sum ^= res.payload[i];
            }
            (void)sum;
        } else if (rc != NS_EAGAIN && rc != NS_EMALFORMED && rc != NS_ELIMIT) {
            abort();
        }
        if (ns_defrag_bytes(d) > o.max_bytes) {
            abort();
        }
        if (ctl & 8) {
            ns_defrag_expire(d, now);
        }
    }
    ns_defrag_free(d);
    return 0;
}
