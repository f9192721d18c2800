#!/usr/bin/env bash
# Fails when a tracked or new C file differs from .clang-format. Fix with `make format`.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h')
[ -n "$files" ] || exit 0
clang-format --dry-run --Werror $files
echo "format: $(echo "$files" | wc -l) files clean"
