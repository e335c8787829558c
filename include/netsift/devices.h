/*
 * devices.h - the medical device inventory behind `netsift devices`:
 * passive discovery and identification of devices from the HL7 v2 (hl7.h)
 * and DICOM upper layer (dicom.h) traffic of reassembled TCP streams
 * (tcp.h), one asset per device address.
 *
 *   tcp stream callbacks ──► per direction: detect ──► HL7 / DICOM parser
 *        (on_data, gap,        0x0B or "MSH": HL7        │ messages, PDUs
 *         close, conn_end)     PDU type 0x01: DICOM      ▼
 *                              else: ignored      evidence for an endpoint
 *                                                        │ merge
 *   on_packet ──► ns_devices_packet: MAC of the  ◄── assets keyed by IP
 *                 sender, then the changed assets        │ new or changed
 *                 are reported                           ▼
 *                                                  on_record (a snapshot)
 *
 * Detection, per direction, from its first bytes: 0x0B (an MLLP start
 * block) or "MSH" is HL7; a PDU header of type 0x01 (A-ASSOCIATE-RQ) with
 * reserved byte 0, a length of at least 68 bytes and at most the DICOM
 * parser's PDU cap, and protocol version 1 is DICOM. Once one direction is
 * detected, the other one is parsed with the same protocol whatever its first
 * bytes; a connection where neither matches costs one test per data chunk
 * and no memory (a static marker in conn->app).
 *
 * Which endpoint is the device:
 *   - HL7: the sender of a message carrying a device identifier (PRT-10,
 *     PRT-16, PRT-17..PRT-22, OBX-18). Messages without one (orders,
 *     results, ACKs of an interface engine) make no asset: their MSH-3 /
 *     MSH-4 are context, recorded only with a device identifier of the same
 *     message. Both sides of every HL7 link would otherwise be listed, and
 *     the receiving EHR is not a medical device (tapirx reports no asset for
 *     them either).
 *   - DICOM: the association requestor (the sender of A-ASSOCIATE-RQ): its
 *     calling AE title, implementation class UID and version name. The
 *     acceptor (a PACS, an archive) is the server and is not reported. The
 *     attributes of the data sets the requestor sends in C-STORE-RQ
 *     ((0008,1090) model, (0018,1000) serial, (0008,0070) manufacturer,
 *     (0008,0060) modality, (0018,1020) software versions, (0008,0080)
 *     institution, (0008,1010) station) are added when the association ends
 *     (release, abort, close), and only when every data set of the
 *     association agrees on manufacturer, model and serial number: a router
 *     forwarding other makers' objects is not given their identity.
 *
 * Ports (tapirx's meaning): connect_port_tcp is the server port a device
 * connected to (it opened the TCP connection); open_port_tcp is the port a
 * device accepted a connection on (it sent its identifiers as the TCP
 * responder). The first value seen is kept for each.
 *
 * `identifier` is the most specific identifier found, by this precedence
 * (lower rank first; among equals, the first found): PRT-10 (the UDI),
 * PRT-16, OBX-18, DICOM model name, DICOM device serial number, DICOM
 * calling AE title, PRT-20, PRT-22, PRT-17/18/19/21. Context (MSH-3/4,
 * manufacturer, modality, software, institution, station, implementation
 * UID / version) is listed in `identifiers` but never chosen. Every entry
 * of `identifiers` is a distinct (value, provenance) pair, in the order
 * found. HL7 values are the whole field repetition, decoded, components
 * joined with '^' (hl7.h `raw`).
 *
 * Privacy: only the fields listed above are copied; patient data (PID, the
 * DICOM patient group) never reaches this module (hl7.h and dicom.h do not
 * report it).
 *
 * Reporting: an asset is reported (on_record) when it is new or when a
 * field other than last_seen / community_id changed, never per packet. The
 * report waits for ns_devices_packet() of the packet that carried the
 * evidence, so that the asset gets that packet's Ethernet source address;
 * ns_devices_flush() reports what is pending without it (evidence found at
 * the end of a flow). ns_devices_finish() flushes and reports once more
 * every asset whose last_seen moved since its last report, so the last
 * record of each device carries its final last_seen.
 *
 * Caps: assets (max_devices; new devices past it are dropped and counted),
 * identifiers per asset (max_idents), bytes per identifier value
 * (max_value_bytes, cut at a UTF-8 character boundary).
 */
#ifndef NETSIFT_DEVICES_H
#define NETSIFT_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "netsift/decode.h"
#include "netsift/dicom.h"
#include "netsift/flow.h"
#include "netsift/hl7.h"
#include "netsift/oui.h"
#include "netsift/tcp.h"

#define NS_DEVICE_SCHEMA 1

#define NS_DEVICE_PROTO_HL7   0x01
#define NS_DEVICE_PROTO_DICOM 0x02

/* One identifier with where it came from ("HL7 PRT-10", "DICOM calling AE title", ...). */
struct ns_device_ident {
    const char *value; /* NUL-terminated */
    const char *provenance;
};

/*
 * A snapshot of one asset, as reported. Strings are NUL-terminated; "" when
 * unknown. Valid during the on_record callback only.
 */
struct ns_device {
    uint64_t id;     /* 1-based, in discovery order */
    uint64_t report; /* 1-based number of this report of the asset */
    char ipv4_address[16];
    char ipv6_address[46];
    char mac_address[18];      /* "00:03:b1:b5:b6:48" */
    const char *vendor;        /* from the MAC's OUI */
    uint16_t open_port_tcp;    /* 0: none */
    uint16_t connect_port_tcp; /* 0: none */
    const char *identifier;
    const char *provenance;
    const struct ns_device_ident *identifiers;
    size_t nidentifiers;
    unsigned protocols; /* NS_DEVICE_PROTO_... */
    uint64_t first_ns;  /* capture time of the first evidence */
    uint64_t last_ns;   /* ... of the latest evidence */
    const char *client_id;
    const char *community_id; /* of the flow of the latest evidence */
};

typedef void ns_devices_record_fn(void *ud, const struct ns_device *dev);

struct ns_devices_opts {
    size_t max_devices;       /* 0 means 65536 */
    size_t max_idents;        /* per asset; 0 means 32 */
    size_t max_value_bytes;   /* per identifier value; 0 means 256 */
    const struct ns_oui *oui; /* borrowed; NULL: no vendor */
    const char *client_id;    /* copied; NULL means "" */
    struct ns_hl7_opts hl7;   /* zeroed: the parser's defaults */
    struct ns_dicom_opts dicom;
    ns_devices_record_fn *on_record;
    void *ud;
};

struct ns_devices_stats {
    uint64_t conns_hl7;     /* connections parsed as HL7 */
    uint64_t conns_dicom;   /* connections parsed as DICOM */
    uint64_t conns_ignored; /* connections neither side of which looked like either */
    uint64_t hl7_messages;  /* messages reported by the HL7 parsers */
    uint64_t hl7_malformed; /* malformed + oversized, over all HL7 parsers */
    uint64_t dicom_pdus;
    uint64_t dicom_malformed;      /* malformed + oversized, over all DICOM parsers */
    uint64_t associations;         /* A-ASSOCIATE-RQ seen */
    uint64_t rejected;             /* A-ASSOCIATE-RJ */
    uint64_t aborted;              /* A-ABORT */
    uint64_t datasets_used;        /* data sets whose attributes were added to an asset */
    uint64_t datasets_disagreeing; /* associations whose data sets disagreed (not used) */
    uint64_t devices;              /* assets */
    uint64_t devices_dropped;      /* evidence for new devices past max_devices */
    uint64_t idents_dropped;       /* identifiers past max_idents */
    uint64_t values_cut;           /* identifier values cut at max_value_bytes */
    uint64_t records;              /* reports made through on_record */
    uint64_t no_memory;            /* connections or evidence lost to an allocation failure */
};

struct ns_devices;

/* Returns 0, NS_EINVAL (out or opts NULL, no on_record) or NS_ENOMEM. */
int ns_devices_new(struct ns_devices **out, const struct ns_devices_opts *opts);

/*
 * Fill the stream callbacks of a reassembler's options (on_data, on_gap,
 * on_close, on_conn_end, ud) so that the analyzer gets every stream; the
 * caps are left alone.
 */
void ns_devices_tcp_callbacks(struct ns_devices *d, struct ns_tcp_reasm_opts *o);

/*
 * The stream callbacks themselves, for a consumer that dispatches streams
 * to several analyzers (ud is the struct ns_devices). conn->app belongs to
 * the analyzer.
 */
ns_tcp_data_fn ns_devices_on_data;
ns_tcp_gap_fn ns_devices_on_gap;
ns_tcp_close_fn ns_devices_on_close;
ns_tcp_conn_end_fn ns_devices_on_conn_end;

/*
 * Call for every packet after the reassembler got it (the pipeline's
 * on_packet): the assets changed by this packet's stream data take its
 * Ethernet source address when the packet comes from the asset's address
 * and the asset has none yet, and are reported. One test when nothing is
 * pending.
 */
void ns_devices_packet(struct ns_devices *d, const struct ns_packet *p);

/* Report the assets changed since the last report (no MAC learned). */
void ns_devices_flush(struct ns_devices *d);

/* Flush, then report again every asset whose last_seen moved since its last report. */
void ns_devices_finish(struct ns_devices *d);

const struct ns_devices_stats *ns_devices_stats(const struct ns_devices *d);

void ns_devices_free(struct ns_devices *d);

/* "hl7", "dicom" or "hl7,dicom" (static). */
const char *ns_devices_protocol_name(unsigned protocols);

/*
 * The "device" JSON Lines record (docs/schema/README.md) into buf. Returns 0
 * with *len the bytes (ending in '\n'), or NS_ELIMIT when buf is too small.
 */
int ns_device_json(const struct ns_device *dev, char *buf, size_t cap, size_t *len);

/*
 * CSV (RFC 4180): one header, then one row per record with the same 14
 * columns; identifiers are one quoted column of "provenance=value" items
 * joined by ';' (a ';' inside a value is written as "%3B", a '%' as "%25").
 * Return 0, NS_ENOMEM (ns_device_csv) or NS_EIO.
 */
int ns_device_csv_header(FILE *fp);
int ns_device_csv(FILE *fp, const struct ns_device *dev);

/*
 * One aligned text line (and the header line) for a terminal; control bytes
 * of the identifier are written as '?'. Return 0 or NS_EIO.
 */
int ns_device_text_header(FILE *fp);
int ns_device_text(FILE *fp, const struct ns_device *dev);

#endif
