#!/usr/bin/env bash
# Runs every fuzz target of the given packages (default ./...), one after
# the other, each for FUZZTIME. `make fuzz` calls it.
#
#   FUZZTIME          how long each target fuzzes (default 30s)
#   FUZZMINIMIZETIME  bound on minimising a new input or a crasher (default
#                     5s: Go's default of 60s makes short runs stall there)
#   FUZZFLAGS         more go test flags, e.g. -parallel=1
#   FUZZ              a regexp: only targets whose name matches it
#
# A crasher is written by go test under the package's testdata/fuzz/<Target>/;
# commit it with the fix: it then runs as a normal test case. The script goes
# on after a failing target and exits 1 at the end if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-5s}
FUZZFLAGS=${FUZZFLAGS:-}
FUZZ=${FUZZ:-.}
[ $# -gt 0 ] || set -- ./...

# Packages with a fuzz target: a cheap grep first, so that go test -list
# compiles only those.
pkgs=()
while read -r dir path; do
  if grep -qs '^func Fuzz' "$dir"/*_test.go; then pkgs+=("$path"); fi
done < <($GO list -f '{{.Dir}} {{.ImportPath}}' "$@")

failed=()
ran=0
for pkg in "${pkgs[@]}"; do
  targets=$($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz' | grep -E -- "$FUZZ" || true)
  for t in $targets; do
    echo "== $pkg $t ($FUZZTIME)"
    ran=$((ran + 1))
    # shellcheck disable=SC2086 # FUZZFLAGS is a list of flags
    if ! $GO test -run '^$' -fuzz "^$t\$" -fuzztime "$FUZZTIME" \
      -fuzzminimizetime "$FUZZMINIMIZETIME" $FUZZFLAGS "$pkg"; then
      failed+=("$pkg $t")
    fi
  done
done

echo "== fuzzed $ran targets, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
  printf '   FAIL %s\n' "${failed[@]}"
  exit 1
fi
