#include "config/eviction.hpp"

#include <array>
#include <utility>

#include <fmt/format.h>

namespace llmux::config {

namespace {

constexpr std::array weight_names{
  std::pair{weight_strategy::retain, std::string_view{"retain"}},
  std::pair{weight_strategy::offload, std::string_view{"offload"}},
  std::pair{weight_strategy::discard, std::string_view{"discard"}},
};

constexpr std::array process_names{
  std::pair{process_strategy::keep_running, std::string_view{"keep_running"}},
  std::pair{process_strategy::cuda_suspend, std::string_view{"cuda_suspend"}},
  std::pair{process_strategy::checkpoint, std::string_view{"checkpoint"}},
  std::pair{process_strategy::stop, std::string_view{"stop"}},
};

template <class Enum, std::size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& names,
                         Enum value) {
  for (const auto& [candidate, name] : names) {
    if (candidate == value) {
      return name;
    }
  }
  return "unknown";
}

template <class Enum, std::size_t N>
std::optional<Enum> value_of(const std::array<std::pair<Enum, std::string_view>, N>& names,
                             std::string_view text) {
  for (const auto& [value, name] : names) {
    if (name == text) {
      return value;
    }
  }
  return std::nullopt;
}

// `keep_running` -> `KeepRunning`, the spelling of the reference's enum variants.
std::string camel_case(std::string_view snake) {
  std::string out;
  bool upper = true;
  for (char c : snake) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(c - 'a' + 'A') : c;
    upper = false;
  }
  return out;
}

} // namespace

std::string_view to_string(weight_strategy value) {
  return name_of(weight_names, value);
}

std::string_view to_string(process_strategy value) {
  return name_of(process_names, value);
}

std::optional<weight_strategy> parse_weight_strategy(std::string_view text) {
  return value_of(weight_names, text);
}

std::optional<process_strategy> parse_process_strategy(std::string_view text) {
  return value_of(process_names, text);
}

std::string to_spec(const eviction_policy& policy) {
  return fmt::format("{}+{}", to_string(policy.weights), to_string(policy.process));
}

std::string display_name(const eviction_policy& policy) {
  return camel_case(to_string(policy.weights)) + "+" + camel_case(to_string(policy.process));
}

parsed<eviction_policy> parse_eviction_spec(std::string_view spec) {
  auto plus = spec.find('+');
  if (plus == std::string_view::npos || spec.find('+', plus + 1) != std::string_view::npos) {
    return parsed<eviction_policy>::failure(fmt::format(
      "invalid eviction '{}': expected 'weights+process' (e.g. offload+keep_running)", spec));
  }
  auto weights_text = spec.substr(0, plus);
  auto process_text = spec.substr(plus + 1);
  auto weights = parse_weight_strategy(weights_text);
  if (!weights) {
    return parsed<eviction_policy>::failure(fmt::format(
      "unknown weight strategy '{}': expected retain, offload or discard", weights_text));
  }
  auto process = parse_process_strategy(process_text);
  if (!process) {
    return parsed<eviction_policy>::failure(
      fmt::format("unknown process strategy '{}': expected keep_running, cuda_suspend, "
                  "checkpoint or stop",
                  process_text));
  }
  return eviction_policy{*weights, *process};
}

std::optional<eviction_policy> eviction_from_level(std::int64_t level) {
  switch (level) {
    case 1:
      return eviction_policy{weight_strategy::offload, process_strategy::keep_running};
    case 2:
      return eviction_policy{weight_strategy::discard, process_strategy::keep_running};
    case 3:
      return eviction_policy{weight_strategy::retain, process_strategy::cuda_suspend};
    case 4:
      return eviction_policy{weight_strategy::discard, process_strategy::checkpoint};
    case 5:
      return eviction_policy{weight_strategy::retain, process_strategy::stop};
    default:
      return std::nullopt;
  }
}

} // namespace llmux::config
