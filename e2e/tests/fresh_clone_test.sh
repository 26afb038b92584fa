#!/usr/bin/env bash
# A fresh clone stands alone (issue 11): nothing the build, the tests or the demo use lives outside the repository.
#   1. No tracked file refers to the specification folder beside the repository (../shared).
#   2. A clone into an empty temporary directory (no sibling shared/) configures with CMake.
#   3. That clone's ./scripts/demo (its own scripts, examples, seeds and vendored CRDs) passes, with the programs of
#      this build tree (a second full build here would double the suite's time; CI itself builds from a fresh clone).
# Usage: fresh_clone_test.sh SOURCE_DIR BUILD_DIR. The clone is of the committed HEAD (uncommitted changes are not in it).
set -euo pipefail
SRC=$1
BUILD=$2
fail() { echo "fresh_clone_test: FAILED: $*" >&2; exit 1; }

git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1 || fail "$SRC is not a git checkout; this test clones it"

# 1. References to the reading-material folder (its file names included) anywhere in tracked files.
if refs=$(git -C "$SRC" grep -n -E '\.\./shared|shared/(istio-crds|gloomesh-virtualmesh-examples|SPEC)|VMESH_SHARED_DIR' \
  -- . ':!e2e/tests/fresh_clone_test.sh'); then
  echo "$refs" >&2
  fail "tracked files refer to a folder outside the repository (above)"
fi

TMP=$(mktemp -d)
cleanup() {
  [ -d "$TMP/checkout" ] && "$TMP/checkout/scripts/demo" --stop --dir "$TMP/demo" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# 2. The clone, alone in its directory.
git clone --quiet --no-hardlinks "$SRC" "$TMP/checkout" || fail "git clone failed"
[ ! -e "$TMP/shared" ] || fail "the temporary directory unexpectedly has a shared/ folder"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if ! cmake -S "$TMP/checkout" -B "$TMP/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$TMP/cmake.log" 2>&1; then
  tail -n 30 "$TMP/cmake.log" >&2
  fail "cmake cannot configure a fresh clone"
fi

# 3. The clone's demo.
if ! BUILD_DIR="$BUILD" "$TMP/checkout/scripts/demo" --no-build --dir "$TMP/demo" --timeout 240 >"$TMP/demo.log" 2>&1; then
  tail -n 60 "$TMP/demo.log" >&2
  fail "the demo of a fresh clone failed"
fi
grep -q "ACCEPTED" "$TMP/demo.log" || { tail -n 40 "$TMP/demo.log" >&2; fail "the demo did not report ACCEPTED"; }
echo "fresh_clone_test: a clone with no sibling shared/ configures and passes the demo"
