#pragma once

// A fixture that runs the llmux daemon over mock-vllm engines, all real processes on loopback.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <thread>
#include <vector>

#include "tests/e2e/mock_engine.hpp"
#include "tests/support/ports.hpp"

namespace llmux::testing_support {

/// One model of a test configuration.
struct test_model {
  std::string name;
  std::string eviction = "offload+keep_running";
  /// Extra mock-vllm arguments (the fast profile is always on).
  std::vector<std::string> mock_args = {};
  std::optional<std::uint64_t> max_concurrent_requests = {};
  /// Keys that open only this model.
  std::vector<std::string> api_keys = {};
  /// Its engine's port; 0: a free one (kept across `write_config` calls).
  std::uint16_t port = 0;
  /// More members of its object in the configuration, as JSON (`"checkpoint_path":"..."`).
  std::string more = {};
};

/// A running llmux.
struct running_daemon {
  std::unique_ptr<child_process> process;
  std::uint16_t port = 0;
  /// Where the admin API listens, when the configuration has one (`"admin_port": 0` lets the
  /// system choose: no port race between tests).
  std::uint16_t admin_port = 0;

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }

  /// A chat completion for `model` with the fixed test prompt.
  http::http_result chat(const std::string& model, bool stream = false,
                         const std::string& extra = {}) const;

  /// Asks for `model` until it is served or `bound` passes; the last answer.
  http::http_result chat_until_served(const std::string& model, std::chrono::milliseconds bound,
                                      bool stream = false) const;

  /// `GET /llmux/status`, parsed.
  simdjson::dom::element status(simdjson::dom::parser& parser) const;

  /// Sends `bytes` on a fresh connection (then shuts down its sending side when
  /// `half_close`) and returns everything read back until the server closes it or `timeout`
  /// passes.
  std::string raw_exchange(const std::string& bytes, std::chrono::milliseconds timeout,
                           bool half_close = false) const;

  /// As `raw_exchange`, and sets `arrived` once `marker` has been read (from another thread,
  /// a test can act while the answer is under way).
  std::string raw_exchange_noting(const std::string& bytes, std::chrono::milliseconds timeout,
                                  std::string_view marker, std::atomic<bool>& arrived) const;

private:
  std::string exchange(const std::string& bytes, std::chrono::milliseconds timeout, bool half_close,
                       std::string_view marker, std::atomic<bool>* arrived) const;
};

/// `body` as an HTTP/1.1 chat completion request (POST /v1/chat/completions), as bytes;
/// `close` adds `Connection: close`.
std::string chat_http_post(const std::string& body, bool close);

/// An HTTP/1.1 chat completion request for `model` with the fixed test prompt, as bytes;
/// `close` adds `Connection: close`.
std::string chat_http_request(const std::string& model, bool close);

/// What `read_until_closed` read.
struct socket_read {
  std::string received;
  /// Whether the peer closed (or reset) the connection before the time was up.
  bool closed = false;
};

/// Reads from `fd` until the peer closes, `timeout` passes or `enough` says what was read is
/// enough.
socket_read read_until(int fd, std::chrono::milliseconds timeout,
                       const std::function<bool(const std::string&)>& enough);

/// Reads from `fd` until the peer closes or `timeout` passes; sets `arrived`, if given, once
/// `marker` has been read.
socket_read read_until_closed(int fd, std::chrono::milliseconds timeout,
                              std::string_view marker = {}, std::atomic<bool>* arrived = nullptr);

/// A loopback TCP connection to `port`, with a receive buffer of `receive_buffer` bytes (0:
/// the system's default), or -1.
int connect_loopback(std::uint16_t port, int receive_buffer = 0);

/// A loopback TCP connection to `port` whose receive buffer is 4 KB (a slow client's small
/// window), or -1.
int connect_with_small_window(std::uint16_t port);

/// The PID of the process listening as an engine on `port` (its command line has
/// `--port PORT`), or -1.
pid_t engine_pid(std::uint16_t port);

class daemon_test : public mock_engine_test {
protected:
  /// Ends the engines this test's llmux restored: CRIU restores them detached, nobody's
  /// children, so ending llmux with SIGKILL leaves them running.
  void TearDown() override;

  /// Writes a configuration with `models` (each on a free port) and `policy` (JSON object
  /// members), starts `llmux` on it (with `flags` on its command line) and waits until it
  /// serves.
  running_daemon start_daemon(const std::vector<test_model>& models,
                              const std::string& policy = R"("min_active_secs": 0)",
                              const std::string& top_level = {},
                              const std::vector<std::string>& flags = {});

  /// Writes the configuration `start_daemon` runs llmux on (`scratch_/llmux.json`); models
  /// named before keep their engine ports, new ones get free ports. For reload tests.
  std::filesystem::path write_config(const std::vector<test_model>& models,
                                     const std::string& policy = R"("min_active_secs": 0)",
                                     const std::string& top_level = {});

  /// The ports the models of the last configuration run on, by model name.
  std::uint16_t engine_port(const std::string& model) const;

  /// The PIDs of the engines on the (emulated) GPU, as nvidia-smi lists them.
  std::vector<int> engine_pids();

  std::vector<std::pair<std::string, std::uint16_t>> engine_ports_;
  /// More environment variables (`NAME=value`) for the next `start_daemon`.
  std::vector<std::string> daemon_env_;
};

/// Polls `done` every 50 ms until it holds or `bound` passes; whether it held.
template <class Condition>
bool eventually(Condition done, std::chrono::milliseconds bound) {
  auto until = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) {
      return false;
    }
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

/// The string at `element`, or "<missing>".
std::string_view text_at(simdjson::dom::element element);

/// The unsigned number at `element`, or 999999 when there is none.
std::uint64_t number_at(simdjson::dom::element element);

/// The value of the one sample named `series` (name and labels exactly as Prometheus text
/// shows them) in `text`, or -1.
double metric_sample(const std::string& text, const std::string& series);

/// `GET /metrics` on `port`, as text.
std::string scrape_metrics(std::uint16_t port);

/// The path of a fake GPU tool (`criu`, `cuda-checkpoint`, `nvidia-smi`).
std::string fake_tool(const std::string& name);

/// A configuration's `"checkpoint"` member: images under `images_dir`, the fake tools unless
/// `criu` or `cuda_checkpoint` name others, and `more` members (JSON) inside.
std::string checkpoint_member(const std::string& images_dir, const std::string& more = {},
                              const std::string& criu = {},
                              const std::string& cuda_checkpoint = {});

} // namespace llmux::testing_support
