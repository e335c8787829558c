/*
 * proto_http.c - HTTP/1.x message parser for one direction of a reassembled
 * TCP stream (http.h). Specs: RFC 9112 (HTTP/1.1 message syntax: start line
 * section 3 / 4, field syntax section 5, body length section 6.3, chunked
 * coding section 7.1), RFC 9110 (field names are tokens, section 5.6.2;
 * Content-Length section 8.6; content codings section 8.4.1).
 *
 *   request-line  = method SP request-target SP HTTP-version CRLF
 *   status-line   = HTTP-version SP 3DIGIT SP [ reason-phrase ] CRLF
 *   field-line    = field-name ":" OWS field-value OWS CRLF
 *   message       = start-line *( field-line ) CRLF [ message-body ]
 *
 *   chunked-body  = *chunk last-chunk trailer-section CRLF
 *   chunk         = chunk-size [ ";" ext ] CRLF chunk-data CRLF
 *   last-chunk    = 1*"0" [ ";" ext ] CRLF
 *
 * The parser is a byte-step state machine in the nginx manner: it keeps its
 * state between calls, so any chunking of the input gives the same callbacks
 * (bodies may be split differently across on_body calls). The start line and
 * header block are copied into one buffer; when the empty line arrives the
 * fields are parsed from it and reported as views into it. Bodies are never
 * buffered: their bytes are handed on (through the inflater for gzip /
 * deflate, proto_inflate.c) as they arrive. The chunk-size line is read a
 * byte at a time into a few fields, not buffered. Bare LF line endings are
 * accepted, obs-fold is rejected. Whitespace between a field name and its
 * colon is accepted and stripped (counted): RFC 9112 section 5.1 has a
 * server reject it and a proxy strip it from a response, but an observer
 * that rejected it would lose messages real servers do send.
 *
 * Memory (http.h says what a parser holds at rest): many thousands of
 * parsers live at once, two per connection, so nothing is sized to its cap
 * up front. The header buffer is allocated at the first header byte
 * (HTTP_HBUF_INIT bytes) and doubled as needed up to max_header_bytes; the
 * header array is allocated when a block is complete, HTTP_HDRS_INIT entries
 * doubled up to max_headers. When a header block is done (reported or
 * abandoned) both are given back, so a connection at rest holds only the
 * parser's struct (streams -a keeps tens of thousands of them). The inflater lives from
 * the headers of a coded message to its end. An allocation that fails drops
 * the header block (counted in dropped and nomem; the parser skips to the
 * next start line) or stops decoding the body (NS_HTTP_END_DECODE_ERR).
 *
 * After a malformed start line, header block or chunk frame the parser
 * resynchronises: it skips to a line start whose first bytes look like a
 * start line ("HTTP/1." for responses, a well-known method and a space for
 * requests) and parses from there.
 */
#include "netsift/http.h"

#include <string.h>

#include "netsift/alloc.h"
#include "netsift/err.h"
#include "netsift/rd.h"
#include "proto_http_int.h"

#define HTTP_DEF_MAX_HEADER_BYTES (64u * 1024u)
#define HTTP_DEF_MAX_HEADERS      128u
#define HTTP_DEF_MAX_BODY         (256ull * 1024u * 1024u)
#define HTTP_DEF_MAX_PENDING      64u
#define HTTP_MAX_CHUNK_LINE       1024u /* chunk-size line with extensions */
#define HTTP_MAX_METHOD           32u   /* longest method token accepted */
#define HTTP_RESYNC_PREFIX        16u   /* longest resync pattern */
#define HTTP_HBUF_INIT            512u  /* first header buffer (bytes) */
#define HTTP_HDRS_INIT            8u    /* first header array (entries) */

enum http_state {
    ST_START,       /* before a start line (blank lines are skipped) */
    ST_HEAD,        /* in the start line or header block */
    ST_BODY_LEN,    /* Content-Length body, `remaining` bytes left */
    ST_BODY_CLOSE,  /* body until the connection closes */
    ST_CHUNK_SIZE,  /* chunk-size line */
    ST_CHUNK_DATA,  /* chunk data, `remaining` bytes left */
    ST_CHUNK_CR,    /* CRLF after chunk data */
    ST_CHUNK_LF,    /* LF after the CR */
    ST_TRAILER,     /* trailer section, until an empty line */
    ST_RESYNC_LINE, /* at a line start, matching a start-line prefix */
    ST_RESYNC_SKIP, /* skipping to the end of the line */
    ST_TUNNEL,      /* CONNECT / upgrade: everything is ignored */
};

/* Where a chunk-size line is: chunk-size [ BWS ";" chunk-ext ] [ CR ] LF */
enum http_cline {
    CL_SIZE, /* in the hex digits */
    CL_WS,   /* in whitespace after them */
    CL_EXT,  /* after ";": anything goes up to the LF */
    CL_BAD,  /* the line is malformed (reported at its LF) */
};

enum http_method {
    METH_OTHER = 0,
    METH_HEAD = 1,
    METH_CONNECT = 2,
};

struct ns_http_parser {
    enum ns_http_kind kind;
    struct ns_http_opts o;
    struct ns_http_callbacks cb;
    struct ns_http_stats st;
    enum http_state state;
    struct ns_http_parser *peer; /* paired parser of the other direction */

    /* header block: start line + fields + empty line */
    uint8_t *hbuf; /* hcap bytes, NULL when hcap is 0 */
    size_t hcap;
    size_t hlen;
    size_t line_start;           /* offset of the current line in hbuf */
    size_t nlines;               /* field lines so far */
    bool first_done;             /* the start line was checked */
    bool past_method;            /* requests: the method's SP was seen */
    struct ns_http_header *hdrs; /* hdrs_cap entries, NULL when hdrs_cap is 0 */
    size_t hdrs_cap;

    /* method queue (response parsers): methods of requests awaiting answers */
    uint8_t *mq;
    size_t mq_head, mq_len;

    /* current message */
    uint64_t index;
    uint64_t remaining;
    uint64_t raw_bytes;
    uint64_t body_bytes;
    unsigned flags;
    bool in_msg;             /* on_headers was called, on_end not yet */
    bool decoding;           /* the body goes through the inflater */
    bool dec_stopped;        /* no more decoded output for this message */
    bool tunnel_req;         /* request side: tunnelling after a CONNECT */
    struct ns__inflate *inf; /* while a coded body is decoded, else NULL */

    /* chunk-size line (read byte by byte), trailer line, resync prefix */
    uint64_t csize; /* chunk size so far */
    size_t clen;    /* bytes of the chunk-size line so far, LF excluded */
    uint8_t cstate; /* enum http_cline */
    bool cdigit;    /* the line has a hex digit */
    bool ccr;       /* a CR is held: the line's end if an LF follows */
    size_t tline;   /* bytes of the current trailer line */
    size_t ttotal;  /* bytes of the trailer section */
    bool tline_cr;  /* last trailer byte was CR */
    uint8_t rbuf[HTTP_RESYNC_PREFIX];
    size_t rlen;

    bool malformed_now; /* an NS_EMALFORMED event in the current feed call */
};

/* Request methods recognised when resynchronising (RFC 9110 section 9, WebDAV RFC 4918). */
static const char *const http_resync_methods[] = {
    "GET ",     "HEAD ",  "POST ",  "PUT ",      "DELETE ",    "CONNECT ",
    "OPTIONS ", "TRACE ", "PATCH ", "PROPFIND ", "PROPPATCH ", "MKCOL ",
    "COPY ",    "MOVE ",  "LOCK ",  "UNLOCK ",   "SEARCH ",    "REPORT ",
};

#define HTTP_NRESYNC (sizeof(http_resync_methods) / sizeof(http_resync_methods[0]))

void ns_http_opts_init(struct ns_http_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->max_header_bytes = HTTP_DEF_MAX_HEADER_BYTES;
    o->max_headers = HTTP_DEF_MAX_HEADERS;
    o->max_body_bytes = HTTP_DEF_MAX_BODY;
    o->max_pending = HTTP_DEF_MAX_PENDING;
    o->decode_content = true;
}

/* ---- character classes (RFC 9110 section 5.6.2, RFC 5234 appendix B) ---- */

static bool http_is_tchar(uint8_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return true;
    }
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool http_is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static int http_hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static uint8_t http_lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static bool http_ieq(const char *a, size_t alen, const char *lit)
{
    size_t n = strlen(lit);
    if (alen != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (http_lower((uint8_t)a[i]) != (uint8_t)lit[i]) {
            return false;
        }
    }
    return true;
}

/* Trim SP / HTAB on both ends of (*s, *n). */
static void http_trim(const char **s, size_t *n)
{
    while (*n > 0 && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) {
        (*n)--;
    }
}

/* ---- message life ---- */

static void http_malformed(struct ns_http_parser *p)
{
    p->st.malformed++;
    p->malformed_now = true;
}

/*
 * The header block is done with (reported, malformed or abandoned): forget
 * it, and give its buffer and array back (a parser at rest holds neither).
 */
static void http_reset_head(struct ns_http_parser *p)
{
    p->hlen = 0;
    p->line_start = 0;
    p->nlines = 0;
    p->first_done = false;
    p->past_method = false;
    if (p->o.keep_buffers) {
        return;
    }
    ns_free(p->hbuf);
    p->hbuf = NULL;
    p->hcap = 0;
    ns_free(p->hdrs);
    p->hdrs = NULL;
    p->hdrs_cap = 0;
}

/*
 * Room for `need` bytes in the header buffer (need <= max_header_bytes): the
 * buffer doubles from HTTP_HBUF_INIT, capped at max_header_bytes. False
 * (counted in nomem) when the allocator fails; the old buffer is kept.
 */
static bool http_hbuf_reserve(struct ns_http_parser *p, size_t need)
{
    size_t max = p->o.max_header_bytes;
    if (need <= p->hcap) {
        return true;
    }
    if (need > max) {
        return false; /* cannot happen: callers check the cap first */
    }
    size_t cap = p->hcap > 0 ? p->hcap : HTTP_HBUF_INIT;
    cap = cap < max ? cap : max;
    while (cap < need) {
        cap = cap > max / 2 ? max : cap * 2; /* no overflow: cap * 2 <= max */
    }
    uint8_t *nb = ns_reallocarray(p->hbuf, cap, 1);
    if (nb == NULL) {
        p->st.nomem++;
        return false;
    }
    p->hbuf = nb;
    p->hcap = cap;
    return true;
}

/* Room for `need` header entries (need <= max_headers), as http_hbuf_reserve. */
static bool http_hdrs_reserve(struct ns_http_parser *p, size_t need)
{
    size_t max = p->o.max_headers;
    if (need <= p->hdrs_cap) {
        return true;
    }
    if (need > max) {
        return false; /* cannot happen: the line count is capped first */
    }
    size_t cap = p->hdrs_cap > 0 ? p->hdrs_cap : HTTP_HDRS_INIT;
    cap = cap < max ? cap : max;
    while (cap < need) {
        cap = cap > max / 2 ? max : cap * 2;
    }
    struct ns_http_header *nh = ns_reallocarray(p->hdrs, cap, sizeof(*nh));
    if (nh == NULL) {
        p->st.nomem++;
        return false;
    }
    p->hdrs = nh;
    p->hdrs_cap = cap;
    return true;
}

/* Give back the inflater (end of a message, or the parser's). */
static void http_inflate_drop(struct ns_http_parser *p)
{
    if (p->inf != NULL) {
        ns__inflate_release(p->inf);
        ns_free(p->inf);
        p->inf = NULL;
    }
}

/* Set up the inflater for a coded body; false (counted in nomem) on NS_ENOMEM. */
static bool http_inflate_start(struct ns_http_parser *p, enum ns__inflate_kind kind)
{
    if (p->inf == NULL) {
        p->inf = ns_malloc(sizeof(*p->inf));
        if (p->inf == NULL) {
            p->st.nomem++;
            return false;
        }
        ns__inflate_init(p->inf);
    }
    if (ns__inflate_begin(p->inf, kind) != 0) {
        p->st.nomem++;
        http_inflate_drop(p);
        return false;
    }
    return true;
}

static void http_cline_reset(struct ns_http_parser *p)
{
    p->csize = 0;
    p->clen = 0;
    p->cstate = CL_SIZE;
    p->cdigit = false;
    p->ccr = false;
}

/*
 * One byte (not the LF) of a chunk-size line: hex digits (overflow checked),
 * then optional SP / HTAB, then nothing or ";" and an extension. A CR counts
 * only as the line's end; anywhere else before the extension it is an error.
 */
static void http_cline_byte(struct ns_http_parser *p, uint8_t c)
{
    if (p->ccr) {
        p->ccr = false; /* the held CR was not before the LF */
        p->cstate = CL_BAD;
    }
    if (p->cstate == CL_EXT || p->cstate == CL_BAD) {
        return;
    }
    int h = http_hexval(c);
    if (c == '\r') {
        p->ccr = true;
    } else if (p->cstate == CL_SIZE && h >= 0) {
        if (p->csize > (UINT64_MAX >> 4)) {
            p->cstate = CL_BAD; /* overflow */
        } else {
            p->csize = p->csize << 4 | (uint64_t)h;
            p->cdigit = true;
        }
    } else if (c == ' ' || c == '\t') {
        p->cstate = CL_WS;
    } else if (c == ';') {
        p->cstate = CL_EXT;
    } else {
        p->cstate = CL_BAD;
    }
}

/* Start skipping to the next start line; at_line_start: the next byte begins a line. */
static void http_resync(struct ns_http_parser *p, bool at_line_start)
{
    p->st.resyncs++;
    http_reset_head(p);
    p->rlen = 0;
    p->state = at_line_start ? ST_RESYNC_LINE : ST_RESYNC_SKIP;
}

static void http_enter_tunnel(struct ns_http_parser *p)
{
    p->st.tunnels++;
    p->state = ST_TUNNEL;
}

static void http_end(struct ns_http_parser *p, unsigned extra)
{
    unsigned flags = p->flags | extra;
    if (p->decoding && !p->dec_stopped && p->inf != NULL && !p->inf->done && p->inf->in_seen > 0 &&
        (flags & NS_HTTP_END_INCOMPLETE) == 0) {
        flags |= NS_HTTP_END_DECODE_ERR; /* the coded stream did not finish */
    }
    http_inflate_drop(p);
    if (flags & NS_HTTP_END_INCOMPLETE) {
        p->st.incomplete++;
    }
    if (flags & NS_HTTP_END_TRUNCATED) {
        p->st.truncated++;
    }
    if (flags & NS_HTTP_END_DECODE_ERR) {
        p->st.decode_errors++;
    }
    p->in_msg = false;
    p->decoding = false;
    http_reset_head(p);
    p->state = ST_START;
    if (p->cb.on_end != NULL) {
        p->cb.on_end(p->cb.ud, flags, p->raw_bytes, p->body_bytes);
    }
}

/* Give decoded body bytes, cut at max_body_bytes; true when the cap was hit. */
static bool http_emit(void *ud, const uint8_t *data, size_t len)
{
    struct ns_http_parser *p = ud;
    if (p->flags & NS_HTTP_END_TRUNCATED) {
        return true;
    }
    uint64_t room = p->o.max_body_bytes - p->body_bytes;
    bool cut = false;
    if ((uint64_t)len > room) {
        len = (size_t)room;
        cut = true;
        p->flags |= NS_HTTP_END_TRUNCATED;
    }
    if (len > 0) {
        p->body_bytes += len;
        if (p->cb.on_body != NULL) {
            p->cb.on_body(p->cb.ud, data, len);
        }
    }
    return cut;
}

/* Body bytes after transfer decoding. */
static void http_body_data(struct ns_http_parser *p, const uint8_t *data, size_t len)
{
    if (len == 0) {
        return;
    }
    if (!p->decoding) {
        (void)http_emit(p, data, len);
        return;
    }
    if (p->dec_stopped || p->inf == NULL) {
        return;
    }
    int rc = ns__inflate_feed(p->inf, data, len, http_emit, p);
    if (rc != 0) {
        if (rc == NS_ENOMEM) {
            p->st.nomem++;
        }
        p->flags |= NS_HTTP_END_DECODE_ERR;
        p->dec_stopped = true;
    } else if (p->flags & NS_HTTP_END_TRUNCATED) {
        p->dec_stopped = true;
    }
}

/* ---- start line and header block ---- */

/* Parse "HTTP/d.d" at s (8 bytes available). */
static bool http_parse_version(const char *s, unsigned *maj, unsigned *min)
{
    if (memcmp(s, "HTTP/", 5) != 0 || s[5] != '1' || s[6] != '.' || !http_is_digit((uint8_t)s[7])) {
        return false;
    }
    *maj = 1;
    *min = (unsigned)(s[7] - '0');
    return true;
}

static bool http_is_target_char(uint8_t c)
{
    return c > 0x20 && c != 0x7f;
}

static bool http_is_reason_char(uint8_t c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Check and split the start line (line, n) (no line ending) into m. */
static bool http_parse_start(struct ns_http_parser *p, const char *line, size_t n,
                             struct ns_http_msg *m)
{
    if (p->kind == NS_HTTP_RESPONSE) {
        /* HTTP/1.1 200 OK */
        if (n < 12 || !http_parse_version(line, &m->version_major, &m->version_minor) ||
            line[8] != ' ') {
            return false;
        }
        for (size_t i = 9; i < 12; i++) {
            if (!http_is_digit((uint8_t)line[i])) {
                return false;
            }
        }
        m->status = (unsigned)(line[9] - '0') * 100u + (unsigned)(line[10] - '0') * 10u +
                    (unsigned)(line[11] - '0');
        if (m->status < 100) {
            return false;
        }
        m->reason = line + n;
        m->reason_len = 0;
        if (n > 12) {
            if (line[12] != ' ') {
                return false;
            }
            for (size_t i = 13; i < n; i++) {
                if (!http_is_reason_char((uint8_t)line[i])) {
                    return false;
                }
            }
            m->reason = line + 13;
            m->reason_len = n - 13;
        }
        return true;
    }
    /* GET /x HTTP/1.1 */
    size_t i = 0;
    while (i < n && http_is_tchar((uint8_t)line[i])) {
        i++;
    }
    if (i == 0 || i > HTTP_MAX_METHOD || i >= n || line[i] != ' ') {
        return false;
    }
    m->method = line;
    m->method_len = i;
    size_t t = ++i;
    while (i < n && http_is_target_char((uint8_t)line[i])) {
        i++;
    }
    if (i == t || i >= n || line[i] != ' ') {
        return false;
    }
    m->target = line + t;
    m->target_len = i - t;
    i++;
    if (n - i != 8 || !http_parse_version(line + i, &m->version_major, &m->version_minor)) {
        return false;
    }
    return true;
}

/* Early check of the start line's byte at hbuf[pos] (pos < hlen, before its LF). */
static bool http_start_byte_ok(struct ns_http_parser *p, size_t pos, uint8_t c)
{
    if (p->kind == NS_HTTP_RESPONSE) {
        static const char pfx[] = "HTTP/1.";
        return pos >= sizeof(pfx) - 1 || c == (uint8_t)pfx[pos];
    }
    if (p->past_method || c == '\r' || c == '\n') {
        return true; /* the rest is checked when the line is complete */
    }
    /* the method: tchars, at most HTTP_MAX_METHOD, then SP */
    if (c == ' ') {
        p->past_method = true;
        return pos > 0;
    }
    return pos < HTTP_MAX_METHOD && http_is_tchar(c);
}

/* Parse a decimal Content-Length list ("42" or "42, 42"); false if malformed or overflowing. */
static bool http_parse_length(const char *v, size_t n, uint64_t *out)
{
    bool have = false;
    uint64_t val = 0;
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && v[j] != ',') {
            j++;
        }
        const char *e = v + i;
        size_t elen = j - i;
        http_trim(&e, &elen);
        if (elen == 0) {
            return false;
        }
        uint64_t x = 0;
        for (size_t k = 0; k < elen; k++) {
            uint8_t c = (uint8_t)e[k];
            if (!http_is_digit(c) || x > (UINT64_MAX - (c - '0')) / 10) {
                return false;
            }
            x = x * 10 + (uint64_t)(c - '0');
        }
        if (have && x != val) {
            return false;
        }
        val = x;
        have = true;
        i = j + 1;
    }
    *out = val;
    return have;
}

/* The last coding of a Transfer-Encoding value is "chunked". */
static bool http_last_coding_chunked(const char *v, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == ',') {
            start = i + 1;
        }
    }
    const char *e = v + start;
    size_t elen = n - start;
    for (size_t i = 0; i < elen; i++) {
        if (e[i] == ';') {
            elen = i;
            break;
        }
    }
    http_trim(&e, &elen);
    return http_ieq(e, elen, "chunked");
}

static void http_push_method(struct ns_http_parser *p, enum http_method meth)
{
    struct ns_http_parser *r = p->peer;
    if (r == NULL || r->mq == NULL) {
        return;
    }
    if (r->mq_len == r->o.max_pending) {
        p->st.pending_overflow++;
        return;
    }
    r->mq[(r->mq_head + r->mq_len) % r->o.max_pending] = (uint8_t)meth;
    r->mq_len++;
}

static enum http_method http_pop_method(struct ns_http_parser *p)
{
    if (p->mq_len == 0) {
        return METH_OTHER;
    }
    enum http_method m = (enum http_method)p->mq[p->mq_head];
    p->mq_head = (p->mq_head + 1) % p->o.max_pending;
    p->mq_len--;
    return m;
}

enum http_body_kind {
    BODY_NONE,
    BODY_LENGTH,
    BODY_CHUNKED,
    BODY_CLOSE,
    BODY_TUNNEL,
};

/*
 * The header block in hbuf is complete: parse it, report it and set up the
 * body. Returns 0, NS_EMALFORMED when the block is malformed or NS_ENOMEM
 * when the header array could not grow (nothing reported either way).
 */
static int http_headers_done(struct ns_http_parser *p)
{
    struct ns_http_msg m;
    memset(&m, 0, sizeof(m));
    m.kind = p->kind;
    const char *buf = (const char *)p->hbuf;
    size_t pos = 0, nh = 0, nws = 0;
    bool first = true, te_seen = false, te_chunked = false, cl_seen = false, ce_multi = false;
    uint64_t cl = 0;

    if (!http_hdrs_reserve(p, p->nlines)) {
        return NS_ENOMEM;
    }

    /* one line per pass; each pass consumes at least its LF */
    while (pos < p->hlen) {
        const char *nl = memchr(buf + pos, '\n', p->hlen - pos);
        if (nl == NULL) {
            return NS_EMALFORMED; /* cannot happen: the block ends with LF */
        }
        size_t n = (size_t)(nl - (buf + pos));
        const char *line = buf + pos;
        pos += n + 1;
        if (n > 0 && line[n - 1] == '\r') {
            n--;
        }
        if (first) {
            if (!http_parse_start(p, line, n, &m)) {
                return NS_EMALFORMED;
            }
            first = false;
            continue;
        }
        if (n == 0) {
            break; /* the empty line */
        }
        if (line[0] == ' ' || line[0] == '\t') {
            return NS_EMALFORMED; /* obs-fold (RFC 9112 section 5.2) */
        }
        size_t c = 0;
        while (c < n && http_is_tchar((uint8_t)line[c])) {
            c++;
        }
        /* "Name : value": the whitespace is not part of the name (see the top) */
        size_t colon = c;
        while (colon < n && (line[colon] == ' ' || line[colon] == '\t')) {
            colon++;
        }
        if (c == 0 || colon >= n || line[colon] != ':' || nh >= p->hdrs_cap) {
            return NS_EMALFORMED;
        }
        if (colon > c) {
            nws++;
        }
        const char *v = line + colon + 1;
        size_t vlen = n - colon - 1;
        http_trim(&v, &vlen);
        for (size_t i = 0; i < vlen; i++) {
            uint8_t ch = (uint8_t)v[i];
            if (ch == '\r' || ch == '\n' || ch == 0) {
                return NS_EMALFORMED; /* bare CR or NUL (RFC 9110 section 5.5) */
            }
        }
        struct ns_http_header *h = &p->hdrs[nh++];
        h->name = line;
        h->name_len = c;
        h->value = v;
        h->value_len = vlen;
        if (http_ieq(line, c, "content-length")) {
            uint64_t x;
            if (!http_parse_length(v, vlen, &x) || (cl_seen && x != cl)) {
                return NS_EMALFORMED;
            }
            cl = x;
            cl_seen = true;
        } else if (http_ieq(line, c, "transfer-encoding")) {
            te_seen = true;
            te_chunked = http_last_coding_chunked(v, vlen);
        } else if (http_ieq(line, c, "content-encoding")) {
            ce_multi = m.content_encoding != NULL;
            m.content_encoding = v;
            m.content_encoding_len = vlen;
        }
    }
    m.headers = p->hdrs;
    m.nheaders = nh;
    m.chunked = te_seen && te_chunked;
    m.has_length = cl_seen;
    m.content_length = cl;
    m.header_bytes = p->hlen;

    /* body length, RFC 9112 section 6.3 */
    enum http_body_kind body;
    enum http_method meth = METH_OTHER;
    if (p->kind == NS_HTTP_REQUEST) {
        /* methods are case-sensitive (RFC 9110 section 9.1) */
        if (m.method_len == 4 && memcmp(m.method, "HEAD", 4) == 0) {
            meth = METH_HEAD;
        } else if (m.method_len == 7 && memcmp(m.method, "CONNECT", 7) == 0) {
            meth = METH_CONNECT;
        }
        if (te_seen && !te_chunked) {
            return NS_EMALFORMED; /* a request cannot be close-delimited */
        }
        body = m.chunked ? BODY_CHUNKED : (cl_seen && cl > 0) ? BODY_LENGTH : BODY_NONE;
    } else {
        if (m.status >= 200) {
            meth = http_pop_method(p);
        }
        if (m.status == 101) {
            body = BODY_TUNNEL;
        } else if (meth == METH_CONNECT && m.status >= 200 && m.status < 300) {
            body = BODY_TUNNEL;
        } else if (meth == METH_HEAD || m.status < 200 || m.status == 204 || m.status == 304) {
            body = BODY_NONE;
        } else if (te_seen) {
            body = te_chunked ? BODY_CHUNKED : BODY_CLOSE;
        } else if (cl_seen) {
            body = cl > 0 ? BODY_LENGTH : BODY_NONE;
        } else {
            body = BODY_CLOSE;
        }
        /* a refused CONNECT: the client goes on speaking HTTP */
        if (meth == METH_CONNECT && body != BODY_TUNNEL && p->peer != NULL && p->peer->tunnel_req) {
            p->peer->tunnel_req = false;
            p->peer->state = ST_START;
            http_reset_head(p->peer);
        }
    }

    /* report */
    p->index++;
    m.index = p->index;
    p->st.messages++;
    p->st.ws_before_colon += nws;
    p->in_msg = true;
    p->flags = 0;
    p->raw_bytes = 0;
    p->body_bytes = 0;
    p->decoding = false;
    p->dec_stopped = false;
    if (p->kind == NS_HTTP_REQUEST) {
        http_push_method(p, meth);
    }
    if (p->cb.on_headers != NULL) {
        p->cb.on_headers(p->cb.ud, &m);
    }

    /* content coding of a body */
    if (p->o.decode_content && m.content_encoding != NULL && !ce_multi &&
        (body == BODY_LENGTH || body == BODY_CHUNKED || body == BODY_CLOSE)) {
        int kind = 0;
        if (http_ieq(m.content_encoding, m.content_encoding_len, "gzip") ||
            http_ieq(m.content_encoding, m.content_encoding_len, "x-gzip")) {
            kind = NS__INFLATE_GZIP;
        } else if (http_ieq(m.content_encoding, m.content_encoding_len, "deflate")) {
            kind = NS__INFLATE_DEFLATE;
        }
        if (kind != 0) {
            p->decoding = true;
            if (!http_inflate_start(p, (enum ns__inflate_kind)kind)) {
                p->flags |= NS_HTTP_END_DECODE_ERR;
                p->dec_stopped = true;
            }
        }
    }

    /* m's views (content_encoding too) are dead now: shrink the buffers for the body's time */
    http_reset_head(p);

    switch (body) {
    case BODY_NONE:
        http_end(p, 0);
        if (meth == METH_CONNECT && p->kind == NS_HTTP_REQUEST) {
            p->tunnel_req = true;
            http_enter_tunnel(p);
        }
        break;
    case BODY_TUNNEL:
        http_end(p, 0);
        if (p->peer != NULL && p->peer->state != ST_TUNNEL) {
            http_enter_tunnel(p->peer);
        }
        if (p->peer != NULL) {
            p->peer->tunnel_req = false; /* for good now */
        }
        http_enter_tunnel(p);
        break;
    case BODY_LENGTH:
        p->remaining = cl;
        p->state = ST_BODY_LEN;
        break;
    case BODY_CHUNKED:
        http_cline_reset(p);
        p->state = ST_CHUNK_SIZE;
        break;
    case BODY_CLOSE:
        p->state = ST_BODY_CLOSE;
        break;
    }
    return 0;
}

/* One byte of the start line / header block. Returns bytes consumed (0 or 1). */
static size_t http_head_byte(struct ns_http_parser *p, uint8_t c)
{
    if (!p->first_done && !http_start_byte_ok(p, p->hlen, c)) {
        http_malformed(p);
        http_resync(p, false);
        return 0; /* the resync state looks at this byte again */
    }
    if (p->hlen == p->o.max_header_bytes) {
        http_malformed(p); /* header block over its cap */
        http_resync(p, false);
        return 0;
    }
    if (!http_hbuf_reserve(p, p->hlen + 1)) {
        p->st.dropped++; /* no memory for the block: drop it, find the next */
        http_resync(p, false);
        return 0;
    }
    p->hbuf[p->hlen++] = c;
    if (c != '\n') {
        return 1;
    }
    size_t n = p->hlen - 1 - p->line_start;
    if (n > 0 && p->hbuf[p->hlen - 2] == '\r') {
        n--;
    }
    if (!p->first_done) {
        struct ns_http_msg m;
        memset(&m, 0, sizeof(m));
        if (!http_parse_start(p, (const char *)p->hbuf, n, &m)) {
            http_malformed(p);
            http_resync(p, true);
            return 1;
        }
        p->first_done = true;
    } else if (n == 0) {
        int rc = http_headers_done(p);
        if (rc == NS_ENOMEM) {
            p->st.dropped++;
            http_resync(p, true);
        } else if (rc != 0) {
            http_malformed(p);
            http_resync(p, true);
        }
        return 1;
    } else if (++p->nlines > p->o.max_headers) {
        http_malformed(p);
        http_resync(p, true);
        return 1;
    }
    p->line_start = p->hlen;
    return 1;
}

/*
 * Whether the next head bytes can go as a run: after the start line, and in
 * the start line once the part http_start_byte_ok checks byte by byte (the
 * method and its SP, or "HTTP/1.") is behind.
 */
static bool http_head_runs(const struct ns_http_parser *p)
{
    if (p->first_done) {
        return true;
    }
    return p->kind == NS_HTTP_RESPONSE ? p->hlen >= 7 : p->past_method;
}

/*
 * Head bytes up to the next LF (see http_head_runs): appended as one run
 * (the byte path above would do the same one byte at a time); the LF itself,
 * and a run that meets the cap, go through http_head_byte.
 */
static size_t http_head_run(struct ns_http_parser *p, const uint8_t *d, size_t n)
{
    const uint8_t *nl = memchr(d, '\n', n);
    size_t k = nl != NULL ? (size_t)(nl - d) : n;
    size_t room = p->o.max_header_bytes - p->hlen;
    k = k < room ? k : room;
    if (k == 0) {
        return http_head_byte(p, d[0]);
    }
    if (!http_hbuf_reserve(p, p->hlen + k)) {
        p->st.dropped++; /* no memory for the block: drop it, find the next */
        http_resync(p, false);
        return 0;
    }
    memcpy(p->hbuf + p->hlen, d, k);
    p->hlen += k;
    return k;
}

/* ---- chunked framing ---- */

/* A framing error inside a reported message: end it cut short, then resync. */
static void http_frame_error(struct ns_http_parser *p, bool at_line_start)
{
    http_malformed(p);
    http_end(p, NS_HTTP_END_INCOMPLETE);
    http_resync(p, at_line_start);
}

/* ---- feeding ---- */

/* Consume from (d, n) in the current state; returns bytes consumed (0 only after a state change).
 */
static size_t http_step(struct ns_http_parser *p, const uint8_t *d, size_t n)
{
    switch (p->state) {
    case ST_START:
        if (d[0] == '\r' || d[0] == '\n') {
            return 1; /* blank lines before a message (RFC 9112 section 2.2) */
        }
        p->state = ST_HEAD;
        return 0;
    case ST_HEAD: {
        size_t i = 0;
        while (i < n && p->state == ST_HEAD) {
            i += http_head_runs(p) ? http_head_run(p, d + i, n - i) : http_head_byte(p, d[i]);
        }
        return i;
    }
    case ST_BODY_LEN: {
        size_t take = (uint64_t)n < p->remaining ? n : (size_t)p->remaining;
        p->raw_bytes += take;
        p->remaining -= take;
        http_body_data(p, d, take);
        if (p->remaining == 0) {
            http_end(p, 0);
        }
        return take;
    }
    case ST_BODY_CLOSE:
        p->raw_bytes += n;
        http_body_data(p, d, n);
        return n;
    case ST_CHUNK_SIZE: {
        const uint8_t *nl = memchr(d, '\n', n);
        size_t seg = nl != NULL ? (size_t)(nl - d) : n;
        if (seg > HTTP_MAX_CHUNK_LINE - p->clen) {
            http_frame_error(p, false); /* chunk-size line over its cap */
            return 0;
        }
        for (size_t i = 0; i < seg; i++) {
            http_cline_byte(p, d[i]);
        }
        p->clen += seg;
        p->raw_bytes += seg;
        if (nl == NULL) {
            return seg;
        }
        p->raw_bytes++;
        if (p->cstate == CL_BAD || !p->cdigit) {
            http_frame_error(p, true);
            return seg + 1;
        }
        uint64_t size = p->csize;
        http_cline_reset(p);
        if (size == 0) {
            p->tline = 0;
            p->ttotal = 0;
            p->tline_cr = false;
            p->state = ST_TRAILER;
        } else {
            p->remaining = size;
            p->state = ST_CHUNK_DATA;
        }
        return seg + 1;
    }
    case ST_CHUNK_DATA: {
        size_t take = (uint64_t)n < p->remaining ? n : (size_t)p->remaining;
        p->raw_bytes += take;
        p->remaining -= take;
        http_body_data(p, d, take);
        if (p->remaining == 0) {
            p->state = ST_CHUNK_CR;
        }
        return take;
    }
    case ST_CHUNK_CR:
    case ST_CHUNK_LF:
        if (d[0] == '\r' && p->state == ST_CHUNK_CR) {
            p->raw_bytes++;
            p->state = ST_CHUNK_LF;
            return 1;
        }
        if (d[0] == '\n') {
            p->raw_bytes++;
            http_cline_reset(p);
            p->state = ST_CHUNK_SIZE;
            return 1;
        }
        http_frame_error(p, false);
        return 0;
    case ST_TRAILER: {
        size_t i = 0;
        while (i < n) {
            uint8_t c = d[i++];
            p->raw_bytes++;
            if (++p->ttotal > p->o.max_header_bytes) {
                http_frame_error(p, c == '\n');
                return i;
            }
            if (c == '\n') {
                if (p->tline == 0 || (p->tline == 1 && p->tline_cr)) {
                    http_end(p, 0);
                    return i;
                }
                p->tline = 0;
                p->tline_cr = false;
            } else {
                p->tline++;
                p->tline_cr = c == '\r';
            }
        }
        return i;
    }
    case ST_RESYNC_LINE: {
        uint8_t c = d[0];
        if (c == '\n') {
            p->rlen = 0;
            return 1;
        }
        p->rbuf[p->rlen++] = c;
        bool prefix = false, full = false;
        if (p->kind == NS_HTTP_RESPONSE) {
            prefix = memcmp(p->rbuf, "HTTP/1.", p->rlen) == 0;
            full = prefix && p->rlen == 7;
        } else {
            for (size_t k = 0; k < HTTP_NRESYNC; k++) {
                size_t ml = strlen(http_resync_methods[k]);
                if (ml >= p->rlen && memcmp(http_resync_methods[k], p->rbuf, p->rlen) == 0) {
                    prefix = true;
                    full = full || ml == p->rlen;
                }
            }
        }
        if (full) {
            http_reset_head(p);
            if (!http_hbuf_reserve(p, p->rlen)) {
                p->st.dropped++; /* no memory for the block: skip this message */
                p->rlen = 0;
                p->state = ST_RESYNC_SKIP;
                return 1;
            }
            memcpy(p->hbuf, p->rbuf, p->rlen);
            p->hlen = p->rlen;
            p->past_method = p->kind == NS_HTTP_REQUEST; /* the pattern ends in SP */
            p->rlen = 0;
            p->state = ST_HEAD;
        } else if (!prefix) {
            p->rlen = 0;
            p->state = ST_RESYNC_SKIP;
        }
        return 1;
    }
    case ST_RESYNC_SKIP: {
        const uint8_t *nl = memchr(d, '\n', n);
        if (nl == NULL) {
            return n;
        }
        p->rlen = 0;
        p->state = ST_RESYNC_LINE;
        return (size_t)(nl - d) + 1;
    }
    case ST_TUNNEL:
        return n;
    }
    return n;
}

int ns_http_feed(struct ns_http_parser *p, const uint8_t *data, size_t len)
{
    if (data == NULL || len == 0) {
        return 0;
    }
    p->malformed_now = false;
    struct ns_rd r;
    ns_rd_init(&r, data, len, 0);
    /*
     * Each step gets a view of what is left and says how much it used; every
     * pass consumes a byte or changes state to one that will.
     */
    while (ns_rd_left(&r) > 0) {
        size_t used = http_step(p, ns_rd_cur(&r), ns_rd_left(&r));
        if (!ns_rd_skip(&r, used)) {
            break; /* cannot happen: a step never uses more than it was given */
        }
    }
    return p->malformed_now ? NS_EMALFORMED : 0;
}

void ns_http_gap(struct ns_http_parser *p, uint64_t len)
{
    if (len == 0) {
        return;
    }
    switch (p->state) {
    case ST_TUNNEL:
        return;
    case ST_BODY_LEN:
    case ST_BODY_CLOSE:
        if (p->state == ST_BODY_CLOSE || p->remaining >= len) {
            p->flags |= NS_HTTP_END_INCOMPLETE;
            if (p->decoding && !p->dec_stopped) {
                p->flags |= NS_HTTP_END_DECODE_ERR; /* inflate cannot resume */
                p->dec_stopped = true;
            }
            if (p->state == ST_BODY_LEN) {
                p->remaining -= len;
                if (p->remaining == 0) {
                    http_end(p, 0);
                }
            }
            return;
        }
        http_end(p, NS_HTTP_END_INCOMPLETE);
        break;
    case ST_CHUNK_SIZE:
    case ST_CHUNK_DATA:
    case ST_CHUNK_CR:
    case ST_CHUNK_LF:
    case ST_TRAILER:
        http_end(p, NS_HTTP_END_INCOMPLETE);
        break;
    case ST_HEAD:
        if (p->hlen > 0) {
            p->st.dropped++;
        }
        break;
    case ST_START:
    case ST_RESYNC_LINE:
    case ST_RESYNC_SKIP:
        break;
    }
    http_resync(p, true);
}

void ns_http_close(struct ns_http_parser *p)
{
    switch (p->state) {
    case ST_BODY_CLOSE:
        http_end(p, NS_HTTP_END_BY_CLOSE);
        break;
    case ST_BODY_LEN:
    case ST_CHUNK_SIZE:
    case ST_CHUNK_DATA:
    case ST_CHUNK_CR:
    case ST_CHUNK_LF:
    case ST_TRAILER:
        http_end(p, NS_HTTP_END_INCOMPLETE);
        break;
    case ST_HEAD:
        if (p->hlen > 0) {
            p->st.dropped++;
        }
        break;
    case ST_START:
    case ST_RESYNC_LINE:
    case ST_RESYNC_SKIP:
    case ST_TUNNEL:
        break;
    }
    http_reset_head(p);
    p->tunnel_req = false;
    p->rlen = 0;
    p->state = ST_START;
}

/* ---- life cycle ---- */

int ns_http_parser_new(struct ns_http_parser **out, enum ns_http_kind kind,
                       const struct ns_http_opts *opts, const struct ns_http_callbacks *cb)
{
    int rc = NS_ENOMEM;
    *out = NULL;
    struct ns_http_parser *p = ns_calloc(1, sizeof(*p));
    if (p == NULL) {
        goto out;
    }
    p->kind = kind;
    ns_http_opts_init(&p->o);
    if (opts != NULL) {
        p->o = *opts;
        if (p->o.max_header_bytes == 0) {
            p->o.max_header_bytes = HTTP_DEF_MAX_HEADER_BYTES;
        }
        if (p->o.max_headers == 0) {
            p->o.max_headers = HTTP_DEF_MAX_HEADERS;
        }
        if (p->o.max_body_bytes == 0) {
            p->o.max_body_bytes = HTTP_DEF_MAX_BODY;
        }
        if (p->o.max_pending == 0) {
            p->o.max_pending = HTTP_DEF_MAX_PENDING;
        }
        if (p->o.max_header_bytes < HTTP_RESYNC_PREFIX) {
            p->o.max_header_bytes = HTTP_RESYNC_PREFIX; /* room for a resync prefix */
        }
    }
    if (cb != NULL) {
        p->cb = *cb;
    }
    p->state = ST_START;
    if (kind == NS_HTTP_RESPONSE) {
        p->mq = ns_malloc(p->o.max_pending);
        if (p->mq == NULL) {
            goto out;
        }
    }
    *out = p;
    p = NULL;
    rc = 0;
out:
    ns_http_parser_free(p);
    return rc;
}

void ns_http_parser_free(struct ns_http_parser *p)
{
    if (p == NULL) {
        return;
    }
    if (p->peer != NULL && p->peer->peer == p) {
        p->peer->peer = NULL;
    }
    http_inflate_drop(p);
    ns_free(p->hbuf);
    ns_free(p->hdrs);
    ns_free(p->mq);
    ns_free(p);
}

int ns_http_parser_reset(struct ns_http_parser *p, enum ns_http_kind kind,
                         const struct ns_http_callbacks *cb)
{
    if (p->peer != NULL && p->peer->peer == p) {
        p->peer->peer = NULL;
    }
    http_inflate_drop(p);
    struct ns_http_parser keep = *p; /* options and buffers */
    memset(p, 0, sizeof(*p));
    p->o = keep.o;
    if (p->o.keep_buffers) {
        p->hbuf = keep.hbuf;
        p->hcap = keep.hcap;
        p->hdrs = keep.hdrs;
        p->hdrs_cap = keep.hdrs_cap;
    } else {
        ns_free(keep.hbuf); /* a header block cut short with its stream */
        ns_free(keep.hdrs);
    }
    p->mq = keep.mq;
    if (cb != NULL) {
        p->cb = *cb;
    }
    p->state = ST_START;
    p->kind = NS_HTTP_REQUEST;
    if (kind == NS_HTTP_RESPONSE && p->mq == NULL) {
        p->mq = ns_malloc(p->o.max_pending);
        if (p->mq == NULL) {
            return NS_ENOMEM;
        }
    }
    p->kind = kind;
    return 0;
}

void ns_http_pair(struct ns_http_parser *req, struct ns_http_parser *resp)
{
    req->peer = resp;
    resp->peer = req;
}

size_t ns_http_parser_mem(const struct ns_http_parser *p)
{
    size_t n = sizeof(*p) + p->hcap + p->hdrs_cap * sizeof(*p->hdrs);
    if (p->mq != NULL) {
        n += p->o.max_pending;
    }
    if (p->inf != NULL) {
        n += sizeof(*p->inf) + ns__inflate_mem(p->inf);
    }
    return n;
}

const struct ns_http_stats *ns_http_stats(const struct ns_http_parser *p)
{
    return &p->st;
}
