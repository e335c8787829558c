/*
 * synth_int.h - what the files of the synth stage share.
 *
 * A round is built in memory: each kind opens conversations
 * (struct ns__synth_conv), and each conversation writes its frames, in its
 * own time order, into the round's frame arena (struct ns__synth_ctx).
 * synth.c then sorts the frames of the round by time (ties: the order they
 * were made), writes them as pcap records and the flows as truth lines.
 * Buffers are kept from round to round, so a long run allocates only while
 * the first rounds grow them.
 */
#ifndef NETSIFT_SYNTH_INT_H
#define NETSIFT_SYNTH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsift/synth.h"

/* 2024-03-01T00:00:00Z in microseconds since the epoch. */
#define NS__SYNTH_EPOCH_US 1709251200000000ULL

/* --- PRNG: xoshiro256** seeded with splitmix64 --- */

struct ns__synth_rng {
    uint64_t s[4];
};

void ns__synth_rng_seed(struct ns__synth_rng *r, uint64_t seed);
uint64_t ns__synth_next(struct ns__synth_rng *r);
/* A number in [lo, hi] (inclusive); lo when hi <= lo. */
uint32_t ns__synth_between(struct ns__synth_rng *r, uint32_t lo, uint32_t hi);
void ns__synth_fill(struct ns__synth_rng *r, uint8_t *p, size_t n);

/* --- growable byte buffer (the cap is the caller's: rounds are bounded) --- */

struct ns__synth_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
};

/* Make room for n more bytes; NS_ENOMEM on failure. */
int ns__synth_buf_reserve(struct ns__synth_buf *b, size_t n);
int ns__synth_buf_put(struct ns__synth_buf *b, const void *p, size_t n);
int ns__synth_buf_printf(struct ns__synth_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ns__synth_buf_release(struct ns__synth_buf *b);

/* --- hosts --- */

enum ns__synth_os {
    NS__OS_LINUX = 0,
    NS__OS_WINDOWS,
    NS__OS_MACOS,
    NS__OS_EMBEDDED, /* small TCP stack of a medical device: MSS only */
    NS__OS_COUNT
};

enum ns__synth_vendor {
    NS__V_DELL = 0,
    NS__V_CISCO,
    NS__V_HP,
    NS__V_APPLE,
    NS__V_GE_HEALTH,
    NS__V_PHILIPS_MED,
    NS__V_SIEMENS_HEALTH,
    NS__V_BAXTER,
    NS__V_BD,
    NS__V_INTEL,
    NS__V_SUPERMICRO,
    NS__V_VMWARE,
    NS__V_LENOVO,
    NS__V_FRESENIUS,
    NS__V_COUNT
};

struct ns__synth_host {
    uint8_t mac[6];
    uint8_t ipver; /* 4 or 6 */
    uint8_t addr[16];
    uint8_t ttl; /* as seen on the wire */
    uint8_t os;  /* enum ns__synth_os */
};

/* a.b.c.d with a MAC of the vendor's OUI (the low half derived from the address). */
void ns__synth_host4(struct ns__synth_host *h, uint32_t addr, int vendor, int os);
/* 2001:db8:<subnet>::<iid>. */
void ns__synth_host6(struct ns__synth_host *h, uint16_t subnet, uint64_t iid, int vendor, int os);

#define NS__IP4(a, b, c, d)                                                                        \
    (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* --- the round --- */

struct ns__synth_frec {
    uint64_t ts;  /* microseconds since the epoch */
    uint64_t off; /* in ctx->frames */
    uint32_t len;
    uint32_t flow;
    uint32_t seq; /* creation order, the sort's tie-break */
    uint8_t dir;  /* 0: initiator to responder */
};

struct ns__synth_flow {
    const char *kind;
    uint8_t ipver;
    uint8_t proto;
    uint16_t vlan;
    uint8_t saddr[16];
    uint8_t daddr[16];
    uint16_t sport;
    uint16_t dport;
    uint64_t packets[2];
    uint64_t bytes[2];
    uint64_t first;
    uint64_t last;
};

/* Bodies made once per run and reused by every round. */
enum ns__synth_body {
    NS__BODY_HTML = 0,
    NS__BODY_HTML_GZ,
    NS__BODY_JS,
    NS__BODY_JS_GZ,
    NS__BODY_CSS,
    NS__BODY_CSS_GZ,
    NS__BODY_JSON,
    NS__BODY_TEXT, /* log-like text lines for plain TCP and syslog */
    NS__BODY_COUNT
};

struct ns__synth_ctx {
    struct ns__synth_rng rng;
    uint32_t kinds;
    uint32_t port_k; /* walks a permutation of the ephemeral ports */
    uint32_t msg_n;  /* message counter (HL7 control IDs, DICOM message IDs, DNS IDs) */
    uint64_t round_no;
    int err; /* sticky: the first error of the round */

    struct ns__synth_buf frames; /* frame bytes of the round */
    struct ns__synth_frec *fr;
    size_t nfr, capfr;
    struct ns__synth_flow *fl;
    size_t nfl, capfl;

    struct ns__synth_buf scratch; /* one payload being built (UDP datagram to fragment) */
    struct ns__synth_buf msg;     /* one application message being built */
    struct ns__synth_buf msg2;
    struct ns__synth_buf body[NS__BODY_COUNT];
    struct ns__synth_buf devices; /* truth lines of the round's devices (HL7, DICOM) */
};

/* Next ephemeral port (32768..60999), walking a permutation of the range. */
uint16_t ns__synth_port(struct ns__synth_ctx *x);

/* --- conversations --- */

struct ns__synth_conv {
    struct ns__synth_ctx *x;
    struct ns__synth_host h[2]; /* 0: initiator */
    uint16_t port[2];
    uint8_t proto;
    uint8_t nvlan;
    uint16_t tpid[2]; /* outermost first */
    uint16_t vid[2];
    int v6ext; /* -1: none; else the IPv6 extension header (0 hop-by-hop, 60 destination options) */
    uint32_t flow;
    uint64_t t; /* time of the last frame */
    int last_dir;
    uint32_t rtt; /* microseconds */
    uint16_t ipid[2];
    uint32_t flowlabel[2];
    /* TCP */
    uint32_t isn[2];
    uint32_t nxt[2];
    uint16_t seg[2]; /* payload bytes per segment sent by a side */
    uint16_t win[2]; /* window field after the handshake */
    uint16_t mss[2];
    uint8_t ws[2];
    bool use_ts;
    uint32_t tsbase[2];
    uint32_t tslast[2];
    uint32_t unacked[2]; /* segments a side sent that the other has not acked */
    uint64_t t0;
};

/*
 * Start a conversation of `kind` from cli:cport to srv:sport at time t0 and
 * register its flow. For TCP the OS profiles of the hosts pick the options.
 */
int ns__synth_conv_open(struct ns__synth_conv *c, struct ns__synth_ctx *x, const char *kind,
                        const struct ns__synth_host *cli, uint16_t cport,
                        const struct ns__synth_host *srv, uint16_t sport, uint8_t proto,
                        uint64_t t0);
/* Put the conversation in VLAN `outer` (TPID 0x8100), or QinQ outer 0x88a8 + inner 0x8100. */
void ns__synth_conv_vlan(struct ns__synth_conv *c, uint16_t outer, uint16_t inner, bool qinq);
/* Advance the clock as the next frame from `dir` would see it (called by the frame builders). */
void ns__synth_gap(struct ns__synth_conv *c, int dir);

struct ns__synth_frag {
    uint32_t id;
    uint32_t off; /* bytes, a multiple of 8 */
    bool more;
};

/*
 * Append one frame from side `dir` at time c->t: Ethernet, VLAN tags, IPv4
 * or IPv6 (+ extension header, + fragment header when frag != NULL), then
 * hdr and pay (the transport header and payload, or a fragment's slice).
 * When csum_off >= 0 the TCP/UDP checksum at that offset of hdr is computed.
 */
int ns__synth_frame(struct ns__synth_conv *c, int dir, uint8_t proto, const uint8_t *hdr,
                    size_t hlen, const uint8_t *pay, size_t plen, int csum_off,
                    const struct ns__synth_frag *frag);
/* Append an exact copy of frame `idx` at time c->t. */
int ns__synth_frame_copy(struct ns__synth_conv *c, size_t idx);

/* One UDP datagram from `dir`. */
int ns__synth_udp(struct ns__synth_conv *c, int dir, const uint8_t *pay, size_t len);
/*
 * One UDP datagram from `dir` sent as IP fragments of `fragsize` bytes (a
 * multiple of 8). `order` lists the fragment numbers in sending order (a
 * number may repeat: a duplicate); NULL means in order.
 */
int ns__synth_udp_frag(struct ns__synth_conv *c, int dir, const uint8_t *pay, size_t len,
                       size_t fragsize, const uint8_t *order, size_t norder);

/* Internet checksum helpers (RFC 1071). */
uint32_t ns__synth_sum(uint32_t acc, const uint8_t *p, size_t n);
uint16_t ns__synth_fold(uint32_t acc);

/* --- TCP (synth_tcp.c) --- */

#define NS__TH_FIN 0x01
#define NS__TH_SYN 0x02
#define NS__TH_RST 0x04
#define NS__TH_PSH 0x08
#define NS__TH_ACK 0x10

int ns__synth_tcp_handshake(struct ns__synth_conv *c);
/*
 * Send len bytes from `dir` in segments of at most `maxseg` bytes (0: the
 * MSS), with the peer acking every second segment and the last one.
 */
int ns__synth_tcp_send(struct ns__synth_conv *c, int dir, const uint8_t *p, size_t len,
                       size_t maxseg);
/*
 * The same with trouble: segment `dup` (-1: none) is retransmitted as an
 * exact copy after a timeout, and segments `swap` and `swap`+1 (-1: none)
 * arrive in the opposite order.
 */
int ns__synth_tcp_send_messy(struct ns__synth_conv *c, int dir, const uint8_t *p, size_t len,
                             int dup, int swap);
/* FIN from `dir`, FIN+ACK from the peer, last ACK. */
int ns__synth_tcp_close(struct ns__synth_conv *c, int dir);
/* RST+ACK from `dir`. */
int ns__synth_tcp_reset(struct ns__synth_conv *c, int dir);
/* A bare segment with the given flags, seq and ack (the scan). */
int ns__synth_tcp_raw(struct ns__synth_conv *c, int dir, uint8_t flags, uint32_t seq, uint32_t ack,
                      uint16_t win, const uint8_t *opts, size_t optlen);

/* --- payloads and kinds --- */

int ns__synth_bodies_init(struct ns__synth_ctx *x);

/* HTTP exchanges: what one request asks for. */
enum ns__synth_http_ex {
    NS__HTTP_PAGE = 0,  /* GET an HTML page, Content-Length */
    NS__HTTP_SCRIPT_GZ, /* GET a script, gzip, Content-Length */
    NS__HTTP_EVENTS,    /* GET JSON, chunked */
    NS__HTTP_POST,      /* POST JSON, 201 Created */
    NS__HTTP_STYLE_GZ,  /* GET a style sheet, gzip and chunked */
    NS__HTTP_MISSING,   /* GET, 404 Not Found */
};

/*
 * One HTTP/1.1 connection on an opened TCP conversation: handshake, the
 * exchanges in `ex` over one keep-alive connection, teardown.
 */
int ns__synth_http_conv(struct ns__synth_conv *c, const uint8_t *ex, size_t n);
/* A DNS response with `n` TXT records for name (for the fragmentation kind). */
int ns__synth_dns_big(struct ns__synth_ctx *x, struct ns__synth_buf *b, uint16_t id,
                      const char *name, unsigned n, bool response);

int ns__synth_kind_tcp(struct ns__synth_ctx *x, uint64_t t0);
int ns__synth_kind_http(struct ns__synth_ctx *x, uint64_t t0);
int ns__synth_kind_hl7(struct ns__synth_ctx *x, uint64_t t0);
int ns__synth_kind_dicom(struct ns__synth_ctx *x, uint64_t t0);
int ns__synth_kind_dns(struct ns__synth_ctx *x, uint64_t t0);
int ns__synth_kind_ipv6(struct ns__synth_ctx *x, uint64_t t0);
int ns__synth_kind_vlan(struct ns__synth_ctx *x, uint64_t t0);
int ns__synth_kind_frag(struct ns__synth_ctx *x, uint64_t t0);
int ns__synth_kind_retrans(struct ns__synth_ctx *x, uint64_t t0);
int ns__synth_kind_scan(struct ns__synth_ctx *x, uint64_t t0);

/*
 * A truth line for a device of the round (written after the round's flows):
 *   {"type":"device","kind":"hl7","ip_address":"10.30.1.23","mac_address":
 *    "00:09:5c:..","connect_port_tcp":2575,"identifier":"..","provenance":
 *    "HL7 PRT-10","identifiers":[{"value":"..","provenance":".."},...]}
 * `idents` holds n (provenance, value) pairs, the device's most specific
 * identifier first (a reader may find the others in another order). Provenance
 * labels are those of devices.h. Values must not need JSON escaping.
 */
int ns__synth_truth_device(struct ns__synth_ctx *x, const char *kind,
                           const struct ns__synth_host *h, uint16_t connect_port,
                           const char *const (*idents)[2], size_t n);

/* strftime of the UTC time `us` (microseconds since the epoch); "" if it does not fit. */
void ns__synth_fmt_time(uint64_t us, const char *fmt, char *out, size_t size)
    __attribute__((format(strftime, 2, 0)));

#endif
