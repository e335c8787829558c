#!/usr/bin/env bash
# test_devices_synth.sh - `netsift devices` against the device truth of
# `netsift synth` (HL7 sessions with PRT-10 / PRT-16 / OBX-18, messages split
# over small TCP segments and two messages in one segment; DICOM
# associations with C-STORE data sets): every device found with exactly the
# identifiers the generator put in, its MAC and server port, and nothing
# else, also when all other kinds of traffic are mixed in. A second run gives
# byte-identical output, and --post to a closed port does not change what is
# written (capture never waits for the endpoint).
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
need_tool python3

run_case() {
    local name=$1
    shift
    run_ns "$T/$name.synth.out" "$T/$name.synth.err" synth -o "$T/$name.pcap" \
        --truth "$T/$name.truth" "$@"
    if [ "$RC" -ne 0 ]; then
        fail "$name: synth $*: exit $RC"
        return
    fi
    run_ns "$T/$name.json" "$T/$name.err" devices -r "$T/$name.pcap" --format json --client-id c
    expect_eq "$name: exit status" "$RC" 0
    if python3 "$E2E_DIR/devices_expect.py" --truth "$T/$name.truth" "$T/$name.json" \
        >"$T/$name.cmp" 2>&1; then
        ok "$name: $(tail -n 1 "$T/$name.cmp")"
    else
        fail "$name: $(cat "$T/$name.cmp")"
    fi
    if grep -Eq 'DOE\^|ROE\^|TEST\^PATIENT|SAMPLE\^|EXAMPLE\^|MRN[0-9]|PAT[0-9]' "$T/$name.json"; then
        fail "$name: patient data in the output"
    else
        ok "$name: no patient data in the output"
    fi
}

for seed in 1 2 3; do
    run_case "hl7dicom$seed" --kinds hl7,dicom --seed "$seed"
done
run_case all5 --seed 5

run_ns "$T/again.json" "$T/again.err" devices -r "$T/all5.pcap" --format json --client-id c
check "same input, same output" cmp -s "$T/all5.json" "$T/again.json"

# --post to a port where nobody listens: the output is the same
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run_ns "$T/post.json" "$T/post.err" devices -r "$T/all5.pcap" --format json --client-id c \
    --post "http://127.0.0.1:$port/x" --token sekrit-token
expect_eq "--post: exit status" "$RC" 0
check "--post: the same records on stdout" cmp -s "$T/all5.json" "$T/post.json"
check "--post: counters on stderr" grep -q "posted [0-9]* records: 0 sent" "$T/post.err"
if grep -q sekrit "$T/post.err" "$T/post.json"; then
    fail "--post: the token appears in the output"
else
    ok "--post: the token is not logged"
fi
finish
