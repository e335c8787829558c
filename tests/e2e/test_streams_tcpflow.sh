#!/usr/bin/env bash
# test_streams_tcpflow.sh - conformance of `netsift streams` with Debian's
# tcpflow (the peer it replaces) on every shared capture with TCP payload and
# on synth captures: the same file names and byte-identical contents, except
# where a documented reason class explains the difference. The classes are
# computed from the capture by streams_compare.py (and its independent
# rebuilder streams_pcap.py), never listed per file; see
# tests/e2e/STREAMS-CONFORMANCE.md. The same for -a (HTTP bodies) and -c
# (console output).
#
# Prints one summary line per capture: "<capture>: <class> <n> ...".
# Set NS_CONFORMANCE_VERBOSE=1 to list every file and its class.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
need_tool python3 tcpflow

CMP="$E2E_DIR/streams_compare.py"
declare -A TOTAL=()

# compare_one LABEL CAPTURE [--http]
compare_one() {
    local label=$1 cap=$2 mode=${3:-} d rc tfrc
    d="$T/w/$(echo "$label" | tr '/' '_')$mode"
    mkdir -p "$d"
    tfrc=0
    if [ "$mode" = "--http" ]; then
        (cd "$d" && timeout 120 tcpflow -a -r "$cap" -o tf >/dev/null 2>&1) || tfrc=$?
        rc=0
        "$NETSIFT" streams -q -a -r "$cap" -o "$d/ns" >/dev/null 2>"$d/ns.err" || rc=$?
    else
        (cd "$d" && timeout 120 tcpflow -r "$cap" -o tf >/dev/null 2>&1) || tfrc=$?
        rc=0
        "$NETSIFT" streams -q -r "$cap" -o "$d/ns" >/dev/null 2>"$d/ns.err" || rc=$?
    fi
    mkdir -p "$d/tf" "$d/ns"
    if [ "$rc" -ne 0 ] && ! grep -q "cannot\|error" "$d/ns.err"; then
        fail "$label$mode: netsift exited $rc without a message"
    fi
    local out
    out=$(python3 "$CMP" $mode --tcpflow-rc "$tfrc" "$d/tf" "$d/ns" "$cap" 2>&1)
    local st=$?
    [ -n "${NS_CONFORMANCE_VERBOSE:-}" ] && echo "$out" | sed "s|^|  $label$mode: |"
    local summary
    summary=$(echo "$out" | awk 'NF {print $1}' | sort | uniq -c | awk '{printf " %s %s", $2, $1}')
    if [ "$st" -ne 0 ]; then
        fail "$label$mode:$summary"
        echo "$out" | grep -E "^FAIL|Traceback|Error" | sed 's/^/    /'
    else
        [ -n "$summary" ] && ok "$label$mode:$summary"
    fi
    local cls
    for cls in $(echo "$out" | awk 'NF {print $1}'); do
        TOTAL[$cls]=$((${TOTAL[$cls]:-0} + 1))
    done
}

# console mode: tcpflow prints in arrival order and prints frame padding as
# dots; netsift prints in delivery order. Same lines once padding lines are
# dropped, and identical output for captures without reordering.
compare_console() {
    local label=$1 cap=$2 exact=$3
    tcpflow -c -r "$cap" 2>/dev/null |
        grep -a -v -E '^[0-9a-f.:]+-[0-9a-f.:]+(--[0-9]+)?: \.{1,46}$' >"$T/c.tf" || true
    "$NETSIFT" streams -q -c -r "$cap" >"$T/c.ns" 2>/dev/null || true
    if [ "$exact" = exact ]; then
        check "$label -c: identical console output" cmp -s "$T/c.tf" "$T/c.ns"
    else
        check "$label -c: same lines (arrival vs delivery order)" \
            cmp -s <(LC_ALL=C sort "$T/c.tf") <(LC_ALL=C sort "$T/c.ns")
    fi
}

mkdir -p "$T/w" "$T/synth"

# synth captures: TCP, HTTP, retransmissions, fragments, VLAN, IPv6
for seed in 1 2 3; do
    "$NETSIFT" synth -q -o "$T/synth/s$seed.pcap" --kinds tcp,http,retrans,frag,vlan,ipv6 \
        --seed "$seed" || fail "synth seed $seed"
    compare_one "synth-seed$seed" "$T/synth/s$seed.pcap"
    compare_one "synth-seed$seed" "$T/synth/s$seed.pcap" --http
done

if [ -z "${NS_SHARED_DATA:-}" ] || [ ! -d "$NS_SHARED_DATA/pcap" ]; then
    echo "note: shared captures not found (NS_SHARED_DATA='${NS_SHARED_DATA:-}'): synth only"
else
    P=$NS_SHARED_DATA/pcap
    while IFS= read -r cap; do
        # only captures with TCP payload (an independent look, not netsift's)
        if ! python3 "$E2E_DIR/streams_pcap.py" "$cap" 2>/dev/null | grep -q .; then
            continue
        fi
        label=${cap#"$P"/}
        compare_one "$label" "$cap"
        case "$label" in
        http/* | ipv6/* | mixed/* | tcp/* | linktype/*) compare_one "$label" "$cap" --http ;;
        esac
    done < <(find "$P" -type f | LC_ALL=C sort)
    compare_console tcp/tcpflow_test5-lines.pcap "$P/tcp/tcpflow_test5-lines.pcap" exact
    compare_console hl7/HL7-ORU.pcap "$P/hl7/HL7-ORU.pcap" exact
    compare_console http/ppp_http-packets2.pcap "$P/http/ppp_http-packets2.pcap" exact
    compare_console http/tcpflow_test1.pcap "$P/http/tcpflow_test1.pcap" sorted
fi

line="totals:"
for cls in $(printf '%s\n' "${!TOTAL[@]}" | LC_ALL=C sort); do
    line="$line $cls ${TOTAL[$cls]}"
done
echo "$line"
finish
