#!/usr/bin/env bash
# Runs the llmux-sim binary as a user does: on the example trace (twice, for identical
# output), with an SVG timeline, and on bad input.
# usage: llmux_sim_case.sh LLMUX_SIM TRACE
set -u
sim=$1 trace=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() {
  echo "FAIL: $*"
  for f in "$scratch"/*; do echo "--- $f"; head -c 4000 "$f"; echo; done
  exit 1
}

"$sim" --trace "$trace" --svg "$scratch/timeline.svg" >"$scratch/first" 2>"$scratch/err" \
  || fail "exit status $? on the example trace"
"$sim" --trace "$trace" >"$scratch/second" 2>>"$scratch/err" || fail "second run failed"
cmp -s "$scratch/first" "$scratch/second" || fail "two runs of the same trace differ"
grep -q '^### trace$' "$scratch/first" || fail "no table for the trace"
for policy in fifo cost_aware time_slice cost_quantum; do
  grep -q "^| $policy | " "$scratch/first" || fail "no row for $policy"
done
grep -q '^| [a-z_]* | [0-9]* | [0-9.]* | [0-9.]* % | [0-9.]* % | [0-9.]* | [0-9]* | 0 |' \
  "$scratch/first" || fail "no row that served every request"
grep -q '^| \*offline bound\* | ≥ [0-9]* | ≥ [0-9.]* | ≤ [0-9.]* % |' "$scratch/first" \
  || fail "no offline bound for the trace"
head -c 200 "$scratch/timeline.svg" | grep -q '<svg' || fail "the timeline is not an SVG"
tail -c 20 "$scratch/timeline.svg" | grep -q '</svg>' || fail "the SVG is cut short"

printf 'time,model,service_seconds\n0,a,1\n1,b\n' >"$scratch/bad.csv"
"$sim" --trace "$scratch/bad.csv" >"$scratch/out" 2>"$scratch/err"
status=$?
[ "$status" -eq 1 ] || fail "a bad trace exits $status, expected 1"
grep -qF "bad.csv: line 3: expected time,model,service_seconds" "$scratch/err" \
  || fail "a bad trace is not reported with its line"

"$sim" --profile no_such_profile >"$scratch/out" 2>"$scratch/err"
[ $? -eq 1 ] || fail "an unknown profile does not fail"
grep -qF "no workload selected" "$scratch/err" || fail "an unknown profile is not reported"
echo "llmux-sim behaves"
