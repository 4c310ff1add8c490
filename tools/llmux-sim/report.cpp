#include "tools/llmux-sim/report.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

namespace llmux::tools::sim {

namespace {

double seconds_of(actors::clock_type::duration d) {
  return std::chrono::duration<double>(d).count();
}

// "≤ x %", or "-" when there is no bound.
std::string at_most(std::optional<double> fraction) {
  return fraction ? fmt::format("≤ {:.1f} %", 100 * *fraction) : std::string("-");
}

// `fraction` as a share of `of`, or "-" when there is no bound.
std::string share_of(double fraction, std::optional<double> of) {
  return of && *of > 0 ? fmt::format("{:.1f} %", 100 * fraction / *of) : std::string("-");
}

} // namespace

std::string markdown_report(const std::vector<result_row>& rows) {
  std::string out;
  std::vector<std::string> workloads;
  std::vector<std::string> policies;
  for (const auto& row : rows) {
    if (std::find(workloads.begin(), workloads.end(), row.workload) == workloads.end()) {
      workloads.push_back(row.workload);
    }
    if (std::find(policies.begin(), policies.end(), row.policy) == policies.end()) {
      policies.push_back(row.policy);
    }
  }
  for (const auto& name : workloads) {
    out += fmt::format("### {}\n\n", name);
    out += "| policy | switches | switching s | GPU serving | of bound | req per GPU-s | served | "
           "failed | mean wait s | p50 s | p99 s | max s | max GPU wait s "
           "|\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    std::optional<offline_bound> bound;
    for (const auto& row : rows) {
      if (row.workload != name) {
        continue;
      }
      const auto& s = row.summary;
      bound = row.bound;
      out += fmt::format(
        "| {} | {} | {:.1f} | {:.1f} % | {} | {:.3f} | {} | {} | {:.2f} | {:.2f} | "
        "{:.2f} | {:.2f} | {:.2f} |\n",
        row.policy, s.switches, s.switching_seconds, 100 * s.gpu_serving_fraction,
        share_of(s.gpu_serving_fraction, bound ? bound->gpu_serving_fraction : std::nullopt),
        s.requests_per_gpu_second, s.served, s.failed, s.mean_wait, s.p50_wait, s.p99_wait,
        s.max_wait, s.max_gpu_wait);
    }
    if (bound) {
      out += fmt::format("| *offline bound* | ≥ {} | ≥ {:.1f} | {} | | | | | | | ≥ {:.2f} | | |\n",
                         bound->switches, bound->switching_seconds,
                         at_most(bound->gpu_serving_fraction), bound->p99_wait);
    } else {
      out += "| *offline bound* | - | - | - | | | | | | | - | | |\n";
    }
    out += "\n";
  }
  out += "### Suite (every workload that switches)\n\n";
  out += "| policy | switches | switching s | weighted GPU serving | open-loop GPU serving | of "
         "bound | p99 wait s | max wait s | max GPU wait s | failed "
         "|\n|---|---|---|---|---|---|---|---|---|---|\n";
  // The bound of the open-loop workloads together: their bound switching against their service.
  auto in_suite = [](const result_row& row) { return row.workload != "single_model"; };
  double bound_service = 0;
  double bound_switching = 0;
  std::size_t bound_switches = 0;
  bool one_at_a_time = true;
  for (const auto& name : workloads) {
    auto first = std::find_if(rows.begin(), rows.end(),
                              [&](const result_row& row) { return row.workload == name; });
    if (!in_suite(*first) || !first->bound) {
      continue;
    }
    bound_service += first->bound->service_seconds;
    bound_switching += first->bound->switching_seconds;
    bound_switches += first->bound->switches;
    one_at_a_time = one_at_a_time && first->bound->gpu_serving_fraction.has_value();
  }
  std::optional<double> bound_fraction;
  if (one_at_a_time && bound_service + bound_switching > 0) {
    bound_fraction = bound_service / (bound_service + bound_switching);
  }
  for (const auto& policy : policies) {
    std::size_t switches = 0;
    std::size_t failed = 0;
    double switching = 0;
    double serving = 0;
    double open_switching = 0;
    double open_serving = 0;
    double max_wait = 0;
    double max_gpu_wait = 0;
    std::vector<double> waits;
    for (const auto& row : rows) {
      if (row.policy != policy || !in_suite(row)) {
        continue;
      }
      switches += row.summary.switches;
      failed += row.summary.failed;
      switching += row.summary.switching_seconds;
      serving += row.summary.serving_seconds;
      if (row.bound) {
        open_switching += row.summary.switching_seconds;
        open_serving += row.summary.serving_seconds;
      }
      max_wait = std::max(max_wait, row.summary.max_wait);
      max_gpu_wait = std::max(max_gpu_wait, row.summary.max_gpu_wait);
      waits.insert(waits.end(), row.waits.begin(), row.waits.end());
    }
    auto fraction = serving + switching > 0 ? serving / (serving + switching) : 0.0;
    auto open_fraction
      = open_serving + open_switching > 0 ? open_serving / (open_serving + open_switching) : 0.0;
    out += fmt::format(
      "| {} | {} | {:.1f} | {:.1f} % | {:.1f} % | {} | {:.2f} | {:.2f} | {:.2f} | {} |\n", policy,
      switches, switching, 100 * fraction, 100 * open_fraction,
      share_of(open_fraction, bound_fraction), actors::percentile(waits, 0.99), max_wait,
      max_gpu_wait, failed);
  }
  out
    += fmt::format("| *offline bound* (open-loop workloads) | ≥ {} | ≥ {:.1f} | | {} | | | | | |\n",
                   bound_switches, bound_switching, at_most(bound_fraction));
  return out;
}

std::string svg_timeline(const actors::sim_run& run, const std::vector<std::string>& models,
                         const std::string& title) {
  constexpr double width = 1200;
  constexpr double lane = 40;
  constexpr double left = 110;
  double end = std::max(seconds_of(run.ended), 1.0);
  auto x = [&](double seconds) { return left + (width - left - 10) * seconds / end; };
  double height = 50 + lane * static_cast<double>(models.size()) + 40;
  std::string out = fmt::format(
    R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" )"
    R"(font-size="12"><rect width="100%" height="100%" fill="white"/>)"
    R"(<text x="10" y="20" font-size="14">{}</text>)",
    width, height, title);
  for (std::size_t m = 0; m < models.size(); ++m) {
    double y = 40 + lane * static_cast<double>(m);
    out += fmt::format(R"(<text x="10" y="{}">{}</text><line x1="{}" y1="{}" x2="{}" y2="{}" )"
                       R"(stroke="#ddd"/>)",
                       y + 20, models[m], left, y + 30, width - 10, y + 30);
  }
  for (const auto& op : run.operations) {
    const char* colour = op.what == actors::sim_operation::kind::start   ? "#888"
                         : op.what == actors::sim_operation::kind::wake  ? "#d33"
                         : op.what == actors::sim_operation::kind::sleep ? "#e90"
                                                                         : "#555";
    double y = 40 + lane * static_cast<double>(op.model);
    auto begin = seconds_of(op.began.time_since_epoch());
    auto finish = seconds_of(op.ended.time_since_epoch());
    out += fmt::format(R"(<rect x="{:.1f}" y="{}" width="{:.1f}" height="12" fill="{}"/>)",
                       x(begin), y + 4, std::max(1.0, x(finish) - x(begin)), colour);
  }
  for (const auto& request : run.requests) {
    if (!request.served) {
      continue;
    }
    double y = 40 + lane * static_cast<double>(request.model);
    auto begin = seconds_of(request.started);
    out += fmt::format(R"(<rect x="{:.1f}" y="{}" width="{:.1f}" height="8" fill="#3a3" )"
                       R"(fill-opacity="0.5"/>)",
                       x(begin), y + 18, std::max(1.0, x(seconds_of(request.finished)) - x(begin)));
  }
  // Queue depth per model: a step line from each request's arrival to its service, scaled to the
  // deepest queue of the run.
  std::vector<std::vector<std::pair<double, int>>> changes(models.size());
  for (const auto& request : run.requests) {
    changes[request.model].emplace_back(seconds_of(request.arrival), +1);
    changes[request.model].emplace_back(
      seconds_of(request.served ? request.started : request.finished), -1);
  }
  int deepest = 1;
  for (auto& model : changes) {
    std::sort(model.begin(), model.end());
    int depth = 0;
    for (const auto& change : model) {
      deepest = std::max(deepest, depth += change.second);
    }
  }
  for (std::size_t m = 0; m < models.size(); ++m) {
    double base = 40 + lane * static_cast<double>(m) + 30;
    std::string points = fmt::format("{:.1f},{:.1f}", x(0), base);
    int depth = 0;
    for (const auto& [at, step] : changes[m]) {
      double y_before = base - 26.0 * depth / deepest;
      depth += step;
      double y_after = base - 26.0 * depth / deepest;
      points += fmt::format(" {:.1f},{:.1f} {:.1f},{:.1f}", x(at), y_before, x(at), y_after);
    }
    out += fmt::format(R"(<polyline points="{}" fill="none" stroke="#36c" stroke-width="1"/>)",
                       points);
  }
  out += fmt::format(R"(<text x="{}" y="{}">grey start · orange sleep · red wake · green )"
                     R"(requests in service · blue queue depth (max {}) · {:.0f} s in all</text>)"
                     R"(</svg>)",
                     left, height - 12, deepest, end);
  return out;
}

} // namespace llmux::tools::sim
