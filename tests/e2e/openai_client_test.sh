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
# A port the system reports free (one derived from the PID collided with engines of tests
# running in parallel).
free_port() {
  node -e "const s = require('net').createServer();
    s.listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });"
}
engine_port=$(free_port)
slow_port=$(free_port)
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
