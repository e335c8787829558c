/*
 * analyze_devices.c - the medical device inventory (devices.h): TCP stream
 * callbacks -> protocol detection per direction -> HL7 v2 (hl7.h) or DICOM
 * upper layer (dicom.h, PS3.8 section 9.3) parsers -> evidence merged into
 * one asset per device address -> reports when an asset is new or changed.
 *
 * Detection looks at the first bytes of a direction:
 *
 *   HL7 over MLLP:  0x0B 'M' 'S' 'H' ...        bare HL7:  'M' 'S' 'H' ...
 *   DICOM A-ASSOCIATE-RQ (PS3.8 9.3.2):
 *     +------+----------+---------------------+--------------------+
 *     | 0x01 | reserved | PDU length (u32 BE) | protocol version 1 | ...
 *     +------+----------+---------------------+--------------------+
 *     length >= 68 (the fixed part of the RQ body) and <= the PDU cap
 *
 * Up to 8 bytes are held when a direction's first chunk is too short to
 * decide. Assets live in a slab indexed by an open-addressing hash of the
 * address (linear probing; the slab only grows, up to max_devices).
 */
#include "netsift/devices.h"

#include <string.h>
#include <time.h>

#include "netsift/alloc.h"
#include "netsift/err.h"
#include "netsift/jsonw.h"

#define DEV_DEFAULT_MAX_DEVICES 65536u
#define DEV_DEFAULT_MAX_IDENTS  32u
#define DEV_DEFAULT_MAX_VALUE   256u
#define DEV_DICOM_MIN_RQ_LEN    68u
#define DEV_DICOM_DEFAULT_PDU   (1u << 20)
#define DEV_PRE_MAX             8u
#define DEV_RANK_CONTEXT        255u /* listed, never chosen as `identifier` */
#define DEV_NO_ASSET            UINT32_MAX

/* Provenance labels of the DICOM identifiers (the HL7 ones come from hl7.h). */
static const char prov_calling_ae[] = "DICOM calling AE title";
static const char prov_impl_uid[] = "DICOM implementation class UID";
static const char prov_impl_version[] = "DICOM implementation version name";
static const char prov_model[] = "DICOM (0008,1090) model name";
static const char prov_serial[] = "DICOM (0018,1000) device serial number";
static const char prov_manufacturer[] = "DICOM (0008,0070) manufacturer";
static const char prov_modality[] = "DICOM (0008,0060) modality";
static const char prov_software[] = "DICOM (0018,1020) software versions";
static const char prov_institution[] = "DICOM (0008,0080) institution name";
static const char prov_station[] = "DICOM (0008,1010) station name";
static const char prov_msh3[] = "HL7 MSH-3";
static const char prov_msh4[] = "HL7 MSH-4";

struct dev_ident {
    char *value;
    const char *prov; /* static */
    uint8_t rank;
};

struct dev_asset {
    struct ns_addr addr;
    uint8_t mac[6];
    bool has_mac;
    bool dirty;   /* in the dirty list */
    bool changed; /* a reported field changed since the last report */
    const char *vendor;
    uint16_t open_port;
    uint16_t connect_port;
    unsigned protocols;
    uint64_t id;
    uint64_t reports;
    uint64_t first_ns;
    uint64_t last_ns;
    uint64_t reported_last_ns;
    struct dev_ident *idents; /* max_idents slots, allocated with the asset */
    size_t nidents;
    size_t best; /* index in idents, or SIZE_MAX */
    char community_id[40];
};

enum dev_dir_state {
    DIR_UNDECIDED = 0,
    DIR_PARSE,
    DIR_IGNORED,
};

enum dev_proto {
    PROTO_NONE = 0,
    PROTO_HL7,
    PROTO_DICOM,
};

enum dev_detect {
    DET_NONE = 0,
    DET_MORE,
    DET_HL7,
    DET_DICOM,
};

/* Attributes of the first data set of an association (copies). */
struct dev_dsattrs {
    char *v[7]; /* model, serial, manufacturer, modality, software, institution, station */
};

struct dev_conn;

struct dev_dirctx {
    struct dev_conn *conn;
    int dir;
};

struct dev_conn {
    struct ns_devices *d;
    uint8_t proto;    /* enum dev_proto */
    uint8_t state[2]; /* enum dev_dir_state */
    uint8_t pre[2][DEV_PRE_MAX];
    uint8_t npre[2];
    struct dev_dirctx dc[2];
    struct ns_hl7_parser *hl7[2];
    struct ns_dicom_parser *dicom[2];
    struct ns_addr addr[2]; /* 0: the flow's src (initiator) */
    uint16_t port[2];
    char community_id[40];
    /* DICOM */
    int requestor;        /* direction that sent the A-ASSOCIATE-RQ, or -1 */
    uint16_t last_cmd[2]; /* command field of the last command set per direction */
    struct dev_dsattrs *ds;
    uint32_t nds;
    bool ds_disagree;
    uint64_t ds_ns;
};

struct ns_devices {
    struct ns_devices_opts o;
    char *client_id;
    uint8_t marks[3]; /* conn->app markers: dir 0 ignored, dir 1 ignored, both */
    struct dev_asset *assets;
    size_t nassets;
    size_t capassets;
    uint32_t *slots; /* asset index + 1; 0 = empty */
    size_t nslots;   /* power of two */
    uint32_t *dirty;
    size_t ndirty;
    struct ns_device_ident *snap; /* max_idents entries, for reports */
    uint64_t now_ns;
    struct ns_devices_stats st;
};

/* ------------------------------------------------------------------ */
/* assets */

static uint32_t addr_hash(const struct ns_addr *a)
{
    /* FNV-1a over the family and the 16 address bytes */
    uint32_t h = 2166136261u;
    h = (h ^ a->family) * 16777619u;
    for (size_t i = 0; i < sizeof(a->a); i++) {
        h = (h ^ a->a[i]) * 16777619u;
    }
    return h;
}

static bool addr_eq(const struct ns_addr *x, const struct ns_addr *y)
{
    return x->family == y->family && memcmp(x->a, y->a, sizeof(x->a)) == 0;
}

static int slots_grow(struct ns_devices *d)
{
    size_t n = d->nslots == 0 ? 64 : d->nslots * 2;
    uint32_t *s = ns_calloc(n, sizeof(*s));
    if (s == NULL) {
        return NS_ENOMEM;
    }
    for (size_t i = 0; i < d->nassets; i++) {
        size_t k = addr_hash(&d->assets[i].addr) & (n - 1);
        while (s[k] != 0) {
            k = (k + 1) & (n - 1);
        }
        s[k] = (uint32_t)i + 1;
    }
    ns_free(d->slots);
    d->slots = s;
    d->nslots = n;
    return 0;
}

/* The asset of address a, created if needed; DEV_NO_ASSET at the cap or on allocation failure. */
static uint32_t asset_get(struct ns_devices *d, const struct ns_addr *a)
{
    if (d->nslots > 0) {
        size_t k = addr_hash(a) & (d->nslots - 1);
        while (d->slots[k] != 0) {
            uint32_t i = d->slots[k] - 1;
            if (addr_eq(&d->assets[i].addr, a)) {
                return i;
            }
            k = (k + 1) & (d->nslots - 1);
        }
    }
    if (d->nassets >= d->o.max_devices) {
        d->st.devices_dropped++;
        return DEV_NO_ASSET;
    }
    if ((d->nassets + 1) * 2 > d->nslots && slots_grow(d) != 0) {
        d->st.no_memory++;
        return DEV_NO_ASSET;
    }
    if (d->nassets == d->capassets) {
        size_t n = d->capassets == 0 ? 16 : d->capassets * 2;
        struct dev_asset *as = ns_reallocarray(d->assets, n, sizeof(*as));
        uint32_t *dl = NULL;
        if (as != NULL) {
            d->assets = as;
            dl = ns_reallocarray(d->dirty, n, sizeof(*dl));
        }
        if (dl == NULL) {
            d->st.no_memory++;
            return DEV_NO_ASSET;
        }
        d->dirty = dl;
        d->capassets = n;
    }
    struct dev_asset *as = &d->assets[d->nassets];
    memset(as, 0, sizeof(*as));
    as->idents = ns_calloc(d->o.max_idents, sizeof(*as->idents));
    if (as->idents == NULL) {
        d->st.no_memory++;
        return DEV_NO_ASSET;
    }
    as->addr = *a;
    as->best = SIZE_MAX;
    as->vendor = "";
    as->id = d->nassets + 1;
    as->changed = true; /* new */
    uint32_t i = (uint32_t)d->nassets++;
    size_t k = addr_hash(a) & (d->nslots - 1);
    while (d->slots[k] != 0) {
        k = (k + 1) & (d->nslots - 1);
    }
    d->slots[k] = i + 1;
    d->st.devices++;
    return i;
}

static void asset_mark(struct ns_devices *d, uint32_t i)
{
    struct dev_asset *as = &d->assets[i];
    if (!as->dirty) {
        as->dirty = true;
        d->dirty[d->ndirty++] = i;
    }
}

/* Record evidence seen at ts on the connection k: times, community ID, protocol. */
static void asset_evidence(struct ns_devices *d, uint32_t i, const struct dev_conn *k,
                           unsigned proto, uint64_t ts)
{
    struct dev_asset *as = &d->assets[i];
    if (as->first_ns == 0 || ts < as->first_ns) {
        as->first_ns = ts;
    }
    if (ts > as->last_ns) {
        as->last_ns = ts;
    }
    memcpy(as->community_id, k->community_id, sizeof(as->community_id));
    if ((as->protocols & proto) == 0) {
        as->protocols |= proto;
        as->changed = true;
    }
    asset_mark(d, i);
}

/* Length of (s, n) cut to at most max bytes at a UTF-8 character boundary. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max) {
        return n;
    }
    size_t k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80) {
        k--;
    }
    return k;
}

/* Add one identifier to asset i unless it is empty or already there. */
static void asset_ident(struct ns_devices *d, uint32_t i, const char *v, size_t n, const char *prov,
                        uint8_t rank)
{
    struct dev_asset *as = &d->assets[i];
    /* HL7's null value ("") and trailing spaces say nothing */
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\0')) {
        n--;
    }
    if (n == 0 || (n == 2 && v[0] == '"' && v[1] == '"')) {
        return;
    }
    size_t k = utf8_cut(v, n, d->o.max_value_bytes);
    for (size_t j = 0; j < as->nidents; j++) {
        const struct dev_ident *e = &as->idents[j];
        if (e->prov == prov && strlen(e->value) == k && memcmp(e->value, v, k) == 0) {
            return;
        }
    }
    if (k < n) {
        d->st.values_cut++;
    }
    if (as->nidents >= d->o.max_idents) {
        d->st.idents_dropped++;
        return;
    }
    char *copy = ns_strndup(v, k);
    if (copy == NULL) {
        d->st.no_memory++;
        return;
    }
    struct dev_ident *e = &as->idents[as->nidents];
    e->value = copy;
    e->prov = prov;
    e->rank = rank;
    if (rank != DEV_RANK_CONTEXT && (as->best == SIZE_MAX || rank < as->idents[as->best].rank)) {
        as->best = as->nidents;
    }
    as->nidents++;
    as->changed = true;
}

static void asset_connect_port(struct dev_asset *as, uint16_t port)
{
    if (as->connect_port == 0 && port != 0) {
        as->connect_port = port;
        as->changed = true;
    }
}

static void asset_open_port(struct dev_asset *as, uint16_t port)
{
    if (as->open_port == 0 && port != 0) {
        as->open_port = port;
        as->changed = true;
    }
}

static void format_mac(const uint8_t m[6], char *out, size_t size)
{
    snprintf(out, size, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void asset_report(struct ns_devices *d, struct dev_asset *as)
{
    struct ns_device r;
    memset(&r, 0, sizeof(r));
    r.id = as->id;
    r.report = as->reports + 1;
    if (as->addr.family == 4) {
        ns_addr_format(&as->addr, r.ipv4_address, sizeof(r.ipv4_address));
    } else {
        ns_addr_format(&as->addr, r.ipv6_address, sizeof(r.ipv6_address));
    }
    if (as->has_mac) {
        format_mac(as->mac, r.mac_address, sizeof(r.mac_address));
    }
    r.vendor = as->vendor;
    r.open_port_tcp = as->open_port;
    r.connect_port_tcp = as->connect_port;
    r.identifier = as->best == SIZE_MAX ? "" : as->idents[as->best].value;
    r.provenance = as->best == SIZE_MAX ? "" : as->idents[as->best].prov;
    for (size_t j = 0; j < as->nidents; j++) {
        d->snap[j].value = as->idents[j].value;
        d->snap[j].provenance = as->idents[j].prov;
    }
    r.identifiers = d->snap;
    r.nidentifiers = as->nidents;
    r.protocols = as->protocols;
    r.first_ns = as->first_ns;
    r.last_ns = as->last_ns;
    r.client_id = d->client_id;
    r.community_id = as->community_id;
    as->reports++;
    as->reported_last_ns = as->last_ns;
    as->changed = false;
    d->st.records++;
    d->o.on_record(d->o.ud, &r);
}

/* Report the dirty assets that changed; `p` (may be NULL) lends its source MAC. */
static void flush_dirty(struct ns_devices *d, const struct ns_packet *p)
{
    for (size_t j = 0; j < d->ndirty; j++) {
        struct dev_asset *as = &d->assets[d->dirty[j]];
        as->dirty = false;
        if (p != NULL && !as->has_mac && p->mac_src != NULL && addr_eq(&p->src, &as->addr)) {
            static const uint8_t zero[6] = {0};
            /* an all-zero source (loopback captures) is no hardware address */
            if (memcmp(p->mac_src, zero, 6) != 0) {
                memcpy(as->mac, p->mac_src, 6);
                as->has_mac = true;
                as->changed = true;
                if (d->o.oui != NULL) {
                    const char *v = ns_oui_lookup(d->o.oui, as->mac);
                    as->vendor = v != NULL ? v : "";
                }
            }
        }
        if (as->changed) {
            asset_report(d, as);
        }
    }
    d->ndirty = 0;
}

/* ------------------------------------------------------------------ */
/* HL7 */

static uint8_t hl7_rank(enum ns_hl7_field f)
{
    switch (f) {
    case NS_HL7_PRT_10:
        return 0;
    case NS_HL7_PRT_16:
        return 1;
    case NS_HL7_OBX_18:
        return 2;
    case NS_HL7_PRT_20:
        return 6;
    case NS_HL7_PRT_22:
        return 7;
    default:
        return 8;
    }
}

static void hl7_on_message(void *ud, const struct ns_hl7_msg *m)
{
    struct dev_dirctx *dc = ud;
    struct dev_conn *k = dc->conn;
    struct ns_devices *d = k->d;
    d->st.hl7_messages++;
    if (m->nidents == 0) {
        return; /* no device identifier: no asset (devices.h) */
    }
    uint32_t i = asset_get(d, &k->addr[dc->dir]);
    if (i == DEV_NO_ASSET) {
        return;
    }
    for (size_t j = 0; j < m->nidents; j++) {
        const struct ns_hl7_ident *id = &m->idents[j];
        asset_ident(d, i, id->raw.ptr, id->raw.len, ns_hl7_provenance(id->field),
                    hl7_rank(id->field));
    }
    asset_ident(d, i, m->sending_application.ptr, m->sending_application.len, prov_msh3,
                DEV_RANK_CONTEXT);
    asset_ident(d, i, m->sending_facility.ptr, m->sending_facility.len, prov_msh4,
                DEV_RANK_CONTEXT);
    if (dc->dir == 0) {
        asset_connect_port(&d->assets[i], k->port[1]);
    } else {
        asset_open_port(&d->assets[i], k->port[1]);
    }
    asset_evidence(d, i, k, NS_DEVICE_PROTO_HL7, d->now_ns);
}

/* ------------------------------------------------------------------ */
/* DICOM */

static void dicom_on_associate(void *ud, const struct ns_dicom_assoc *a)
{
    struct dev_dirctx *dc = ud;
    struct dev_conn *k = dc->conn;
    struct ns_devices *d = k->d;
    if (a->kind != NS_DICOM_PDU_ASSOCIATE_RQ) {
        return; /* the acceptor is the server, not a device (devices.h) */
    }
    d->st.associations++;
    k->requestor = dc->dir;
    uint32_t i = asset_get(d, &k->addr[dc->dir]);
    if (i == DEV_NO_ASSET) {
        return;
    }
    asset_ident(d, i, a->calling_ae, strlen(a->calling_ae), prov_calling_ae, 5);
    asset_ident(d, i, a->impl_class_uid.ptr, a->impl_class_uid.len, prov_impl_uid,
                DEV_RANK_CONTEXT);
    asset_ident(d, i, a->impl_version_name.ptr, a->impl_version_name.len, prov_impl_version,
                DEV_RANK_CONTEXT);
    asset_connect_port(&d->assets[i], k->port[1 - dc->dir]);
    asset_evidence(d, i, k, NS_DEVICE_PROTO_DICOM, d->now_ns);
}

static void ds_free(struct dev_dsattrs *ds)
{
    if (ds != NULL) {
        for (size_t j = 0; j < 7; j++) {
            ns_free(ds->v[j]);
        }
        ns_free(ds);
    }
}

/* The attributes of a data set in the order of struct dev_dsattrs. */
static void ds_views(const struct ns_dicom_dataset *s, struct ns_dicom_view v[7])
{
    v[0] = s->model_name;
    v[1] = s->device_serial_number;
    v[2] = s->manufacturer;
    v[3] = s->modality;
    v[4] = s->software_versions;
    v[5] = s->institution_name;
    v[6] = s->station_name;
}

static bool view_eq(const char *copy, struct ns_dicom_view v)
{
    size_t n = copy == NULL ? 0 : strlen(copy);
    return n == v.len && (n == 0 || memcmp(copy, v.ptr, n) == 0);
}

static void dicom_on_command(void *ud, const struct ns_dicom_command *c)
{
    struct dev_dirctx *dc = ud;
    dc->conn->last_cmd[dc->dir] = c->command_field;
}

static void dicom_on_dataset(void *ud, const struct ns_dicom_dataset *s)
{
    struct dev_dirctx *dc = ud;
    struct dev_conn *k = dc->conn;
    struct ns_devices *d = k->d;
    /* only what the requestor stores (C-STORE-RQ) describes the requestor */
    if (dc->dir != k->requestor || k->last_cmd[dc->dir] != 0x0001) {
        return;
    }
    struct ns_dicom_view v[7];
    ds_views(s, v);
    k->ds_ns = d->now_ns;
    if (k->nds == 0) {
        k->ds = ns_calloc(1, sizeof(*k->ds));
        if (k->ds == NULL) {
            d->st.no_memory++;
            return;
        }
        for (size_t j = 0; j < 7; j++) {
            size_t n = utf8_cut(v[j].ptr, v[j].len, d->o.max_value_bytes);
            if (n > 0) {
                k->ds->v[j] = ns_strndup(v[j].ptr, n);
                if (k->ds->v[j] == NULL) {
                    d->st.no_memory++;
                }
            }
        }
    } else if (k->ds != NULL) {
        /* model, serial, manufacturer must agree */
        for (size_t j = 0; j < 3; j++) {
            size_t n = utf8_cut(v[j].ptr, v[j].len, d->o.max_value_bytes);
            struct ns_dicom_view cut = {v[j].ptr, n};
            if (!view_eq(k->ds->v[j], cut)) {
                k->ds_disagree = true;
            }
        }
    }
    k->nds++;
}

/* The association ended (or the stream did): add the data-set attributes if they agreed. */
static void dicom_commit(struct dev_conn *k)
{
    struct ns_devices *d = k->d;
    if (k->nds == 0 || k->requestor < 0) {
        return;
    }
    if (k->ds_disagree) {
        d->st.datasets_disagreeing++;
    } else if (k->ds != NULL) {
        static const char *const prov[7] = {prov_model,    prov_serial,   prov_manufacturer,
                                            prov_modality, prov_software, prov_institution,
                                            prov_station};
        static const uint8_t rank[7] = {3,
                                        4,
                                        DEV_RANK_CONTEXT,
                                        DEV_RANK_CONTEXT,
                                        DEV_RANK_CONTEXT,
                                        DEV_RANK_CONTEXT,
                                        DEV_RANK_CONTEXT};
        uint32_t i = asset_get(d, &k->addr[k->requestor]);
        if (i != DEV_NO_ASSET) {
            for (size_t j = 0; j < 7; j++) {
                if (k->ds->v[j] != NULL) {
                    asset_ident(d, i, k->ds->v[j], strlen(k->ds->v[j]), prov[j], rank[j]);
                }
            }
            asset_evidence(d, i, k, NS_DEVICE_PROTO_DICOM, k->ds_ns);
            d->st.datasets_used += k->nds;
        }
    }
    ds_free(k->ds);
    k->ds = NULL;
    k->nds = 0;
    k->ds_disagree = false;
}

static void dicom_on_reject(void *ud, uint8_t result, uint8_t source, uint8_t reason)
{
    struct dev_dirctx *dc = ud;
    (void)result;
    (void)source;
    (void)reason;
    dc->conn->d->st.rejected++;
}

static void dicom_on_abort(void *ud, uint8_t source, uint8_t reason)
{
    struct dev_dirctx *dc = ud;
    (void)source;
    (void)reason;
    dc->conn->d->st.aborted++;
    dicom_commit(dc->conn);
}

static void dicom_on_release(void *ud, bool response)
{
    struct dev_dirctx *dc = ud;
    (void)response;
    dicom_commit(dc->conn);
}

/* ------------------------------------------------------------------ */
/* connections */

static enum dev_detect detect(const struct ns_devices *d, const uint8_t *p, size_t n)
{
    if (n == 0) {
        return DET_MORE;
    }
    if (p[0] == 0x0b) {
        return DET_HL7;
    }
    if (p[0] == 'M') {
        if (n < 3) {
            return n < 2 || p[1] == 'S' ? DET_MORE : DET_NONE;
        }
        return p[1] == 'S' && p[2] == 'H' ? DET_HL7 : DET_NONE;
    }
    if (p[0] == 0x01) {
        if (n < 8) {
            return n < 2 || p[1] == 0 ? DET_MORE : DET_NONE;
        }
        uint32_t len = (uint32_t)p[2] << 24 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 8 | p[5];
        size_t cap =
            d->o.dicom.max_pdu_bytes == 0 ? DEV_DICOM_DEFAULT_PDU : d->o.dicom.max_pdu_bytes;
        if (p[1] == 0 && len >= DEV_DICOM_MIN_RQ_LEN && len <= cap && p[6] == 0 && p[7] == 1) {
            return DET_DICOM;
        }
    }
    return DET_NONE;
}

static void conn_parsers_stats(struct dev_conn *k)
{
    struct ns_devices *d = k->d;
    for (int dir = 0; dir < 2; dir++) {
        if (k->hl7[dir] != NULL) {
            const struct ns_hl7_stats *s = ns_hl7_stats(k->hl7[dir]);
            d->st.hl7_malformed += s->malformed + s->oversized;
        }
        if (k->dicom[dir] != NULL) {
            const struct ns_dicom_stats *s = ns_dicom_stats(k->dicom[dir]);
            d->st.dicom_pdus += s->pdus;
            d->st.dicom_malformed += s->malformed + s->oversized;
        }
    }
}

static void conn_free(struct dev_conn *k)
{
    if (k == NULL) {
        return;
    }
    for (int dir = 0; dir < 2; dir++) {
        ns_hl7_parser_free(k->hl7[dir]);
        ns_dicom_parser_free(k->dicom[dir]);
    }
    ds_free(k->ds);
    ns_free(k);
}

static struct dev_conn *conn_new(struct ns_devices *d, struct ns_tcp_conn *c, unsigned ignored)
{
    struct dev_conn *k = ns_calloc(1, sizeof(*k));
    if (k == NULL) {
        return NULL;
    }
    k->d = d;
    k->requestor = -1;
    for (int dir = 0; dir < 2; dir++) {
        k->dc[dir].conn = k;
        k->dc[dir].dir = dir;
        k->state[dir] = (ignored & (1u << dir)) != 0 ? DIR_IGNORED : DIR_UNDECIDED;
    }
    ns_flow_endpoints(c->flow, &k->addr[0], &k->port[0], &k->addr[1], &k->port[1]);
    if (ns_flow_community_id(c->flow, 0, k->community_id, sizeof(k->community_id)) != 0) {
        k->community_id[0] = '\0';
    }
    return k;
}

/* The parser of direction dir, created (and for DICOM paired) on first use. */
static int conn_parser(struct dev_conn *k, int dir)
{
    struct ns_devices *d = k->d;
    if (k->proto == PROTO_HL7 && k->hl7[dir] == NULL) {
        struct ns_hl7_callbacks cb = {.on_message = hl7_on_message, .ud = &k->dc[dir]};
        return ns_hl7_parser_new(&k->hl7[dir], &d->o.hl7, &cb);
    }
    if (k->proto == PROTO_DICOM && k->dicom[dir] == NULL) {
        struct ns_dicom_callbacks cb = {
            .on_associate = dicom_on_associate,
            .on_reject = dicom_on_reject,
            .on_abort = dicom_on_abort,
            .on_release = dicom_on_release,
            .on_command = dicom_on_command,
            .on_dataset_attrs = dicom_on_dataset,
            .ud = &k->dc[dir],
        };
        int rc = ns_dicom_parser_new(&k->dicom[dir], &d->o.dicom, &cb);
        if (rc == 0 && k->dicom[1 - dir] != NULL) {
            ns_dicom_pair(k->dicom[0], k->dicom[1]);
        }
        return rc;
    }
    return 0;
}

static void conn_feed_parser(struct dev_conn *k, int dir, const uint8_t *p, size_t n)
{
    if (n == 0) {
        return;
    }
    if (conn_parser(k, dir) != 0) {
        k->d->st.no_memory++;
        k->state[dir] = DIR_IGNORED;
        return;
    }
    if (k->proto == PROTO_HL7) {
        (void)ns_hl7_feed(k->hl7[dir], p, n); /* malformed input is counted by the parser */
    } else {
        (void)ns_dicom_feed(k->dicom[dir], p, n);
    }
}

static void conn_set_proto(struct dev_conn *k, enum dev_detect det)
{
    k->proto = det == DET_HL7 ? PROTO_HL7 : PROTO_DICOM;
    if (k->proto == PROTO_HL7) {
        k->d->st.conns_hl7++;
    } else {
        k->d->st.conns_dicom++;
    }
    /* the other direction follows, even if its first bytes did not match */
    for (int dir = 0; dir < 2; dir++) {
        if (k->state[dir] == DIR_IGNORED) {
            k->state[dir] = DIR_PARSE;
        }
    }
}

static void conn_data(struct dev_conn *k, int dir, const uint8_t *p, size_t n)
{
    if (k->state[dir] == DIR_PARSE) {
        conn_feed_parser(k, dir, p, n);
        return;
    }
    if (k->state[dir] == DIR_IGNORED) {
        return;
    }
    /* undecided: decide from the first bytes, holding a few if needed */
    if (k->proto != PROTO_NONE) {
        k->state[dir] = DIR_PARSE;
        conn_feed_parser(k, dir, k->pre[dir], k->npre[dir]);
        conn_feed_parser(k, dir, p, n);
        return;
    }
    size_t take = DEV_PRE_MAX - k->npre[dir];
    take = take < n ? take : n;
    memcpy(k->pre[dir] + k->npre[dir], p, take);
    k->npre[dir] = (uint8_t)(k->npre[dir] + take);
    enum dev_detect det = detect(k->d, k->pre[dir], k->npre[dir]);
    if (det == DET_MORE && k->npre[dir] < DEV_PRE_MAX) {
        return;
    }
    if (det == DET_HL7 || det == DET_DICOM) {
        conn_set_proto(k, det);
        k->state[dir] = DIR_PARSE;
        conn_feed_parser(k, dir, k->pre[dir], k->npre[dir]);
        conn_feed_parser(k, dir, p + take, n - take);
        return;
    }
    k->state[dir] = DIR_IGNORED;
    if (k->state[1 - dir] == DIR_IGNORED) {
        k->d->st.conns_ignored++;
    }
}

static bool is_mark(const struct ns_devices *d, const void *app, unsigned *ignored)
{
    for (unsigned j = 0; j < 3; j++) {
        if (app == &d->marks[j]) {
            *ignored = j + 1;
            return true;
        }
    }
    *ignored = 0;
    return app == NULL;
}

void ns_devices_on_data(void *ud, struct ns_tcp_conn *c, int dir, const uint8_t *data, size_t len,
                        uint64_t ts_ns)
{
    struct ns_devices *d = ud;
    unsigned ignored = 0;
    if (c->app == &d->marks[2]) {
        return; /* both directions ignored: the common case for other traffic */
    }
    d->now_ns = ts_ns;
    if (is_mark(d, c->app, &ignored)) {
        if ((ignored & (1u << dir)) != 0) {
            return;
        }
        enum dev_detect det = detect(d, data, len);
        if (det == DET_NONE) {
            ignored |= 1u << dir;
            c->app = &d->marks[ignored - 1];
            if (ignored == 3) {
                d->st.conns_ignored++;
            }
            return;
        }
        struct dev_conn *k = conn_new(d, c, ignored);
        if (k == NULL) {
            d->st.no_memory++;
            c->app = &d->marks[2];
            return;
        }
        c->app = k;
    }
    conn_data(c->app, dir, data, len);
}

void ns_devices_on_gap(void *ud, struct ns_tcp_conn *c, int dir, uint64_t len, uint64_t ts_ns)
{
    struct ns_devices *d = ud;
    unsigned ignored = 0;
    if (is_mark(d, c->app, &ignored)) {
        return;
    }
    struct dev_conn *k = c->app;
    d->now_ns = ts_ns;
    if (k->hl7[dir] != NULL) {
        ns_hl7_gap(k->hl7[dir], len);
    }
    if (k->dicom[dir] != NULL) {
        ns_dicom_gap(k->dicom[dir], len);
    }
}

void ns_devices_on_close(void *ud, struct ns_tcp_conn *c, int dir, enum ns_tcp_close why,
                         uint64_t ts_ns)
{
    struct ns_devices *d = ud;
    unsigned ignored = 0;
    (void)why;
    if (is_mark(d, c->app, &ignored)) {
        return;
    }
    struct dev_conn *k = c->app;
    d->now_ns = ts_ns;
    if (k->hl7[dir] != NULL) {
        ns_hl7_close(k->hl7[dir]);
    }
    if (k->dicom[dir] != NULL) {
        ns_dicom_close(k->dicom[dir]);
    }
}

void ns_devices_on_conn_end(void *ud, struct ns_tcp_conn *c)
{
    struct ns_devices *d = ud;
    unsigned ignored = 0;
    if (is_mark(d, c->app, &ignored)) {
        c->app = NULL;
        return;
    }
    struct dev_conn *k = c->app;
    dicom_commit(k);
    conn_parsers_stats(k);
    conn_free(k);
    c->app = NULL;
}

/* ------------------------------------------------------------------ */
/* the analyzer */

int ns_devices_new(struct ns_devices **out, const struct ns_devices_opts *opts)
{
    if (out == NULL || opts == NULL || opts->on_record == NULL) {
        return NS_EINVAL;
    }
    *out = NULL;
    struct ns_devices *d = ns_calloc(1, sizeof(*d));
    if (d == NULL) {
        return NS_ENOMEM;
    }
    d->o = *opts;
    if (d->o.max_devices == 0) {
        d->o.max_devices = DEV_DEFAULT_MAX_DEVICES;
    }
    if (d->o.max_devices > UINT32_MAX / 4) {
        d->o.max_devices = UINT32_MAX / 4;
    }
    if (d->o.max_idents == 0) {
        d->o.max_idents = DEV_DEFAULT_MAX_IDENTS;
    }
    if (d->o.max_value_bytes == 0) {
        d->o.max_value_bytes = DEV_DEFAULT_MAX_VALUE;
    }
    d->client_id = ns_strdup(opts->client_id != NULL ? opts->client_id : "");
    d->snap = ns_calloc(d->o.max_idents, sizeof(*d->snap));
    if (d->client_id == NULL || d->snap == NULL) {
        ns_devices_free(d);
        return NS_ENOMEM;
    }
    d->o.client_id = d->client_id;
    *out = d;
    return 0;
}

void ns_devices_tcp_callbacks(struct ns_devices *d, struct ns_tcp_reasm_opts *o)
{
    o->on_data = ns_devices_on_data;
    o->on_gap = ns_devices_on_gap;
    o->on_close = ns_devices_on_close;
    o->on_conn_end = ns_devices_on_conn_end;
    o->ud = d;
}

void ns_devices_packet(struct ns_devices *d, const struct ns_packet *p)
{
    if (d->ndirty == 0) {
        return;
    }
    flush_dirty(d, p);
}

void ns_devices_flush(struct ns_devices *d)
{
    flush_dirty(d, NULL);
}

void ns_devices_finish(struct ns_devices *d)
{
    flush_dirty(d, NULL);
    for (size_t i = 0; i < d->nassets; i++) {
        struct dev_asset *as = &d->assets[i];
        if (as->reports > 0 && as->last_ns != as->reported_last_ns) {
            asset_report(d, as);
        }
    }
}

const struct ns_devices_stats *ns_devices_stats(const struct ns_devices *d)
{
    return &d->st;
}

void ns_devices_free(struct ns_devices *d)
{
    if (d == NULL) {
        return;
    }
    for (size_t i = 0; i < d->nassets; i++) {
        for (size_t j = 0; j < d->assets[i].nidents; j++) {
            ns_free(d->assets[i].idents[j].value);
        }
        ns_free(d->assets[i].idents);
    }
    ns_free(d->assets);
    ns_free(d->slots);
    ns_free(d->dirty);
    ns_free(d->snap);
    ns_free(d->client_id);
    ns_free(d);
}

const char *ns_devices_protocol_name(unsigned protocols)
{
    switch (protocols & (NS_DEVICE_PROTO_HL7 | NS_DEVICE_PROTO_DICOM)) {
    case NS_DEVICE_PROTO_HL7:
        return "hl7";
    case NS_DEVICE_PROTO_DICOM:
        return "dicom";
    case NS_DEVICE_PROTO_HL7 | NS_DEVICE_PROTO_DICOM:
        return "hl7,dicom";
    default:
        return "";
    }
}

/* ------------------------------------------------------------------ */
/* output */

/* RFC 3339 UTC with microseconds, nanoseconds truncated; "" for 0. */
static void format_time(uint64_t ts_ns, char *buf, size_t size)
{
    if (ts_ns == 0) {
        buf[0] = '\0';
        return;
    }
    time_t secs = (time_t)(ts_ns / 1000000000u);
    unsigned us = (unsigned)(ts_ns % 1000000000u / 1000u);
    struct tm tm;
    char base[32];
    if (gmtime_r(&secs, &tm) == NULL ||
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        buf[0] = '\0';
        return;
    }
    snprintf(buf, size, "%s.%06uZ", base, us);
}

static void port_text(uint16_t port, char *buf, size_t size)
{
    if (port == 0) {
        buf[0] = '\0';
    } else {
        snprintf(buf, size, "%u", (unsigned)port);
    }
}

int ns_device_json(const struct ns_device *dev, char *buf, size_t cap, size_t *len)
{
    struct ns_jsonw w;
    char t1[40];
    char t2[40];
    char op[8];
    char cp[8];
    format_time(dev->first_ns, t1, sizeof(t1));
    format_time(dev->last_ns, t2, sizeof(t2));
    port_text(dev->open_port_tcp, op, sizeof(op));
    port_text(dev->connect_port_tcp, cp, sizeof(cp));
    ns_jsonw_begin(&w, buf, cap);
    ns_jsonw_cstr(&w, "type", "device");
    ns_jsonw_u64(&w, "schema", NS_DEVICE_SCHEMA);
    ns_jsonw_cstr(&w, "ipv4_address", dev->ipv4_address);
    ns_jsonw_cstr(&w, "ipv6_address", dev->ipv6_address);
    ns_jsonw_cstr(&w, "mac_address", dev->mac_address);
    ns_jsonw_cstr(&w, "vendor", dev->vendor != NULL ? dev->vendor : "");
    ns_jsonw_cstr(&w, "open_port_tcp", op);
    ns_jsonw_cstr(&w, "connect_port_tcp", cp);
    ns_jsonw_cstr(&w, "identifier", dev->identifier);
    ns_jsonw_cstr(&w, "provenance", dev->provenance);
    ns_jsonw_arr_begin(&w, "identifiers");
    for (size_t j = 0; j < dev->nidentifiers; j++) {
        ns_jsonw_obj_begin(&w, NULL);
        ns_jsonw_cstr(&w, "value", dev->identifiers[j].value);
        ns_jsonw_cstr(&w, "provenance", dev->identifiers[j].provenance);
        ns_jsonw_obj_end(&w);
    }
    ns_jsonw_arr_end(&w);
    ns_jsonw_cstr(&w, "protocol", ns_devices_protocol_name(dev->protocols));
    ns_jsonw_cstr(&w, "first_seen", t1);
    ns_jsonw_cstr(&w, "last_seen", t2);
    ns_jsonw_cstr(&w, "client_id", dev->client_id != NULL ? dev->client_id : "");
    ns_jsonw_cstr(&w, "community_id", dev->community_id != NULL ? dev->community_id : "");
    return ns_jsonw_end(&w, len);
}

/* One CSV field (RFC 4180 section 2): quoted when asked or when it needs to be. */
static int csv_field(FILE *fp, const char *s, bool quote)
{
    if (!quote && strpbrk(s, ",\"\r\n") == NULL) {
        return fputs(s, fp) == EOF ? NS_EIO : 0;
    }
    if (fputc('"', fp) == EOF) {
        return NS_EIO;
    }
    for (const char *c = s; *c != '\0'; c++) {
        if ((*c == '"' && fputc('"', fp) == EOF) || fputc(*c, fp) == EOF) {
            return NS_EIO;
        }
    }
    return fputc('"', fp) == EOF ? NS_EIO : 0;
}

static const char csv_header[] =
    "ipv4_address,ipv6_address,mac_address,vendor,open_port_tcp,connect_port_tcp,identifier,"
    "provenance,identifiers,protocol,first_seen,last_seen,client_id,community_id\n";

int ns_device_csv_header(FILE *fp)
{
    return fputs(csv_header, fp) == EOF ? NS_EIO : 0;
}

/* "prov=value;prov=value" with ';' and '%' in values percent-encoded, into a new string. */
static char *join_identifiers(const struct ns_device *dev)
{
    size_t n = 1;
    for (size_t j = 0; j < dev->nidentifiers; j++) {
        n += strlen(dev->identifiers[j].provenance) + 2 + 3 * strlen(dev->identifiers[j].value);
    }
    char *s = ns_malloc(n);
    if (s == NULL) {
        return NULL;
    }
    size_t k = 0;
    for (size_t j = 0; j < dev->nidentifiers; j++) {
        const char *prov = dev->identifiers[j].provenance;
        size_t pl = strlen(prov);
        if (j > 0) {
            s[k++] = ';';
        }
        memcpy(s + k, prov, pl);
        k += pl;
        s[k++] = '=';
        for (const char *c = dev->identifiers[j].value; *c != '\0'; c++) {
            if (*c == ';' || *c == '%') {
                s[k++] = '%';
                s[k++] = *c == ';' ? '3' : '2';
                s[k++] = *c == ';' ? 'B' : '5';
            } else {
                s[k++] = *c;
            }
        }
    }
    s[k] = '\0';
    return s;
}

int ns_device_csv(FILE *fp, const struct ns_device *dev)
{
    char t1[40];
    char t2[40];
    char op[8];
    char cp[8];
    format_time(dev->first_ns, t1, sizeof(t1));
    format_time(dev->last_ns, t2, sizeof(t2));
    port_text(dev->open_port_tcp, op, sizeof(op));
    port_text(dev->connect_port_tcp, cp, sizeof(cp));
    char *ids = join_identifiers(dev);
    if (ids == NULL) {
        return NS_ENOMEM;
    }
    const char *cols[14] = {dev->ipv4_address,
                            dev->ipv6_address,
                            dev->mac_address,
                            dev->vendor != NULL ? dev->vendor : "",
                            op,
                            cp,
                            dev->identifier,
                            dev->provenance,
                            ids,
                            ns_devices_protocol_name(dev->protocols),
                            t1,
                            t2,
                            dev->client_id != NULL ? dev->client_id : "",
                            dev->community_id != NULL ? dev->community_id : ""};
    int rc = 0;
    for (size_t j = 0; rc == 0 && j < 14; j++) {
        if (j > 0 && fputc(',', fp) == EOF) {
            rc = NS_EIO;
            break;
        }
        rc = csv_field(fp, cols[j], j == 8);
    }
    if (rc == 0 && fputc('\n', fp) == EOF) {
        rc = NS_EIO;
    }
    ns_free(ids);
    return rc;
}

int ns_device_text_header(FILE *fp)
{
    int n = fprintf(fp, "%-39s %-17s %-6s %-7s %-10s %-26s %s\n", "address", "mac", "open",
                    "connect", "protocol", "last_seen", "identifier (provenance)");
    return n < 0 ? NS_EIO : 0;
}

/* A value from the wire on a terminal: control bytes become '?' (no escape sequences). */
static int text_safe(FILE *fp, const char *s)
{
    for (const char *c = s; *c != '\0'; c++) {
        unsigned char b = (unsigned char)*c;
        if (fputc(b < 0x20 || b == 0x7f ? '?' : b, fp) == EOF) {
            return NS_EIO;
        }
    }
    return 0;
}

int ns_device_text(FILE *fp, const struct ns_device *dev)
{
    char t2[40];
    char op[8];
    char cp[8];
    format_time(dev->last_ns, t2, sizeof(t2));
    port_text(dev->open_port_tcp, op, sizeof(op));
    port_text(dev->connect_port_tcp, cp, sizeof(cp));
    const char *addr = dev->ipv4_address[0] != '\0' ? dev->ipv4_address : dev->ipv6_address;
    int n = fprintf(fp, "%-39s %-17s %-6s %-7s %-10s %-26s ", addr,
                    dev->mac_address[0] != '\0' ? dev->mac_address : "-", op[0] ? op : "-",
                    cp[0] ? cp : "-", ns_devices_protocol_name(dev->protocols), t2);
    int rc = n < 0 ? NS_EIO : text_safe(fp, dev->identifier[0] != '\0' ? dev->identifier : "-");
    if (rc == 0 && dev->provenance[0] != '\0') {
        rc = fprintf(fp, " (%s)", dev->provenance) < 0 ? NS_EIO : 0;
    }
    if (rc == 0 && fputc('\n', fp) == EOF) {
        rc = NS_EIO;
    }
    return rc;
}
