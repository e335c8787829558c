/*
 * sink_dashboard.c - the self-contained HTML page of `netsift hosts --html`
 * (dashboard.h; what the page shows: docs/cli/hosts.md, "dashboard").
 *
 * Specifications: HTML Living Standard 4.12.1.3 "Restrictions for contents
 * of script elements" (a script's text must not contain "</script" nor
 * "<!--" followed by "<script"), 13.2.5 tokenization (script data state);
 * RFC 8259 section 7 (a JSON string may write any character as \uXXXX);
 * JSON Lines (one RFC 8259 value per line).
 *
 * The template web/dashboard.html is copied as it is except for directives
 * written as HTML comments, which are replaced by content:
 *
 *   <!--ns:title-->               the title, HTML-escaped
 *   <!--ns:css NAME-->            <style>  + embedded file NAME + </style>
 *   <!--ns:js NAME-->             <script> + embedded file NAME + </script>
 *   <!--ns:json ID NAME-->        <script type="application/json" id="ID">
 *                                 + embedded JSON file NAME, escaped + </script>
 *   <!--ns:data ID-->             the same around the records as one array
 *
 * The JSON escape turns '<', '>' and '&' into \u003c, \u003e and \u0026;
 * those bytes can only stand inside strings in valid JSON, and every line is
 * checked with jansson first, so the result parses to the same values and
 * cannot contain "</script" or "<!--". Embedded scripts and styles are
 * checked for their closing tag (and scripts for "<!--") instead, because
 * rewriting code is not safe in general.
 *
 * The template is walked twice: a dry pass that checks every directive and
 * asset, then the writing pass, so a broken build fails before any byte is
 * written.
 */
#include "netsift/dashboard.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "netsift/err.h"
#include "sink_dashboard_int.h"

#define DEFAULT_TITLE "netsift hosts"
#define DIRECTIVE     "<!--ns:"
#define DIRECTIVE_END "-->"
#define MAX_WORDS     3
#define MAX_WORD      64

const struct ns__embed_file *ns__dashboard_asset(const char *name)
{
    for (size_t i = 0; i < ns__dashboard_assets_count; i++) {
        if (strcmp(ns__dashboard_assets[i].name, name) == 0) {
            return &ns__dashboard_assets[i];
        }
    }
    return NULL;
}

/* ---- output ---- */

struct writer {
    FILE *out; /* NULL in the dry pass */
};

static void put(struct writer *w, const void *p, size_t n)
{
    if (w->out != NULL && n > 0) {
        (void)fwrite(p, 1, n, w->out);
    }
}

static void puts_(struct writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* JSON text with '<', '>' and '&' written as \u escapes. */
static void put_json_escaped(struct writer *w, const char *s, size_t n)
{
    size_t run = 0;

    for (size_t i = 0; i < n; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '<':
            esc = "\\u003c";
            break;
        case '>':
            esc = "\\u003e";
            break;
        case '&':
            esc = "\\u0026";
            break;
        default:
            continue;
        }
        put(w, s + run, i - run);
        puts_(w, esc);
        run = i + 1;
    }
    put(w, s + run, n - run);
}

static void put_html_escaped(struct writer *w, const char *s)
{
    size_t run = 0;
    size_t n = strlen(s);

    for (size_t i = 0; i < n; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '<':
            esc = "&lt;";
            break;
        case '>':
            esc = "&gt;";
            break;
        case '&':
            esc = "&amp;";
            break;
        case '"':
            esc = "&quot;";
            break;
        case '\'':
            esc = "&#39;";
            break;
        default:
            continue;
        }
        put(w, s + run, i - run);
        puts_(w, esc);
        run = i + 1;
    }
    put(w, s + run, n - run);
}

/* ---- checks ---- */

/* Does (p, n) contain `needle` (lower case), compared case-insensitively? */
static bool contains_ci(const unsigned char *p, size_t n, const char *needle)
{
    size_t m = strlen(needle);

    if (m > n) {
        return false;
    }
    for (size_t i = 0; i + m <= n; i++) {
        size_t j = 0;
        while (j < m && tolower(p[i + j]) == (unsigned char)needle[j]) {
            j++;
        }
        if (j == m) {
            return true;
        }
    }
    return false;
}

/* One line of the records, without its line end and surrounding blanks. */
struct line {
    const char *p;
    size_t n;
};

/* Advance *pos over the next line of (s, len); false at the end. */
static bool next_line(const char *s, size_t len, size_t *pos, struct line *ln)
{
    if (*pos >= len) {
        return false;
    }
    size_t start = *pos;
    const char *nl = memchr(s + start, '\n', len - start);
    size_t end = nl != NULL ? (size_t)(nl - s) : len;

    *pos = nl != NULL ? end + 1 : len;
    while (start < end && (s[start] == ' ' || s[start] == '\t')) {
        start++;
    }
    while (end > start && (s[end - 1] == '\r' || s[end - 1] == ' ' || s[end - 1] == '\t')) {
        end--;
    }
    ln->p = s + start;
    ln->n = end - start;
    return true;
}

static int check_records(const char *records, size_t len, struct ns_error *err)
{
    size_t pos = 0;
    size_t lineno = 0;
    struct line ln;

    while (next_line(records, len, &pos, &ln)) {
        lineno++;
        if (ln.n == 0) {
            continue;
        }
        json_error_t jerr;
        json_t *v = json_loadb(ln.p, ln.n, 0, &jerr);
        bool object = v != NULL && json_is_object(v);
        json_decref(v);
        if (v == NULL) {
            return ns_error_set(err, NS_EMALFORMED, "dashboard: record line %zu: %s", lineno,
                                jerr.text);
        }
        if (!object) {
            return ns_error_set(err, NS_EMALFORMED,
                                "dashboard: record line %zu is not a JSON object", lineno);
        }
    }
    return 0;
}

/* ---- the template ---- */

static void put_records(struct writer *w, const char *records, size_t len)
{
    size_t pos = 0;
    bool first = true;
    struct line ln;

    puts_(w, "[");
    while (next_line(records, len, &pos, &ln)) {
        if (ln.n == 0) {
            continue;
        }
        if (!first) {
            puts_(w, ",\n");
        }
        put_json_escaped(w, ln.p, ln.n);
        first = false;
    }
    puts_(w, "]");
}

/* Split (p, n) at blanks into at most MAX_WORDS NUL-terminated words. */
static int split_words(const char *p, size_t n, char words[MAX_WORDS][MAX_WORD], size_t *count)
{
    size_t i = 0;

    *count = 0;
    while (i < n) {
        while (i < n && p[i] == ' ') {
            i++;
        }
        if (i == n) {
            break;
        }
        size_t start = i;
        while (i < n && p[i] != ' ') {
            i++;
        }
        if (*count == MAX_WORDS || i - start >= MAX_WORD) {
            return NS_EINVAL;
        }
        memcpy(words[*count], p + start, i - start);
        words[*count][i - start] = '\0';
        (*count)++;
    }
    return 0;
}

/* An embedded file for a <style> or <script> element, checked. */
static int code_asset(const char *name, const char *close, bool script,
                      const struct ns__embed_file **out, struct ns_error *err)
{
    const struct ns__embed_file *f = ns__dashboard_asset(name);

    if (f == NULL) {
        return ns_error_set(err, NS_EINVAL, "dashboard: '%s' is not embedded", name);
    }
    if (contains_ci(f->data, f->len, close) || (script && contains_ci(f->data, f->len, "<!--"))) {
        return ns_error_set(err, NS_EINVAL, "dashboard: '%s' would end its %s element early", name,
                            script ? "script" : "style");
    }
    *out = f;
    return 0;
}

static int directive(struct writer *w, const char *p, size_t n, const char *title,
                     const char *records, size_t len, struct ns_error *err)
{
    char words[MAX_WORDS][MAX_WORD];
    size_t count;
    const struct ns__embed_file *f;
    int rc;

    if (split_words(p, n, words, &count) != 0 || count == 0) {
        return ns_error_set(err, NS_EINVAL, "dashboard: bad template directive '%.*s'",
                            (int)(n > 64 ? 64 : n), p);
    }
    if (strcmp(words[0], "title") == 0 && count == 1) {
        put_html_escaped(w, title);
    } else if (strcmp(words[0], "css") == 0 && count == 2) {
        rc = code_asset(words[1], "</style", false, &f, err);
        if (rc != 0) {
            return rc;
        }
        puts_(w, "<style>\n");
        put(w, f->data, f->len);
        puts_(w, "</style>");
    } else if (strcmp(words[0], "js") == 0 && count == 2) {
        rc = code_asset(words[1], "</script", true, &f, err);
        if (rc != 0) {
            return rc;
        }
        puts_(w, "<script>\n");
        put(w, f->data, f->len);
        puts_(w, "\n</script>");
    } else if (strcmp(words[0], "json") == 0 && count == 3) {
        f = ns__dashboard_asset(words[2]);
        if (f == NULL) {
            return ns_error_set(err, NS_EINVAL, "dashboard: '%s' is not embedded", words[2]);
        }
        puts_(w, "<script type=\"application/json\" id=\"");
        puts_(w, words[1]);
        puts_(w, "\">");
        put_json_escaped(w, (const char *)f->data, f->len);
        puts_(w, "</script>");
    } else if (strcmp(words[0], "data") == 0 && count == 2) {
        puts_(w, "<script type=\"application/json\" id=\"");
        puts_(w, words[1]);
        puts_(w, "\">");
        put_records(w, records, len);
        puts_(w, "</script>");
    } else {
        return ns_error_set(err, NS_EINVAL, "dashboard: unknown template directive '%s'", words[0]);
    }
    return 0;
}

static int render(struct writer *w, const char *title, const char *records, size_t len,
                  struct ns_error *err)
{
    const struct ns__embed_file *tpl = ns__dashboard_asset("dashboard.html");
    const size_t dlen = strlen(DIRECTIVE);

    if (tpl == NULL) {
        return ns_error_set(err, NS_EINVAL, "dashboard: the page template is not embedded");
    }
    const char *s = (const char *)tpl->data;
    size_t n = tpl->len;
    size_t pos = 0;

    for (;;) {
        const char *d = memmem(s + pos, n - pos, DIRECTIVE, dlen);
        if (d == NULL) {
            break;
        }
        size_t at = (size_t)(d - s);
        const char *e = memmem(s + at + dlen, n - at - dlen, DIRECTIVE_END, strlen(DIRECTIVE_END));
        if (e == NULL) {
            return ns_error_set(err, NS_EINVAL, "dashboard: unterminated template directive");
        }
        put(w, s + pos, at - pos);
        int rc =
            directive(w, s + at + dlen, (size_t)(e - (s + at + dlen)), title, records, len, err);
        if (rc != 0) {
            return rc;
        }
        pos = (size_t)(e - s) + strlen(DIRECTIVE_END);
    }
    put(w, s + pos, n - pos);
    return 0;
}

int ns_dashboard_write(FILE *out, const char *title, const char *records, size_t len,
                       struct ns_error *err)
{
    struct writer dry = {NULL};
    struct writer real = {out};
    int rc;

    if (out == NULL || (records == NULL && len > 0)) {
        return ns_error_set(err, NS_EINVAL, "dashboard: no output or no records");
    }
    if (records == NULL) {
        records = "";
    }
    if (title == NULL) {
        title = DEFAULT_TITLE;
    }
    rc = check_records(records, len, err);
    if (rc != 0) {
        return rc;
    }
    rc = render(&dry, title, records, len, err);
    if (rc != 0) {
        return rc;
    }
    (void)render(&real, title, records, len, err);
    if (ferror(out)) {
        return ns_error_set(err, NS_EIO, "dashboard: write failed");
    }
    return 0;
}
