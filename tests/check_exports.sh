#!/bin/sh
# check_exports.sh — libclae.so's dynamic symbols must be exactly the functions include/clae.h declares.
# Usage: tests/check_exports.sh LIB HEADER CC. Prints the strays and fails (exit 1) on any difference.
set -eu
lib=$1 header=$2 cc=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The preprocessed header has no comments, so every "clae_name(" left is a declaration, except a return type
# before a function pointer ("typedef clae_status (*fn)(…)"), which the "(*" tells apart.
$cc -E -P "$header" | grep -o 'clae_[A-Za-z0-9_]*[[:space:]]*([^*]' | sed 's/[[:space:]]*(.*//' | sort -u > "$tmp/declared"
nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sort -u > "$tmp/exported"
comm -13 "$tmp/declared" "$tmp/exported" > "$tmp/leaked"
comm -23 "$tmp/declared" "$tmp/exported" > "$tmp/missing"
status=0
if [ -s "$tmp/leaked" ]; then
    echo "check-exports: $lib exports $(wc -l < "$tmp/leaked") symbols that $header does not declare:" >&2
    sed 's/^/  /' "$tmp/leaked" >&2
    status=1
fi
if [ -s "$tmp/missing" ]; then
    echo "check-exports: $header declares functions $lib does not export (outside its visibility region?):" >&2
    sed 's/^/  /' "$tmp/missing" >&2
    status=1
fi
[ $status -eq 0 ] && echo "check-exports: $lib exports the $(wc -l < "$tmp/declared") functions of $header and nothing else"
exit $status
