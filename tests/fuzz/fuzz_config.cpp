// Fuzz target: configuration files. Whatever the text, reading it answers with findings and
// never crashes; a configuration read without errors prints to JSON that reads back the same.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/parse.hpp"
#include "config/print.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto read = llmux::config::parse_config(text);
  if (!read.ok()) {
    return 0;
  }
  auto printed = llmux::config::to_json(read.cfg);
  auto reread = llmux::config::parse_config(printed);
  if (!reread.ok()) {
    __builtin_trap();
  }
  return 0;
}
