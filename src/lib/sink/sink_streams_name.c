/*
 * sink_streams_name.c - file names of `netsift streams`: tcpflow's filename
 * template with its % codes, the -F letters, and the file extension of an
 * HTTP body from its Content-Type (RFC 9110 section 8.3, media types of the
 * IANA registry).
 *
 * Default name (tcpflow's): %A.%a-%B.%b%V%v%C%c, e.g.
 *
 *   128.129.130.131.02345-010.011.012.013.45103--3c1
 *   \_____________/ \___/ \_____________/ \___/\_/\/
 *        %A          %a        %B          %b  %V%v %C%c
 *
 * IPv4 addresses are written with each octet zero-padded to 3 digits, IPv6
 * addresses in their RFC 5952 text form, ports zero-padded to 5 digits.
 */
#include "netsift/streams.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "netsift/err.h"

struct name_out {
    char *buf;
    size_t size;
    size_t len;
    bool overflow;
};

static void out_bytes(struct name_out *o, const char *s, size_t n)
{
    if (o->overflow || n >= o->size - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void out_str(struct name_out *o, const char *s)
{
    out_bytes(o, s, strlen(s));
}

/* v in decimal, zero-padded to `width` digits (0: no padding). */
static void out_u64(struct name_out *o, unsigned long long v, int width)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%0*llu", width, v);
    if (n > 0 && (size_t)n < sizeof(tmp)) {
        out_bytes(o, tmp, (size_t)n);
    }
}

static void out_addr(struct name_out *o, const struct ns_addr *a)
{
    char tmp[64];
    if (a->family == 4) {
        int n =
            snprintf(tmp, sizeof(tmp), "%03u.%03u.%03u.%03u", a->a[0], a->a[1], a->a[2], a->a[3]);
        if (n > 0 && (size_t)n < sizeof(tmp)) {
            out_bytes(o, tmp, (size_t)n);
        }
        return;
    }
    out_str(o, ns_addr_format(a, tmp, sizeof(tmp)));
}

static void out_time(struct name_out *o, uint64_t ts_ns, bool iso)
{
    time_t t = (time_t)(ts_ns / 1000000000ULL);
    if (!iso) {
        out_u64(o, (unsigned long long)t, 0);
        return;
    }
    struct tm tm;
    char tmp[48];
    if (gmtime_r(&t, &tm) == NULL) {
        out_str(o, "0000-00-00T00:00:00Z");
        return;
    }
    size_t n = strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    out_bytes(o, tmp, n);
}

int ns_streams_format_name(char *buf, size_t size, const char *tmpl,
                           const struct ns_streams_name *n)
{
    struct name_out o = {buf, size, 0, size == 0};
    for (const char *p = tmpl; *p != '\0'; p++) {
        if (*p != '%') {
            out_bytes(&o, p, 1);
            continue;
        }
        p++;
        switch (*p) {
        case 'A':
            out_addr(&o, &n->src);
            break;
        case 'a':
            out_u64(&o, n->sport, 5);
            break;
        case 'B':
            out_addr(&o, &n->dst);
            break;
        case 'b':
            out_u64(&o, n->dport, 5);
            break;
        case 'T':
            out_time(&o, n->ts_ns, true);
            break;
        case 't':
            out_time(&o, n->ts_ns, false);
            break;
        case 'V':
            if (n->vlan != 0) {
                out_str(&o, "--");
            }
            break;
        case 'v':
            if (n->vlan != 0) {
                out_u64(&o, n->vlan, 0);
            }
            break;
        case 'C':
            if (n->count > 0) {
                out_str(&o, "c");
            }
            break;
        case 'c':
            if (n->count > 0) {
                out_u64(&o, n->count, 0);
            }
            break;
        case '#':
            out_u64(&o, n->count, 0);
            break;
        case 'N':
            out_u64(&o, (unsigned long long)(n->conn_index % 1000), 3);
            break;
        case 'K':
            out_u64(&o, (unsigned long long)(n->conn_index / 1000 % 1000), 3);
            break;
        case 'M':
            out_u64(&o, (unsigned long long)(n->conn_index / 1000000 % 1000), 3);
            break;
        case 'G':
            out_u64(&o, (unsigned long long)(n->conn_index / 1000000000 % 1000), 3);
            break;
        case '%':
            out_bytes(&o, "%", 1);
            break;
        default:
            return NS_EINVAL; /* unknown code, or '%' at the end */
        }
    }
    if (o.overflow) {
        return NS_ELIMIT;
    }
    buf[o.len] = '\0';
    return 0;
}

int ns_streams_template_from_flags(char *buf, size_t size, const char *flags)
{
    const char *prefix = "";
    const char *bins = "";
    const char *counter = "%C%c";
    for (const char *f = flags; *f != '\0'; f++) {
        switch (*f) {
        case 't':
            prefix = "%tT";
            break;
        case 'T':
            prefix = "%T";
            break;
        case 'c':
            counter = "c%#";
            break;
        case 'k':
            bins = "%K/";
            break;
        case 'm':
            bins = "%M/%K/";
            break;
        case 'g':
            bins = "%G/%M/%K/";
            break;
        default:
            break;
        }
    }
    int n = snprintf(buf, size, "%s%s%%A.%%a-%%B.%%b%%V%%v%s", bins, prefix, counter);
    if (n < 0 || (size_t)n >= size) {
        return NS_ELIMIT;
    }
    return 0;
}

struct mime_ext {
    const char *type;
    const char *ext;
};

/* The media types seen most on the web, with the extensions people expect. */
static const struct mime_ext mime_exts[] = {
    {"application/javascript", "js"},
    {"application/json", "json"},
    {"application/octet-stream", "bin"},
    {"application/pdf", "pdf"},
    {"application/x-javascript", "js"},
    {"application/x-shockwave-flash", "swf"},
    {"application/xhtml+xml", "xhtml"},
    {"application/xml", "xml"},
    {"application/zip", "zip"},
    {"image/bmp", "bmp"},
    {"image/gif", "gif"},
    {"image/jpeg", "jpg"},
    {"image/jpg", "jpg"},
    {"image/png", "png"},
    {"image/svg+xml", "svg"},
    {"image/vnd.microsoft.icon", "ico"},
    {"image/webp", "webp"},
    {"image/x-icon", "ico"},
    {"text/css", "css"},
    {"text/html", "html"},
    {"text/javascript", "js"},
    {"text/plain", "txt"},
    {"text/xml", "xml"},
    {"video/mp4", "mp4"},
};

const char *ns_streams_mime_ext(const char *ctype, size_t len)
{
    if (ctype == NULL) {
        return NULL;
    }
    /* the media type ends at a parameter (';') or whitespace */
    size_t n = 0;
    while (n < len && ctype[n] != ';' && ctype[n] != ' ' && ctype[n] != '\t') {
        n++;
    }
    for (size_t i = 0; i < sizeof(mime_exts) / sizeof(mime_exts[0]); i++) {
        if (strlen(mime_exts[i].type) == n && strncasecmp(mime_exts[i].type, ctype, n) == 0) {
            return mime_exts[i].ext;
        }
    }
    return NULL;
}
