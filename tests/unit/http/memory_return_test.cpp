#include "http/memory_return.hpp"

#include <cstddef>
#include <vector>

#include <gtest/gtest.h>

namespace {

using llmux::http::memory_return_steps;

// The ticks at which memory goes back, for connection counts seen one per tick.
std::vector<std::size_t> steps_for(const std::vector<std::size_t>& open_by_tick) {
  memory_return_steps steps(1000);
  std::vector<std::size_t> due;
  for (std::size_t tick = 0; tick < open_by_tick.size(); ++tick) {
    if (steps.due(open_by_tick[tick])) {
      due.push_back(tick);
    }
  }
  return due;
}

TEST(memory_return, connections_below_a_crowd_never_trigger_it) {
  EXPECT_TRUE(steps_for({0, 10, 999, 500, 0, 0, 999, 0}).empty());
}

TEST(memory_return, a_leaving_crowd_gives_memory_back_in_quarters_and_when_the_last_has_gone) {
  // 10,000 open; below 2,500 (tick 3); below a quarter of 2,400 (tick 5); the last gone (tick 7).
  EXPECT_EQ(steps_for({10000, 9000, 3000, 2400, 700, 500, 200, 0, 0, 0}),
            (std::vector<std::size_t>{3, 5, 7}));
}

TEST(memory_return, a_crowd_that_leaves_at_once_gives_memory_back_once) {
  EXPECT_EQ(steps_for({5000, 0, 0, 0}), (std::vector<std::size_t>{1}));
}

TEST(memory_return, every_crowd_gives_its_memory_back) {
  EXPECT_EQ(steps_for({2000, 0, 0, 10, 4000, 0}), (std::vector<std::size_t>{1, 5}));
}

TEST(memory_return, connections_that_come_back_raise_the_next_step) {
  // After the step at 400 (tick 1), 3,000 arrive: the next step waits for fewer than 750.
  EXPECT_EQ(steps_for({4000, 400, 3000, 800, 700, 0}), (std::vector<std::size_t>{1, 4, 5}));
}

} // namespace
