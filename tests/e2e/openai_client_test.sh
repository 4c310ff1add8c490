#!/usr/bin/env bash
# Runs the official openai npm client (tests/e2e/openai-client) against a real llmux serving a
# mock-vllm engine. usage: openai_client_test.sh LLMUX MOCK_VLLM CLIENT_DIR
set -u
llmux=$1 mock=$2 client_dir=$3
if [ ! -d "$client_dir/node_modules/openai" ]; then
  echo "the openai package is not installed: run npm ci in $client_dir (tools/test does)"
  exit 1
fi
scratch=$(mktemp -d)
llmux_pid=
cleanup() {
  [ -n "$llmux_pid" ] && kill -TERM "$llmux_pid" 2>/dev/null && wait "$llmux_pid"
  rm -rf "$scratch"
}
trap cleanup EXIT
# Engine ports below the kernel's ephemeral range (where no outgoing connection draws them),
# reserved as tests/support/ports.cpp reserves them for the other tests: an flock on
# $TMPDIR/llmux-test-ports/PORT, held by this shell (and what it starts) until it ends.
port_locks="${TMPDIR:-/tmp}/llmux-test-ports"
read -r ephemeral_low _ </proc/sys/net/ipv4/ip_local_port_range
ports_end=$((ephemeral_low > 11000 ? ephemeral_low : 11000))
next_port=$((10000 + $$ * 7919 % (ports_end - 10000)))
reserve_port() { # reserve_port VARIABLE
  local fd port tried
  mkdir -p "$port_locks"
  for ((tried = 0; tried < ports_end - 10000; tried++)); do
    port=$next_port
    next_port=$((next_port + 1 < ports_end ? next_port + 1 : 10000))
    exec {fd}>"$port_locks/$port"
    if flock -n "$fd" && node -e "require('net').createServer()
        .on('error', () => process.exit(1)).listen($port, '127.0.0.1', function () { this.close(); });"
    then
      printf -v "$1" '%s' "$port"
      return 0
    fi
    exec {fd}>&-
  done
  echo "no port left to reserve below $ports_end" >&2
  return 1
}
engine_port='' slow_port='' # set by reserve_port
reserve_port engine_port || exit 1
reserve_port slow_port || exit 1
# "slow" starts in 2.5 s: a stream that waits for it gets keep-alive comments every second.
cat >"$scratch/llmux.json" <<CONFIG
{"models": {"chat": {"model_path": "org/chat-1B", "port": $engine_port,
                     "extra_args": ["--mock-profile", "fast"]},
            "slow": {"model_path": "org/slow-1B", "port": $slow_port,
                     "extra_args": ["--mock-profile", "fast", "--mock-start-ms", "2500"]}},
 "vllm_command": "$mock", "metrics_port": 0, "policy": {"min_active_secs": 0},
 "timeouts": {"stream_keepalive_secs": 1}}
CONFIG
LLMUX_MOCK_GPU_DIR="$scratch/gpu" "$llmux" -c "$scratch/llmux.json" -p 0 --host 127.0.0.1 \
  >"$scratch/llmux.log" 2>&1 &
llmux_pid=$!
url=
for _ in $(seq 200); do
  url=$(grep -o 'http://127.0.0.1:[0-9]*' "$scratch/llmux.log" | head -n 1)
  [ -n "$url" ] && break
  sleep 0.05
done
if [ -z "$url" ]; then
  echo "llmux did not start:"; cat "$scratch/llmux.log"; exit 1
fi
if ! node "$client_dir/client.mjs" "$url" chat org/chat-1B slow; then
  echo "--- llmux log"; cat "$scratch/llmux.log"; exit 1
fi
