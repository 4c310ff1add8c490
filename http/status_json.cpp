#include "http/status_json.hpp"

#include "config/json_writer.hpp"

namespace llmux::http {

namespace {

using config::json_writer;

void string_or_null(json_writer& out, const std::string& text) {
  if (text.empty()) {
    out.null();
  } else {
    out.string(text);
  }
}

// 0 stands for "none".
void count_or_null(json_writer& out, std::uint64_t count) {
  if (count == 0) {
    out.null();
  } else {
    out.integer(count);
  }
}

void seconds(json_writer& out, std::uint64_t milliseconds) {
  out.real(static_cast<double>(milliseconds) / 1000.0);
}

void write_model(json_writer& out, const actors::model_snapshot& model) {
  out.begin_object();
  out.key("state");
  out.string(to_string(model.state));
  out.key("started_once");
  out.boolean(model.started_once);
  out.key("eviction");
  out.string(model.eviction);
  out.key("evicted_with");
  string_or_null(out, model.evicted_with);
  out.key("waiting");
  out.integer(model.waiting);
  out.key("in_flight");
  out.integer(model.in_flight);
  out.key("failures");
  out.integer(model.failures);
  out.key("retry_in_secs");
  count_or_null(out, model.retry_in_secs);
  out.key("last_failure");
  string_or_null(out, model.last_failure);
  out.key("failures_total");
  out.integer(model.failures_total);
  out.key("engine_starts");
  out.integer(model.engine_starts);
  out.key("leases_cut");
  out.integer(model.leases_cut);
  out.key("fallbacks_total");
  out.integer(model.fallbacks_total);
  out.key("last_fallback");
  string_or_null(out, model.last_fallback);
  out.key("idle_ttl_secs");
  count_or_null(out, model.idle_ttl_secs);
  out.key("idle_evictions");
  out.integer(model.idle_evictions);
  out.key("awake");
  out.boolean(model.awake);
  out.key("gpu_memory_mib");
  out.integer(model.gpu_memory_mib);
  out.key("gpu_memory_measured");
  out.boolean(model.gpu_memory_measured);
  out.end_object();
}

void strings(json_writer& out, const std::vector<std::string>& items) {
  out.begin_array();
  for (const auto& item : items) {
    out.string(item);
  }
  out.end_array();
}

void write_node(json_writer& out, const actors::node_snapshot& node) {
  out.begin_object();
  out.key("state");
  out.string(node.state);
  out.key("in_rotation");
  out.boolean(node.in_rotation);
  out.key("address");
  out.string(node.address);
  out.key("proxy");
  string_or_null(out, node.proxy);
  out.key("last_heard_secs");
  if (node.joins == 0) {
    out.null();
  } else {
    seconds(out, node.last_heard_ms);
  }
  out.key("joins");
  out.integer(node.joins);
  out.key("last_error");
  string_or_null(out, node.last_error);
  out.key("models");
  strings(out, node.models);
  out.key("awake");
  strings(out, node.awake);
  out.key("waiting");
  out.integer(node.waiting);
  out.key("in_flight");
  out.integer(node.in_flight);
  out.key("routed");
  out.integer(node.routed);
  out.key("outstanding");
  out.integer(node.outstanding);
  out.end_object();
}

} // namespace

void write_switch_record(json_writer& out, const actors::switch_record& record) {
  out.begin_object();
  out.key("from");
  string_or_null(out, record.from);
  out.key("to");
  string_or_null(out, record.to);
  out.key("ok");
  out.boolean(record.ok);
  out.key("error");
  string_or_null(out, record.error);
  out.key("began_unix_ms");
  out.integer(static_cast<std::uint64_t>(std::max<std::int64_t>(record.began_unix_ms, 0)));
  out.key("phases_ms");
  out.begin_object();
  out.key("cooldown");
  out.integer(record.cooldown_ms);
  out.key("drain");
  out.integer(record.drain_ms);
  out.key("evict");
  out.integer(record.evict_ms);
  out.key("activate");
  out.integer(record.activate_ms);
  out.end_object();
  out.key("total_ms");
  out.integer(record.total_ms);
  out.end_object();
}

std::string status_json(const actors::scheduler_snapshot& snapshot) {
  json_writer out(json_writer::layout::compact);
  out.begin_object();
  out.key("active");
  string_or_null(out, snapshot.active);
  out.key("awake");
  strings(out, snapshot.awake);
  out.key("gpu_memory_budget_mib");
  count_or_null(out, snapshot.gpu_memory_budget_mib);
  out.key("gpu_memory_held_mib");
  out.integer(snapshot.gpu_memory_held_mib);
  out.key("switching_to");
  string_or_null(out, snapshot.switching.running ? snapshot.switching.to : std::string{});
  out.key("switch");
  if (snapshot.switching.running) {
    out.begin_object();
    out.key("from");
    string_or_null(out, snapshot.switching.from);
    out.key("to");
    out.string(snapshot.switching.to);
    out.key("phase");
    out.string(to_string(snapshot.switching.phase));
    out.key("elapsed_ms");
    out.integer(snapshot.switching.elapsed_ms);
    out.end_object();
  } else {
    out.null();
  }
  out.key("mode");
  out.string(to_string(snapshot.mode));
  out.key("pinned");
  string_or_null(out, snapshot.pinned);
  out.key("switches");
  out.integer(snapshot.switches);
  out.key("switch_failures");
  out.integer(snapshot.switch_failures);
  out.key("serving_secs");
  seconds(out, snapshot.serving_ms);
  out.key("switching_secs");
  seconds(out, snapshot.switching_ms);
  out.key("models");
  out.begin_object();
  for (const auto& model : snapshot.models) {
    out.key(model.name);
    write_model(out, model);
  }
  out.end_object();
  out.key("history");
  out.begin_array();
  for (const auto& record : snapshot.history) {
    write_switch_record(out, record);
  }
  out.end_array();
  out.key("costs");
  out.begin_array();
  for (const auto& cost : snapshot.costs) {
    out.begin_object();
    out.key("from");
    out.string(cost.from);
    out.key("to");
    out.string(cost.to);
    out.key("estimate_ms");
    out.integer(cost.estimate_ms);
    out.end_object();
  }
  out.end_array();
  write_nodes(out, snapshot.nodes);
  out.end_object();
  return out.str();
}

void write_nodes(json_writer& out, const std::vector<actors::node_snapshot>& nodes) {
  if (nodes.empty()) {
    return;
  }
  out.key("nodes");
  out.begin_object();
  for (const auto& node : nodes) {
    out.key(node.name);
    write_node(out, node);
  }
  out.end_object();
}

} // namespace llmux::http
