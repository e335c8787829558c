/*
 * err.c - text and names of the NS_E... codes, and the error detail buffer.
 */
#include "netsift/err.h"

#include <stdio.h>
#include <string.h>

const char *ns_strerror(int code)
{
    switch (code) {
    case NS_OK:
        return "success";
#define NS_ERR_TEXT(name, val, text)                                                               \
    case NS_##name:                                                                                \
        return text;
        NS_ERR_MAP(NS_ERR_TEXT)
#undef NS_ERR_TEXT
    default:
        return "unknown error";
    }
}

const char *ns_errname(int code)
{
    switch (code) {
    case NS_OK:
        return "NS_OK";
#define NS_ERR_NAME(name, val, text)                                                               \
    case NS_##name:                                                                                \
        return "NS_" #name;
        NS_ERR_MAP(NS_ERR_NAME)
#undef NS_ERR_NAME
    default:
        return "NS_EUNKNOWN";
    }
}

int ns_error_set(struct ns_error *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

void ns_error_clear(struct ns_error *err)
{
    if (err != NULL) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}
