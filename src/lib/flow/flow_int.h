/*
 * flow_int.h - internals shared by the files of the flow stage.
 *
 * The ICMP "port" mapping of the Community ID spec (taken there from Zeek):
 * the flow table keys ICMP flows with it, so that a request and its reply
 * land in one flow and the flow's Community ID is the spec's.
 */
#ifndef NETSIFT_FLOW_INT_H
#define NETSIFT_FLOW_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Map an ICMP (proto 1) or ICMPv6 (proto 58) type and code to a port pair.
 * Types with a request/reply counterpart give (type, counterpart) and return
 * false; the others give (type, code) and return true ("one-way": their
 * endpoints are never swapped into canonical order).
 */
bool ns__flow_icmp_ports(uint8_t proto, uint8_t type, uint8_t code, uint16_t *sport,
                         uint16_t *dport);

/* true for the protocols whose ports enter the Community ID hash. */
bool ns__flow_proto_has_ports(uint8_t proto);

/*
 * Community ID v1 of endpoints already in the spec's order (a first), with
 * the ports already mapped. ipver selects 4- or 16-byte addresses. Writes
 * "1:<base64>" into buf; returns 0, or NS_EINVAL (size < 32, bad ipver).
 */
int ns__flow_cid_ordered(uint8_t ipver, uint8_t proto, const uint8_t *a, const uint8_t *b,
                         uint16_t aport, uint16_t bport, uint16_t seed, char *buf, size_t size);

#endif
