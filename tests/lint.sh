#!/usr/bin/env bash
# Static analysis as CI runs it: cppcheck (warning, performance, portability) and clang-tidy
# with the curated set in .clang-tidy, over every C file the builds compile. Zero findings is
# the bar: fix the finding, or silence that line with NOLINT(check) and the reason.
#   usage: tests/lint.sh BUILD_CLANG [BUILD_FUZZ]    (compile_commands.json of each)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
status=0

echo "cppcheck: src tests/fuzz tests/escape tests/helpers"
cppcheck --quiet --error-exitcode=1 --inline-suppr --std=c11 -Isrc \
	--enable=warning,performance,portability --suppress=missingIncludeSystem \
	src tests/fuzz tests/escape tests/helpers || status=1

# The project's own files of a build's compile database (not generated ones), minus those an
# earlier build in the list already covered.
done_list=$(mktemp)
trap 'rm -f "$done_list"' EXIT
files_of() {
	python3 - "$1" "$top" "$done_list" <<'PY'
import json, os, sys
db, top, done = sys.argv[1], sys.argv[2], sys.argv[3]
seen = set(open(done).read().split())
for e in json.load(open(os.path.join(db, "compile_commands.json"))):
    path = os.path.normpath(os.path.join(e["directory"], e["file"]))
    generated = path.startswith(os.path.abspath(db) + "/")  # e.g. seccomp_program.c
    if path.startswith(top + "/") and not generated and path not in seen:
        seen.add(path)
        print(path)
PY
}

for build in "$@"; do
	[ -f "$build/compile_commands.json" ] || { echo "lint: no $build/compile_commands.json"; exit 2; }
	files_of "$build" > "$done_list.new"
	echo "clang-tidy: $(wc -l < "$done_list.new") files of $build"
	if ! xargs < "$done_list.new" -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet \
		2> >(grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed|^Use -header-filter|^Error while processing' >&2); then
		status=1
	fi
	cat "$done_list.new" >> "$done_list"
	rm -f "$done_list.new"
done
[ "$status" = 0 ] && echo "lint: no findings"
exit "$status"
