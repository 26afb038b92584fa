#include "common/kube/config.h"

#include <yaml-cpp/yaml.h>

#include "common/base/base64.h"
#include "common/base/files.h"

namespace vmesh::kube {
namespace {

std::string Scalar(const YAML::Node& node, const char* key) {
  const YAML::Node v = node[key];
  return v && v.IsScalar() ? v.Scalar() : std::string();
}

// "<field>-data" (base64) or "<field>" (a file path, relative to the kubeconfig's directory).
Result<std::string> DataOrFile(const YAML::Node& node, const std::string& field, const std::string& base_dir,
                               const std::string& where) {
  std::string data = Scalar(node, (field + "-data").c_str());
  if (!data.empty()) {
    auto decoded = Base64Decode(data);
    if (!decoded) return MakeError(where + "." + field + "-data: not valid base64");
    return *decoded;
  }
  std::string path = Scalar(node, field.c_str());
  if (path.empty()) return std::string();
  if (path[0] != '/') path = base_dir + "/" + path;
  auto content = ReadFile(path);
  if (!content.ok()) return MakeError(where + "." + field + ": " + content.error().message);
  return content;
}

const YAML::Node* Named(const YAML::Node& list, const std::string& name, const char* inner, YAML::Node* out) {
  if (!list || !list.IsSequence()) return nullptr;
  for (const auto& item : list) {
    if (Scalar(item, "name") == name && item[inner]) {
      *out = item[inner];
      return out;
    }
  }
  return nullptr;
}

}  // namespace

Result<ClusterConfig> ParseKubeconfig(const std::string& yaml, const std::string& base_dir, const std::string& source,
                                      const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return MakeError(source + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  if (!root.IsMap()) return MakeError(source + ": not a kubeconfig (expected a map)");
  ClusterConfig cfg;
  cfg.context = context.empty() ? Scalar(root, "current-context") : context;
  if (cfg.context.empty()) return MakeError(source + ": no context given and no current-context set");
  YAML::Node ctx, cluster, user;
  if (!Named(root["contexts"], cfg.context, "context", &ctx)) {
    return MakeError(source + ": context \"" + cfg.context + "\" not found");
  }
  const std::string cluster_name = Scalar(ctx, "cluster");
  const std::string user_name = Scalar(ctx, "user");
  if (!Scalar(ctx, "namespace").empty()) cfg.ns = Scalar(ctx, "namespace");
  if (!Named(root["clusters"], cluster_name, "cluster", &cluster)) {
    return MakeError(source + ": cluster \"" + cluster_name + "\" of context \"" + cfg.context + "\" not found");
  }
  cfg.server = Scalar(cluster, "server");
  if (cfg.server.empty()) return MakeError(source + ": clusters[" + cluster_name + "].cluster.server is missing");
  cfg.insecure_skip_tls_verify = Scalar(cluster, "insecure-skip-tls-verify") == "true";
  cfg.tls_server_name = Scalar(cluster, "tls-server-name");
  auto ca = DataOrFile(cluster, "certificate-authority", base_dir, source + ": clusters[" + cluster_name + "].cluster");
  if (!ca.ok()) return ca.error();
  cfg.ca_pem = *ca;
  if (!user_name.empty()) {
    if (!Named(root["users"], user_name, "user", &user)) {
      return MakeError(source + ": user \"" + user_name + "\" of context \"" + cfg.context + "\" not found");
    }
    const std::string where = source + ": users[" + user_name + "].user";
    cfg.token = Scalar(user, "token");
    if (cfg.token.empty() && !Scalar(user, "tokenFile").empty()) {
      std::string path = Scalar(user, "tokenFile");
      if (path[0] != '/') path = base_dir + "/" + path;
      auto token = ReadFile(path);
      if (!token.ok()) return MakeError(where + ".tokenFile: " + token.error().message);
      cfg.token = *token;
      while (!cfg.token.empty() && (cfg.token.back() == '\n' || cfg.token.back() == '\r')) cfg.token.pop_back();
    }
    if (user["exec"] || user["auth-provider"]) {
      return MakeError(where +
                       ": exec and auth-provider credentials are not supported; use a token or a client "
                       "certificate");
    }
    auto cert = DataOrFile(user, "client-certificate", base_dir, where);
    if (!cert.ok()) return cert.error();
    auto key = DataOrFile(user, "client-key", base_dir, where);
    if (!key.ok()) return key.error();
    cfg.client_certificate_pem = *cert;
    cfg.client_key_pem = *key;
    if (cfg.client_certificate_pem.empty() != cfg.client_key_pem.empty()) {
      return MakeError(where + ": client-certificate and client-key must be given together");
    }
  }
  return cfg;
}

Result<ClusterConfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.error().Wrap("kubeconfig");
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  return ParseKubeconfig(*text, dir, path, context);
}

Result<ClusterConfig> InClusterConfig(const std::function<const char*(const char*)>& getenv,
                                      const std::string& service_account_dir) {
  const char* host = getenv("KUBERNETES_SERVICE_HOST");
  const char* port = getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0') {
    return MakeError("not running in a cluster (KUBERNETES_SERVICE_HOST is not set): give --kubeconfig");
  }
  ClusterConfig cfg;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6
  cfg.server = "https://" + h + ":" + (port && *port ? port : "443");
  auto token = ReadFile(service_account_dir + "/token");
  if (!token.ok()) return token.error().Wrap("in-cluster service account token");
  cfg.token = *token;
  while (!cfg.token.empty() && (cfg.token.back() == '\n' || cfg.token.back() == '\r')) cfg.token.pop_back();
  auto ca = ReadFile(service_account_dir + "/ca.crt");
  if (!ca.ok()) return ca.error().Wrap("in-cluster CA");
  cfg.ca_pem = *ca;
  auto ns = ReadFile(service_account_dir + "/namespace");
  if (ns.ok() && !ns->empty()) {
    cfg.ns = *ns;
    while (!cfg.ns.empty() && (cfg.ns.back() == '\n' || cfg.ns.back() == '\r')) cfg.ns.pop_back();
  }
  cfg.context = "in-cluster";
  return cfg;
}

}  // namespace vmesh::kube
