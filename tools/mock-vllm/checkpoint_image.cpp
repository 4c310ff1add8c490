#include "tools/mock-vllm/checkpoint_image.hpp"

#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>

#include "config/json_writer.hpp"

namespace llmux::tools::mock_vllm {

namespace {

namespace fs = std::filesystem;

constexpr const char* pages_file = "pages-1.img";

std::string state_json(const checkpoint_image& image) {
  config::json_writer out;
  out.begin_object();
  out.key("executable");
  out.string(image.executable);
  out.key("arguments");
  out.begin_array();
  for (const auto& argument : image.arguments) {
    out.string(argument);
  }
  out.end_array();
  out.key("environment");
  out.begin_array();
  for (const auto& variable : image.environment) {
    out.string(variable);
  }
  out.end_array();
  out.key("port");
  out.integer(image.port);
  out.key("image_bytes");
  out.integer(image.image_bytes);
  out.key("restore_ms");
  out.real(image.restore_ms);
  out.key("sleeping_tags");
  out.begin_array();
  for (const auto& tag : image.snapshot.sleeping_tags) {
    out.string(tag);
  }
  out.end_array();
  out.key("sleep_level");
  out.integer(static_cast<std::uint64_t>(image.snapshot.sleep_level));
  out.key("weights_offloaded");
  out.boolean(image.snapshot.weights_offloaded);
  out.key("weights_valid");
  out.boolean(image.snapshot.weights_valid);
  out.key("nccl_suspended");
  out.boolean(image.snapshot.nccl_suspended);
  out.end_object();
  return out.str() + "\n";
}

// Pseudo-random bytes (xorshift), so the images do not compress to nothing on their way to S3.
void write_pages(std::ofstream& file, std::uint64_t bytes) {
  std::array<std::uint64_t, 8192> block{};
  std::uint64_t state = 0x2545F4914F6CDD1Dull;
  while (bytes > 0) {
    for (auto& word : block) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      word = state;
    }
    auto chunk = std::min<std::uint64_t>(bytes, sizeof block);
    file.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(chunk));
    bytes -= chunk;
  }
}

void read_strings(const simdjson::dom::array& array, std::vector<std::string>& out) {
  for (auto item : array) {
    std::string_view text;
    if (!item.get_string().get(text)) {
      out.emplace_back(text);
    }
  }
}

} // namespace

std::string write_checkpoint(const std::string& dir, const checkpoint_image& image) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return fmt::format("cannot create {}: {}", dir, ec.message());
  }
  std::ofstream pages(fs::path(dir) / pages_file, std::ios::binary | std::ios::trunc);
  write_pages(pages, image.image_bytes);
  std::ofstream inventory(fs::path(dir) / "inventory.img", std::ios::trunc);
  inventory << "mock-vllm checkpoint image\n";
  std::ofstream state(fs::path(dir) / checkpoint_state_file, std::ios::trunc);
  state << state_json(image);
  if (!pages || !inventory || !state) {
    return fmt::format("cannot write the images into {}", dir);
  }
  return {};
}

config::parsed<checkpoint_image> read_checkpoint(const std::string& dir) {
  using result = config::parsed<checkpoint_image>;
  std::ifstream file(fs::path(dir) / checkpoint_state_file);
  if (!file) {
    return result::failure(
      fmt::format("no checkpoint in {} (missing {})", dir, checkpoint_state_file));
  }
  std::stringstream text;
  text << file.rdbuf();
  auto content = text.str();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(content).get(root)) {
    return result::failure(fmt::format("{}/{} is corrupt", dir, checkpoint_state_file));
  }
  checkpoint_image image;
  std::string_view executable;
  std::uint64_t port = 0;
  std::uint64_t level = 0;
  simdjson::dom::array arguments;
  simdjson::dom::array tags;
  simdjson::dom::array environment;
  if (root["executable"].get_string().get(executable) || root["port"].get_uint64().get(port)
      || root["arguments"].get_array().get(arguments) || root["sleeping_tags"].get_array().get(tags)
      || root["environment"].get_array().get(environment)
      || root["image_bytes"].get_uint64().get(image.image_bytes)
      || root["restore_ms"].get_double().get(image.restore_ms)
      || root["sleep_level"].get_uint64().get(level)
      || root["weights_offloaded"].get_bool().get(image.snapshot.weights_offloaded)
      || root["weights_valid"].get_bool().get(image.snapshot.weights_valid)
      || root["nccl_suspended"].get_bool().get(image.snapshot.nccl_suspended)) {
    return result::failure(fmt::format("{}/{} is incomplete", dir, checkpoint_state_file));
  }
  image.executable = executable;
  image.port = static_cast<std::uint16_t>(port);
  image.snapshot.sleep_level = static_cast<int>(level);
  read_strings(arguments, image.arguments);
  read_strings(environment, image.environment);
  read_strings(tags, image.snapshot.sleeping_tags);
  std::error_code ec;
  auto size = fs::file_size(fs::path(dir) / pages_file, ec);
  if (ec || size != image.image_bytes) {
    return result::failure(fmt::format("{}/{} is missing or truncated", dir, pages_file));
  }
  return image;
}

} // namespace llmux::tools::mock_vllm
