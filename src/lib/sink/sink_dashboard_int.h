/*
 * sink_dashboard_int.h - the files embedded into the binary for the
 * dashboard page (dashboard.h). The table is generated at build time by
 * cmake/NsEmbed.cmake from web/ and web/node_modules/ (see the ns_embed()
 * call in CMakeLists.txt for the list); each file is named by its base name
 * ("dashboard.html", "d3-geo.min.js", ...).
 */
#ifndef NETSIFT_SINK_DASHBOARD_INT_H
#define NETSIFT_SINK_DASHBOARD_INT_H

#include <stddef.h>

struct ns__embed_file {
    const char *name;
    const unsigned char *data; /* len bytes, then one NUL not counted in len */
    size_t len;
};

extern const struct ns__embed_file ns__dashboard_assets[];
extern const size_t ns__dashboard_assets_count;

/* The embedded file called `name`, or NULL. */
const struct ns__embed_file *ns__dashboard_asset(const char *name);

#endif
