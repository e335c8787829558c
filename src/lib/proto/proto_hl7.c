/*
 * proto_hl7.c - HL7 v2 over MLLP (or bare) for one direction of a TCP stream.
 *
 * Specifications: HL7 v2.x chapter 2 (2.5 message construction: segments,
 * fields, components, repetitions; 2.7 escape sequences in text), chapter 7
 * (OBX-18 equipment instance identifier; PRT participation segment, v2.7+:
 * PRT-10 participation device, PRT-16..22 device identifier, manufacture
 * date, expiry date, lot number, serial number, donation identification,
 * device type), HL7 v2 "Minimal Lower Layer Protocol" (MLLP release 2):
 *
 *   +------+--------------------------------------+------+------+
 *   | 0x0B | MSH|^~\&|...<CR>PRT|...<CR>OBX|...<CR> | 0x1C | 0x0D |
 *   +------+--------------------------------------+------+------+
 *
 * Framing is a byte-driven state machine (resumable at any byte):
 *
 *   IDLE --0x0B--> FRAMED --0x1C--> FRAMED_END --0x0D--> parse, IDLE
 *   IDLE --"MSH" at a line start--> BARE --"MSH" at a line start / 0x1C /
 *        0x0B / close--> parse
 *   FRAMED / BARE --cap--> DISCARD (until 0x0B, 0x1C or line-start MSH)
 *
 * Message bytes are collected in one buffer (capped, grown by doubling, the
 * old block wiped before it is freed) and parsed once the message is
 * complete. Field scanning uses explicit index checks against the message
 * length; decoding happens in place (an escape sequence is never shorter than
 * what it decodes to), and the buffer is wiped after every message so that no
 * patient data outlives the call.
 */
#include "netsift/hl7.h"

#include <string.h>

#include "netsift/alloc.h"
#include "netsift/err.h"

#define HL7_SB     0x0B /* MLLP start block */
#define HL7_EB     0x1C /* MLLP end block */
#define HL7_CR     0x0D
#define HL7_LF     0x0A
#define HL7_MINCAP 4096

/* Highest field index read from any segment (PRT-22), plus one. */
#define HL7_NFIELDS 23

enum hl7_state {
    ST_IDLE = 0,
    ST_FRAMED,
    ST_FRAMED_END,
    ST_BARE,
    ST_DISCARD,
};

struct ns_hl7_parser {
    struct ns_hl7_opts o;
    struct ns_hl7_callbacks cb;
    struct ns_hl7_stats st;
    enum hl7_state state;
    uint8_t *buf;
    size_t len;
    size_t cap;
    bool line_start; /* the next byte begins a line */
    unsigned match;  /* bytes of "MSH" matched at the current line start */
    bool in_garbage; /* the current garbage run was counted */
    bool bad;        /* something malformed in the current feed */
    bool nomem;      /* the buffer could not grow in the current feed */
    struct ns_hl7_ident *idents;
};

/* A separator set taken from MSH-1 / MSH-2; 0 = not used by this message. */
struct hl7_seps {
    uint8_t fs;
    uint8_t comp;
    uint8_t rep;
    uint8_t esc;
    uint8_t sub;
};

static const char *const hl7_prov[NS_HL7_FIELD_COUNT] = {
    "HL7 PRT-10", "HL7 PRT-16", "HL7 PRT-17", "HL7 PRT-18", "HL7 PRT-19",
    "HL7 PRT-20", "HL7 PRT-21", "HL7 PRT-22", "HL7 OBX-18",
};

const char *ns_hl7_provenance(enum ns_hl7_field f)
{
    if ((unsigned)f >= NS_HL7_FIELD_COUNT) {
        return "HL7";
    }
    return hl7_prov[f];
}

void ns_hl7_opts_init(struct ns_hl7_opts *o)
{
    o->max_message_bytes = 1u << 20;
    o->max_segments = 4096;
    o->max_fields = 64;
    o->max_idents = 64;
}

int ns_hl7_parser_new(struct ns_hl7_parser **out, const struct ns_hl7_opts *opts,
                      const struct ns_hl7_callbacks *cb)
{
    if (out == NULL || cb == NULL) {
        return NS_EINVAL;
    }
    *out = NULL;
    struct ns_hl7_parser *p = ns_calloc(1, sizeof(*p));
    if (p == NULL) {
        return NS_ENOMEM;
    }
    ns_hl7_opts_init(&p->o);
    if (opts != NULL) {
        if (opts->max_message_bytes != 0) {
            p->o.max_message_bytes = opts->max_message_bytes;
        }
        if (opts->max_segments != 0) {
            p->o.max_segments = opts->max_segments;
        }
        if (opts->max_fields != 0) {
            p->o.max_fields = opts->max_fields;
        }
        if (opts->max_idents != 0) {
            p->o.max_idents = opts->max_idents;
        }
    }
    if (p->o.max_fields < HL7_NFIELDS + 2) {
        p->o.max_fields = HL7_NFIELDS + 2;
    }
    p->cb = *cb;
    p->idents = ns_calloc(p->o.max_idents, sizeof(*p->idents));
    if (p->idents == NULL) {
        ns_free(p);
        return NS_ENOMEM;
    }
    p->state = ST_IDLE;
    p->line_start = true;
    *out = p;
    return 0;
}

static void hl7_wipe(struct ns_hl7_parser *p)
{
    if (p->buf != NULL && p->len > 0) {
        memset(p->buf, 0, p->len);
    }
    p->len = 0;
}

void ns_hl7_parser_free(struct ns_hl7_parser *p)
{
    if (p == NULL) {
        return;
    }
    if (p->buf != NULL) {
        memset(p->buf, 0, p->cap);
        ns_free(p->buf);
    }
    ns_free(p->idents);
    ns_free(p);
}

const struct ns_hl7_stats *ns_hl7_stats(const struct ns_hl7_parser *p)
{
    return &p->st;
}

/*
 * Make room for `add` more bytes. The old block is wiped before it is freed
 * (realloc would leave message bytes behind in freed memory). Returns 0,
 * NS_ELIMIT (past max_message_bytes) or NS_ENOMEM.
 */
static int hl7_reserve(struct ns_hl7_parser *p, size_t add)
{
    if (add > p->o.max_message_bytes || p->len > p->o.max_message_bytes - add) {
        return NS_ELIMIT;
    }
    size_t need = p->len + add;
    if (need <= p->cap) {
        return 0;
    }
    size_t ncap = p->cap < HL7_MINCAP ? HL7_MINCAP : p->cap;
    while (ncap < need) {
        ncap = ncap > p->o.max_message_bytes / 2 ? p->o.max_message_bytes : ncap * 2;
    }
    uint8_t *nb = ns_malloc(ncap);
    if (nb == NULL) {
        return NS_ENOMEM;
    }
    if (p->buf != NULL) {
        memcpy(nb, p->buf, p->len);
        memset(p->buf, 0, p->cap);
        ns_free(p->buf);
    }
    p->buf = nb;
    p->cap = ncap;
    return 0;
}

static void hl7_malformed(struct ns_hl7_parser *p)
{
    p->st.malformed++;
    p->bad = true;
}

/* ------------------------------------------------------------------------ */
/* message parsing                                                            */

static bool hl7_is_alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool hl7_sep_ok(uint8_t c)
{
    return c > 0x20 && c < 0x7F && !hl7_is_alnum(c);
}

/*
 * Decode s[0..len) in place: escape sequences (chapter 2.7) replaced by the
 * separator they name, other escapes dropped; unescaped component and
 * sub-component separators written as '^' and '&'. `cend` receives the
 * decoded end of the first two components (len when there are fewer).
 * Returns the decoded length (never more than len).
 */
static size_t hl7_decode(uint8_t *s, size_t len, const struct hl7_seps *sp, size_t cend[2])
{
    size_t w = 0, ncomp = 0;
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (sp->esc != 0 && c == sp->esc) {
            size_t j = i + 1;
            while (j < len && s[j] != sp->esc) {
                j++;
            }
            if (j >= len) {
                /* no closing escape character: keep the rest literally */
                s[w++] = c;
                i++;
                continue;
            }
            if (j == i + 2) {
                uint8_t out = 0;
                switch (s[i + 1]) {
                case 'F':
                    out = sp->fs;
                    break;
                case 'S':
                    out = sp->comp;
                    break;
                case 'T':
                    out = sp->sub;
                    break;
                case 'R':
                    out = sp->rep;
                    break;
                case 'E':
                    out = sp->esc;
                    break;
                default:
                    break;
                }
                if (out != 0) {
                    s[w++] = out;
                }
            }
            i = j + 1;
            continue;
        }
        if (c == sp->comp) {
            if (ncomp < 2) {
                cend[ncomp++] = w;
            }
            s[w++] = '^';
        } else if (sp->sub != 0 && c == sp->sub) {
            s[w++] = '&';
        } else {
            s[w++] = c;
        }
        i++;
    }
    while (ncomp < 2) {
        cend[ncomp++] = w;
    }
    return w;
}

/* Field offsets and lengths of one segment, up to HL7_NFIELDS. */
struct hl7_fields {
    size_t off[HL7_NFIELDS];
    size_t len[HL7_NFIELDS];
    size_t n;
};

/* Split seg[0..len) on the field separator, keeping at most HL7_NFIELDS fields. */
static void hl7_split(const uint8_t *seg, size_t len, uint8_t fs, size_t max_fields,
                      struct hl7_fields *f)
{
    size_t start = 0;
    f->n = 0;
    size_t limit = max_fields < HL7_NFIELDS ? max_fields : HL7_NFIELDS;
    for (size_t i = 0; i <= len && f->n < limit; i++) {
        if (i == len || seg[i] == fs) {
            f->off[f->n] = start;
            f->len[f->n] = i - start;
            f->n++;
            start = i + 1;
        }
    }
}

static struct ns_hl7_view hl7_view(const uint8_t *p, size_t len)
{
    struct ns_hl7_view v = {(const char *)p, len};
    return v;
}

/*
 * Decode the first repetition of a field (MSH-3, MSH-9 ...) in place.
 * `whole` gets the decoded repetition, `c1` / `c2` its first two components.
 */
static void hl7_first_rep(uint8_t *f, size_t len, const struct hl7_seps *sp,
                          struct ns_hl7_view *whole, struct ns_hl7_view *c1, struct ns_hl7_view *c2)
{
    size_t rl = len;
    for (size_t i = 0; i < len; i++) {
        if (f[i] == sp->rep) {
            rl = i;
            break;
        }
    }
    size_t cend[2];
    size_t n = hl7_decode(f, rl, sp, cend);
    if (whole != NULL) {
        *whole = hl7_view(f, n);
    }
    if (c1 != NULL) {
        *c1 = hl7_view(f, cend[0]);
    }
    if (c2 != NULL) {
        *c2 = cend[0] < n ? hl7_view(f + cend[0] + 1, cend[1] - cend[0] - 1) : hl7_view(f, 0);
    }
}

/* Report every repetition of an identifier field as an identifier. */
static void hl7_idents(struct ns_hl7_parser *p, struct ns_hl7_msg *m, uint8_t *f, size_t len,
                       const struct hl7_seps *sp, enum ns_hl7_field field, unsigned segno)
{
    size_t start = 0;
    unsigned rep = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && f[i] != sp->rep) {
            continue;
        }
        rep++;
        uint8_t *r = f + start;
        size_t rl = i - start;
        start = i + 1;
        size_t cend[2];
        size_t n = hl7_decode(r, rl, sp, cend);
        if (n == 0 || (n == 2 && r[0] == '"' && r[1] == '"')) {
            continue;
        }
        if (m->nidents >= p->o.max_idents) {
            p->st.idents_dropped++;
            m->flags |= NS_HL7_MSG_IDENTS_DROPPED;
            continue;
        }
        struct ns_hl7_ident *id = &p->idents[m->nidents++];
        id->field = field;
        id->provenance = hl7_prov[field];
        id->segment = segno;
        id->repetition = rep;
        id->value = hl7_view(r, cend[0]);
        id->raw = hl7_view(r, n);
    }
}

/* Read MSH-1 and MSH-2; false when they are unusable. */
static bool hl7_separators(const uint8_t *b, size_t n, struct hl7_seps *sp)
{
    memset(sp, 0, sizeof(*sp));
    if (n < 4 || b[0] != 'M' || b[1] != 'S' || b[2] != 'H') {
        return false;
    }
    sp->fs = b[3];
    if (!hl7_sep_ok(sp->fs)) {
        return false;
    }
    uint8_t enc[5] = {0};
    size_t ne = 0;
    for (size_t i = 4; i < n && b[i] != sp->fs && b[i] != HL7_CR && b[i] != HL7_LF; i++) {
        if (ne == 5) {
            return false;
        }
        enc[ne++] = b[i];
    }
    if (ne < 2) {
        return false;
    }
    for (size_t i = 0; i < ne; i++) {
        if (!hl7_sep_ok(enc[i]) || enc[i] == sp->fs) {
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (enc[j] == enc[i]) {
                return false;
            }
        }
    }
    sp->comp = enc[0];
    sp->rep = enc[1];
    sp->esc = ne > 2 ? enc[2] : 0;
    sp->sub = ne > 3 ? enc[3] : 0;
    return true;
}

/* Parse the complete message buf[0..n), report it, wipe the buffer. */
static void hl7_message(struct ns_hl7_parser *p, size_t n, unsigned flags)
{
    uint8_t *b = p->buf;
    struct hl7_seps sp;
    if (b == NULL || n > p->len || !hl7_separators(b, n, &sp)) {
        hl7_malformed(p);
        hl7_wipe(p);
        return;
    }
    struct ns_hl7_msg m;
    memset(&m, 0, sizeof(m));
    m.index = p->st.messages + 1;
    m.flags = flags;
    m.message_bytes = n;
    m.separators[0] = (char)sp.fs;
    m.separators[1] = (char)sp.comp;
    m.separators[2] = (char)sp.rep;
    m.separators[3] = (char)sp.esc;
    m.separators[4] = (char)sp.sub;
    m.idents = p->idents;

    size_t pos = 0;
    unsigned segno = 0;
    bool have_msa = false;
    struct hl7_fields f;
    while (pos < n) {
        size_t e = pos;
        while (e < n && b[e] != HL7_CR && b[e] != HL7_LF) {
            e++;
        }
        uint8_t *seg = b + pos;
        size_t sl = e - pos;
        pos = e < n ? e + 1 : n;
        if (sl == 0) {
            continue;
        }
        if (segno >= p->o.max_segments) {
            m.flags |= NS_HL7_MSG_SEGMENTS_CUT;
            p->st.segments_cut++;
            break;
        }
        segno++;
        /* segment id: exactly three characters before the first field separator */
        if (sl < 3 || (sl > 3 && seg[3] != sp.fs)) {
            continue;
        }
        bool is_msh = memcmp(seg, "MSH", 3) == 0;
        bool is_prt = memcmp(seg, "PRT", 3) == 0;
        bool is_obx = memcmp(seg, "OBX", 3) == 0;
        bool is_msa = memcmp(seg, "MSA", 3) == 0;
        if (!is_msh && !is_prt && !is_obx && !is_msa) {
            continue;
        }
        if (is_msh && segno != 1) {
            continue;
        }
        hl7_split(seg, sl, sp.fs, p->o.max_fields, &f);
        if (is_msh) {
            /* field k of the split is MSH-(k+1): MSH-1 is the separator itself */
            if (f.n > 2) {
                hl7_first_rep(seg + f.off[2], f.len[2], &sp, &m.sending_application, NULL, NULL);
            }
            if (f.n > 3) {
                hl7_first_rep(seg + f.off[3], f.len[3], &sp, &m.sending_facility, NULL, NULL);
            }
            if (f.n > 8) {
                hl7_first_rep(seg + f.off[8], f.len[8], &sp, &m.message_type, &m.message_code,
                              &m.trigger_event);
            }
            if (f.n > 9) {
                hl7_first_rep(seg + f.off[9], f.len[9], &sp, &m.control_id, NULL, NULL);
            }
            if (f.n > 11) {
                hl7_first_rep(seg + f.off[11], f.len[11], &sp, NULL, &m.version, NULL);
            }
        } else if (is_msa) {
            if (!have_msa && f.n > 1) {
                hl7_first_rep(seg + f.off[1], f.len[1], &sp, NULL, &m.ack_code, NULL);
                have_msa = true;
            }
        } else if (is_prt) {
            static const struct {
                size_t idx;
                enum ns_hl7_field field;
            } prt[] = {{10, NS_HL7_PRT_10}, {16, NS_HL7_PRT_16}, {17, NS_HL7_PRT_17},
                       {18, NS_HL7_PRT_18}, {19, NS_HL7_PRT_19}, {20, NS_HL7_PRT_20},
                       {21, NS_HL7_PRT_21}, {22, NS_HL7_PRT_22}};
            for (size_t k = 0; k < sizeof(prt) / sizeof(prt[0]); k++) {
                if (f.n > prt[k].idx) {
                    hl7_idents(p, &m, seg + f.off[prt[k].idx], f.len[prt[k].idx], &sp, prt[k].field,
                               segno);
                }
            }
        } else if (f.n > 18) {
            hl7_idents(p, &m, seg + f.off[18], f.len[18], &sp, NS_HL7_OBX_18, segno);
        }
    }
    m.nsegments = segno;
    p->st.messages++;
    p->st.idents += m.nidents;
    if (p->cb.on_message != NULL) {
        p->cb.on_message(p->cb.ud, &m);
    }
    hl7_wipe(p);
}

/* ------------------------------------------------------------------------ */
/* framing                                                                    */

static void hl7_garbage(struct ns_hl7_parser *p)
{
    if (!p->in_garbage) {
        p->in_garbage = true;
        p->st.resyncs++;
        hl7_malformed(p);
    }
}

/* Append bytes to the message; on the cap the message is dropped. */
static bool hl7_append(struct ns_hl7_parser *p, const uint8_t *d, size_t n)
{
    int rc = hl7_reserve(p, n);
    if (rc != 0) {
        if (rc == NS_ENOMEM) {
            p->nomem = true;
        }
        p->st.oversized++;
        p->st.resyncs++;
        p->bad = true;
        hl7_wipe(p);
        p->state = ST_DISCARD;
        p->line_start = false;
        p->match = 0;
        return false;
    }
    memcpy(p->buf + p->len, d, n);
    p->len += n;
    return true;
}

/* Begin a bare message whose "MSH" was just matched. */
static void hl7_start_bare(struct ns_hl7_parser *p)
{
    hl7_wipe(p);
    p->state = ST_BARE;
    p->in_garbage = false;
    p->line_start = false;
    p->match = 0;
    (void)hl7_append(p, (const uint8_t *)"MSH", 3);
}

static void hl7_start_framed(struct ns_hl7_parser *p)
{
    hl7_wipe(p);
    p->state = ST_FRAMED;
    p->in_garbage = false;
    p->line_start = false;
    p->match = 0;
}

/*
 * Track line starts and the "MSH" matcher for one byte outside a framed
 * message; returns true when "MSH" was just completed at a line start.
 */
static bool hl7_track(struct ns_hl7_parser *p, uint8_t c)
{
    if (c == HL7_CR || c == HL7_LF) {
        p->line_start = true;
        p->match = 0;
        return false;
    }
    if (p->line_start && c == (uint8_t) "MSH"[p->match]) {
        p->match++;
        if (p->match == 3) {
            p->line_start = false;
            p->match = 0;
            return true;
        }
        return false;
    }
    p->line_start = false;
    p->match = 0;
    return false;
}

static size_t hl7_feed_idle(struct ns_hl7_parser *p, const uint8_t *d, size_t len)
{
    size_t i = 0;
    while (i < len && p->state == ST_IDLE) {
        uint8_t c = d[i++];
        if (c == HL7_SB) {
            hl7_start_framed(p);
            break;
        }
        if (hl7_track(p, c)) {
            hl7_start_bare(p);
            break;
        }
        if (c == HL7_CR || c == HL7_LF) {
            continue;
        }
        if (p->match == 0) {
            /* neither a frame start nor a line-start "MSH" in progress */
            hl7_garbage(p);
        }
    }
    return i;
}

static size_t hl7_feed_discard(struct ns_hl7_parser *p, const uint8_t *d, size_t len)
{
    size_t i = 0;
    while (i < len && p->state == ST_DISCARD) {
        uint8_t c = d[i++];
        if (c == HL7_SB) {
            hl7_start_framed(p);
        } else if (c == HL7_EB) {
            p->state = ST_IDLE;
            p->line_start = true;
            p->match = 0;
            p->in_garbage = true; /* the rest of the dropped message is not new garbage */
        } else if (hl7_track(p, c)) {
            hl7_start_bare(p);
        }
    }
    return i;
}

static size_t hl7_feed_framed(struct ns_hl7_parser *p, const uint8_t *d, size_t len)
{
    size_t i = 0;
    while (i < len && d[i] != HL7_EB && d[i] != HL7_SB) {
        i++;
    }
    if (i > 0 && !hl7_append(p, d, i)) {
        return i;
    }
    if (i == len) {
        return i;
    }
    if (d[i] == HL7_EB) {
        p->state = ST_FRAMED_END;
    } else {
        /* a new start block inside a frame: the open frame never ended */
        p->st.resyncs++;
        hl7_malformed(p);
        hl7_start_framed(p);
    }
    return i + 1;
}

static size_t hl7_feed_bare(struct ns_hl7_parser *p, const uint8_t *d, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = d[i];
        if (c == HL7_SB || c == HL7_EB) {
            if (p->len > 0) {
                hl7_message(p, p->len, 0);
            }
            if (c == HL7_SB) {
                hl7_start_framed(p);
            } else {
                p->state = ST_IDLE;
                p->line_start = true;
                p->match = 0;
            }
            return i + 1;
        }
        /* copy a run of ordinary bytes at once */
        size_t j = i;
        if (!p->line_start) {
            while (j < len && d[j] != HL7_CR && d[j] != HL7_LF && d[j] != HL7_SB &&
                   d[j] != HL7_EB) {
                j++;
            }
            if (j > i) {
                if (!hl7_append(p, d + i, j - i)) {
                    return j;
                }
                i = j;
                continue;
            }
        }
        if (hl7_track(p, c)) {
            /* "MS" is already in the buffer: the message ends before it */
            size_t n = p->len - 2;
            hl7_message(p, n, 0);
            hl7_start_bare(p);
            return i + 1;
        }
        if (!hl7_append(p, &c, 1)) {
            return i + 1;
        }
        i++;
    }
    return i;
}

int ns_hl7_feed(struct ns_hl7_parser *p, const uint8_t *data, size_t len)
{
    if (p == NULL || (data == NULL && len > 0)) {
        return NS_EINVAL;
    }
    p->bad = false;
    p->nomem = false;
    p->st.bytes += len;
    size_t i = 0;
    while (i < len) {
        const uint8_t *d = data + i;
        size_t left = len - i;
        switch (p->state) {
        case ST_IDLE:
            i += hl7_feed_idle(p, d, left);
            break;
        case ST_FRAMED:
            i += hl7_feed_framed(p, d, left);
            break;
        case ST_FRAMED_END:
            if (d[0] == HL7_CR) {
                hl7_message(p, p->len, NS_HL7_MSG_FRAMED);
                i++;
            } else {
                /* tolerate a missing CR: the byte belongs to what follows */
                hl7_message(p, p->len, NS_HL7_MSG_FRAMED | NS_HL7_MSG_NO_TRAILER);
            }
            p->state = ST_IDLE;
            p->line_start = true;
            p->match = 0;
            p->in_garbage = false;
            break;
        case ST_BARE:
            i += hl7_feed_bare(p, d, left);
            break;
        case ST_DISCARD:
            i += hl7_feed_discard(p, d, left);
            break;
        }
    }
    if (p->nomem) {
        return NS_ENOMEM;
    }
    return p->bad ? NS_EMALFORMED : 0;
}

void ns_hl7_gap(struct ns_hl7_parser *p, uint64_t len)
{
    if (p == NULL || len == 0) {
        return;
    }
    if (p->state == ST_FRAMED_END) {
        /* the end block arrived: the message is whole, only its CR is lost */
        hl7_message(p, p->len, NS_HL7_MSG_FRAMED | NS_HL7_MSG_NO_TRAILER);
    } else if (p->state == ST_FRAMED || p->state == ST_BARE) {
        p->st.incomplete++;
    }
    hl7_wipe(p);
    p->st.resyncs++;
    p->state = ST_IDLE;
    p->line_start = false;
    p->match = 0;
    p->in_garbage = true; /* the tail of a lost message is expected, not new garbage */
}

void ns_hl7_close(struct ns_hl7_parser *p)
{
    if (p == NULL) {
        return;
    }
    if (p->state == ST_BARE && p->len > 0) {
        hl7_message(p, p->len, 0);
    } else if (p->state == ST_FRAMED_END) {
        hl7_message(p, p->len, NS_HL7_MSG_FRAMED | NS_HL7_MSG_NO_TRAILER);
    } else if (p->state == ST_FRAMED) {
        p->st.incomplete++;
    }
    hl7_wipe(p);
    p->state = ST_IDLE;
    p->line_start = true;
    p->match = 0;
    p->in_garbage = false;
}
