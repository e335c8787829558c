/*
 * dicom.h - DICOM upper layer parser (PS3.8 section 9.3, "DICOM Upper Layer
 * Protocol for TCP/IP") for one direction of a reassembled TCP stream, with
 * the command set (PS3.7 section 9.3 / E.1) and the first attributes of data
 * sets (PS3.5 section 7, transfer syntaxes PS3.5 section 10 / A.1, A.2).
 *
 * PDU header (PS3.8 9.3.1), every PDU:
 *
 *   +--------+----------+-----------------------------------+
 *   | type 1 | reserved |  PDU length (4 bytes, big endian) |  then `length` bytes
 *   +--------+----------+-----------------------------------+
 *   0x01 A-ASSOCIATE-RQ  0x02 A-ASSOCIATE-AC  0x03 A-ASSOCIATE-RJ  0x04 P-DATA-TF
 *   0x05 A-RELEASE-RQ    0x06 A-RELEASE-RP    0x07 A-ABORT
 *
 * A-ASSOCIATE-RQ/AC body (9.3.2, 9.3.3): protocol version (2), reserved (2),
 * called AE (16), calling AE (16), reserved (32), then items, each
 * type (1) reserved (1) length (2, BE): 0x10 application context,
 * 0x20 (RQ) / 0x21 (AC) presentation context [id, reserved, result/reason,
 * reserved, sub-items 0x30 abstract syntax, 0x40 transfer syntax], 0x50 user
 * information [0x51 max length (4), 0x52 implementation class UID,
 * 0x55 implementation version name]. Every length is checked against its
 * parent's.
 *
 * P-DATA-TF (9.3.5): presentation data values, each
 *
 *   +----------------------+--------+-----+---------------------+
 *   | item length (4, BE)  | ctx id | MCH | fragment (len-2)    |
 *   +----------------------+--------+-----+---------------------+
 *   MCH bit 0: 1 command, 0 data set; bit 1: last fragment
 *
 * Fragments of one command set or data set are parsed as a stream (never
 * reassembled whole): element headers and the few wanted values are held,
 * everything else is skipped by length. The command set is implicit VR LE;
 * a data set uses the transfer syntax accepted for its presentation
 * context: implicit VR LE (1.2.840.10008.1.2), explicit VR LE (1.2.840.10008
 * .1.2.1 and every encapsulated syntax). Deflated (1.2.840.10008.1.2.1.99)
 * and explicit VR big endian (1.2.840.10008.1.2.2) data sets are not parsed.
 * When no accepted syntax is known (capture started mid-association, no
 * pairing) the VR form is guessed from the first element header
 * (NS_DICOM_DS_TS_GUESSED).
 *
 * Data-set elements reported: (0008,0016) SOP Class UID, (0008,0060)
 * Modality, (0008,0070) Manufacturer, (0008,0080) Institution Name,
 * (0008,1010) Station Name, (0008,1090) Manufacturer's Model Name,
 * (0018,1000) Device Serial Number, (0018,1020) Software Versions. Only
 * top-level elements count. Parsing of a data set stops after group 0x0018
 * (elements are in ascending tag order). The patient group (0010,xxxx) and
 * every other element are skipped by length, never copied. Sequences and
 * items of undefined length are skipped by tracking item / sequence
 * delimiters (depth capped at max_depth; past it the data set is not parsed
 * further).
 *
 * Pairing: an A-ASSOCIATE-RQ comes from the requestor and the AC from the
 * acceptor, so they reach two different parsers. ns_dicom_pair() links the
 * parsers of one connection: each shares what its association PDU says
 * (abstract syntaxes from the RQ, results and accepted transfer syntaxes from
 * the AC) so that both directions know each context's transfer syntax, and
 * the AC report names the abstract syntax of each context.
 *
 * Resync: an unknown PDU type, a PDU length below its type's minimum or
 * over max_pdu_bytes (the latter is skipped as it streams, counted
 * `oversized`, not malformed) and a gap the framing cannot absorb make the
 * parser lose the framing: it then slides over the bytes until a plausible
 * PDU header (type, reserved 0, length and first body bytes consistent).
 */
#ifndef NETSIFT_DICOM_H
#define NETSIFT_DICOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A counted, not NUL-terminated view; valid during the callback only. */
struct ns_dicom_view {
    const char *ptr;
    size_t len;
};

enum ns_dicom_pdu_type {
    NS_DICOM_PDU_ASSOCIATE_RQ = 0x01,
    NS_DICOM_PDU_ASSOCIATE_AC = 0x02,
    NS_DICOM_PDU_ASSOCIATE_RJ = 0x03,
    NS_DICOM_PDU_P_DATA_TF = 0x04,
    NS_DICOM_PDU_RELEASE_RQ = 0x05,
    NS_DICOM_PDU_RELEASE_RP = 0x06,
    NS_DICOM_PDU_ABORT = 0x07,
};

/* Transfer syntax of a presentation context, as far as this parser cares. */
enum ns_dicom_ts {
    NS_DICOM_TS_UNKNOWN = 0,
    NS_DICOM_TS_IMPLICIT_LE = 1, /* 1.2.840.10008.1.2 */
    NS_DICOM_TS_EXPLICIT_LE = 2, /* 1.2.840.10008.1.2.1 and encapsulated syntaxes */
    NS_DICOM_TS_EXPLICIT_BE = 3, /* 1.2.840.10008.1.2.2 (not parsed) */
    NS_DICOM_TS_DEFLATED = 4,    /* 1.2.840.10008.1.2.1.99 (not parsed) */
};

/* Map a transfer syntax UID (trailing NUL/space padding allowed) to its kind. */
enum ns_dicom_ts ns_dicom_ts_from_uid(const char *uid, size_t len);

/* One presentation context of an A-ASSOCIATE-RQ or -AC. */
struct ns_dicom_pctx {
    uint8_t id;     /* odd, 1..255 */
    uint8_t result; /* AC: 0 acceptance, 1 user rejection, 2 no reason,
                       3 abstract syntax not supported, 4 transfer syntaxes
                       not supported; RQ: 0 */
    struct ns_dicom_view
        abstract_syntax; /* RQ: its 0x30 item; AC: from the paired RQ, else empty */
    const struct ns_dicom_view *transfer_syntaxes; /* RQ: proposed; AC: the one accepted */
    size_t ntransfer_syntaxes;
};

/* AE title as text: 16 bytes, each non-printable byte as "\xNN", NUL. */
#define NS_DICOM_AE_TEXT_MAX 65

#define NS_DICOM_ASSOC_CALLED_NONPRINT  0x01 /* called AE had bytes outside ISO 646 G0 printable */
#define NS_DICOM_ASSOC_CALLING_NONPRINT 0x02 /* calling AE likewise */
#define NS_DICOM_ASSOC_PCTX_DROPPED     0x04 /* more contexts / transfer syntaxes than the caps */

/*
 * An A-ASSOCIATE-RQ or -AC. AE titles are copies (leading and trailing spaces
 * removed; non-printable bytes and the backslash hex-escaped and flagged);
 * views point into the PDU and are valid during on_associate only. UIDs have
 * their trailing NUL / space padding removed.
 */
struct ns_dicom_assoc {
    enum ns_dicom_pdu_type kind; /* NS_DICOM_PDU_ASSOCIATE_RQ or _AC */
    uint16_t protocol_version;
    unsigned flags; /* NS_DICOM_ASSOC_... */
    char called_ae[NS_DICOM_AE_TEXT_MAX];
    char calling_ae[NS_DICOM_AE_TEXT_MAX];
    struct ns_dicom_view application_context;
    struct ns_dicom_view impl_class_uid;    /* 0x52, empty if absent */
    struct ns_dicom_view impl_version_name; /* 0x55, empty if absent */
    bool has_max_length;
    uint32_t max_length; /* 0x51 maximum PDU length the sender receives */
    const struct ns_dicom_pctx *pctx;
    size_t npctx;
};

/* A DIMSE command set (group 0000), reported at its last fragment. */
struct ns_dicom_command {
    uint8_t pctx_id;
    uint16_t command_field;             /* (0000,0100): 0x0001 C-STORE-RQ, 0x8001 C-STORE-RSP,
                                           0x0020 C-FIND-RQ, 0x0030 C-ECHO-RQ, ... */
    struct ns_dicom_view sop_class_uid; /* (0000,0002) affected, else (0000,0003) requested */
    bool has_message_id;
    uint16_t message_id; /* (0000,0110), or (0000,0120) in responses */
    bool has_status;
    uint16_t status;                      /* (0000,0900) */
    bool has_dataset;                     /* (0000,0800) != 0x0101 */
    struct ns_dicom_view abstract_syntax; /* of the context, if known */
};

#define NS_DICOM_DS_TS_GUESSED 0x01 /* transfer syntax not known from the association */
#define NS_DICOM_DS_INCOMPLETE 0x02 /* cut by a gap, an abort or the end of the stream */
#define NS_DICOM_DS_STOPPED    0x04 /* parsing stopped early: bad element, depth or byte cap */
#define NS_DICOM_DS_VALUE_CUT  0x08 /* a wanted value longer than max_value_bytes was cut */
#define NS_DICOM_DS_NOT_PARSED 0x10 /* deflated or big endian: nothing read */

/*
 * Wanted attributes of one data set (empty view = absent). Values are as
 * on the wire (multi-valued ones keep their backslashes), trailing spaces
 * and NULs removed. Reported once per data set: at its last fragment, or
 * at a gap / abort / close when at least one attribute was found.
 */
struct ns_dicom_dataset {
    uint8_t pctx_id;
    enum ns_dicom_ts ts;
    unsigned flags;                            /* NS_DICOM_DS_... */
    struct ns_dicom_view sop_class_uid;        /* (0008,0016) */
    struct ns_dicom_view modality;             /* (0008,0060) */
    struct ns_dicom_view manufacturer;         /* (0008,0070) */
    struct ns_dicom_view institution_name;     /* (0008,0080) */
    struct ns_dicom_view station_name;         /* (0008,1010) */
    struct ns_dicom_view model_name;           /* (0008,1090) */
    struct ns_dicom_view device_serial_number; /* (0018,1000) */
    struct ns_dicom_view software_versions;    /* (0018,1020) */
    struct ns_dicom_view abstract_syntax;      /* of the context, if known */
};

struct ns_dicom_callbacks {
    void (*on_associate)(void *ud, const struct ns_dicom_assoc *a);
    /* A-ASSOCIATE-RJ (9.3.4): result 1 permanent / 2 transient, source 1..3, reason */
    void (*on_reject)(void *ud, uint8_t result, uint8_t source, uint8_t reason);
    /* A-ABORT (9.3.8): source 0 service user / 2 service provider, reason */
    void (*on_abort)(void *ud, uint8_t source, uint8_t reason);
    /* A-RELEASE-RQ (response false) or A-RELEASE-RP (response true) */
    void (*on_release)(void *ud, bool response);
    void (*on_command)(void *ud, const struct ns_dicom_command *c);
    void (*on_dataset_attrs)(void *ud, const struct ns_dicom_dataset *d);
    void *ud;
};

struct ns_dicom_opts {
    size_t max_pdu_bytes;         /* 0 means 1 MiB; larger PDUs are skipped unread */
    uint64_t max_dataset_bytes;   /* bytes of one data set examined; 0 means 4 MiB */
    size_t max_pctx;              /* contexts kept per association PDU; 0 means 256 */
    size_t max_transfer_syntaxes; /* transfer syntaxes kept per association PDU; 0 means 1024 */
    size_t max_value_bytes;       /* per wanted value; 0 means 256 */
    unsigned max_depth;           /* undefined-length nesting; 0 means 16 */
};

void ns_dicom_opts_init(struct ns_dicom_opts *o);

struct ns_dicom_stats {
    uint64_t pdus; /* PDUs framed (including skipped ones) */
    uint64_t associate_rq;
    uint64_t associate_ac;
    uint64_t associate_rj;
    uint64_t releases; /* RQ and RP */
    uint64_t aborts;
    uint64_t p_data; /* P-DATA-TF PDUs */
    uint64_t pdvs;
    uint64_t commands;        /* command sets reported */
    uint64_t datasets;        /* data sets reported */
    uint64_t malformed;       /* bad PDU header, item, PDV or element lengths */
    uint64_t oversized;       /* PDUs over max_pdu_bytes, skipped */
    uint64_t resyncs;         /* times the framing was lost and searched for */
    uint64_t ae_nonprintable; /* AE titles with non-printable bytes */
    uint64_t pctx_dropped;    /* contexts or transfer syntaxes past the caps */
    uint64_t bytes;           /* bytes fed */
};

struct ns_dicom_parser;

/* Create a parser; `opts` may be NULL. Returns 0, NS_EINVAL or NS_ENOMEM. */
int ns_dicom_parser_new(struct ns_dicom_parser **out, const struct ns_dicom_opts *opts,
                        const struct ns_dicom_callbacks *cb);
/* Free the parser (unpairing it); NULL is allowed. */
void ns_dicom_parser_free(struct ns_dicom_parser *p);

/*
 * Link the two directions of one connection (either order of arguments is
 * fine: each parser learns from the other's association PDU). Pairing again
 * replaces an earlier link.
 */
void ns_dicom_pair(struct ns_dicom_parser *a, struct ns_dicom_parser *b);

/*
 * Feed the next in-order bytes, in chunks of any size. Returns 0 or
 * NS_EMALFORMED (something in this chunk was malformed or an oversized PDU
 * began: counted, the chunk was consumed, the parser resynchronised where
 * needed).
 */
int ns_dicom_feed(struct ns_dicom_parser *p, const uint8_t *data, size_t len);

/* `len` bytes were lost before the next fed byte. */
void ns_dicom_gap(struct ns_dicom_parser *p, uint64_t len);

/* End of this direction: a data set in progress is reported as incomplete. */
void ns_dicom_close(struct ns_dicom_parser *p);

const struct ns_dicom_stats *ns_dicom_stats(const struct ns_dicom_parser *p);

#endif
