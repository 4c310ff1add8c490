#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/parsed.hpp"

namespace llmux::tools::mock_vllm {

/// What the engine does with a generation request while it sleeps (vllm-interface §1.4).
enum class sleeping_requests {
  queue,  ///< vLLM >= 0.17: hold the request until the next wake
  crash,  ///< vLLM <= 0.16: the engine dies (500, empty body, then the process exits)
  reject, ///< the reference mock: 503 "Model is sleeping"
};

/// Faults to inject; each count or flag is used up as it fires.
struct fault_plan {
  int fail_sleep = 0;              ///< answer the next N `/sleep` calls with 500
  int fail_wake = 0;               ///< answer the next N `/wake_up` calls with 500
  int fail_reload = 0;             ///< answer the next N `reload_weights` calls with 500
  std::uint64_t hang_sleep_ms = 0; ///< the next `/sleep` takes this much longer
  std::uint64_t hang_wake_ms = 0;  ///< the next `/wake_up` takes this much longer
  bool crash_at_start = false;     ///< exit with status 1 during start-up, before listening
  bool crash_on_request = false;   ///< exit at once when the next generation request arrives
  int crash_mid_stream = -1;       ///< exit after sending this many tokens of the next stream
  std::uint64_t slow_start_ms = 0; ///< add this to the start-up time
  /// Answer HEAD with a body too, this many milliseconds after the head (0: never), as a
  /// non-compliant server would.
  std::uint64_t body_on_head_ms = 0;
  /// Send the next N generation requests interim answers (100 Continue, 103 Early Hints) before
  /// their answers, as servers may (a client must read past them: RFC 9110 section 15.2).
  int interim_answers = 0;
  /// Answer the next N generation requests with 101 Switching Protocols, asked or not, and close.
  int switch_protocols = 0;
  /// Frame the next N answers both ways at once (Content-Length and chunked), as no client may
  /// accept (RFC 9112, section 6.3), and close.
  int both_framings = 0;
};

/// Uses one of a counted fault's `remaining` injections: whether one was left.
inline bool take_one(int& remaining) {
  if (remaining <= 0) {
    return false;
  }
  --remaining;
  return true;
}

/// Parses `name=value` items separated by `,` or `&` (`fail_sleep=2,crash_at_start`) into
/// `plan`; a bare name sets a flag or a count of 1.
config::parsed<fault_plan> parse_faults(std::string_view text, fault_plan plan = {});

/// The mock's command line: vLLM's `serve MODEL [flags]` (unknown vLLM flags are accepted and
/// ignored) plus the mock's own `--mock-*` knobs, each also readable from the environment.
struct options {
  std::string model = "test-model";
  std::vector<std::string> served_model_names;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8000;
  bool enable_sleep_mode = false;
  double gpu_memory_utilization = 0.9;
  std::uint64_t tensor_parallel_size = 1;
  std::uint64_t max_model_len = 4096;
  std::string api_key;
  /// `VLLM_SERVER_DEV_MODE=1`: the control endpoints exist.
  bool dev_mode = false;

  std::string profile = "realistic";
  double time_scale = 1.0;
  double tokens_per_second = 50;
  double first_token_ms = 50;
  std::optional<double> start_ms;
  double weights_gib = 0;         ///< 0: guessed from the model name
  double offload_gib_per_s = 0.9; ///< level-1 sleep: weights into pinned host memory
  double onload_gib_per_s = 22;   ///< level-1 wake: weights back onto the GPU
  double reload_gib_per_s = 3;    ///< `reload_weights` after a level-2 wake (from page cache)
  double criu_gib_per_s = 0.6;    ///< CRIU dump and restore of the images
  double gpu_total_mib = 81920;
  /// `ENABLE_KVCACHED=true` in the environment: kvcached's elastic KV cache.
  bool elastic_kv = false;
  double kv_per_request_mib = 512;
  sleeping_requests while_sleeping = sleeping_requests::queue;
  /// Each SSE event starts with a comment line `: sent_ns=N` (CLOCK_MONOTONIC at sending), so
  /// that a benchmark client on the same machine measures each event's delay.
  bool sse_timestamps = false;
  fault_plan faults;
  std::string state_dir = "/tmp/llmux-mock-gpu";
  /// Set by the fake criu: come back from the images in this directory.
  std::string restore_from;

  /// The name answers carry: the first served name, else the model.
  const std::string& served_name() const {
    return served_model_names.empty() ? model : served_model_names.front();
  }
};

/// Weights in GiB guessed from a model name's parameter count (`Llama-3.1-8B` -> 16, at two
/// bytes per parameter), or 1 when the name has none.
double weights_gib_from_name(std::string_view model);

/// Parses `argv` and the environment; returns the options, or the exit status after `--help`
/// (0) or a usage error (2).
std::variant<options, int> parse_options(int argc, const char* const* argv);

/// Durations of the emulated operations in milliseconds, from the options (vllm-interface §3).
struct timing {
  explicit timing(const options& opts);

  double start_ms() const;
  double sleep_ms(int level) const;
  double wake_ms(bool weights_offloaded) const;
  double reload_ms() const;
  /// CRIU dump or restore of `image_mib` of images.
  double criu_ms(double image_mib) const;
  double token_interval_ms() const;
  double first_token_ms() const;

private:
  const options& opts_;
  double weights_gib_;
};

} // namespace llmux::tools::mock_vllm
