#!/usr/bin/env bash
# Verifies the OCI image layout scripts/image.sh wrote, without a container runtime
# (docs/scale-out.md, "The image"):
#
#   scripts/image-check.sh [OUT_DIR [TAG]]        defaults: build/image <project version>
#
#   1. skopeo (Debian's) reads the layout: `skopeo inspect` names the manifest index.json lists,
#      and `skopeo copy oci:... dir:...` reads every blob, checking each one's sha256 and size;
#   2. umoci (Debian's) unpacks it into a runtime bundle, as a container runtime would;
#   3. every program of the unpacked root file system runs in it: `--help`, so each binary finds
#      every library
#      it links in the image and nothing from this machine (unshare --root, the user tandem, the
#      image's WorkingDir);
#   4. the system runs in it: tandem-broker and tandem-articles started in it on free
#      127.0.0.1 ports, articles ready (/readyz 200, which needs the broker) and answering its API
#      from this machine, then both stopped with SIGTERM and exiting 0 (their drain).
# Needs root (unshare --root) and skopeo, umoci, curl, openssl (scripts/deps.sh image).
set -euo pipefail

OUT=${1:-build/image}
TAG=${2:-$(sed -n 's/^project(tandem VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)}
here=$(cd "$(dirname "$0")" && pwd)

die() { echo "image-check: FAIL: $*" >&2; exit 1; }
for t in skopeo umoci curl unshare openssl; do
    command -v "$t" >/dev/null || die "$t is missing (scripts/deps.sh image)"
done
[ "$(id -u)" = 0 ] || die "needs root (unshare --root)"
[ -f "$OUT/index.json" ] || die "$OUT/index.json is missing: scripts/image.sh first"

work=$(mktemp -d)
KEEP=${KEEP:-}
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "$KEEP" ]; then echo "image-check: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# 1. the layout
want=$(sed -n 's/.*"digest":"\(sha256:[0-9a-f]*\)".*/\1/p' "$OUT/index.json")
got=$(skopeo inspect --format '{{.Digest}}' "oci:$OUT:$TAG")
[ "$got" = "$want" ] || die "skopeo reads manifest $got, index.json lists $want"
skopeo inspect --config "oci:$OUT:$TAG" | grep -q '"User": "10001:10001"' || die "config: user"
skopeo copy --quiet "oci:$OUT:$TAG" "dir:$work/copy" || die "skopeo copy (digests) failed"
echo "image-check: skopeo: manifest $got, every blob's digest and size verified"

# 2. a runtime bundle
umoci unpack --image "$OUT:$TAG" "$work/bundle" >/dev/null || die "umoci unpack failed"
root=$work/bundle/rootfs
[ "$(stat -c %u "$root/var/lib/tandem")" = 10001 ] || die "/var/lib/tandem is not the user tandem's"
mkdir -p "$root/proc" "$root/dev"
# the devices every OCI runtime gives a container (runtime-spec, "Default Devices")
for dev in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9"; do
    read -r name major minor <<<"$dev"
    mknod -m 666 "$root/dev/$name" c "$major" "$minor" || die "mknod /dev/$name"
done
echo "image-check: umoci: unpacked, $(du -sm "$root" | cut -f1) MiB"

# in the image as a runtime would run it (the config's user and WorkingDir): the user tandem, in
# /var/lib/tandem, nothing of this machine's file system but a /proc mounted in a mount namespace
# of its own (no --fork: the program keeps this PID, so SIGTERM reaches it)
# (a command, not a function: `... &` then leaves $! the program's own PID)
run_env=(env -i PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin)
run_ns=(unshare --mount --mount-proc=/proc --root="$root" --wd=/var/lib/tandem --setgid=10001
    --setuid=10001)

# 3. every program
n=0
for p in "$root"/usr/local/bin/*; do
    name=$(basename "$p")
    out=$("${run_env[@]}" "${run_ns[@]}" "/usr/local/bin/$name" --help 2>&1) || die "$name --help: $out"
    grep -qi "usage\|--listen\|options" <<<"$out" || die "$name --help said: $out"
    n=$((n + 1))
done
"${run_env[@]}" "${run_ns[@]}" /usr/bin/sleep 0 || die "sleep (the pods' preStop) does not run"
echo "image-check: $n programs run --help in the image"

# 4. the broker and a service, in the image, reached from here
read -r kafka < <("$here/free-ports")
read -r http < <("$here/free-ports")
"${run_env[@]}" "${run_ns[@]}" /usr/local/bin/tandem-broker --listen "127.0.0.1:$kafka" \
    --data-dir /var/lib/tandem/broker >"$work/broker.log" 2>&1 &
pids+=($!)
# the tokens' public key, in the image where the service can read it
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkey -pubout \
    >"$root/var/lib/tandem/jwt.pub" || die "openssl cannot make a P-256 key"
"${run_env[@]}" TANDEM_LISTEN="127.0.0.1:$http" TANDEM_JWT_PUBLIC_KEY=/var/lib/tandem/jwt.pub \
    TANDEM_BROKERS="127.0.0.1:$kafka" TANDEM_DATA_DIR=/var/lib/tandem/articles \
    TANDEM_DRAIN_TIMEOUT=2 "${run_ns[@]}" /usr/local/bin/tandem-articles >"$work/articles.log" 2>&1 &
pids+=($!)
ready=0
for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$http/readyz" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.1
done
[ $ready = 1 ] || die "articles in the image never became ready: $(tail -n 5 "$work/articles.log")"
body=$(curl -fsS "http://127.0.0.1:$http/api/tags") || die "GET /api/tags failed"
[ "$body" = '{"tags":[]}' ] || die "GET /api/tags answered $body"
for i in 1 0; do
    kill -TERM "${pids[$i]}"
    wait "${pids[$i]}" || die "exit $? after SIGTERM: $(tail -n 3 "$work/articles.log" "$work/broker.log")"
done
pids=()
echo "image-check: tandem-broker and tandem-articles ran in the image (ready, GET /api/tags 200," \
    "SIGTERM exit 0)"
echo "image-check: ok"
