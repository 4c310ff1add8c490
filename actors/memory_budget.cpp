#include "actors/memory_budget.hpp"

#include <algorithm>
#include <numeric>

namespace llmux::actors {

namespace {

// 0: idle and awake, 1: asleep, 2: busy and awake.
int group_of(const memory_holder& holder) {
  if (!holder.awake) {
    return 1;
  }
  return holder.busy ? 2 : 0;
}

} // namespace

room_plan make_room(std::uint64_t budget_mib, std::uint64_t need_mib,
                    std::vector<memory_holder> holders) {
  auto used = std::accumulate(
    holders.begin(), holders.end(), std::uint64_t{0},
    [](std::uint64_t sum, const memory_holder& holder) { return sum + holder.holds_mib; });
  room_plan plan;
  std::stable_sort(holders.begin(), holders.end(),
                   [](const memory_holder& a, const memory_holder& b) {
                     auto group_a = group_of(a);
                     auto group_b = group_of(b);
                     return group_a != group_b ? group_a < group_b : a.last_used < b.last_used;
                   });
  std::vector<const memory_holder*> chosen;
  for (const auto& holder : holders) {
    if (used + need_mib <= budget_mib) {
      break;
    }
    if (holder.frees_mib == 0) {
      continue;
    }
    chosen.push_back(&holder);
    used -= std::min(used, holder.frees_mib);
  }
  plan.fits = used + need_mib <= budget_mib;
  // A victim taken early may turn out unneeded once a later, larger one was taken: it stays,
  // the least wanted victims kept first.
  for (auto it = chosen.rbegin(); it != chosen.rend() && plan.fits;) {
    if (used + (*it)->frees_mib + need_mib <= budget_mib) {
      used += (*it)->frees_mib;
      it = decltype(it)(chosen.erase(std::next(it).base()));
    } else {
      ++it;
    }
  }
  for (const auto* holder : chosen) {
    plan.victims.push_back(holder->model);
  }
  return plan;
}

std::uint64_t left_after(const config::eviction_policy& eviction, std::uint64_t awake_mib,
                         std::optional<std::uint64_t> measured_mib) {
  if (eviction.process != config::process_strategy::keep_running) {
    return 0;
  }
  if (eviction.weights == config::weight_strategy::retain) {
    return awake_mib;
  }
  return std::min(awake_mib, measured_mib.value_or(asleep_estimate_mib));
}

} // namespace llmux::actors
