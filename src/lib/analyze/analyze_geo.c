/*
 * analyze_geo.c - GeoIP lookups through libmaxminddb (geo.h), address scope
 * classification (RFC 6890, RFC 1918, RFC 4193, RFC 6598, RFC 5737, RFC
 * 3849, RFC 3927, RFC 4291) and the ISO 3166-1 country table.
 *
 * MMDB file format (MaxMind DB File Format Specification 2.0): a binary
 * search tree over the address bits, a data section and, at the end, a
 * metadata map after the marker "\xab\xcd\xefMaxMind.com":
 *
 *   +---------------------------+------------+------------------+-------------+
 *   | search tree: node_count x | 16 zero    | data section     | marker +    |
 *   | (2 records of record_size)| bytes      | (typed values)   | metadata    |
 *   +---------------------------+------------+------------------+-------------+
 *
 * A record < node_count is another node, == node_count is "not found", and
 * > node_count points into the data section. libmaxminddb parses all of it;
 * we walk the tree once at open time with MMDB_read_node() so that a record
 * pointing nowhere is reported as a corrupt file then, and not at lookup.
 */
#include "netsift/geo.h"

#include <dirent.h>
#include <errno.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "netsift/alloc.h"

struct geo_file {
    MMDB_s db;
    char *path;
};

struct ns_geo {
    struct geo_file files[NS_GEO_MAX_FILES];
    size_t nfiles;
};

struct geo_country {
    const char *iso2;
    const char *iso3;
    const char *name;
};

/* ISO 3166-1 (alpha-2, alpha-3, English short name), sorted by alpha-2; plus XK (Kosovo), a
 * user-assigned code the GeoIP databases use. */
static const struct geo_country geo_countries[] = {
    {"AD", "AND", "Andorra"},
    {"AE", "ARE", "United Arab Emirates"},
    {"AF", "AFG", "Afghanistan"},
    {"AG", "ATG", "Antigua and Barbuda"},
    {"AI", "AIA", "Anguilla"},
    {"AL", "ALB", "Albania"},
    {"AM", "ARM", "Armenia"},
    {"AO", "AGO", "Angola"},
    {"AQ", "ATA", "Antarctica"},
    {"AR", "ARG", "Argentina"},
    {"AS", "ASM", "American Samoa"},
    {"AT", "AUT", "Austria"},
    {"AU", "AUS", "Australia"},
    {"AW", "ABW", "Aruba"},
    {"AX", "ALA", "Åland Islands"},
    {"AZ", "AZE", "Azerbaijan"},
    {"BA", "BIH", "Bosnia and Herzegovina"},
    {"BB", "BRB", "Barbados"},
    {"BD", "BGD", "Bangladesh"},
    {"BE", "BEL", "Belgium"},
    {"BF", "BFA", "Burkina Faso"},
    {"BG", "BGR", "Bulgaria"},
    {"BH", "BHR", "Bahrain"},
    {"BI", "BDI", "Burundi"},
    {"BJ", "BEN", "Benin"},
    {"BL", "BLM", "Saint Barthélemy"},
    {"BM", "BMU", "Bermuda"},
    {"BN", "BRN", "Brunei Darussalam"},
    {"BO", "BOL", "Bolivia"},
    {"BQ", "BES", "Bonaire, Sint Eustatius and Saba"},
    {"BR", "BRA", "Brazil"},
    {"BS", "BHS", "Bahamas"},
    {"BT", "BTN", "Bhutan"},
    {"BV", "BVT", "Bouvet Island"},
    {"BW", "BWA", "Botswana"},
    {"BY", "BLR", "Belarus"},
    {"BZ", "BLZ", "Belize"},
    {"CA", "CAN", "Canada"},
    {"CC", "CCK", "Cocos (Keeling) Islands"},
    {"CD", "COD", "Congo, The Democratic Republic of the"},
    {"CF", "CAF", "Central African Republic"},
    {"CG", "COG", "Congo"},
    {"CH", "CHE", "Switzerland"},
    {"CI", "CIV", "Côte d'Ivoire"},
    {"CK", "COK", "Cook Islands"},
    {"CL", "CHL", "Chile"},
    {"CM", "CMR", "Cameroon"},
    {"CN", "CHN", "China"},
    {"CO", "COL", "Colombia"},
    {"CR", "CRI", "Costa Rica"},
    {"CU", "CUB", "Cuba"},
    {"CV", "CPV", "Cabo Verde"},
    {"CW", "CUW", "Curaçao"},
    {"CX", "CXR", "Christmas Island"},
    {"CY", "CYP", "Cyprus"},
    {"CZ", "CZE", "Czechia"},
    {"DE", "DEU", "Germany"},
    {"DJ", "DJI", "Djibouti"},
    {"DK", "DNK", "Denmark"},
    {"DM", "DMA", "Dominica"},
    {"DO", "DOM", "Dominican Republic"},
    {"DZ", "DZA", "Algeria"},
    {"EC", "ECU", "Ecuador"},
    {"EE", "EST", "Estonia"},
    {"EG", "EGY", "Egypt"},
    {"EH", "ESH", "Western Sahara"},
    {"ER", "ERI", "Eritrea"},
    {"ES", "ESP", "Spain"},
    {"ET", "ETH", "Ethiopia"},
    {"FI", "FIN", "Finland"},
    {"FJ", "FJI", "Fiji"},
    {"FK", "FLK", "Falkland Islands (Malvinas)"},
    {"FM", "FSM", "Micronesia, Federated States of"},
    {"FO", "FRO", "Faroe Islands"},
    {"FR", "FRA", "France"},
    {"GA", "GAB", "Gabon"},
    {"GB", "GBR", "United Kingdom"},
    {"GD", "GRD", "Grenada"},
    {"GE", "GEO", "Georgia"},
    {"GF", "GUF", "French Guiana"},
    {"GG", "GGY", "Guernsey"},
    {"GH", "GHA", "Ghana"},
    {"GI", "GIB", "Gibraltar"},
    {"GL", "GRL", "Greenland"},
    {"GM", "GMB", "Gambia"},
    {"GN", "GIN", "Guinea"},
    {"GP", "GLP", "Guadeloupe"},
    {"GQ", "GNQ", "Equatorial Guinea"},
    {"GR", "GRC", "Greece"},
    {"GS", "SGS", "South Georgia and the South Sandwich Islands"},
    {"GT", "GTM", "Guatemala"},
    {"GU", "GUM", "Guam"},
    {"GW", "GNB", "Guinea-Bissau"},
    {"GY", "GUY", "Guyana"},
    {"HK", "HKG", "Hong Kong"},
    {"HM", "HMD", "Heard Island and McDonald Islands"},
    {"HN", "HND", "Honduras"},
    {"HR", "HRV", "Croatia"},
    {"HT", "HTI", "Haiti"},
    {"HU", "HUN", "Hungary"},
    {"ID", "IDN", "Indonesia"},
    {"IE", "IRL", "Ireland"},
    {"IL", "ISR", "Israel"},
    {"IM", "IMN", "Isle of Man"},
    {"IN", "IND", "India"},
    {"IO", "IOT", "British Indian Ocean Territory"},
    {"IQ", "IRQ", "Iraq"},
    {"IR", "IRN", "Iran"},
    {"IS", "ISL", "Iceland"},
    {"IT", "ITA", "Italy"},
    {"JE", "JEY", "Jersey"},
    {"JM", "JAM", "Jamaica"},
    {"JO", "JOR", "Jordan"},
    {"JP", "JPN", "Japan"},
    {"KE", "KEN", "Kenya"},
    {"KG", "KGZ", "Kyrgyzstan"},
    {"KH", "KHM", "Cambodia"},
    {"KI", "KIR", "Kiribati"},
    {"KM", "COM", "Comoros"},
    {"KN", "KNA", "Saint Kitts and Nevis"},
    {"KP", "PRK", "North Korea"},
    {"KR", "KOR", "South Korea"},
    {"KW", "KWT", "Kuwait"},
    {"KY", "CYM", "Cayman Islands"},
    {"KZ", "KAZ", "Kazakhstan"},
    {"LA", "LAO", "Laos"},
    {"LB", "LBN", "Lebanon"},
    {"LC", "LCA", "Saint Lucia"},
    {"LI", "LIE", "Liechtenstein"},
    {"LK", "LKA", "Sri Lanka"},
    {"LR", "LBR", "Liberia"},
    {"LS", "LSO", "Lesotho"},
    {"LT", "LTU", "Lithuania"},
    {"LU", "LUX", "Luxembourg"},
    {"LV", "LVA", "Latvia"},
    {"LY", "LBY", "Libya"},
    {"MA", "MAR", "Morocco"},
    {"MC", "MCO", "Monaco"},
    {"MD", "MDA", "Moldova"},
    {"ME", "MNE", "Montenegro"},
    {"MF", "MAF", "Saint Martin (French part)"},
    {"MG", "MDG", "Madagascar"},
    {"MH", "MHL", "Marshall Islands"},
    {"MK", "MKD", "North Macedonia"},
    {"ML", "MLI", "Mali"},
    {"MM", "MMR", "Myanmar"},
    {"MN", "MNG", "Mongolia"},
    {"MO", "MAC", "Macao"},
    {"MP", "MNP", "Northern Mariana Islands"},
    {"MQ", "MTQ", "Martinique"},
    {"MR", "MRT", "Mauritania"},
    {"MS", "MSR", "Montserrat"},
    {"MT", "MLT", "Malta"},
    {"MU", "MUS", "Mauritius"},
    {"MV", "MDV", "Maldives"},
    {"MW", "MWI", "Malawi"},
    {"MX", "MEX", "Mexico"},
    {"MY", "MYS", "Malaysia"},
    {"MZ", "MOZ", "Mozambique"},
    {"NA", "NAM", "Namibia"},
    {"NC", "NCL", "New Caledonia"},
    {"NE", "NER", "Niger"},
    {"NF", "NFK", "Norfolk Island"},
    {"NG", "NGA", "Nigeria"},
    {"NI", "NIC", "Nicaragua"},
    {"NL", "NLD", "Netherlands"},
    {"NO", "NOR", "Norway"},
    {"NP", "NPL", "Nepal"},
    {"NR", "NRU", "Nauru"},
    {"NU", "NIU", "Niue"},
    {"NZ", "NZL", "New Zealand"},
    {"OM", "OMN", "Oman"},
    {"PA", "PAN", "Panama"},
    {"PE", "PER", "Peru"},
    {"PF", "PYF", "French Polynesia"},
    {"PG", "PNG", "Papua New Guinea"},
    {"PH", "PHL", "Philippines"},
    {"PK", "PAK", "Pakistan"},
    {"PL", "POL", "Poland"},
    {"PM", "SPM", "Saint Pierre and Miquelon"},
    {"PN", "PCN", "Pitcairn"},
    {"PR", "PRI", "Puerto Rico"},
    {"PS", "PSE", "Palestine, State of"},
    {"PT", "PRT", "Portugal"},
    {"PW", "PLW", "Palau"},
    {"PY", "PRY", "Paraguay"},
    {"QA", "QAT", "Qatar"},
    {"RE", "REU", "Réunion"},
    {"RO", "ROU", "Romania"},
    {"RS", "SRB", "Serbia"},
    {"RU", "RUS", "Russian Federation"},
    {"RW", "RWA", "Rwanda"},
    {"SA", "SAU", "Saudi Arabia"},
    {"SB", "SLB", "Solomon Islands"},
    {"SC", "SYC", "Seychelles"},
    {"SD", "SDN", "Sudan"},
    {"SE", "SWE", "Sweden"},
    {"SG", "SGP", "Singapore"},
    {"SH", "SHN", "Saint Helena, Ascension and Tristan da Cunha"},
    {"SI", "SVN", "Slovenia"},
    {"SJ", "SJM", "Svalbard and Jan Mayen"},
    {"SK", "SVK", "Slovakia"},
    {"SL", "SLE", "Sierra Leone"},
    {"SM", "SMR", "San Marino"},
    {"SN", "SEN", "Senegal"},
    {"SO", "SOM", "Somalia"},
    {"SR", "SUR", "Suriname"},
    {"SS", "SSD", "South Sudan"},
    {"ST", "STP", "Sao Tome and Principe"},
    {"SV", "SLV", "El Salvador"},
    {"SX", "SXM", "Sint Maarten (Dutch part)"},
    {"SY", "SYR", "Syria"},
    {"SZ", "SWZ", "Eswatini"},
    {"TC", "TCA", "Turks and Caicos Islands"},
    {"TD", "TCD", "Chad"},
    {"TF", "ATF", "French Southern Territories"},
    {"TG", "TGO", "Togo"},
    {"TH", "THA", "Thailand"},
    {"TJ", "TJK", "Tajikistan"},
    {"TK", "TKL", "Tokelau"},
    {"TL", "TLS", "Timor-Leste"},
    {"TM", "TKM", "Turkmenistan"},
    {"TN", "TUN", "Tunisia"},
    {"TO", "TON", "Tonga"},
    {"TR", "TUR", "Türkiye"},
    {"TT", "TTO", "Trinidad and Tobago"},
    {"TV", "TUV", "Tuvalu"},
    {"TW", "TWN", "Taiwan"},
    {"TZ", "TZA", "Tanzania"},
    {"UA", "UKR", "Ukraine"},
    {"UG", "UGA", "Uganda"},
    {"UM", "UMI", "United States Minor Outlying Islands"},
    {"US", "USA", "United States"},
    {"UY", "URY", "Uruguay"},
    {"UZ", "UZB", "Uzbekistan"},
    {"VA", "VAT", "Holy See (Vatican City State)"},
    {"VC", "VCT", "Saint Vincent and the Grenadines"},
    {"VE", "VEN", "Venezuela"},
    {"VG", "VGB", "Virgin Islands, British"},
    {"VI", "VIR", "Virgin Islands, U.S."},
    {"VN", "VNM", "Vietnam"},
    {"VU", "VUT", "Vanuatu"},
    {"WF", "WLF", "Wallis and Futuna"},
    {"WS", "WSM", "Samoa"},
    {"XK", "XKX", "Kosovo"},
    {"YE", "YEM", "Yemen"},
    {"YT", "MYT", "Mayotte"},
    {"ZA", "ZAF", "South Africa"},
    {"ZM", "ZMB", "Zambia"},
    {"ZW", "ZWE", "Zimbabwe"},
};

static const char *const geo_scope_names[NS_GEO_SCOPE_COUNT] = {
    [NS_GEO_PUBLIC] = "public",
    [NS_GEO_PRIVATE] = "private",
    [NS_GEO_LOOPBACK] = "loopback",
    [NS_GEO_LINK_LOCAL] = "link_local",
    [NS_GEO_MULTICAST] = "multicast",
    [NS_GEO_CGNAT] = "cgnat",
    [NS_GEO_DOCUMENTATION] = "documentation",
    [NS_GEO_UNSPECIFIED] = "unspecified",
    [NS_GEO_BROADCAST] = "broadcast",
    [NS_GEO_RESERVED] = "reserved",
};

const char *ns_geo_scope_name(enum ns_geo_scope s)
{
    if ((unsigned)s >= NS_GEO_SCOPE_COUNT) {
        return "unknown";
    }
    return geo_scope_names[s];
}

static const struct geo_country *geo_country_find(const char *iso2)
{
    if (iso2 == NULL || strlen(iso2) != 2) {
        return NULL;
    }
    char key[3] = {(char)(iso2[0] & ~0x20), (char)(iso2[1] & ~0x20), '\0'};
    size_t lo = 0;
    size_t hi = sizeof(geo_countries) / sizeof(geo_countries[0]);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(geo_countries[mid].iso2, key);
        if (c == 0) {
            return &geo_countries[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

const char *ns_geo_country_name(const char *iso2)
{
    const struct geo_country *c = geo_country_find(iso2);
    return c != NULL ? c->name : NULL;
}

const char *ns_geo_country_iso3(const char *iso2)
{
    const struct geo_country *c = geo_country_find(iso2);
    return c != NULL ? c->iso3 : NULL;
}

static enum ns_geo_scope geo_classify4(const uint8_t *a)
{
    uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
    static const struct {
        uint32_t net;
        uint8_t bits;
        uint8_t scope;
    } ranges[] = {
        {0xffffffffu, 32, NS_GEO_BROADCAST},     /* 255.255.255.255 */
        {0x00000000u, 8, NS_GEO_UNSPECIFIED},    /* 0.0.0.0/8 "this network" */
        {0x0a000000u, 8, NS_GEO_PRIVATE},        /* 10.0.0.0/8 */
        {0x64400000u, 10, NS_GEO_CGNAT},         /* 100.64.0.0/10 */
        {0x7f000000u, 8, NS_GEO_LOOPBACK},       /* 127.0.0.0/8 */
        {0xa9fe0000u, 16, NS_GEO_LINK_LOCAL},    /* 169.254.0.0/16 */
        {0xac100000u, 12, NS_GEO_PRIVATE},       /* 172.16.0.0/12 */
        {0xc0000000u, 24, NS_GEO_RESERVED},      /* 192.0.0.0/24 IETF assignments */
        {0xc0000200u, 24, NS_GEO_DOCUMENTATION}, /* 192.0.2.0/24 TEST-NET-1 */
        {0xc0a80000u, 16, NS_GEO_PRIVATE},       /* 192.168.0.0/16 */
        {0xc6120000u, 15, NS_GEO_RESERVED},      /* 198.18.0.0/15 benchmarking */
        {0xc6336400u, 24, NS_GEO_DOCUMENTATION}, /* 198.51.100.0/24 TEST-NET-2 */
        {0xcb007100u, 24, NS_GEO_DOCUMENTATION}, /* 203.0.113.0/24 TEST-NET-3 */
        {0xe0000000u, 4, NS_GEO_MULTICAST},      /* 224.0.0.0/4 */
        {0xf0000000u, 4, NS_GEO_RESERVED},       /* 240.0.0.0/4 */
    };
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        uint32_t mask = 0xffffffffu << (32 - ranges[i].bits);
        if ((v & mask) == ranges[i].net) {
            return (enum ns_geo_scope)ranges[i].scope;
        }
    }
    return NS_GEO_PUBLIC;
}

static bool geo_is_zero(const uint8_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != 0) {
            return false;
        }
    }
    return true;
}

/* IPv4-mapped IPv6 (::ffff:0:0/96): true with the IPv4 address in out. */
static bool geo_v4_mapped(const struct ns_addr *a, uint8_t out[4])
{
    if (a->family != 6 || !geo_is_zero(a->a, 10) || a->a[10] != 0xff || a->a[11] != 0xff) {
        return false;
    }
    memcpy(out, a->a + 12, 4);
    return true;
}

enum ns_geo_scope ns_geo_classify(const struct ns_addr *a)
{
    uint8_t v4[4];
    if (a == NULL || (a->family != 4 && a->family != 6)) {
        return NS_GEO_UNSPECIFIED;
    }
    if (a->family == 4) {
        return geo_classify4(a->a);
    }
    if (geo_v4_mapped(a, v4)) {
        return geo_classify4(v4);
    }
    const uint8_t *b = a->a;
    if (geo_is_zero(b, 16)) {
        return NS_GEO_UNSPECIFIED; /* :: */
    }
    if (geo_is_zero(b, 15) && b[15] == 1) {
        return NS_GEO_LOOPBACK; /* ::1 */
    }
    if (geo_is_zero(b, 12)) {
        return NS_GEO_RESERVED; /* ::/96 IPv4-compatible, deprecated */
    }
    if (b[0] == 0xff) {
        return NS_GEO_MULTICAST; /* ff00::/8 */
    }
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
        return NS_GEO_LINK_LOCAL; /* fe80::/10 */
    }
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) {
        return NS_GEO_PRIVATE; /* fec0::/10 site-local, deprecated */
    }
    if ((b[0] & 0xfe) == 0xfc) {
        return NS_GEO_PRIVATE; /* fc00::/7 unique local */
    }
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) {
        return NS_GEO_DOCUMENTATION; /* 2001:db8::/32 */
    }
    if (b[0] == 0x01 && b[1] == 0x00 && geo_is_zero(b + 2, 6)) {
        return NS_GEO_RESERVED; /* 100::/64 discard-only */
    }
    return NS_GEO_PUBLIC;
}

int ns_geo_new(struct ns_geo **out)
{
    *out = ns_calloc(1, sizeof(**out));
    return *out != NULL ? 0 : NS_ENOMEM;
}

void ns_geo_free(struct ns_geo *g)
{
    if (g == NULL) {
        return;
    }
    for (size_t i = 0; i < g->nfiles; i++) {
        MMDB_close(&g->files[i].db);
        ns_free(g->files[i].path);
    }
    ns_free(g);
}

size_t ns_geo_count(const struct ns_geo *g)
{
    return g != NULL ? g->nfiles : 0;
}

const char *ns_geo_path(const struct ns_geo *g, size_t i)
{
    return g != NULL && i < g->nfiles ? g->files[i].path : NULL;
}

/* Read every node of the search tree once; a record of an invalid type means a corrupt file. */
static int geo_verify_tree(const MMDB_s *db, const char *path, struct ns_error *err)
{
    MMDB_search_node_s node;
    uint32_t n = db->metadata.node_count;
    for (uint32_t i = 0; i < n; i++) {
        int st = MMDB_read_node(db, i, &node);
        if (st != MMDB_SUCCESS) {
            return ns_error_set(err, NS_EMALFORMED, "%s: corrupt search tree at node %u: %s", path,
                                i, MMDB_strerror(st));
        }
        if (node.left_record_type == MMDB_RECORD_TYPE_INVALID ||
            node.right_record_type == MMDB_RECORD_TYPE_INVALID) {
            return ns_error_set(err, NS_EMALFORMED,
                                "%s: corrupt search tree: node %u points outside the file", path,
                                i);
        }
    }
    return 0;
}

int ns_geo_open(struct ns_geo *g, const char *path, struct ns_error *err)
{
    struct stat sb;
    if (g->nfiles >= NS_GEO_MAX_FILES) {
        return ns_error_set(err, NS_ELIMIT, "%s: too many GeoIP files (at most %d)", path,
                            NS_GEO_MAX_FILES);
    }
    if (stat(path, &sb) != 0) {
        int e = errno;
        return ns_error_set(err, e == ENOENT ? NS_ENOENT : NS_EIO, "%s: cannot open: %s", path,
                            strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        return ns_error_set(err, NS_EINVAL, "%s: is a directory, not an MMDB file", path);
    }
    struct geo_file *f = &g->files[g->nfiles];
    memset(f, 0, sizeof(*f));
    int st = MMDB_open(path, MMDB_MODE_MMAP, &f->db);
    if (st != MMDB_SUCCESS) {
        int code = NS_EMALFORMED;
        if (st == MMDB_OUT_OF_MEMORY_ERROR) {
            code = NS_ENOMEM;
        } else if (st == MMDB_FILE_OPEN_ERROR || st == MMDB_IO_ERROR) {
            code = NS_EIO;
        }
        return ns_error_set(err, code, "%s: not a usable MMDB file: %s", path, MMDB_strerror(st));
    }
    int rc = geo_verify_tree(&f->db, path, err);
    if (rc == 0) {
        f->path = ns_strdup(path);
        rc = f->path == NULL ? ns_error_set(err, NS_ENOMEM, "out of memory") : 0;
    }
    if (rc != 0) {
        MMDB_close(&f->db);
        return rc;
    }
    g->nfiles++;
    return 0;
}

static int geo_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ns_geo_open_dir(struct ns_geo *g, const char *dir, size_t *opened, struct ns_error *err)
{
    char *names[NS_GEO_MAX_FILES];
    size_t n = 0;
    int rc = 0;
    if (opened != NULL) {
        *opened = 0;
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        return 0;
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            break;
        }
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".mmdb") != 0) {
            continue;
        }
        if (n == NS_GEO_MAX_FILES) {
            rc =
                ns_error_set(err, NS_ELIMIT, "%s: more than %d .mmdb files", dir, NS_GEO_MAX_FILES);
            goto out;
        }
        size_t plen = strlen(dir) + 1 + len + 1;
        names[n] = ns_malloc(plen);
        if (names[n] == NULL) {
            rc = ns_error_set(err, NS_ENOMEM, "out of memory");
            goto out;
        }
        snprintf(names[n], plen, "%s/%s", dir, de->d_name);
        n++;
    }
    qsort(names, n, sizeof(names[0]), geo_cmp_names);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = ns_geo_open(g, names[i], err);
        if (rc == 0 && opened != NULL) {
            (*opened)++;
        }
    }
out:
    for (size_t i = 0; i < n; i++) {
        ns_free(names[i]);
    }
    closedir(d);
    return rc;
}

/* Get a value at `path`; false when absent or of another shape. A corrupt data section sets
 * *bad. */
static bool geo_get(MMDB_entry_s *e, MMDB_entry_data_s *v, const char *const *path, bool *bad)
{
    int st = MMDB_aget_value(e, v, path);
    if (st == MMDB_INVALID_DATA_ERROR || st == MMDB_CORRUPT_SEARCH_TREE_ERROR) {
        *bad = true;
        return false;
    }
    return st == MMDB_SUCCESS && v->has_data;
}

static void geo_get_str(MMDB_entry_s *e, const char *const *path, char *out, size_t size, bool *bad)
{
    MMDB_entry_data_s v;
    if (out[0] != '\0' || !geo_get(e, &v, path, bad) || v.type != MMDB_DATA_TYPE_UTF8_STRING) {
        return;
    }
    size_t n = v.data_size < size - 1 ? v.data_size : size - 1;
    memcpy(out, v.utf8_string, n);
    out[n] = '\0';
}

static bool geo_get_double(MMDB_entry_s *e, const char *const *path, double *out, bool *bad)
{
    MMDB_entry_data_s v;
    if (!geo_get(e, &v, path, bad)) {
        return false;
    }
    if (v.type == MMDB_DATA_TYPE_DOUBLE) {
        *out = v.double_value;
        return true;
    }
    if (v.type == MMDB_DATA_TYPE_FLOAT) {
        *out = v.float_value;
        return true;
    }
    return false;
}

static bool geo_get_u32(MMDB_entry_s *e, const char *const *path, uint32_t *out, bool *bad)
{
    MMDB_entry_data_s v;
    if (!geo_get(e, &v, path, bad)) {
        return false;
    }
    switch (v.type) {
    case MMDB_DATA_TYPE_UINT16:
        *out = v.uint16;
        return true;
    case MMDB_DATA_TYPE_UINT32:
        *out = v.uint32;
        return true;
    case MMDB_DATA_TYPE_INT32:
        *out = v.int32 > 0 ? (uint32_t)v.int32 : 0;
        return true;
    case MMDB_DATA_TYPE_UINT64:
        *out = v.uint64 <= UINT32_MAX ? (uint32_t)v.uint64 : 0;
        return true;
    default:
        return false;
    }
}

/* Fill the fields of res still empty from one record (both layouts). */
static void geo_fill(MMDB_entry_s *e, struct ns_geo_result *res, bool *bad)
{
    static const char *const p_cc[] = {"country", "iso_code", NULL};
    static const char *const p_cc_flat[] = {"country_code", NULL};
    static const char *const p_cname[] = {"country", "names", "en", NULL};
    static const char *const p_city[] = {"city", "names", "en", NULL};
    static const char *const p_city_flat[] = {"city", NULL};
    static const char *const p_lat[] = {"location", "latitude", NULL};
    static const char *const p_lon[] = {"location", "longitude", NULL};
    static const char *const p_lat_flat[] = {"latitude", NULL};
    static const char *const p_lon_flat[] = {"longitude", NULL};
    static const char *const p_asn[] = {"autonomous_system_number", NULL};
    static const char *const p_org[] = {"autonomous_system_organization", NULL};

    geo_get_str(e, p_cc, res->country_code, sizeof(res->country_code), bad);
    geo_get_str(e, p_cc_flat, res->country_code, sizeof(res->country_code), bad);
    geo_get_str(e, p_cname, res->country_name, sizeof(res->country_name), bad);
    geo_get_str(e, p_city, res->city, sizeof(res->city), bad);
    geo_get_str(e, p_city_flat, res->city, sizeof(res->city), bad);
    if (!res->has_location) {
        double lat = 0;
        double lon = 0;
        if ((geo_get_double(e, p_lat, &lat, bad) && geo_get_double(e, p_lon, &lon, bad)) ||
            (geo_get_double(e, p_lat_flat, &lat, bad) &&
             geo_get_double(e, p_lon_flat, &lon, bad))) {
            res->has_location = true;
            res->latitude = lat;
            res->longitude = lon;
        }
    }
    if (res->asn == 0) {
        geo_get_u32(e, p_asn, &res->asn, bad);
    }
    geo_get_str(e, p_org, res->as_org, sizeof(res->as_org), bad);
}

int ns_geo_lookup(const struct ns_geo *g, const struct ns_addr *a, struct ns_geo_result *res)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    uint8_t v4[4] = {0, 0, 0, 0};
    bool is4;
    bool bad = false;

    memset(res, 0, sizeof(*res));
    if (a == NULL || (a->family != 4 && a->family != 6)) {
        res->scope = NS_GEO_UNSPECIFIED;
        return NS_EINVAL;
    }
    res->scope = ns_geo_classify(a);
    if (res->scope != NS_GEO_PUBLIC || g == NULL || g->nfiles == 0) {
        return 0;
    }
    memset(&sin, 0, sizeof(sin));
    memset(&sin6, 0, sizeof(sin6));
    is4 = a->family == 4 || geo_v4_mapped(a, v4);
    if (a->family == 4) {
        memcpy(v4, a->a, 4);
    }
    sin.sin_family = AF_INET;
    memcpy(&sin.sin_addr, v4, 4);
    sin6.sin6_family = AF_INET6;
    memcpy(&sin6.sin6_addr, a->a, 16);

    for (size_t i = 0; i < g->nfiles; i++) {
        const MMDB_s *db = &g->files[i].db;
        int st = MMDB_SUCCESS;
        if (!is4 && db->metadata.ip_version == 4) {
            continue; /* an IPv4-only file has nothing for IPv6 */
        }
        const struct sockaddr *sa =
            is4 ? (const struct sockaddr *)&sin : (const struct sockaddr *)&sin6;
        MMDB_lookup_result_s lr = MMDB_lookup_sockaddr(db, sa, &st);
        if (st != MMDB_SUCCESS) {
            return NS_EMALFORMED;
        }
        if (!lr.found_entry) {
            continue;
        }
        res->found = true;
        geo_fill(&lr.entry, res, &bad);
        if (bad) {
            return NS_EMALFORMED;
        }
    }
    if (res->country_code[0] != '\0' && res->country_name[0] == '\0') {
        const char *name = ns_geo_country_name(res->country_code);
        if (name != NULL) {
            snprintf(res->country_name, sizeof(res->country_name), "%s", name);
        }
    }
    return 0;
}
