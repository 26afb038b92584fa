#include "hub/cli/commands.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>

#include "common/api/manifest.h"
#include "common/api/secret.h"
#include "common/base/files.h"
#include "common/base/kinds.h"
#include "common/log/log.h"
#include "common/pki/csr.h"
#include "common/pki/key.h"
#include "common/pki/secure_string.h"
#include "common/pki/verify.h"
#include "hub/cli/ctl_client.h"
#include "vmesh/config/v1/config.pb.h"

namespace vmesh::cli {
namespace {

namespace json = boost::json;

constexpr char kDefaultNamespace[] = "vmesh";

// Flags every command takes.
constexpr char kGlobalFlags[] =
    R"(Global flags:
  --config FILE          the admin credential written by `vmesh-hub init` (DIR/admin.vmeshconfig);
                         default: $VMESHCONFIG
  -o, --output FORMAT    table (default), yaml or json
  --log-level LEVEL      trace, debug, info, warn (default), error, critical, off
  --log-format FORMAT    text (default) or json
  -h, --help             help for vmeshctl or for one command
  --version              print the version
)";

struct FlagInfo {
  const char* long_name;
  char short_name;  // 0: none
  bool takes_value;
  bool command_specific;
};

constexpr FlagInfo kFlags[] = {
    {"config", 0, true, false},     {"output", 'o', true, false}, {"log-level", 0, true, false},
    {"log-format", 0, true, false}, {"help", 'h', false, false},  {"version", 0, false, false},
    {"filename", 'f', true, true},  {"ttl", 0, true, true},       {"out", 0, true, true},
    {"namespace", 'n', true, true}, {"root-cert", 0, true, true}, {"key", 0, true, true},
    {"cert-chain", 0, true, true},  {"abort", 0, false, true},
};

const FlagInfo* FindFlag(const std::string& long_name, char short_name) {
  for (const auto& f : kFlags) {
    if ((!long_name.empty() && long_name == f.long_name) || (short_name != 0 && short_name == f.short_name)) return &f;
  }
  return nullptr;
}

std::string Join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? "" : separator) + parts[i];
  return out;
}

Status SetFlag(Invocation* inv, const FlagInfo& flag, const std::string& value) {
  // Flags that only store their value.
  static const std::map<std::string, std::string Invocation::*> kStringFlags = {
      {"config", &Invocation::config},
      {"log-level", &Invocation::log_level},
      {"log-format", &Invocation::log_format},
      {"filename", &Invocation::file},
      {"out", &Invocation::out},
      {"namespace", &Invocation::ns},
      {"root-cert", &Invocation::root_cert},
      {"key", &Invocation::key},
      {"cert-chain", &Invocation::cert_chain}};
  const std::string name = flag.long_name;
  if (flag.command_specific) inv->command_flags.push_back(name);
  if (auto it = kStringFlags.find(name); it != kStringFlags.end()) {
    inv->*(it->second) = value;
  } else if (name == "ttl") {
    inv->ttl = value;
  } else if (name == "output") {
    if (value == "table") {
      inv->output = OutputFormat::kTable;
    } else if (value == "yaml") {
      inv->output = OutputFormat::kYaml;
    } else if (value == "json") {
      inv->output = OutputFormat::kJson;
    } else {
      return MakeError("--output \"" + value + "\": expected table, yaml or json");
    }
  } else if (name == "abort") {
    inv->abort = true;
  } else if (name == "help") {
    inv->help = true;
  } else if (name == "version") {
    inv->version = true;
  }
  return OkStatus();
}

// The path of a command as the user types it.
std::string PathText(const CommandSpec& c) { return Join(c.path, " "); }

bool Takes(const CommandSpec& c, const std::string& flag) {
  return std::find(c.flags.begin(), c.flags.end(), flag) != c.flags.end();
}

// ---- Running commands ----------------------------------------------------------------------------------------

struct Context {
  const Invocation& inv;
  const std::vector<std::string>& args;
  const HubClient& hub;
  std::ostream& out;
  std::ostream& err;
  TimePoint now;
  const std::string& config_path;             // the admin credential file in use
  const config::v1::AdminConfig& credential;  // its content
};

// The non-empty lines of a message.
std::vector<std::string> Lines(const std::string& message) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos <= message.size()) {
    size_t eol = message.find('\n', pos);
    if (eol == std::string::npos) eol = message.size();
    if (eol > pos) lines.push_back(message.substr(pos, eol - pos));
    pos = eol + 1;
  }
  return lines;
}

// "vmeshctl: <what>: <line>" for every line of the message; exit code 1.
int Fail(std::ostream& err, const std::string& what, const std::string& message) {
  auto lines = Lines(message);
  for (const auto& line : lines) err << "vmeshctl: " << what << ": " << line << "\n";
  if (lines.empty()) err << "vmeshctl: " << what << " failed\n";
  return 1;
}

int Usage(std::ostream& err, const std::string& message) {
  err << "vmeshctl: " << message << "\n";
  return 2;
}

Result<json::value> ParseJson(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return MakeError("the hub's answer is not JSON: " + ec.message());
  return v;
}

// The items of a List, or the one object.
std::vector<json::value> Items(const json::value& v) {
  if (v.is_object()) {
    const json::value* items = v.get_object().if_contains("items");
    if (items != nullptr && items->is_array()) return {items->get_array().begin(), items->get_array().end()};
    return {v};
  }
  if (v.is_array()) return {v.get_array().begin(), v.get_array().end()};
  return {};
}

template <typename T>
Result<std::vector<T>> DecodeItems(const json::value& v) {
  std::vector<T> out;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  for (const auto& item : Items(v)) {
    T message;
    auto status = google::protobuf::util::JsonStringToMessage(json::serialize(item), &message, options);
    if (!status.ok()) {
      return MakeError("unexpected " + T::descriptor()->name() + " in the hub's answer: " + status.ToString());
    }
    out.push_back(std::move(message));
  }
  return out;
}

Result<std::vector<IssuedCertificate>> DecodeCertificates(const json::value& v) {
  std::vector<IssuedCertificate> out;
  for (const auto& item : Items(v)) {
    auto c = ParseIssuedCertificate(item);
    if (!c.ok()) return c.error().Wrap("unexpected certificate in the hub's answer");
    out.push_back(std::move(*c));
  }
  return out;
}

template <typename T>
Result<std::vector<T>> GetList(const HubClient& hub, const std::string& path) {
  auto body = hub.CallOk("GET", path);
  if (!body.ok()) return body.error();
  auto v = ParseJson(*body);
  if (!v.ok()) return v.error();
  return DecodeItems<T>(*v);
}

Result<std::vector<IssuedCertificate>> GetCertificates(const HubClient& hub) {
  auto body = hub.CallOk("GET", "/v1/objects/certificates");
  if (!body.ok()) return body.error();
  auto v = ParseJson(*body);
  if (!v.ok()) return v.error();
  return DecodeCertificates(*v);
}

// Prints a JSON answer as YAML or JSON (for -o yaml|json).
void PrintStructured(std::ostream& out, const json::value& v, OutputFormat format) {
  out << (format == OutputFormat::kJson ? api::PrettyJson(v) : api::JsonToYaml(v));
}

// Prints the "messages" of an apply/delete answer, or the whole answer for -o yaml|json.
int PrintMessages(const Context& c, const std::string& what, const std::string& body) {
  auto v = ParseJson(body);
  if (!v.ok()) return Fail(c.err, what, v.error().message);
  if (c.inv.output != OutputFormat::kTable) {
    PrintStructured(c.out, *v, c.inv.output);
    return 0;
  }
  if (v->is_object()) {
    if (const json::value* messages = v->get_object().if_contains("messages"); messages && messages->is_array()) {
      for (const auto& m : messages->get_array()) {
        if (m.is_string()) c.out << std::string(m.get_string()) << "\n";
      }
    }
  }
  return 0;
}

Result<std::string> ReadInput(const std::string& file) {
  if (file == "-") {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return text;
  }
  return ReadFile(file);
}

std::string ManifestContentType(const std::string& text) {
  size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string::npos && (text[first] == '{' || text[first] == '[') ? "application/json"
                                                                                  : "application/yaml";
}

// Percent-encodes a query parameter value.
std::string QueryEscape(const std::string& value) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : value) {
    if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
  }
  return out;
}

// One object of a kind. The name (and namespace) travel as query parameters: the hub's transport routes exact
// paths, and the API accepts /v1/objects/<kind>?name=N&namespace=NS for the same object as /v1/objects/<kind>/N.
std::string ObjectPath(const std::string& kind, const std::string& name, const std::string& ns = "") {
  std::string path = "/v1/objects/" + kind + "?name=" + QueryEscape(name);
  if (!ns.empty()) path += "&namespace=" + QueryEscape(ns);
  return path;
}

std::string FileLabel(const std::string& file) { return file == "-" ? "stdin" : file; }

int ClusterRegister(const Context& c) {
  const std::string& name = c.args[0];
  const std::string what = "register cluster " + name;
  json::object request{{"name", name}};
  if (c.inv.ttl) request["ttl"] = *c.inv.ttl;
  auto body = c.hub.CallOk("POST", "/v1/clusters", json::serialize(request));
  if (!body.ok()) return Fail(c.err, what, body.error().message);
  if (!c.inv.out.empty()) {
    if (Status s = WriteFileAtomically(c.inv.out, *body, 0600); !s.ok()) return Fail(c.err, what, s.error().message);
    c.out << "cluster " << name << " registered; bootstrap bundle written to " << c.inv.out
          << " (mode 0600, single-use token)\n"
          << "start its agent with: vmesh-agent --cluster " << name << " --bootstrap " << c.inv.out << "\n";
    return 0;
  }
  if (c.inv.output == OutputFormat::kJson) {
    config::v1::BootstrapBundle bundle;
    auto errors = api::DecodeInto(*body, &bundle);
    if (!errors.empty()) return Fail(c.err, what, "unexpected bundle: " + api::JoinErrors(errors));
    c.out << api::Encode(bundle, api::Format::kJson);
    return 0;
  }
  c.out << *body;
  if (!body->empty() && body->back() != '\n') c.out << "\n";
  return 0;
}

int ClusterList(const Context& c) {
  auto body = c.hub.CallOk("GET", "/v1/clusters");
  if (!body.ok()) return Fail(c.err, "list clusters", body.error().message);
  auto v = ParseJson(*body);
  if (!v.ok()) return Fail(c.err, "list clusters", v.error().message);
  if (c.inv.output != OutputFormat::kTable) {
    PrintStructured(c.out, *v, c.inv.output);
    return 0;
  }
  auto clusters = DecodeItems<api::v1::Cluster>(*v);
  if (!clusters.ok()) return Fail(c.err, "list clusters", clusters.error().message);
  c.out << ClusterTable(*clusters, c.now);
  return 0;
}

int ClusterDeregister(const Context& c) {
  const std::string& name = c.args[0];
  json::object request{{"name", name}};
  auto body = c.hub.CallOk("POST", "/v1/clusters/deregister", json::serialize(request));
  if (!body.ok()) return Fail(c.err, "deregister cluster " + name, body.error().message);
  c.out << "cluster " << name << " deregistered (its agent's certificate is refused from now on)\n";
  return 0;
}

int ApplyOrDelete(const Context& c, const std::string& verb) {
  if (c.inv.file.empty()) return Usage(c.err, verb + " needs -f FILE (or -f - for stdin)");
  const std::string what = verb + " -f " + FileLabel(c.inv.file);
  auto text = ReadInput(c.inv.file);
  if (!text.ok()) return Fail(c.err, what, text.error().message);
  auto body = c.hub.CallOk("POST", "/v1/" + verb, *text, ManifestContentType(*text));
  if (!body.ok() && verb == "delete") {
    // A partly successful delete answers 404 listing what was deleted, then what was not found.
    std::string problems;
    for (const auto& line : Lines(body.error().message)) {
      if (line.size() > 8 && line.compare(line.size() - 8, 8, " deleted") == 0) {
        c.out << line << "\n";
      } else {
        problems += line + "\n";
      }
    }
    return Fail(c.err, what, problems);
  }
  if (!body.ok()) return Fail(c.err, what, body.error().message);
  return PrintMessages(c, what, *body);
}

int Delete(const Context& c) {
  if (!c.inv.file.empty()) {
    if (!c.args.empty()) return Usage(c.err, "delete takes either -f FILE or KIND NAME, not both");
    return ApplyOrDelete(c, "delete");
  }
  if (c.args.size() != 2) return Usage(c.err, "delete needs -f FILE or KIND NAME (see vmeshctl delete --help)");
  auto kind = NormalizeKind(c.args[0]);
  if (!kind.ok()) return Usage(c.err, kind.error().message);
  const std::string ns = c.inv.ns.empty() ? kDefaultNamespace : c.inv.ns;
  const std::string what = "delete " + c.args[0] + " " + ns + "/" + c.args[1];
  auto body = c.hub.CallOk("DELETE", ObjectPath(*kind, c.args[1], ns));
  if (!body.ok()) return Fail(c.err, what, body.error().message);
  return PrintMessages(c, what, *body);
}

int Get(const Context& c) {
  auto kind = NormalizeKind(c.args[0]);
  if (!kind.ok()) return Usage(c.err, kind.error().message);
  std::string path = "/v1/objects/" + *kind;
  std::string what = "get " + *kind;
  if (c.args.size() == 2) {
    path = ObjectPath(*kind, c.args[1]);
    what += " " + c.args[1];
  }
  auto body = c.hub.CallOk("GET", path);
  if (!body.ok()) return Fail(c.err, what, body.error().message);
  auto v = ParseJson(*body);
  if (!v.ok()) return Fail(c.err, what, v.error().message);
  if (c.inv.output != OutputFormat::kTable) {
    PrintStructured(c.out, *v, c.inv.output);
    return 0;
  }
  Result<std::string> table = MakeError("unknown kind");
  auto render = [&](auto decoded, auto printer) -> Result<std::string> {
    if (!decoded.ok()) return decoded.error();
    return printer(*decoded, c.now);
  };
  if (*kind == "virtualmeshes") {
    table = render(DecodeItems<api::v1::VirtualMesh>(*v), VirtualMeshTable);
  } else if (*kind == "accesspolicies") {
    table = render(DecodeItems<api::v1::AccessPolicy>(*v), AccessPolicyTable);
  } else if (*kind == "meshes") {
    table = render(DecodeItems<api::v1::Mesh>(*v), MeshTable);
  } else if (*kind == "destinations") {
    table = render(DecodeItems<api::v1::Destination>(*v), DestinationTable);
  } else if (*kind == "workloads") {
    table = render(DecodeItems<api::v1::Workload>(*v), WorkloadTable);
  } else if (*kind == "clusters") {
    table = render(DecodeItems<api::v1::Cluster>(*v), ClusterTable);
  } else if (*kind == "certificates") {
    table = render(DecodeCertificates(*v), CertificateTable);
  } else if (*kind == "secrets") {
    table = render(DecodeItems<api::v1::Secret>(*v), SecretTable);
  }
  if (!table.ok()) return Fail(c.err, what, table.error().message);
  c.out << *table;
  return 0;
}

int CreateRootSecret(const Context& c) {
  const std::string& name = c.args[0];
  const std::string what = "create root-secret " + name;
  auto cert = ReadFile(c.inv.root_cert);
  if (!cert.ok()) return Fail(c.err, what, "--root-cert: " + cert.error().message);
  auto key = ReadFile(c.inv.key);
  if (!key.ok()) return Fail(c.err, what, "--key: " + key.error().message);
  std::string chain;
  if (!c.inv.cert_chain.empty()) {
    auto read = ReadFile(c.inv.cert_chain);
    if (!read.ok()) return Fail(c.err, what, "--cert-chain: " + read.error().message);
    chain = std::move(*read);
  }
  const std::string manifest = api::Encode(RootSecret(name, c.inv.ns, *cert, *key, chain), api::Format::kJson);
  auto body = c.hub.CallOk("POST", "/v1/apply", manifest, "application/json");
  if (!body.ok()) return Fail(c.err, what, body.error().message);
  return PrintMessages(c, what, *body);
}

int Describe(const Context& c) {
  auto kind = NormalizeKind(c.args[0]);
  if (!kind.ok()) return Usage(c.err, kind.error().message);
  if (*kind != "virtualmeshes") return Usage(c.err, "describe supports virtualmesh only");
  const std::string what = "describe virtualmesh " + c.args[1];
  auto body = c.hub.CallOk("GET", ObjectPath("virtualmeshes", c.args[1]));
  if (!body.ok()) return Fail(c.err, what, body.error().message);
  auto v = ParseJson(*body);
  if (!v.ok()) return Fail(c.err, what, v.error().message);
  if (c.inv.output != OutputFormat::kTable) {
    PrintStructured(c.out, *v, c.inv.output);
    return 0;
  }
  auto vms = DecodeItems<api::v1::VirtualMesh>(*v);
  if (!vms.ok() || vms->size() != 1) {
    return Fail(c.err, what, vms.ok() ? "the hub answered with no single VirtualMesh" : vms.error().message);
  }
  // The rest is context: describe what can be fetched and say what could not.
  DescribeExtras extras;
  if (auto certs = GetCertificates(c.hub); certs.ok()) {
    extras.certificates = std::move(*certs);
  } else {
    extras.notes.push_back("certificates unavailable: " + certs.error().message);
  }
  if (auto clusters = GetList<api::v1::Cluster>(c.hub, "/v1/clusters"); clusters.ok()) {
    extras.clusters = std::move(*clusters);
  } else {
    extras.notes.push_back("clusters unavailable: " + clusters.error().message);
  }
  if (auto meshes = GetList<api::v1::Mesh>(c.hub, "/v1/objects/meshes"); meshes.ok()) {
    extras.meshes = std::move(*meshes);
  } else {
    extras.notes.push_back("meshes unavailable: " + meshes.error().message);
  }
  c.out << DescribeVirtualMesh(vms->front(), c.now, extras);
  return 0;
}

// POSTs `request` to `path`: -o yaml|json prints the hub's answer; the table output is `line` of the answer's string
// field `field` ("" when absent).
int PostAndReport(const Context& c, const std::string& path, const json::object& request, const std::string& what,
                  const char* field, const std::function<std::string(const std::string&)>& line) {
  auto body = c.hub.CallOk("POST", path, json::serialize(request));
  if (!body.ok()) return Fail(c.err, what, body.error().message);
  auto v = ParseJson(*body);
  if (!v.ok()) return Fail(c.err, what, v.error().message);
  if (c.inv.output != OutputFormat::kTable) {
    PrintStructured(c.out, *v, c.inv.output);
    return 0;
  }
  std::string value;
  if (v->is_object()) {
    if (const json::value* f = v->get_object().if_contains(field); f && f->is_string()) value = f->get_string();
  }
  c.out << line(value);
  return 0;
}

int MeshRestart(const Context& c) {
  const std::string& mesh = c.args[0];
  return PostAndReport(
      c, "/v1/meshes/restart", {{"mesh", mesh}}, "restart mesh " + mesh, "requestId", [&](const std::string& id) {
        return "ordered restart of mesh " + mesh + " requested" + (id.empty() ? "" : " (request " + id + ")") +
               "; `vmeshctl describe virtualmesh` shows which workloads still need a restart\n";
      });
}

int RotateRoot(const Context& c) {
  const std::string& name = c.args[0];
  const std::string ns = c.inv.ns.empty() ? kDefaultNamespace : c.inv.ns;
  const std::string what = std::string(c.inv.abort ? "abort the root rotation of" : "rotate the root of") +
                           " VirtualMesh " + ns + "/" + name;
  return PostAndReport(c, "/v1/virtualmeshes/rotate-root", {{"namespace", ns}, {"name", name}, {"abort", c.inv.abort}},
                       what, "message", [&](const std::string& message) {
                         return message + "; `vmeshctl describe virtualmesh " + name + "` shows its progress\n";
                       });
}

int Preview(const Context& c) {
  if (c.inv.file.empty()) return Usage(c.err, "preview needs -f FILE (or -f - for stdin)");
  const std::string what = "preview -f " + FileLabel(c.inv.file);
  auto text = ReadInput(c.inv.file);
  if (!text.ok()) return Fail(c.err, what, text.error().message);
  auto body = c.hub.CallOk("POST", "/v1/preview", *text, ManifestContentType(*text));
  if (!body.ok()) return Fail(c.err, what, body.error().message);
  auto v = ParseJson(*body);
  if (!v.ok()) return Fail(c.err, what, v.error().message);
  if (c.inv.output == OutputFormat::kJson) {
    PrintStructured(c.out, *v, c.inv.output);
    return 0;
  }
  auto yaml = PreviewYaml(*v);
  if (!yaml.ok()) return Fail(c.err, what, yaml.error().message);
  c.out << *yaml;
  return 0;
}

int Check(const Context& c) {
  auto ready = c.hub.Call("GET", "/readyz");
  if (!ready.ok()) {
    c.out << ready.error().message << "\n";
    return 1;
  }
  std::vector<std::string> problems;
  if (ready->status != 200) problems.push_back("hub at " + c.hub.url() + " is not ready: " + ServerMessage(*ready));
  auto clusters = GetList<api::v1::Cluster>(c.hub, "/v1/clusters");
  if (!clusters.ok()) problems.push_back("cannot list clusters: " + clusters.error().message);
  auto vms = GetList<api::v1::VirtualMesh>(c.hub, "/v1/objects/virtualmeshes");
  if (!vms.ok()) problems.push_back("cannot list virtualmeshes: " + vms.error().message);
  auto certs = GetCertificates(c.hub);
  if (!certs.ok()) problems.push_back("cannot list certificates: " + certs.error().message);
  const std::vector<api::v1::Cluster> no_clusters;
  const std::vector<api::v1::VirtualMesh> no_vms;
  const std::vector<IssuedCertificate> no_certs;
  const auto& cluster_list = clusters.ok() ? *clusters : no_clusters;
  const auto& vm_list = vms.ok() ? *vms : no_vms;
  const auto& cert_list = certs.ok() ? *certs : no_certs;
  for (auto& p : CheckProblems(cluster_list, vm_list, cert_list, c.now)) problems.push_back(std::move(p));
  if (!problems.empty()) {
    for (const auto& p : problems) c.out << p << "\n";
    return 1;
  }
  c.out << "ok: hub " << c.hub.url() << " ready; " << cluster_list.size() << " cluster(s) connected; " << vm_list.size()
        << " virtualmesh(es) accepted and current; " << LatestPerMesh(cert_list).size()
        << " mesh certificate(s) valid for more than 7 days\n";
  return 0;
}

// `admin rotate`: a new key made here (it never leaves this machine), a CSR for it sent over the current admin
// connection, the returned certificate checked against the key and the hub CA, and the credential file rewritten
// atomically (0600). The hub revokes the old serial when it signs, so the file must be writable first.
int AdminRotate(const Context& c) {
  const std::string what = "rotate the admin credential";
  // A symlinked credential is rotated where it lives: the link stays, its target gets the new content.
  std::error_code ec;
  const std::string path = std::filesystem::canonical(c.config_path, ec).string();
  if (ec) return Fail(c.err, what, c.config_path + ": " + ec.message());
  {
    auto current = ReadFile(path, ReadOptions{.no_follow = true});
    if (!current.ok()) return Fail(c.err, what, current.error().message);
    pki::SecureString text(std::move(*current));
    // Proves (before the hub revokes anything) that the file can be replaced, and makes it 0600.
    if (Status s = WriteFileAtomically(path, text.value(), 0600); !s.ok()) {
      return Fail(c.err, what, "the credential file cannot be rewritten, nothing was changed: " + s.error().message);
    }
  }
  auto old_cert = pki::Certificate::FromPem(c.credential.client_certificate());
  if (!old_cert.ok()) return Fail(c.err, what, "clientCertificate: " + old_cert.error().message);
  auto key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
  if (!key.ok()) return Fail(c.err, what, key.error().message);
  auto csr = pki::Csr::Create(*key, {});
  if (!csr.ok()) return Fail(c.err, what, csr.error().message);
  auto body = c.hub.CallOk("POST", "/v1/admin/rotate", json::serialize(json::object{{"csr", csr->ToPem()}}));
  if (!body.ok()) return Fail(c.err, what, body.error().message);
  auto v = ParseJson(*body);
  if (!v.ok() || !v->is_object()) return Fail(c.err, what, "unexpected answer from the hub");
  const json::value* cert_pem = v->get_object().if_contains("certificate");
  if (cert_pem == nullptr || !cert_pem->is_string()) return Fail(c.err, what, "the hub's answer has no certificate");
  auto cert = pki::Certificate::FromPem(std::string(cert_pem->get_string()));
  Status checked = cert.ok() ? pki::KeyMatchesCertificate(*key, *cert) : Status(cert.error());
  if (checked.ok()) {
    auto hub_ca = pki::ParsePemBundle(c.credential.hub_ca());
    auto chain = hub_ca.ok() ? pki::VerifyChain(*cert, *hub_ca, {}, c.now)
                             : Result<std::vector<pki::Certificate>>(hub_ca.error());
    if (!chain.ok()) checked = chain.error();
  }
  const std::string revoked = "the hub revoked serial " + old_cert->serial_hex() + "; ";
  if (!checked.ok()) {
    return Fail(c.err, what, revoked + "the certificate it returned is unusable: " + checked.error().message);
  }
  config::v1::AdminConfig updated = c.credential;
  updated.set_client_certificate(cert->ToPem());
  updated.set_client_key(pki::SecureString(key->ToPem()).value());
  pki::SecureString encoded(api::Encode(updated, api::Format::kYaml));
  pki::Cleanse(*updated.mutable_client_key());
  if (Status s = WriteFileAtomically(path, encoded.value(), 0600); !s.ok()) {
    return Fail(c.err, what, revoked + "the new credential could not be written: " + s.error().message);
  }
  if (c.inv.output != OutputFormat::kTable) {
    PrintStructured(c.out,
                    json::object{{"file", path}, {"serial", cert->serial_hex()}, {"revoked", old_cert->serial_hex()}},
                    c.inv.output);
    return 0;
  }
  c.out << "admin credential rotated: " << path << " now holds certificate serial " << cert->serial_hex()
        << " (new key, mode 0600); serial " << old_cert->serial_hex() << " is revoked\n";
  return 0;
}

// Usage problems a command can see without the hub (so they are reported as such, before any credential is read).
Status CheckArguments(const CommandSpec& command, const std::vector<std::string>& args, const Invocation& inv) {
  const std::string path = PathText(command);
  if (path == "get" || path == "describe" || (path == "delete" && !args.empty())) {
    auto kind = NormalizeKind(args[0]);
    if (!kind.ok()) return kind.error();
    if (path == "describe" && *kind != "virtualmeshes") return MakeError("describe supports virtualmesh only");
  }
  if (path == "delete") {
    if (!inv.file.empty() && !args.empty()) return MakeError("delete takes either -f FILE or KIND NAME, not both");
    if (inv.file.empty() && args.size() != 2) {
      return MakeError("delete needs -f FILE or KIND NAME (see vmeshctl delete --help)");
    }
  }
  if ((path == "apply" || path == "preview") && inv.file.empty()) {
    return MakeError(path + " needs -f FILE (or -f - for stdin)");
  }
  if (path == "create root-secret" && (inv.root_cert.empty() || inv.key.empty())) {
    return MakeError("create root-secret needs --root-cert FILE and --key FILE (usage: vmeshctl " + command.usage +
                     ")");
  }
  return OkStatus();
}

}  // namespace

Result<Invocation> ParseArguments(const std::vector<std::string>& args) {
  Invocation inv;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags_done || a == "-" || a.size() < 2 || a[0] != '-') {
      inv.words.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    const FlagInfo* flag = nullptr;
    std::optional<std::string> value;
    std::string shown;
    if (a.rfind("--", 0) == 0) {
      std::string name = a.substr(2);
      if (size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      shown = "--" + name;
      flag = FindFlag(name, 0);
    } else {
      shown = a.substr(0, 2);
      flag = FindFlag("", a[1]);
      if (a.size() > 2) value = a[2] == '=' ? a.substr(3) : a.substr(2);
    }
    if (flag == nullptr) return MakeError("unknown flag " + shown + " (see vmeshctl --help)");
    if (!flag->takes_value) {
      if (value) return MakeError(shown + " takes no value");
      if (Status s = SetFlag(&inv, *flag, ""); !s.ok()) return s.error();
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) return MakeError(shown + " needs a value");
      value = args[++i];
    }
    if (Status s = SetFlag(&inv, *flag, *value); !s.ok()) return s.error();
  }
  return inv;
}

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec> commands = {
      {{"cluster", "register"},
       "cluster register NAME [--ttl 1h] [--out FILE]",
       "register a workload cluster and print its agent's bootstrap bundle",
       "Creates a one-time bootstrap token for cluster NAME (valid for --ttl, default 1h, single use) and prints\n"
       "the bootstrap bundle (hub URL, hub CA, token) that `vmesh-agent --bootstrap` reads. With --out FILE the\n"
       "bundle is written to FILE with mode 0600 instead, and vmeshctl says where. Registering again before the\n"
       "agent has bootstrapped issues a new token (the old one stops working); once it has bootstrapped, the\n"
       "cluster must be deregistered first.",
       {"ttl", "out"},
       1,
       1},
      {{"cluster", "list"},
       "cluster list",
       "list registered clusters and their agents' connection state",
       "Shows every registered cluster: state (REGISTERED, CONNECTED, DISCONNECTED), agent version, how long it\n"
       "has been connected, its last heartbeat and when its agent identity expires.",
       {},
       0,
       0},
      {{"cluster", "deregister"},
       "cluster deregister NAME",
       "deregister a cluster; its agent is refused from then on",
       "Removes cluster NAME from the registry: its agent's certificate is refused at the next handshake and its\n"
       "live session is closed. VirtualMeshes naming its meshes become INVALID.",
       {},
       1,
       1},
      {{"apply"},
       "apply -f FILE|-",
       "create or update VirtualMeshes and AccessPolicies from a manifest",
       "Sends the manifest (multi-document YAML or JSON; Gloo Mesh networking.mesh.gloo.solo.io/v1 manifests are\n"
       "imported) to the hub and prints one line per object: created, configured or unchanged. All or nothing:\n"
       "a manifest with any invalid object changes nothing and every problem is printed.",
       {"filename"},
       0,
       0},
      {{"delete"},
       "delete -f FILE|-  |  delete KIND NAME [-n NAMESPACE]",
       "delete the objects of a manifest, or one object",
       "Deletes every object the manifest names, or the object KIND NAME (namespace -n, default vmesh). Deleting\n"
       "a VirtualMesh removes its outputs from every cluster; the cacerts Secrets stay in place.",
       {"filename", "namespace"},
       0,
       2},
      {{"create", "root-secret"},
       "create root-secret NAME --root-cert FILE --key FILE [--cert-chain FILE] [-n NAMESPACE]",
       "store a user-provided root CA on the hub for VirtualMeshes to use",
       "Builds a Secret of type vmesh.dev/root-ca from PEM files — root-cert.pem (the CA that signs the per-mesh\n"
       "intermediates), key.pem (its unencrypted private key) and, when that CA is itself an intermediate of an\n"
       "enterprise PKI, cert-chain.pem (the certificates above it, the enterprise root last) — and applies it\n"
       "(namespace -n, default vmesh). The hub refuses it, naming the entry, when a PEM does not parse, the key\n"
       "does not match the certificate, or the certificate is not a CA. A VirtualMesh uses it with\n"
       "spec.mtlsConfig.shared.rootCertificateAuthority.secret: {name: NAME, namespace: NAMESPACE}. The hub never\n"
       "returns the key: `get secrets` shows names, types and keys only.",
       {"root-cert", "key", "cert-chain", "namespace"},
       1,
       1},
      {{"get"},
       "get KIND [NAME]",
       "list objects of a kind, or show one",
       "KIND: virtualmeshes (vm), accesspolicies (ap), secrets, meshes, destinations, workloads, clusters,\n"
       "certificates (singular, plural and any case accepted). Tables by default; -o yaml|json prints the API's\n"
       "objects (a Secret's private key is never shown).",
       {},
       1,
       2},
      {{"describe"},
       "describe virtualmesh NAME",
       "show a VirtualMesh's spec, state and per-mesh status",
       "Shows the spec, overall state and errors, per-mesh state with certificate serial and expiry, federated\n"
       "destinations and applied outputs, the latest certificate issued per mesh, and each member cluster's\n"
       "agent (state, last report). -o yaml|json prints the object itself.",
       {},
       2,
       2},
      {{"mesh", "restart"},
       "mesh restart MESH",
       "restart a mesh's workloads in order so they pick up the current trust root",
       "Asks MESH's agent for the same ordered rolling restart autoRestartPods performs: istiod (until its\n"
       "rollout is ready and the istio-ca-root-cert ConfigMaps carry the new root), then the gateways, then the\n"
       "sidecar-injected workloads a bounded number at a time. Use it when autoRestartPods is false and\n"
       "`describe` lists workloads that need a restart. Prints the request id; progress shows in describe.",
       {},
       1,
       1},
      {{"rotate", "root"},
       "rotate root NAME [-n NAMESPACE] [--abort]",
       "replace a VirtualMesh's root CA in phases, without failing a request",
       "Starts a root rotation (SPEC 5.5) of VirtualMesh NAME: to a new generated root, or, when its root comes\n"
       "from a Secret (rootCertificateAuthority.secret), to the root that Secret holds now. It runs in phases,\n"
       "each held until every member mesh's agent acknowledged it (installed the intermediate of the phase and\n"
       "finished the restarts it owes): TRUST_BOTH (trust bundle old + new root everywhere), ISSUE_NEW\n"
       "(intermediates re-issued from the new root), TRUST_NEW (old root removed). `describe` shows the phase,\n"
       "the progress and the meshes it waits for. --abort rolls back (ROLLBACK_ISSUE_OLD, ROLLBACK_TRUST_OLD)\n"
       "and keeps the old root; it is refused once the rotation reached TRUST_NEW, its last phase.",
       {"namespace", "abort"},
       1,
       1},
      {{"preview"},
       "preview -f FILE|-",
       "show what a VirtualMesh would write into each cluster, without applying it",
       "Sends a manifest holding one VirtualMesh to the hub, which computes its status and outputs against the\n"
       "current discovery without storing anything. Prints the status as comments, then per cluster a\n"
       "\"# cluster: NAME\" comment followed by the objects as YAML documents (-o json: the hub's answer).",
       {"filename"},
       0,
       0},
      {{"admin", "rotate"},
       "admin rotate",
       "replace the admin credential with a new key and certificate; the old one is revoked",
       "Generates a new private key locally (keys never travel), sends a CSR for it over the current admin\n"
       "connection, and the hub signs it (link CA, admin identity), pins the new serial and revokes the caller's\n"
       "old one: from then on the old certificate gets HTTP 403. The credential file (--config or $VMESHCONFIG;\n"
       "a symlink's target) is rewritten atomically with mode 0600; copies of the old file stop working.",
       {},
       0,
       0},
      {{"check"},
       "check",
       "check the hub, agents, VirtualMeshes and certificates; non-zero exit on problems",
       "Prints one line per problem and exits 1 when: the hub is unreachable or not ready, a registered cluster\n"
       "is not CONNECTED, a VirtualMesh is not ACCEPTED or its status.observedGeneration is behind\n"
       "metadata.generation, or the latest certificate of a mesh expires within 7 days. Otherwise prints an\n"
       "\"ok: ...\" summary and exits 0.",
       {},
       0,
       0},
  };
  return commands;
}

Result<const CommandSpec*> ResolveCommand(const Invocation& invocation, std::vector<std::string>* args) {
  const auto& words = invocation.words;
  if (words.empty()) return MakeError("no command given (see vmeshctl --help)");
  const CommandSpec* found = nullptr;
  for (const auto& c : Commands()) {
    if (words.size() >= c.path.size() && std::equal(c.path.begin(), c.path.end(), words.begin())) {
      if (found == nullptr || c.path.size() > found->path.size()) found = &c;
    }
  }
  if (found == nullptr) {
    if (GroupHelp(words[0])) {
      std::string sub = words.size() > 1 ? " \"" + words[1] + "\"" : "";
      return MakeError("unknown or missing " + words[0] + " command" + sub + " (see vmeshctl " + words[0] + " --help)");
    }
    return MakeError("unknown command \"" + words[0] + "\" (see vmeshctl --help)");
  }
  args->assign(words.begin() + found->path.size(), words.end());
  const int n = static_cast<int>(args->size());
  if (n < found->min_args || n > found->max_args) {
    return MakeError(PathText(*found) + ": wrong number of arguments; usage: vmeshctl " + found->usage);
  }
  for (const auto& flag : invocation.command_flags) {
    if (!Takes(*found, flag)) return MakeError(PathText(*found) + " does not take --" + flag);
  }
  return found;
}

std::string MainHelp() {
  std::string out =
      "vmeshctl — the operator CLI of vmesh: register clusters, apply VirtualMeshes, inspect status.\n\n"
      "Usage: vmeshctl [global flags] COMMAND [args]\n\nCommands:\n";
  for (const auto& c : Commands()) out += "  " + c.usage + "\n      " + c.summary + "\n";
  out += std::string("\n") + kGlobalFlags +
         "\nExit codes: 0 success, 1 failure (refused, problems found, hub unreachable), 2 usage error.\n"
         "`vmeshctl COMMAND --help` explains one command.\n";
  return out;
}

std::string CommandHelp(const CommandSpec& command) {
  std::string out = "Usage: vmeshctl " + command.usage + "\n\n" + command.summary + ".\n\n" + command.details + "\n";
  if (Takes(command, "filename")) out += "\nFlags:\n  -f, --filename FILE    the manifest; - reads stdin\n";
  if (Takes(command, "ttl")) {
    out +=
        "\nFlags:\n  --ttl DURATION         how long the bootstrap token is valid (e.g. 30m, 1h; default 1h)\n"
        "  --out FILE             write the bundle to FILE (mode 0600) instead of printing it\n";
  }
  if (Takes(command, "root-cert")) {
    out +=
        "\nFlags:\n  --root-cert FILE       the root CA certificate (PEM)\n"
        "  --key FILE             its private key (PEM, unencrypted)\n"
        "  --cert-chain FILE      optional: the certificates above it, the enterprise root last (PEM)\n"
        "  -n, --namespace NS     namespace of the Secret (default vmesh)\n";
  } else if (Takes(command, "abort")) {
    out +=
        "\nFlags:\n  -n, --namespace NS     namespace of the VirtualMesh (default vmesh)\n"
        "  --abort                roll the rotation in progress back (not in its last phase, TRUST_NEW)\n";
  } else if (Takes(command, "namespace")) {
    out += "  -n, --namespace NS     namespace of KIND NAME (default vmesh)\n";
  }
  return out + "\n" + kGlobalFlags;
}

std::optional<std::string> GroupHelp(const std::string& group) {
  std::string out;
  for (const auto& c : Commands()) {
    if (c.path.size() == 2 && c.path[0] == group) out += "  vmeshctl " + c.usage + "\n      " + c.summary + "\n";
  }
  if (out.empty()) return std::nullopt;
  return "Usage:\n" + out + "\n`vmeshctl " + group + " COMMAND --help` explains one command.\n";
}

Result<std::string> NormalizeKind(const std::string& kind) {
  if (const KindInfo* k = LookupKind(kind, kHubApi)) return std::string(k->plural);
  return MakeError("unknown kind \"" + kind +
                   "\"; known: virtualmeshes, accesspolicies, secrets, meshes, destinations, workloads, "
                   "clusters, certificates");
}

api::v1::Secret RootSecret(const std::string& name, const std::string& ns, const std::string& root_cert_pem,
                           const std::string& key_pem, const std::string& cert_chain_pem) {
  api::v1::Secret secret;
  secret.set_api_version(std::string(api::kCoreApiVersion));
  secret.set_kind(std::string(api::kSecretKind));
  secret.mutable_metadata()->set_name(name);
  if (!ns.empty()) secret.mutable_metadata()->set_namespace_(ns);
  secret.set_type(std::string(api::kRootCaSecretType));
  auto& data = *secret.mutable_data();
  data[std::string(api::kRootCertKey)] = root_cert_pem;
  data[std::string(api::kRootKeyKey)] = key_pem;
  if (!cert_chain_pem.empty()) data[std::string(api::kCertChainKey)] = cert_chain_pem;
  return secret;
}

std::vector<std::string> CheckProblems(const std::vector<api::v1::Cluster>& clusters,
                                       const std::vector<api::v1::VirtualMesh>& virtual_meshes,
                                       const std::vector<IssuedCertificate>& certificates, TimePoint now,
                                       std::chrono::hours horizon) {
  std::vector<std::string> problems;
  for (const auto& c : clusters) {
    const auto& st = c.status();
    if (st.state() == api::v1::CONNECTED) continue;
    std::string line = "cluster " + c.metadata().name() + " is " + api::v1::ClusterState_Name(st.state());
    if (st.has_last_heartbeat()) {
      line += " (last heartbeat " + Age(TimePoint(std::chrono::seconds(st.last_heartbeat().seconds())), now) + " ago)";
    } else {
      line += " (its agent has never connected)";
    }
    problems.push_back(line);
  }
  for (const auto& vm : virtual_meshes) {
    const std::string id = "virtualmesh " + vm.metadata().namespace_() + "/" + vm.metadata().name();
    const auto& st = vm.status();
    if (st.state() != api::v1::ACCEPTED) {
      std::vector<std::string> why(st.errors().begin(), st.errors().end());
      std::map<std::string, api::v1::ApprovalStatus> meshes(st.meshes().begin(), st.meshes().end());
      for (const auto& [key, m] : meshes) {
        if (m.state() == api::v1::ACCEPTED) continue;
        std::string mesh_why = "mesh " + key + " " + api::v1::ApprovalState_Name(m.state());
        if (m.errors_size() > 0) mesh_why += ": " + Join({m.errors().begin(), m.errors().end()}, "; ");
        why.push_back(mesh_why);
      }
      problems.push_back(id + " is " + api::v1::ApprovalState_Name(st.state()) +
                         (why.empty() ? "" : ": " + Join(why, "; ")));
    }
    if (st.observed_generation() != vm.metadata().generation()) {
      problems.push_back(id + ": status describes generation " + std::to_string(st.observed_generation()) +
                         " but the spec is at generation " + std::to_string(vm.metadata().generation()) +
                         " (the hub has not reconciled the latest change)");
    }
  }
  for (const auto& c : LatestPerMesh(certificates)) {
    if (!c.not_after || *c.not_after - now >= horizon) continue;
    std::string when =
        *c.not_after > now ? "expires in " + Age(now, *c.not_after) : "expired " + Age(*c.not_after, now) + " ago";
    problems.push_back("certificate " + c.serial.substr(0, 16) + " of mesh " + c.mesh +
                       (c.cluster.empty() ? "" : " (cluster " + c.cluster + ")") + " " + when);
  }
  return problems;
}

int Run(const Invocation& invocation, const std::string& version, std::ostream& out, std::ostream& err) {
  if (invocation.version) {
    out << "vmeshctl " << version << "\n";
    return 0;
  }
  if (invocation.help) {
    if (invocation.words.empty()) {
      out << MainHelp();
      return 0;
    }
    const CommandSpec* found = nullptr;
    for (const auto& c : Commands()) {
      if (invocation.words.size() >= c.path.size() &&
          std::equal(c.path.begin(), c.path.end(), invocation.words.begin()) &&
          (found == nullptr || c.path.size() > found->path.size())) {
        found = &c;
      }
    }
    if (found != nullptr) {
      out << CommandHelp(*found);
      return 0;
    }
    if (auto group = GroupHelp(invocation.words[0])) {
      out << *group;
      return 0;
    }
    return Usage(err, "unknown command \"" + invocation.words[0] + "\" (see vmeshctl --help)");
  }
  if (invocation.words.empty()) {
    err << MainHelp();
    return 2;
  }
  std::vector<std::string> args;
  auto command = ResolveCommand(invocation, &args);
  if (!command.ok()) return Usage(err, command.error().message);
  if (Status s = CheckArguments(**command, args, invocation); !s.ok()) return Usage(err, s.error().message);
  if (Status s = log::Init("vmeshctl", invocation.log_level, invocation.log_format); !s.ok()) {
    return Usage(err, s.error().message);
  }

  std::string config_path = invocation.config;
  if (config_path.empty()) {
    const char* env = std::getenv("VMESHCONFIG");
    if (env != nullptr) config_path = env;
  }
  if (config_path.empty()) {
    return Usage(err,
                 "no hub credential: pass --config FILE or set VMESHCONFIG (the admin.vmeshconfig that "
                 "`vmesh-hub init` wrote)");
  }
  auto config = LoadAdminConfig(config_path);
  if (!config.ok()) return Fail(err, "configuration", config.error().message);
  auto hub = HubClient::Create(*config);
  if (!hub.ok()) return Fail(err, "configuration", hub.error().message);
  spdlog::debug("hub API at {}", hub->url());

  Context c{invocation, args, *hub, out, err, std::chrono::system_clock::now(), config_path, *config};
  const std::string path = PathText(**command);
  if (path == "cluster register") return ClusterRegister(c);
  if (path == "cluster list") return ClusterList(c);
  if (path == "cluster deregister") return ClusterDeregister(c);
  if (path == "apply") return ApplyOrDelete(c, "apply");
  if (path == "delete") return Delete(c);
  if (path == "get") return Get(c);
  if (path == "create root-secret") return CreateRootSecret(c);
  if (path == "describe") return Describe(c);
  if (path == "mesh restart") return MeshRestart(c);
  if (path == "preview") return Preview(c);
  if (path == "rotate root") return RotateRoot(c);
  if (path == "check") return Check(c);
  if (path == "admin rotate") return AdminRotate(c);
  return Usage(err, "command " + path + " is not implemented");
}

}  // namespace vmesh::cli
