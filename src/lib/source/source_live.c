/*
 * source_live.c - frames from a live interface through libpcap, and the list
 * of interfaces.
 *
 * pcap_create + snap length (default 262144) + promiscuous mode + immediate
 * mode (frames are handed over as they come, not when the kernel buffer
 * fills) + a kernel buffer of buffer_mb MiB when asked + a 100 ms timeout,
 * then pcap_activate. Nanosecond timestamps are asked for and microseconds
 * scaled when the platform cannot give them. A BPF filter is compiled on the
 * activated handle and set in the kernel with pcap_setfilter.
 *
 * Frames are read without blocking and waited for in poll(2), 100 ms at a
 * time (the libpcap timeout does not fire on a quiet socket in immediate
 * mode). ns__live_next loops on those timeouts until a frame comes or
 * ns_source_break() sets the stop flag (a volatile sig_atomic_t, so a signal
 * handler may call it) and breaks libpcap's loop; with wake_on_idle it
 * returns NS_EAGAIN at each timeout instead, so the caller's timers run on a
 * quiet interface too.
 */
#include "source_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>

#include "netsift/alloc.h"

#define NS__LIVE_WAIT_MS 100

struct ns__live {
    pcap_t *p;
    char *name;
    int linktype;
    bool nano;
    uint64_t index;
    int fd; /* pcap_get_selectable_fd in non-blocking mode, or -1 (then pcap blocks) */
    bool wake_on_idle;
    volatile sig_atomic_t stop;
};

int ns__live_open(struct ns__live **out, const struct ns_source_opts *opts, struct ns_error *err)
{
    int rc = NS_OK;
    char errbuf[PCAP_ERRBUF_SIZE];
    struct ns__live *lv = ns_calloc(1, sizeof(*lv));
    *out = NULL;
    if (lv == NULL) {
        return ns_error_set(err, NS_ENOMEM, "out of memory");
    }
    lv->wake_on_idle = opts->wake_on_idle;
    lv->fd = -1;
    lv->name = ns_strdup(opts->iface);
    if (lv->name == NULL) {
        rc = ns_error_set(err, NS_ENOMEM, "out of memory");
        goto out;
    }
    errbuf[0] = '\0';
    lv->p = pcap_create(opts->iface, errbuf);
    if (lv->p == NULL) {
        rc = ns_error_set(err, NS_EIO, "%s: %s", opts->iface, errbuf);
        goto out;
    }
    pcap_set_snaplen(lv->p, opts->snaplen > 0 ? opts->snaplen : (int)NS__SOURCE_MAX_SNAP);
    pcap_set_promisc(lv->p, opts->promisc ? 1 : 0);
    pcap_set_immediate_mode(lv->p, 1);
    pcap_set_timeout(lv->p, 100);
    if (opts->buffer_mb > 0) {
        pcap_set_buffer_size(lv->p, opts->buffer_mb * (1 << 20));
    }
    lv->nano = pcap_set_tstamp_precision(lv->p, PCAP_TSTAMP_PRECISION_NANO) == 0;
    int ar = pcap_activate(lv->p);
    if (ar < 0) {
        const char *detail = ar == PCAP_ERROR ? pcap_geterr(lv->p) : pcap_statustostr(ar);
        if (ar != PCAP_ERROR && pcap_geterr(lv->p)[0] != '\0') {
            detail = pcap_geterr(lv->p);
        }
        rc = ns_error_set(err, ar == PCAP_ERROR_NO_SUCH_DEVICE ? NS_ENOENT : NS_EIO, "%s: %s",
                          opts->iface, detail);
        goto out;
    }
    /* ar > 0 is a warning (promiscuous mode not supported, ...): go on */
    /*
     * In immediate mode pcap_next_ex does not return at its timeout on a
     * quiet Linux socket: read without blocking and wait in poll(2) instead.
     */
    int fd = pcap_get_selectable_fd(lv->p);
    if (fd >= 0 && pcap_setnonblock(lv->p, 1, errbuf) == 0) {
        lv->fd = fd;
    }
    lv->nano = pcap_get_tstamp_precision(lv->p) == PCAP_TSTAMP_PRECISION_NANO;
    lv->linktype = pcap_datalink(lv->p);
    if (opts->bpf != NULL) {
        struct bpf_program prog;
        if (pcap_compile(lv->p, &prog, opts->bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            rc = ns_error_set(err, NS_EINVAL, "bpf: %s", pcap_geterr(lv->p));
            goto out;
        }
        int sr = pcap_setfilter(lv->p, &prog);
        pcap_freecode(&prog);
        if (sr != 0) {
            rc = ns_error_set(err, NS_EIO, "%s: cannot set filter: %s", opts->iface,
                              pcap_geterr(lv->p));
            goto out;
        }
    }
out:
    if (rc != NS_OK) {
        ns__live_free(lv);
        return rc;
    }
    *out = lv;
    return NS_OK;
}

int ns__live_next(struct ns__live *lv, struct ns_frame *frame, struct ns_source_stats *stats,
                  struct ns_error *err)
{
    struct pcap_pkthdr *h;
    const u_char *d;
    while (!lv->stop) {
        int r = pcap_next_ex(lv->p, &h, &d);
        if (r == 0) {
            if (lv->fd >= 0) {
                struct pollfd pfd = {.fd = lv->fd, .events = POLLIN};
                int pr = poll(&pfd, 1, NS__LIVE_WAIT_MS);
                if (pr != 0 || lv->stop) {
                    continue; /* readable, a signal, or an error pcap will report */
                }
            }
            if (lv->wake_on_idle && !lv->stop) {
                return NS_EAGAIN; /* the caller has timers to run */
            }
            continue; /* timeout: look at the stop flag again */
        }
        if (r == PCAP_ERROR_BREAK) {
            break;
        }
        if (r < 0) {
            return ns_error_set(err, NS_EIO, "%s: %s", lv->name, pcap_geterr(lv->p));
        }
        lv->index++;
        frame->data = d;
        frame->caplen = h->caplen;
        frame->wirelen = h->len;
        frame->ts_ns = (uint64_t)h->ts.tv_sec * UINT64_C(1000000000) +
                       (uint64_t)h->ts.tv_usec * (lv->nano ? 1u : 1000u);
        frame->linktype = lv->linktype;
        frame->index = lv->index;
        frame->src_name = lv->name;
        stats->frames++;
        stats->bytes += h->caplen;
        return NS_OK;
    }
    return NS_EOF;
}

void ns__live_break(struct ns__live *lv)
{
    lv->stop = 1;
    pcap_breakloop(lv->p);
}

void ns__live_stats(struct ns__live *lv, struct ns_source_stats *stats)
{
    struct pcap_stat ps;
    if (pcap_stats(lv->p, &ps) == 0) {
        stats->live_dropped = ps.ps_drop;
        stats->live_if_dropped = ps.ps_ifdrop;
    }
}

void ns__live_free(struct ns__live *lv)
{
    if (lv == NULL) {
        return;
    }
    if (lv->p != NULL) {
        pcap_close(lv->p);
    }
    ns_free(lv->name);
    ns_free(lv);
}

/* Append "addr" to the comma-separated list in buf. */
static void add_addr(char *buf, size_t cap, size_t *len, const struct sockaddr *sa)
{
    char a[INET6_ADDRSTRLEN];
    const void *src;
    if (sa == NULL) {
        return;
    }
    if (sa->sa_family == AF_INET) {
        src = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    } else if (sa->sa_family == AF_INET6) {
        src = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    } else {
        return;
    }
    if (inet_ntop(sa->sa_family, src, a, sizeof(a)) == NULL) {
        return;
    }
    int n = snprintf(buf + *len, cap - *len, "%s%s", *len > 0 ? "," : "", a);
    if (n > 0 && (size_t)n < cap - *len) {
        *len += (size_t)n;
    }
}

int ns_source_list_interfaces(ns_iface_fn *fn, void *ud, struct ns_error *err)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_if_t *all = NULL;
    errbuf[0] = '\0';
    if (pcap_findalldevs(&all, errbuf) != 0) {
        return ns_error_set(err, NS_EIO, "interfaces: %s", errbuf);
    }
    for (pcap_if_t *d = all; d != NULL; d = d->next) {
        char addrs[1024];
        size_t len = 0;
        addrs[0] = '\0';
        for (pcap_addr_t *a = d->addresses; a != NULL; a = a->next) {
            add_addr(addrs, sizeof(addrs), &len, a->addr);
        }
        fn(ud, d->name, d->description != NULL ? d->description : "", addrs,
           (d->flags & PCAP_IF_UP) != 0, (d->flags & PCAP_IF_LOOPBACK) != 0);
    }
    pcap_freealldevs(all);
    return NS_OK;
}
