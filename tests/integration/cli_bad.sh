#!/usr/bin/env bash
# Bad manifests through the command line: `tandem -f bad.yaml check` and `... up --detach` both
# exit 1 with one "FILE:LINE:COLUMN: problem" line naming the spot, for an unknown key, a
# missing binary, a port clash and a dependency cycle, and `up` starts nothing (no var/ is even
# created). A good manifest passes `check` (exit 0); bad usage exits 2; a request with nothing
# running exits 1 saying so.
source "$(dirname "$0")/cli_lib.sh"

H=hello # a symlink to example-hello in each case's directory: columns do not depend on paths
cases=(
    "unknown-key|services:\n  a: { binary: $H, port: 9000, image: x }\n|bad.yaml:2:35: service 'a': unknown key 'image'"
    "missing-binary|services:\n  a: { binary: bin/nope, port: 9000 }\n|bad.yaml:2:16: binary: 'bin/nope' not found"
    "port-clash|services:\n  a: { binary: $H, port: 9000, instances: 3 }\n  b: { binary: $H, port: 9002 }\n|bad.yaml:3:29: port 9002 of service 'b' (ports 9002-9002) clashes with service 'a'"
    "cycle|services:\n  a: { binary: $H, port: 9000, depends_on: [b] }\n  b: { binary: $H, port: 9001, depends_on: [a] }\n|dependency cycle: a -> b -> a"
)
for c in "${cases[@]}"; do
    IFS='|' read -r name yaml want <<<"$c"
    dir="$TMP_ROOT/$name"
    mkdir -p "$dir"
    ln -s "$EXAMPLE_HELLO" "$dir/hello"
    printf "$yaml" >"$dir/bad.yaml"
    for cmd in check "up --detach"; do
        rc=0
        # shellcheck disable=SC2086
        within 30 "$TANDEM_CLI" -f "$dir/bad.yaml" $cmd >"$TMP_ROOT/out" 2>"$TMP_ROOT/err" || rc=$?
        msg=$(cat "$TMP_ROOT/err")
        log "$name, $cmd: exit $rc: $msg"
        [ "$rc" -eq 1 ] || record_failure "$name: $cmd exit $rc, want 1"
        [[ "$msg" =~ ^$dir/bad\.yaml:[0-9]+:[0-9]+:\  ]] ||
            record_failure "$name: $cmd message without FILE:LINE:COL: '$msg'"
        [[ "$msg" == *"$want"* ]] || record_failure "$name: $cmd: '$msg' lacks '$want'"
        [ "$(wc -l <"$TMP_ROOT/err")" -eq 1 ] || record_failure "$name: $cmd: not one line"
    done
    [ ! -e "$dir/var" ] || record_failure "$name: up created $dir/var"
done

pick_ports
write_manifest
out=$(within 30 "$TANDEM_CLI" -f "$PROJ/tandem.yaml" check) || record_failure "check good: exit $?"
[[ "$out" == *"tandem.yaml: ok (1 service(s), 2 instance(s), a broker)" ]] ||
    record_failure "check good: '$out'"
for args in "bogus" "-x ps" "stop" "stop a b" "scale" "logs a b" "up --now"; do
    rc=0
    # shellcheck disable=SC2086
    within 30 "$TANDEM_CLI" -f "$PROJ/tandem.yaml" $args >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || record_failure "tandem $args: exit $rc, want 2"
done
for args in ps down "scale hello=1" "restart hello"; do
    rc=0
    # shellcheck disable=SC2086
    within 30 "$TANDEM_CLI" -f "$PROJ/tandem.yaml" $args >/dev/null 2>"$TMP_ROOT/err" || rc=$?
    [ "$rc" -eq 1 ] && grep -q "not running" "$TMP_ROOT/err" ||
        record_failure "tandem $args with nothing running: exit $rc: $(cat "$TMP_ROOT/err")"
done
within 30 "$TANDEM_CLI" --help | grep -q '^usage: tandem' || record_failure "--help"
finish
