/*
 * err.h - error codes of libnetsift and the optional error detail buffer.
 *
 * Fallible functions return 0 or one of the negative codes below. The list is
 * an X-macro so that the enum, ns_strerror() and ns_errname() never drift
 * apart. Codes are never renumbered: append new ones at the end.
 *
 * NS_EAGAIN is a state, not a failure: "need more bytes" (a stream parser) or
 * "nothing to return yet" (a fragment waiting for its siblings).
 */
#ifndef NETSIFT_ERR_H
#define NETSIFT_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define NS_ERR_MAP(X)                                                                              \
    X(EAGAIN, -1, "need more input")                                                               \
    X(ENOMEM, -2, "out of memory")                                                                 \
    X(EIO, -3, "input/output error")                                                               \
    X(EINVAL, -4, "invalid argument")                                                              \
    X(ETRUNC, -5, "truncated")                                                                     \
    X(EMALFORMED, -6, "malformed")                                                                 \
    X(ELIMIT, -7, "limit reached")                                                                 \
    X(ENOTSUP, -8, "not supported")                                                                \
    X(EOF, -9, "end of input")                                                                     \
    X(ENOENT, -10, "no such file or directory")

enum ns_err {
    NS_OK = 0,
#define NS_ERR_ENUM(name, val, text) NS_##name = (val),
    NS_ERR_MAP(NS_ERR_ENUM)
#undef NS_ERR_ENUM
};

/*
 * Optional detail a caller may pass to fallible functions. `msg` holds one
 * line in git's wording, naming the file, packet and offset where they are
 * known, e.g. "a.pcap: truncated record header at offset 4411".
 */
struct ns_error {
    int code;
    char msg[256];
};

/* Text of a code ("truncated"); never NULL, "unknown error" for unknown codes. */
const char *ns_strerror(int code);

/* Name of a code ("NS_ETRUNC"); never NULL. */
const char *ns_errname(int code);

/*
 * Fill `err` (which may be NULL) with `code` and a printf-style message, and
 * return `code`, so that callers can write `return ns_error_set(err, ...)`.
 */
int ns_error_set(struct ns_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reset `err` (which may be NULL) to code 0 and an empty message. */
void ns_error_clear(struct ns_error *err);

#endif
