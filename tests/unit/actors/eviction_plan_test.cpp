#include "actors/eviction_plan.hpp"

#include <gtest/gtest.h>

namespace llmux::actors {
namespace {

using config::process_strategy;
using config::weight_strategy;
using s = engine_step;
using steps = std::vector<engine_step>;

struct row {
  weight_strategy weights;
  process_strategy process;
  std::uint64_t tp_size;
  bool object_store;
  steps evict;
  steps wake;
};

constexpr auto retain = weight_strategy::retain;
constexpr auto offload = weight_strategy::offload;
constexpr auto discard = weight_strategy::discard;
constexpr auto keep = process_strategy::keep_running;
constexpr auto cuda = process_strategy::cuda_suspend;
constexpr auto criu = process_strategy::checkpoint;
constexpr auto stop = process_strategy::stop;

// Every cell of README's eviction matrix, on one GPU and with tensor parallelism (NCCL is
// suspended around CUDA state moves), checkpoint images local and in the object store.
const row table[] = {
  {retain, keep, 1, false, {}, {}},
  {offload, keep, 1, false, {s::vllm_sleep_1}, {s::vllm_wake_up}},
  {discard,
   keep,
   1,
   false,
   {s::vllm_sleep_2},
   {s::vllm_wake_up, s::reload_weights, s::reset_prefix_cache}},
  {offload, keep, 2, false, {s::vllm_sleep_1}, {s::vllm_wake_up}},

  {retain, cuda, 1, false, {s::cuda_suspend}, {s::cuda_resume}},
  {offload, cuda, 1, false, {s::vllm_sleep_1, s::cuda_suspend}, {s::cuda_resume, s::vllm_wake_up}},
  {discard,
   cuda,
   1,
   false,
   {s::vllm_sleep_2, s::cuda_suspend},
   {s::cuda_resume, s::vllm_wake_up, s::reload_weights, s::reset_prefix_cache}},
  {retain, cuda, 2, false, {s::suspend_nccl, s::cuda_suspend}, {s::cuda_resume, s::resume_nccl}},
  {discard,
   cuda,
   4,
   false,
   {s::vllm_sleep_2, s::suspend_nccl, s::cuda_suspend},
   {s::cuda_resume, s::resume_nccl, s::vllm_wake_up, s::reload_weights, s::reset_prefix_cache}},

  {retain, criu, 1, false, {s::criu_dump}, {s::criu_restore}},
  {offload, criu, 1, false, {s::vllm_sleep_1, s::criu_dump}, {s::criu_restore, s::vllm_wake_up}},
  {discard,
   criu,
   1,
   false,
   {s::vllm_sleep_2, s::criu_dump},
   {s::criu_restore, s::vllm_wake_up, s::reload_weights, s::reset_prefix_cache}},
  {retain, criu, 2, false, {s::suspend_nccl, s::criu_dump}, {s::criu_restore, s::resume_nccl}},
  {discard,
   criu,
   1,
   true,
   {s::vllm_sleep_2, s::criu_dump, s::upload_images},
   {s::download_images, s::criu_restore, s::vllm_wake_up, s::reload_weights,
    s::reset_prefix_cache}},
  {offload,
   criu,
   2,
   true,
   {s::vllm_sleep_1, s::suspend_nccl, s::criu_dump, s::upload_images},
   {s::download_images, s::criu_restore, s::resume_nccl, s::vllm_wake_up}},

  {retain, stop, 1, false, {s::stop}, {s::cold_start}},
  {offload, stop, 1, false, {s::stop}, {s::cold_start}},
  {discard, stop, 2, true, {s::stop}, {s::cold_start}},
};

std::string names(const steps& list) {
  std::string out;
  for (auto step : list) {
    out += std::string(out.empty() ? "" : ", ") + std::string(to_string(step));
  }
  return "[" + out + "]";
}

TEST(eviction_plan, every_cell_of_the_matrix_evicts_and_wakes_as_documented) {
  for (const auto& r : table) {
    config::eviction_policy eviction{r.weights, r.process};
    plan_facts facts{r.tp_size, r.object_store};
    auto label = config::to_spec(eviction) + " tp " + std::to_string(r.tp_size)
                 + (r.object_store ? " s3" : "");
    EXPECT_EQ(names(eviction_plan(eviction, facts)), names(r.evict)) << label;
    EXPECT_EQ(names(wake_plan(eviction, facts)), names(r.wake)) << label;
  }
}

TEST(eviction_plan, every_step_has_a_name) {
  for (int step = 0; step <= static_cast<int>(s::reset_prefix_cache); ++step) {
    EXPECT_NE(to_string(static_cast<engine_step>(step)), "unknown step") << step;
  }
}

} // namespace
} // namespace llmux::actors
