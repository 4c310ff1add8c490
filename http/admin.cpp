#include "http/admin.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include "config/json_writer.hpp"
#include "http/access.hpp"
#include "http/status_json.hpp"
#include "http/status_page.hpp"

namespace llmux::http {

namespace {

using actors::control_action;
using actors::control_error;
using config::json_writer;

std::string one_field(std::string_view key, std::string_view text) {
  json_writer out(json_writer::layout::compact);
  out.begin_object();
  out.key(key);
  out.string(text);
  out.end_object();
  return out.str();
}

local_response message(std::string_view text) {
  return answer(200, one_field("message", text));
}

local_response error(int status, std::string_view text) {
  return answer(status, one_field("error", text));
}

/// `EvictionPolicy { weights: Offload, process: KeepRunning }`, as the reference prints it.
std::string eviction_debug(const config::eviction_policy& eviction) {
  auto both = config::display_name(eviction);
  auto plus = both.find('+');
  return fmt::format("EvictionPolicy {{ weights: {}, process: {} }}", both.substr(0, plus),
                     both.substr(plus + 1));
}

std::string process_state(const actors::model_snapshot& model) {
  using actors::lifecycle;
  switch (model.state) {
    case lifecycle::starting:
    case lifecycle::waking:
      return "starting";
    case lifecycle::active:
    case lifecycle::evicting:
      return "running";
    case lifecycle::sleeping: {
      auto eviction = config::parse_eviction_spec(model.evicted_with);
      return "sleeping:" + (eviction ? config::display_name(*eviction) : model.evicted_with);
    }
    case lifecycle::stopped:
      break;
  }
  if (model.retry_in_secs > 0) {
    return "failed:" + model.last_failure;
  }
  return "not_started";
}

std::string switch_state(const actors::scheduler_snapshot& snapshot) {
  if (snapshot.switching.running) {
    auto end = [](const std::string& name) { return name.empty() ? std::string{"none"} : name; };
    return fmt::format("switching:{}->{}", end(snapshot.switching.from),
                       end(snapshot.switching.to));
  }
  return snapshot.active.empty() ? "idle" : "active:" + snapshot.active;
}

// `"models": {name: {...what `write` adds..., "process_state": P}}`.
template <class Write>
void write_models(json_writer& out, const actors::scheduler_snapshot& snapshot, Write write) {
  out.key("models");
  out.begin_object();
  for (const auto& model : snapshot.models) {
    out.key(model.name);
    out.begin_object();
    write(model);
    out.key("process_state");
    out.string(process_state(model));
    out.end_object();
  }
  out.end_object();
}

// The reference answers with axum's JSON extractor: its rejections are plain text.
local_response rejection(int status, std::string_view text) {
  return answer(status, std::string(text), "text/plain; charset=utf-8");
}

local_response unprocessable(std::string_view what) {
  return rejection(
    422, fmt::format("Failed to deserialize the JSON body into the target type: {}", what));
}

// A string member of `object`, or the 422 that refuses it.
std::optional<std::string> string_member(simdjson::dom::object object, std::string_view key,
                                         local_response& refusal) {
  auto value = object[key];
  if (value.error() == simdjson::NO_SUCH_FIELD) {
    refusal = unprocessable(fmt::format("missing field `{}`", key));
    return std::nullopt;
  }
  std::string_view text;
  if (value.get(text)) {
    refusal = unprocessable(fmt::format("{}: invalid type, expected a string", key));
    return std::nullopt;
  }
  return std::string(text);
}

std::optional<config::eviction_policy> eviction_member(simdjson::dom::element value,
                                                       local_response& refusal) {
  simdjson::dom::object object;
  if (value.get(object)) {
    refusal = unprocessable("eviction: invalid type, expected an object");
    return std::nullopt;
  }
  auto weights = string_member(object, "weights", refusal);
  auto process = weights ? string_member(object, "process", refusal) : std::nullopt;
  if (!weights || !process) {
    return std::nullopt;
  }
  auto parsed_weights = config::parse_weight_strategy(*weights);
  auto parsed_process = config::parse_process_strategy(*process);
  if (!parsed_weights) {
    refusal = unprocessable(fmt::format(
      "eviction.weights: unknown variant `{}`, expected one of `retain`, `offload`, `discard`",
      *weights));
    return std::nullopt;
  }
  if (!parsed_process) {
    refusal = unprocessable(
      fmt::format("eviction.process: unknown variant `{}`, expected one of `keep_running`, "
                  "`cuda_suspend`, `checkpoint`, `stop`",
                  *process));
    return std::nullopt;
  }
  return config::eviction_policy{*parsed_weights, *parsed_process};
}

std::optional<control_action> action_named(std::string_view name) {
  if (name == "mode") {
    return control_action::set_mode;
  }
  if (name == "pin") {
    return control_action::pin;
  }
  if (name == "unpin") {
    return control_action::unpin;
  }
  if (name == "switch") {
    return control_action::switch_to;
  }
  if (name == "eviction") {
    return control_action::set_eviction;
  }
  if (name == "sleep") {
    return control_action::sleep;
  }
  if (name == "wake") {
    return control_action::wake;
  }
  return std::nullopt;
}

// The answer to a finished control request, in the reference's words.
local_response reply_to(const actors::control_request& request,
                        const actors::control_result& result) {
  const auto& model = request.model;
  switch (result.error) {
    case control_error::none:
      break;
    case control_error::unknown_model:
      return error(404, fmt::format("Model not found: {}", model));
    case control_error::shutting_down:
    case control_error::scheduler_gone:
      return error(503, result.detail);
    case control_error::failed:
      switch (request.action) {
        case control_action::pin:
          return error(500, fmt::format("Failed to switch to pinned model: {}", result.detail));
        case control_action::sleep:
          return error(500, fmt::format("Failed to sleep model: {}", result.detail));
        case control_action::wake:
          return error(500, fmt::format("Failed to wake model: {}", result.detail));
        default:
          return error(500, fmt::format("Switch failed: {}", result.detail));
      }
  }
  switch (request.action) {
    case control_action::set_mode:
      return message(request.mode == actors::serving_mode::manual ? "Switched to manual mode"
                                                                  : "Switched to auto mode");
    case control_action::pin:
      return message(fmt::format("Pinned to model: {}", model));
    case control_action::unpin:
      return message("Unpinned. Switched to auto mode.");
    case control_action::switch_to:
      return message(fmt::format("Switched to model: {}", model));
    case control_action::set_eviction:
      return message(
        fmt::format("Eviction policy for {} set to {}", model, eviction_debug(request.eviction)));
    case control_action::sleep: {
      auto used = config::parse_eviction_spec(result.detail);
      return message(fmt::format("Model {} sleeping with policy {}", model,
                                 used ? eviction_debug(*used) : result.detail));
    }
    case control_action::wake:
      return message(fmt::format("Model {} woken", model));
  }
  return error(500, "unknown action");
}

// Reads what the admin API answers from a snapshot.
using snapshot_view = std::string (*)(const actors::scheduler_snapshot&);

void answer_from_snapshot(actors::serving_backend& backend, snapshot_view view,
                          std::function<void(local_response)> respond) {
  backend.snapshot(
    [view, respond = std::move(respond)](std::optional<actors::scheduler_snapshot> snapshot) {
      respond(snapshot ? answer(200, view(*snapshot)) : error(503, "the scheduler did not answer"));
    });
}

// `/control/events`: the scheduler's snapshot as `/llmux/status` shows it, once a second.
local_response snapshot_events(actors::serving_backend& backend) {
  local_response stream;
  stream.content_type = "text/event-stream";
  stream.next_event = [&backend](std::function<void(std::string)> done) {
    backend.snapshot([done = std::move(done)](std::optional<actors::scheduler_snapshot> snapshot) {
      done(snapshot ? "data: " + status_json(*snapshot) + "\n\n" : std::string{});
    });
  };
  return stream;
}

} // namespace

std::string control_status_json(const actors::scheduler_snapshot& snapshot) {
  json_writer out(json_writer::layout::compact);
  out.begin_object();
  out.key("state");
  out.string(switch_state(snapshot));
  out.key("active_model");
  if (snapshot.active.empty()) {
    out.null();
  } else {
    out.string(snapshot.active);
  }
  out.key("mode");
  out.begin_object();
  out.key("mode");
  out.string(to_string(snapshot.mode));
  if (snapshot.mode == actors::serving_mode::manual && !snapshot.pinned.empty()) {
    out.key("pinned");
    out.string(snapshot.pinned);
  }
  out.end_object();
  write_models(out, snapshot, [&out](const actors::model_snapshot& model) {
    out.key("in_flight");
    out.integer(model.in_flight);
    out.key("queue_depth");
    out.integer(model.waiting);
  });
  write_nodes(out, snapshot.nodes);
  out.end_object();
  return out.str();
}

std::string control_eviction_json(const actors::scheduler_snapshot& snapshot) {
  json_writer out(json_writer::layout::compact);
  out.begin_object();
  write_models(out, snapshot, [&out](const actors::model_snapshot& model) {
    auto eviction = config::parse_eviction_spec(model.eviction);
    out.key("eviction");
    out.begin_object();
    out.key("weights");
    out.string(eviction ? config::to_string(eviction->weights) : "");
    out.key("process");
    out.string(eviction ? config::to_string(eviction->process) : "");
    out.end_object();
  });
  out.end_object();
  return out.str();
}

std::string control_history_json(const actors::scheduler_snapshot& snapshot) {
  json_writer out(json_writer::layout::compact);
  out.begin_object();
  out.key("switches");
  out.begin_array();
  for (const auto& record : snapshot.history) {
    write_switch_record(out, record);
  }
  out.end_array();
  out.end_object();
  return out.str();
}

admin_parse parse_admin_request(std::string_view action_name, std::string_view content_type,
                                std::string_view body) {
  admin_parse result;
  auto action = action_named(action_name);
  if (!action) {
    result.refusal = answer(404, "", "text/plain");
    return result;
  }
  actors::control_request request;
  request.action = *action;
  if (*action == control_action::unpin) {
    result.request = request; // its body is ignored
    return result;
  }
  auto media_type = content_type.substr(0, content_type.find(';'));
  if (media_type != "application/json") {
    result.refusal = rejection(415, "Expected request with `Content-Type: application/json`");
    return result;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto failed = parser.parse(body.data(), body.size()).get(root)) {
    result.refusal = rejection(400, fmt::format("Failed to parse the request body as JSON: {}",
                                                simdjson::error_message(failed)));
    return result;
  }
  simdjson::dom::object object;
  if (root.get(object)) {
    result.refusal = unprocessable("invalid type, expected an object");
    return result;
  }
  auto& refusal = result.refusal;
  if (*action == control_action::set_mode) {
    auto mode = string_member(object, "mode", refusal);
    if (!mode) {
      return result;
    }
    if (*mode != "auto" && *mode != "manual") {
      refusal = answer(
        400, one_field("message", fmt::format("Unknown mode: {}. Use 'auto' or 'manual'.", *mode)));
      return result;
    }
    request.mode
      = *mode == "manual" ? actors::serving_mode::manual : actors::serving_mode::automatic;
    result.request = request;
    return result;
  }
  auto model = string_member(object, "model", refusal);
  if (!model) {
    return result;
  }
  request.model = *model;
  auto eviction = object["eviction"];
  bool has_eviction = eviction.error() != simdjson::NO_SUCH_FIELD && !eviction.is_null();
  if (*action == control_action::set_eviction && !has_eviction) {
    refusal = unprocessable("missing field `eviction`");
    return result;
  }
  if (has_eviction
      && (*action == control_action::set_eviction || *action == control_action::sleep)) {
    auto parsed = eviction_member(eviction.value(), refusal);
    if (!parsed) {
      return result;
    }
    request.has_eviction = true;
    request.eviction = *parsed;
  }
  result.request = request;
  return result;
}

local_handler admin_endpoint(actors::serving_backend& backend, std::string token,
                             reload_handler reload) {
  return [&backend, token = std::move(token), reload = std::move(reload)](
           local_request request, std::function<void(local_response)> respond) {
    auto path = request.path();
    if (path == "/" && (request.method == "GET" || request.method == "HEAD")) {
      // The page holds no data: what it shows comes from /control/events, with the token.
      respond(answer(200, std::string(status_page_html()), "text/html; charset=utf-8"));
      return;
    }
    if (!path.starts_with("/control/")) {
      respond(answer(404, "", "text/plain"));
      return;
    }
    bool authorized
      = token.empty() || same_secret(access_keys::presented(request.authorization, {}), token);
    if (!authorized) {
      auto refused = error(401, "a valid admin token is required (Authorization: Bearer <token>)");
      refused.headers.emplace_back("WWW-Authenticate", "Bearer");
      respond(std::move(refused));
      return;
    }
    auto action = path.substr(std::string_view("/control/").size());
    if (action == "events" && request.method == "GET") {
      respond(snapshot_events(backend));
      return;
    }
    if (action == "reload") {
      if (request.method != "POST") {
        respond(answer(405, "", "text/plain"));
      } else {
        reload(std::move(respond));
      }
      return;
    }
    snapshot_view view = nullptr;
    if (action == "status") {
      view = control_status_json;
    } else if (action == "history") {
      view = control_history_json;
    } else if (action == "eviction" && request.method == "GET") {
      view = control_eviction_json;
    }
    if (view != nullptr) {
      if (request.method != "GET") {
        respond(answer(405, "", "text/plain"));
        return;
      }
      answer_from_snapshot(backend, view, std::move(respond));
      return;
    }
    if (!action_named(action)) {
      respond(answer(404, "", "text/plain"));
      return;
    }
    if (request.method != "POST") {
      respond(answer(405, "", "text/plain"));
      return;
    }
    auto parsed = parse_admin_request(action, request.content_type, request.body);
    if (!parsed.request) {
      respond(std::move(parsed.refusal));
      return;
    }
    backend.control(*parsed.request,
                    [control = *parsed.request, respond = std::move(respond)](
                      actors::control_result result) { respond(reply_to(control, result)); });
  };
}

} // namespace llmux::http
