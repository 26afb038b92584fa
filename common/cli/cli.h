// Command-line and config-file handling shared by the programs (SPEC §2: every program prints --help,
// accepts a YAML config file for the same settings, and exits non-zero with a one-line reason on bad flags).
//
// A config file is a YAML map whose keys are the long flag names without "--" (data-dir: /var/lib/vmesh);
// lists give repeated flags (advertise-host: [a, b]). Flags on the command line win over the file; for
// repeatable flags the values of both are combined.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "common/base/result.h"

namespace vmesh::cli {

namespace po = boost::program_options;

// --config, --log-level, --log-format.
void AddCommonOptions(po::options_description& options);

// Parses `args` (without the program name and sub-command), then the --config file if one is named.
// Errors name the flag or the file, line and key.
Result<po::variables_map> Parse(const std::vector<std::string>& args, const po::options_description& options);

// Turns a config file's YAML into "--key=value" arguments (exposed for tests).
Result<std::vector<std::string>> ConfigFileArguments(const std::string& path, const po::options_description& options);

}  // namespace vmesh::cli
