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

std::vector<std::string_view> flag_values(const std::vector<std::string>& args,
                                          std::string_view flag, std::string_view short_flag) {
  std::vector<std::string_view> values;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if ((arg == flag || (!short_flag.empty() && arg == short_flag)) && i + 1 < args.size()) {
      values.push_back(args[i + 1]);
    } else if (arg.starts_with(flag) && arg.size() > flag.size() && arg[flag.size()] == '=') {
      values.push_back(arg.substr(flag.size() + 1));
    }
  }
  return values;
}

std::uint64_t tensor_parallel_size(const model_config& model) {
  for (auto value : flag_values(model.extra_args, "--tensor-parallel-size", "-tp")) {
    if (auto size = parse_unsigned(value)) {
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
