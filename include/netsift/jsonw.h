/*
 * jsonw.h - a small streaming writer of JSON objects (RFC 8259) into a
 * caller's buffer, for the JSON Lines that netsift writes per record.
 *
 * Why not jansson here: building a jansson object per record and dumping it
 * cost about 3.4 us per flow record (its dumper escapes through a callback
 * per token), which made output the main cost of `netsift flows` on traffic
 * with many short flows. This writer appends keys and values straight into
 * a buffer. jansson stays the library for everything else (parsing, the
 * stats record) and is the oracle of this writer's unit tests.
 *
 * Use: ns_jsonw_begin(), then one call per member (nested objects and arrays
 * with _obj_begin/_end and _arr_begin/_end; inside an array pass key NULL),
 * then ns_jsonw_end(), which closes the object, appends '\n' and says whether
 * everything fitted. Running out of room is sticky: later calls are no-ops
 * and ns_jsonw_end() returns NS_ELIMIT.
 *
 * Strings are escaped as RFC 8259 section 7 requires (quotation mark,
 * reverse solidus, control characters); bytes that are not well-formed
 * UTF-8 (RFC 3629) are written as U+FFFD, so the output is always valid
 * JSON whatever bytes a packet carried.
 */
#ifndef NETSIFT_JSONW_H
#define NETSIFT_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NS_JSONW_MAX_DEPTH 8

struct ns_jsonw {
    char *buf;
    size_t cap;
    size_t len;
    bool overflow;
    uint8_t depth;
    bool need_comma[NS_JSONW_MAX_DEPTH + 1];
};

/* Start an object in buf (cap bytes; the caller owns it). */
void ns_jsonw_begin(struct ns_jsonw *w, char *buf, size_t cap);

/* Members. `key` is a plain ASCII name written as is (NULL inside arrays). */
void ns_jsonw_str(struct ns_jsonw *w, const char *key, const char *s, size_t len);
void ns_jsonw_cstr(struct ns_jsonw *w, const char *key, const char *s);
void ns_jsonw_u64(struct ns_jsonw *w, const char *key, uint64_t v);
void ns_jsonw_i64(struct ns_jsonw *w, const char *key, int64_t v);
void ns_jsonw_bool(struct ns_jsonw *w, const char *key, bool v);
void ns_jsonw_null(struct ns_jsonw *w, const char *key);
void ns_jsonw_obj_begin(struct ns_jsonw *w, const char *key);
void ns_jsonw_obj_end(struct ns_jsonw *w);
void ns_jsonw_arr_begin(struct ns_jsonw *w, const char *key);
void ns_jsonw_arr_end(struct ns_jsonw *w);

/*
 * Close the object and append '\n'. Returns 0 with *len (may be NULL) the
 * bytes written, or NS_ELIMIT if the buffer was too small or nesting was
 * unbalanced (the buffer content is then unspecified).
 */
int ns_jsonw_end(struct ns_jsonw *w, size_t *len);

#endif
