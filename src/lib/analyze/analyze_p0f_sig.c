/*
 * analyze_p0f_sig.c - strict parser of the p0f v3 signature file (p0f.fp,
 * format described in section 5 of p0f 3.09b's README).
 *
 *   ; comment                         (also blank lines)
 *   classes = win,unix,other          (before the first section)
 *   [mtu]  [tcp:request]  [tcp:response]  [http:request]  [http:response]
 *   label = type:class:name:flavor    (type s|g, class registered or "!")
 *   label = Ethernet or modem         ([mtu]: the link name only)
 *   sys   = Windows,@unix             (after an application "!" label)
 *   ua_os = Linux,iOS=[iPad],...      ([http:request], before its labels)
 *   sig   = ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass     (tcp)
 *   sig   = ver:horder:habsent:expsw                                 (http)
 *   sig   = 1500                                                     (mtu)
 *
 * Any deviation is an error "NAME: line N: what"; nothing is guessed. Caps:
 * the file size (1 MiB) and the signature count (4096) give NS_ELIMIT.
 * p0f's own check that a signature is not already covered by an earlier
 * one is not repeated here (it does not change what a packet matches).
 */
#include "netsift/p0f.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyze_p0f_int.h"
#include "netsift/alloc.h"

const char *const ns__p0f_quirk_names[NS__P0F_NQUIRKS] = {
    "df",    "id+",   "id-",    "ecn",  "0+",   "flow", "seq-", "ack+", "ack-",
    "uptr+", "urgf+", "pushf+", "ts1-", "ts2+", "opt+", "exws", "bad",
};

enum sect {
    SECT_NONE = 0,
    SECT_MTU,
    SECT_TCP_REQ,
    SECT_TCP_RESP,
    SECT_HTTP_REQ,
    SECT_HTTP_RESP,
};

struct pstate {
    struct ns_p0f_db *db;
    const char *name;
    unsigned line;
    enum sect sect;
    bool have_label; /* a label is open in this section */
    bool need_sys;   /* application label without its sys line yet */
    const char *mtu_label;
    struct ns_error *err;
};

static int perr(struct pstate *ps, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(struct pstate *ps, int code, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return ns_error_set(ps->err, code, "%s: line %u: %s", ps->name, ps->line, what);
}

/* Grow *arr (n elements of size sz) so that one more fits. */
static int grow(void **arr, size_t n, size_t sz)
{
    if (n != 0 && (n & (n - 1)) != 0) {
        return 0;
    }
    size_t cap = n < 8 ? 8 : n * 2;
    void *p = ns_reallocarray(*arr, cap, sz);
    if (p == NULL) {
        return NS_ENOMEM;
    }
    *arr = p;
    return 0;
}

/* Decimal number made of digits only, at most max. */
static bool parse_num(const char *s, unsigned max, unsigned *out)
{
    unsigned v = 0;
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (!isdigit((unsigned char)*s)) {
            return false;
        }
        v = v * 10 + (unsigned)(*s - '0');
        if (v > max) {
            return false;
        }
    }
    *out = v;
    return true;
}

/*
 * Split s in place at `sep` outside [...]; returns the number of fields
 * (fields beyond max are counted, not stored).
 */
static size_t split(char *s, char sep, char **out, size_t max)
{
    size_t n = 0;
    bool in_br = false;
    char *start = s;
    for (char *c = s;; c++) {
        if (*c == '[') {
            in_br = true;
        } else if (*c == ']') {
            in_br = false;
        }
        if (*c == '\0' || (*c == sep && !in_br)) {
            bool end = *c == '\0';
            *c = '\0';
            if (n < max) {
                out[n] = start;
            }
            n++;
            if (end) {
                break;
            }
            start = c + 1;
        }
    }
    return n;
}

static int find_class(const struct ns_p0f_db *db, const char *name)
{
    for (size_t i = 0; i < db->nclasses; i++) {
        if (strcasecmp(db->classes[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int parse_classes(struct pstate *ps, char *val)
{
    char *item[NS__P0F_MAX_CLASSES];
    size_t n = split(val, ',', item, NS__P0F_MAX_CLASSES);
    if (n > NS__P0F_MAX_CLASSES - ps->db->nclasses) {
        return perr(ps, NS_ELIMIT, "too many classes");
    }
    for (size_t i = 0; i < n; i++) {
        char *c = item[i];
        while (isblank((unsigned char)*c)) {
            c++;
        }
        if (*c == '\0') {
            return perr(ps, NS_EMALFORMED, "empty class name");
        }
        for (const char *k = c; *k != '\0'; k++) {
            if (!isalnum((unsigned char)*k)) {
                return perr(ps, NS_EMALFORMED, "bad class name '%s'", c);
            }
        }
        ps->db->classes[ps->db->nclasses++] = c;
    }
    return 0;
}

static int parse_label(struct pstate *ps, char *val)
{
    struct ns_p0f_db *db = ps->db;
    if (ps->sect == SECT_MTU) {
        if (*val == '\0') {
            return perr(ps, NS_EMALFORMED, "empty mtu label");
        }
        ps->mtu_label = val;
        ps->have_label = true;
        return 0;
    }
    char *f[4] = {NULL, NULL, NULL, NULL};
    /* the flavor is everything after the third ':' */
    char *c1 = strchr(val, ':');
    char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
    char *c3 = c2 != NULL ? strchr(c2 + 1, ':') : NULL;
    if (c3 == NULL) {
        return perr(ps, NS_EMALFORMED, "label '%s' is not type:class:name:flavor", val);
    }
    *c1 = *c2 = *c3 = '\0';
    f[0] = val;
    f[1] = c1 + 1;
    f[2] = c2 + 1;
    f[3] = c3 + 1;
    struct ns__p0f_label lb;
    memset(&lb, 0, sizeof(lb));
    if (strcmp(f[0], "s") == 0) {
        lb.generic = false;
    } else if (strcmp(f[0], "g") == 0) {
        lb.generic = true;
    } else {
        return perr(ps, NS_EMALFORMED, "bad label type '%s' (expected s or g)", f[0]);
    }
    if (strcmp(f[1], "!") == 0) {
        lb.class_id = -1;
    } else {
        lb.class_id = find_class(db, f[1]);
        if (lb.class_id < 0) {
            return perr(ps, NS_EMALFORMED, "unknown class '%s'", f[1]);
        }
    }
    lb.class_ = f[1];
    if (*f[2] == '\0') {
        return perr(ps, NS_EMALFORMED, "empty name in label");
    }
    for (const char *k = f[2]; *k != '\0'; k++) {
        if (!isprint((unsigned char)*k)) {
            return perr(ps, NS_EMALFORMED, "bad character in name '%s'", f[2]);
        }
    }
    lb.name = f[2];
    lb.flavor = f[3];
    lb.sys = "";
    lb.line = ps->line;
    if (grow((void **)&db->labels, db->nlabels, sizeof(*db->labels)) != 0) {
        return ns_error_set(ps->err, NS_ENOMEM, "%s: out of memory", ps->name);
    }
    db->labels[db->nlabels++] = lb;
    ps->have_label = true;
    ps->need_sys = lb.class_id == -1;
    return 0;
}

static int parse_sys(struct pstate *ps, char *val)
{
    if (!ps->need_sys) {
        return perr(ps, NS_EMALFORMED, "misplaced 'sys' (only after an application label)");
    }
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s", val);
    char *item[64];
    size_t n = split(tmp, ',', item, 64);
    if (n > 64) {
        return perr(ps, NS_ELIMIT, "too many sys entries");
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = item[i];
        while (isblank((unsigned char)*s)) {
            s++;
        }
        if (*s == '\0') {
            return perr(ps, NS_EMALFORMED, "empty sys entry");
        }
        if (*s == '@' && find_class(ps->db, s + 1) < 0) {
            return perr(ps, NS_EMALFORMED, "unknown class '%s'", s + 1);
        }
    }
    ps->db->labels[ps->db->nlabels - 1].sys = val;
    ps->need_sys = false;
    return 0;
}

static int parse_ua_os(struct pstate *ps, char *val)
{
    char *item[NS__P0F_MAX_UA];
    size_t n = split(val, ',', item, NS__P0F_MAX_UA);
    if (n > NS__P0F_MAX_UA - ps->db->nua) {
        return perr(ps, NS_ELIMIT, "too many ua_os entries");
    }
    for (size_t i = 0; i < n; i++) {
        char *s = item[i];
        char *eq = strchr(s, '=');
        const char *match = s;
        if (eq != NULL) {
            size_t l = strlen(eq);
            if (eq[1] != '[' || l < 4 || eq[l - 1] != ']') {
                return perr(ps, NS_EMALFORMED, "bad ua_os entry '%s'", s);
            }
            *eq = '\0';
            eq[l - 1] = '\0';
            match = eq + 2;
        }
        if (*s == '\0') {
            return perr(ps, NS_EMALFORMED, "empty ua_os name");
        }
        ps->db->ua[ps->db->nua].name = s;
        ps->db->ua[ps->db->nua].match = match;
        ps->db->nua++;
    }
    return 0;
}

static int parse_layout(struct pstate *ps, char *val, struct ns__p0f_tcp_sig *t)
{
    if (*val == '\0') {
        return 0;
    }
    char *item[NS__P0F_MAX_OPTS];
    size_t n = split(val, ',', item, NS__P0F_MAX_OPTS);
    if (n > NS__P0F_MAX_OPTS) {
        return perr(ps, NS_EMALFORMED, "too many tcp options");
    }
    for (size_t i = 0; i < n; i++) {
        const char *o = item[i];
        unsigned v;
        if (strncmp(o, "eol+", 4) == 0) {
            if (!parse_num(o + 4, 255, &v)) {
                return perr(ps, NS_EMALFORMED, "bad eol padding '%s'", o);
            }
            if (i + 1 != n) {
                return perr(ps, NS_EMALFORMED, "eol must be the last option");
            }
            t->layout[i] = 0;
            t->eol_pad = (int)v;
        } else if (strcmp(o, "nop") == 0) {
            t->layout[i] = 1;
        } else if (strcmp(o, "mss") == 0) {
            t->layout[i] = 2;
        } else if (strcmp(o, "ws") == 0) {
            t->layout[i] = 3;
        } else if (strcmp(o, "sok") == 0) {
            t->layout[i] = 4;
        } else if (strcmp(o, "sack") == 0) {
            t->layout[i] = 5;
        } else if (strcmp(o, "ts") == 0) {
            t->layout[i] = 8;
        } else if (o[0] == '?' && parse_num(o + 1, 255, &v)) {
            t->layout[i] = (uint8_t)v;
        } else {
            return perr(ps, NS_EMALFORMED, "unknown tcp option '%s'", o);
        }
    }
    t->nopt = (uint8_t)n;
    return 0;
}

static int parse_quirks(struct pstate *ps, char *val, struct ns__p0f_tcp_sig *t)
{
    if (*val == '\0') {
        return 0;
    }
    char *item[NS__P0F_NQUIRKS + 8];
    size_t n = split(val, ',', item, NS__P0F_NQUIRKS + 8);
    if (n > NS__P0F_NQUIRKS + 8) {
        return perr(ps, NS_EMALFORMED, "too many quirks");
    }
    for (size_t i = 0; i < n; i++) {
        size_t q;
        for (q = 0; q < NS__P0F_NQUIRKS; q++) {
            if (strcmp(item[i], ns__p0f_quirk_names[q]) == 0) {
                break;
            }
        }
        if (q == NS__P0F_NQUIRKS) {
            return perr(ps, NS_EMALFORMED, "unknown quirk '%s'", item[i]);
        }
        uint32_t bit = 1u << q;
        uint32_t v4only = NS__P0F_Q_DF | NS__P0F_Q_NZ_ID | NS__P0F_Q_ZERO_ID | NS__P0F_Q_NZ_MBZ;
        if ((t->ver == 6 && (bit & v4only)) || (t->ver == 4 && bit == NS__P0F_Q_FLOW)) {
            return perr(ps, NS_EMALFORMED, "quirk '%s' is not valid for IPv%d", item[i], t->ver);
        }
        t->quirks |= bit;
    }
    return 0;
}

static int parse_win(struct pstate *ps, char *val, struct ns__p0f_tcp_sig *t)
{
    unsigned v;
    if (strcmp(val, "*") == 0) {
        t->win_type = NS__P0F_WIN_ANY;
        t->win = 0;
    } else if (val[0] == '%') {
        if (!parse_num(val + 1, 65535, &v) || v < 2) {
            return perr(ps, NS_EMALFORMED, "bad window size '%s'", val);
        }
        t->win_type = NS__P0F_WIN_MOD;
        t->win = (int)v;
    } else if (strncmp(val, "mss*", 4) == 0 || strncmp(val, "mtu*", 4) == 0) {
        if (!parse_num(val + 4, 1000, &v) || v < 1) {
            return perr(ps, NS_EMALFORMED, "bad window size '%s'", val);
        }
        t->win_type = val[1] == 's' ? NS__P0F_WIN_MSS : NS__P0F_WIN_MTU;
        t->win = (int)v;
    } else {
        if (!parse_num(val, 65535, &v)) {
            return perr(ps, NS_EMALFORMED, "bad window size '%s'", val);
        }
        t->win_type = NS__P0F_WIN_NORMAL;
        t->win = (int)v;
    }
    return 0;
}

static int parse_tcp_sig(struct pstate *ps, char *val)
{
    struct ns_p0f_db *db = ps->db;
    char *f[8];
    size_t n = split(val, ':', f, 8);
    if (n != 8) {
        return perr(ps, NS_EMALFORMED, "tcp signature has %zu fields, expected 8", n);
    }
    struct ns__p0f_tcp_sig t;
    memset(&t, 0, sizeof(t));
    unsigned v;
    int rc;
    if (strcmp(f[0], "4") == 0) {
        t.ver = 4;
    } else if (strcmp(f[0], "6") == 0) {
        t.ver = 6;
    } else if (strcmp(f[0], "*") == 0) {
        t.ver = -1;
    } else {
        return perr(ps, NS_EMALFORMED, "bad ip version '%s'", f[0]);
    }
    /* ittl: N, N+D or N- */
    {
        char *ttl = f[1];
        size_t l = strlen(ttl);
        char *plus = strchr(ttl, '+');
        unsigned add = 0;
        if (l > 1 && ttl[l - 1] == '-') {
            t.bad_ttl = true;
            ttl[l - 1] = '\0';
        } else if (plus != NULL) {
            *plus = '\0';
            if (!parse_num(plus + 1, 255, &add)) {
                *plus = '+';
                return perr(ps, NS_EMALFORMED, "bad initial ttl '%s'", f[1]);
            }
        }
        if (!parse_num(ttl, 255, &v) || v < 1 || v + add > 255) {
            return perr(ps, NS_EMALFORMED, "bad initial ttl '%s'", f[1]);
        }
        t.ttl = (int)(v + add);
    }
    if (!parse_num(f[2], 255, &v)) {
        return perr(ps, NS_EMALFORMED, "bad ip option length '%s'", f[2]);
    }
    t.olen = (int)v;
    if (strcmp(f[3], "*") == 0) {
        t.mss = -1;
    } else if (parse_num(f[3], 65535, &v)) {
        t.mss = (int)v;
    } else {
        return perr(ps, NS_EMALFORMED, "bad mss '%s'", f[3]);
    }
    char *comma = strchr(f[4], ',');
    if (comma == NULL || strchr(comma + 1, ',') != NULL) {
        return perr(ps, NS_EMALFORMED, "bad window size,scale '%s'", f[4]);
    }
    *comma = '\0';
    rc = parse_win(ps, f[4], &t);
    if (rc != 0) {
        return rc;
    }
    if (strcmp(comma + 1, "*") == 0) {
        t.scale = -1;
    } else if (parse_num(comma + 1, 255, &v)) {
        t.scale = (int)v;
    } else {
        return perr(ps, NS_EMALFORMED, "bad window scale '%s'", comma + 1);
    }
    rc = parse_layout(ps, f[5], &t);
    if (rc == 0) {
        rc = parse_quirks(ps, f[6], &t);
    }
    if (rc != 0) {
        return rc;
    }
    if (strcmp(f[7], "0") == 0) {
        t.pclass = 0;
    } else if (strcmp(f[7], "+") == 0) {
        t.pclass = 1;
    } else if (strcmp(f[7], "*") == 0) {
        t.pclass = -1;
    } else {
        return perr(ps, NS_EMALFORMED, "bad payload class '%s'", f[7]);
    }
    t.label = db->nlabels - 1;
    t.line = ps->line;
    int dir = ps->sect == SECT_TCP_REQ ? 1 : 0;
    if (grow((void **)&db->tcp[dir], db->ntcp[dir], sizeof(t)) != 0) {
        return ns_error_set(ps->err, NS_ENOMEM, "%s: out of memory", ps->name);
    }
    db->tcp[dir][db->ntcp[dir]++] = t;
    return 0;
}

static bool hdr_name_ok(const char *s)
{
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_') {
            return false;
        }
    }
    return true;
}

static int parse_http_sig(struct pstate *ps, char *val)
{
    struct ns_p0f_db *db = ps->db;
    char *f[4];
    size_t n = split(val, ':', f, 4);
    if (n != 4) {
        return perr(ps, NS_EMALFORMED, "http signature has %zu fields, expected 4", n);
    }
    struct ns__p0f_http_sig *h = ns_calloc(1, sizeof(*h));
    int rc = 0;
    if (h == NULL) {
        return ns_error_set(ps->err, NS_ENOMEM, "%s: out of memory", ps->name);
    }
    if (strcmp(f[0], "0") == 0) {
        h->ver = 0;
    } else if (strcmp(f[0], "1") == 0) {
        h->ver = 1;
    } else if (strcmp(f[0], "*") == 0) {
        h->ver = -1;
    } else {
        rc = perr(ps, NS_EMALFORMED, "bad http version '%s'", f[0]);
        goto out;
    }
    if (*f[1] != '\0') {
        char *item[NS__P0F_MAX_HDRS];
        size_t k = split(f[1], ',', item, NS__P0F_MAX_HDRS);
        if (k > NS__P0F_MAX_HDRS) {
            rc = perr(ps, NS_EMALFORMED, "too many headers");
            goto out;
        }
        for (size_t i = 0; i < k; i++) {
            char *s = item[i];
            struct ns__p0f_http_hdr *hd = &h->hdr[i];
            if (*s == '?') {
                hd->optional = true;
                s++;
            }
            char *eq = strchr(s, '=');
            if (eq != NULL) {
                size_t l = strlen(eq);
                if (eq[1] != '[' || l < 4 || eq[l - 1] != ']') {
                    rc = perr(ps, NS_EMALFORMED, "bad header value in '%s'", s);
                    goto out;
                }
                *eq = '\0';
                eq[l - 1] = '\0';
                hd->value = eq + 2;
            }
            if (!hdr_name_ok(s)) {
                rc = perr(ps, NS_EMALFORMED, "bad header name '%s'", s);
                goto out;
            }
            hd->name = s;
            int id = ns__p0f_name_add(&db->names, s, strlen(s));
            if (id < 0) {
                rc = perr(ps, NS_ELIMIT, "header '%s': names over 255 bytes or more than %d", s,
                          NS__P0F_MAX_NAMES);
                goto out;
            }
            hd->id = (uint16_t)id;
            if (!hd->optional) {
                h->need[id / 64] |= UINT64_C(1) << (id % 64);
            }
        }
        h->nhdr = k;
    }
    if (*f[2] != '\0') {
        size_t k = split(f[2], ',', (char **)h->miss, NS__P0F_MAX_HDRS);
        if (k > NS__P0F_MAX_HDRS) {
            rc = perr(ps, NS_EMALFORMED, "too many headers");
            goto out;
        }
        for (size_t i = 0; i < k; i++) {
            if (!hdr_name_ok(h->miss[i])) {
                rc = perr(ps, NS_EMALFORMED, "bad header name '%s'", h->miss[i]);
                goto out;
            }
            int id = ns__p0f_name_add(&db->names, h->miss[i], strlen(h->miss[i]));
            if (id < 0) {
                rc = perr(ps, NS_ELIMIT, "header '%s': names over 255 bytes or more than %d",
                          h->miss[i], NS__P0F_MAX_NAMES);
                goto out;
            }
            h->miss_id[i] = (uint16_t)id;
            h->absent[id / 64] |= UINT64_C(1) << (id % 64);
        }
        h->nmiss = k;
    }
    h->sw = *f[3] != '\0' ? f[3] : NULL;
    h->label = db->nlabels - 1;
    h->line = ps->line;
    int dir = ps->sect == SECT_HTTP_REQ ? 1 : 0;
    if (grow((void **)&db->http[dir], db->nhttp[dir], sizeof(*h)) != 0) {
        rc = ns_error_set(ps->err, NS_ENOMEM, "%s: out of memory", ps->name);
        goto out;
    }
    db->http[dir][db->nhttp[dir]++] = *h;
out:
    ns_free(h);
    return rc;
}

static int parse_sig(struct pstate *ps, char *val)
{
    struct ns_p0f_db *db = ps->db;
    if (!ps->have_label) {
        return perr(ps, NS_EMALFORMED, "misplaced 'sig' (no label before it)");
    }
    if (ps->need_sys) {
        return perr(ps, NS_EMALFORMED, "misplaced 'sig' (application label needs 'sys')");
    }
    if (db->nsigs >= NS__P0F_MAX_SIGS) {
        return perr(ps, NS_ELIMIT, "too many signatures (cap %d)", NS__P0F_MAX_SIGS);
    }
    int rc;
    switch (ps->sect) {
    case SECT_MTU: {
        unsigned v;
        if (!parse_num(val, 65535, &v) || v == 0) {
            return perr(ps, NS_EMALFORMED, "bad mtu '%s'", val);
        }
        if (grow((void **)&db->mtu, db->nmtu, sizeof(*db->mtu)) != 0) {
            return ns_error_set(ps->err, NS_ENOMEM, "%s: out of memory", ps->name);
        }
        db->mtu[db->nmtu].label = ps->mtu_label;
        db->mtu[db->nmtu].mtu = v;
        db->nmtu++;
        rc = 0;
        break;
    }
    case SECT_TCP_REQ:
    case SECT_TCP_RESP:
        rc = parse_tcp_sig(ps, val);
        break;
    case SECT_HTTP_REQ:
    case SECT_HTTP_RESP:
        rc = parse_http_sig(ps, val);
        break;
    default:
        rc = perr(ps, NS_EMALFORMED, "misplaced 'sig' (outside a section)");
        break;
    }
    if (rc == 0) {
        db->nsigs++;
    }
    return rc;
}

static int parse_line(struct pstate *ps, char *line)
{
    if (line[0] == '[') {
        static const struct {
            const char *text;
            enum sect s;
        } sects[] = {
            {"[mtu]", SECT_MTU},
            {"[tcp:request]", SECT_TCP_REQ},
            {"[tcp:response]", SECT_TCP_RESP},
            {"[http:request]", SECT_HTTP_REQ},
            {"[http:response]", SECT_HTTP_RESP},
        };
        for (size_t i = 0; i < sizeof(sects) / sizeof(sects[0]); i++) {
            if (strcmp(line, sects[i].text) == 0) {
                ps->sect = sects[i].s;
                ps->have_label = false;
                ps->need_sys = false;
                return 0;
            }
        }
        return perr(ps, NS_EMALFORMED, "unknown section '%s'", line);
    }
    char *k = line;
    while (isalpha((unsigned char)*k) || *k == '_') {
        k++;
    }
    char *eon = k;
    while (isblank((unsigned char)*k)) {
        k++;
    }
    if (eon == line || *k != '=') {
        return perr(ps, NS_EMALFORMED, "expected 'name = value', got '%s'", line);
    }
    k++;
    while (isblank((unsigned char)*k)) {
        k++;
    }
    *eon = '\0';
    if (strcmp(line, "classes") == 0) {
        if (ps->sect != SECT_NONE) {
            return perr(ps, NS_EMALFORMED, "misplaced 'classes' (must come before sections)");
        }
        return parse_classes(ps, k);
    }
    if (strcmp(line, "ua_os") == 0) {
        if (ps->sect != SECT_HTTP_REQ || ps->have_label) {
            return perr(ps, NS_EMALFORMED, "misplaced 'ua_os' (must open [http:request])");
        }
        return parse_ua_os(ps, k);
    }
    if (strcmp(line, "label") == 0) {
        if (ps->sect == SECT_NONE) {
            return perr(ps, NS_EMALFORMED, "misplaced 'label' (outside a section)");
        }
        if (ps->need_sys) {
            return perr(ps, NS_EMALFORMED, "misplaced 'label' (previous label needs 'sys')");
        }
        return parse_label(ps, k);
    }
    if (strcmp(line, "sys") == 0) {
        return parse_sys(ps, k);
    }
    if (strcmp(line, "sig") == 0) {
        return parse_sig(ps, k);
    }
    return perr(ps, NS_EMALFORMED, "unknown field '%s'", line);
}

int ns_p0f_load_buffer(struct ns_p0f_db **out, const char *text, size_t len, const char *name,
                       struct ns_error *err)
{
    struct ns_p0f_db *db = NULL;
    int rc = 0;
    *out = NULL;
    if (name == NULL) {
        name = "p0f.fp";
    }
    if (len > NS__P0F_MAX_FILE) {
        return ns_error_set(err, NS_ELIMIT, "%s: file larger than %u bytes", name,
                            NS__P0F_MAX_FILE);
    }
    db = ns_calloc(1, sizeof(*db));
    if (db == NULL) {
        return ns_error_set(err, NS_ENOMEM, "%s: out of memory", name);
    }
    ns__p0f_names_init(&db->names);
    db->text = ns_malloc(len + 1);
    if (db->text == NULL) {
        rc = ns_error_set(err, NS_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    if (len > 0) {
        memcpy(db->text, text, len);
    }
    db->text[len] = '\0';

    struct pstate ps;
    memset(&ps, 0, sizeof(ps));
    ps.db = db;
    ps.name = name;
    ps.err = err;
    char *cur = db->text;
    char *end = db->text + len;
    while (cur <= end) {
        ps.line++;
        char *eol = memchr(cur, '\n', (size_t)(end - cur));
        if (eol == NULL) {
            eol = end;
        }
        *eol = '\0';
        if (memchr(cur, '\0', (size_t)(eol - cur)) != NULL) {
            rc = perr(&ps, NS_EMALFORMED, "NUL byte in line");
            goto out;
        }
        while (isblank((unsigned char)*cur)) {
            cur++;
        }
        char *e = eol;
        while (e > cur && isspace((unsigned char)e[-1])) {
            *--e = '\0';
        }
        if (*cur != '\0' && *cur != ';') {
            rc = parse_line(&ps, cur);
            if (rc != 0) {
                goto out;
            }
        }
        cur = eol + 1;
    }
    if (ps.need_sys) {
        rc = perr(&ps, NS_EMALFORMED, "application label without 'sys'");
        goto out;
    }
    *out = db;
    db = NULL;
out:
    ns_p0f_free(db);
    return rc;
}

int ns_p0f_load(struct ns_p0f_db **out, const char *path, struct ns_error *err)
{
    char *buf = NULL;
    int rc = 0;
    int fd = -1;
    struct stat st;
    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return ns_error_set(err, e == ENOENT ? NS_ENOENT : NS_EIO, "%s: cannot open: %s", path,
                            strerror(e));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = ns_error_set(err, NS_EIO, "%s: not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > NS__P0F_MAX_FILE) {
        rc = ns_error_set(err, NS_ELIMIT, "%s: file larger than %u bytes", path, NS__P0F_MAX_FILE);
        goto out;
    }
    size_t size = (size_t)st.st_size;
    buf = ns_malloc(size + 1);
    if (buf == NULL) {
        rc = ns_error_set(err, NS_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            rc = ns_error_set(err, NS_EIO, "%s: short read", path);
            goto out;
        }
        got += (size_t)r;
    }
    rc = ns_p0f_load_buffer(out, buf, size, path, err);
out:
    ns_free(buf);
    close(fd);
    return rc;
}

void ns_p0f_free(struct ns_p0f_db *db)
{
    if (db == NULL) {
        return;
    }
    ns_free(db->text);
    ns_free(db->labels);
    ns_free(db->tcp[0]);
    ns_free(db->tcp[1]);
    ns_free(db->mtu);
    ns_free(db->http[0]);
    ns_free(db->http[1]);
    ns_free(db);
}

size_t ns_p0f_count(const struct ns_p0f_db *db)
{
    return db != NULL ? db->nsigs : 0;
}
