#!/bin/bash
# Builds libspkv (the C API, release) and installs it: PREFIX/include/spkv.h, PREFIX/lib/libspkv.so.
# usage: tools/c-api/install.sh PREFIX        e.g. tools/c-api/install.sh /usr/local  or  tools/c-api/install.sh "$PWD/dist"
# Then: cc app.c -IPREFIX/include -LPREFIX/lib -lspkv -Wl,-rpath,PREFIX/lib
# The library finds the Swift runtime through its own RUNPATH (the toolchain's lib/swift/linux).
set -euo pipefail
prefix=${1:?usage: tools/c-api/install.sh PREFIX}
cd "$(dirname "$0")/../.."
swift build -c release --product SpkvCAPI
bin=$(swift build -c release --show-bin-path)
install -D -m 0644 Sources/CSpkv/include/spkv.h "$prefix/include/spkv.h"
install -D -m 0755 "$bin/libSpkvCAPI.so" "$prefix/lib/libspkv.so"
echo "installed $prefix/include/spkv.h and $prefix/lib/libspkv.so"
