#pragma once

// GPU memory under `gpu_memory_budget_mib`: which models must leave the GPU so that another
// fits. Pure logic: the scheduler describes the models, this picks the victims.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "config/eviction.hpp"

namespace llmux::actors {

/// A model that holds GPU memory, as the budget sees it.
struct memory_holder {
  std::size_t model = 0;
  /// Awake (serving), or asleep in its engine process with what it left on the GPU.
  bool awake = true;
  /// What it holds on the GPU now, in MiB.
  std::uint64_t holds_mib = 0;
  /// What making room with it frees: for an awake model its eviction (what it holds less what
  /// its eviction leaves behind), for a sleeping one stopping its engine (all it holds).
  std::uint64_t frees_mib = 0;
  /// Requests are in flight on it or wait for it.
  bool busy = false;
  /// When a request last came or went.
  std::chrono::steady_clock::time_point last_used{};
};

/// How room is made for a model.
struct room_plan {
  /// The models to evict (awake) or stop (asleep), in order.
  std::vector<std::size_t> victims;
  /// Whether the model fits once they are gone; false when even evicting everything that frees
  /// memory leaves too little (it is then brought up anyway, alone as far as llmux can make it).
  bool fits = true;
};

/// The victims that make `need_mib` more MiB fit into `budget_mib` beside `holders`. Idle awake
/// models go first, then sleeping ones, then busy awake ones; within each group the least
/// recently used first. Models whose eviction frees nothing are never chosen.
room_plan make_room(std::uint64_t budget_mib, std::uint64_t need_mib,
                    std::vector<memory_holder> holders);

/// What `eviction` leaves of a model on the GPU, given what it holds awake and, if measured,
/// what it held after the last eviction of this kind: nothing when the engine process stops,
/// is checkpointed or suspended; everything when the weights stay in a running engine; else
/// the CUDA context and what vLLM keeps outside its sleep pools (measured, or an estimate).
std::uint64_t left_after(const config::eviction_policy& eviction, std::uint64_t awake_mib,
                         std::optional<std::uint64_t> measured_mib);

/// What a vLLM engine asleep in its process keeps on the GPU until measured: its CUDA context,
/// CUDA graph pool and NCCL buffers; published readings lie between ~500 and ~1,350 MiB.
inline constexpr std::uint64_t asleep_estimate_mib = 1536;

} // namespace llmux::actors
