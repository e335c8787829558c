/*
 * cmd_interfaces.c - `netsift interfaces`: the capture interfaces libpcap
 * can open, with their addresses (docs/cli/interfaces.md).
 *
 * Text: an aligned table NAME / ADDRESSES / DESCRIPTION. With --json, one
 * "interface" record per line (schema 1, docs/schema/README.md):
 *
 *   {"type":"interface","schema":1,"name":"eth0","description":"",
 *    "addresses":["192.0.2.7","fe80::1"],"up":true,"loopback":false}
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "netsift/alloc.h"
#include "netsift/sink.h"
#include "netsift/source.h"

static const char ifaces_usage[] = "usage: netsift interfaces [--json]\n";

static const char ifaces_help[] =
    "\n"
    "List the interfaces a live capture (-i) can use, with their addresses.\n"
    "\n"
    "  --json       one JSON object per interface (JSON Lines)\n"
    "  -h, --help   this help\n";

enum {
    OPT_JSON = 256,
};

static const struct option ifaces_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"json", no_argument, NULL, OPT_JSON},
    {NULL, 0, NULL, 0},
};

struct iface {
    char *name;
    char *desc;
    char *addrs; /* comma separated, as the source gives them */
    bool up;
    bool loopback;
};

struct iface_list {
    struct iface *v;
    size_t n;
    size_t cap;
    bool oom;
};

static void iface_collect(void *ud, const char *name, const char *desc, const char *addrs, bool up,
                          bool loopback)
{
    struct iface_list *l = ud;
    if (l->oom) {
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap == 0 ? 16 : l->cap * 2;
        struct iface *v = ns_reallocarray(l->v, cap, sizeof(*v));
        if (v == NULL) {
            l->oom = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    struct iface *it = &l->v[l->n];
    it->name = ns_strdup(name != NULL ? name : "");
    it->desc = ns_strdup(desc != NULL ? desc : "");
    it->addrs = ns_strdup(addrs != NULL ? addrs : "");
    it->up = up;
    it->loopback = loopback;
    if (it->name == NULL || it->desc == NULL || it->addrs == NULL) {
        ns_free(it->name);
        ns_free(it->desc);
        ns_free(it->addrs);
        l->oom = true;
        return;
    }
    l->n++;
}

static void iface_list_release(struct iface_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        ns_free(l->v[i].name);
        ns_free(l->v[i].desc);
        ns_free(l->v[i].addrs);
    }
    ns_free(l->v);
    memset(l, 0, sizeof(*l));
}

/* The addresses as a JSON array, split at the commas; NULL when out of memory. */
static json_t *addr_array(const char *addrs)
{
    json_t *a = json_array();
    const char *p = addrs;
    if (a == NULL) {
        return NULL;
    }
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        /* skip blanks around each address */
        const char *s = p;
        size_t len = n;
        while (len > 0 && *s == ' ') {
            s++;
            len--;
        }
        while (len > 0 && s[len - 1] == ' ') {
            len--;
        }
        if (len > 0 && json_array_append_new(a, json_stringn(s, len)) != 0) {
            json_decref(a);
            return NULL;
        }
        p += n;
        if (*p == ',') {
            p++;
        }
    }
    return a;
}

static int iface_json(FILE *fp, const struct iface *it)
{
    json_t *o = json_object();
    json_t *a = addr_array(it->addrs);
    int rc = -1;
    if (o == NULL || a == NULL) {
        json_decref(a);
        goto out;
    }
    if (json_object_set_new(o, "type", json_string("interface")) != 0 ||
        json_object_set_new(o, "schema", json_integer(NS_SINK_SCHEMA)) != 0 ||
        json_object_set_new(o, "name", json_string(it->name)) != 0 ||
        json_object_set_new(o, "description", json_string(it->desc)) != 0 ||
        json_object_set_new(o, "addresses", a) != 0 ||
        json_object_set_new(o, "up", json_boolean(it->up)) != 0 ||
        json_object_set_new(o, "loopback", json_boolean(it->loopback)) != 0) {
        goto out;
    }
    if (json_dumpf(o, fp, JSON_COMPACT) != 0 || fputc('\n', fp) == EOF) {
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

static void iface_text(FILE *fp, const struct iface_list *l)
{
    int wn = (int)strlen("NAME");
    int wa = (int)strlen("ADDRESSES");
    for (size_t i = 0; i < l->n; i++) {
        int n = (int)strlen(l->v[i].name);
        int a = l->v[i].addrs[0] != '\0' ? (int)strlen(l->v[i].addrs) : 1;
        wn = n > wn ? n : wn;
        wa = a > wa ? a : wa;
    }
    fprintf(fp, "%-*s  %-*s  %s\n", wn, "NAME", wa, "ADDRESSES", "DESCRIPTION");
    for (size_t i = 0; i < l->n; i++) {
        const struct iface *it = &l->v[i];
        const char *addrs = it->addrs[0] != '\0' ? it->addrs : "-";
        if (it->desc[0] != '\0') {
            fprintf(fp, "%-*s  %-*s  %s\n", wn, it->name, wa, addrs, it->desc);
        } else {
            fprintf(fp, "%-*s  %s\n", wn, it->name, addrs);
        }
    }
}

int cmd_interfaces(int argc, char **argv)
{
    struct iface_list list;
    struct ns_error err;
    bool json = false;
    int status = NS_EXIT_OK;
    int opt;

    memset(&list, 0, sizeof(list));
    optind = 0; /* glibc: a full reset */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", ifaces_options, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(ifaces_usage, stdout);
            fputs(ifaces_help, stdout);
            return NS_EXIT_OK;
        case OPT_JSON:
            json = true;
            break;
        case '?':
        default: {
            const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "";
            if (optopt != 0 && optopt < 256 && strncmp(word, "--", 2) != 0) {
                return ns_cli_usage_error(ifaces_usage, "unknown option '-%c'", optopt);
            }
            return ns_cli_usage_error(ifaces_usage, "unknown option '%.*s'",
                                      (int)strcspn(word, "="), word);
        }
        }
    }
    if (optind < argc) {
        return ns_cli_usage_error(ifaces_usage, "unexpected argument '%s'", argv[optind]);
    }

    ns_error_clear(&err);
    int rc = ns_source_list_interfaces(iface_collect, &list, &err);
    if (rc != 0) {
        ns_cli_error("%s", err.msg[0] != '\0' ? err.msg : ns_strerror(rc));
        status = NS_EXIT_FAILURE;
        goto out;
    }
    if (list.oom) {
        ns_cli_error("out of memory");
        status = NS_EXIT_FAILURE;
        goto out;
    }
    if (json) {
        for (size_t i = 0; i < list.n; i++) {
            if (iface_json(stdout, &list.v[i]) != 0) {
                ns_cli_error("cannot write the output");
                status = NS_EXIT_FAILURE;
                goto out;
            }
        }
    } else {
        iface_text(stdout, &list);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ns_cli_error("cannot write the output");
        status = NS_EXIT_FAILURE;
    }
out:
    iface_list_release(&list);
    return status;
}
