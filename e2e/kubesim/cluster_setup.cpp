#include "e2e/kubesim/cluster_setup.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>

#include "common/base/base64.h"
#include "e2e/kubesim/custom_resources.h"
#include "e2e/kubesim/defaulting.h"
#include "e2e/kubesim/yaml_json.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

std::string MetadataString(const json::object& object, std::string_view key) {
  auto md = object.find("metadata");
  if (md == object.end() || !md->value().is_object()) return {};
  auto v = md->value().get_object().find(key);
  return v != md->value().get_object().end() && v->value().is_string() ? std::string(v->value().get_string())
                                                                       : std::string();
}

std::string StringField(const json::object& object, std::string_view key) {
  auto v = object.find(key);
  return v != object.end() && v->value().is_string() ? std::string(v->value().get_string()) : std::string();
}

Status EnsureNamespace(ObjectStore& store, const ResourceType& namespaces, const std::string& name) {
  if (store.Get(namespaces, "", name).ok()) return OkStatus();
  auto created = store.Create(namespaces, "", json::object{{"metadata", json::object{{"name", name}}}});
  if (!created.ok() && created.error().reason != "AlreadyExists") return MakeError(created.error().message);
  return OkStatus();
}

}  // namespace

std::string ClusterNetwork::LoadBalancerIp(uint32_t k) const {
  return "172.18." + std::to_string(k % 256) + "." + std::to_string(load_balancer_last_octet);
}

ClusterNetwork ClusterNetworkFor(int index) {
  if (index <= 0) return ClusterNetwork{"10.244", "10.96", 254};
  return ClusterNetwork{"10." + std::to_string(index), "10." + std::to_string(128 + index), index};
}

Status CreateSystemNamespaces(ObjectStore& store) {
  ResourceRegistry registry = MakeBuiltinRegistry();
  const ResourceTypePtr namespaces = registry.Find("", "v1", "namespaces");
  for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    if (Status s = EnsureNamespace(store, *namespaces, name); !s.ok()) return s;
  }
  return OkStatus();
}

Status LoadSeed(ObjectStore& store, ResourceRegistry& registry, std::string_view yaml,
                const std::vector<std::pair<std::string, std::string>>& vars) {
  auto documents = ParseYamlDocuments(SubstitutePlaceholders(yaml, vars));
  if (!documents.ok()) return documents.error();

  struct Item {
    size_t document;
    json::object object;
  };
  std::vector<Item> items;
  for (size_t i = 0; i < documents->size(); ++i) {
    json::value& doc = (*documents)[i];
    if (!doc.is_object()) return MakeError("document " + std::to_string(i + 1) + ": expected an object");
    json::object& object = doc.get_object();
    if (StringField(object, "kind") == "List" && object.contains("items") && object["items"].is_array()) {
      for (auto& item : object["items"].get_array()) {
        if (!item.is_object()) return MakeError("document " + std::to_string(i + 1) + ": List items must be objects");
        items.push_back({i + 1, std::move(item.get_object())});
      }
    } else {
      items.push_back({i + 1, std::move(object)});
    }
  }
  // Namespaces first, so that objects can be created in them.
  std::stable_partition(items.begin(), items.end(),
                        [](const Item& item) { return StringField(item.object, "kind") == "Namespace"; });

  const ResourceTypePtr namespaces = registry.Find("", "v1", "namespaces");
  for (auto& item : items) {
    const std::string where = "document " + std::to_string(item.document);
    const std::string api_version = StringField(item.object, "apiVersion");
    const std::string kind = StringField(item.object, "kind");
    const ResourceTypePtr type = registry.FindByKind(api_version, kind);
    if (type == nullptr) return MakeError(where + ": unknown kind " + kind + " in " + api_version);
    std::string ns;
    if (type->namespaced) {
      ns = MetadataString(item.object, "namespace");
      if (ns.empty()) ns = "default";
      if (Status s = EnsureNamespace(store, *namespaces, ns); !s.ok()) return s.error().Wrap(where);
    }
    ApplyDefaults(*type, item.object);
    const std::string name = MetadataString(item.object, "name");
    if (type->schema != nullptr) {  // as the API would: pruned, defaulted, validated
      std::vector<std::string> warnings;
      if (auto error = PruneCustomResource(*type, item.object, FieldValidation::kIgnore, warnings)) {
        return MakeError(where + ": " + error->message);
      }
      if (auto error = ValidateCustomResource(*type, item.object)) return MakeError(where + ": " + error->message);
    }
    if (IsCustomResourceDefinitionType(*type)) {
      // Checked as the API checks it, then served at once, like one created through the API.
      if (auto types = CustomResourceTypes(item.object); !types.ok()) {
        return MakeError(where + ": " + types.error().message);
      }
    }
    auto created = store.Create(*type, ns, std::move(item.object));
    if (!created.ok() && type == namespaces && created.error().reason == "AlreadyExists") continue;
    if (!created.ok()) return MakeError(where + ": " + kind + " " + name + ": " + created.error().message);
    if (IsCustomResourceDefinitionType(*type)) SyncCustomResourceDefinition(registry, store, name);
  }
  return OkStatus();
}

Status RegisterCustomResources(ResourceRegistry& registry, std::string_view yaml) {
  auto documents = ParseYamlDocuments(yaml);
  if (!documents.ok()) return documents.error();
  for (size_t i = 0; i < documents->size(); ++i) {
    const std::string where = "document " + std::to_string(i + 1);
    const json::value& doc = (*documents)[i];
    if (!doc.is_object() || StringField(doc.get_object(), "kind") != "CustomResourceDefinition" ||
        StringField(doc.get_object(), "apiVersion") != "apiextensions.k8s.io/v1") {
      return MakeError(where + ": expected an apiextensions.k8s.io/v1 CustomResourceDefinition");
    }
    auto types = CustomResourceTypes(doc.get_object());
    if (!types.ok()) return MakeError(where + ": " + types.error().message);
    if (auto conflict = registry.SetCustomResource(MetadataString(doc.get_object(), "name"), std::move(*types))) {
      return MakeError(where + ": " + conflict->message);
    }
  }
  return OkStatus();
}

std::string KubeconfigYaml(const std::string& name, const std::string& server_url, const std::string& token,
                           const std::string& ca_pem) {
  return "apiVersion: v1\n"
         "kind: Config\n"
         "clusters:\n"
         "- name: " +
         name +
         "\n"
         "  cluster:\n"
         "    server: " +
         server_url + "\n" +
         (ca_pem.empty() ? std::string() : "    certificate-authority-data: " + Base64Encode(ca_pem) + "\n") +
         "users:\n"
         "- name: " +
         name +
         "\n"
         "  user: " +
         (token.empty() ? std::string("{}") : "{token: \"" + token + "\"}") +
         "\n"
         "contexts:\n"
         "- name: " +
         name +
         "\n"
         "  context:\n"
         "    cluster: " +
         name +
         "\n"
         "    user: " +
         name +
         "\n"
         "    namespace: default\n"
         "current-context: " +
         name + "\n";
}

}  // namespace vmesh::kubesim
