#include "checkpoint/manifest.hpp"

#include <simdjson.h>

#include <fmt/format.h>

#include "config/json_writer.hpp"

namespace llmux::checkpoint {

namespace {

using result = config::parsed<checkpoint_manifest>;

// A name the download may create: no separators, no `.` or `..`, not empty.
bool plain_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos
         && name.find('\0') == std::string_view::npos;
}

bool hex_sha256(std::string_view text) {
  return text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

} // namespace

std::string write_manifest(const checkpoint_manifest& manifest) {
  config::json_writer out(config::json_writer::layout::compact);
  out.begin_object();
  out.key("generation");
  out.string(manifest.generation);
  out.key("files");
  out.begin_array();
  for (const auto& file : manifest.files) {
    out.begin_object();
    out.key("name");
    out.string(file.name);
    out.key("size");
    out.integer(file.size);
    out.key("sha256");
    out.string(file.sha256);
    out.end_object();
  }
  out.end_array();
  out.end_object();
  return out.str();
}

result read_manifest(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (parser.parse(padded).get(root)) {
    return result::failure("the checkpoint manifest is not valid JSON");
  }
  std::string_view generation;
  if (root["generation"].get_string().get(generation) || !plain_file_name(generation)) {
    return result::failure("the checkpoint manifest names no plain \"generation\"");
  }
  simdjson::dom::array files;
  if (root["files"].get_array().get(files)) {
    return result::failure("the checkpoint manifest has no \"files\" array");
  }
  checkpoint_manifest manifest{std::string(generation), {}};
  auto& entries = manifest.files;
  for (simdjson::dom::element file : files) {
    std::string_view name;
    std::uint64_t size = 0;
    std::string_view sha256;
    if (file["name"].get_string().get(name) || file["size"].get_uint64().get(size)
        || file["sha256"].get_string().get(sha256)) {
      return result::failure("a file of the checkpoint manifest lacks its name, size or sha256");
    }
    if (!plain_file_name(name)) {
      return result::failure(
        fmt::format("the checkpoint manifest names \"{}\", which is not a plain file name", name));
    }
    if (!hex_sha256(sha256)) {
      return result::failure(
        fmt::format("the checkpoint manifest's sha256 of {} is not 64 hex digits", name));
    }
    entries.push_back({std::string(name), size, std::string(sha256)});
  }
  if (entries.empty()) {
    return result::failure("the checkpoint manifest lists no files");
  }
  return manifest;
}

} // namespace llmux::checkpoint
