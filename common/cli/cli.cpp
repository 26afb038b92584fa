#include "common/cli/cli.h"

#include <yaml-cpp/yaml.h>

#include "common/base/files.h"

namespace vmesh::cli {

void AddCommonOptions(po::options_description& options) {
  options.add_options()                                                                                  //
      ("config", po::value<std::string>(), "YAML file with the same settings as the flags (flags win)")  //
      ("log-level", po::value<std::string>()->default_value("info"),
       "trace, debug, info, warn, error, critical or off")  //
      ("log-format", po::value<std::string>()->default_value("text"), "text or json");
}

Result<std::vector<std::string>> ConfigFileArguments(const std::string& path, const po::options_description& options) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.error().Wrap("--config");
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return MakeError(path + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  std::vector<std::string> args;
  if (root.IsNull()) return args;
  if (!root.IsMap()) return MakeError(path + ": expected a map of settings (flag name: value)");
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string where = path + ":" + std::to_string(it->first.Mark().line + 1);
    const std::string key = it->first.Scalar();
    if (key == "config") return MakeError(where + ": a config file cannot name another config file");
    if (options.find_nothrow(key, /*approx=*/false) == nullptr) {
      return MakeError(where + ": unknown setting \"" + key + "\" (settings are the long flag names, see --help)");
    }
    const YAML::Node value = it->second;  // a copy: `it->` returns a temporary proxy
    if (value.IsSequence()) {
      for (const auto& item : value) {
        if (!item.IsScalar()) return MakeError(where + ": " + key + ": expected a list of plain values");
        args.push_back("--" + key + "=" + item.Scalar());
      }
    } else if (value.IsScalar()) {
      args.push_back("--" + key + "=" + value.Scalar());
    } else if (value.IsNull()) {
      continue;
    } else {
      return MakeError(where + ": " + key + ": expected a value or a list of values");
    }
  }
  return args;
}

Result<po::variables_map> Parse(const std::vector<std::string>& args, const po::options_description& options) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(options).run(), vm);
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      auto file_args = ConfigFileArguments(path, options);
      if (!file_args.ok()) return file_args.error();
      try {
        po::store(po::command_line_parser(*file_args).options(options).run(), vm);
      } catch (const po::error& e) {
        return MakeError(path + ": " + e.what());
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return MakeError(e.what());
  }
  return vm;
}

}  // namespace vmesh::cli
