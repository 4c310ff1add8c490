#pragma once

// GPU memory planning from the configuration: what each model's engine may take, and the
// `--gpu-memory-utilization` that makes co-resident engines fit beside each other.

#include <cstdint>
#include <optional>

#include "config/config.hpp"
#include "config/diagnostics.hpp"

namespace llmux::config {

/// The `--gpu-memory-utilization` the model's `extra_args` set (`--gpu-memory-utilization F` or
/// `--gpu-memory-utilization=F`, the first valid one wins), if any.
std::optional<double> memory_utilization(const model_config& model);

/// The largest utilization, in thousandths, whose share of `total_mib` stays within `mib`:
/// vLLM reserves `utilization × total` per GPU, so rounding down keeps the engine inside it.
std::uint64_t utilization_per_mille(std::uint64_t mib, std::uint64_t total_mib);

/// Fits `cfg`'s engines to a GPU of `total_mib` MiB under its `gpu_memory_budget_mib` (nothing
/// to do without one). A model that sets `--gpu-memory-utilization` in `extra_args` and no
/// `gpu_memory_mib` gets that share of the GPU as its footprint; a model with `gpu_memory_mib`
/// and no utilization gets one that fits it. Errors, naming the models: a budget larger than the
/// GPU, a footprint larger than the budget.
void fit_to_gpu(config& cfg, std::uint64_t total_mib, diagnostics& out);

} // namespace llmux::config
