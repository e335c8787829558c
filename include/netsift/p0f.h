/*
 * p0f.h - passive OS fingerprinting compatible with p0f v3 (p0f.fp format,
 * p0f 3.09b matching rules).
 *
 * Signature database: the p0f v3 text format (Debian's /etc/p0f/p0f.fp):
 * `classes = ...`, sections [mtu], [tcp:request], [tcp:response],
 * [http:request], [http:response], `label = type:class:name:flavor` (type
 * "s" specific or "g" generic), `sys = ...`, `sig = ...` lines.
 *
 * TCP signatures (`ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass`) are
 * matched for SYN packets against [tcp:request] and SYN+ACK packets against
 * [tcp:response], as p0f does: exact match first, then fuzzy (TTL within the
 * distance rules, quirks that differ only by df/id+ ...), then generic
 * signatures; the result says which. MTU signatures give the link type from
 * MSS + IP and TCP header sizes. HTTP signatures
 * (`ver:horder:habsent:expsw`) are matched against request and response
 * headers seen in HTTP traffic, with p0f's User-Agent consistency check
 * (a "dishonest" flag when the declared software contradicts the match).
 */
#ifndef NETSIFT_P0F_H
#define NETSIFT_P0F_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsift/decode.h"
#include "netsift/err.h"
#include "netsift/http.h"

#define NS_P0F_DEFAULT_PATH "/etc/p0f/p0f.fp"

struct ns_p0f_db;

enum ns_p0f_match {
    NS_P0F_NONE = 0,
    NS_P0F_EXACT,
    NS_P0F_FUZZY,
    NS_P0F_GENERIC,
};

/* "exact", "fuzzy", "generic", "none". */
const char *ns_p0f_match_name(enum ns_p0f_match m);

/* Result of one fingerprint (strings point into the database; valid while it lives). */
struct ns_p0f_result {
    enum ns_p0f_match match;
    const char *os;     /* label name, e.g. "Linux"; NULL when no match */
    const char *flavor; /* e.g. "3.11 and newer"; "" when none */
    const char *class_; /* "unix", "win", "!" for applications, ... */
    bool generic;       /* label type "g" */
    int dist;           /* hops: initial TTL guess - observed TTL; -1 unknown */
    char raw_sig[160];  /* the observed signature in p0f's notation */
    const char *link;   /* [mtu] label for the MSS, or NULL */
    unsigned mtu;       /* derived MTU, 0 unknown */
    bool dishonest;     /* http: User-Agent contradicts the signature */
    bool random_ttl;    /* tcp: matched a "NN-" TTL signature; p0f prints dist as "<= N" */
    const char *ua_os;  /* http request: OS named in User-Agent (from ua_os), or NULL */
};

/*
 * Load a p0f.fp file. Returns 0, NS_ENOENT, NS_EMALFORMED (err names the
 * file and line and what is wrong), NS_ENOMEM. Caps: 4096 signatures,
 * 1 MiB file (NS_ELIMIT); NS_EIO for an unreadable file. Error messages
 * read "NAME: line N: what", e.g. "p0f.fp: line 12: unknown quirk 'zz'".
 * *out is NULL on failure; strings in results live as long as the database.
 */
int ns_p0f_load(struct ns_p0f_db **out, const char *path, struct ns_error *err);
int ns_p0f_load_buffer(struct ns_p0f_db **out, const char *text, size_t len, const char *name,
                       struct ns_error *err);
void ns_p0f_free(struct ns_p0f_db *db);
size_t ns_p0f_count(const struct ns_p0f_db *db);

/*
 * Fingerprint a TCP SYN (request) or SYN+ACK (response) packet decoded by
 * ns_decode_packet. Returns 0 with *res filled (match may be NONE: raw_sig
 * is still given), or NS_EINVAL for a packet that is not a SYN or SYN+ACK.
 */
int ns_p0f_tcp(const struct ns_p0f_db *db, const struct ns_packet *p, struct ns_p0f_result *res);

/*
 * Same as ns_p0f_tcp, with the MSS of the SYN that a SYN+ACK answers
 * (peer_syn_mss, 0 when unknown): p0f also tries the window of a SYN+ACK as
 * a multiple of the client's MSS ("mss*N" in raw_sig and in matching).
 * ns_p0f_tcp(db, p, res) is ns_p0f_tcp_peer(db, p, 0, res).
 */
int ns_p0f_tcp_peer(const struct ns_p0f_db *db, const struct ns_packet *p, unsigned peer_syn_mss,
                    struct ns_p0f_result *res);

/* "Linux 3.11 and newer" (name and flavor, as p0f logs it) into buf; "???" when no match. */
const char *ns_p0f_label(const struct ns_p0f_result *res, char *buf, size_t size);

/*
 * Messages with more headers than this are not fingerprinted, as p0f's
 * HTTP_MAX_HDRS: ns_p0f_http and ns_p0f_http_sig return NS_ELIMIT.
 */
#define NS_P0F_HTTP_MAX_HDRS 32

/* Fingerprint the headers of an HTTP request or response (from the HTTP parser). */
int ns_p0f_http(const struct ns_p0f_db *db, const struct ns_http_msg *m, struct ns_p0f_result *res);

/*
 * p0f's raw_sig of an HTTP message (the "raw_sig=" of its "http request" /
 * "http response" log lines; res->raw_sig is too short for it, so it has
 * its own buffer): `ver:horder:habsent:sw`. ver is 1 for HTTP/1.1, else 0;
 * horder lists the headers in order, "?Name" for the ones p0f treats as
 * optional, "Name=[value]" for values it keeps (not for Host / User-Agent
 * in requests, Date / Content-Type / Server in responses); habsent lists
 * the common headers missing; sw is the User-Agent (request) or Server
 * (response) value. Values are cut at the first control, non-ASCII or ']'
 * byte (and '|' for header names the database knows) and at 200 bytes.
 * db may be NULL (then only p0f's built-in header names are "known").
 * Writes a NUL-terminated string into (buf, size); returns 0, NS_ELIMIT
 * when it did not fit (cut, still terminated) or NS_EINVAL.
 */
#define NS_P0F_HTTP_SIG_MAX 8192
int ns_p0f_http_sig(const struct ns_p0f_db *db, const struct ns_http_msg *m, char *buf,
                    size_t size);

#endif
