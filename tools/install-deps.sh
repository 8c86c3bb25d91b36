#!/bin/sh
# Installs the Debian packages clae needs to build, test and train, if any are missing.
# As root it runs apt-get itself; otherwise it prints the exact command to run.
set -eu

PACKAGES="build-essential ocl-icd-opencl-dev opencl-headers pocl-opencl-icd libclblast-dev check pkg-config zlib1g-dev nettle-dev libcjson-dev liblapacke-dev libpng-dev dataset-fashion-mnist python3-numpy python3-pytest libopenmpi-dev openmpi-bin"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -eq 0 ]; then
    echo "install-deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
else
    echo "install-deps: missing packages:$missing" >&2
    echo "install-deps: run as root:  sudo apt-get update && sudo $cmd" >&2
    exit 1
fi
