/*
 * http.h - HTTP/1.x message parser for one direction of a reassembled TCP
 * stream (RFC 9112 message syntax, RFC 9110 semantics).
 *
 * The parser is a resumable state machine fed chunks of any size (one byte
 * at a time works, STYLE.md B5.7): it never assumes one message per packet.
 * For each message it reports the start line and headers once they are
 * complete, then the body decoded: transfer codings removed (chunked, RFC
 * 9112 section 7.1) and content codings gzip / x-gzip / deflate (zlib, both
 * raw and zlib-wrapped deflate) undone, then the end of the message.
 *
 * Body length (RFC 9112 section 6.3): responses to HEAD, 1xx, 204 and 304
 * have none; chunked wins over Content-Length; Content-Length (conflicting
 * values are an error); a response without either lasts until the close; a
 * request without either has none.
 *
 * Pairing: a response parser needs the methods of the requests it answers
 * (HEAD, CONNECT). ns_http_pair() links a request parser to the response
 * parser of the same connection; each request's method is queued (bounded)
 * for the response parser.
 *
 * Gaps: ns_http_gap() says bytes were lost. Inside a body of known length
 * the message goes on (its body marked incomplete, the missing bytes not
 * invented); otherwise the current message ends as incomplete and the parser
 * looks for the next start line.
 *
 * Caps: start line + headers (max_header_bytes), header count (max_headers),
 * decoded body size per message (max_body_bytes: past it the body is cut and
 * marked truncated, the parser keeps framing the stream), chunk-size line
 * length. A violation is reported as NS_EMALFORMED with a reason; the parser
 * then resynchronises on the next start line.
 *
 * Field lines: "name: value". Whitespace between the name and the colon
 * ("Access-Control-Allow-Credentials : true") is accepted in requests and
 * responses alike, stripped from the name and counted (ws_before_colon):
 * RFC 9112 section 5.1 has a server reject such a request and a proxy strip
 * it from a response, but an observer must not lose the message.
 *
 * Memory: the caps are limits, not allocations. A new parser holds its own
 * struct (about 0.4 KiB) and, for a response parser, the method queue
 * (max_pending bytes). The header buffer is allocated at the first byte of a
 * header block (512 bytes, or max_header_bytes if smaller) and doubled as
 * needed up to max_header_bytes; the header array is allocated when a block
 * is complete (8 entries, doubled up to max_headers). When a header block is
 * done with (reported, malformed or abandoned) both are freed. The inflater
 * (zlib state about 7 KiB, its 32 KiB window and a 16 KiB output buffer)
 * exists only from the headers of a gzip / deflate message to its end. So a
 * parser at rest (between messages, or in a body that is not decoded) holds
 * its struct + max_pending bytes: about 0.5 KiB with the default options.
 * With keep_buffers the header buffer and array are kept instead, for a
 * parser that is reset and used again many times (ns_http_parser_reset):
 * then it holds up to max_header_bytes + max_headers entries at rest.
 * ns_http_parser_mem() tells the exact figure. If an allocation fails
 * (NS_ENOMEM) the header block is dropped (stats dropped and nomem; the
 * parser skips to the next start line) or the body stops being decoded
 * (NS_HTTP_END_DECODE_ERR, stat nomem): feeding goes on, nothing is fatal.
 */
#ifndef NETSIFT_HTTP_H
#define NETSIFT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ns_http_kind {
    NS_HTTP_REQUEST = 0,
    NS_HTTP_RESPONSE = 1,
};

/* A header field as it appeared (views, valid during on_headers only). */
struct ns_http_header {
    const char *name;
    size_t name_len;
    const char *value; /* leading/trailing whitespace removed */
    size_t value_len;
};

/* Start line and headers of one message (views valid during on_headers only). */
struct ns_http_msg {
    enum ns_http_kind kind;
    uint64_t index;     /* 1-based message number in this direction */
    const char *method; /* requests */
    size_t method_len;
    const char *target; /* requests: request-target */
    size_t target_len;
    unsigned status;    /* responses */
    const char *reason; /* responses */
    size_t reason_len;
    unsigned version_major; /* 1 */
    unsigned version_minor; /* 0 or 1 */
    const struct ns_http_header *headers;
    size_t nheaders;
    bool chunked;    /* Transfer-Encoding ends in chunked */
    bool has_length; /* Content-Length present */
    uint64_t content_length;
    const char *content_encoding; /* raw Content-Encoding value, or NULL */
    size_t content_encoding_len;
    size_t header_bytes; /* bytes of start line + headers + empty line */
};

/*
 * Message end flags.
 *
 * INCOMPLETE: body bytes are missing: lost in a gap, cut by the end of the
 * stream, or cut by a framing error (a bad chunk-size line).
 * TRUNCATED: the decoded body reached max_body_bytes; the bytes past it were
 * not given (and an encoded body is not inflated further), framing went on.
 * DECODE_ERR: the content coding could not be undone: the inflater failed,
 * the coded stream was unfinished at the end of a complete message, or a gap
 * fell inside a coded body (inflate cannot resume). Decoded output stops at
 * that point: the bytes after it are given neither decoded nor raw.
 * BY_CLOSE: body delimited by the end of the connection (ns_http_close).
 */
#define NS_HTTP_END_INCOMPLETE 0x01
#define NS_HTTP_END_TRUNCATED  0x02
#define NS_HTTP_END_DECODE_ERR 0x04
#define NS_HTTP_END_BY_CLOSE   0x08

struct ns_http_callbacks {
    /* start line and headers complete */
    void (*on_headers)(void *ud, const struct ns_http_msg *m);
    /* decoded body bytes (any chunking) */
    void (*on_body)(void *ud, const uint8_t *data, size_t len);
    /*
     * message complete (flags NS_HTTP_END_...). raw_body_bytes: the bytes of
     * the message body as they were fed, chunk framing included (chunk-size
     * lines, CRLFs, last chunk, trailer section); bytes lost in gaps are not
     * counted. body_bytes: the bytes given to on_body for this message.
     */
    void (*on_end)(void *ud, unsigned flags, uint64_t raw_body_bytes, uint64_t body_bytes);
    void *ud;
};

struct ns_http_opts {
    size_t max_header_bytes; /* 0 means 64 KiB */
    size_t max_headers;      /* 0 means 128 */
    uint64_t max_body_bytes; /* decoded bytes per message; 0 means 256 MiB */
    size_t max_pending;      /* request methods queued for the response side; 0 means 64 */
    bool decode_content;     /* undo gzip/deflate (default true via ns_http_opts_init) */
    bool keep_buffers;       /* keep the header buffer and array between blocks (see Memory) */
};

void ns_http_opts_init(struct ns_http_opts *o);

struct ns_http_stats {
    uint64_t messages;         /* on_headers calls */
    uint64_t malformed;        /* NS_EMALFORMED events (bad start line, header, framing, cap) */
    uint64_t incomplete;       /* messages ended with NS_HTTP_END_INCOMPLETE */
    uint64_t truncated;        /* messages ended with NS_HTTP_END_TRUNCATED */
    uint64_t decode_errors;    /* messages ended with NS_HTTP_END_DECODE_ERR */
    uint64_t resyncs;          /* times the parser started skipping to the next start line */
    uint64_t tunnels;          /* CONNECT / 101 switches: the rest of the stream was ignored */
    uint64_t dropped;          /* header blocks abandoned: at a gap, at the close, no memory */
    uint64_t pending_overflow; /* request methods not queued: the response queue was full */
    uint64_t ws_before_colon;  /* field lines of reported messages with SP / HTAB before ':' */
    uint64_t nomem;            /* failed allocations: a header block dropped, decoding stopped */
};

struct ns_http_parser;

/*
 * Create a parser for one direction. opts may be NULL (defaults); cb is
 * copied. Returns 0 or NS_ENOMEM (*out is then NULL). Only the struct and,
 * for a response parser, the method queue are allocated here (see Memory).
 */
int ns_http_parser_new(struct ns_http_parser **out, enum ns_http_kind kind,
                       const struct ns_http_opts *opts, const struct ns_http_callbacks *cb);
void ns_http_parser_free(struct ns_http_parser *p);

/*
 * Make p what ns_http_parser_new(kind, its options, cb) would give, for a
 * new stream: state, counters and pairing are cleared, the options kept,
 * and with keep_buffers the header buffer and array too (so a parser used
 * for stream after stream stops allocating). cb is copied. Returns 0, or
 * NS_ENOMEM when a response parser's method queue cannot be made (p is then
 * a request parser's state and must be reset again or freed).
 */
int ns_http_parser_reset(struct ns_http_parser *p, enum ns_http_kind kind,
                         const struct ns_http_callbacks *cb);

/*
 * Bytes the parser holds now: its struct, header buffer and array, method
 * queue and, while a coded body is decoded, the inflater with zlib's own
 * allocations (as requested from the allocator, without malloc's overhead).
 * For memory accounting and tests; see Memory above for what to expect.
 */
size_t ns_http_parser_mem(const struct ns_http_parser *p);

/*
 * Link the request parser of a connection to its response parser. The
 * request parser queues each request's method (at its on_headers) for the
 * response parser, which takes one per final (non-1xx) response; an answer
 * with nothing queued is taken as an answer to GET. A response to HEAD has no
 * body. After a CONNECT request the request side is tunnel data (ignored); a
 * non-2xx final answer to it puts the request side back to parsing, a 2xx
 * answer (or a 101 Switching Protocols) makes the response side ignore the
 * rest of its stream too. Either parser may be freed first (it unlinks).
 */
void ns_http_pair(struct ns_http_parser *req, struct ns_http_parser *resp);

/*
 * Feed the next in-order bytes. Returns 0 (all consumed, possibly waiting
 * for more: a partial message is held), or NS_EMALFORMED (counted; the
 * parser skips to the next plausible start line and goes on). All bytes are
 * consumed either way. When resynchronising, a start line is recognised only
 * at a line start: "HTTP/1." for responses, a well-known method and a space
 * for requests. Lines may end in CRLF or a bare LF.
 */
int ns_http_feed(struct ns_http_parser *p, const uint8_t *data, size_t len);

/*
 * `len` bytes were lost before the next fed byte. Inside a Content-Length
 * body that still needs at least `len` bytes, or inside a close-delimited
 * body, the message goes on marked NS_HTTP_END_INCOMPLETE (a coded body stops
 * being decoded: NS_HTTP_END_DECODE_ERR). Anywhere else the current message
 * ends as incomplete (a partial header block is dropped) and the parser looks
 * for the next start line at the next line start.
 */
void ns_http_gap(struct ns_http_parser *p, uint64_t len);

/*
 * End of this direction: ends a close-delimited body (NS_HTTP_END_BY_CLOSE),
 * ends a cut message whose headers were reported as incomplete, drops a
 * partial header block. The parser may be fed again afterwards (a new stream).
 */
void ns_http_close(struct ns_http_parser *p);

const struct ns_http_stats *ns_http_stats(const struct ns_http_parser *p);

#endif
