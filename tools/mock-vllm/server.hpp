#pragma once

#include <string>
#include <vector>

#include "tools/mock-vllm/options.hpp"

namespace llmux::tools::mock_vllm {

/// Runs one emulated engine until it exits: binds the port at once but listens only after the
/// emulated start-up (vLLM refuses connections while loading), then serves HTTP on one thread.
/// `arguments` (argv without the program) and `executable` are recorded in CRIU checkpoints so
/// that the fake criu can start the same engine again. Returns the process's exit status.
int run_server(const options& opts, std::vector<std::string> arguments, std::string executable);

} // namespace llmux::tools::mock_vllm
