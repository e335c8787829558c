#!/usr/bin/env bash
# test_devices_captures.sh - `netsift devices` on the shared captures:
# tapirx's own test captures (pcap/hl7/HL7-*.pcap, pcap/dicom/dicom_arq_*)
# and the real DCMTK / Orthanc / python-hl7 loopback captures
# (pcap/medical-real/, see MANIFEST.md).
#
# For each capture: the exact number of records, the exact last record of
# each device (addresses, MAC, ports, identifier and provenance, every
# identifier with its provenance, protocol, times, client_id, the Community
# ID recomputed here from the 5-tuple), the vendor from the IEEE registry
# when installed; CSV with one header and 14 values in every row; and no
# patient value (PID names, MRNs, birth dates, DICOM patient names / IDs)
# anywhere in the JSON, CSV, text or stderr output.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
need_shared_data
need_tool python3

D=$NS_SHARED_DATA/pcap
PHI='MOUSE|MICKEY|MINNIE|135769|19281118|19240101|Main St|ohtoodles|MOUSEHOLE|ROE\^RICHARD|RICHARD|DOE\^JANE|MRN-200777|MRN-100234|999-00-1234|19750315|19800101|FAKE ST|Lastname|Firstname|id11111|CompressedSamples|JXD191021006'

for f in hl7/HL7-ADT-UDI-PRT.pcap hl7/HL7-ADT-UDI-OBX.pcap hl7/HL7-ORM.pcap hl7/HL7-ORU.pcap \
    dicom/dicom_arq_1_find_testclient.pcap dicom/dicom_arq_2_get_testclient.pcap \
    dicom/dicom_arq_3_find_bogus_local.pcap dicom/dicom_arq_4_get_bogus_local.pcap \
    medical-real/dicom_dcmtk_store_ct_11112.pcap medical-real/dicom_orthanc_echo_us_cart_7.pcap \
    medical-real/dicom_orthanc_find_ris_ws_04.pcap medical-real/dicom_orthanc_reject_called_ae.pcap \
    medical-real/dicom_orthanc_store_multi_router1.pcap \
    medical-real/dicom_orthanc_store_then_abort_cr_room_1.pcap \
    medical-real/hl7_multi_adt_prt_oru_a08_2575.pcap medical-real/hl7_oru_pump_obx18_2575.pcap; do
    name=$(basename "$f" .pcap)
    if [ ! -f "$D/$f" ]; then
        echo "note: $f absent, not checked"
        continue
    fi
    run_ns "$T/$name.json" "$T/$name.err" devices -r "$D/$f" --client-id e2e -v
    expect_eq "$name: exit status" "$RC" 0
    run_ns "$T/$name.csv" "$T/$name.cerr" devices -r "$D/$f" --client-id e2e --format csv \
        --csv "$T/$name.file.csv"
    expect_eq "$name: csv exit status" "$RC" 0
    run_ns "$T/$name.txt" "$T/$name.terr" devices -r "$D/$f" --client-id e2e --format text
    if python3 "$E2E_DIR/devices_expect.py" "$name" "$T/$name.json" "$T/$name.csv" \
        "$T/$name.file.csv" >"$T/$name.cmp" 2>&1; then
        ok "$name: $(tail -n 1 "$T/$name.cmp")"
    else
        fail "$name: $(cat "$T/$name.cmp")"
    fi
    if grep -Eq "$PHI" "$T/$name".*; then
        fail "$name: patient data in the output: $(grep -Eho "$PHI" "$T/$name".* | sort -u | tr '\n' ' ')"
    else
        ok "$name: no patient data in any output"
    fi
done
finish
