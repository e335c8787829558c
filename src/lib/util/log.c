/*
 * log.c - the default log sink and the formatting half of NS_LOG (log.h).
 */
#include "netsift/log.h"

#include <stdio.h>

const char *ns_log_level_name(enum ns_log_level level)
{
    switch (level) {
    case NS_LOG_ERROR:
        return "error";
    case NS_LOG_WARN:
        return "warning";
    case NS_LOG_INFO:
        return "info";
    case NS_LOG_DEBUG:
        return "debug";
    }
    return "log";
}

void ns_log_write(const struct ns_log *lg, enum ns_log_level level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (lg == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (lg->fn != NULL) {
        lg->fn(lg->ud, level, msg);
    } else {
        fprintf(stderr, "netsift: %s: %s\n", ns_log_level_name(level), msg);
    }
}
