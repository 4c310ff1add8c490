#include "actors/switch_plan.hpp"

namespace llmux::actors {

switch_step next_step(switch_phase done, const switch_facts& facts) {
  auto after_eviction = facts.has_target ? switch_step::activate : switch_step::finish;
  switch (done) {
    case switch_phase::cooldown:
      if (facts.has_outgoing && facts.drains_first && facts.outgoing_busy) {
        return switch_step::drain;
      }
      return facts.has_outgoing ? switch_step::evict : after_eviction;
    case switch_phase::drain:
      return facts.has_outgoing ? switch_step::evict : after_eviction;
    case switch_phase::evict:
      return after_eviction;
    case switch_phase::activate:
      return switch_step::finish;
  }
  return switch_step::finish;
}

switch_phase phase_of(switch_step step) {
  switch (step) {
    case switch_step::drain:
      return switch_phase::drain;
    case switch_step::evict:
      return switch_phase::evict;
    case switch_step::activate:
    case switch_step::finish:
      return switch_phase::activate;
  }
  return switch_phase::activate;
}

std::string_view to_string(switch_phase phase) {
  switch (phase) {
    case switch_phase::cooldown:
      return "cooldown";
    case switch_phase::drain:
      return "drain";
    case switch_phase::evict:
      return "evict";
    case switch_phase::activate:
      return "activate";
  }
  return "unknown";
}

} // namespace llmux::actors
