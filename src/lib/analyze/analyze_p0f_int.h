/*
 * analyze_p0f_int.h - the in-memory p0f v3 signature database shared by the
 * p0f.fp parser (analyze_p0f_sig.c) and the matchers (analyze_p0f.c).
 *
 * Every string (label names, flavors, header names and values) points into
 * one NUL-split copy of the file text owned by the database, so the database
 * is freed with a handful of calls and results can borrow its strings.
 */
#ifndef NS_ANALYZE_P0F_INT_H
#define NS_ANALYZE_P0F_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsift/p0f.h"

#define NS__P0F_MAX_SIGS    4096       /* signatures of all kinds */
#define NS__P0F_MAX_FILE    (1u << 20) /* bytes of p0f.fp */
#define NS__P0F_MAX_OPTS    40         /* TCP option layout entries (p0f MAX_TCP_OPT) */
#define NS__P0F_MAX_HDRS    32         /* headers in one HTTP signature (p0f HTTP_MAX_HDRS) */
#define NS__P0F_MAX_CLASSES 64
#define NS__P0F_MAX_UA      64
#define NS__P0F_MAX_DIST    35   /* largest believable hop count (p0f MAX_DIST) */
#define NS__P0F_SPECIAL_MSS 1331 /* p0f-sendsyn probe MSS */

/* Quirk bits, in the order p0f prints them in raw_sig. */
enum {
    NS__P0F_Q_DF = 1u << 0,        /* "df" */
    NS__P0F_Q_NZ_ID = 1u << 1,     /* "id+" */
    NS__P0F_Q_ZERO_ID = 1u << 2,   /* "id-" */
    NS__P0F_Q_ECN = 1u << 3,       /* "ecn" */
    NS__P0F_Q_NZ_MBZ = 1u << 4,    /* "0+" */
    NS__P0F_Q_FLOW = 1u << 5,      /* "flow" */
    NS__P0F_Q_ZERO_SEQ = 1u << 6,  /* "seq-" */
    NS__P0F_Q_NZ_ACK = 1u << 7,    /* "ack+" */
    NS__P0F_Q_ZERO_ACK = 1u << 8,  /* "ack-" */
    NS__P0F_Q_NZ_URG = 1u << 9,    /* "uptr+" */
    NS__P0F_Q_URG = 1u << 10,      /* "urgf+" */
    NS__P0F_Q_PUSH = 1u << 11,     /* "pushf+" */
    NS__P0F_Q_ZERO_TS1 = 1u << 12, /* "ts1-" */
    NS__P0F_Q_NZ_TS2 = 1u << 13,   /* "ts2+" */
    NS__P0F_Q_OPT_NZ = 1u << 14,   /* "opt+" */
    NS__P0F_Q_EXWS = 1u << 15,     /* "exws" */
    NS__P0F_Q_OPT_BAD = 1u << 16,  /* "bad" */
};
#define NS__P0F_NQUIRKS 17

/* Quirk name of bit i (0..NS__P0F_NQUIRKS-1). */
extern const char *const ns__p0f_quirk_names[NS__P0F_NQUIRKS];

/* Window size notation in a TCP signature. */
enum ns__p0f_win {
    NS__P0F_WIN_NORMAL = 0, /* a fixed value */
    NS__P0F_WIN_ANY,        /* "*" */
    NS__P0F_WIN_MOD,        /* "%N" */
    NS__P0F_WIN_MSS,        /* "mss*N" */
    NS__P0F_WIN_MTU,        /* "mtu*N" */
};

struct ns__p0f_label {
    bool generic;       /* type "g" */
    int class_id;       /* index in classes, -1 for "!" (applications) */
    const char *class_; /* class name, "!" for applications */
    const char *name;   /* "Linux" */
    const char *flavor; /* "3.11 and newer", "" when none */
    const char *sys;    /* raw "sys" list for applications, "" when none */
    unsigned line;
};

struct ns__p0f_tcp_sig {
    int ver;      /* 4, 6, or -1 for "*" */
    int ttl;      /* initial TTL (with any "+dist" added) */
    bool bad_ttl; /* "NN-": random TTL up to NN */
    int olen;     /* IP option length */
    int mss;      /* -1 for "*" */
    enum ns__p0f_win win_type;
    int win;
    int scale; /* -1 for "*" */
    uint8_t layout[NS__P0F_MAX_OPTS];
    uint8_t nopt;
    int eol_pad;
    uint32_t quirks;
    int pclass;   /* 0, 1 ("+"), -1 ("*") */
    size_t label; /* index in db->labels */
    unsigned line;
};

struct ns__p0f_mtu_sig {
    const char *label;
    unsigned mtu;
};

struct ns__p0f_http_hdr {
    const char *name;
    const char *value; /* substring to find, or NULL */
    bool optional;     /* "?Name" */
    uint16_t id;       /* in the name table */
};

/*
 * The HTTP header names p0f has an ID for (its built-in lists, then every
 * name p0f.fp uses), each with a small number, as p0f's own hdr_names: a
 * message's headers are looked up once (hashed), then signatures compare
 * numbers and test sets of numbers instead of strings.
 */
#define NS__P0F_MAX_NAMES  512 /* distinct header names */
#define NS__P0F_NAME_SLOTS 1024
#define NS__P0F_NAME_WORDS (NS__P0F_MAX_NAMES / 64)

/* Per-name flags; shifted left by the direction (0 response, 1 request). */
#define NS__P0F_HF_OPTIONAL 0x01
#define NS__P0F_HF_COMMON   0x04
#define NS__P0F_HF_SKIPVAL  0x10

struct ns__p0f_names {
    const char *name[NS__P0F_MAX_NAMES];
    uint8_t len[NS__P0F_MAX_NAMES];
    uint8_t flags[NS__P0F_MAX_NAMES];
    uint16_t slot[NS__P0F_NAME_SLOTS]; /* id + 1; 0 is empty */
    size_t n;
    uint16_t common[2][9]; /* ids of p0f's common headers per direction, in its order */
    size_t ncommon[2];
    uint16_t sw[2]; /* "Server", "User-Agent" */
};

/* Fill with p0f's built-in names and their flags. */
void ns__p0f_names_init(struct ns__p0f_names *nm);
/* The id of (name, len), adding it if new: 0.. or -1 (table full, or a name over 255 bytes). */
int ns__p0f_name_add(struct ns__p0f_names *nm, const char *name, size_t len);

struct ns__p0f_http_sig {
    int ver; /* 0, 1, -1 for "*" */
    struct ns__p0f_http_hdr hdr[NS__P0F_MAX_HDRS];
    size_t nhdr;
    const char *miss[NS__P0F_MAX_HDRS];
    uint16_t miss_id[NS__P0F_MAX_HDRS];
    size_t nmiss;
    uint64_t need[NS__P0F_NAME_WORDS];   /* ids of the headers that must be present */
    uint64_t absent[NS__P0F_NAME_WORDS]; /* ids of the headers that must not be */
    const char *sw;                      /* expected User-Agent / Server substring, or NULL */
    size_t label;                        /* index in db->labels */
    unsigned line;
};

struct ns__p0f_ua {
    const char *name;  /* OS name as in labels */
    const char *match; /* string to look for in User-Agent */
};

struct ns_p0f_db {
    char *text; /* owned, NUL-split copy of the file */
    const char *classes[NS__P0F_MAX_CLASSES];
    size_t nclasses;
    struct ns__p0f_label *labels;
    size_t nlabels;
    struct ns__p0f_tcp_sig *tcp[2]; /* [0] response (SYN+ACK), [1] request (SYN) */
    size_t ntcp[2];
    struct ns__p0f_mtu_sig *mtu;
    size_t nmtu;
    struct ns__p0f_http_sig *http[2]; /* [0] response, [1] request */
    struct ns__p0f_names names;
    size_t nhttp[2];
    struct ns__p0f_ua ua[NS__P0F_MAX_UA];
    size_t nua;
    size_t nsigs;
};

#endif
