#!/usr/bin/env bash
# Fails when a tracked or new C file differs from .clang-format. Fix with `make format`.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h')
# no file listed is not "every file clean": nothing was checked
[ -n "$files" ] || { echo "format: git lists no C file in $(pwd): nothing checked" >&2; exit 1; }
clang-format --dry-run --Werror $files
echo "format: $(echo "$files" | wc -l) files clean"
