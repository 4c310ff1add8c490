#pragma once

// What a configuration reload does to the scheduler's models: a pure diff, unit-tested.

#include <string>
#include <vector>

#include "config/config.hpp"

namespace llmux::actors {

struct reload_plan {
  /// Models served now that the new configuration no longer has: drained and stopped.
  std::vector<std::string> removed;
  /// Models whose engine settings changed: restarted with them once off the GPU and idle.
  std::vector<config::model_config> changed;
  /// New models, in the new configuration's order.
  std::vector<config::model_config> added;
};

/// The plan from the models served now (`live`) to `next`. Access keys belong to the proxy: a
/// model whose only change is its keys counts as unchanged.
reload_plan plan_reload(const std::vector<config::model_config>& live,
                        const std::vector<config::model_config>& next);

} // namespace llmux::actors
