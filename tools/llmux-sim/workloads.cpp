#include "tools/llmux-sim/workloads.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace llmux::tools::sim {

namespace {

using actors::sim_request;
using std::chrono::milliseconds;

// splitmix64: a small, well-mixed generator whose sequence is the same everywhere.
class generator {
public:
  explicit generator(std::uint64_t seed) : state_(seed) {
  }

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  /// Uniform in (0, 1].
  double unit() {
    return (static_cast<double>(next() >> 11) + 1.0) / 9007199254740992.0;
  }

private:
  std::uint64_t state_;
};

workload make(std::string name, std::size_t models) {
  workload w;
  w.name = std::move(name);
  w.models = models;
  return w;
}

void add(workload& w, milliseconds at, std::size_t model, milliseconds service) {
  w.requests.push_back({at, model, service});
}

workload random_profile(const std::string& name, std::size_t count, std::uint64_t seed,
                        milliseconds service) {
  auto w = make(name, 2);
  generator random(seed);
  double at = 0;
  for (std::size_t i = 0; i < count; ++i) {
    at += -std::log(random.unit()) * 0.5; // Poisson arrivals, 2 per second
    add(w, milliseconds(static_cast<long>(at * 1000)), random.next() % 2, service);
  }
  return w;
}

// Bursts of `size` requests alternating between two models, `gap` apart.
workload bursts(const std::string& name, std::size_t count, std::size_t size, milliseconds gap,
                milliseconds service) {
  auto w = make(name, 2);
  for (std::size_t burst = 0; burst < count; ++burst) {
    for (std::size_t i = 0; i < size; ++i) {
      add(w, gap * static_cast<long>(burst) + milliseconds(50) * static_cast<long>(i), i % 2,
          service);
    }
  }
  return w;
}

// `count` requests 50 ms apart; every `every`-th one for the second model.
workload dominant(const std::string& name, std::size_t count, std::size_t every,
                  milliseconds service) {
  auto w = make(name, 2);
  for (std::size_t i = 0; i < count; ++i) {
    add(w, milliseconds(50) * static_cast<long>(i), i % every == every - 1 ? 1 : 0, service);
  }
  return w;
}

struct model_type {
  const char* name;
  config::eviction_policy eviction;
  actors::sim_costs costs;
};

const model_type l40_models[] = {
  {"gpt-oss-20b",
   {config::weight_strategy::offload, config::process_strategy::keep_running},
   {milliseconds(60000), milliseconds(5800), milliseconds(300), milliseconds(1200),
    milliseconds(8000), milliseconds(1000)}},
  {"gemma-12b",
   {config::weight_strategy::discard, config::process_strategy::keep_running},
   {milliseconds(74000), milliseconds(3000), milliseconds(1000), milliseconds(1500),
    milliseconds(31000), milliseconds(1000)}},
  {"qwen3-4b",
   {config::weight_strategy::retain, config::process_strategy::stop},
   {milliseconds(60000), milliseconds(3000), milliseconds(300), milliseconds(800),
    milliseconds(5000), milliseconds(1000)}},
};

} // namespace

config::config l40_configuration(const std::vector<std::string>& names, const std::string& policy,
                                 std::vector<actors::sim_costs>& costs) {
  config::config cfg;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto& type = l40_models[i % std::size(l40_models)];
    config::model_config model;
    model.name = names[i];
    model.model_path = type.name;
    model.port = static_cast<std::uint16_t>(8001 + i);
    model.eviction = type.eviction;
    cfg.models.push_back(model);
    costs.push_back(type.costs);
  }
  cfg.policy.policy_type = policy;
  return cfg;
}

std::vector<workload> reference_profiles(milliseconds service) {
  std::vector<workload> all;
  auto single = make("single_model", 2);
  for (int i = 0; i < 40; ++i) {
    add(single, milliseconds(0), 0, service);
  }
  all.push_back(single);
  // The reference's benchmark client: each round sends A, then B 0.1 s later, and starts the
  // next round once both have their answers (a closed loop).
  auto balanced = make("balanced", 2);
  for (std::size_t round = 0; round < 20; ++round) {
    sim_request a{milliseconds(0), 0, service};
    if (round > 0) {
      auto previous = balanced.requests.size();
      a.answered_after = {previous - 2, previous - 1};
    }
    balanced.requests.push_back(a);
    sim_request b{milliseconds(100), 1, service};
    b.sent_after = balanced.requests.size() - 1;
    balanced.requests.push_back(b);
  }
  all.push_back(balanced);
  all.push_back(bursts("bursty", 4, 10, milliseconds(15000), service));
  all.push_back(dominant("dominant", 50, 5, service));
  auto interleave = make("interleave", 2);
  for (int i = 0; i < 60; ++i) {
    add(interleave, milliseconds(i), static_cast<std::size_t>(i % 2), service);
  }
  all.push_back(interleave);
  auto surge = make("surge", 2);
  for (int i = 0; i < 60; ++i) {
    add(surge, milliseconds(500) * i, 0, service);
  }
  for (int i = 0; i < 20; ++i) {
    add(surge, milliseconds(10000) + milliseconds(50) * i, 1, service);
  }
  std::stable_sort(
    surge.requests.begin(), surge.requests.end(),
    [](const sim_request& a, const sim_request& b) { return a.arrival < b.arrival; });
  all.push_back(surge);
  auto three = make("three_model", 3);
  for (int round = 0; round < 10; ++round) {
    for (std::size_t m = 0; m < 3; ++m) {
      add(three, milliseconds(3000) * round + milliseconds(100) * static_cast<long>(m), m, service);
    }
  }
  all.push_back(three);
  all.push_back(random_profile("random_50", 50, 42, service));
  all.push_back(random_profile("random_100", 100, 123, service));
  all.push_back(random_profile("random_200", 200, 456, service));
  all.push_back(dominant("dominant_95", 80, 20, service));
  all.push_back(bursts("heavy_burst", 6, 50, milliseconds(20000), service));
  return all;
}

std::vector<workload> project_profiles(milliseconds service) {
  auto alternating = make("alternating", 2);
  add(alternating, milliseconds(0), 0, service);
  add(alternating, milliseconds(0), 1, service);
  for (int i = 0; i < 200; ++i) {
    add(alternating, milliseconds(60000) + milliseconds(1000) * i, static_cast<std::size_t>(i % 2),
        service);
  }
  return {alternating};
}

config::parsed<workload> read_trace(std::string_view csv, std::vector<std::string>& model_names) {
  using result = config::parsed<workload>;
  workload w = make("trace", 0);
  std::size_t line_number = 0;
  while (!csv.empty()) {
    auto end = csv.find('\n');
    auto line = csv.substr(0, end);
    csv = end == std::string_view::npos ? std::string_view{} : csv.substr(end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty() || (line_number == 1 && line.starts_with("time"))) {
      continue;
    }
    auto first = line.find(',');
    auto second = first == std::string_view::npos ? first : line.find(',', first + 1);
    if (second == std::string_view::npos) {
      return result::failure(
        fmt::format("line {}: expected time,model,service_seconds", line_number));
    }
    double at = 0;
    double service = 0;
    auto time_text = line.substr(0, first);
    auto service_text = line.substr(second + 1);
    // The whole field must be the number: "2.5s" or a fourth column is an error, not 2.5.
    auto [a, ea] = std::from_chars(time_text.data(), time_text.data() + time_text.size(), at);
    auto [b, eb]
      = std::from_chars(service_text.data(), service_text.data() + service_text.size(), service);
    if (ea != std::errc{} || eb != std::errc{} || a != time_text.data() + time_text.size()
        || b != service_text.data() + service_text.size() || at < 0 || service <= 0) {
      return result::failure(fmt::format("line {}: bad time or service time", line_number));
    }
    std::string model{line.substr(first + 1, second - first - 1)};
    if (model.empty()) {
      return result::failure(fmt::format("line {}: empty model name", line_number));
    }
    auto known = std::find(model_names.begin(), model_names.end(), model);
    if (known == model_names.end()) {
      model_names.push_back(model);
      known = model_names.end() - 1;
    }
    add(w, milliseconds(static_cast<long>(at * 1000)),
        static_cast<std::size_t>(known - model_names.begin()),
        milliseconds(static_cast<long>(service * 1000)));
  }
  w.models = model_names.size();
  std::stable_sort(
    w.requests.begin(), w.requests.end(),
    [](const sim_request& x, const sim_request& y) { return x.arrival < y.arrival; });
  return w;
}

} // namespace llmux::tools::sim
