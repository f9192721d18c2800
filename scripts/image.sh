#!/usr/bin/env bash
# The container image of tandem as an OCI image layout, built without a container runtime
# (docs/scale-out.md, "The image"): `make image`, or
#
#   scripts/image.sh [BUILD_DIR [OUT_DIR [TAG]]]      defaults: build build/image <project version>
#
# What it does:
#   1. `cmake --install BUILD_DIR --strip` into a root file system under /usr/local (the binaries
#      and the web pages; headers and static libraries are dropped), plus /usr/bin/sleep (the
#      pods' preStop) and /etc/passwd, /etc/group (the user tandem, 10001, as the Kubernetes
#      export runs it), /etc/nsswitch.conf, /var/lib/tandem owned by it;
#   2. every shared library those programs load, found with ldd on this Debian 12 machine (the
#      same files the Debian packages listed in Dockerfile install), and the dynamic loader;
#   3. one layer: a tar of that tree with fixed owners, modes and times, gzip'd (-n), so the same
#      binaries give the same digests;
#   4. the OCI image config (the layer's diff_id, user, environment), the image manifest, index.json
#      (the tag as org.opencontainers.image.ref.name) and oci-layout, blobs under blobs/sha256/.
#
# The result loads with `skopeo copy oci:OUT_DIR:TAG docker-daemon:tandem:TAG` or
# `skopeo copy oci:OUT_DIR:TAG docker://REGISTRY/tandem:TAG`, or unpacks with
# `umoci unpack --image OUT_DIR:TAG BUNDLE`. scripts/image-check.sh verifies it.
set -euo pipefail

BUILD=${1:-build}
OUT=${2:-$BUILD/image}
TAG=${3:-$(sed -n 's/^project(tandem VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)}
EPOCH=${SOURCE_DATE_EPOCH:-0}

die() { echo "image: $*" >&2; exit 1; }
[ -x "$BUILD/bin/tandem" ] || die "$BUILD/bin/tandem is missing: build first (make build)"
[ -n "$TAG" ] || die "no tag"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"

# 1. the programs
cmake --install "$BUILD" --prefix "$root/usr/local" --strip >/dev/null
rm -rf "$root/usr/local/include" "$root/usr/local/lib/pkgconfig"
find "$root/usr/local/lib" -name '*.a' -delete 2>/dev/null || true
rmdir "$root/usr/local/lib" 2>/dev/null || true
mkdir -p "$root/usr/bin" "$root/etc" "$root/var/lib/tandem" "$root/tmp"
cp /usr/bin/sleep "$root/usr/bin/sleep"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\ntandem:x:10001:10001:tandem:/var/lib/tandem:/usr/sbin/nologin\n' \
    >"$root/etc/passwd"
printf 'root:x:0:\ntandem:x:10001:\n' >"$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"

# 2. their libraries, at the paths the loader asks for (ldd: "name => /path (addr)" or "/path (addr)")
programs=$(find "$root/usr/local/bin" "$root/usr/bin" -type f -perm -u+x | sort)
[ -n "$programs" ] || die "no programs installed from $BUILD"
libs=$(for p in $programs; do ldd "$p"; done | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' |
    sort -u)
for lib in $libs; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
# the Dockerfile says the same: its packages are those of the libraries the programs name
# (readelf NEEDED; apt brings what those need), its COPY the programs installed here
dockerfile=$(dirname "$0")/../Dockerfile
needed=$(for p in $programs; do readelf -d "$p" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; done | sort -u)
want_pkgs=$(for l in $needed; do
    path=$(awk -v l="$l" '$1 == l && $3 ~ /^\// {print $3; exit} $1 ~ "/"l"$" {print $1; exit}' \
        < <(for p in $programs; do ldd "$p"; done))
    [ -n "$path" ] && dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1
done | grep -v '^libc6$' | sort -u | tr '\n' ' ')
have_pkgs=$(sed -n '/apt-get install/,/rm -rf/p' "$dockerfile" | tr ' \\' '\n\n' |
    grep -E '^lib[a-z0-9.+-]+$' | sort -u | tr '\n' ' ')
[ "$want_pkgs" = "$have_pkgs" ] ||
    die "Dockerfile installs '$have_pkgs' but the programs link the packages '$want_pkgs'"
want_bins=$(for p in $programs; do [[ $p == */usr/local/bin/* ]] && basename "$p"; done | sort | tr '\n' ' ')
have_bins=$(grep -oE 'build/bin/[a-z0-9-]+' "$dockerfile" | sed 's|build/bin/||' | sort -u | tr '\n' ' ')
[ "$want_bins" = "$have_bins" ] ||
    die "Dockerfile copies '$have_bins' but cmake --install installs '$want_bins'"

# Debian's usrmerge: /lib, /lib64, /bin, /sbin are links into /usr, as in debian:12-slim
for d in lib lib64 bin sbin; do
    if [ -d "$root/$d" ] && [ ! -L "$root/$d" ]; then
        mkdir -p "$root/usr/$d"
        cp -a "$root/$d/." "$root/usr/$d/"
        rm -rf "${root:?}/$d"
    fi
    ln -sfn "usr/$d" "$root/$d"
done

# 3. the layer
chmod -R u=rwX,go=rX "$root"
chmod 1777 "$root/tmp"
layer=$work/layer.tar
# everything root's but /var/lib/tandem, the user tandem's (as root; otherwise all root's)
owners=(--owner=0 --group=0)
if [ "$(id -u)" = 0 ]; then
    chown -R 0:0 "$root"
    chown 10001:10001 "$root/var/lib/tandem"
    owners=()
fi
(cd "$root" && tar --sort=name --mtime="@$EPOCH" "${owners[@]}" --numeric-owner \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf "$layer" .)
diff_id=$(sha256sum "$layer" | cut -d' ' -f1)
gzip -n "$layer"

rm -rf "$OUT"
mkdir -p "$OUT/blobs/sha256"
blob() { # file -> prints "digest size", moves it under blobs/
    local d s
    d=$(sha256sum "$1" | cut -d' ' -f1)
    s=$(stat -c %s "$1")
    mv "$1" "$OUT/blobs/sha256/$d"
    echo "$d $s"
}
read -r layer_digest layer_size < <(blob "$layer.gz")

# 4. config, manifest, index
created=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)
printf '%s' "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"$created\",\"config\":{\"User\":\"10001:10001\",\"Env\":[\"PATH=/usr/local/bin:/usr/bin:/bin\"],\"WorkingDir\":\"/var/lib/tandem\",\"Cmd\":[\"/usr/local/bin/tandem\",\"--help\"],\"Labels\":{\"org.opencontainers.image.title\":\"tandem\",\"org.opencontainers.image.version\":\"$TAG\"}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$diff_id\"]},\"history\":[{\"created\":\"$created\",\"created_by\":\"scripts/image.sh: cmake --install, ldd libraries\"}]}" \
    >"$work/config.json"
read -r config_digest config_size < <(blob "$work/config.json")
printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$config_digest\",\"size\":$config_size},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$layer_digest\",\"size\":$layer_size}]}" \
    >"$work/manifest.json"
read -r manifest_digest manifest_size < <(blob "$work/manifest.json")
printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$manifest_digest\",\"size\":$manifest_size,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\"annotations\":{\"org.opencontainers.image.ref.name\":\"$TAG\"}}]}" \
    >"$OUT/index.json"
printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$OUT/oci-layout"

echo "image: $OUT (tag $TAG): $(echo "$programs" | wc -l) programs, $(echo "$libs" | wc -l) libraries, layer $((layer_size / 1024 / 1024)) MiB, manifest sha256:$manifest_digest"
