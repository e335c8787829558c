/*
 * synth_dicom.c - DICOM upper layer traffic for the generator (DICOM PS3.8
 * section 9: PDU structure; PS3.7: DIMSE C-STORE; PS3.5: data encoding,
 * implicit VR little endian for commands, explicit VR little endian
 * 1.2.840.10008.1.2.1 for the data sets).
 *
 * A modality associates with the archive, stores two images and releases:
 *
 *   A-ASSOCIATE-RQ (0x01)  ->          <- A-ASSOCIATE-AC (0x02)
 *   P-DATA-TF (0x04): C-STORE-RQ command, then the data set in PDVs  ->
 *                                      <- P-DATA-TF: C-STORE-RSP
 *   A-RELEASE-RQ (0x05)    ->          <- A-RELEASE-RP (0x06)
 *
 * PDU header:   +------+-----+-------------------+
 *               | type | 0x00| length (u32, BE)  |
 *               +------+-----+-------------------+
 * A-ASSOCIATE-RQ/AC body: protocol version (u16 = 1), 2 reserved, called AE
 * (16, space padded), calling AE (16), 32 reserved, then items
 * +------+-----+----------------+--------+ : 0x10 application context,
 * | type | 0x00| length (u16 BE)| value  |   0x20/0x21 presentation context
 * +------+-----+----------------+--------+   (RQ/AC) with 0x30 abstract and
 * 0x40 transfer syntax sub-items, 0x50 user information with 0x51 maximum
 * length, 0x52 implementation class UID, 0x55 implementation version name.
 * P-DATA-TF PDV: item length (u32 BE), presentation context ID, message
 * control header (bit 0: command, bit 1: last fragment), fragment.
 *
 * Data set elements written (explicit VR LE: tag, VR, u16 length, or for
 * OB/OW: tag, VR, 2 reserved, u32 length): (0008,0060) modality,
 * (0008,0070) manufacturer, (0008,0080) institution, (0008,1090) model
 * name, (0018,1000) device serial number, (0018,1020) software versions,
 * patient (synthetic), UIDs (2.25 UUID-derived), image pixel module.
 */
#include "synth_int.h"

#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define UID_APP_CONTEXT  "1.2.840.10008.3.1.1.1"
#define UID_IMPLICIT_LE  "1.2.840.10008.1.2"
#define UID_EXPLICIT_LE  "1.2.840.10008.1.2.1"
#define UID_VERIFICATION "1.2.840.10008.1.1"
#define MAX_PDU          16384u

struct modality {
    const char *modality;
    const char *sop_class;
    const char *manufacturer;
    const char *model;
    const char *software;
    const char *ae;
    const char *station;
    const char *impl_uid;
    const char *impl_version;
    int vendor;
    int os;
    uint16_t port;
    uint16_t rows;
};

static const struct modality mods[] = {
    {"CT", "1.2.840.10008.5.1.4.1.1.2", "GE MEDICAL SYSTEMS", "Revolution CT", "revo_ct_22.1",
     "CT_REVO_01", "CTSCAN01", "2.25.106375491264813203751042693351288001", "REVO_CT_22",
     NS__V_GE_HEALTH, NS__OS_LINUX, 104, 96},
    {"MR", "1.2.840.10008.5.1.4.1.1.4", "SIEMENS", "MAGNETOM Vida", "syngo MR XA50", "MR_VIDA_02",
     "MRSUITE2", "2.25.287140029511394865217766390020713092", "SYNGO_XA50", NS__V_SIEMENS_HEALTH,
     NS__OS_WINDOWS, 104, 80},
    {"US", "1.2.840.10008.5.1.4.1.1.6.1", "Philips Medical Systems", "EPIQ 7G", "7.0.5.311",
     "US_EPIQ_07", "USCART07", "2.25.191813562078459326630051872347128644", "EPIQ_7_0_5",
     NS__V_PHILIPS_MED, NS__OS_EMBEDDED, 11112, 64},
};

static const char *const patients[] = {"DOE^JANE", "DOE^JOHN", "ROE^RICHARD", "TEST^PATIENT"};

static void be16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void le16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* An upper-layer item: type, reserved, u16 length, value. */
static int item(struct ns__synth_buf *b, uint8_t type, const void *v, size_t n)
{
    uint8_t h[4] = {type, 0, 0, 0};
    be16(h + 2, (uint32_t)n);
    int rc = ns__synth_buf_put(b, h, 4);
    return rc == 0 ? ns__synth_buf_put(b, v, n) : rc;
}

static int item_str(struct ns__synth_buf *b, uint8_t type, const char *s)
{
    return item(b, type, s, strlen(s));
}

/* Start a PDU; returns its offset so that pdu_end can fill the length. */
static size_t pdu_begin(struct ns__synth_buf *b, uint8_t type, int *rc)
{
    uint8_t h[6] = {type, 0, 0, 0, 0, 0};
    size_t at = b->len;
    if (*rc == 0) {
        *rc = ns__synth_buf_put(b, h, 6);
    }
    return at;
}

static void pdu_end(struct ns__synth_buf *b, size_t at, int rc)
{
    if (rc == 0) {
        be32(b->p + at + 2, (uint32_t)(b->len - at - 6));
    }
}

static void ae16(uint8_t *out, const char *ae)
{
    size_t n = strlen(ae);
    memset(out, ' ', 16);
    memcpy(out, ae, n < 16 ? n : 16);
}

static int associate(struct ns__synth_buf *b, const struct modality *m, bool accept)
{
    int rc = 0;
    size_t at = pdu_begin(b, accept ? 0x02 : 0x01, &rc);
    uint8_t fixed[68];
    memset(fixed, 0, sizeof(fixed));
    be16(fixed, 1);
    ae16(fixed + 4, "PACS_ARCHIVE");
    ae16(fixed + 20, m->ae);
    if (rc == 0) {
        rc = ns__synth_buf_put(b, fixed, sizeof(fixed));
    }
    if (rc == 0) {
        rc = item_str(b, 0x10, UID_APP_CONTEXT);
    }
    /* presentation contexts: the image storage class (1) and verification (3) */
    const char *abstract[2] = {m->sop_class, UID_VERIFICATION};
    for (unsigned i = 0; rc == 0 && i < 2; i++) {
        uint8_t pc[256];
        size_t n = 0;
        pc[n++] = (uint8_t)(1 + 2 * i);
        pc[n++] = 0;
        pc[n++] = 0; /* result: acceptance (AC); reserved (RQ) */
        pc[n++] = 0;
        const char *subs[3];
        uint8_t types[3];
        size_t nsub = 0;
        if (!accept) {
            subs[nsub] = abstract[i];
            types[nsub++] = 0x30;
            subs[nsub] = UID_EXPLICIT_LE;
            types[nsub++] = 0x40;
            subs[nsub] = UID_IMPLICIT_LE;
            types[nsub++] = 0x40;
        } else {
            subs[nsub] = UID_EXPLICIT_LE;
            types[nsub++] = 0x40;
        }
        for (size_t k = 0; k < nsub; k++) {
            size_t l = strlen(subs[k]);
            pc[n] = types[k];
            pc[n + 1] = 0;
            be16(pc + n + 2, (uint32_t)l);
            memcpy(pc + n + 4, subs[k], l);
            n += 4 + l;
        }
        rc = item(b, accept ? 0x21 : 0x20, pc, n);
    }
    if (rc == 0) {
        uint8_t ui[160];
        size_t n = 0;
        ui[n++] = 0x51;
        ui[n++] = 0;
        be16(ui + n, 4);
        be32(ui + n + 2, MAX_PDU);
        n += 6;
        const char *impl_uid = accept ? "2.25.330472911863117236516410982460154207" : m->impl_uid;
        const char *impl_ver = accept ? "ARCHIVE_5_2" : m->impl_version;
        size_t l = strlen(impl_uid);
        ui[n] = 0x52;
        ui[n + 1] = 0;
        be16(ui + n + 2, (uint32_t)l);
        memcpy(ui + n + 4, impl_uid, l);
        n += 4 + l;
        l = strlen(impl_ver);
        ui[n] = 0x55;
        ui[n + 1] = 0;
        be16(ui + n + 2, (uint32_t)l);
        memcpy(ui + n + 4, impl_ver, l);
        n += 4 + l;
        rc = item(b, 0x50, ui, n);
    }
    pdu_end(b, at, rc);
    return rc;
}

/* --- command sets: implicit VR little endian --- */

struct cmdw {
    uint8_t p[512];
    size_t n;
};

static void iv(struct cmdw *w, uint16_t e, const void *v, size_t n, bool pad)
{
    size_t len = n + (pad && n % 2 != 0 ? 1 : 0);
    le16(w->p + w->n, 0x0000);
    le16(w->p + w->n + 2, e);
    le32(w->p + w->n + 4, (uint32_t)len);
    memcpy(w->p + w->n + 8, v, n);
    if (len > n) {
        w->p[w->n + 8 + n] = 0;
    }
    w->n += 8 + len;
}

static void iv_us(struct cmdw *w, uint16_t e, uint16_t v)
{
    uint8_t b[2];
    le16(b, v);
    iv(w, e, b, 2, false);
}

/* C-STORE-RQ (rsp == false) or C-STORE-RSP with its group length element first. */
static void store_cmd(struct cmdw *out, const char *cls, const char *inst, uint16_t msg_id,
                      bool rsp)
{
    struct cmdw w;
    w.n = 0;
    iv(&w, 0x0002, cls, strlen(cls), true);
    iv_us(&w, 0x0100, rsp ? 0x8001 : 0x0001);
    iv_us(&w, rsp ? 0x0120 : 0x0110, msg_id);
    if (!rsp) {
        iv_us(&w, 0x0700, 0x0000);
    }
    iv_us(&w, 0x0800, rsp ? 0x0101 : 0x0000);
    if (rsp) {
        iv_us(&w, 0x0900, 0x0000);
    }
    iv(&w, 0x1000, inst, strlen(inst), true);
    uint8_t gl[4];
    le32(gl, (uint32_t)w.n);
    out->n = 0;
    iv(out, 0x0000, gl, 4, false);
    memcpy(out->p + out->n, w.p, w.n);
    out->n += w.n;
}

/* --- data sets: explicit VR little endian --- */

static int ev(struct ns__synth_buf *b, uint16_t g, uint16_t e, const char *vr, const void *v,
              size_t n)
{
    bool lng = strcmp(vr, "OB") == 0 || strcmp(vr, "OW") == 0;
    char pad = strcmp(vr, "UI") == 0 || strcmp(vr, "OB") == 0 ? '\0' : ' ';
    size_t len = n + n % 2;
    uint8_t h[12];
    size_t hn;
    le16(h, g);
    le16(h + 2, e);
    h[4] = (uint8_t)vr[0];
    h[5] = (uint8_t)vr[1];
    if (lng) {
        h[6] = 0;
        h[7] = 0;
        le32(h + 8, (uint32_t)len);
        hn = 12;
    } else {
        le16(h + 6, (uint32_t)len);
        hn = 8;
    }
    int rc = ns__synth_buf_put(b, h, hn);
    if (rc == 0) {
        rc = ns__synth_buf_put(b, v, n);
    }
    if (rc == 0 && len > n) {
        rc = ns__synth_buf_put(b, &pad, 1);
    }
    return rc;
}

static int ev_s(struct ns__synth_buf *b, uint16_t g, uint16_t e, const char *vr, const char *s)
{
    return ev(b, g, e, vr, s, strlen(s));
}

static int ev_us(struct ns__synth_buf *b, uint16_t g, uint16_t e, uint16_t v)
{
    uint8_t x[2];
    le16(x, v);
    return ev(b, g, e, "US", x, 2);
}

struct study {
    char study_uid[64];
    char series_uid[64];
    char serial[24];
    const char *patient;
    char pid[16];
    char date[16];
    char time[16];
};

static int dataset(struct ns__synth_ctx *x, struct ns__synth_buf *b, const struct modality *m,
                   const struct study *st, const char *inst, unsigned number)
{
    char num[12];
    snprintf(num, sizeof(num), "%u", number);
    int rc = ev_s(b, 0x0008, 0x0005, "CS", "ISO_IR 100");
    if (rc == 0) {
        rc = ev_s(b, 0x0008, 0x0016, "UI", m->sop_class);
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0008, 0x0018, "UI", inst);
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0008, 0x0020, "DA", st->date);
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0008, 0x0030, "TM", st->time);
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0008, 0x0060, "CS", m->modality);
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0008, 0x0070, "LO", m->manufacturer);
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0008, 0x0080, "LO", "GENERAL HOSPITAL");
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0008, 0x1010, "SH", m->station);
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0008, 0x1090, "LO", m->model);
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0010, 0x0010, "PN", st->patient);
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0010, 0x0020, "LO", st->pid);
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0018, 0x1000, "LO", st->serial);
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0018, 0x1020, "LO", m->software);
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0020, 0x000d, "UI", st->study_uid);
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0020, 0x000e, "UI", st->series_uid);
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0020, 0x0013, "IS", num);
    }
    if (rc == 0) {
        rc = ev_us(b, 0x0028, 0x0002, 1);
    }
    if (rc == 0) {
        rc = ev_s(b, 0x0028, 0x0004, "CS", "MONOCHROME2");
    }
    if (rc == 0) {
        rc = ev_us(b, 0x0028, 0x0010, m->rows);
    }
    if (rc == 0) {
        rc = ev_us(b, 0x0028, 0x0011, m->rows);
    }
    static const uint16_t pix[][2] = {{0x0100, 16}, {0x0101, 12}, {0x0102, 11}, {0x0103, 0}};
    for (size_t i = 0; rc == 0 && i < NELEM(pix); i++) {
        rc = ev_us(b, 0x0028, pix[i][0], pix[i][1]);
    }
    if (rc != 0) {
        return rc;
    }
    /* pixel data: 12-bit noise over a radial gradient, made in place */
    size_t n = (size_t)m->rows * m->rows * 2;
    uint8_t h[12] = {0xe0, 0x7f, 0x10, 0x00, 'O', 'W', 0, 0, 0, 0, 0, 0};
    le32(h + 8, (uint32_t)n);
    rc = ns__synth_buf_put(b, h, sizeof(h));
    if (rc == 0) {
        rc = ns__synth_buf_reserve(b, n);
    }
    if (rc != 0) {
        return rc;
    }
    uint8_t *p = b->p + b->len;
    ns__synth_fill(&x->rng, p, n);
    for (size_t i = 0; i < n; i += 2) {
        size_t px = i / 2;
        unsigned r = (unsigned)(px / m->rows);
        unsigned c = (unsigned)(px % m->rows);
        unsigned v = (r * c * 4 + (p[i] & 0x3f)) & 0x0fff;
        le16(p + i, v);
    }
    b->len += n;
    return 0;
}

/* P-DATA-TF PDUs carrying (p, n) as PDVs of at most MAX_PDU - 6 bytes each. */
static int pdata(struct ns__synth_buf *b, uint8_t pcid, bool command, const uint8_t *p, size_t n)
{
    size_t off = 0;
    int rc = 0;
    do {
        size_t k = n - off < MAX_PDU - 6 ? n - off : MAX_PDU - 6;
        bool last = off + k == n;
        uint8_t h[12] = {0x04, 0};
        be32(h + 2, (uint32_t)(k + 6));
        be32(h + 6, (uint32_t)(k + 2));
        h[10] = pcid;
        h[11] = (uint8_t)((command ? 0x01 : 0x00) | (last ? 0x02 : 0x00));
        rc = ns__synth_buf_put(b, h, sizeof(h));
        if (rc == 0) {
            rc = ns__synth_buf_put(b, p + off, k);
        }
        off += k;
    } while (rc == 0 && off < n);
    return rc;
}

static void make_uid(struct ns__synth_ctx *x, char *out, size_t size, unsigned leaf)
{
    snprintf(out, size, "2.25.%llu.%u", (unsigned long long)(ns__synth_next(&x->rng) >> 1) + 1,
             leaf);
}

static int association(struct ns__synth_ctx *x, const struct modality *m, unsigned slot,
                       uint64_t t0)
{
    struct ns__synth_host cli;
    struct ns__synth_host srv;
    struct ns__synth_conv c;
    struct study st;
    ns__synth_host4(&srv, NS__IP4(10, 40, 0, 5), NS__V_DELL, NS__OS_LINUX);
    ns__synth_host4(&cli, NS__IP4(10, 40, 1, 10 + 20 * slot + ns__synth_between(&x->rng, 0, 19)),
                    m->vendor, m->os);
    make_uid(x, st.study_uid, sizeof(st.study_uid), 1);
    make_uid(x, st.series_uid, sizeof(st.series_uid), 2);
    snprintf(st.serial, sizeof(st.serial), "%s%07u", m->modality,
             ns__synth_between(&x->rng, 0, 9999999));
    st.patient = patients[ns__synth_between(&x->rng, 0, NELEM(patients) - 1)];
    snprintf(st.pid, sizeof(st.pid), "PAT%06u", ns__synth_between(&x->rng, 0, 999999));
    ns__synth_fmt_time(t0, "%Y%m%d", st.date, sizeof(st.date));
    ns__synth_fmt_time(t0, "%H%M%S", st.time, sizeof(st.time));

    int rc = ns__synth_conv_open(&c, x, "dicom", &cli, ns__synth_port(x), &srv, m->port, 6, t0);
    if (rc == 0) {
        rc = ns__synth_tcp_handshake(&c);
    }
    struct ns__synth_buf *b = &x->msg;
    b->len = 0;
    if (rc == 0) {
        rc = associate(b, m, false);
    }
    if (rc == 0) {
        rc = ns__synth_tcp_send(&c, 0, b->p, b->len, 0);
    }
    c.t += ns__synth_between(&x->rng, 500, 5000);
    b->len = 0;
    if (rc == 0) {
        rc = associate(b, m, true);
    }
    if (rc == 0) {
        rc = ns__synth_tcp_send(&c, 1, b->p, b->len, 0);
    }
    for (unsigned img = 1; rc == 0 && img <= 2; img++) {
        char inst[64];
        struct cmdw cmd;
        uint16_t msg_id = (uint16_t)(++x->msg_n & 0xffff);
        make_uid(x, inst, sizeof(inst), 3 + img);
        store_cmd(&cmd, m->sop_class, inst, msg_id, false);
        struct ns__synth_buf *ds = &x->scratch;
        ds->len = 0;
        b->len = 0;
        rc = dataset(x, ds, m, &st, inst, img);
        if (rc == 0) {
            rc = pdata(b, 1, true, cmd.p, cmd.n);
        }
        if (rc == 0) {
            rc = pdata(b, 1, false, ds->p, ds->len);
        }
        if (rc == 0) {
            rc = ns__synth_tcp_send(&c, 0, b->p, b->len, 0);
        }
        c.t += ns__synth_between(&x->rng, 2000, 40000); /* the archive stores the object */
        store_cmd(&cmd, m->sop_class, inst, msg_id, true);
        b->len = 0;
        if (rc == 0) {
            rc = pdata(b, 1, true, cmd.p, cmd.n);
        }
        if (rc == 0) {
            rc = ns__synth_tcp_send(&c, 1, b->p, b->len, 0);
        }
    }
    static const uint8_t release_rq[10] = {0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0};
    static const uint8_t release_rp[10] = {0x06, 0, 0, 0, 0, 4, 0, 0, 0, 0};
    if (rc == 0) {
        rc = ns__synth_tcp_send(&c, 0, release_rq, sizeof(release_rq), 0);
    }
    if (rc == 0) {
        rc = ns__synth_tcp_send(&c, 1, release_rp, sizeof(release_rp), 0);
    }
    if (rc == 0) {
        rc = ns__synth_tcp_close(&c, 0);
    }
    if (rc == 0) {
        /* the requestor's identity: the model (most specific), its AE, the data sets' attributes */
        const char *const idents[][2] = {{"DICOM (0008,1090) model name", m->model},
                                         {"DICOM calling AE title", m->ae},
                                         {"DICOM implementation class UID", m->impl_uid},
                                         {"DICOM implementation version name", m->impl_version},
                                         {"DICOM (0018,1000) device serial number", st.serial},
                                         {"DICOM (0008,0070) manufacturer", m->manufacturer},
                                         {"DICOM (0008,0060) modality", m->modality},
                                         {"DICOM (0018,1020) software versions", m->software},
                                         {"DICOM (0008,0080) institution name", "GENERAL HOSPITAL"},
                                         {"DICOM (0008,1010) station name", m->station}};
        rc = ns__synth_truth_device(x, "dicom", &cli, m->port, idents, NELEM(idents));
    }
    return rc;
}

int ns__synth_kind_dicom(struct ns__synth_ctx *x, uint64_t t0)
{
    uint64_t t = t0;
    for (unsigned i = 0; i < NELEM(mods); i++) {
        int rc = association(x, &mods[i], i, t);
        if (rc != 0) {
            return rc;
        }
        t += ns__synth_between(&x->rng, 10000, 500000);
    }
    return 0;
}
