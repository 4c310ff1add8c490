#include "tests/e2e/mock_engine.hpp"

#include <algorithm>
#include <string_view>

#include <fmt/format.h>

namespace llmux::testing_support {

std::vector<std::string> mock_engine_test::environment(bool dev_mode) const {
  return {"LLMUX_MOCK_GPU_DIR=" + scratch_ / "gpu",
          std::string{"VLLM_SERVER_DEV_MODE="} + (dev_mode ? "1" : "0")};
}

mock_engine mock_engine_test::start(const std::string& model, std::vector<std::string> args,
                                    std::vector<std::string> extra_environment, bool wait_ready) {
  std::vector<std::string> argv{LLMUX_MOCK_VLLM, "serve", model, "--mock-profile", "fast"};
  if (std::find(args.begin(), args.end(), "--port") == args.end()) {
    argv.insert(argv.end(), {"--port", "0"});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  auto env = environment();
  env.insert(env.end(), extra_environment.begin(), extra_environment.end());
  mock_engine engine;
  engine.process = std::make_unique<child_process>(argv, env);
  auto bound = engine.process->wait_for_line("mock-vllm: bound", 20s);
  if (!bound) {
    ADD_FAILURE() << "mock-vllm did not bind; output:\n" << engine.process->output();
    return engine;
  }
  auto colon = bound->rfind(':', bound->find(','));
  engine.port = static_cast<std::uint16_t>(std::stoi(bound->substr(colon + 1)));
  if (wait_ready && !engine.process->wait_for_line("READY", 20s)) {
    ADD_FAILURE() << "mock-vllm never became ready; output:\n" << engine.process->output();
  }
  return engine;
}

tool_run mock_engine_test::run_tool(const std::string& name, const std::vector<std::string>& args) {
  std::vector<std::string> argv{std::string{LLMUX_FAKES_BIN} + "/" + name};
  argv.insert(argv.end(), args.begin(), args.end());
  child_process tool(argv, environment());
  tool_run run;
  auto status = tool.wait_exit(60s);
  run.status = status.value_or(-1);
  run.output = tool.output();
  return run;
}

long mock_engine_test::gpu_memory_used() {
  auto run = run_tool("nvidia-smi", {"--query-gpu=memory.used", "--format=csv,noheader,nounits"});
  EXPECT_EQ(run.status, 0) << run.output;
  return std::stol(run.output);
}

std::string mock_engine_test::chat_answer(const mock_engine& engine, const std::string& prompt) {
  auto result = engine.post("/v1/chat/completions", chat_request(prompt));
  EXPECT_EQ(result.status, 200) << result.failure << result.body;
  return answer_content(result);
}

std::string answer_content(const http::http_result& result) {
  simdjson::dom::parser parser;
  std::string_view content;
  if (parse_json(parser, result.body)["choices"].at(0)["message"]["content"].get(content)) {
    ADD_FAILURE() << "no content in " << result.body;
  }
  return std::string{content};
}

simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& json) {
  simdjson::dom::element root;
  if (auto err = parser.parse(json).get(root)) {
    ADD_FAILURE() << "not JSON (" << simdjson::error_message(err) << "): " << json;
  }
  return root;
}

std::string chat_request(const std::string& prompt, bool stream, const std::string& extra) {
  return fmt::format(R"({{"messages":[{{"role":"user","content":"{}"}}],"seed":7,"stream":{}{}}})",
                     prompt, stream, extra);
}

} // namespace llmux::testing_support
