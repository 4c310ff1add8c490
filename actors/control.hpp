#pragma once

// What the admin API asks of the scheduler, and its typed answers. Plain C++: http/ builds the
// requests and maps the answers to status codes and bodies; messages.hpp makes them messages.

#include <cstdint>
#include <string>
#include <vector>

#include "actors/snapshot.hpp"
#include "config/eviction.hpp"

namespace llmux::actors {

enum class control_action : std::uint8_t {
  set_mode,     ///< `mode`; manual clears a pin
  pin,          ///< manual mode serving `model`, switched to now
  unpin,        ///< automatic mode
  switch_to,    ///< switch to `model` now (in manual mode it becomes the pin)
  set_eviction, ///< `eviction` for `model`'s future evictions
  sleep,        ///< evict `model` now (with `eviction` if set): the GPU is then free
  wake,         ///< switch to `model` now, mode and pin unchanged
};

struct control_request {
  control_action action = control_action::set_mode;
  std::string model;
  serving_mode mode = serving_mode::automatic;
  bool has_eviction = false;
  config::eviction_policy eviction;
};

enum class control_error : std::uint8_t {
  none,
  unknown_model,  ///< no configured model has that name
  failed,         ///< the switch, sleep or wake failed (`detail` says why)
  shutting_down,  ///< llmux is stopping
  scheduler_gone, ///< the scheduler did not answer
};

struct control_result {
  control_error error = control_error::none;
  /// What failed; after a sleep, the eviction it used (`weights+process`).
  std::string detail;
};

/// What a configuration reload did to the models (or why it did nothing).
struct reload_outcome {
  bool ok = true;
  std::string error;
  std::vector<std::string> added;
  std::vector<std::string> removed;
  /// Restarted with their new settings once off the GPU and idle.
  std::vector<std::string> changed;
};

} // namespace llmux::actors
