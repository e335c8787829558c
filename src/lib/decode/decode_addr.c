/*
 * decode_addr.c - text form of a struct ns_addr.
 *
 * IPv4 in dotted decimal, IPv6 in the RFC 5952 canonical form (lower case,
 * longest run of zero groups as "::", IPv4-mapped as ::ffff:a.b.c.d), both as
 * inet_ntop (POSIX.1-2008) writes them.
 */
#include "netsift/decode.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

/*
 * Dotted decimal written by hand: glibc's inet_ntop formats IPv4 through
 * sprintf, which showed up in profiles of `netsift flows` (two addresses
 * per flow record). IPv6 keeps inet_ntop, whose zero-run rules are subtle.
 */
static bool format_ipv4(const uint8_t *a, char *buf, size_t size)
{
    char t[16];
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (v >= 100) {
            t[n++] = (char)('0' + v / 100);
        }
        if (v >= 10) {
            t[n++] = (char)('0' + v / 10 % 10);
        }
        t[n++] = (char)('0' + v % 10);
        t[n++] = i < 3 ? '.' : '\0';
    }
    if (n > size) {
        return false;
    }
    memcpy(buf, t, n);
    return true;
}

char *ns_addr_format(const struct ns_addr *a, char *buf, size_t size)
{
    if (buf == NULL || size == 0) {
        return buf;
    }
    if (a != NULL && a->family == 4 && format_ipv4(a->a, buf, size)) {
        return buf;
    }
    int af = 0;
    if (a != NULL && a->family == 4) {
        af = AF_INET;
    } else if (a != NULL && a->family == 6) {
        af = AF_INET6;
    }
    if (af != 0 && size <= (socklen_t)-1 && inet_ntop(af, a->a, buf, (socklen_t)size) != NULL) {
        return buf;
    }
    if (size >= 2) {
        buf[0] = '-';
        buf[1] = '\0';
    } else {
        buf[0] = '\0';
    }
    return buf;
}
