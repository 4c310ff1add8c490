#include "config/config.hpp"

#include "config/parsed.hpp"

namespace llmux::config {

const model_config* config::find_model(std::string_view name) const {
  for (const auto& model : models) {
    if (model.name == name) {
      return &model;
    }
  }
  return nullptr;
}

std::uint64_t tensor_parallel_size(const model_config& model) {
  constexpr std::string_view long_flag = "--tensor-parallel-size";
  const auto& args = model.extra_args;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::optional<std::uint64_t> size;
    if ((arg == long_flag || arg == "-tp") && i + 1 < args.size()) {
      size = parse_unsigned(args[i + 1]);
    } else if (arg.starts_with(long_flag) && arg.size() > long_flag.size()
               && arg[long_flag.size()] == '=') {
      size = parse_unsigned(arg.substr(long_flag.size() + 1));
    }
    if (size) {
      return *size;
    }
  }
  return 1;
}

std::vector<std::string> engine_arguments(const model_config& model) {
  std::vector<std::string> args{
    "serve",     model.model_path,     "--port", std::to_string(model.port), "--host",
    "127.0.0.1", "--enable-sleep-mode"};
  args.insert(args.end(), model.extra_args.begin(), model.extra_args.end());
  return args;
}

} // namespace llmux::config
