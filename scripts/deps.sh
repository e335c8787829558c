#!/usr/bin/env bash
# deps.sh - install the Debian packages netsift needs to build, test and benchmark.
#
# Idempotent: asks dpkg first and only calls apt-get for what is missing.
# Runs apt-get directly as root, through sudo otherwise, and says so clearly
# when neither is possible.
#
# usage: scripts/deps.sh [--print]
#   --print   list the packages and exit
set -euo pipefail

pkgs=(
    # build
    build-essential cmake pkg-config clang clang-format libclang-rt-dev
    # libraries (DESIGN.md, "Dependencies")
    libpcap-dev zlib1g-dev libarchive-dev libmaxminddb-dev libmicrohttpd-dev
    libcurl4-openssl-dev libsqlite3-dev libjansson-dev libssl-dev libcmocka-dev
    # peers: test oracles and benchmark opponents
    tshark wireshark-common tcpdump tcpflow p0f tcpreplay
    # data used at run time
    ieee-data
    # helpers used by tests and benchmarks
    time gzip
)

if [ "${1:-}" = "--print" ]; then
    printf '%s\n' "${pkgs[@]}"
    exit 0
fi

missing=()
for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    *" installed") ;;
    *) missing+=("$p") ;;
    esac
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -eq 0 ]; then
    run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run=(sudo -n env DEBIAN_FRONTEND=noninteractive)
else
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: not root and no password-less sudo; install them with:" >&2
    echo "  sudo apt-get install ${missing[*]}" >&2
    exit 1
fi

# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" |
    "${run[@]}" debconf-set-selections 2>/dev/null || true
"${run[@]}" apt-get update -qq
"${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done" >&2
