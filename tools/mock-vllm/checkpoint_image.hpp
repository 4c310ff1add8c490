#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/parsed.hpp"
#include "tools/mock-vllm/engine_state.hpp"

namespace llmux::tools::mock_vllm {

/// What the fake criu needs to bring a dumped mock back: how it was started, its engine state,
/// and how long the restore takes.
struct checkpoint_image {
  std::string executable;
  std::vector<std::string> arguments;
  /// The engine's own environment (`KEY=value`): CRIU restores a process's environment too.
  std::vector<std::string> environment;
  std::uint16_t port = 0;
  engine_snapshot snapshot;
  std::uint64_t image_bytes = 0;
  double restore_ms = 0;
};

/// The file in an images directory that describes the checkpoint.
inline constexpr const char* checkpoint_state_file = "mock-state.json";

/// Writes the checkpoint into `dir` (created if needed): the state file, an inventory, and
/// `pages-1.img` holding `image.image_bytes` of real (pseudo-random) bytes, so copies of the
/// images move real data. Returns an error message on failure.
std::string write_checkpoint(const std::string& dir, const checkpoint_image& image);

/// Reads a checkpoint written by `write_checkpoint`, checking that the page image is complete.
config::parsed<checkpoint_image> read_checkpoint(const std::string& dir);

} // namespace llmux::tools::mock_vllm
