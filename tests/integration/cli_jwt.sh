#!/usr/bin/env bash
# The token keys (the manifest's jwt: section; issue "The blog", the gateway and the system):
#   - the first `up` makes an ES256 pair in var/keys (the directory 0700, the private key 0600, and
#     the public key 0600 too: tandem's umask), a P-256 pair whose halves match (openssl);
#   - every service gets TANDEM_JWT_PUBLIC_KEY (absolute), only the one with `jwt: sign` gets
#     TANDEM_JWT_PRIVATE_KEY; a private key exported in the environment of `tandem up` reaches no
#     other service (read from /proc/PID/environ: the verifier, the service without a jwt: key;
#     nginx's own is not readable there, its process title overwrites it);
#   - the next `up` reuses the pair (same bytes, same inode, no "made" line);
#   - `up` refuses, before anything starts: a private key others may read, a private key without
#     its public key, a public key without its private key while a service signs, a pair that
#     does not match; `tandem check` refuses the two variables in a service's env.
source "$(dirname "$0")/cli_lib.sh"

pick_ports
S=$((HELLO_P + 4))
write_jwt_manifest() { # write_jwt_manifest [JWT_SECTION]: the section "jwt: {}" by default
    local section="jwt: {}"
    [ $# -eq 0 ] || section=$1
    cat >"$PROJ/tandem.yaml" <<YAML
gateway: { listen: 127.0.0.1:$GATEWAY_P }
$section
services:
  users:
    binary: $TANDEM_IT_DIR/cli_echo_service.py
    instances: 2
    port: $S
    jwt: sign
  articles: { binary: $TANDEM_IT_DIR/cli_echo_service.py, port: $((S + 2)), jwt: verify }
  comments: { binary: $TANDEM_IT_DIR/cli_echo_service.py, port: $((S + 3)) }
YAML
}
write_jwt_manifest
out=$(tandem check) || fail "tandem check: $out"
[[ "$out" == *"ok (3 service(s), 4 instance(s), tokens signed by users)" ]] ||
    record_failure "check: '$out'"

export TANDEM_JWT_PRIVATE_KEY=/tmp/leaked.key TANDEM_JWT_PUBLIC_KEY=/tmp/leaked.pub
up
KEY="$PROJ/var/keys/jwt.key"
PUB="$PROJ/var/keys/jwt.pub"
grep -q 'jwt: made a new ES256 key pair: var/keys/jwt.key (private, mode 600), var/keys/jwt.pub' \
    "$TMP_ROOT/up.err" || record_failure "no 'made' line: $(cat "$TMP_ROOT/up.err")"
for f in "var/keys 700" "var/keys/jwt.key 600" "var/keys/jwt.pub 600"; do
    set -- $f
    [ "$(stat -c %a "$PROJ/$1")" = "$2" ] ||
        record_failure "$1 is mode $(stat -c %a "$PROJ/$1"), not $2"
done
openssl pkey -in "$KEY" -text -noout | grep -q 'NIST CURVE: P-256' ||
    record_failure "jwt.key is not a P-256 key"
[ "$(openssl pkey -in "$KEY" -pubout)" = "$(cat "$PUB")" ] ||
    record_failure "jwt.pub is not jwt.key's public half"

environ() { # environ PID NAME: NAME's value in the process's environment, "<unset>" when absent
    tr '\0' '\n' <"/proc/$1/environ" | python3 -c '
import sys
name = sys.argv[1] + "="
print(next((l[len(name):].rstrip("\n") for l in sys.stdin if l.startswith(name)), "<unset>"))' "$2"
}
check_env() { # check_env NAME PUBLIC PRIVATE
    local pid
    pid=$(psj pid "$1")
    [ "$(environ "$pid" TANDEM_JWT_PUBLIC_KEY)" = "$2" ] ||
        record_failure "$1: TANDEM_JWT_PUBLIC_KEY=$(environ "$pid" TANDEM_JWT_PUBLIC_KEY), not $2"
    [ "$(environ "$pid" TANDEM_JWT_PRIVATE_KEY)" = "$3" ] ||
        record_failure "$1: TANDEM_JWT_PRIVATE_KEY=$(environ "$pid" TANDEM_JWT_PRIVATE_KEY), not $3"
}
check_env users.0 "$PUB" "$KEY"
check_env users.1 "$PUB" "$KEY"
check_env articles.0 "$PUB" "<unset>"
check_env comments.0 "$PUB" "<unset>"
log "the private key's path only in users.0 and users.1"
sum=$(sha256sum "$KEY" "$PUB")
inode=$(stat -c %i "$KEY")
down_and_check

up
! grep -q 'made a new' "$TMP_ROOT/up.err" || record_failure "a new pair at the second up"
[ "$(sha256sum "$KEY" "$PUB")" = "$sum" ] && [ "$(stat -c %i "$KEY")" = "$inode" ] ||
    record_failure "the key pair changed at the second up"
check_env users.0 "$PUB" "$KEY"
down_and_check
unset TANDEM_JWT_PRIVATE_KEY TANDEM_JWT_PUBLIC_KEY

# refused WANT: `tandem up` exits 1 with WANT on stderr and starts nothing.
refused() {
    local rc=0
    tandem up --detach >/dev/null 2>"$TMP_ROOT/up.err" || rc=$?
    [ "$rc" -eq 1 ] || record_failure "up exit $rc, not 1 (want: $1)"
    grep -qF "$1" "$TMP_ROOT/up.err" || record_failure "up said '$(cat "$TMP_ROOT/up.err")', not '$1'"
    [ ! -e "$PROJ/var/tandem/ctl.sock" ] || fail "a supervisor is running after a refused up"
}
chmod 640 "$KEY"
refused "tandem: up failed: jwt.private_key: var/keys/jwt.key must be a file only its owner can read (mode 640): chmod 600 var/keys/jwt.key"
chmod 600 "$KEY"
mv "$PUB" "$PUB.away"
refused "tandem: up failed: jwt.public_key: var/keys/jwt.pub does not exist but the private key var/keys/jwt.key does"
mv "$PUB.away" "$PUB"
mv "$KEY" "$KEY.away"
refused "tandem: up failed: jwt.private_key: var/keys/jwt.key does not exist but the public key var/keys/jwt.pub does"
mv "$KEY.away" "$KEY"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
    openssl pkey -pubout -out "$PROJ/other.pub" || fail "openssl"
write_jwt_manifest "jwt: { public_key: other.pub }"
refused "tandem: up failed: jwt: other.pub with var/keys/jwt.key is not a usable ES256 key pair"
grep -q 'the private key does not belong to the public key' "$TMP_ROOT/up.err" ||
    record_failure "no reason for the mismatched pair: $(cat "$TMP_ROOT/up.err")"
[ "$(sha256sum "$KEY" "$PUB")" = "$sum" ] || record_failure "a refused up changed the keys"

write_jwt_manifest
sed -i 's|jwt: verify }|jwt: verify, env: { TANDEM_JWT_PRIVATE_KEY: /k } }|' "$PROJ/tandem.yaml"
rc=0
out=$(tandem check 2>&1) || rc=$?
[ "$rc" -eq 1 ] && [[ "$out" == *"tandem.yaml:9:"*": env: TANDEM_JWT_PRIVATE_KEY is set by tandem from the manifest's jwt: section (for services with jwt: sign) and cannot be overridden" ]] ||
    record_failure "check with TANDEM_JWT_PRIVATE_KEY in env: exit $rc, '$out'"
finish
