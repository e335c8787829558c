/*
 * hl7.h - HL7 v2 message parser for one direction of a reassembled TCP
 * stream: MLLP framing (HL7 v2 "Minimal Lower Layer Protocol", appendix C of
 * the v2.x implementation guide) or bare messages, message structure from
 * HL7 v2.x chapter 2 (2.5 message construction rules, 2.7 escape sequences),
 * device identifiers from chapter 7 (PRT, v2.7+) and chapter 7 (OBX-18).
 *
 * Framing, decided per message:
 *
 *   MLLP:  0x0B <message bytes> 0x1C 0x0D      on any port
 *   bare:  "MSH..." up to the next "MSH" at a segment start, a 0x1C, or close
 *
 * A bare message is only recognised where "MSH" begins the stream or a line
 * (after CR or LF). Bytes outside a message that are neither are garbage:
 * counted once per run (malformed + resyncs), then skipped up to the next
 * 0x0B or line-start "MSH".
 *
 * Message structure (chapter 2):
 *
 *   MSH|^~\&|SendApp|SendFac|RcvApp|RcvFac|Time||ADT^A01^ADT_A01|CtlId|P|2.5 <CR>
 *      | '-- MSH-2 encoding characters: component, repetition, escape,
 *      |     sub-component (and truncation, v2.7+); 2 to 5 of them
 *      '---- MSH-1 field separator (any byte that is not alphanumeric/CR/LF)
 *   PRT|...                                                            <CR>
 *   OBX|...                                                            <CR>
 *
 * Separators are never assumed to be |^~\&: they come from MSH-1/MSH-2 of each
 * message. Segments end at CR; LF and CRLF are tolerated. Escape sequences
 * \F\ \S\ \T\ \R\ \E\ are decoded to the separator they stand for; all other
 * escapes (\Xhh\, \.br\, \H\, \N\, \Z..\, \C..\, \M..\) are dropped. An
 * escape without its closing escape character is kept literally.
 *
 * What is reported (and nothing else: patient data is never copied): MSH-3,
 * MSH-4, MSH-9, MSH-10, MSH-12, MSA-1, and the device identifiers
 *
 *   PRT-10 participation device (all repetitions)      "HL7 PRT-10"
 *   PRT-16 participation device identifier (UDI DI)    "HL7 PRT-16"
 *   PRT-17 participation device manufacture date       "HL7 PRT-17"
 *   PRT-18 participation device expiry date            "HL7 PRT-18"
 *   PRT-19 participation device lot number             "HL7 PRT-19"
 *   PRT-20 participation device serial number          "HL7 PRT-20"
 *   PRT-21 participation device donation identification "HL7 PRT-21"
 *   PRT-22 participation device type                   "HL7 PRT-22"
 *   OBX-18 equipment instance identifier (all reps)    "HL7 OBX-18"
 *
 * Every repetition of every listed field is one identifier (empty ones and
 * the HL7 null "" are skipped). For each, `raw` is the whole repetition
 * decoded, with its component separators written as '^' and sub-component
 * separators as '&' whatever the message used (escaped separators decode to
 * the literal character, so '^' inside `raw` may also be data), and `value`
 * is its first component, decoded (a prefix of `raw`, possibly empty).
 *
 * Privacy: messages are buffered and decoded in place in one parser-owned
 * buffer that is wiped (memset to 0) after each message, reported or not.
 * Segments other than MSH, MSA, PRT and OBX are never looked at beyond their
 * segment id, and no field other than those listed above is decoded.
 *
 * Caps (fixed at init): message bytes (past it the message is dropped,
 * counted `oversized`, and the parser resyncs on the next 0x0B / line-start
 * MSH), segments per message (the rest are not parsed, flag
 * NS_HL7_MSG_SEGMENTS_CUT), fields examined per segment, identifiers per
 * message (the rest dropped, flag NS_HL7_MSG_IDENTS_DROPPED). The message
 * buffer grows by doubling up to its cap, never per byte.
 */
#ifndef NETSIFT_HL7_H
#define NETSIFT_HL7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A counted, not NUL-terminated view; valid during the callback only. */
struct ns_hl7_view {
    const char *ptr;
    size_t len;
};

/* The fields an identifier can come from. */
enum ns_hl7_field {
    NS_HL7_PRT_10 = 0,
    NS_HL7_PRT_16,
    NS_HL7_PRT_17,
    NS_HL7_PRT_18,
    NS_HL7_PRT_19,
    NS_HL7_PRT_20,
    NS_HL7_PRT_21,
    NS_HL7_PRT_22,
    NS_HL7_OBX_18,
    NS_HL7_FIELD_COUNT
};

/* Provenance label of a field: "HL7 PRT-10" ... "HL7 OBX-18" (static, NUL-terminated). */
const char *ns_hl7_provenance(enum ns_hl7_field f);

/* One device identifier found in a message. */
struct ns_hl7_ident {
    enum ns_hl7_field field;
    const char *provenance;   /* ns_hl7_provenance(field) */
    unsigned segment;         /* 1-based index of its segment in the message */
    unsigned repetition;      /* 1-based repetition within the field */
    struct ns_hl7_view value; /* first component, decoded */
    struct ns_hl7_view raw;   /* whole repetition, decoded, separators as '^' and '&' */
};

/* Message flags. */
#define NS_HL7_MSG_FRAMED         0x01 /* came in an MLLP frame (else bare) */
#define NS_HL7_MSG_IDENTS_DROPPED 0x02 /* more identifiers than max_idents */
#define NS_HL7_MSG_SEGMENTS_CUT   0x04 /* more segments than max_segments */
#define NS_HL7_MSG_NO_TRAILER     0x08 /* MLLP 0x1C not followed by 0x0D */

/*
 * One parsed message. Views point into the parser's message buffer and are
 * valid during on_message only (the buffer is wiped right after). Absent
 * fields are empty views (ptr may be NULL when len is 0).
 */
struct ns_hl7_msg {
    uint64_t index;       /* 1-based message number in this direction */
    unsigned flags;       /* NS_HL7_MSG_... */
    size_t message_bytes; /* bytes of the message (without MLLP framing) */
    size_t nsegments;     /* segments seen (up to max_segments) */
    char separators[5];   /* field, component, repetition, escape, sub-component; 0 = none */
    struct ns_hl7_view sending_application; /* MSH-3, decoded, components as '^' */
    struct ns_hl7_view sending_facility;    /* MSH-4, decoded, components as '^' */
    struct ns_hl7_view message_type;        /* MSH-9 whole, decoded, e.g. "ADT^A01^ADT_A01" */
    struct ns_hl7_view message_code;        /* MSH-9.1, e.g. "ADT" */
    struct ns_hl7_view trigger_event;       /* MSH-9.2, e.g. "A01" */
    struct ns_hl7_view control_id;          /* MSH-10 */
    struct ns_hl7_view version;             /* MSH-12.1, e.g. "2.5.1" */
    struct ns_hl7_view ack_code;            /* MSA-1 (AA, AE, AR, CA, ...) if an MSA is present */
    const struct ns_hl7_ident *idents;      /* in message order */
    size_t nidents;
};

struct ns_hl7_callbacks {
    void (*on_message)(void *ud, const struct ns_hl7_msg *m);
    void *ud;
};

struct ns_hl7_opts {
    size_t max_message_bytes; /* 0 means 1 MiB */
    size_t max_segments;      /* per message; 0 means 4096 */
    size_t max_fields;        /* fields examined per segment; 0 means 64 (at least 25 used) */
    size_t max_idents;        /* per message; 0 means 64 */
};

void ns_hl7_opts_init(struct ns_hl7_opts *o);

struct ns_hl7_stats {
    uint64_t messages;       /* reported through on_message */
    uint64_t malformed;      /* no MSH, bad separators, garbage between messages */
    uint64_t oversized;      /* messages dropped at max_message_bytes */
    uint64_t resyncs;        /* times the parser skipped bytes to find the next message */
    uint64_t incomplete;     /* messages cut by a gap or by close (MLLP frame never ended) */
    uint64_t idents;         /* identifiers reported */
    uint64_t idents_dropped; /* identifiers past max_idents */
    uint64_t segments_cut;   /* messages with segments past max_segments */
    uint64_t bytes;          /* bytes fed */
};

struct ns_hl7_parser;

/*
 * Create a parser; `opts` may be NULL (defaults), `cb` is copied. Returns 0,
 * NS_EINVAL (out or cb NULL) or NS_ENOMEM.
 */
int ns_hl7_parser_new(struct ns_hl7_parser **out, const struct ns_hl7_opts *opts,
                      const struct ns_hl7_callbacks *cb);
/* Free the parser (wiping its buffer); NULL is allowed. */
void ns_hl7_parser_free(struct ns_hl7_parser *p);

/*
 * Feed the next in-order bytes, in chunks of any size. Returns 0 (all
 * consumed; a partial message is held), NS_EMALFORMED (something in this
 * chunk was malformed or oversized: counted, the parser resynchronised and
 * consumed the whole chunk) or NS_ENOMEM (the buffer could not grow; the
 * message is dropped as oversized).
 */
int ns_hl7_feed(struct ns_hl7_parser *p, const uint8_t *data, size_t len);

/* `len` bytes were lost before the next fed byte: the current message is dropped (incomplete). */
void ns_hl7_gap(struct ns_hl7_parser *p, uint64_t len);

/* End of this direction: a bare message in progress is parsed, an open MLLP frame is incomplete. */
void ns_hl7_close(struct ns_hl7_parser *p);

const struct ns_hl7_stats *ns_hl7_stats(const struct ns_hl7_parser *p);

#endif
