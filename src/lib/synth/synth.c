/*
 * synth.c - the generator's public API (synth.h): kind names, the round
 * loop, and the writers of the pcap file and the truth lines.
 *
 * Classic pcap (the libpcap file format, draft-ietf-opsawg-pcap), written
 * little-endian with microsecond timestamps:
 *
 *   file header (24 bytes)                 record header (16 bytes)
 *   +------------------------------+       +-----------------------------+
 *   | magic 0xa1b2c3d4 (d4 c3 b2 a1)|       | ts_sec (u32)                |
 *   | version 2.4 (u16, u16)        |       | ts_usec (u32)               |
 *   | thiszone 0 (i32)              |       | incl_len (u32)              |
 *   | sigfigs 0 (u32)               |       | orig_len (u32)              |
 *   | snaplen 262144 (u32)          |       +-----------------------------+
 *   | network 1 = ETHERNET (u32)    |       then incl_len bytes of frame
 *   +------------------------------+
 *
 * A round: every selected kind starts its conversations at its own offset
 * into the round, so flows of all kinds overlap in time. The frames of the
 * round are sorted by time (ties: creation order) and given strictly
 * increasing timestamps, so that readers never see two frames at the same
 * instant; the next round starts one to three seconds after the last frame.
 */
#include "netsift/synth.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "netsift/alloc.h"
#include "synth_int.h"

typedef int kind_fn(struct ns__synth_ctx *x, uint64_t t0);

static const struct {
    const char *name;
    kind_fn *fn;
} kinds[NS_SYNTH_KIND_COUNT] = {
    [NS_SYNTH_TCP] = {"tcp", ns__synth_kind_tcp},
    [NS_SYNTH_HTTP] = {"http", ns__synth_kind_http},
    [NS_SYNTH_HL7] = {"hl7", ns__synth_kind_hl7},
    [NS_SYNTH_DICOM] = {"dicom", ns__synth_kind_dicom},
    [NS_SYNTH_DNS] = {"dns", ns__synth_kind_dns},
    [NS_SYNTH_IPV6] = {"ipv6", ns__synth_kind_ipv6},
    [NS_SYNTH_VLAN] = {"vlan", ns__synth_kind_vlan},
    [NS_SYNTH_FRAG] = {"frag", ns__synth_kind_frag},
    [NS_SYNTH_RETRANS] = {"retrans", ns__synth_kind_retrans},
    [NS_SYNTH_SCAN] = {"scan", ns__synth_kind_scan},
};

const char *ns_synth_kind_name(enum ns_synth_kind k)
{
    if ((unsigned)k >= NS_SYNTH_KIND_COUNT) {
        return NULL;
    }
    return kinds[k].name;
}

int ns_synth_parse_kinds(const char *list, uint32_t *mask)
{
    uint32_t m = 0;
    const char *s = list;
    if (list == NULL || *list == '\0') {
        return NS_EINVAL;
    }
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t n = comma != NULL ? (size_t)(comma - s) : strlen(s);
        unsigned k = 0;
        for (; k < NS_SYNTH_KIND_COUNT; k++) {
            if (strlen(kinds[k].name) == n && memcmp(kinds[k].name, s, n) == 0) {
                break;
            }
        }
        if (n == 0 || k == NS_SYNTH_KIND_COUNT) {
            return NS_EINVAL;
        }
        m |= NS_SYNTH_KIND_BIT(k);
        if (comma == NULL) {
            break;
        }
        s = comma + 1;
    }
    *mask = m;
    return 0;
}

static void ctx_release(struct ns__synth_ctx *x)
{
    ns__synth_buf_release(&x->frames);
    ns__synth_buf_release(&x->scratch);
    ns__synth_buf_release(&x->msg);
    ns__synth_buf_release(&x->msg2);
    ns__synth_buf_release(&x->devices);
    for (int i = 0; i < NS__BODY_COUNT; i++) {
        ns__synth_buf_release(&x->body[i]);
    }
    ns_free(x->fr);
    ns_free(x->fl);
}

static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static int frec_cmp(const void *a, const void *b)
{
    const struct ns__synth_frec *x = a;
    const struct ns__synth_frec *y = b;
    if (x->ts != y->ts) {
        return x->ts < y->ts ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void fmt_addr(const struct ns__synth_flow *f, const uint8_t *a, char *out, size_t size)
{
    if (inet_ntop(f->ipver == 6 ? AF_INET6 : AF_INET, a, out, (socklen_t)size) == NULL) {
        snprintf(out, size, "?");
    }
}

static void fmt_rfc3339(uint64_t us, char *out, size_t size)
{
    char base[32];
    ns__synth_fmt_time(us, "%Y-%m-%dT%H:%M:%S", base, sizeof(base));
    snprintf(out, size, "%s.%06uZ", base, (unsigned)(us % 1000000));
}

static int write_truth(FILE *fp, const struct ns__synth_flow *f)
{
    char src[64];
    char dst[64];
    char first[48];
    char last[48];
    fmt_addr(f, f->saddr, src, sizeof(src));
    fmt_addr(f, f->daddr, dst, sizeof(dst));
    fmt_rfc3339(f->first, first, sizeof(first));
    fmt_rfc3339(f->last, last, sizeof(last));
    int n = fprintf(fp,
                    "{\"type\":\"flow\",\"kind\":\"%s\",\"proto\":\"%s\",\"ip_version\":%u,"
                    "\"src_addr\":\"%s\",\"src_port\":%u,\"dst_addr\":\"%s\",\"dst_port\":%u,"
                    "\"vlan\":%u,\"packets_fwd\":%llu,\"packets_rev\":%llu,\"bytes_fwd\":%llu,"
                    "\"bytes_rev\":%llu,\"first_seen\":\"%s\",\"last_seen\":\"%s\"}\n",
                    f->kind,
                    f->proto == 6    ? "tcp"
                    : f->proto == 17 ? "udp"
                                     : "icmp",
                    f->ipver, src, f->sport, dst, f->dport, f->vlan,
                    (unsigned long long)f->packets[0], (unsigned long long)f->packets[1],
                    (unsigned long long)f->bytes[0], (unsigned long long)f->bytes[1], first, last);
    return n < 0 ? NS_EIO : 0;
}

int ns__synth_truth_device(struct ns__synth_ctx *x, const char *kind,
                           const struct ns__synth_host *h, uint16_t connect_port,
                           const char *const (*idents)[2], size_t n)
{
    char addr[64];
    if (inet_ntop(h->ipver == 6 ? AF_INET6 : AF_INET, h->addr, addr, sizeof(addr)) == NULL) {
        return NS_EINVAL;
    }
    int rc = ns__synth_buf_printf(
        &x->devices,
        "{\"type\":\"device\",\"kind\":\"%s\",\"ip_address\":\"%s\",\"mac_address\":"
        "\"%02x:%02x:%02x:%02x:%02x:%02x\",\"connect_port_tcp\":%u,\"identifier\":\"%s\","
        "\"provenance\":\"%s\",\"identifiers\":[",
        kind, addr, h->mac[0], h->mac[1], h->mac[2], h->mac[3], h->mac[4], h->mac[5],
        (unsigned)connect_port, n > 0 ? idents[0][1] : "", n > 0 ? idents[0][0] : "");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = ns__synth_buf_printf(&x->devices, "%s{\"value\":\"%s\",\"provenance\":\"%s\"}",
                                  i > 0 ? "," : "", idents[i][1], idents[i][0]);
    }
    return rc == 0 ? ns__synth_buf_printf(&x->devices, "]}\n") : rc;
}

/*
 * Sort the round's frames, write them (through `out`, one fwrite per round)
 * and the truth of its flows. *last_ts is the time of the last frame
 * written so far (0 before the first).
 */
static int flush_round(struct ns__synth_ctx *x, struct ns__synth_buf *out, FILE *pcap, FILE *truth,
                       uint64_t *last_ts, struct ns_synth_stats *st)
{
    qsort(x->fr, x->nfr, sizeof(*x->fr), frec_cmp);
    uint32_t *order = NULL;
    size_t norder = 0;
    size_t total = 0;
    int rc = 0;
    for (size_t i = 0; i < x->nfr; i++) {
        total += 16 + x->fr[i].len;
    }
    out->len = 0;
    if (ns__synth_buf_reserve(out, total) != 0) {
        return NS_ENOMEM;
    }
    order = ns_reallocarray(NULL, x->nfl == 0 ? 1 : x->nfl, sizeof(*order));
    if (order == NULL) {
        return NS_ENOMEM;
    }
    uint64_t prev = *last_ts;
    for (size_t i = 0; i < x->nfr; i++) {
        const struct ns__synth_frec *r = &x->fr[i];
        uint64_t ts = r->ts <= prev ? prev + 1 : r->ts;
        prev = ts;
        uint8_t *h = out->p + out->len;
        le32(h, (uint32_t)(ts / 1000000));
        le32(h + 4, (uint32_t)(ts % 1000000));
        le32(h + 8, r->len);
        le32(h + 12, r->len);
        memcpy(h + 16, x->frames.p + r->off, r->len);
        out->len += 16 + (size_t)r->len;
        struct ns__synth_flow *f = &x->fl[r->flow];
        if (f->packets[0] + f->packets[1] == 0) {
            f->first = ts;
            order[norder++] = r->flow;
        }
        f->packets[r->dir]++;
        f->bytes[r->dir] += r->len;
        f->last = ts;
    }
    *last_ts = prev;
    if (out->len > 0 && fwrite(out->p, 1, out->len, pcap) != out->len) {
        rc = NS_EIO;
    }
    for (size_t i = 0; rc == 0 && truth != NULL && i < norder; i++) {
        rc = write_truth(truth, &x->fl[order[i]]);
    }
    if (rc == 0 && truth != NULL && x->devices.len > 0 &&
        fwrite(x->devices.p, 1, x->devices.len, truth) != x->devices.len) {
        rc = NS_EIO;
    }
    x->devices.len = 0;
    st->rounds++;
    st->frames += x->nfr;
    st->flows += norder;
    st->bytes += out->len;
    st->last_round_bytes = out->len;
    ns_free(order);
    return rc;
}

static int run_round(struct ns__synth_ctx *x, uint64_t t0)
{
    x->nfr = 0;
    x->nfl = 0;
    x->frames.len = 0;
    x->devices.len = 0;
    x->err = 0;
    for (unsigned k = 0; k < NS_SYNTH_KIND_COUNT; k++) {
        uint64_t start = t0 + ns__synth_between(&x->rng, 0, 1500000);
        if ((x->kinds & NS_SYNTH_KIND_BIT(k)) == 0) {
            continue;
        }
        int rc = kinds[k].fn(x, start);
        if (rc == 0 && x->err != 0) {
            rc = x->err;
        }
        if (rc != 0) {
            return rc;
        }
    }
    x->round_no++;
    return 0;
}

int ns_synth_write(FILE *pcap, FILE *truth, const struct ns_synth_opts *opts,
                   struct ns_synth_stats *stats, struct ns_error *err)
{
    struct ns__synth_ctx x;
    struct ns__synth_buf out = {0};
    struct ns_synth_stats st;
    int rc = 0;
    memset(&x, 0, sizeof(x));
    memset(&st, 0, sizeof(st));
    uint32_t mask = opts->kinds == 0 ? NS_SYNTH_ALL_KINDS : opts->kinds;
    if ((mask & ~NS_SYNTH_ALL_KINDS) != 0) {
        rc = ns_error_set(err, NS_EINVAL, "synth: unknown kind in mask 0x%x", (unsigned)mask);
        goto out;
    }
    x.kinds = mask;
    ns__synth_rng_seed(&x.rng, opts->seed);
    x.port_k = ns__synth_between(&x.rng, 0, 28231);
    rc = ns__synth_bodies_init(&x);
    if (rc != 0) {
        rc = ns_error_set(err, rc, "synth: cannot prepare the bodies: %s", ns_strerror(rc));
        goto out;
    }

    static const uint8_t header[24] = {
        0xd4, 0xc3, 0xb2, 0xa1, /* magic, little-endian, microseconds */
        0x02, 0x00, 0x04, 0x00, /* version 2.4 */
        0x00, 0x00, 0x00, 0x00, /* thiszone */
        0x00, 0x00, 0x00, 0x00, /* sigfigs */
        0x00, 0x00, 0x04, 0x00, /* snaplen 262144 */
        0x01, 0x00, 0x00, 0x00, /* LINKTYPE_ETHERNET */
    };
    if (fwrite(header, 1, sizeof(header), pcap) != sizeof(header)) {
        rc = ns_error_set(err, NS_EIO, "synth: cannot write the pcap header");
        goto out;
    }
    st.bytes = sizeof(header);

    uint64_t last_ts = 0;
    uint64_t t0 = NS__SYNTH_EPOCH_US;
    do {
        rc = run_round(&x, t0);
        if (rc == 0) {
            rc = flush_round(&x, &out, pcap, truth, &last_ts, &st);
        }
        if (rc != 0) {
            rc = ns_error_set(err, rc, "synth: round %llu: %s", (unsigned long long)x.round_no,
                              ns_strerror(rc));
            goto out;
        }
        if (opts->progress != NULL) {
            opts->progress(opts->progress_ud, st.bytes, opts->size);
        }
        t0 = last_ts + ns__synth_between(&x.rng, 1000000, 3000000);
    } while (opts->size != 0 && st.bytes < opts->size);

out:
    if (stats != NULL) {
        *stats = st;
    }
    ns__synth_buf_release(&out);
    ctx_release(&x);
    return rc;
}
