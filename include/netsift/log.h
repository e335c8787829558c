/*
 * log.h - logging through a sink the caller installs.
 *
 * The library never prints by itself: stages that have something to say get
 * a struct ns_log from their caller (tcpdump's ndo_error, curl's infof).
 * NS_LOG tests the level before it evaluates its arguments (redis), so a
 * disabled debug line costs one comparison. A NULL logger is silent.
 */
#ifndef NETSIFT_LOG_H
#define NETSIFT_LOG_H

#include <stdarg.h>

enum ns_log_level {
    NS_LOG_ERROR = 0,
    NS_LOG_WARN = 1,
    NS_LOG_INFO = 2,
    NS_LOG_DEBUG = 3,
};

typedef void ns_log_fn(void *ud, enum ns_log_level level, const char *msg);

struct ns_log {
    enum ns_log_level level; /* messages above this level are dropped */
    ns_log_fn *fn;           /* NULL: the default, "netsift: <level>: <msg>" on stderr */
    void *ud;
};

void ns_log_write(const struct ns_log *lg, enum ns_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const char *ns_log_level_name(enum ns_log_level level);

#define NS_LOG(lg, lvl, ...)                                                                       \
    do {                                                                                           \
        if ((lg) != NULL && (lvl) <= (lg)->level) {                                                \
            ns_log_write((lg), (lvl), __VA_ARGS__);                                                \
        }                                                                                          \
    } while (0)

#endif
