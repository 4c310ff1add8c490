#include "actors/lifecycle.hpp"

namespace llmux::actors {

std::optional<lifecycle> next_state(lifecycle state, lifecycle_event event) {
  using s = lifecycle;
  using e = lifecycle_event;
  if (event == e::engine_died) {
    return state == s::stopped ? std::nullopt : std::optional{s::stopped};
  }
  // A stop on purpose (shutdown) ends every state with a process.
  if (event == e::stopped && state != s::stopped) {
    return s::stopped;
  }
  switch (state) {
    case s::stopped:
      if (event == e::activate) {
        return s::starting;
      }
      // The engine died while a start, wake or stop was under way: the step's own failure or
      // stop arrives after the death already stopped the model.
      if (event == e::start_failed || event == e::wake_failed || event == e::stopped) {
        return s::stopped;
      }
      break;
    case s::starting:
      if (event == e::started) {
        return s::active;
      }
      if (event == e::start_failed) {
        return s::stopped;
      }
      break;
    case s::active:
      if (event == e::evict) {
        return s::evicting;
      }
      break;
    case s::evicting:
      if (event == e::slept) {
        return s::sleeping;
      }
      break;
    case s::sleeping:
      if (event == e::activate) {
        return s::waking;
      }
      break;
    case s::waking:
      if (event == e::woken) {
        return s::active;
      }
      if (event == e::wake_failed) {
        return s::stopped;
      }
      break;
  }
  return std::nullopt;
}

std::string_view to_string(lifecycle_event event) {
  switch (event) {
    case lifecycle_event::activate:
      return "activate";
    case lifecycle_event::started:
      return "started";
    case lifecycle_event::start_failed:
      return "start_failed";
    case lifecycle_event::evict:
      return "evict";
    case lifecycle_event::slept:
      return "slept";
    case lifecycle_event::stopped:
      return "stopped";
    case lifecycle_event::woken:
      return "woken";
    case lifecycle_event::wake_failed:
      return "wake_failed";
    case lifecycle_event::engine_died:
      return "engine_died";
  }
  return "unknown";
}

std::string_view to_string(lifecycle state) {
  switch (state) {
    case lifecycle::stopped:
      return "stopped";
    case lifecycle::starting:
      return "starting";
    case lifecycle::active:
      return "active";
    case lifecycle::evicting:
      return "evicting";
    case lifecycle::sleeping:
      return "sleeping";
    case lifecycle::waking:
      return "waking";
  }
  return "unknown";
}

} // namespace llmux::actors
