#pragma once

// The command line's one-shot flows (spec §1.12–§1.14), each on one model with an actor system
// of its own and no proxy: `--validate`, `--checkpoint`, `--restore-detached`. Each returns the
// process's exit status: 0 when it did what was asked, 1 otherwise.

#include <optional>
#include <string>
#include <vector>

#include "config/cli.hpp"
#include "config/config.hpp"
#include "config/load.hpp"

namespace llmux::flows {

/// How llmux loads its configuration file, at start and on each reload: `--port` applied, and
/// the GPU's memory read with nvidia-smi when a memory budget needs it (not for
/// `--check-config`, which only prints the file).
config::load_options load_options_for(const config::cli_options& options);

/// Starts the model, sleeps and wakes it with each policy, compares the answers and prints
/// the results table.
int validate(const config::config& cfg, const config::cli_options& options);

/// Starts the model, warms it (unless `--no-warmup`), dumps it with CRIU, uploads the images
/// when an object store is configured.
int checkpoint(const config::config& cfg, const config::cli_options& options);

/// Restores the model from its images (downloaded first when only the object store has them),
/// checks that it answers and leaves it running.
int restore_detached(const config::config& cfg, const config::cli_options& options);

/// One row of `--validate`'s table. A failed policy keeps its numbers at 0.
struct validation_row {
  config::eviction_policy policy;
  double sleep_secs = 0;
  double wake_secs = 0;
  /// GPU memory in MiB before the sleep, after it, and after the wake; empty when
  /// nvidia-smi could not tell.
  std::optional<std::uint64_t> gpu_before = {};
  std::optional<std::uint64_t> gpu_after = {};
  std::optional<std::uint64_t> gpu_woken = {};
  bool answer_matches = false;
  bool passed = false;
};

/// The results table and its verdict line ("Result: ALL PASSED" or "Result: SOME FAILED").
std::string validation_table(const std::vector<validation_row>& rows);

} // namespace llmux::flows
