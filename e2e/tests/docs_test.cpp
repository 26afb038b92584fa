// Keeps the documentation honest (issue 7): every example manifest decodes and validates with the hub's own
// manifest codec, the README's reference mentions every command and flag the binaries' --help lists, and the
// README starts with the two set-up commands of SPEC §1.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/api/manifest.h"
#include "common/base/test_paths.h"
#include "common/pki/pki_test_util.h"
#include "e2e/harness/fleet.h"

namespace vmesh {
namespace {

namespace fs = std::filesystem;
using ::testing::IsEmpty;

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path Source() { return fs::path(testpaths::SourceDir()); }
std::string Readme() { return ReadText(Source() / "README.md"); }

std::vector<fs::path> ExampleManifests() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(Source() / "examples")) {
    if (entry.path().extension() == ".yaml" || entry.path().extension() == ".yml") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The "---"-separated documents of a YAML stream, as text (comment-only documents included).
std::vector<std::string> SplitDocuments(const std::string& text) {
  std::vector<std::string> docs(1);
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("---", 0) == 0 && line.find_first_not_of("- \t\r", 3) == std::string::npos) {
      docs.emplace_back();
      continue;
    }
    docs.back() += line + "\n";
  }
  return docs;
}

std::string KindOf(const std::string& document) {
  YAML::Node node = YAML::Load(document);
  return node.IsMap() && node["kind"] ? node["kind"].as<std::string>() : "";
}

std::string Join(const std::vector<std::string>& docs) {
  std::string out;
  for (const auto& d : docs) out += (out.empty() ? "" : "---\n") + d;
  return out;
}

// A Secret document the codec rejected only because it does not know the kind (yet).
bool OnlyUnknownKindErrors(const std::vector<api::FieldError>& errors) {
  return std::all_of(errors.begin(), errors.end(), [](const api::FieldError& e) {
    return (e.path == "apiVersion" || e.path == "kind") && e.message.rfind("unsupported", 0) == 0;
  });
}

// The format of the hub's root Secret (SPEC §4): type vmesh.dev/root-ca, root-cert.pem + key.pem.
void ExpectRootSecretShape(const std::string& document, const std::string& where) {
  YAML::Node node = YAML::Load(document);
  EXPECT_EQ(node["apiVersion"].as<std::string>(""), "v1") << where;
  EXPECT_EQ(node["type"].as<std::string>(""), "vmesh.dev/root-ca") << where;
  ASSERT_TRUE(node["stringData"].IsMap()) << where;
  EXPECT_TRUE(node["stringData"]["root-cert.pem"].IsScalar()) << where;
  EXPECT_TRUE(node["stringData"]["key.pem"].IsScalar()) << where;
  EXPECT_TRUE(node["metadata"]["name"].IsScalar()) << where;
}

// The Secret document with its placeholder PEM ("...your root CA certificate...") replaced by a real root CA and
// key, so that the codec's root-CA checks run on the example's structure (keys, type, metadata).
std::string WithRealRoot(const std::string& document) {
  YAML::Node node = YAML::Load(document);
  YAML::Node data = node["stringData"];
  if (!data.IsMap()) return document;
  const auto now = std::chrono::system_clock::now();
  const pki::CaSigner root =
      pki::test::MakeRoot(pki::KeySpec::EcdsaP256(), now, std::chrono::days(365), "example root CA");
  auto placeholder = [&](const char* key) {
    return data[key] && data[key].as<std::string>().find("...") != std::string::npos;
  };
  if (placeholder("root-cert.pem")) data["root-cert.pem"] = root.certificate().ToPem();
  if (placeholder("key.pem")) data["key.pem"] = root.key().ToPem();
  if (placeholder("cert-chain.pem")) data.remove("cert-chain.pem");
  return YAML::Dump(node) + "\n";
}

TEST(DocsExamples, EveryExampleDecodesAndValidatesWithTheHubCodec) {
  const auto files = ExampleManifests();
  ASSERT_GE(files.size(), 7u) << "examples/ should hold virtualmesh.yaml plus one file per feature";
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const std::string text = ReadText(file);
    ASSERT_EQ(text.rfind("#", 0), 0u) << "each example starts with a comment explaining it";

    std::vector<std::string> docs = SplitDocuments(text);
    std::vector<std::string> others;
    int secrets = 0;
    for (auto& d : docs) {
      if (KindOf(d) != "Secret") {
        others.push_back(d);
        continue;
      }
      ++secrets;
      ExpectRootSecretShape(d, file.filename().string());
      d = WithRealRoot(d);
    }

    api::DecodeResult decoded = api::DecodeManifests(Join(docs));
    if (!decoded.ok() && secrets > 0 && OnlyUnknownKindErrors(decoded.errors)) {
      // This build's codec does not know Secret: the rest of the file must still be valid.
      decoded = api::DecodeManifests(Join(others));
    } else if (secrets > 0) {
      const auto with_kind =
          std::count_if(docs.begin(), docs.end(), [](const std::string& d) { return !KindOf(d).empty(); });
      EXPECT_EQ(decoded.objects.size(), static_cast<size_t>(with_kind)) << "every document, the Secret too, decodes";
    }
    EXPECT_TRUE(decoded.ok()) << api::JoinErrors(decoded.errors);
    EXPECT_FALSE(decoded.objects.empty()) << "no objects";
    for (const auto& o : decoded.objects) EXPECT_THAT(o.import_note, IsEmpty()) << "examples use the vmesh API";
  }
}

TEST(DocsExamples, TheExamplesReadmeListsEveryExample) {
  const std::string index = ReadText(Source() / "examples" / "README.md");
  for (const auto& file : ExampleManifests()) {
    EXPECT_NE(index.find(file.filename().string()), std::string::npos) << file.filename() << " is not listed";
  }
}

// The charts' plain YAML parses (templates are helm's: helm_test lints and renders them), and every document of
// the CRD files names its object.
TEST(DocsCharts, ManifestsParse) {
  int documents = 0;
  for (const auto& entry : fs::recursive_directory_iterator(Source() / "charts")) {
    const fs::path& path = entry.path();
    if (path.extension() != ".yaml" || path.string().find("/templates/") != std::string::npos) continue;
    SCOPED_TRACE(path.string());
    std::vector<YAML::Node> docs;
    ASSERT_NO_THROW(docs = YAML::LoadAll(ReadText(path)));
    if (path.parent_path().filename() != "crds") continue;
    for (const auto& d : docs) {
      if (d.IsNull()) continue;
      ++documents;
      EXPECT_TRUE(d["apiVersion"].IsScalar() && d["kind"].IsScalar() && d["metadata"]["name"].IsScalar())
          << YAML::Dump(d);
    }
  }
  EXPECT_GE(documents, 4) << "charts/vmesh-hub/crds: VirtualMesh, AccessPolicy, Cluster, IssuedCertificate";
}

TEST(DocsReadme, StartsWithTheTwoSetUpCommands) {
  const std::string readme = Readme();
  // The first code block of the README holds exactly ./scripts/demo and ./scripts/test, in that order.
  const size_t open = readme.find("```");
  ASSERT_NE(open, std::string::npos);
  const size_t body = readme.find('\n', open) + 1;
  const size_t close = readme.find("```", body);
  ASSERT_NE(close, std::string::npos);
  // Nothing but a title and prose before it: no other command is shown first.
  EXPECT_EQ(readme.substr(0, open).find("./"), std::string::npos);
  std::vector<std::string> commands;
  std::istringstream in(readme.substr(body, close - body));
  for (std::string line; std::getline(in, line);) {
    const size_t hash = line.find('#');
    std::string command = line.substr(0, hash);
    command.erase(command.find_last_not_of(" \t") + 1);
    if (!command.empty()) commands.push_back(command);
  }
  EXPECT_THAT(commands, ::testing::ElementsAre("./scripts/demo", "./scripts/test"));
}

// Runs a binary's --help and returns its output (it must exit 0).
std::string Help(const std::vector<std::string>& argv) {
  auto out = kubesim::RunProcess(argv, std::chrono::seconds(30));
  EXPECT_EQ(out.exit_code, 0) << argv[0] << " " << argv.back() << ": " << out.output;
  return out.output;
}

// Every --long-flag in a help text.
std::set<std::string> Flags(const std::string& help) {
  std::set<std::string> out;
  static const std::regex flag(R"((^|[\s\[\(|,])(--[a-z][a-z0-9-]*))");
  for (auto it = std::sregex_iterator(help.begin(), help.end(), flag); it != std::sregex_iterator(); ++it) {
    out.insert((*it)[2]);
  }
  return out;
}

// Every -x short flag in a help text ("-o, --output", "[-n NAMESPACE]").
std::set<std::string> ShortFlags(const std::string& help) {
  std::set<std::string> out;
  static const std::regex flag(R"((^|[\s\[|])(-[a-zA-Z])(?=[\s,]))");
  for (auto it = std::sregex_iterator(help.begin(), help.end(), flag); it != std::sregex_iterator(); ++it) {
    out.insert((*it)[2]);
  }
  return out;
}

bool MentionsShortFlag(const std::string& text, const std::string& flag) {
  const std::regex mention("(^|[\\s`\\[|(])" + flag + "([\\s,`\\]|)]|$)");
  return std::regex_search(text, mention);
}

// The commands of `vmeshctl --help`: the words before the first argument on each command line
// ("cluster register NAME ..." -> "cluster register", "delete -f FILE|- | delete KIND NAME" -> "delete").
std::vector<std::string> VmeshctlCommands(const std::string& help) {
  std::vector<std::string> out;
  std::istringstream in(help);
  bool in_commands = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "Commands:") {
      in_commands = true;
      continue;
    }
    if (!in_commands) continue;
    if (line.empty() || line[0] != ' ') break;
    if (line.rfind("    ", 0) == 0) continue;  // a description
    std::istringstream words(line);
    std::string command;
    for (std::string w; words >> w;) {
      if (!std::all_of(w.begin(), w.end(),
                       [](char c) { return std::islower(static_cast<unsigned char>(c)) || c == '-'; }) ||
          w[0] == '-') {
        break;
      }
      command += (command.empty() ? "" : " ") + w;
    }
    if (!command.empty()) out.push_back(command);
  }
  return out;
}

TEST(DocsReadme, DocumentsEveryVmeshctlCommandAndFlag) {
  const auto bin = e2e::Binaries::FromBuild();
  const std::string readme = Readme();
  const std::string help = Help({bin.vmeshctl, "--help"});
  const auto commands = VmeshctlCommands(help);
  ASSERT_GE(commands.size(), 10u) << help;
  std::set<std::string> flags = Flags(help);
  std::set<std::string> shorts = ShortFlags(help);
  for (const auto& command : commands) {
    EXPECT_NE(readme.find("vmeshctl " + command), std::string::npos)
        << "README.md does not document `vmeshctl " << command << "`";
    std::vector<std::string> argv = {bin.vmeshctl};
    std::istringstream words(command);
    for (std::string w; words >> w;) argv.push_back(w);
    argv.push_back("--help");
    const std::string command_help = Help(argv);
    for (const auto& f : Flags(command_help)) flags.insert(f);
    for (const auto& f : ShortFlags(command_help)) shorts.insert(f);
  }
  EXPECT_TRUE(flags.count("--ttl") && flags.count("--out")) << "the per-command help was not read";
  for (const auto& flag : flags) {
    EXPECT_NE(readme.find(flag), std::string::npos) << "README.md does not document vmeshctl " << flag;
  }
  EXPECT_TRUE(shorts.count("-o") && shorts.count("-f") && shorts.count("-n")) << "short flags not found";
  for (const auto& flag : shorts) {
    EXPECT_TRUE(MentionsShortFlag(readme, flag)) << "README.md does not document vmeshctl " << flag;
  }
  EXPECT_NE(readme.find("$VMESHCONFIG"), std::string::npos);
}

TEST(DocsReadme, DocumentsEveryHubAndAgentFlag) {
  const auto bin = e2e::Binaries::FromBuild();
  const std::string readme = Readme();
  const std::string hub_help = Help({bin.hub, "--help"});
  for (const std::string command : {"init", "serve"}) {
    ASSERT_NE(hub_help.find("  " + command + " "), std::string::npos) << hub_help;
    EXPECT_NE(readme.find("vmesh-hub " + command), std::string::npos) << "README.md lacks vmesh-hub " << command;
    const auto flags = Flags(Help({bin.hub, command, "--help"}));
    EXPECT_TRUE(flags.count("--data-dir")) << "vmesh-hub " << command << " --help was not read";
    for (const auto& flag : flags) {
      EXPECT_NE(readme.find(flag), std::string::npos)
          << "README.md does not document vmesh-hub " << command << " " << flag;
    }
  }
  const auto agent_flags = Flags(Help({bin.agent, "--help"}));
  EXPECT_TRUE(agent_flags.count("--bootstrap")) << "vmesh-agent --help was not read";
  for (const auto& flag : agent_flags) {
    EXPECT_NE(readme.find(flag), std::string::npos) << "README.md does not document vmesh-agent " << flag;
  }
}

// The files the README points readers to exist.
TEST(DocsReadme, LinkedFilesExist) {
  const std::string readme = Readme();
  static const std::regex link(R"(\]\(((?:docs|examples|charts|bench|scripts|e2e|fuzz)/[^)#\s]+)\))");
  int checked = 0;
  for (auto it = std::sregex_iterator(readme.begin(), readme.end(), link); it != std::sregex_iterator(); ++it) {
    EXPECT_TRUE(fs::exists(Source() / (*it)[1].str())) << (*it)[1] << " is linked from README.md but missing";
    ++checked;
  }
  EXPECT_GT(checked, 3);
}

}  // namespace
}  // namespace vmesh
