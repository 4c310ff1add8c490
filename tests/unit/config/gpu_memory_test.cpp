#include "config/gpu_memory.hpp"

#include <gtest/gtest.h>

#include "config/parse.hpp"
#include "config/validate.hpp"
#include "test_support.hpp"

namespace llmux::config {
namespace {

using testing_support::describe;

config parsed(std::string_view text) {
  auto result = parse_config(text);
  EXPECT_TRUE(result.ok()) << describe(result.findings);
  return result.cfg;
}

TEST(gpu_memory, the_utilization_is_read_in_both_spellings) {
  model_config model;
  EXPECT_EQ(memory_utilization(model), std::nullopt);
  model.extra_args = {"--max-model-len", "4096", "--gpu-memory-utilization", "0.45"};
  EXPECT_EQ(memory_utilization(model), 0.45);
  model.extra_args = {"--gpu-memory-utilization=0.3"};
  EXPECT_EQ(memory_utilization(model), 0.3);
  model.extra_args = {"--gpu-memory-utilization", "much"};
  EXPECT_EQ(memory_utilization(model), std::nullopt);
}

TEST(gpu_memory, the_fitted_utilization_never_exceeds_the_footprint) {
  EXPECT_EQ(utilization_per_mille(40960, 81920), 500u);
  EXPECT_EQ(utilization_per_mille(20000, 81920), 244u); // 0.2441... rounded down
  EXPECT_EQ(utilization_per_mille(1, 0), 0u);
}

TEST(gpu_memory, engines_get_a_utilization_that_fits_their_footprint) {
  auto cfg = parsed(R"({"gpu_memory_budget_mib": 60000, "models": {
    "a": {"model_path": "m", "port": 8001, "gpu_memory_mib": 20000},
    "b": {"model_path": "n", "port": 8002, "extra_args": ["--gpu-memory-utilization", "0.25"]},
    "c": {"model_path": "o", "port": 8003}}})");
  diagnostics findings;
  fit_to_gpu(cfg, 81920, findings);
  EXPECT_TRUE(findings.items().empty()) << describe(findings);
  std::vector<std::string> fitted{"--gpu-memory-utilization", "0.244"};
  EXPECT_EQ(cfg.models[0].extra_args, fitted);
  EXPECT_EQ(cfg.models[1].gpu_memory_mib, 20480u);       // its utilization's share of the GPU
  EXPECT_EQ(cfg.models[1].extra_args.size(), 2u);        // left as written
  EXPECT_EQ(cfg.models[2].gpu_memory_mib, std::nullopt); // measured once it runs
  EXPECT_TRUE(cfg.models[2].extra_args.empty());
}

TEST(gpu_memory, without_a_budget_nothing_changes) {
  auto cfg
    = parsed(R"({"models": {"a": {"model_path": "m", "port": 8001, "gpu_memory_mib": 20000}}})");
  auto before = cfg;
  diagnostics findings;
  fit_to_gpu(cfg, 81920, findings);
  EXPECT_EQ(cfg, before);
}

TEST(gpu_memory, what_cannot_fit_is_an_error_naming_the_model) {
  auto cfg = parsed(R"({"gpu_memory_budget_mib": 90000, "models": {
    "big": {"model_path": "m", "port": 8001, "extra_args": ["--gpu-memory-utilization=0.95"]}}})");
  diagnostics findings;
  fit_to_gpu(cfg, 81920, findings);
  EXPECT_FINDING(findings, severity::error, "gpu_memory_budget_mib",
                 "90000 MiB is more than the GPU has (81920 MiB)");
  cfg = parsed(R"({"gpu_memory_budget_mib": 40000, "models": {
    "big": {"model_path": "m", "port": 8001, "extra_args": ["--gpu-memory-utilization=0.9"]}}})");
  diagnostics over_budget;
  fit_to_gpu(cfg, 81920, over_budget);
  EXPECT_FINDING(over_budget, severity::error, "models.big.extra_args",
                 "model big: --gpu-memory-utilization 0.9 of this 81920 MiB GPU is 73728 MiB, more "
                 "than gpu_memory_budget_mib (40000 MiB)");
}

TEST(gpu_memory, a_declared_footprint_is_checked_with_the_file) {
  auto result = parse_config(R"({"gpu_memory_budget_mib": 30000, "models": {
    "big": {"model_path": "m", "port": 8001, "gpu_memory_mib": 40000}}})");
  validate_config(
    result.cfg, [](const std::string&) { return false; }, result.findings);
  EXPECT_FINDING(result.findings, severity::error, "models.big.gpu_memory_mib",
                 "model big needs 40000 MiB, more than gpu_memory_budget_mib (30000 MiB)");
  auto unused = parse_config(R"({"models": {
    "a": {"model_path": "m", "port": 8001, "gpu_memory_mib": 4000}}})");
  validate_config(
    unused.cfg, [](const std::string&) { return false; }, unused.findings);
  EXPECT_FINDING(unused.findings, severity::warning, "models.a.gpu_memory_mib",
                 "has no effect without gpu_memory_budget_mib");
}

TEST(gpu_memory, budgets_and_footprints_are_at_least_one) {
  auto result = parse_config(R"({"gpu_memory_budget_mib": 0, "models": {
    "a": {"model_path": "m", "port": 8001, "gpu_memory_mib": 0}}})");
  EXPECT_FINDING(result.findings, severity::error, "gpu_memory_budget_mib", "must be at least 1");
  EXPECT_FINDING(result.findings, severity::error, "models.a.gpu_memory_mib", "must be at least 1");
}

} // namespace
} // namespace llmux::config
