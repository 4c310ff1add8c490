#!/usr/bin/env bash
# Runs `llmux --check-config` on one config file and checks the outcome a user would see.
# usage: check_config_case.sh LLMUX CONFIG EXPECTED_STATUS STDERR_FRAGMENT...
# Each fragment must appear in standard error. On success (status 0) the printed effective
# config must itself pass --check-config and print identically: the output is a real config.
# Extra llmux arguments (e.g. --port 8001) come from the CHECK_CONFIG_ARGS environment variable;
# CHECK_CONFIG_SECRET, when set, must appear nowhere in the output.
set -u
llmux=$1 config=$2 expected=$3
shift 3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# shellcheck disable=SC2086 # CHECK_CONFIG_ARGS is a list of words
"$llmux" --check-config ${CHECK_CONFIG_ARGS:-} -c "$config" >"$scratch/out" 2>"$scratch/err"
status=$?
fail() {
  echo "FAIL: $*"
  echo "--- stdout"; cat "$scratch/out"
  echo "--- stderr"; cat "$scratch/err"
  exit 1
}
[ "$status" -eq "$expected" ] || fail "exit status $status, expected $expected"
for fragment in "$@"; do
  grep -qF -- "$fragment" "$scratch/err" || fail "stderr lacks: $fragment"
done
if [ -n "${CHECK_CONFIG_SECRET:-}" ] && cat "$scratch/out" "$scratch/err" | grep -qF -- "$CHECK_CONFIG_SECRET"; then
  fail "the secret was printed"
fi
if [ "$expected" -eq 0 ]; then
  grep -q '"models"' "$scratch/out" || fail "no effective config printed"
  cp "$scratch/out" "$scratch/effective.json"
  "$llmux" --check-config -c "$scratch/effective.json" >"$scratch/again" 2>"$scratch/err2" \
    || fail "the printed config does not load: $(cat "$scratch/err2")"
  cmp -s "$scratch/out" "$scratch/again" || fail "printing the printed config changes it"
fi
echo "ok: $config -> $status"
