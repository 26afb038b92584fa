#include "e2e/kubesim/protobuf_decoder.h"

#include <boost/json/array.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "common/base/base64.h"
#include "common/base/time.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

enum class Type {
  kString,
  kBytes,   // base64 in JSON
  kVarint,  // int32/int64
  kBool,
  kMessage,
  kTime,         // metav1.Time: RFC 3339 in JSON
  kStringMap,    // map<string,string>
  kBytesMap,     // map<string,bytes>
  kIntOrString,  // intstr.IntOrString
  kQuantityMap,  // map<string, resource.Quantity>
};

struct MessageType;

struct Field {
  int number;
  const char* name;
  Type type;
  bool repeated = false;
  const MessageType* message = nullptr;
  bool keep_zero = false;  // a pointer field in Go: present means set, even to zero
};

struct MessageType {
  const char* name;
  std::vector<Field> fields;
};

// Field numbers from k8s.io/api and k8s.io/apimachinery generated.proto.
const MessageType kTimeType{"Time", {}};
const MessageType kOwnerReference{"OwnerReference",
                                  {{1, "kind", Type::kString},
                                   {3, "name", Type::kString},
                                   {4, "uid", Type::kString},
                                   {5, "apiVersion", Type::kString},
                                   {6, "controller", Type::kBool, false, nullptr, true},
                                   {7, "blockOwnerDeletion", Type::kBool, false, nullptr, true}}};
const MessageType kObjectMeta{"ObjectMeta",
                              {{1, "name", Type::kString},
                               {2, "generateName", Type::kString},
                               {3, "namespace", Type::kString},
                               {4, "selfLink", Type::kString},
                               {5, "uid", Type::kString},
                               {6, "resourceVersion", Type::kString},
                               {7, "generation", Type::kVarint},
                               {8, "creationTimestamp", Type::kTime},
                               {9, "deletionTimestamp", Type::kTime},
                               {10, "deletionGracePeriodSeconds", Type::kVarint, false, nullptr, true},
                               {11, "labels", Type::kStringMap},
                               {12, "annotations", Type::kStringMap},
                               {13, "ownerReferences", Type::kMessage, true, &kOwnerReference},
                               {14, "finalizers", Type::kString, true}}};
const MessageType kNamespaceSpec{"NamespaceSpec", {{1, "finalizers", Type::kString, true}}};
const MessageType kNamespaceStatus{"NamespaceStatus", {{1, "phase", Type::kString}}};
const MessageType kNamespace{"Namespace",
                             {{1, "metadata", Type::kMessage, false, &kObjectMeta},
                              {2, "spec", Type::kMessage, false, &kNamespaceSpec},
                              {3, "status", Type::kMessage, false, &kNamespaceStatus}}};
const MessageType kConfigMap{"ConfigMap",
                             {{1, "metadata", Type::kMessage, false, &kObjectMeta},
                              {2, "data", Type::kStringMap},
                              {3, "binaryData", Type::kBytesMap},
                              {4, "immutable", Type::kBool, false, nullptr, true}}};
const MessageType kSecret{"Secret",
                          {{1, "metadata", Type::kMessage, false, &kObjectMeta},
                           {2, "data", Type::kBytesMap},
                           {3, "type", Type::kString},
                           {4, "stringData", Type::kStringMap},
                           {5, "immutable", Type::kBool, false, nullptr, true}}};
const MessageType kObjectReference{"ObjectReference",
                                   {{1, "kind", Type::kString},
                                    {2, "namespace", Type::kString},
                                    {3, "name", Type::kString},
                                    {4, "uid", Type::kString},
                                    {5, "apiVersion", Type::kString},
                                    {6, "resourceVersion", Type::kString},
                                    {7, "fieldPath", Type::kString}}};
const MessageType kLocalObjectReference{"LocalObjectReference", {{1, "name", Type::kString}}};
const MessageType kServiceAccount{"ServiceAccount",
                                  {{1, "metadata", Type::kMessage, false, &kObjectMeta},
                                   {2, "secrets", Type::kMessage, true, &kObjectReference},
                                   {3, "imagePullSecrets", Type::kMessage, true, &kLocalObjectReference},
                                   {4, "automountServiceAccountToken", Type::kBool, false, nullptr, true}}};
const MessageType kLabelSelectorRequirement{
    "LabelSelectorRequirement",
    {{1, "key", Type::kString}, {2, "operator", Type::kString}, {3, "values", Type::kString, true}}};
const MessageType kLabelSelector{
    "LabelSelector",
    {{1, "matchLabels", Type::kStringMap}, {2, "matchExpressions", Type::kMessage, true, &kLabelSelectorRequirement}}};
const MessageType kContainerPort{"ContainerPort",
                                 {{1, "name", Type::kString},
                                  {2, "hostPort", Type::kVarint},
                                  {3, "containerPort", Type::kVarint, false, nullptr, true},
                                  {4, "protocol", Type::kString},
                                  {5, "hostIP", Type::kString}}};
const MessageType kEnvVar{"EnvVar", {{1, "name", Type::kString}, {2, "value", Type::kString}}};
const MessageType kResourceRequirements{"ResourceRequirements",
                                        {{1, "limits", Type::kQuantityMap}, {2, "requests", Type::kQuantityMap}}};
const MessageType kContainer{"Container",
                             {{1, "name", Type::kString},
                              {2, "image", Type::kString},
                              {3, "command", Type::kString, true},
                              {4, "args", Type::kString, true},
                              {5, "workingDir", Type::kString},
                              {6, "ports", Type::kMessage, true, &kContainerPort},
                              {7, "env", Type::kMessage, true, &kEnvVar},
                              {8, "resources", Type::kMessage, false, &kResourceRequirements},
                              {13, "terminationMessagePath", Type::kString},
                              {14, "imagePullPolicy", Type::kString},
                              {16, "stdin", Type::kBool},
                              {17, "stdinOnce", Type::kBool},
                              {18, "tty", Type::kBool},
                              {20, "terminationMessagePolicy", Type::kString}}};
const MessageType kPodSpec{"PodSpec",
                           {{2, "containers", Type::kMessage, true, &kContainer},
                            {3, "restartPolicy", Type::kString},
                            {4, "terminationGracePeriodSeconds", Type::kVarint, false, nullptr, true},
                            {6, "dnsPolicy", Type::kString},
                            {7, "nodeSelector", Type::kStringMap},
                            {8, "serviceAccountName", Type::kString},
                            {9, "serviceAccount", Type::kString},
                            {10, "nodeName", Type::kString},
                            {11, "hostNetwork", Type::kBool},
                            {12, "hostPID", Type::kBool},
                            {13, "hostIPC", Type::kBool},
                            {15, "imagePullSecrets", Type::kMessage, true, &kLocalObjectReference},
                            {16, "hostname", Type::kString},
                            {17, "subdomain", Type::kString},
                            {19, "schedulerName", Type::kString},
                            {20, "initContainers", Type::kMessage, true, &kContainer},
                            {21, "automountServiceAccountToken", Type::kBool, false, nullptr, true},
                            {24, "priorityClassName", Type::kString},
                            {25, "priority", Type::kVarint, false, nullptr, true},
                            {27, "shareProcessNamespace", Type::kBool, false, nullptr, true},
                            {29, "runtimeClassName", Type::kString},
                            {31, "enableServiceLinks", Type::kBool, false, nullptr, true},
                            {32, "preemptionPolicy", Type::kString},
                            {35, "setHostnameAsFQDN", Type::kBool, false, nullptr, true},
                            {37, "hostUsers", Type::kBool, false, nullptr, true}}};
const MessageType kPodTemplateSpec{
    "PodTemplateSpec",
    {{1, "metadata", Type::kMessage, false, &kObjectMeta}, {2, "spec", Type::kMessage, false, &kPodSpec}}};
const MessageType kRollingUpdateDeployment{
    "RollingUpdateDeployment", {{1, "maxUnavailable", Type::kIntOrString}, {2, "maxSurge", Type::kIntOrString}}};
const MessageType kDeploymentStrategy{
    "DeploymentStrategy",
    {{1, "type", Type::kString}, {2, "rollingUpdate", Type::kMessage, false, &kRollingUpdateDeployment}}};
const MessageType kDeploymentSpec{"DeploymentSpec",
                                  {{1, "replicas", Type::kVarint, false, nullptr, true},
                                   {2, "selector", Type::kMessage, false, &kLabelSelector},
                                   {3, "template", Type::kMessage, false, &kPodTemplateSpec},
                                   {4, "strategy", Type::kMessage, false, &kDeploymentStrategy},
                                   {5, "minReadySeconds", Type::kVarint},
                                   {6, "revisionHistoryLimit", Type::kVarint, false, nullptr, true},
                                   {7, "paused", Type::kBool},
                                   {9, "progressDeadlineSeconds", Type::kVarint, false, nullptr, true}}};
const MessageType kDeploymentStatus{"DeploymentStatus",
                                    {{1, "observedGeneration", Type::kVarint},
                                     {2, "replicas", Type::kVarint},
                                     {3, "updatedReplicas", Type::kVarint},
                                     {4, "availableReplicas", Type::kVarint},
                                     {5, "unavailableReplicas", Type::kVarint},
                                     {7, "readyReplicas", Type::kVarint},
                                     {8, "collisionCount", Type::kVarint, false, nullptr, true},
                                     {9, "terminatingReplicas", Type::kVarint, false, nullptr, true}}};
const MessageType kDeployment{"Deployment",
                              {{1, "metadata", Type::kMessage, false, &kObjectMeta},
                               {2, "spec", Type::kMessage, false, &kDeploymentSpec},
                               {3, "status", Type::kMessage, false, &kDeploymentStatus}}};

// The body of a DELETE by a typed client (helm's release storage deletes its Secrets so). All pointers in Go but
// dryRun.
const MessageType kPreconditions{
    "Preconditions",
    {{1, "uid", Type::kString, false, nullptr, true}, {2, "resourceVersion", Type::kString, false, nullptr, true}}};
const MessageType kDeleteOptions{
    "DeleteOptions",
    {{1, "gracePeriodSeconds", Type::kVarint, false, nullptr, true},
     {2, "preconditions", Type::kMessage, false, &kPreconditions, true},
     {3, "orphanDependents", Type::kBool, false, nullptr, true},
     {4, "propagationPolicy", Type::kString, false, nullptr, true},
     {5, "dryRun", Type::kString, true},
     {6, "ignoreStoreReadErrorWithClusterBreakingPotential", Type::kBool, false, nullptr, true}}};

struct TopLevel {
  const char* api_version;
  const MessageType* type;
};
const TopLevel kTopLevel[] = {
    {"v1", &kNamespace},
    {"v1", &kConfigMap},
    {"v1", &kSecret},
    {"v1", &kServiceAccount},
    {"apps/v1", &kDeployment},
    // client-go encodes DeleteOptions in the group version of the client; meta.k8s.io/v1 is its own group.
    {"v1", &kDeleteOptions},
    {"apps/v1", &kDeleteOptions},
    {"meta.k8s.io/v1", &kDeleteOptions}};

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }

  bool Varint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return false;
      uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *out = v;
        return true;
      }
    }
    return false;
  }
  bool Bytes(std::string_view* out) {
    uint64_t len;
    if (!Varint(&len) || len > data_.size() - pos_) return false;
    *out = data_.substr(pos_, len);
    pos_ += len;
    return true;
  }
  bool Skip(size_t n) {
    if (n > data_.size() - pos_) return false;
    pos_ += n;
    return true;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

Result<json::object> DecodeMessage(std::string_view data, const MessageType& type);

// A map entry or a small fixed message: string fields by number.
Result<std::vector<std::string>> DecodeStrings(std::string_view data, const std::string& where, int max_field) {
  std::vector<std::string> fields(static_cast<size_t>(max_field) + 1);
  Reader r(data);
  while (!r.done()) {
    uint64_t tag;
    std::string_view value;
    if (!r.Varint(&tag) || (tag & 7) != 2 || !r.Bytes(&value) || (tag >> 3) > static_cast<uint64_t>(max_field)) {
      return MakeError("malformed " + where);
    }
    fields[tag >> 3] = std::string(value);
  }
  return fields;
}

Result<json::value> DecodeIntOrString(std::string_view data) {
  Reader r(data);
  int64_t kind = 0, int_val = 0;
  std::string str_val;
  while (!r.done()) {
    uint64_t tag, v;
    std::string_view bytes;
    if (!r.Varint(&tag)) return MakeError("malformed IntOrString");
    switch (tag) {
      case (1 << 3) | 0:
        if (!r.Varint(&v)) return MakeError("malformed IntOrString");
        kind = static_cast<int64_t>(v);
        break;
      case (2 << 3) | 0:
        if (!r.Varint(&v)) return MakeError("malformed IntOrString");
        int_val = static_cast<int32_t>(v);
        break;
      case (3 << 3) | 2:
        if (!r.Bytes(&bytes)) return MakeError("malformed IntOrString");
        str_val = std::string(bytes);
        break;
      default:
        return MakeError("malformed IntOrString");
    }
  }
  if (kind == 1) return json::value(json::string(str_val));
  return json::value(int_val);
}

bool IsZero(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return v.get_string().empty();
    case json::kind::int64:
      return v.get_int64() == 0;
    case json::kind::bool_:
      return !v.get_bool();
    case json::kind::null:
      return true;
    default:
      return false;
  }
}

Result<json::object> DecodeMessage(std::string_view data, const MessageType& type) {
  json::object out;
  Reader r(data);
  while (!r.done()) {
    uint64_t tag;
    if (!r.Varint(&tag)) return MakeError("malformed " + std::string(type.name));
    const int number = static_cast<int>(tag >> 3);
    const int wire = static_cast<int>(tag & 7);
    const Field* field = nullptr;
    for (const auto& f : type.fields) {
      if (f.number == number) field = &f;
    }
    if (field == nullptr) {
      return MakeError("field " + std::to_string(number) + " of " + type.name + " is not supported");
    }
    const std::string where = std::string(type.name) + "." + field->name;
    json::value value;
    if (wire == 0) {
      uint64_t v;
      if (!r.Varint(&v)) return MakeError("malformed " + where);
      if (field->type == Type::kBool) {
        value = v != 0;
      } else if (field->type == Type::kVarint) {
        value = static_cast<int64_t>(v);
      } else {
        return MakeError("unexpected varint for " + where);
      }
    } else if (wire == 2) {
      std::string_view bytes;
      if (!r.Bytes(&bytes)) return MakeError("malformed " + where);
      switch (field->type) {
        case Type::kString:
          value = json::string(bytes);
          break;
        case Type::kBytes:
          value = json::string(Base64Encode(bytes));
          break;
        case Type::kMessage: {
          auto nested = DecodeMessage(bytes, *field->message);
          if (!nested.ok()) return nested.error();
          value = std::move(*nested);
          break;
        }
        case Type::kTime: {
          Reader t(bytes);
          uint64_t seconds = 0;
          while (!t.done()) {
            uint64_t ttag, v;
            if (!t.Varint(&ttag) || (ttag & 7) != 0 || !t.Varint(&v)) return MakeError("malformed " + where);
            if ((ttag >> 3) == 1) seconds = v;
          }
          if (seconds != 0)
            value = json::string(FormatRfc3339(TimePoint(std::chrono::seconds(static_cast<int64_t>(seconds)))));
          break;
        }
        case Type::kStringMap:
        case Type::kBytesMap:
        case Type::kQuantityMap: {
          auto entry = DecodeStrings(bytes, where, 2);
          if (!entry.ok()) return entry.error();
          std::string v = (*entry)[2];
          if (field->type == Type::kBytesMap) v = Base64Encode(v);
          if (field->type == Type::kQuantityMap) {
            auto quantity = DecodeStrings(v, where, 1);
            if (!quantity.ok()) return quantity.error();
            v = (*quantity)[1];
          }
          json::value& map = out[field->name];
          if (!map.is_object()) map = json::object();
          map.get_object()[(*entry)[1]] = std::move(v);
          continue;
        }
        case Type::kIntOrString: {
          auto v = DecodeIntOrString(bytes);
          if (!v.ok()) return v.error();
          value = std::move(*v);
          break;
        }
        default:
          return MakeError("unexpected bytes for " + where);
      }
    } else if (wire == 1) {
      if (!r.Skip(8)) return MakeError("malformed " + where);
      return MakeError("unexpected fixed64 for " + where);
    } else {
      return MakeError("unexpected wire type " + std::to_string(wire) + " for " + where);
    }
    if (field->repeated) {
      json::value& list = out[field->name];
      if (!list.is_array()) list = json::array();
      list.get_array().push_back(std::move(value));
      continue;
    }
    if (!field->keep_zero && IsZero(value)) continue;
    out[field->name] = std::move(value);
  }
  return out;
}

}  // namespace

Result<json::object> DecodeKubernetesProtobuf(std::string_view body) {
  constexpr std::string_view kMagic("k8s\0", 4);
  if (!body.starts_with(kMagic)) return MakeError("the protobuf body lacks the Kubernetes envelope");
  auto envelope = DecodeStrings(body.substr(kMagic.size()), "protobuf envelope", 4);
  if (!envelope.ok()) return envelope.error();
  auto type_meta = DecodeStrings((*envelope)[1], "protobuf TypeMeta", 2);
  if (!type_meta.ok()) return type_meta.error();
  const std::string& api_version = (*type_meta)[1];
  const std::string& kind = (*type_meta)[2];
  if (!(*envelope)[3].empty()) return MakeError("protobuf content encoding " + (*envelope)[3] + " is not supported");
  for (const auto& top : kTopLevel) {
    if (api_version != top.api_version || kind != top.type->name) continue;
    auto object = DecodeMessage((*envelope)[2], *top.type);
    if (!object.ok()) return object.error();
    json::object result{{"apiVersion", api_version}, {"kind", kind}};
    for (auto& [k, v] : *object) result[k] = std::move(v);
    return result;
  }
  return MakeError(
      "kubesim reads protobuf only for Namespace, ConfigMap, Secret, ServiceAccount, Deployment and DeleteOptions, "
      "not " +
      kind + " in " + api_version + "; send JSON");
}

}  // namespace vmesh::kubesim
