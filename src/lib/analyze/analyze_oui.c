/*
 * analyze_oui.c - MAC address vendor lookup from the IEEE Registration
 * Authority CSV files (oui.h): MA-L (24-bit, oui.csv), MA-M (28-bit,
 * mam.csv), MA-S (36-bit, oui36.csv) and the older IAB blocks (36-bit,
 * iab.csv, used when present).
 *
 * CSV per RFC 4180: fields separated by commas, records by LF (CRLF
 * accepted); a field in double quotes may hold commas, line breaks and
 * doubled quotes:
 *
 *   Registry,Assignment,Organization Name,Organization Address
 *   MA-L,0003B1,"ICU Medical, Inc.",951 Calle Amanecer San Clemente CA US 92673
 *   ^^^^ ^^^^^^ ^^^^^^^^^^^^^^^^^^^
 *   kind  hex    vendor (the address is read and dropped)
 *
 * The assignment has 6, 7 or 9 hex digits for 24, 28 or 36 bits. Rows go
 * into one array per prefix length, sorted once; a lookup binary-searches
 * the 36-bit, then 28-bit, then 24-bit array (longest match). Vendor names
 * are stored once each in one arena (a hash set finds repeats while
 * loading: "Private" and the big vendors appear thousands of times).
 */
#include "netsift/oui.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsift/alloc.h"
#include "netsift/rd.h"

#define OUI_MAX_ROWS   1000000
#define OUI_MAX_NAME   256
#define OUI_MAX_FILE   (64u << 20) /* a registry file larger than 64 MiB is not one */
#define OUI_MAX_FIELD  4096        /* longest CSV field we keep reading */
#define OUI_NBITS      3           /* 24, 28, 36 */
#define OUI_MAX_FIELDS 16

struct oui_row {
    uint64_t prefix; /* the assignment's value, right-aligned */
    uint32_t name;   /* offset in the arena */
    uint32_t seq;    /* reading order: of two rows for one prefix, the first read wins */
};

struct oui_tab {
    struct oui_row *rows;
    size_t n;
    size_t cap;
};

struct ns_oui {
    struct oui_tab tab[OUI_NBITS]; /* 0: 24 bits, 1: 28, 2: 36 */
    char *arena;
    size_t arena_len;
    size_t arena_cap;
    uint32_t *names; /* hash set of arena offsets + 1 (0 = empty), while loading */
    size_t names_cap;
    size_t names_n;
    size_t total;
};

static const unsigned oui_bits[OUI_NBITS] = {24, 28, 36};

static int oui_bits_index(unsigned bits)
{
    for (int i = 0; i < OUI_NBITS; i++) {
        if (oui_bits[i] == bits) {
            return i;
        }
    }
    return -1;
}

static uint32_t oui_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    }
    return h;
}

static int oui_names_grow(struct ns_oui *o)
{
    size_t ncap = o->names_cap == 0 ? 4096 : o->names_cap * 2;
    uint32_t *n = ns_calloc(ncap, sizeof(*n));
    if (n == NULL) {
        return NS_ENOMEM;
    }
    for (size_t i = 0; i < o->names_cap; i++) {
        uint32_t v = o->names[i];
        if (v == 0) {
            continue;
        }
        const char *s = o->arena + (v - 1);
        size_t j = oui_hash(s, strlen(s)) & (ncap - 1);
        while (n[j] != 0) {
            j = (j + 1) & (ncap - 1);
        }
        n[j] = v;
    }
    ns_free(o->names);
    o->names = n;
    o->names_cap = ncap;
    return 0;
}

/* The arena offset of the name (s, len), adding it when new. */
static int oui_intern(struct ns_oui *o, const char *s, size_t len, uint32_t *off)
{
    if ((o->names_n + 1) * 2 > o->names_cap && oui_names_grow(o) != 0) {
        return NS_ENOMEM;
    }
    uint32_t h = oui_hash(s, len);
    size_t j = h & (o->names_cap - 1);
    while (o->names[j] != 0) {
        const char *t = o->arena + (o->names[j] - 1);
        if (strncmp(t, s, len) == 0 && t[len] == '\0') {
            *off = o->names[j] - 1;
            return 0;
        }
        j = (j + 1) & (o->names_cap - 1);
    }
    if (o->arena_len + len + 1 > o->arena_cap) {
        size_t ncap = o->arena_cap == 0 ? 65536 : o->arena_cap * 2;
        while (ncap < o->arena_len + len + 1) {
            ncap *= 2;
        }
        if (ncap > UINT32_MAX - 1) {
            return NS_ENOMEM;
        }
        char *a = ns_reallocarray(o->arena, ncap, 1);
        if (a == NULL) {
            return NS_ENOMEM;
        }
        o->arena = a;
        o->arena_cap = ncap;
    }
    *off = (uint32_t)o->arena_len;
    memcpy(o->arena + o->arena_len, s, len);
    o->arena[o->arena_len + len] = '\0';
    o->arena_len += len + 1;
    o->names[j] = *off + 1;
    o->names_n++;
    return 0;
}

static int oui_add(struct ns_oui *o, int bi, uint64_t prefix, const char *name, size_t len)
{
    struct oui_tab *t = &o->tab[bi];
    uint32_t off = 0;
    if (o->total >= OUI_MAX_ROWS) {
        return NS_ELIMIT;
    }
    if (t->n == t->cap) {
        size_t ncap = t->cap == 0 ? 1024 : t->cap * 2;
        struct oui_row *r = ns_reallocarray(t->rows, ncap, sizeof(*r));
        if (r == NULL) {
            return NS_ENOMEM;
        }
        t->rows = r;
        t->cap = ncap;
    }
    int rc = oui_intern(o, name, len, &off);
    if (rc != 0) {
        return rc;
    }
    t->rows[t->n].prefix = prefix;
    t->rows[t->n].name = off;
    t->rows[t->n].seq = (uint32_t)o->total;
    t->n++;
    o->total++;
    return 0;
}

/* One CSV field: its bytes (unquoted, doubled quotes undone) are appended to buf. */
struct oui_field {
    char buf[OUI_MAX_FIELD];
    size_t len;
};

/*
 * Read one record from r into fields (at most OUI_MAX_FIELDS kept). Returns
 * the number of fields, 0 at the end of the input, or -1 for a quoted field
 * that never ends. *lines gets the number of line breaks consumed.
 */
static int oui_csv_record(struct ns_rd *r, struct oui_field *fields, size_t *lines)
{
    size_t nf = 0;
    bool quoted = false;
    bool any = false;
    struct oui_field *f = &fields[0];
    f->len = 0;
    if (ns_rd_left(r) == 0) {
        return 0;
    }
    while (ns_rd_left(r) > 0) {
        uint8_t c = ns_rd_u8(r);
        any = true;
        if (quoted) {
            if (c == '"') {
                if (ns_rd_left(r) > 0 && ns_rd_cur(r)[0] == '"') {
                    ns_rd_u8(r);
                } else {
                    quoted = false;
                    continue;
                }
            } else if (c == '\n') {
                (*lines)++;
            }
        } else if (c == '"') {
            quoted = true;
            continue;
        } else if (c == ',') {
            if (nf + 1 < OUI_MAX_FIELDS) {
                nf++;
                f = &fields[nf];
                f->len = 0;
            }
            continue;
        } else if (c == '\n') {
            (*lines)++;
            break;
        } else if (c == '\r') {
            continue;
        }
        if (f->len < sizeof(f->buf) - 1) {
            f->buf[f->len++] = (char)c;
        }
    }
    if (quoted) {
        return -1;
    }
    return any ? (int)nf + 1 : 0;
}

static size_t oui_trim(const char *s, size_t len, size_t *start)
{
    size_t b = 0;
    while (b < len && (s[b] == ' ' || s[b] == '\t')) {
        b++;
    }
    while (len > b && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
        len--;
    }
    *start = b;
    return len - b;
}

/* Cut a name to the cap without splitting a UTF-8 sequence. */
static size_t oui_cap_name(const char *s, size_t len)
{
    if (len < OUI_MAX_NAME) {
        return len;
    }
    len = OUI_MAX_NAME - 1;
    while (len > 0 && ((uint8_t)s[len] & 0xc0) == 0x80) {
        len--;
    }
    return len;
}

static bool oui_parse_hex(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 12) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            d = (unsigned)(c - 'A' + 10);
        } else {
            return false;
        }
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

static int oui_parse(struct ns_oui *o, const char *csv, size_t len, unsigned bits, const char *name,
                     struct ns_error *err)
{
    struct ns_rd r;
    size_t line = 1;
    int bi = oui_bits_index(bits);
    struct oui_field *fields = NULL;
    int rc = 0;

    if (bi < 0) {
        return ns_error_set(err, NS_EINVAL, "%s: prefix length %u is not 24, 28 or 36", name, bits);
    }
    fields = ns_malloc(OUI_MAX_FIELDS * sizeof(*fields));
    if (fields == NULL) {
        return ns_error_set(err, NS_ENOMEM, "out of memory");
    }
    ns_rd_init(&r, (const uint8_t *)csv, len, 0);
    for (;;) {
        size_t at = line;
        int nf = oui_csv_record(&r, fields, &line);
        if (nf == 0) {
            break;
        }
        if (nf < 0) {
            rc =
                ns_error_set(err, NS_EMALFORMED, "%s: line %zu: quoted field never ends", name, at);
            goto out;
        }
        size_t s0 = 0;
        size_t l0 = oui_trim(fields[0].buf, fields[0].len, &s0);
        if (nf == 1 && l0 == 0) {
            continue; /* blank line */
        }
        if (at == 1 && l0 == 8 && strncmp(fields[0].buf + s0, "Registry", 8) == 0) {
            continue; /* header */
        }
        if (nf < 3) {
            rc = ns_error_set(err, NS_EMALFORMED, "%s: line %zu: %d fields, expected at least 3",
                              name, at, nf);
            goto out;
        }
        size_t s1 = 0;
        size_t l1 = oui_trim(fields[1].buf, fields[1].len, &s1);
        uint64_t prefix = 0;
        if (l1 != bits / 4 || !oui_parse_hex(fields[1].buf + s1, l1, &prefix)) {
            rc = ns_error_set(err, NS_EMALFORMED,
                              "%s: line %zu: assignment '%.*s' is not %u hex digits", name, at,
                              (int)(l1 < 32 ? l1 : 32), fields[1].buf + s1, bits / 4);
            goto out;
        }
        size_t s2 = 0;
        size_t l2 = oui_trim(fields[2].buf, fields[2].len, &s2);
        l2 = oui_cap_name(fields[2].buf + s2, l2);
        rc = oui_add(o, bi, prefix, fields[2].buf + s2, l2);
        if (rc == NS_ELIMIT) {
            rc = ns_error_set(err, NS_ELIMIT, "%s: line %zu: more than %d rows", name, at,
                              OUI_MAX_ROWS);
            goto out;
        }
        if (rc != 0) {
            rc = ns_error_set(err, rc, "out of memory");
            goto out;
        }
    }
out:
    ns_free(fields);
    return rc;
}

static int oui_cmp_row(const void *a, const void *b)
{
    const struct oui_row *x = a;
    const struct oui_row *y = b;
    if (x->prefix != y->prefix) {
        return x->prefix < y->prefix ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void oui_finish(struct ns_oui *o)
{
    for (int i = 0; i < OUI_NBITS; i++) {
        struct oui_tab *t = &o->tab[i];
        if (t->n > 1) {
            qsort(t->rows, t->n, sizeof(t->rows[0]), oui_cmp_row);
        }
    }
    ns_free(o->names); /* only needed while loading */
    o->names = NULL;
    o->names_cap = 0;
    o->names_n = 0;
}

void ns_oui_free(struct ns_oui *o)
{
    if (o == NULL) {
        return;
    }
    for (int i = 0; i < OUI_NBITS; i++) {
        ns_free(o->tab[i].rows);
    }
    ns_free(o->arena);
    ns_free(o->names);
    ns_free(o);
}

int ns_oui_load_buffer(struct ns_oui **out, const char *csv, size_t len, unsigned bits,
                       struct ns_error *err)
{
    *out = NULL;
    struct ns_oui *o = ns_calloc(1, sizeof(*o));
    if (o == NULL) {
        return ns_error_set(err, NS_ENOMEM, "out of memory");
    }
    int rc = oui_parse(o, csv, len, bits, "buffer", err);
    if (rc != 0) {
        ns_oui_free(o);
        return rc;
    }
    oui_finish(o);
    *out = o;
    return 0;
}

/* Read a whole file into memory (capped). *buf is NULL when the file does not exist. */
static int oui_read_file(const char *path, char **buf, size_t *len, bool required,
                         struct ns_error *err)
{
    *buf = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        int e = errno;
        if (e == ENOENT && !required) {
            return 0;
        }
        return ns_error_set(err, e == ENOENT ? NS_ENOENT : NS_EIO, "%s: cannot open: %s", path,
                            strerror(e));
    }
    size_t cap = 1u << 20;
    size_t n = 0;
    char *b = ns_malloc(cap);
    int rc = 0;
    if (b == NULL) {
        rc = ns_error_set(err, NS_ENOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= OUI_MAX_FILE) {
                rc = ns_error_set(err, NS_ELIMIT, "%s: larger than %u MiB", path,
                                  OUI_MAX_FILE >> 20);
                goto out;
            }
            char *nb = ns_reallocarray(b, cap * 2, 1);
            if (nb == NULL) {
                rc = ns_error_set(err, NS_ENOMEM, "out of memory");
                goto out;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, fp);
        n += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(fp)) {
        rc = ns_error_set(err, NS_EIO, "%s: read error", path);
    }
out:
    fclose(fp);
    if (rc != 0) {
        ns_free(b);
        return rc;
    }
    *buf = b;
    *len = n;
    return 0;
}

int ns_oui_load(struct ns_oui **out, const char *dir, struct ns_error *err)
{
    static const struct {
        const char *file;
        unsigned bits;
        bool required;
    } files[] = {
        {"oui.csv", 24, true},
        {"mam.csv", 28, false},
        {"oui36.csv", 36, false},
        {"iab.csv", 36, false},
    };
    char path[4096];
    int rc = 0;

    *out = NULL;
    if (dir == NULL) {
        dir = NS_OUI_DEFAULT_DIR;
    }
    struct ns_oui *o = ns_calloc(1, sizeof(*o));
    if (o == NULL) {
        return ns_error_set(err, NS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && rc == 0; i++) {
        char *buf = NULL;
        size_t len = 0;
        int n = snprintf(path, sizeof(path), "%s/%s", dir, files[i].file);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            rc = ns_error_set(err, NS_EINVAL, "%s: path too long", dir);
            break;
        }
        rc = oui_read_file(path, &buf, &len, files[i].required, err);
        if (rc == 0 && buf != NULL) {
            rc = oui_parse(o, buf, len, files[i].bits, path, err);
        }
        ns_free(buf);
    }
    if (rc != 0) {
        ns_oui_free(o);
        return rc;
    }
    oui_finish(o);
    *out = o;
    return 0;
}

const char *ns_oui_lookup(const struct ns_oui *o, const uint8_t mac[6])
{
    if (o == NULL || mac == NULL || (mac[0] & 0x03) != 0) {
        return NULL; /* group (I/G) or locally administered (U/L) address */
    }
    uint64_t v = 0;
    for (int i = 0; i < 6; i++) {
        v = v << 8 | mac[i];
    }
    for (int i = OUI_NBITS - 1; i >= 0; i--) {
        const struct oui_tab *t = &o->tab[i];
        uint64_t key = v >> (48 - oui_bits[i]);
        size_t lo = 0;
        size_t hi = t->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (t->rows[mid].prefix < key) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if (lo < t->n && t->rows[lo].prefix == key) {
            return o->arena + t->rows[lo].name; /* the first row of a run of equal prefixes */
        }
    }
    return NULL;
}

size_t ns_oui_count(const struct ns_oui *o)
{
    return o != NULL ? o->total : 0;
}
