-- wrk script for the proxy benchmark: a POST chat completion on every request, and a summary
-- line with latency percentiles (microseconds) that tools/bench/proxy parses.
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"Explain what a model multiplexer does."}],"max_tokens":256}'

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d errors=%d non2xx=%d rps=%.1f p50=%d p99=%d p999=%d\n",
    summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.requests / seconds,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
