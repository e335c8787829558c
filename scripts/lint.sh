#!/usr/bin/env bash
# lint.sh - the source habits CI enforces (STYLE.md B9): clang-format clean,
# no banned functions, no raw malloc outside alloc.c.
set -euo pipefail
cd "$(dirname "$0")/.."

files=$(git ls-files '*.c' '*.h' 2>/dev/null || true)
[ -n "$files" ] || files=$(find src include tests bench -name '*.[ch]')
status=0

if command -v clang-format >/dev/null 2>&1; then
    if ! clang-format --dry-run -Werror $files 2>/tmp/ns-lint.$$; then
        head -n 20 /tmp/ns-lint.$$ >&2
        echo "lint: not clang-formatted (run 'make format')" >&2
        status=1
    fi
    rm -f /tmp/ns-lint.$$
fi

banned='\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets|strncpy)[[:space:]]*\('
if grep -nE "$banned" $files; then
    echo "lint: banned function (use snprintf, strtol/strtoul, memcpy with a checked length)" >&2
    status=1
fi
raw='\b(malloc|calloc|realloc|free)[[:space:]]*\('
bad=$(grep -nE "$raw" $(echo "$files" | tr ' ' '\n' | grep -v -e 'src/lib/util/alloc.c' -e '^tests/' -e '^bench/') | grep -v 'lint: allow' || true)
if [ -n "$bad" ]; then
    echo "$bad"
    echo "lint: raw allocation outside src/lib/util/alloc.c (use ns_malloc and friends)" >&2
    status=1
fi
exit $status
