#include "actors/lifecycle.hpp"

namespace llmux::actors {

std::optional<lifecycle> next_state(lifecycle state, lifecycle_event event) {
  using s = lifecycle;
  using e = lifecycle_event;
  if (event == e::engine_died) {
    return state == s::stopped ? std::nullopt : std::optional{s::stopped};
  }
  switch (state) {
    case s::stopped:
      if (event == e::activate) {
        return s::starting;
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
      if (event == e::stopped) {
        return s::stopped;
      }
      break;
    case s::sleeping:
      if (event == e::activate) {
        return s::waking;
      }
      if (event == e::stopped) {
        return s::stopped;
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
