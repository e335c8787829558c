/*
 * dashboard.h - the self-contained HTML page of `netsift hosts --html`.
 *
 * The page is one file that needs no network to open: the template
 * (web/dashboard.html), its stylesheet and script (web/dashboard.css,
 * web/dashboard.js), the map and geometry libraries from the npm registry
 * (d3-array, d3-geo, topojson-client), the world outline (world-atlas
 * countries-110m.json) and the ISO 3166-1 code table (i18n-iso-countries
 * codes.json) are embedded into the binary at build time
 * (cmake/NsEmbed.cmake) and written inline.
 *
 * The data are the JSON Lines records of `netsift hosts` ("host", "country",
 * "alert"; docs/schema/README.md), inlined as one JSON array in
 *
 *   <script type="application/json" id="ns-data">[{...},{...}]</script>
 *
 * with every '<', '>' and '&' written as \u003c, \u003e and \u0026 (they can
 * only occur inside JSON strings, where the escape means the same
 * character), so no record can end the script element or open a comment.
 * The script draws the page from that array when it is opened; see
 * docs/cli/hosts.md ("dashboard") for what it shows.
 */
#ifndef NETSIFT_DASHBOARD_H
#define NETSIFT_DASHBOARD_H

#include <stddef.h>
#include <stdio.h>

#include "netsift/err.h"

/*
 * Write the page to `out` (borrowed; neither flushed nor closed).
 *
 * `title` (may be NULL: "netsift hosts") is HTML-escaped into <title> and
 * the heading. (records, len) are JSON Lines: one JSON object per line, LF
 * or CRLF line ends, blank lines ignored; records may be NULL when len is 0
 * (an empty page). Each line is checked to be one JSON object before
 * anything is written.
 *
 * Returns 0, NS_EMALFORMED (a line is not one JSON object: err names the
 * line), NS_ENOMEM, NS_EINVAL (an embedded asset is missing or would break
 * out of its element: a build error) or NS_EIO (a write failed).
 */
int ns_dashboard_write(FILE *out, const char *title, const char *records, size_t len,
                       struct ns_error *err);

#endif
