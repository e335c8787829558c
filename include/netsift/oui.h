/*
 * oui.h - MAC address vendor lookup from the IEEE registry.
 *
 * Reads the IEEE Registration Authority CSV files shipped by Debian's
 * ieee-data package (/usr/share/ieee-data/oui.csv for MA-L 24-bit
 * assignments, and optionally mam.csv (28-bit) and oui36.csv (36-bit)):
 *
 *   Registry,Assignment,Organization Name,Organization Address
 *   MA-L,002272,American Micro-Fuel Device Corp.,2181 Buchanan Loop ...
 *
 * Fields follow RFC 4180 (quoted fields may contain commas and doubled
 * quotes). Lookups use the longest matching assignment (36, then 28, then
 * 24 bits). The table is sorted once and searched by binary search; names are
 * stored once in one arena. Caps: 1,000,000 rows, 256 bytes per name.
 */
#ifndef NETSIFT_OUI_H
#define NETSIFT_OUI_H

#include <stddef.h>
#include <stdint.h>

#include "netsift/err.h"

#define NS_OUI_DEFAULT_DIR "/usr/share/ieee-data"

struct ns_oui;

/*
 * Load the registry files from `dir` (NULL: NS_OUI_DEFAULT_DIR): oui.csv is
 * required, mam.csv and oui36.csv are used when present. Returns 0, NS_ENOENT
 * (no oui.csv: err says which path), NS_EMALFORMED (err names the file and
 * line), or NS_ENOMEM.
 */
int ns_oui_load(struct ns_oui **out, const char *dir, struct ns_error *err);

/* Load from one CSV held in memory (tests, fuzzing); `bits` is 24, 28 or 36. */
int ns_oui_load_buffer(struct ns_oui **out, const char *csv, size_t len, unsigned bits,
                       struct ns_error *err);

/* Vendor of the 6-byte MAC address, or NULL when unknown (and for locally administered or group
 * addresses). */
const char *ns_oui_lookup(const struct ns_oui *o, const uint8_t mac[6]);

size_t ns_oui_count(const struct ns_oui *o);

void ns_oui_free(struct ns_oui *o);

#endif
