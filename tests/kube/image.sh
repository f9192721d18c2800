#!/usr/bin/env bash
# CTest kube/image: `make image`'s two steps on this build (scripts/image.sh builds the OCI image
# layout from the installed binaries and the libraries they link; scripts/image-check.sh reads it
# with skopeo and umoci and runs its programs, tandem-broker and tandem-articles among them, in the
# unpacked root file system). Everything in a temporary directory, removed at the end.
#   tests/kube/image.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: the image check runs programs under unshare --root, which needs root"
    exit 77
fi
for t in skopeo umoci; do
    command -v "$t" >/dev/null || { echo "SKIP: $t is missing (scripts/deps.sh)"; exit 77; }
done
scripts/image.sh "$build" "$out/image" test
scripts/image-check.sh "$out/image" test
