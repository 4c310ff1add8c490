#!/usr/bin/env bash
# Every C++ file of the project is formatted as .clang-format says.
set -u
clang_format=$1 root=$2
cd "$root" || exit 1
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.hpp' '*.cpp')
else
  mapfile -t files < <(find . -name '*.[ch]pp' -not -path './build*')
fi
[ "${#files[@]}" -gt 0 ] || { echo "no sources found"; exit 1; }
"$clang_format" --dry-run -Werror "${files[@]}" && echo "${#files[@]} files formatted"
