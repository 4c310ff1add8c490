#pragma once

// A fixture that runs mock-vllm engines and the fake GPU tools as real processes on loopback.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "http/client.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/scratch_dir.hpp"

namespace llmux::testing_support {

using namespace std::chrono_literals;

/// One running mock-vllm.
struct mock_engine {
  std::unique_ptr<child_process> process;
  std::uint16_t port = 0;

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }

  http::http_result get(const std::string& path) const {
    return http::http_request("GET", url(path));
  }

  http::http_result post(const std::string& path, const std::string& body = {}) const {
    return http::http_request("POST", url(path), body);
  }
};

/// What a fake tool printed and how it ended.
struct tool_run {
  int status = -1;
  std::string output;
};

class mock_engine_test : public ::testing::Test {
protected:
  /// The environment every engine and tool of this test sees: its own GPU registry.
  std::vector<std::string> environment(bool dev_mode = true) const;

  /// Starts `mock-vllm serve MODEL --mock-profile fast ARGS...` (on a free port unless ARGS
  /// name one) and waits until it listens (or only until it has bound its port).
  mock_engine start(const std::string& model, std::vector<std::string> args = {},
                    std::vector<std::string> extra_environment = {}, bool wait_ready = true);

  /// Runs a fake tool (`nvidia-smi`, `cuda-checkpoint`, `criu`) to completion.
  tool_run run_tool(const std::string& name, const std::vector<std::string>& args);

  /// nvidia-smi's `memory.used` in MiB.
  long gpu_memory_used();

  /// The answer text of a chat completion with a fixed prompt and seed.
  std::string chat_answer(const mock_engine& engine, const std::string& prompt = "Hello there");

  scratch_dir scratch_;
};

/// The document parsed from `json`, or a test failure.
simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& json);

/// The answer text (`choices[0].message.content`) of a chat completion, or a test failure.
std::string answer_content(const http::http_result& result);

/// Body of a chat completion request for `prompt` with seed 7.
std::string chat_request(const std::string& prompt, bool stream = false,
                         const std::string& extra = {});

} // namespace llmux::testing_support
