/*
 * source_dir.c - walk a directory tree for capture files.
 *
 * Recursive, entries whose name starts with '.' are skipped (hidden files,
 * editors' droppings, "." and ".."), names are visited in byte order so that
 * the input order (the merge's tie-breaker) does not depend on the file
 * system. Symbolic links are followed to files but not into directories,
 * so a link loop cannot make the walk endless; depth is capped anyway.
 * Whether a file is a capture is decided later by its magic number
 * (source_pcap.c), when it is peeked.
 */
#include "source_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "netsift/alloc.h"

#define MAX_DEPTH   64
#define MAX_ENTRIES 1000000u /* per directory */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(const char *dir, unsigned depth, ns__dir_fn *fn, void *ud, uint64_t *others,
                struct ns_error *err)
{
    int rc = NS_OK;
    char **names = NULL;
    size_t n = 0;
    size_t cap = 0;
    char *path = NULL;
    DIR *d = NULL;

    if (depth > MAX_DEPTH) {
        return ns_error_set(err, NS_ELIMIT, "%s: directories nested deeper than %d", dir,
                            MAX_DEPTH);
    }
    d = opendir(dir);
    if (d == NULL) {
        return ns_error_set(err, NS_EIO, "%s: cannot open directory: %s", dir, strerror(errno));
    }
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            if (errno != 0) {
                rc = ns_error_set(err, NS_EIO, "%s: cannot read directory: %s", dir,
                                  strerror(errno));
                goto out;
            }
            break;
        }
        if (e->d_name[0] == '.') {
            continue;
        }
        if (n == MAX_ENTRIES) {
            rc = ns_error_set(err, NS_ELIMIT, "%s: more than %u entries", dir, MAX_ENTRIES);
            goto out;
        }
        if (n == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            char **nn = ns_reallocarray(names, ncap, sizeof(*nn));
            if (nn == NULL) {
                rc = ns_error_set(err, NS_ENOMEM, "out of memory");
                goto out;
            }
            names = nn;
            cap = ncap;
        }
        names[n] = ns_strdup(e->d_name);
        if (names[n] == NULL) {
            rc = ns_error_set(err, NS_ENOMEM, "out of memory");
            goto out;
        }
        n++;
    }
    closedir(d);
    d = NULL;
    if (n > 1) {
        qsort(names, n, sizeof(*names), cmp_names);
    }
    size_t dlen = strlen(dir);
    bool slash = dlen > 0 && dir[dlen - 1] == '/';
    for (size_t i = 0; i < n; i++) {
        size_t plen = dlen + 1 + strlen(names[i]) + 1;
        char *p = ns_reallocarray(path, plen, 1);
        if (p == NULL) {
            rc = ns_error_set(err, NS_ENOMEM, "out of memory");
            goto out;
        }
        path = p;
        snprintf(path, plen, "%s%s%s", dir, slash ? "" : "/", names[i]);
        struct stat st;
        if (lstat(path, &st) != 0) {
            (*others)++;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = walk(path, depth + 1, fn, ud, others, err);
        } else if (S_ISLNK(st.st_mode) && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            rc = fn(ud, path);
        } else if (S_ISREG(st.st_mode)) {
            rc = fn(ud, path);
        } else {
            (*others)++;
        }
        if (rc != NS_OK) {
            goto out;
        }
    }
out:
    if (d != NULL) {
        closedir(d);
    }
    for (size_t i = 0; i < n; i++) {
        ns_free(names[i]);
    }
    ns_free(names);
    ns_free(path);
    return rc;
}

int ns__dir_walk(const char *dir, ns__dir_fn *fn, void *ud, uint64_t *others, struct ns_error *err)
{
    return walk(dir, 0, fn, ud, others, err);
}
