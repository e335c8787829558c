/*
 * jsonw.c - streaming JSON object writer (jsonw.h).
 *
 * Specifications: RFC 8259 (JSON; section 7 for string escapes), RFC 3629
 * (UTF-8 well-formedness: no overlong forms, no surrogates, <= U+10FFFF).
 */
#include "netsift/jsonw.h"

#include <string.h>

#include "netsift/err.h"

static void put(struct ns_jsonw *w, const char *s, size_t n)
{
    if (w->overflow) {
        return;
    }
    if (n > w->cap - w->len) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void putc1(struct ns_jsonw *w, char c)
{
    put(w, &c, 1);
}

void ns_jsonw_begin(struct ns_jsonw *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->overflow = false;
    w->depth = 0;
    w->need_comma[0] = false;
    putc1(w, '{');
}

/* The separator and "key": of a member (key NULL inside arrays). */
static void member(struct ns_jsonw *w, const char *key)
{
    if (w->need_comma[w->depth]) {
        putc1(w, ',');
    }
    w->need_comma[w->depth] = true;
    if (key != NULL) {
        putc1(w, '"');
        put(w, key, strlen(key));
        put(w, "\":", 2);
    }
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len;
    uint32_t cp;
    uint32_t min;

    if (c < 0xc2 || c > 0xf4) {
        return 0; /* continuation byte, overlong 2-byte lead, or past U+10FFFF */
    }
    if (c < 0xe0) {
        len = 2;
        cp = c & 0x1fu;
        min = 0x80;
    } else if (c < 0xf0) {
        len = 3;
        cp = c & 0x0fu;
        min = 0x800;
    } else {
        len = 4;
        cp = c & 0x07u;
        min = 0x10000;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0u) != 0x80u) {
            return 0;
        }
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

static void put_escaped(struct ns_jsonw *w, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0;

    putc1(w, '"');
    while (i < n && !w->overflow) {
        /* copy the longest run that needs no escape in one go */
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\') {
            run++;
        }
        if (run > i) {
            put(w, str + i, run - i);
            i = run;
            continue;
        }
        uint8_t c = s[i];
        if (c >= 0x80) {
            size_t len = utf8_len(s + i, n - i);
            if (len == 0) {
                put(w, "\\ufffd", 6);
                i++;
            } else {
                put(w, str + i, len);
                i += len;
            }
            continue;
        }
        switch (c) {
        case '"':
            put(w, "\\\"", 2);
            break;
        case '\\':
            put(w, "\\\\", 2);
            break;
        case '\n':
            put(w, "\\n", 2);
            break;
        case '\r':
            put(w, "\\r", 2);
            break;
        case '\t':
            put(w, "\\t", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(w, u, sizeof(u));
            break;
        }
        }
        i++;
    }
    putc1(w, '"');
}

void ns_jsonw_str(struct ns_jsonw *w, const char *key, const char *s, size_t len)
{
    member(w, key);
    put_escaped(w, s, len);
}

void ns_jsonw_cstr(struct ns_jsonw *w, const char *key, const char *s)
{
    ns_jsonw_str(w, key, s, strlen(s));
}

static void put_u64(struct ns_jsonw *w, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do {
        d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(w, d + sizeof(d) - n, n);
}

void ns_jsonw_u64(struct ns_jsonw *w, const char *key, uint64_t v)
{
    member(w, key);
    put_u64(w, v);
}

void ns_jsonw_i64(struct ns_jsonw *w, const char *key, int64_t v)
{
    member(w, key);
    if (v < 0) {
        putc1(w, '-');
    }
    /* the magnitude of INT64_MIN does not fit int64_t: negate in unsigned */
    put_u64(w, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

void ns_jsonw_bool(struct ns_jsonw *w, const char *key, bool v)
{
    member(w, key);
    if (v) {
        put(w, "true", 4);
    } else {
        put(w, "false", 5);
    }
}

void ns_jsonw_null(struct ns_jsonw *w, const char *key)
{
    member(w, key);
    put(w, "null", 4);
}

static void open_nested(struct ns_jsonw *w, const char *key, char c)
{
    member(w, key);
    putc1(w, c);
    if (w->depth >= NS_JSONW_MAX_DEPTH) {
        w->overflow = true;
        return;
    }
    w->depth++;
    w->need_comma[w->depth] = false;
}

static void close_nested(struct ns_jsonw *w, char c)
{
    if (w->depth == 0) {
        w->overflow = true;
        return;
    }
    w->depth--;
    putc1(w, c);
}

void ns_jsonw_obj_begin(struct ns_jsonw *w, const char *key)
{
    open_nested(w, key, '{');
}

void ns_jsonw_obj_end(struct ns_jsonw *w)
{
    close_nested(w, '}');
}

void ns_jsonw_arr_begin(struct ns_jsonw *w, const char *key)
{
    open_nested(w, key, '[');
}

void ns_jsonw_arr_end(struct ns_jsonw *w)
{
    close_nested(w, ']');
}

int ns_jsonw_end(struct ns_jsonw *w, size_t *len)
{
    if (w->depth != 0) {
        w->overflow = true;
    }
    put(w, "}\n", 2);
    if (w->overflow) {
        return NS_ELIMIT;
    }
    if (len != NULL) {
        *len = w->len;
    }
    return 0;
}
