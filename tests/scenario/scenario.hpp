#pragma once

// The scenario harness: many concurrent clients against a real llmux over mock-vllm engines,
// with the tally every scenario prints and the invariants every scenario checks.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <sys/types.h>
#include <vector>

#include "tests/e2e/daemon.hpp"

namespace llmux::testing_support {

/// One client request of a scenario.
struct scenario_request {
  std::string model;
  bool stream = false;
  /// Extra body members, e.g. `,"max_tokens":200`.
  std::string extra = {};
  /// Sent this long after the wave starts.
  std::chrono::milliseconds after{0};
  /// The client gives up after this long (an abandoned request).
  std::chrono::milliseconds give_up{60000};
};

/// How one request ended, as its client saw it.
enum class ending {
  ok,          ///< 200 with a complete, well-formed answer (a stream ends with [DONE])
  clear_error, ///< an OpenAI-shaped error: a 4xx/5xx JSON body, or an SSE error event + [DONE]
  abandoned,   ///< the client gave up on purpose before the answer came
  lost,        ///< neither: no answer, a malformed one, or a 200 cut short
};

/// What a scenario's clients saw.
class tally {
public:
  void add(ending how, long status);
  std::uint64_t sent() const;
  std::uint64_t count(ending how) const;
  /// "sent 40, ok 38, errors 503:2, abandoned 0, lost 0".
  std::string line() const;

private:
  mutable std::mutex mutex_;
  std::map<ending, std::uint64_t> endings_;
  /// Clear errors by status ("in-stream" for an SSE error event after a 200).
  std::map<std::string, std::uint64_t> errors_;
};

/// Classifies one finished request.
ending classify(const scenario_request& request, const http::http_result& result,
                std::chrono::steady_clock::duration took);

class scenario_test : public daemon_test {
protected:
  /// Sends `requests` concurrently (each at its `after`) and waits for all; adds each ending to
  /// `counts`. `during` runs on the calling thread while they are out (faults, probes).
  void run_wave(const running_daemon& daemon, const std::vector<scenario_request>& requests,
                tally& counts, const std::function<void()>& during = {});

  /// The invariants every scenario ends with, printed as one line: nothing lost, no lease or
  /// waiting request left in llmux, the RSS not grown by more than `rss_slack_kb` since
  /// `rss_before_kb`, and after SIGTERM no engine process left.
  void finish(const std::string& name, running_daemon& daemon, const tally& counts,
              std::uint64_t rss_before_kb, std::uint64_t rss_slack_kb = 64 * 1024);

  /// llmux's resident memory now.
  static std::uint64_t rss_kb(const running_daemon& daemon);
};

/// How many of `pids` (all > 0) are still alive once `bound` has passed or all have ended.
std::size_t survivors(const std::vector<pid_t>& pids, std::chrono::milliseconds bound);

/// `count` requests for `model`, one every `gap`.
std::vector<scenario_request> burst(const std::string& model, std::size_t count,
                                    std::chrono::milliseconds start = std::chrono::milliseconds(0),
                                    std::chrono::milliseconds gap = std::chrono::milliseconds(0),
                                    bool stream = false, const std::string& extra = {});

/// Appends `more` to `requests`.
void append(std::vector<scenario_request>& requests, const std::vector<scenario_request>& more);

} // namespace llmux::testing_support
