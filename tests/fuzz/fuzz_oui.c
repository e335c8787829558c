/*
 * fuzz_oui.c - libFuzzer target for the IEEE registry CSV parser
 * (ns_oui_load_buffer, analyze_oui.c; CSV per RFC 4180, the registry layout
 * of Debian's ieee-data oui.csv / mam.csv / oui36.csv).
 *
 * Input layout:
 *
 *   +--------+------------------------------------------+
 *   | sel    | CSV text (any bytes)                     |
 *   +--------+------------------------------------------+
 *     sel % 4: 0 -> 24 bits, 1 -> 28 bits, 2 -> 36 bits, 3 -> 20 bits
 *     (an invalid prefix length, which must be refused)
 *
 * A failed load must leave no table and a message; a successful one must
 * answer lookups (every 6-byte window of the input as a MAC address, and
 * a few fixed ones) with NULL or a NUL-terminated name shorter than 256
 * bytes (the header's cap), and refuse group and locally administered
 * addresses.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsift/err.h"
#include "netsift/oui.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *name)
{
    if (name != NULL && strnlen(name, 256) == 256) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned bits_of[4] = {24, 28, 36, 20};
    static const uint8_t fixed[][6] = {
        {0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
        {0x00, 0x22, 0x72, 0x01, 0x02, 0x03},
        {0x70, 0xb3, 0xd5, 0x12, 0x34, 0x56},
        {0xfc, 0xff, 0xff, 0xff, 0xff, 0xff},
    };
    struct ns_oui *o = NULL;
    struct ns_error err;

    if (size == 0) {
        return 0;
    }
    unsigned bits = bits_of[data[0] % 4];
    ns_error_clear(&err);
    int rc = ns_oui_load_buffer(&o, (const char *)data + 1, size - 1, bits, &err);
    if (rc != 0) {
        if (o != NULL || err.msg[0] == '\0') {
            abort();
        }
        return 0;
    }
    if (o == NULL || bits == 20) {
        abort();
    }
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        check_name(ns_oui_lookup(o, fixed[i]));
    }
    for (size_t i = 1; i + 6 <= size; i++) {
        uint8_t mac[6];
        memcpy(mac, data + i, 6);
        const char *name = ns_oui_lookup(o, mac);
        check_name(name);
        if ((mac[0] & 0x03) != 0 && name != NULL) {
            abort(); /* group or locally administered: never a vendor */
        }
    }
    (void)ns_oui_count(o);
    ns_oui_free(o);
    return 0;
}
