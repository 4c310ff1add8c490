// mock-vllm: a GPU-free stand-in for `vllm serve`, for tests and demos of llmux.

#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "tools/mock-vllm/options.hpp"
#include "tools/mock-vllm/server.hpp"

int main(int argc, char** argv) {
  using namespace llmux::tools::mock_vllm;
  auto parsed = parse_options(argc, argv);
  if (auto* status = std::get_if<int>(&parsed)) {
    return *status;
  }
  std::vector<std::string> arguments;
  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    // A restored engine must not restore again when it is checkpointed a second time.
    if (argument == "--mock-restore-from") {
      ++i;
      continue;
    }
    if (argument.starts_with("--mock-restore-from=")) {
      continue;
    }
    arguments.push_back(std::move(argument));
  }
  std::error_code ec;
  auto executable = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  return run_server(std::get<options>(parsed), std::move(arguments), executable);
}
