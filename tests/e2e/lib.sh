# shellcheck shell=bash
# lib.sh - shared helpers of the end-to-end tests (sourced by test_*.sh).
#
# Environment (set by tests/CMakeLists.txt):
#   NETSIFT         the binary under test
#   NS_SHARED_DATA  the shared captures (../shared/data); may be absent
#   NS_TEST_DIR     the repository's tests/ directory
#   NS_BUILD_DIR    the build directory
# Exit statuses: 0 pass, 1 fail, 77 skip (CTest SKIP_RETURN_CODE).

set -u

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NS_FAILS=0
NS_CHECKS=0

: "${NETSIFT:?NETSIFT must name the netsift binary}"
if [ ! -x "$NETSIFT" ]; then
    echo "FAIL: NETSIFT=$NETSIFT is not executable" >&2
    exit 1
fi

# A private scratch directory, removed on exit.
T=$(mktemp -d "${TMPDIR:-/tmp}/netsift-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT

skip() {
    echo "SKIP: $*"
    exit 77
}

need_shared_data() {
    if [ -z "${NS_SHARED_DATA:-}" ] || [ ! -d "$NS_SHARED_DATA/pcap" ]; then
        skip "shared captures not found (NS_SHARED_DATA='${NS_SHARED_DATA:-}'; expected ../shared/data beside the repository)"
    fi
}

need_tool() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || skip "$t is not installed (scripts/deps.sh)"
    done
}

ok() {
    NS_CHECKS=$((NS_CHECKS + 1))
    echo "ok: $*"
}

fail() {
    NS_CHECKS=$((NS_CHECKS + 1))
    NS_FAILS=$((NS_FAILS + 1))
    echo "FAIL: $*"
}

# check DESCRIPTION COMMAND...: ok if the command succeeds, else fail.
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}

# expect_eq DESCRIPTION GOT WANT
expect_eq() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        fail "$1: got '$2', want '$3'"
    fi
}

# run_ns OUT ERR ARGS...: run netsift, stdout to OUT, stderr to ERR; sets RC.
run_ns() {
    local out=$1 err=$2
    shift 2
    RC=0
    "$NETSIFT" "$@" >"$out" 2>"$err" || RC=$?
}

# e2e_util SUBCOMMAND ARGS...: the Python helper (standard library only).
e2e_util() {
    python3 "$E2E_DIR/e2e_util.py" "$@"
}

# free_udp_ports: two UDP ports on 127.0.0.1 that the kernel says are free
free_udp_ports() {
    python3 -c '
import socket
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("127.0.0.1", 0))
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])'
}

# wait_listening PID ERRFILE IFACE: wait (up to 10 s) until the live command
# PID writes "listening on IFACE" to ERRFILE. If it never does, it is
# stopped and the test is skipped when it may not capture here, else failed.
wait_listening() {
    local pid=$1 errf=$2 iface=$3
    for _ in $(seq 1 100); do
        if grep -q "listening on $iface" "$errf"; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if grep -qi "permission\|operation not permitted\|socket" "$errf"; then
        skip "cannot capture on $iface here: $(head -n 1 "$errf")"
    fi
    fail "the live capture never said it was listening on $iface: $(head -n 3 "$errf")"
    finish
}

finish() {
    echo "$NS_CHECKS checks, $NS_FAILS failed"
    [ "$NS_FAILS" -eq 0 ]
    exit $?
}
