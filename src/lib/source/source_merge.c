/*
 * source_merge.c - ns_source_open / next / free: every input (repeated -r
 * paths, the capture files below directories, standard input) merged into
 * one stream in timestamp order, with an optional BPF filter.
 *
 * Peek, then merge. At open each input is opened and its first record read
 * (which also tells its link type, for checking the BPF expression). An
 * input then stays open while fewer than `max_open_files` are; past that
 * its first record is copied and the file closed, to be reopened by path
 * (and its already-read records skipped) when the merge clock reaches it.
 * Standard input is never closed (it cannot be reopened). When more inputs
 * than the cap overlap in time, the extra ones are opened anyway with a
 * 64 KiB stdio buffer instead of 1 MiB, so that memory stays bounded while
 * the merge stays correct. An input that reaches its end is closed at once.
 *
 * The merge is a binary min-heap of inputs keyed on (timestamp of the
 * input's current record, input order): ties are stable, and one input's
 * frames always come out in file order even when the file itself is not
 * sorted (those frames are counted in stats.out_of_order). The frame handed
 * out stays the heap's top until the next call, which reads that input's
 * next record and sifts it down (no packet bytes are copied). With a single
 * input there is no heap at all.
 *
 * BPF: the expression is compiled once per link type (pcap_compile on a
 * pcap_open_dead handle of that link type, optimised, netmask unknown) and
 * applied with pcap_offline_filter. At open it is compiled for the link type
 * of every input's first record (Ethernet if there is none), and a failure
 * is an open error. A link type met later (a pcapng interface) for which the
 * expression does not compile rejects its frames (counted as filtered).
 *
 * Errors of an input found while peeking are returned first, in input
 * order; an error found later is returned when the input reaches it, after
 * all of its frames before that point.
 */
#include "source_int.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "netsift/alloc.h"

#define MAX_BPF_LINKTYPES 64
#define MAX_INPUTS        1000000u

struct bpf_entry {
    int linktype;
    bool ok;
    struct bpf_program prog;
};

struct ns_source {
    struct ns__input *inputs;
    size_t ninputs;
    size_t cap_inputs;
    struct ns__input **heap;
    size_t nheap;
    struct ns__input *advance; /* input of the frame handed out last */
    size_t report;             /* next input whose peek error is to be returned */
    size_t open_count;
    size_t max_open;
    bool single;
    bool stdin_used;

    char *bpf;
    struct bpf_entry bpfs[MAX_BPF_LINKTYPES];
    size_t nbpf;
    struct bpf_entry *last_bpf;

    uint64_t last_ts;
    bool have_last;
    volatile sig_atomic_t stop;
    struct ns_source_stats stats;
    struct ns__live *live;
};

/* ---- BPF ---- */

static struct bpf_entry *bpf_get(struct ns_source *s, int linktype, struct ns_error *err)
{
    for (size_t i = 0; i < s->nbpf; i++) {
        if (s->bpfs[i].linktype == linktype) {
            return &s->bpfs[i];
        }
    }
    if (s->nbpf == MAX_BPF_LINKTYPES) {
        ns_error_set(err, NS_ELIMIT, "bpf: more than %d link types", MAX_BPF_LINKTYPES);
        return NULL;
    }
    pcap_t *dead = pcap_open_dead_with_tstamp_precision(linktype, (int)NS__SOURCE_MAX_SNAP,
                                                        PCAP_TSTAMP_PRECISION_NANO);
    if (dead == NULL) {
        ns_error_set(err, NS_ENOMEM, "bpf: out of memory");
        return NULL;
    }
    struct bpf_entry *e = &s->bpfs[s->nbpf++];
    e->linktype = linktype;
    e->ok = pcap_compile(dead, &e->prog, s->bpf, 1, PCAP_NETMASK_UNKNOWN) == 0;
    if (!e->ok) {
        ns_error_set(err, NS_EINVAL, "bpf: %s", pcap_geterr(dead));
    }
    pcap_close(dead);
    return e;
}

static bool bpf_pass(struct ns_source *s, const struct ns__rec *rec)
{
    struct bpf_entry *e = s->last_bpf;
    if (e == NULL || e->linktype != rec->linktype) {
        e = bpf_get(s, rec->linktype, NULL);
        if (e == NULL) {
            return false;
        }
        s->last_bpf = e;
    }
    if (!e->ok) {
        return false;
    }
    struct pcap_pkthdr h = {.caplen = rec->caplen, .len = rec->wirelen};
    return pcap_offline_filter(&e->prog, &h, rec->data) != 0;
}

/* ---- heap of inputs, keyed on (ts of the current record, input order) ---- */

static bool before(const struct ns__input *a, const struct ns__input *b)
{
    if (a->cur.ts_ns != b->cur.ts_ns) {
        return a->cur.ts_ns < b->cur.ts_ns;
    }
    return a->order < b->order;
}

static void sift_down(struct ns_source *s, size_t i)
{
    struct ns__input **h = s->heap;
    size_t n = s->nheap;
    struct ns__input *x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) {
            break;
        }
        if (c + 1 < n && before(h[c + 1], h[c])) {
            c++;
        }
        if (!before(h[c], x)) {
            break;
        }
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void sift_up(struct ns_source *s, size_t i)
{
    struct ns__input **h = s->heap;
    struct ns__input *x = h[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(x, h[p])) {
            break;
        }
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static void heap_pop_top(struct ns_source *s)
{
    s->nheap--;
    if (s->nheap > 0) {
        s->heap[0] = s->heap[s->nheap];
        sift_down(s, 0);
    }
}

/* ---- inputs ---- */

static int add_input(struct ns_source *s, const char *name, bool is_stdin, bool from_dir,
                     struct ns_error *err)
{
    if (s->ninputs == MAX_INPUTS) {
        return ns_error_set(err, NS_ELIMIT, "more than %u inputs", MAX_INPUTS);
    }
    if (s->ninputs == s->cap_inputs) {
        size_t ncap = s->cap_inputs == 0 ? 8 : s->cap_inputs * 2;
        struct ns__input *n = ns_reallocarray(s->inputs, ncap, sizeof(*n));
        if (n == NULL) {
            return ns_error_set(err, NS_ENOMEM, "out of memory");
        }
        s->inputs = n;
        s->cap_inputs = ncap;
    }
    struct ns__input *in = &s->inputs[s->ninputs];
    memset(in, 0, sizeof(*in));
    in->name = ns_strdup(name);
    if (in->name == NULL) {
        return ns_error_set(err, NS_ENOMEM, "out of memory");
    }
    in->path = is_stdin ? NULL : in->name;
    in->from_dir = from_dir;
    in->order = s->ninputs;
    s->ninputs++;
    return NS_OK;
}

static int add_dir_member(void *ud, const char *path)
{
    return add_input(ud, path, false, true, NULL);
}

static int add_path(struct ns_source *s, const char *path, struct ns_error *err)
{
    if (strcmp(path, "-") == 0) {
        if (s->stdin_used) {
            return ns_error_set(err, NS_EINVAL, "-: standard input given more than once");
        }
        s->stdin_used = true;
        return add_input(s, "-", true, false, err);
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        return ns_error_set(err, e == ENOENT ? NS_ENOENT : NS_EIO, "%s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        int rc = ns__dir_walk(path, add_dir_member, s, &s->stats.files_skipped, err);
        if (rc == NS_ENOMEM || rc == NS_ELIMIT) {
            if (err != NULL && err->msg[0] == '\0') {
                ns_error_set(err, rc, "%s: %s", path, ns_strerror(rc));
            }
        }
        return rc;
    }
    return add_input(s, path, false, false, err);
}

static void input_fail(struct ns_source *s, struct ns__input *in)
{
    if (in->is_open) {
        s->open_count--;
    }
    ns__input_close(in);
    in->has_cur = false;
    in->done = true;
}

static size_t buf_size(const struct ns_source *s)
{
    return s->single || s->open_count < s->max_open ? NS__SOURCE_BIG_BUF : NS__SOURCE_SMALL_BUF;
}

/* Open an input again by path and skip the records already read. */
static int reopen(struct ns_source *s, struct ns__input *in, struct ns_error *err)
{
    uint64_t want = in->nread;
    int rc = ns__input_open(in, buf_size(s), err);
    if (rc != NS_OK) {
        return rc;
    }
    s->open_count++;
    in->nread = 0;
    while (in->nread < want) {
        rc = ns__input_read(in, err);
        if (rc == NS_EOF) {
            return ns_error_set(err, NS_EIO, "%s: file shrank since it was first read", in->name);
        }
        if (rc != NS_OK) {
            return rc;
        }
    }
    return NS_OK;
}

/*
 * Read the next record of `in`. 0: in->cur is valid; NS_EOF: the input is
 * done (closed); another code: the input broke off (closed, err filled).
 */
static int step(struct ns_source *s, struct ns__input *in, struct ns_error *err)
{
    int rc = NS_OK;
    if (!in->is_open) {
        rc = reopen(s, in, err);
    }
    if (rc == NS_OK) {
        rc = ns__input_read(in, err);
    }
    if (rc == NS_OK) {
        return NS_OK;
    }
    input_fail(s, in);
    if (rc != NS_EOF) {
        s->stats.inputs_failed++;
    }
    return rc;
}

/* Step the input at the top of the heap and restore the heap. */
static int step_top(struct ns_source *s, struct ns__input *in, struct ns_error *err)
{
    int rc = step(s, in, err);
    if (s->single) {
        return rc;
    }
    if (rc == NS_OK) {
        sift_down(s, 0);
    } else {
        heap_pop_top(s);
    }
    return rc;
}

static int keep_error(struct ns_source *s, struct ns__input *in, int code, const struct ns_error *e)
{
    in->err_code = code;
    in->err_msg = ns_strdup(e->msg);
    s->stats.inputs_failed++;
    return in->err_msg != NULL ? NS_OK : NS_ENOMEM;
}

/* Open every input and read its first record (see the comment at the top). */
static int peek_all(struct ns_source *s, struct ns_error *err)
{
    for (size_t i = 0; i < s->ninputs; i++) {
        struct ns__input *in = &s->inputs[i];
        struct ns_error e = {0};
        int rc = ns__input_open(in, buf_size(s), &e);
        if (rc == NS_ENOMEM) {
            return ns_error_set(err, rc, "%s", e.msg);
        }
        if (rc != NS_OK && in->from_dir && in->not_capture) {
            /* not a capture file: ignored, only counted */
            in->done = true;
            s->stats.files_skipped++;
            continue;
        }
        s->stats.inputs++;
        if (rc != NS_OK) {
            in->done = true;
            if (keep_error(s, in, rc, &e) != NS_OK) {
                return ns_error_set(err, NS_ENOMEM, "out of memory");
            }
            continue;
        }
        s->open_count++;
        rc = ns__input_read(in, &e);
        if (rc == NS_OK) {
            in->has_cur = true;
            if (s->open_count > s->max_open && in->path != NULL && !s->single) {
                s->open_count--;
                if (ns__input_park(in) != NS_OK) {
                    return ns_error_set(err, NS_ENOMEM, "out of memory");
                }
            }
            continue;
        }
        input_fail(s, in);
        if (rc == NS_ENOMEM) {
            return ns_error_set(err, rc, "%s", e.msg);
        }
        if (rc != NS_EOF && keep_error(s, in, rc, &e) != NS_OK) {
            return ns_error_set(err, NS_ENOMEM, "out of memory");
        }
    }
    return NS_OK;
}

/* Compile the filter for the link types seen so far; a failure is an open error. */
static int check_bpf(struct ns_source *s, struct ns_error *err)
{
    bool any = false;
    for (size_t i = 0; i < s->ninputs; i++) {
        const struct ns__input *in = &s->inputs[i];
        if (!in->has_cur) {
            continue;
        }
        any = true;
        struct bpf_entry *e = bpf_get(s, in->cur.linktype, err);
        if (e == NULL || !e->ok) {
            return err != NULL ? err->code : NS_EINVAL;
        }
    }
    if (!any) {
        struct bpf_entry *e = bpf_get(s, DLT_EN10MB, err);
        if (e == NULL || !e->ok) {
            return err != NULL ? err->code : NS_EINVAL;
        }
    }
    return NS_OK;
}

static int finish_open(struct ns_source *s, const char *bpf, struct ns_error *err)
{
    int rc;
    if (bpf != NULL) {
        s->bpf = ns_strdup(bpf);
        if (s->bpf == NULL) {
            return ns_error_set(err, NS_ENOMEM, "out of memory");
        }
    }
    s->single = s->ninputs == 1;
    rc = peek_all(s, err);
    if (rc != NS_OK) {
        return rc;
    }
    if (s->bpf != NULL) {
        rc = check_bpf(s, err);
        if (rc != NS_OK) {
            return rc;
        }
    }
    if (!s->single && s->ninputs > 0) {
        s->heap = ns_reallocarray(NULL, s->ninputs, sizeof(*s->heap));
        if (s->heap == NULL) {
            return ns_error_set(err, NS_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < s->ninputs; i++) {
            if (s->inputs[i].has_cur) {
                s->heap[s->nheap++] = &s->inputs[i];
                sift_up(s, s->nheap - 1);
            }
        }
    }
    return NS_OK;
}

static struct ns_source *source_new(size_t max_open)
{
    struct ns_source *s = ns_calloc(1, sizeof(*s));
    if (s != NULL) {
        s->max_open = max_open == 0 ? 64 : max_open;
    }
    return s;
}

int ns_source_open(struct ns_source **out, const struct ns_source_opts *opts, struct ns_error *err)
{
    int rc = NS_OK;
    *out = NULL;
    struct ns_source *s = source_new(opts->max_open_files);
    if (s == NULL) {
        return ns_error_set(err, NS_ENOMEM, "out of memory");
    }
    if (opts->iface != NULL) {
        if (opts->npaths > 0) {
            rc = ns_error_set(err, NS_EINVAL, "cannot read files and a live interface at once");
            goto out;
        }
        rc = ns__live_open(&s->live, opts, err);
        if (rc == NS_OK) {
            s->stats.inputs = 1;
        }
        goto out;
    }
    if (opts->npaths == 0) {
        rc = ns_error_set(err, NS_EINVAL, "no input given");
        goto out;
    }
    for (size_t i = 0; i < opts->npaths; i++) {
        rc = add_path(s, opts->paths[i], err);
        if (rc != NS_OK) {
            goto out;
        }
    }
    rc = finish_open(s, opts->bpf, err);
out:
    if (rc != NS_OK) {
        ns_source_free(s);
        return rc;
    }
    *out = s;
    return NS_OK;
}

int ns_source_open_memory(struct ns_source **out, const void *data, size_t len, const char *name,
                          const char *bpf, struct ns_error *err)
{
    *out = NULL;
    struct ns_source *s = source_new(0);
    if (s == NULL) {
        return ns_error_set(err, NS_ENOMEM, "out of memory");
    }
    int rc = add_input(s, name, false, false, err);
    if (rc == NS_OK) {
        s->inputs[0].path = NULL; /* cannot be reopened */
        s->inputs[0].mem = data;
        s->inputs[0].mem_len = len;
        rc = finish_open(s, bpf, err);
    }
    if (rc != NS_OK) {
        ns_source_free(s);
        return rc;
    }
    *out = s;
    return NS_OK;
}

static void emit(struct ns_source *s, struct ns__input *in, struct ns_frame *frame)
{
    const struct ns__rec *r = &in->cur;
    frame->data = r->data;
    frame->caplen = r->caplen;
    frame->wirelen = r->wirelen;
    frame->ts_ns = r->ts_ns;
    frame->linktype = r->linktype;
    frame->index = r->index;
    frame->src_name = in->name;
    s->stats.frames++;
    s->stats.bytes += r->caplen;
    if (s->have_last && r->ts_ns < s->last_ts) {
        s->stats.out_of_order++;
    }
    s->last_ts = r->ts_ns;
    s->have_last = true;
    s->advance = in;
}

static int next_single(struct ns_source *s, struct ns_frame *frame, struct ns_error *err)
{
    struct ns__input *in = &s->inputs[0];
    for (;;) {
        if (!in->has_cur) {
            return NS_EOF;
        }
        if (s->bpf != NULL && !bpf_pass(s, &in->cur)) {
            s->stats.filtered++;
            int rc = step(s, in, err);
            if (rc != NS_OK && rc != NS_EOF) {
                return rc;
            }
            continue;
        }
        emit(s, in, frame);
        return NS_OK;
    }
}

int ns_source_next(struct ns_source *s, struct ns_frame *frame, struct ns_error *err)
{
    if (s->live != NULL) {
        return ns__live_next(s->live, frame, &s->stats, err);
    }
    if (s->stop) {
        return NS_EOF;
    }
    if (s->advance != NULL) {
        struct ns__input *in = s->advance;
        s->advance = NULL;
        int rc = step_top(s, in, err);
        if (rc != NS_OK && rc != NS_EOF) {
            return rc;
        }
    }
    while (s->report < s->ninputs) {
        struct ns__input *in = &s->inputs[s->report++];
        if (in->err_msg != NULL) {
            ns_error_set(err, in->err_code, "%s", in->err_msg);
            ns_free(in->err_msg);
            in->err_msg = NULL;
            return in->err_code;
        }
    }
    if (s->single) {
        return next_single(s, frame, err);
    }
    while (s->nheap > 0) {
        struct ns__input *in = s->heap[0];
        if (s->bpf != NULL && !bpf_pass(s, &in->cur)) {
            s->stats.filtered++;
            int rc = step_top(s, in, err);
            if (rc != NS_OK && rc != NS_EOF) {
                return rc;
            }
            continue;
        }
        emit(s, in, frame);
        return NS_OK;
    }
    return NS_EOF;
}

void ns_source_break(struct ns_source *s)
{
    s->stop = 1;
    if (s->live != NULL) {
        ns__live_break(s->live);
    }
}

const struct ns_source_stats *ns_source_stats(const struct ns_source *s)
{
    if (s->live != NULL) {
        /* the counters live in the kernel: refresh them (the struct is ours) */
        struct ns_source *m = (struct ns_source *)s;
        ns__live_stats(m->live, &m->stats);
    }
    return &s->stats;
}

void ns_source_free(struct ns_source *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->ninputs; i++) {
        struct ns__input *in = &s->inputs[i];
        ns__input_close(in);
        ns_free(in->name);
        ns_free(in->copy);
        ns_free(in->err_msg);
    }
    ns_free(s->inputs);
    ns_free(s->heap);
    for (size_t i = 0; i < s->nbpf; i++) {
        if (s->bpfs[i].ok) {
            pcap_freecode(&s->bpfs[i].prog);
        }
    }
    ns_free(s->bpf);
    ns__live_free(s->live);
    ns_free(s);
}
