#include "config/gpu_memory.hpp"

#include <charconv>
#include <string_view>

#include <fmt/format.h>

#include "config/validate.hpp"

namespace llmux::config {

namespace {

constexpr std::string_view utilization_flag = "--gpu-memory-utilization";

std::optional<double> parse_fraction(std::string_view text) {
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

} // namespace

std::optional<double> memory_utilization(const model_config& model) {
  for (auto value : flag_values(model.extra_args, utilization_flag)) {
    if (auto fraction = parse_fraction(value)) {
      return fraction;
    }
  }
  return std::nullopt;
}

std::uint64_t utilization_per_mille(std::uint64_t mib, std::uint64_t total_mib) {
  return total_mib == 0 ? 0 : mib * 1000 / total_mib;
}

void fit_to_gpu(config& cfg, std::uint64_t total_mib, diagnostics& out) {
  if (!cfg.gpu_memory_budget_mib) {
    return;
  }
  auto budget = *cfg.gpu_memory_budget_mib;
  if (budget > total_mib) {
    out.error("gpu_memory_budget_mib",
              fmt::format("{} MiB is more than the GPU has ({} MiB)", budget, total_mib));
  }
  for (auto& model : cfg.models) {
    // A declared footprint was checked against the budget with the rest of the file.
    auto utilization = memory_utilization(model);
    if (utilization && !model.gpu_memory_mib) {
      auto mib = static_cast<std::uint64_t>(*utilization * static_cast<double>(total_mib));
      model.gpu_memory_mib = mib;
      if (mib > budget) {
        out.error(model_path_of(model, "extra_args"),
                  fmt::format("model {}: --gpu-memory-utilization {} of this {} MiB GPU is {} "
                              "MiB, more than gpu_memory_budget_mib ({} MiB)",
                              model.name, *utilization, total_mib, mib, budget));
      }
    } else if (model.gpu_memory_mib && !utilization) {
      auto per_mille = utilization_per_mille(*model.gpu_memory_mib, total_mib);
      model.extra_args.push_back(std::string(utilization_flag));
      model.extra_args.push_back(fmt::format("{}.{:03}", per_mille / 1000, per_mille % 1000));
    }
  }
}

} // namespace llmux::config
