#!/bin/sh
# check_install.sh — `make install DESTDIR=…` puts clae's files in place; `make uninstall` removes all of them.
# Usage: tests/check_install.sh MAKE BUILD DIR PREFIX CC (DIR, the DESTDIR, is emptied first and removed
# on success; PREFIX is the build's own, so its clae.pc stays as the build wrote it).
set -eu
make=$1 build=$2 dir=$3 prefix=$4 cc=$5
rm -rf "$dir"
mkdir -p "$dir"
$make -s --no-print-directory install BUILD="$build" DESTDIR="$dir" PREFIX="$prefix" > /dev/null
want=$(printf '%s\n' bin/clae include/clae.h lib/libclae.a lib/libclae.so lib/libclae.so.0 lib/pkgconfig/clae.pc |
    sed "s|^|$prefix/|" | sort)
got=$(cd "$dir" && find . ! -type d | sed 's/^\.//' | sort)
if [ "$got" != "$want" ]; then
    printf 'check-install: install put\n%s\ninstead of\n%s\n' "$got" "$want" >&2
    exit 1
fi
pc=$dir$prefix/lib/pkgconfig/clae.pc
if grep -q libpng "$pc" || ! grep -qx "prefix=$prefix" "$pc"; then
    echo "check-install: clae.pc should name prefix $prefix and not require libpng:" >&2
    cat "$pc" >&2
    exit 1
fi
# A program built against the installed header and shared library, as a user's would be.
printf '#include <clae.h>\n#include <stdio.h>\nint main(void) { return puts(clae_status_string(CLAE_OK)) < 0; }\n' > "$dir/use.c"
$cc -o "$dir/use" "$dir/use.c" -I"$dir$prefix/include" -L"$dir$prefix/lib" -lclae -Wl,-rpath,"$dir$prefix/lib"
if [ "$("$dir/use")" != CLAE_OK ]; then
    echo "check-install: a program linked with the installed libclae.so did not run" >&2
    exit 1
fi
rm -f "$dir/use" "$dir/use.c"
$make -s --no-print-directory uninstall BUILD="$build" DESTDIR="$dir" PREFIX="$prefix" > /dev/null
left=$(cd "$dir" && find . ! -type d)
if [ -n "$left" ]; then
    printf 'check-install: uninstall left\n%s\n' "$left" >&2
    exit 1
fi
rm -rf "$dir"
echo "check-install: install put 6 files under DESTDIR, a program links the installed libclae.so, uninstall removed them all"
