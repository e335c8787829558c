/*
 * proto_dicom.c - DICOM upper layer (PS3.8 section 9.3) for one direction of
 * a TCP stream, with DIMSE command sets (PS3.7 section 9.3, E.1) and the
 * first attributes of data sets (PS3.5 section 7.1 data elements, 7.5
 * sequences, 10 / A.1, A.2 transfer syntaxes).
 *
 * PDU header (9.3.1):
 *
 *   0        1          2                                  6
 *   +--------+----------+----------------------------------+
 *   | type   | reserved | length (BE32, bytes that follow) |
 *   +--------+----------+----------------------------------+
 *
 * A-ASSOCIATE-RQ / -AC body (9.3.2, 9.3.3):
 *
 *   +---------+------+-----------+------------+----------+--------------+
 *   | version | rsv  | called AE | calling AE | rsv (32) | items ...    |
 *   | (BE16)  | (2)  | (16)      | (16)       |          |              |
 *   +---------+------+-----------+------------+----------+--------------+
 *   item: type (1) rsv (1) length (BE16) value
 *     0x10 application context name
 *     0x20 / 0x21 presentation context: id (1) rsv (1) result (1) rsv (1)
 *          sub-items 0x30 abstract syntax, 0x40 transfer syntax
 *     0x50 user information: 0x51 max length (BE32), 0x52 implementation
 *          class UID, 0x55 implementation version name
 *
 * A-ASSOCIATE-RJ (9.3.4): rsv, result, source, reason.
 * A-RELEASE-RQ/RP (9.3.6, 9.3.7): 4 reserved bytes.
 * A-ABORT (9.3.8): rsv, rsv, source, reason.
 * P-DATA-TF (9.3.5): PDV items: length (BE32), context id, message control
 * header (bit 0 command, bit 1 last fragment), fragment.
 *
 * Data elements (PS3.5 7.1.2 explicit VR, 7.1.3 implicit VR, little endian):
 *
 *   implicit:  group (LE16) element (LE16) length (LE32)
 *   explicit:  group element VR (2 chars) length (LE16)
 *              group element VR 0x0000 length (LE32)    for OB OD OF OL OV
 *                                                       OW SQ SV UC UN UR UT UV
 *   items:     (FFFE,E000) / (FFFE,E00D) / (FFFE,E0DD) length (LE32), no VR
 *
 * Non-P-DATA PDUs are buffered whole (capped) and read with struct ns_rd,
 * every item through ns_rd_sub() of its parent. P-DATA is streamed: PDV
 * headers are gathered in a small buffer, fragments go straight to an
 * element stream that keeps only element headers and the wanted values.
 */
#include "netsift/dicom.h"

#include <string.h>

#include "netsift/alloc.h"
#include "netsift/err.h"
#include "netsift/rd.h"

#define DCM_UNDEF   0xFFFFFFFFu
#define DCM_NSLOT   8
#define DCM_NCTX    128
#define DCM_UID_MAX 64
#define DCM_WIN     10

enum dcm_state {
    DS_HDR = 0, /* gathering a 6-byte PDU header */
    DS_BODY,    /* buffering a non-P-DATA PDU */
    DS_PDV_HDR, /* gathering a 6-byte PDV header */
    DS_PDV_DATA,
    DS_SKIP, /* skipping the rest of a PDU */
    DS_LOST, /* framing lost: sliding over bytes for a plausible PDU header */
};

enum dcm_phase {
    EP_HDR = 0,
    EP_KEEP,
    EP_SKIP,
    EP_DONE,
};

/* One command set or data set being read, fragment by fragment. */
struct dcm_stream {
    bool active;
    bool command;
    uint8_t ctx_id;
    enum ns_dicom_ts ts;
    bool vr_known;
    bool explicit_vr;
    unsigned flags; /* NS_DICOM_DS_... */
    enum dcm_phase phase;
    uint8_t hdr[12];
    size_t hlen;
    size_t hneed;
    uint64_t skip;
    int slot;
    size_t keep_left;
    unsigned depth;
    uint64_t seen;
    bool present[DCM_NSLOT];
    size_t vl[DCM_NSLOT];
    uint8_t *vals; /* DCM_NSLOT * max_value_bytes */
};

/* What this direction knows about one presentation context. */
struct dcm_ctx {
    bool proposed;
    bool answered;
    uint8_t result;
    enum ns_dicom_ts ts;
    uint8_t as_len;
    char as[DCM_UID_MAX];
};

struct ns_dicom_parser {
    struct ns_dicom_opts o;
    struct ns_dicom_callbacks cb;
    struct ns_dicom_stats st;
    struct ns_dicom_parser *peer;
    enum dcm_state state;
    bool bad;
    uint8_t hdr[6];
    size_t hlen;
    uint8_t pdu_type;
    uint64_t pdu_left; /* bytes of the current PDU not consumed yet */
    uint64_t pdv_left; /* bytes of the current PDV fragment not consumed yet */
    uint8_t pdv_mch;
    uint8_t *body;
    size_t body_len;
    size_t body_cap;
    uint8_t win[DCM_WIN];
    size_t wlen;
    struct ns_dicom_pctx *pctx;
    struct ns_dicom_view *ts;
    struct dcm_ctx ctx[DCM_NCTX];
    struct dcm_stream cmd;
    struct dcm_stream data;
};

void ns_dicom_opts_init(struct ns_dicom_opts *o)
{
    o->max_pdu_bytes = 1u << 20;
    o->max_dataset_bytes = 4u << 20;
    o->max_pctx = 256;
    o->max_transfer_syntaxes = 1024;
    o->max_value_bytes = 256;
    o->max_depth = 16;
}

/* Strip trailing NUL and space padding from a UID or text value. */
static struct ns_dicom_view dcm_trim(const uint8_t *s, size_t len)
{
    while (len > 0 && (s[len - 1] == 0 || s[len - 1] == ' ')) {
        len--;
    }
    struct ns_dicom_view v = {(const char *)s, len};
    return v;
}

enum ns_dicom_ts ns_dicom_ts_from_uid(const char *uid, size_t len)
{
    if (uid == NULL) {
        return NS_DICOM_TS_UNKNOWN;
    }
    struct ns_dicom_view v = dcm_trim((const uint8_t *)uid, len);
    static const char base[] = "1.2.840.10008.1.2";
    size_t bl = sizeof(base) - 1;
    if (v.len < bl || memcmp(v.ptr, base, bl) != 0) {
        return NS_DICOM_TS_UNKNOWN;
    }
    const char *rest = v.ptr + bl;
    size_t rl = v.len - bl;
    if (rl == 0) {
        return NS_DICOM_TS_IMPLICIT_LE;
    }
    if (rest[0] != '.') {
        return NS_DICOM_TS_UNKNOWN;
    }
    if (rl == 2 && rest[1] == '2') {
        return NS_DICOM_TS_EXPLICIT_BE;
    }
    if (rl == 5 && memcmp(rest, ".1.99", 5) == 0) {
        return NS_DICOM_TS_DEFLATED;
    }
    /* .1 explicit LE; .4.x, .5, .6.x, .7 ... encapsulated: the data set is explicit LE */
    return NS_DICOM_TS_EXPLICIT_LE;
}

static void dcm_stream_reset(struct dcm_stream *s)
{
    uint8_t *vals = s->vals;
    bool command = s->command;
    memset(s, 0, sizeof(*s));
    s->vals = vals;
    s->command = command;
    s->hneed = 8;
}

int ns_dicom_parser_new(struct ns_dicom_parser **out, const struct ns_dicom_opts *opts,
                        const struct ns_dicom_callbacks *cb)
{
    if (out == NULL || cb == NULL) {
        return NS_EINVAL;
    }
    *out = NULL;
    struct ns_dicom_parser *p = ns_calloc(1, sizeof(*p));
    if (p == NULL) {
        return NS_ENOMEM;
    }
    ns_dicom_opts_init(&p->o);
    if (opts != NULL) {
        if (opts->max_pdu_bytes != 0) {
            p->o.max_pdu_bytes = opts->max_pdu_bytes;
        }
        if (opts->max_dataset_bytes != 0) {
            p->o.max_dataset_bytes = opts->max_dataset_bytes;
        }
        if (opts->max_pctx != 0) {
            p->o.max_pctx = opts->max_pctx;
        }
        if (opts->max_transfer_syntaxes != 0) {
            p->o.max_transfer_syntaxes = opts->max_transfer_syntaxes;
        }
        if (opts->max_value_bytes != 0) {
            p->o.max_value_bytes = opts->max_value_bytes;
        }
        if (opts->max_depth != 0) {
            p->o.max_depth = opts->max_depth;
        }
    }
    p->cb = *cb;
    p->pctx = ns_calloc(p->o.max_pctx, sizeof(*p->pctx));
    p->ts = ns_calloc(p->o.max_transfer_syntaxes, sizeof(*p->ts));
    p->cmd.vals = ns_calloc(DCM_NSLOT, p->o.max_value_bytes);
    p->data.vals = ns_calloc(DCM_NSLOT, p->o.max_value_bytes);
    if (p->pctx == NULL || p->ts == NULL || p->cmd.vals == NULL || p->data.vals == NULL) {
        ns_dicom_parser_free(p);
        return NS_ENOMEM;
    }
    p->cmd.command = true;
    dcm_stream_reset(&p->cmd);
    dcm_stream_reset(&p->data);
    p->state = DS_HDR;
    *out = p;
    return 0;
}

void ns_dicom_parser_free(struct ns_dicom_parser *p)
{
    if (p == NULL) {
        return;
    }
    if (p->peer != NULL) {
        p->peer->peer = NULL;
    }
    ns_free(p->pctx);
    ns_free(p->ts);
    ns_free(p->cmd.vals);
    ns_free(p->data.vals);
    ns_free(p->body);
    ns_free(p);
}

const struct ns_dicom_stats *ns_dicom_stats(const struct ns_dicom_parser *p)
{
    return &p->st;
}

/* Merge what `src` knows about a context into `dst`. */
static void dcm_ctx_merge(struct dcm_ctx *dst, const struct dcm_ctx *src)
{
    if (src->proposed && dst->as_len == 0) {
        dst->proposed = true;
        dst->as_len = src->as_len;
        memcpy(dst->as, src->as, src->as_len);
    }
    if (src->answered && !dst->answered) {
        dst->answered = true;
        dst->result = src->result;
        dst->ts = src->ts;
    }
}

void ns_dicom_pair(struct ns_dicom_parser *a, struct ns_dicom_parser *b)
{
    if (a == NULL || b == NULL || a == b) {
        return;
    }
    if (a->peer != NULL) {
        a->peer->peer = NULL;
    }
    if (b->peer != NULL) {
        b->peer->peer = NULL;
    }
    a->peer = b;
    b->peer = a;
    for (size_t i = 0; i < DCM_NCTX; i++) {
        dcm_ctx_merge(&a->ctx[i], &b->ctx[i]);
        dcm_ctx_merge(&b->ctx[i], &a->ctx[i]);
    }
}

static void dcm_malformed(struct ns_dicom_parser *p)
{
    p->st.malformed++;
    p->bad = true;
}

/* ------------------------------------------------------------------------ */
/* element streams (command sets and data sets)                              */

/* Slot of a wanted element, or -1. */
static int dcm_slot(bool command, uint16_t group, uint16_t elem)
{
    uint32_t tag = (uint32_t)group << 16 | elem;
    static const uint32_t cmd_tags[DCM_NSLOT] = {0x00000002, 0x00000003, 0x00000100, 0x00000110,
                                                 0x00000120, 0x00000800, 0x00000900, 0};
    static const uint32_t ds_tags[DCM_NSLOT] = {0x00080016, 0x00080060, 0x00080070, 0x00080080,
                                                0x00081010, 0x00081090, 0x00181000, 0x00181020};
    const uint32_t *t = command ? cmd_tags : ds_tags;
    for (int i = 0; i < DCM_NSLOT; i++) {
        if (t[i] == tag && tag != 0) {
            return i;
        }
    }
    return -1;
}

static bool dcm_long_vr(uint8_t a, uint8_t b)
{
    static const char vrs[][2] = {{'O', 'B'}, {'O', 'D'}, {'O', 'F'}, {'O', 'L'}, {'O', 'V'},
                                  {'O', 'W'}, {'S', 'Q'}, {'S', 'V'}, {'U', 'C'}, {'U', 'N'},
                                  {'U', 'R'}, {'U', 'T'}, {'U', 'V'}};
    for (size_t i = 0; i < sizeof(vrs) / sizeof(vrs[0]); i++) {
        if ((uint8_t)vrs[i][0] == a && (uint8_t)vrs[i][1] == b) {
            return true;
        }
    }
    return false;
}

static bool dcm_upper(uint8_t c)
{
    return c >= 'A' && c <= 'Z';
}

static void dcm_stop(struct dcm_stream *s)
{
    s->flags |= NS_DICOM_DS_STOPPED;
    s->phase = EP_DONE;
}

/* One complete element header: decide what to do with its value. */
static void dcm_element(struct ns_dicom_parser *p, struct dcm_stream *s, uint16_t group,
                        uint16_t elem, uint32_t len)
{
    s->phase = EP_HDR;
    s->skip = 0;
    if (group == 0xFFFE) {
        if (elem == 0xE000) {
            if (s->depth == 0) {
                /* an item outside any sequence */
                dcm_stop(s);
                return;
            }
            if (len == DCM_UNDEF) {
                if (s->depth >= p->o.max_depth) {
                    dcm_stop(s);
                    return;
                }
                s->depth++;
            } else {
                s->skip = len;
            }
        } else if (elem == 0xE00D || elem == 0xE0DD) {
            if (s->depth == 0 || len == DCM_UNDEF) {
                dcm_stop(s);
                return;
            }
            s->depth--;
            s->skip = len;
        } else {
            dcm_stop(s);
            return;
        }
    } else if (s->depth > 0) {
        if (len == DCM_UNDEF) {
            if (s->depth >= p->o.max_depth) {
                dcm_stop(s);
                return;
            }
            s->depth++;
        } else {
            s->skip = len;
        }
    } else {
        /* top level: elements come in ascending tag order */
        if (s->command ? group != 0x0000 : group > 0x0018) {
            s->phase = EP_DONE;
            return;
        }
        if (len == DCM_UNDEF) {
            if (s->depth >= p->o.max_depth) {
                dcm_stop(s);
                return;
            }
            s->depth++;
            return;
        }
        int slot = dcm_slot(s->command, group, elem);
        if (slot >= 0 && !s->present[slot]) {
            size_t keep = len < p->o.max_value_bytes ? (size_t)len : p->o.max_value_bytes;
            if (keep < len) {
                s->flags |= NS_DICOM_DS_VALUE_CUT;
            }
            s->present[slot] = true;
            s->vl[slot] = 0;
            s->slot = slot;
            s->keep_left = keep;
            s->skip = len - keep;
            if (keep > 0) {
                s->phase = EP_KEEP;
                return;
            }
        } else {
            s->skip = len;
        }
    }
    if (s->skip > 0) {
        s->phase = EP_SKIP;
    }
}

/* Feed fragment bytes to an element stream. */
static void dcm_stream_feed(struct ns_dicom_parser *p, struct dcm_stream *s, const uint8_t *d,
                            size_t n)
{
    if (s->phase == EP_DONE) {
        return;
    }
    if (n > p->o.max_dataset_bytes || s->seen > p->o.max_dataset_bytes - n) {
        dcm_stop(s);
        return;
    }
    s->seen += n;
    size_t i = 0;
    while (i < n && s->phase != EP_DONE) {
        size_t left = n - i;
        if (s->phase == EP_KEEP) {
            size_t k = left < s->keep_left ? left : s->keep_left;
            memcpy(s->vals + (size_t)s->slot * p->o.max_value_bytes + s->vl[s->slot], d + i, k);
            s->vl[s->slot] += k;
            s->keep_left -= k;
            i += k;
            if (s->keep_left == 0) {
                s->phase = s->skip > 0 ? EP_SKIP : EP_HDR;
            }
            continue;
        }
        if (s->phase == EP_SKIP) {
            size_t k = left < s->skip ? left : (size_t)s->skip;
            s->skip -= k;
            i += k;
            if (s->skip == 0) {
                s->phase = EP_HDR;
            }
            continue;
        }
        /* EP_HDR */
        size_t k = s->hneed - s->hlen;
        if (k > left) {
            k = left;
        }
        memcpy(s->hdr + s->hlen, d + i, k);
        s->hlen += k;
        i += k;
        if (s->hlen < s->hneed) {
            break;
        }
        struct ns_rd r;
        ns_rd_init(&r, s->hdr, s->hlen, 0);
        uint16_t group = ns_rd_le16(&r);
        uint16_t elem = ns_rd_le16(&r);
        if (!s->vr_known) {
            s->explicit_vr = dcm_upper(s->hdr[4]) && dcm_upper(s->hdr[5]);
            s->vr_known = true;
            s->ts = s->explicit_vr ? NS_DICOM_TS_EXPLICIT_LE : NS_DICOM_TS_IMPLICIT_LE;
        }
        uint32_t len;
        if (group == 0xFFFE || !s->explicit_vr) {
            len = ns_rd_le32(&r);
        } else if (s->hneed == 8 && dcm_long_vr(s->hdr[4], s->hdr[5])) {
            s->hneed = 12;
            continue;
        } else if (s->hneed == 12) {
            ns_rd_skip(&r, 4);
            len = ns_rd_le32(&r);
        } else {
            ns_rd_skip(&r, 2);
            len = ns_rd_le16(&r);
        }
        s->hlen = 0;
        s->hneed = 8;
        if (!ns_rd_ok(&r)) {
            dcm_stop(s);
            break;
        }
        dcm_element(p, s, group, elem, len);
    }
}

static struct ns_dicom_view dcm_slot_view(const struct ns_dicom_parser *p,
                                          const struct dcm_stream *s, int slot)
{
    if (!s->present[slot]) {
        struct ns_dicom_view v = {NULL, 0};
        return v;
    }
    return dcm_trim(s->vals + (size_t)slot * p->o.max_value_bytes, s->vl[slot]);
}

static bool dcm_slot_u16(const struct ns_dicom_parser *p, const struct dcm_stream *s, int slot,
                         uint16_t *v)
{
    if (!s->present[slot]) {
        return false;
    }
    struct ns_rd r;
    ns_rd_init(&r, s->vals + (size_t)slot * p->o.max_value_bytes, s->vl[slot], 0);
    *v = ns_rd_le16(&r);
    return ns_rd_ok(&r);
}

static struct ns_dicom_view dcm_ctx_as(const struct ns_dicom_parser *p, uint8_t id)
{
    const struct dcm_ctx *c = &p->ctx[id >> 1];
    struct ns_dicom_view v = {c->as_len > 0 ? c->as : NULL, c->as_len};
    return v;
}

/* Report a finished (or cut) stream and reset it. */
static void dcm_stream_end(struct ns_dicom_parser *p, struct dcm_stream *s, bool incomplete)
{
    if (!s->active) {
        return;
    }
    if (incomplete) {
        s->flags |= NS_DICOM_DS_INCOMPLETE;
    }
    bool any = false;
    for (int i = 0; i < DCM_NSLOT; i++) {
        any = any || s->present[i];
    }
    if (s->command) {
        struct ns_dicom_command c;
        memset(&c, 0, sizeof(c));
        c.pctx_id = s->ctx_id;
        c.sop_class_uid = dcm_slot_view(p, s, 0);
        if (c.sop_class_uid.len == 0) {
            c.sop_class_uid = dcm_slot_view(p, s, 1);
        }
        bool has_cmd = dcm_slot_u16(p, s, 2, &c.command_field);
        c.has_message_id = dcm_slot_u16(p, s, 3, &c.message_id);
        if (!c.has_message_id) {
            c.has_message_id = dcm_slot_u16(p, s, 4, &c.message_id);
        }
        c.has_status = dcm_slot_u16(p, s, 6, &c.status);
        uint16_t dst = 0x0101;
        c.has_dataset = dcm_slot_u16(p, s, 5, &dst) && dst != 0x0101;
        c.abstract_syntax = dcm_ctx_as(p, s->ctx_id);
        if (has_cmd && !incomplete) {
            p->st.commands++;
            if (p->cb.on_command != NULL) {
                p->cb.on_command(p->cb.ud, &c);
            }
        }
    } else if (!incomplete || any) {
        struct ns_dicom_dataset ds;
        memset(&ds, 0, sizeof(ds));
        ds.pctx_id = s->ctx_id;
        ds.ts = s->ts;
        ds.flags = s->flags;
        ds.sop_class_uid = dcm_slot_view(p, s, 0);
        ds.modality = dcm_slot_view(p, s, 1);
        ds.manufacturer = dcm_slot_view(p, s, 2);
        ds.institution_name = dcm_slot_view(p, s, 3);
        ds.station_name = dcm_slot_view(p, s, 4);
        ds.model_name = dcm_slot_view(p, s, 5);
        ds.device_serial_number = dcm_slot_view(p, s, 6);
        ds.software_versions = dcm_slot_view(p, s, 7);
        ds.abstract_syntax = dcm_ctx_as(p, s->ctx_id);
        p->st.datasets++;
        if (p->cb.on_dataset_attrs != NULL) {
            p->cb.on_dataset_attrs(p->cb.ud, &ds);
        }
    }
    /* the kept values may be data of any kind: do not leave them around */
    memset(s->vals, 0, DCM_NSLOT * p->o.max_value_bytes);
    dcm_stream_reset(s);
}

static void dcm_stream_begin(struct ns_dicom_parser *p, struct dcm_stream *s, uint8_t id)
{
    dcm_stream_reset(s);
    s->active = true;
    s->ctx_id = id;
    if (s->command) {
        s->ts = NS_DICOM_TS_IMPLICIT_LE;
        s->vr_known = true;
        s->explicit_vr = false;
        return;
    }
    const struct dcm_ctx *c = &p->ctx[id >> 1];
    s->ts = c->answered && c->result == 0 ? c->ts : NS_DICOM_TS_UNKNOWN;
    switch (s->ts) {
    case NS_DICOM_TS_IMPLICIT_LE:
        s->vr_known = true;
        s->explicit_vr = false;
        break;
    case NS_DICOM_TS_EXPLICIT_LE:
        s->vr_known = true;
        s->explicit_vr = true;
        break;
    case NS_DICOM_TS_EXPLICIT_BE:
    case NS_DICOM_TS_DEFLATED:
        s->flags |= NS_DICOM_DS_NOT_PARSED;
        s->phase = EP_DONE;
        break;
    case NS_DICOM_TS_UNKNOWN:
        s->flags |= NS_DICOM_DS_TS_GUESSED;
        break;
    }
}

/* Abandon both streams (gap, abort, close). */
static void dcm_streams_cut(struct ns_dicom_parser *p)
{
    dcm_stream_end(p, &p->cmd, true);
    dcm_stream_end(p, &p->data, true);
}

/* ------------------------------------------------------------------------ */
/* association PDUs                                                           */

/* AE title as text: spaces trimmed, bytes outside ISO 646 G0 printable (and '\') escaped. */
static bool dcm_ae(const uint8_t *ae, char out[NS_DICOM_AE_TEXT_MAX])
{
    static const char hex[] = "0123456789ABCDEF";
    size_t b = 0, e = 16;
    while (b < e && ae[b] == ' ') {
        b++;
    }
    while (e > b && ae[e - 1] == ' ') {
        e--;
    }
    bool nonprint = false;
    size_t w = 0;
    for (size_t i = b; i < e; i++) {
        uint8_t c = ae[i];
        if (c >= 0x20 && c < 0x7F && c != '\\') {
            out[w++] = (char)c;
        } else {
            nonprint = true;
            out[w++] = '\\';
            out[w++] = 'x';
            out[w++] = hex[c >> 4];
            out[w++] = hex[c & 15];
        }
    }
    out[w] = '\0';
    return nonprint;
}

static void dcm_ctx_store_rq(struct ns_dicom_parser *p, uint8_t id, struct ns_dicom_view as)
{
    struct dcm_ctx *c = &p->ctx[id >> 1];
    c->proposed = true;
    size_t n = as.len < DCM_UID_MAX ? as.len : DCM_UID_MAX;
    if (n > 0) {
        memcpy(c->as, as.ptr, n);
    }
    c->as_len = (uint8_t)n;
}

static void dcm_ctx_store_ac(struct ns_dicom_parser *p, uint8_t id, uint8_t result,
                             enum ns_dicom_ts ts)
{
    struct dcm_ctx *c = &p->ctx[id >> 1];
    c->answered = true;
    c->result = result;
    c->ts = ts;
}

/* Sub-items of a presentation context item. */
static void dcm_pctx_items(struct ns_dicom_parser *p, struct ns_rd *r, struct ns_dicom_pctx *pc,
                           size_t *nts, unsigned *flags)
{
    size_t first = *nts;
    while (ns_rd_left(r) > 0) {
        uint8_t t = ns_rd_u8(r);
        ns_rd_skip(r, 1);
        uint16_t l = ns_rd_be16(r);
        struct ns_rd v = ns_rd_sub(r, l);
        if (!ns_rd_ok(r)) {
            dcm_malformed(p);
            return;
        }
        const uint8_t *b = ns_rd_bytes(&v, l);
        if (t == 0x30) {
            pc->abstract_syntax = dcm_trim(b, l);
        } else if (t == 0x40) {
            if (*nts >= p->o.max_transfer_syntaxes) {
                p->st.pctx_dropped++;
                *flags |= NS_DICOM_ASSOC_PCTX_DROPPED;
                continue;
            }
            p->ts[(*nts)++] = dcm_trim(b, l);
        }
    }
    pc->transfer_syntaxes = *nts > first ? &p->ts[first] : NULL;
    pc->ntransfer_syntaxes = *nts - first;
}

static void dcm_user_info(struct ns_dicom_parser *p, struct ns_rd *r, struct ns_dicom_assoc *a)
{
    while (ns_rd_left(r) > 0) {
        uint8_t t = ns_rd_u8(r);
        ns_rd_skip(r, 1);
        uint16_t l = ns_rd_be16(r);
        struct ns_rd v = ns_rd_sub(r, l);
        if (!ns_rd_ok(r)) {
            dcm_malformed(p);
            return;
        }
        if (t == 0x51) {
            uint32_t m = ns_rd_be32(&v);
            if (ns_rd_ok(&v) && l == 4) {
                a->has_max_length = true;
                a->max_length = m;
            } else {
                dcm_malformed(p);
            }
        } else if (t == 0x52) {
            a->impl_class_uid = dcm_trim(ns_rd_bytes(&v, l), l);
        } else if (t == 0x55) {
            a->impl_version_name = dcm_trim(ns_rd_bytes(&v, l), l);
        }
    }
}

static void dcm_associate(struct ns_dicom_parser *p, const uint8_t *b, size_t n, bool rq)
{
    struct ns_dicom_assoc a;
    memset(&a, 0, sizeof(a));
    a.kind = rq ? NS_DICOM_PDU_ASSOCIATE_RQ : NS_DICOM_PDU_ASSOCIATE_AC;
    struct ns_rd r;
    ns_rd_init(&r, b, n, 6);
    a.protocol_version = ns_rd_be16(&r);
    ns_rd_skip(&r, 2);
    const uint8_t *called = ns_rd_bytes(&r, 16);
    const uint8_t *calling = ns_rd_bytes(&r, 16);
    ns_rd_skip(&r, 32);
    if (!ns_rd_ok(&r)) {
        dcm_malformed(p);
        return;
    }
    if (dcm_ae(called, a.called_ae)) {
        a.flags |= NS_DICOM_ASSOC_CALLED_NONPRINT;
        p->st.ae_nonprintable++;
    }
    if (dcm_ae(calling, a.calling_ae)) {
        a.flags |= NS_DICOM_ASSOC_CALLING_NONPRINT;
        p->st.ae_nonprintable++;
    }
    size_t npc = 0, nts = 0;
    while (ns_rd_left(&r) > 0) {
        uint8_t t = ns_rd_u8(&r);
        ns_rd_skip(&r, 1);
        uint16_t l = ns_rd_be16(&r);
        struct ns_rd v = ns_rd_sub(&r, l);
        if (!ns_rd_ok(&r)) {
            /* an item length past the end of the PDU */
            dcm_malformed(p);
            break;
        }
        if (t == 0x10) {
            a.application_context = dcm_trim(ns_rd_bytes(&v, l), l);
        } else if (t == (rq ? 0x20 : 0x21)) {
            uint8_t id = ns_rd_u8(&v);
            ns_rd_skip(&v, 1);
            uint8_t result = ns_rd_u8(&v);
            ns_rd_skip(&v, 1);
            if (!ns_rd_ok(&v)) {
                dcm_malformed(p);
                continue;
            }
            if (npc >= p->o.max_pctx) {
                p->st.pctx_dropped++;
                a.flags |= NS_DICOM_ASSOC_PCTX_DROPPED;
                continue;
            }
            struct ns_dicom_pctx *pc = &p->pctx[npc++];
            memset(pc, 0, sizeof(*pc));
            pc->id = id;
            pc->result = rq ? 0 : result;
            dcm_pctx_items(p, &v, pc, &nts, &a.flags);
            if (rq) {
                dcm_ctx_store_rq(p, id, pc->abstract_syntax);
                if (p->peer != NULL) {
                    dcm_ctx_store_rq(p->peer, id, pc->abstract_syntax);
                }
            } else {
                enum ns_dicom_ts ts = NS_DICOM_TS_UNKNOWN;
                if (pc->ntransfer_syntaxes > 0) {
                    ts = ns_dicom_ts_from_uid(pc->transfer_syntaxes[0].ptr,
                                              pc->transfer_syntaxes[0].len);
                }
                dcm_ctx_store_ac(p, id, pc->result, ts);
                if (p->peer != NULL) {
                    dcm_ctx_store_ac(p->peer, id, pc->result, ts);
                }
                pc->abstract_syntax = dcm_ctx_as(p, id);
            }
        } else if (t == 0x50) {
            dcm_user_info(p, &v, &a);
        }
    }
    a.pctx = p->pctx;
    a.npctx = npc;
    if (rq) {
        p->st.associate_rq++;
    } else {
        p->st.associate_ac++;
    }
    if (p->cb.on_associate != NULL) {
        p->cb.on_associate(p->cb.ud, &a);
    }
}

/* A complete non-P-DATA PDU in p->body. */
static void dcm_pdu(struct ns_dicom_parser *p)
{
    struct ns_rd r;
    ns_rd_init(&r, p->body, p->body_len, 6);
    switch (p->pdu_type) {
    case NS_DICOM_PDU_ASSOCIATE_RQ:
    case NS_DICOM_PDU_ASSOCIATE_AC:
        dcm_associate(p, p->body, p->body_len, p->pdu_type == NS_DICOM_PDU_ASSOCIATE_RQ);
        break;
    case NS_DICOM_PDU_ASSOCIATE_RJ: {
        ns_rd_skip(&r, 1);
        uint8_t result = ns_rd_u8(&r);
        uint8_t source = ns_rd_u8(&r);
        uint8_t reason = ns_rd_u8(&r);
        p->st.associate_rj++;
        if (ns_rd_ok(&r) && p->cb.on_reject != NULL) {
            p->cb.on_reject(p->cb.ud, result, source, reason);
        }
        break;
    }
    case NS_DICOM_PDU_RELEASE_RQ:
    case NS_DICOM_PDU_RELEASE_RP:
        p->st.releases++;
        if (p->cb.on_release != NULL) {
            p->cb.on_release(p->cb.ud, p->pdu_type == NS_DICOM_PDU_RELEASE_RP);
        }
        break;
    case NS_DICOM_PDU_ABORT: {
        ns_rd_skip(&r, 2);
        uint8_t source = ns_rd_u8(&r);
        uint8_t reason = ns_rd_u8(&r);
        p->st.aborts++;
        dcm_streams_cut(p);
        if (ns_rd_ok(&r) && p->cb.on_abort != NULL) {
            p->cb.on_abort(p->cb.ud, source, reason);
        }
        break;
    }
    default:
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* framing                                                                    */

static uint32_t dcm_min_len(uint8_t type)
{
    switch (type) {
    case NS_DICOM_PDU_ASSOCIATE_RQ:
    case NS_DICOM_PDU_ASSOCIATE_AC:
        return 68;
    case NS_DICOM_PDU_P_DATA_TF:
        return 6;
    default:
        return 4;
    }
}

/* Does win[0..DCM_WIN) look like the start of a PDU? (resync heuristic) */
static bool dcm_plausible(const struct ns_dicom_parser *p, const uint8_t *w)
{
    struct ns_rd r;
    ns_rd_init(&r, w, DCM_WIN, 0);
    uint8_t t = ns_rd_u8(&r);
    uint8_t rsv = ns_rd_u8(&r);
    uint32_t len = ns_rd_be32(&r);
    uint32_t a = ns_rd_be32(&r);
    if (!ns_rd_ok(&r) || t < 1 || t > 7 || rsv != 0 || len < dcm_min_len(t) ||
        len > p->o.max_pdu_bytes) {
        return false;
    }
    switch (t) {
    case NS_DICOM_PDU_ASSOCIATE_RQ:
    case NS_DICOM_PDU_ASSOCIATE_AC:
        return (a >> 16) == 0x0001;
    case NS_DICOM_PDU_P_DATA_TF:
        return a >= 2 && a <= len - 4;
    case NS_DICOM_PDU_ASSOCIATE_RJ:
        return len == 4 && (a >> 24) == 0 && ((a >> 16) & 0xFF) >= 1 && ((a >> 16) & 0xFF) <= 2;
    case NS_DICOM_PDU_ABORT:
        return len == 4 && (a >> 16) == 0 && ((a >> 8) & 0xFF) <= 2;
    default:
        return len == 4 && a == 0;
    }
}

static void dcm_lose(struct ns_dicom_parser *p)
{
    dcm_streams_cut(p);
    p->state = DS_LOST;
    p->wlen = 0;
    p->hlen = 0;
    p->body_len = 0;
    p->st.resyncs++;
}

static void dcm_run(struct ns_dicom_parser *p, const uint8_t *d, size_t len);

/* A PDU header is complete in p->hdr. */
static void dcm_pdu_header(struct ns_dicom_parser *p)
{
    struct ns_rd r;
    ns_rd_init(&r, p->hdr, sizeof(p->hdr), 0);
    uint8_t type = ns_rd_u8(&r);
    ns_rd_skip(&r, 1);
    uint32_t len = ns_rd_be32(&r);
    p->hlen = 0;
    if (!ns_rd_ok(&r) || type < 1 || type > 7 || len < dcm_min_len(type)) {
        dcm_malformed(p);
        dcm_lose(p);
        return;
    }
    p->st.pdus++;
    p->pdu_type = type;
    p->pdu_left = len;
    if (len > p->o.max_pdu_bytes) {
        p->st.oversized++;
        p->bad = true;
        p->state = DS_SKIP;
        return;
    }
    if (type == NS_DICOM_PDU_P_DATA_TF) {
        p->st.p_data++;
        p->state = DS_PDV_HDR;
        return;
    }
    p->body_len = 0;
    if (len > p->body_cap) {
        size_t ncap = p->body_cap < 1024 ? 1024 : p->body_cap;
        while (ncap < len) {
            ncap *= 2;
        }
        uint8_t *nb = ns_reallocarray(p->body, ncap, 1);
        if (nb == NULL) {
            p->st.oversized++;
            p->state = DS_SKIP;
            return;
        }
        p->body = nb;
        p->body_cap = ncap;
    }
    p->state = DS_BODY;
}

/* A PDV header is complete in p->hdr. */
static void dcm_pdv_header(struct ns_dicom_parser *p)
{
    struct ns_rd r;
    ns_rd_init(&r, p->hdr, sizeof(p->hdr), 0);
    uint32_t len = ns_rd_be32(&r);
    uint8_t id = ns_rd_u8(&r);
    uint8_t mch = ns_rd_u8(&r);
    p->hlen = 0;
    p->pdu_left -= 6;
    /* the PDV length counts the context id and the control header */
    if (!ns_rd_ok(&r) || len < 2 || (uint64_t)len - 2 > p->pdu_left) {
        dcm_malformed(p);
        dcm_streams_cut(p);
        p->state = p->pdu_left > 0 ? DS_SKIP : DS_HDR;
        return;
    }
    p->st.pdvs++;
    p->pdv_left = len - 2;
    p->pdv_mch = mch;
    struct dcm_stream *s = (mch & 1) ? &p->cmd : &p->data;
    if (s->active && s->ctx_id != id) {
        dcm_stream_end(p, s, true);
    }
    if (!s->active) {
        dcm_stream_begin(p, s, id);
    }
    p->state = DS_PDV_DATA;
}

static void dcm_pdv_done(struct ns_dicom_parser *p)
{
    if (p->pdv_mch & 2) {
        struct dcm_stream *s = (p->pdv_mch & 1) ? &p->cmd : &p->data;
        dcm_stream_end(p, s, false);
    }
    if (p->pdu_left == 0) {
        p->state = DS_HDR;
    } else if (p->pdu_left < 6) {
        /* bytes after the last PDV that cannot hold another one */
        dcm_malformed(p);
        p->state = DS_SKIP;
    } else {
        p->state = DS_PDV_HDR;
    }
}

static void dcm_run(struct ns_dicom_parser *p, const uint8_t *d, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t left = len - i;
        switch (p->state) {
        case DS_HDR:
        case DS_PDV_HDR: {
            size_t k = 6 - p->hlen;
            if (k > left) {
                k = left;
            }
            memcpy(p->hdr + p->hlen, d + i, k);
            p->hlen += k;
            i += k;
            if (p->hlen == 6) {
                if (p->state == DS_HDR) {
                    dcm_pdu_header(p);
                } else {
                    dcm_pdv_header(p);
                    if (p->state == DS_PDV_DATA && p->pdv_left == 0) {
                        dcm_pdv_done(p);
                    }
                }
            }
            break;
        }
        case DS_BODY: {
            size_t k = left < p->pdu_left ? left : (size_t)p->pdu_left;
            memcpy(p->body + p->body_len, d + i, k);
            p->body_len += k;
            p->pdu_left -= k;
            i += k;
            if (p->pdu_left == 0) {
                p->state = DS_HDR;
                dcm_pdu(p);
            }
            break;
        }
        case DS_PDV_DATA: {
            size_t k = left < p->pdv_left ? left : (size_t)p->pdv_left;
            struct dcm_stream *s = (p->pdv_mch & 1) ? &p->cmd : &p->data;
            dcm_stream_feed(p, s, d + i, k);
            p->pdv_left -= k;
            p->pdu_left -= k;
            i += k;
            if (p->pdv_left == 0) {
                dcm_pdv_done(p);
            }
            break;
        }
        case DS_SKIP: {
            size_t k = left < p->pdu_left ? left : (size_t)p->pdu_left;
            p->pdu_left -= k;
            i += k;
            if (p->pdu_left == 0) {
                p->state = DS_HDR;
            }
            break;
        }
        case DS_LOST: {
            p->win[p->wlen++] = d[i++];
            if (p->wlen < DCM_WIN) {
                break;
            }
            if (dcm_plausible(p, p->win)) {
                uint8_t w[DCM_WIN];
                memcpy(w, p->win, DCM_WIN);
                p->wlen = 0;
                p->state = DS_HDR;
                p->hlen = 0;
                dcm_run(p, w, DCM_WIN);
            } else {
                memmove(p->win, p->win + 1, DCM_WIN - 1);
                p->wlen = DCM_WIN - 1;
            }
            break;
        }
        }
    }
}

int ns_dicom_feed(struct ns_dicom_parser *p, const uint8_t *data, size_t len)
{
    if (p == NULL || (data == NULL && len > 0)) {
        return NS_EINVAL;
    }
    p->bad = false;
    p->st.bytes += len;
    dcm_run(p, data, len);
    return p->bad ? NS_EMALFORMED : 0;
}

void ns_dicom_gap(struct ns_dicom_parser *p, uint64_t len)
{
    if (p == NULL || len == 0) {
        return;
    }
    dcm_streams_cut(p);
    bool in_pdu = p->state == DS_BODY || p->state == DS_PDV_HDR || p->state == DS_PDV_DATA ||
                  p->state == DS_SKIP;
    /* bytes of a partial PDV header were consumed but not yet taken off pdu_left */
    uint64_t left = p->state == DS_PDV_HDR ? p->pdu_left - p->hlen : p->pdu_left;
    if (in_pdu && len <= left) {
        /* the gap lies inside the current PDU: skip what is left of it */
        p->pdu_left = left - len;
        p->hlen = 0;
        p->body_len = 0;
        p->state = p->pdu_left > 0 ? DS_SKIP : DS_HDR;
        return;
    }
    dcm_lose(p);
}

void ns_dicom_close(struct ns_dicom_parser *p)
{
    if (p == NULL) {
        return;
    }
    dcm_streams_cut(p);
}
