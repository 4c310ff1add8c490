#include "actors/reload_plan.hpp"

#include <algorithm>

namespace llmux::actors {

namespace {

const config::model_config* named(const std::vector<config::model_config>& models,
                                  const std::string& name) {
  auto found = std::find_if(models.begin(), models.end(),
                            [&](const config::model_config& model) { return model.name == name; });
  return found == models.end() ? nullptr : &*found;
}

bool same_engine(config::model_config a, config::model_config b) {
  a.api_keys.clear();
  b.api_keys.clear();
  return a == b;
}

} // namespace

reload_plan plan_reload(const std::vector<config::model_config>& live,
                        const std::vector<config::model_config>& next) {
  reload_plan plan;
  for (const auto& model : live) {
    if (named(next, model.name) == nullptr) {
      plan.removed.push_back(model.name);
    }
  }
  for (const auto& model : next) {
    const auto* now = named(live, model.name);
    if (now == nullptr) {
      plan.added.push_back(model);
    } else if (!same_engine(*now, model)) {
      plan.changed.push_back(model);
    }
  }
  return plan;
}

} // namespace llmux::actors
