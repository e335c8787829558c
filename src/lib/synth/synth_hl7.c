/*
 * synth_hl7.c - HL7 v2.5 messages over MLLP for the generator.
 *
 * HL7 v2.5 chapter 2 (message structure: segments end with CR, fields are
 * separated by '|', components by '^'), chapter 3 (ADT^A01), chapter 7
 * (ORU^R01, OBX-18 equipment instance identifier), and the PRT segment
 * (participation, HL7 v2.7+ as profiled by IHE PCD: PRT-10 participation
 * device carries the UDI, PRT-16 the device identifier). Transport is the
 * Minimal Lower Layer Protocol (HL7 v2 implementation guide, appendix C):
 *
 *   +------+--------------------------------+------+------+
 *   | 0x0B | HL7 message (segments, CR)     | 0x1C | 0x0D |
 *   +------+--------------------------------+------+------+
 *
 * Devices connect to an interface engine on port 2575 (one on 6661), send
 * ADT^A01 with a PRT segment and ORU^R01 with OBX segments, and get an ACK
 * (MSA|AA) for each. A message is sometimes split over several TCP
 * segments, and sometimes two messages share one segment. Patients are
 * synthetic ("DOE^JANE").
 *
 * UDIs are GS1 strings: (01) GTIN-14 with its check digit, (17) expiry
 * YYMMDD, (21) serial number.
 */
#include "synth_int.h"

#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *name;
    const char *sex;
} patients[] = {{"DOE^JANE", "F"},    {"DOE^JOHN", "M"},     {"ROE^RICHARD", "M"},
                {"ROE^MARY", "F"},    {"TEST^PATIENT", "U"}, {"SAMPLE^ALEX", "U"},
                {"EXAMPLE^SAM", "M"}, {"DOE^BABY", "F"}};

struct hl7_dev {
    const char *prefix; /* device name prefix: PUMP, MON, VENT */
    const char *gtin13; /* GTIN-14 without its check digit */
    const char *app;    /* MSH-3 sending application */
    int vendor;
    uint16_t port;
    /* observations: id, value range, units */
    const char *obs_id[2];
    uint32_t lo[2], hi[2];
    const char *units[2];
};

static const struct hl7_dev devs[] = {
    {"PUMP",
     "0064316900176",
     "PUMPGW",
     NS__V_BAXTER,
     2575,
     {"157784^MDC_FLOW_FLUID_PUMP^MDC", "157872^MDC_VOL_FLUID_TBI^MDC"},
     {1, 10},
     {250, 900},
     {"265266^MDC_DIM_MILLI_L_PER_HR^MDC", "263762^MDC_DIM_MILLI_L^MDC"}},
    {"MON",
     "0088442700512",
     "PDSMON",
     NS__V_PHILIPS_MED,
     2575,
     {"150456^MDC_PULS_OXIM_SAT_O2^MDC", "149530^MDC_PULS_OXIM_PULS_RATE^MDC"},
     {88, 48},
     {100, 130},
     {"262688^MDC_DIM_PERCENT^MDC", "264864^MDC_DIM_BEAT_PER_MIN^MDC"}},
    {"VENT",
     "0040084980213",
     "VENTGW",
     NS__V_GE_HEALTH,
     6661,
     {"151562^MDC_RESP_RATE^MDC", "152664^MDC_VENT_VOL_TIDAL^MDC"},
     {10, 350},
     {30, 650},
     {"264928^MDC_DIM_RESP_PER_MIN^MDC", "263762^MDC_DIM_MILLI_L^MDC"}},
    {"PUMP",
     "0038290300041",
     "ALARIS",
     NS__V_BD,
     2575,
     {"157784^MDC_FLOW_FLUID_PUMP^MDC", "157872^MDC_VOL_FLUID_TBI^MDC"},
     {1, 10},
     {250, 900},
     {"265266^MDC_DIM_MILLI_L_PER_HR^MDC", "263762^MDC_DIM_MILLI_L^MDC"}},
};

/* What one device session knows while it writes messages. */
struct hl7_sess {
    const struct hl7_dev *dev;
    char equip[96]; /* EI: PUMP-7731^IHE^1.3.6.1.4.1.19376^ISO */
    char udi[80];
    const char *patient;
    const char *sex;
    char mrn[16];
    char dob[16];
    unsigned bed;
};

static char gs1_check(const char *d13)
{
    unsigned sum = 0;
    for (int i = 0; i < 13; i++) {
        unsigned v = (unsigned)(d13[12 - i] - '0');
        sum += (i % 2 == 0) ? 3 * v : v;
    }
    return (char)('0' + (10 - sum % 10) % 10);
}

/* Join fields with '|' and end the segment with CR. */
static int seg(struct ns__synth_buf *b, const char *const *f, size_t n)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i > 0) {
            rc = ns__synth_buf_put(b, "|", 1);
        }
        if (rc == 0 && f[i] != NULL) {
            rc = ns__synth_buf_put(b, f[i], strlen(f[i]));
        }
    }
    return rc == 0 ? ns__synth_buf_put(b, "\r", 1) : rc;
}

static int msh(struct ns__synth_buf *b, const char *app, const char *fac, const char *rapp,
               const char *rfac, const char *ts, const char *type, const char *ctrl)
{
    const char *f[] = {"MSH", "^~\\&", app, fac, rapp, rfac, ts, NULL, type, ctrl, "P", "2.5"};
    return seg(b, f, NELEM(f));
}

static int pid(struct ns__synth_buf *b, const struct hl7_sess *s)
{
    char id[48];
    snprintf(id, sizeof(id), "%s^^^GENHOSP^MR", s->mrn);
    const char *f[] = {"PID", "1", NULL, id, NULL, s->patient, NULL, s->dob, s->sex};
    return seg(b, f, NELEM(f));
}

static int obx(struct ns__synth_ctx *x, struct ns__synth_buf *b, const struct hl7_sess *s,
               unsigned k, const char *ts)
{
    char setid[8];
    char sub[16];
    char val[16];
    snprintf(setid, sizeof(setid), "%u", k + 1);
    snprintf(sub, sizeof(sub), "1.1.1.%u", k + 1);
    snprintf(val, sizeof(val), "%u", ns__synth_between(&x->rng, s->dev->lo[k], s->dev->hi[k]));
    /* OBX-1 .. OBX-18 */
    const char *f[] = {"OBX",
                       setid,
                       "NM",
                       s->dev->obs_id[k],
                       sub,
                       val,
                       s->dev->units[k],
                       NULL,
                       NULL,
                       NULL,
                       NULL,
                       "R",
                       NULL,
                       NULL,
                       ts,
                       NULL,
                       NULL,
                       NULL,
                       s->equip};
    return seg(b, f, NELEM(f));
}

static int mllp_begin(struct ns__synth_buf *b)
{
    return ns__synth_buf_put(b, "\x0b", 1);
}

static int mllp_end(struct ns__synth_buf *b)
{
    return ns__synth_buf_put(b, "\x1c\x0d", 2);
}

/* Append one MLLP-framed message (ADT^A01 when adt, else ORU^R01) to b; its control ID to ctrl. */
static int message(struct ns__synth_ctx *x, struct ns__synth_buf *b, const struct hl7_sess *s,
                   uint64_t t, bool adt, char *ctrl, size_t csize)
{
    char ts[32];
    char room[48];
    char order[32];
    ns__synth_fmt_time(t, "%Y%m%d%H%M%S", ts, sizeof(ts));
    snprintf(ctrl, csize, "%s%08u", adt ? "ADT" : "ORU", ++x->msg_n);
    int rc = mllp_begin(b);
    if (rc == 0) {
        rc = msh(b, s->dev->app, "ICU", "HIS", "GENHOSP", ts,
                 adt ? "ADT^A01^ADT_A01" : "ORU^R01^ORU_R01", ctrl);
    }
    if (adt) {
        const char *evn[] = {"EVN", "A01", ts};
        snprintf(room, sizeof(room), "ICU^%u^%u^GENHOSP", 100 + s->bed / 2, 1 + s->bed % 2);
        const char *pv1[] = {"PV1", "1", "I", room, NULL, NULL, NULL, "0042^CARE^DOC^^^DR"};
        /* PRT-1 .. PRT-16: PRT-10 the UDI, PRT-16 the device identifier */
        const char *prt[] = {"PRT",  "1",     "UC", NULL, "EQUIP^Equipment^HL70912",
                             NULL,   NULL,    NULL, NULL, NULL,
                             s->udi, NULL,    NULL, NULL, NULL,
                             NULL,   s->equip};
        if (rc == 0) {
            rc = seg(b, evn, NELEM(evn));
        }
        if (rc == 0) {
            rc = pid(b, s);
        }
        if (rc == 0) {
            rc = seg(b, pv1, NELEM(pv1));
        }
        if (rc == 0) {
            rc = seg(b, prt, NELEM(prt));
        }
    } else {
        snprintf(order, sizeof(order), "%u^%s", x->msg_n, s->dev->app);
        const char *obr[] = {"OBR", "1",  order, NULL, "44616-1^Device observations^LN",
                             NULL,  NULL, ts};
        if (rc == 0) {
            rc = pid(b, s);
        }
        if (rc == 0) {
            rc = seg(b, obr, NELEM(obr));
        }
        for (unsigned k = 0; rc == 0 && k < 2; k++) {
            rc = obx(x, b, s, k, ts);
        }
    }
    return rc == 0 ? mllp_end(b) : rc;
}

static int ack(struct ns__synth_buf *b, const struct hl7_sess *s, uint64_t t, const char *ctrl,
               unsigned n)
{
    char ts[32];
    char id[32];
    ns__synth_fmt_time(t, "%Y%m%d%H%M%S", ts, sizeof(ts));
    snprintf(id, sizeof(id), "ACK%08u", n);
    const char *msa[] = {"MSA", "AA", ctrl};
    int rc = mllp_begin(b);
    if (rc == 0) {
        rc = msh(b, "HIS", "GENHOSP", s->dev->app, "ICU", ts,
                 ctrl[0] == 'A' ? "ACK^A01^ACK" : "ACK^R01^ACK", id);
    }
    if (rc == 0) {
        rc = seg(b, msa, NELEM(msa));
    }
    return rc == 0 ? mllp_end(b) : rc;
}

/*
 * One device session: `plan` holds, per send, how many messages go in it
 * (1 or 2) and whether the send is split into small segments.
 */
static int session(struct ns__synth_ctx *x, const struct hl7_dev *dev, unsigned slot, uint64_t t0)
{
    struct hl7_sess s;
    struct ns__synth_host cli;
    struct ns__synth_host srv;
    struct ns__synth_conv c;
    memset(&s, 0, sizeof(s));
    s.dev = dev;
    unsigned num = ns__synth_between(&x->rng, 1000, 9999);
    snprintf(s.equip, sizeof(s.equip), "%s-%u^IHE^1.3.6.1.4.1.19376^ISO", dev->prefix, num);
    char serial[16];
    snprintf(serial, sizeof(serial), "%02u%c%02u%c%04u", ns__synth_between(&x->rng, 10, 99),
             (char)ns__synth_between(&x->rng, 'A', 'F'), ns__synth_between(&x->rng, 10, 99),
             (char)ns__synth_between(&x->rng, 'A', 'F'), ns__synth_between(&x->rng, 0, 9999));
    snprintf(s.udi, sizeof(s.udi), "(01)%s%c(17)%02u%02u%02u(21)%s", dev->gtin13,
             gs1_check(dev->gtin13), ns__synth_between(&x->rng, 25, 29),
             ns__synth_between(&x->rng, 1, 12), ns__synth_between(&x->rng, 1, 28), serial);
    unsigned who = ns__synth_between(&x->rng, 0, NELEM(patients) - 1);
    s.patient = patients[who].name;
    s.sex = patients[who].sex;
    snprintf(s.mrn, sizeof(s.mrn), "MRN%06u", ns__synth_between(&x->rng, 0, 999999));
    snprintf(s.dob, sizeof(s.dob), "%04u%02u%02u", ns__synth_between(&x->rng, 1940, 2020),
             ns__synth_between(&x->rng, 1, 12), ns__synth_between(&x->rng, 1, 28));
    s.bed = ns__synth_between(&x->rng, 0, 39);

    ns__synth_host4(&srv, NS__IP4(10, 30, 0, 10), NS__V_DELL, NS__OS_LINUX);
    ns__synth_host4(&cli, NS__IP4(10, 30, 1 + slot, ns__synth_between(&x->rng, 10, 250)),
                    dev->vendor, NS__OS_EMBEDDED);
    int rc = ns__synth_conv_open(&c, x, "hl7", &cli, ns__synth_port(x), &srv, dev->port, 6, t0);
    if (rc == 0) {
        rc = ns__synth_tcp_handshake(&c);
    }
    /* sends: ADT split over small segments, then ORU alone, then two ORUs in one segment */
    static const struct {
        uint8_t nmsg;
        bool adt;
        bool split;
    } plan[] = {{1, true, true}, {1, false, false}, {2, false, false}};
    size_t nplan = slot == 1 ? 3 : 2;
    for (size_t i = 0; rc == 0 && i < nplan; i++) {
        char ctrl[2][32];
        struct ns__synth_buf *m = &x->msg;
        m->len = 0;
        for (unsigned k = 0; rc == 0 && k < plan[i].nmsg; k++) {
            rc = message(x, m, &s, c.t, plan[i].adt, ctrl[k], sizeof(ctrl[k]));
        }
        if (rc == 0) {
            size_t maxseg = plan[i].split ? ns__synth_between(&x->rng, 90, 200) : 0;
            rc = ns__synth_tcp_send(&c, 0, m->p, m->len, maxseg);
        }
        c.t += ns__synth_between(&x->rng, 200, 3000);
        m->len = 0;
        for (unsigned k = 0; rc == 0 && k < plan[i].nmsg; k++) {
            rc = ack(m, &s, c.t, ctrl[k], ++x->msg_n);
        }
        if (rc == 0) {
            rc = ns__synth_tcp_send(&c, 1, m->p, m->len, 0);
        }
        c.t += ns__synth_between(&x->rng, 50000, 900000); /* the next reading */
    }
    if (rc == 0) {
        rc = ns__synth_tcp_close(&c, 0);
    }
    if (rc == 0) {
        /* what a device inventory must find: PRT-10 (the UDI, most specific) ... */
        const char *const idents[][2] = {{"HL7 PRT-10", s.udi},
                                         {"HL7 PRT-16", s.equip},
                                         {"HL7 MSH-3", dev->app},
                                         {"HL7 MSH-4", "ICU"},
                                         {"HL7 OBX-18", s.equip}};
        rc = ns__synth_truth_device(x, "hl7", &cli, dev->port, idents, NELEM(idents));
    }
    return rc;
}

int ns__synth_kind_hl7(struct ns__synth_ctx *x, uint64_t t0)
{
    uint64_t t = t0;
    for (unsigned i = 0; i < NELEM(devs); i++) {
        int rc = session(x, &devs[i], i, t);
        if (rc != 0) {
            return rc;
        }
        t += ns__synth_between(&x->rng, 30000, 700000);
    }
    return 0;
}
