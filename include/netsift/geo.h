/*
 * geo.h - where an IP address is: country, city, coordinates and autonomous
 * system, from MaxMind DB (MMDB) files read with libmaxminddb.
 *
 * Any MMDB file works; two record layouts are understood:
 *
 *   MaxMind (GeoIP2 / GeoLite2)        flat (the ip-location-db packages on npm)
 *   country.iso_code      "GB"         country_code   "GB"
 *   country.names.en      "United..."  (name from the built-in ISO 3166 table)
 *   city.names.en         "London"     city           "London"
 *   location.latitude     51.5142      latitude       51.5142
 *   location.longitude    -0.0931      longitude      -0.0931
 *   autonomous_system_number           autonomous_system_number
 *   autonomous_system_organization     autonomous_system_organization
 *
 * Several files can be open at once (a country file, a city file and an ASN
 * file): a lookup asks each file in the order they were opened and keeps the
 * first value found for each field.
 *
 * Addresses that are not on the public Internet are labelled and never
 * looked up (RFC 6890 special-purpose registries): private (RFC 1918, RFC
 * 4193 unique local), loopback, link-local (RFC 3927, RFC 4291), multicast,
 * CGNAT shared space (RFC 6598 100.64.0.0/10), documentation (RFC 5737, RFC
 * 3849 2001:db8::/32), unspecified, broadcast and other reserved ranges.
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are classified as their IPv4
 * address.
 *
 * A file is checked when it is opened: libmaxminddb reads its metadata, then
 * every node of the search tree is read once, so a corrupt tree is an error
 * at open time (NS_EMALFORMED naming the file) rather than a failure on some
 * later lookup.
 */
#ifndef NETSIFT_GEO_H
#define NETSIFT_GEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsift/decode.h"
#include "netsift/err.h"

#define NS_GEO_MAX_FILES 8

/* What kind of address it is; only NS_GEO_PUBLIC is looked up. */
enum ns_geo_scope {
    NS_GEO_PUBLIC = 0,
    NS_GEO_PRIVATE,
    NS_GEO_LOOPBACK,
    NS_GEO_LINK_LOCAL,
    NS_GEO_MULTICAST,
    NS_GEO_CGNAT,
    NS_GEO_DOCUMENTATION,
    NS_GEO_UNSPECIFIED,
    NS_GEO_BROADCAST,
    NS_GEO_RESERVED,
    NS_GEO_SCOPE_COUNT
};

/* "public", "private", "loopback", "link_local", "multicast", "cgnat",
 * "documentation", "unspecified", "broadcast", "reserved". */
const char *ns_geo_scope_name(enum ns_geo_scope s);

/* The scope of an address (no database needed). An absent address is "unspecified". */
enum ns_geo_scope ns_geo_classify(const struct ns_addr *a);

/* English short name of an ISO 3166-1 alpha-2 code ("GB"), or NULL when unknown. */
const char *ns_geo_country_name(const char *iso2);
/* ISO 3166-1 alpha-3 code of an alpha-2 code ("GB" -> "GBR"), or NULL when unknown. */
const char *ns_geo_country_iso3(const char *iso2);

/* One lookup. Strings are copies (NUL-terminated), "" when absent. */
struct ns_geo_result {
    enum ns_geo_scope scope;
    bool found; /* some file had a record for the address */
    char country_code[3];
    char country_name[64];
    char city[64];
    bool has_location;
    double latitude;
    double longitude;
    uint32_t asn; /* 0 when unknown */
    char as_org[128];
};

struct ns_geo;

/* An empty set of databases (lookups only classify). Returns 0 or NS_ENOMEM. */
int ns_geo_new(struct ns_geo **out);

/*
 * Open one MMDB file and add it to the set. Returns 0, NS_ENOENT (no such
 * file), NS_EMALFORMED (not an MMDB file, bad metadata, corrupt search tree:
 * err names the file and what is wrong), NS_ELIMIT (NS_GEO_MAX_FILES already
 * open), NS_EIO or NS_ENOMEM.
 */
int ns_geo_open(struct ns_geo *g, const char *path, struct ns_error *err);

/*
 * Open every "*.mmdb" file of a directory (sorted by name). *opened (may be
 * NULL) gets how many were added. A directory that does not exist is not an
 * error (0 opened); a broken file in it is (the error of ns_geo_open).
 */
int ns_geo_open_dir(struct ns_geo *g, const char *dir, size_t *opened, struct ns_error *err);

/* Number of open files, and the path of the i-th one. */
size_t ns_geo_count(const struct ns_geo *g);
const char *ns_geo_path(const struct ns_geo *g, size_t i);

/*
 * Look an address up: classify it, and for a public address ask the files.
 * Returns 0 (res->found says whether anything was found), NS_EMALFORMED when
 * a file failed during the lookup, or NS_EINVAL for an absent address.
 * g may be NULL (classification only).
 */
int ns_geo_lookup(const struct ns_geo *g, const struct ns_addr *a, struct ns_geo_result *res);

void ns_geo_free(struct ns_geo *g);

#endif
