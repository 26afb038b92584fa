// vmeshctl's command line (SPEC §2): argument parsing, per-command help, and running a command against the hub's
// API. Exit codes: 0 success, 1 failure (the hub refused, a check found problems, the hub is unreachable),
// 2 usage error (bad flags, unknown command, missing credential).
//
// Flags may appear anywhere among the words (kubectl style): `vmeshctl -o json get meshes` and
// `vmeshctl get meshes -o json` are the same. "--" ends the flags.
#pragma once

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "hub/cli/printers.h"
#include "vmesh/api/v1/discovery.pb.h"
#include "vmesh/api/v1/secret.pb.h"
#include "vmesh/api/v1/virtual_mesh.pb.h"

namespace vmesh::cli {

class HubClient;

enum class OutputFormat { kTable, kYaml, kJson };

struct Invocation {
  std::vector<std::string> words;  // command words and arguments, in order
  std::string config;              // --config (else $VMESHCONFIG)
  OutputFormat output = OutputFormat::kTable;
  std::string log_level = "warn";
  std::string log_format = "text";
  std::string file;                // -f/--filename ("-" is stdin)
  std::optional<std::string> ttl;  // --ttl
  std::string out;                 // --out
  std::string ns;                  // -n/--namespace ("" = the hub namespace, vmesh)
  std::string root_cert;           // --root-cert FILE (create root-secret)
  std::string key;                 // --key FILE (create root-secret)
  std::string cert_chain;          // --cert-chain FILE (create root-secret)
  bool abort = false;              // --abort (rotate root)
  bool help = false;
  bool version = false;
  // Command-specific flags given (long names), so a command can refuse flags it does not take.
  std::vector<std::string> command_flags;
};

// Parses the arguments after the program name. Errors are usage errors naming the flag.
Result<Invocation> ParseArguments(const std::vector<std::string>& args);

struct CommandSpec {
  std::vector<std::string> path;   // {"cluster", "register"}
  std::string usage;               // "cluster register NAME [--ttl 1h] [--out FILE]"
  std::string summary;             // one line
  std::string details;             // what it does, outputs, exit codes
  std::vector<std::string> flags;  // command-specific flags it accepts (long names)
  int min_args = 0;
  int max_args = 0;
};

const std::vector<CommandSpec>& Commands();

// The command named by the leading words; `args` receives the remaining words. Usage errors: unknown command,
// wrong number of arguments, a flag the command does not take.
Result<const CommandSpec*> ResolveCommand(const Invocation& invocation, std::vector<std::string>* args);

// `vmeshctl --help`; help of one command; help of a group ("cluster", "mesh"), or nullopt for an unknown word.
std::string MainHelp();
std::string CommandHelp(const CommandSpec& command);
std::optional<std::string> GroupHelp(const std::string& group);

// "vm", "VirtualMesh", "virtualmeshes" -> "virtualmeshes" (the API's plural); error listing the known kinds.
Result<std::string> NormalizeKind(const std::string& kind);

// The Secret `create root-secret` applies: type vmesh.dev/root-ca, data root-cert.pem, key.pem and (when not
// empty) cert-chain.pem; `ns` empty leaves the namespace to the hub (its namespace, vmesh). Validation is the
// hub's (errors name data[key.pem] etc.).
api::v1::Secret RootSecret(const std::string& name, const std::string& ns, const std::string& root_cert_pem,
                           const std::string& key_pem, const std::string& cert_chain_pem);

// What `check` finds wrong (one line each, nothing when all is well): clusters not CONNECTED, VirtualMeshes not
// ACCEPTED or with a stale observedGeneration, latest certificates per mesh expiring within `horizon`.
std::vector<std::string> CheckProblems(const std::vector<api::v1::Cluster>& clusters,
                                       const std::vector<api::v1::VirtualMesh>& virtual_meshes,
                                       const std::vector<IssuedCertificate>& certificates, TimePoint now,
                                       std::chrono::hours horizon = std::chrono::hours(24 * 7));

// Runs a parsed invocation (everything main does after parsing). `version` is what --version prints.
int Run(const Invocation& invocation, const std::string& version, std::ostream& out, std::ostream& err);

}  // namespace vmesh::cli
