#include "tools/llmux/flows.hpp"

#include <gtest/gtest.h>

namespace llmux::flows {
namespace {

using config::eviction_policy;
using config::process_strategy;
using config::weight_strategy;

TEST(validation_table, lists_each_policy_with_its_numbers_and_the_verdict) {
  validation_row offload{{weight_strategy::offload, process_strategy::keep_running},
                         1.234,
                         0.5,
                         73728,
                         512,
                         73728,
                         true,
                         true};
  validation_row discard{{weight_strategy::discard, process_strategy::cuda_suspend}};
  EXPECT_EQ(validation_table({offload, discard}),
            "Policy               Sleep (s)  Wake (s)   GPU Before    GPU After     GPU Wake "
            "Response  Pass\n"
            "Offload+KeepRunning       1.23      0.50    73728 MiB      512 MiB    73728 MiB "
            "match     OK\n"
            "Discard+CudaSuspend       0.00      0.00          n/a          n/a          n/a "
            "MISMATCH  FAIL\n"
            "Result: SOME FAILED\n");
  EXPECT_TRUE(validation_table({offload}).ends_with("Result: ALL PASSED\n"));
  EXPECT_TRUE(validation_table({}).ends_with("Result: SOME FAILED\n")); // nothing was shown to pass
}

} // namespace
} // namespace llmux::flows
