#!/usr/bin/env python3
"""devices_expect.py NAME JSON CSV CSVFILE - check `netsift devices` output
for one shared capture against the records it must produce.
devices_expect.py --truth TRUTH JSON - check it against the device lines of
`netsift synth --truth`: every device found, nothing else, and the last
record of each holds exactly the generator's identifiers (as a set), its
most specific identifier and provenance, its MAC and the server port.

EXPECT maps a capture name to (number of records, {address: last record}).
The last record of each device must hold exactly these values; identifiers
are compared as an ordered list of (value, provenance). The Community ID of
tapirx's HL7 captures is recomputed here (Community ID v1, seed 0). The
vendor is checked against /usr/share/ieee-data/oui.csv when it is installed.
CSV (stdout and --csv FILE) must have one header and 14 values per row, and
the same rows as the JSON. Prints a one-line summary; exits 1 on a mismatch.
"""
import base64
import csv
import hashlib
import json
import os
import socket
import struct
import sys

CALLING = "DICOM calling AE title"
IMPL_UID = "DICOM implementation class UID"
IMPL_VER = "DICOM implementation version name"
DCMTK = [("1.2.276.0.7230010.3.0.3.6.7", IMPL_UID), ("OFFIS_DCMTK_367", IMPL_VER)]
GODICOM = [("1.2.826.0.1.3680043.9.7133.1.1", IMPL_UID), ("GODICOM_1_1", IMPL_VER)]


def hl7(ident, prov, first, last=None, mac="00:03:b1:b5:b6:48", port="6661", ctx=None):
    ids = [(ident, prov)] + (ctx or [("SENDING_APPLICATION", "HL7 MSH-3"),
                                     ("SENDING_FACILITY", "HL7 MSH-4")])
    return dict(mac_address=mac, connect_port_tcp=port, open_port_tcp="", identifier=ident,
                provenance=prov, identifiers=ids, protocol="hl7", first_seen=first,
                last_seen=last or first)


def dicom(ae, port, first, impl, extra=None, ident=None, prov=None, last=None):
    ids = [(ae, CALLING)] + impl + (extra or [])
    return dict(mac_address="", connect_port_tcp=port, open_port_tcp="",
                identifier=ident or ae, provenance=prov or CALLING, identifiers=ids,
                protocol="dicom", first_seen=first, last_seen=last or first)


T_TAPIRX = "2018-01-30T01:23:42.252881Z"
EXPECT = {
    "HL7-ADT-UDI-PRT": (1, {"10.0.0.155": hl7("Hospira Plum A+", "HL7 PRT-16", T_TAPIRX)}),
    "HL7-ADT-UDI-OBX": (1, {"10.0.0.155": hl7("Hospira Plum A+", "HL7 OBX-18", T_TAPIRX)}),
    # orders and results without a device identifier: no asset (devices.h)
    "HL7-ORM": (0, {}),
    "HL7-ORU": (0, {}),
    "dicom_arq_1_find_testclient": (1, {"127.0.0.1": dicom(
        "testclient", "104", "2018-11-16T21:26:56.208085Z", GODICOM)}),
    "dicom_arq_2_get_testclient": (1, {"127.0.0.1": dicom(
        "testclient", "104", "2018-11-16T21:27:18.136896Z", GODICOM)}),
    "dicom_arq_3_find_bogus_local": (1, {"127.0.0.1": dicom(
        "bogus_local", "104", "2018-11-19T15:14:32.542802Z", GODICOM)}),
    "dicom_arq_4_get_bogus_local": (1, {"127.0.0.1": dicom(
        "testclient", "104", "2018-11-19T15:11:20.263678Z", GODICOM)}),
    "dicom_dcmtk_store_ct_11112": (2, {"127.0.0.1": dicom(
        "CT_SCANNER_01", "11112", "2026-11-23T01:23:23.180174Z", DCMTK,
        [("RHAPSODE", "DICOM (0008,1090) model name"),
         ("GE MEDICAL SYSTEMS", "DICOM (0008,0070) manufacturer"),
         ("CT", "DICOM (0008,0060) modality"),
         ("05", "DICOM (0018,1020) software versions"),
         ("JFK IMAGING CENTER", "DICOM (0008,0080) institution name"),
         ("CT01_OC0", "DICOM (0008,1010) station name")],
        ident="RHAPSODE", prov="DICOM (0008,1090) model name",
        last="2026-11-23T01:23:23.184221Z")}),
    "dicom_orthanc_echo_us_cart_7": (1, {"127.0.0.1": dicom(
        "US_CART_7", "4242", "2026-11-23T01:22:58.063322Z", DCMTK)}),
    "dicom_orthanc_find_ris_ws_04": (1, {"127.0.0.1": dicom(
        "RIS_WS_04", "4242", "2026-11-23T01:23:11.123520Z", DCMTK)}),
    "dicom_orthanc_reject_called_ae": (1, {"127.0.0.1": dicom(
        "CT_SCANNER_02", "4242", "2026-11-23T01:23:00.216053Z", DCMTK)}),
    # a router forwarding four makers' objects: their attributes are not its identity
    "dicom_orthanc_store_multi_router1": (1, {"127.0.0.1": dicom(
        "DCM_ROUTER_1", "4242", "2026-11-23T01:23:02.277808Z", DCMTK)}),
    "dicom_orthanc_store_then_abort_cr_room_1": (2, {"127.0.0.1": dicom(
        "CR_ROOM_1", "4242", "2026-11-23T01:23:06.834591Z", DCMTK,
        [("ADC_5156", "DICOM (0008,1090) model name"),
         ("1871", "DICOM (0018,1000) device serial number"),
         ("Agfa-Gevaert AG", "DICOM (0008,0070) manufacturer"),
         ("CR", "DICOM (0008,0060) modality"),
         ("c25_1008", "DICOM (0018,1020) software versions"),
         ("CR250", "DICOM (0008,1010) station name")],
        ident="ADC_5156", prov="DICOM (0008,1090) model name",
        last="2026-11-23T01:23:06.836120Z")}),
    "hl7_multi_adt_prt_oru_a08_2575": (2, {"127.0.0.1": hl7(
        "Infusion Pump^^HL7", "HL7 PRT-10", "2026-11-23T01:23:39.210117Z",
        "2026-11-23T01:23:39.211158Z", mac="", port="2575",
        ctx=[("(01)00643169007222", "HL7 PRT-16"), ("SN-4471-PUMP", "HL7 PRT-20"),
             ("ADT_SYS", "HL7 MSH-3"), ("MEDCAP_HOSP", "HL7 MSH-4"),
             ("AABBCCDDEEFF0011^EUI-64", "HL7 OBX-18"), ("MONITOR_GW", "HL7 MSH-3"),
             ("ICU_EAST", "HL7 MSH-4")])}),
    "hl7_oru_pump_obx18_2575": (1, {"127.0.0.1": hl7(
        "0012345678ABCDEF^EUI-64", "HL7 OBX-18", "2026-11-23T01:23:36.919674Z", mac="",
        port="2575", ctx=[("PUMP_GW^0012345678ABCDEF^EUI-64", "HL7 MSH-3"),
                          ("ICU_EAST", "HL7 MSH-4")])}),
}


def community_id(saddr, sport, daddr, dport, proto=6):
    s, d = socket.inet_aton(saddr), socket.inet_aton(daddr)
    if (s, sport) > (d, dport):
        s, d, sport, dport = d, s, dport, sport
    h = hashlib.sha1(struct.pack(">H", 0) + s + d + bytes([proto, 0]) +
                     struct.pack(">HH", sport, dport)).digest()
    return "1:" + base64.b64encode(h).decode()


def vendor_of(mac):
    path = "/usr/share/ieee-data/oui.csv"
    if not mac or not os.path.exists(path):
        return None
    want = mac.replace(":", "")[:6].upper()
    with open(path, newline="", encoding="utf-8", errors="replace") as fp:
        for row in csv.reader(fp):
            if len(row) >= 3 and row[0] == "MA-L" and row[1].upper() == want:
                return row[2]
    return ""


def truth_main(tpath, jpath):
    truth = {}
    for line in open(tpath, encoding="utf-8"):
        t = json.loads(line)
        if t.get("type") == "device":
            truth[t["ip_address"]] = t
    last = {}
    for line in open(jpath, encoding="utf-8"):
        r = json.loads(line)
        last[r["ipv4_address"] or r["ipv6_address"]] = r
    errs = []
    if sorted(last) != sorted(truth):
        errs.append("devices %s, truth %s" % (sorted(last), sorted(truth)))
    for addr, t in truth.items():
        r = last.get(addr)
        if r is None:
            continue
        got = sorted((i["value"], i["provenance"]) for i in r["identifiers"])
        want = sorted((i["value"], i["provenance"]) for i in t["identifiers"])
        if got != want:
            errs.append("%s identifiers: got %s, want %s" % (addr, got, want))
        for k, v in (("identifier", t["identifier"]), ("provenance", t["provenance"]),
                     ("mac_address", t["mac_address"]), ("protocol", t["kind"]),
                     ("connect_port_tcp", str(t["connect_port_tcp"])), ("open_port_tcp", "")):
            if r[k] != v:
                errs.append("%s %s: got %r, want %r" % (addr, k, r[k], v))
    if errs:
        print("\n".join(errs))
        sys.exit(1)
    print("%d devices as in the truth" % len(truth))


def main():
    if sys.argv[1] == "--truth":
        truth_main(sys.argv[2], sys.argv[3])
        return
    name, jpath, cpath, fpath = sys.argv[1:5]
    n_want, devices = EXPECT[name]
    recs = [json.loads(line) for line in open(jpath, encoding="utf-8")]
    errs = []
    if len(recs) != n_want:
        errs.append("%d records, want %d" % (len(recs), n_want))
    last = {}
    for r in recs:
        if r.get("type") != "device" or r.get("schema") != 1:
            errs.append("not a device record: %r" % r)
        last[r["ipv4_address"] or r["ipv6_address"]] = r
    if sorted(last) != sorted(devices):
        errs.append("devices %s, want %s" % (sorted(last), sorted(devices)))
    for addr, want in devices.items():
        got = last.get(addr)
        if got is None:
            continue
        for k, v in want.items():
            g = got.get(k)
            if k == "identifiers":
                g = [(i["value"], i["provenance"]) for i in g]
            if g != v:
                errs.append("%s %s: got %r, want %r" % (addr, k, g, v))
        if got["client_id"] != "e2e" or got["ipv6_address"] != "":
            errs.append("%s: client_id / ipv6_address %r %r" % (addr, got["client_id"],
                                                               got["ipv6_address"]))
        if name.startswith("HL7-ADT"):
            cid = community_id("10.0.0.155", 49242, "10.0.0.126", 6661)
            if got["community_id"] != cid:
                errs.append("community_id %s, want %s" % (got["community_id"], cid))
        elif not got["community_id"].startswith("1:") or len(got["community_id"]) != 30:
            errs.append("community_id %r" % got["community_id"])
        v = vendor_of(got["mac_address"])
        if v is not None and got["vendor"] != v:
            errs.append("vendor %r, want %r" % (got["vendor"], v))
    for path in (cpath, fpath):
        rows = list(csv.reader(open(path, newline="", encoding="utf-8")))
        if not rows or rows[0][0] != "ipv4_address":
            errs.append("%s: no CSV header" % path)
            continue
        if any(len(r) != 14 for r in rows):
            errs.append("%s: rows with other than 14 values" % path)
        if len(rows) - 1 != len(recs):
            errs.append("%s: %d rows, want %d" % (path, len(rows) - 1, len(recs)))
        for row, r in zip(rows[1:], recs):
            ids = ";".join("%s=%s" % (i["provenance"], i["value"].replace("%", "%25")
                                      .replace(";", "%3B")) for i in r["identifiers"])
            if row[6] != r["identifier"] or row[8] != ids or row[11] != r["last_seen"]:
                errs.append("%s: row %r differs from %r" % (path, row, r))
    if errs:
        print("\n".join(errs))
        sys.exit(1)
    print("%d records, %d devices as expected" % (len(recs), len(devices)))


if __name__ == "__main__":
    main()
