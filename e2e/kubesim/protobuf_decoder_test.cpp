#include "e2e/kubesim/protobuf_decoder.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

// A minimal protobuf writer for building request bodies as client-go does.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}
std::string Bytes(int field, const std::string& value) {
  return Varint((field << 3) | 2) + Varint(value.size()) + value;
}
std::string Int(int field, uint64_t value) { return Varint(field << 3) + Varint(value); }
std::string MapEntry(int field, const std::string& key, const std::string& value) {
  return Bytes(field, Bytes(1, key) + Bytes(2, value));
}
std::string Envelope(const std::string& api_version, const std::string& kind, const std::string& raw) {
  return std::string("k8s\0", 4) + Bytes(1, Bytes(1, api_version) + Bytes(2, kind)) + Bytes(2, raw) + Bytes(3, "") +
         Bytes(4, "");
}
// ObjectMeta as gogo-protobuf writes it: every non-pointer field, zero or not.
std::string ObjectMeta(const std::string& name, const std::string& labels = "") {
  return Bytes(1, Bytes(1, name) + Bytes(2, "") + Bytes(3, "") + Bytes(4, "") + Bytes(5, "") + Bytes(6, "") +
                      Int(7, 0) + Bytes(8, "") + labels);
}

TEST(ProtobufDecoderTest, Namespace) {
  auto decoded = DecodeKubernetesProtobuf(
      Envelope("v1", "Namespace", ObjectMeta("team-a") + Bytes(2, "") + Bytes(3, Bytes(1, ""))));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(
      json::value(*decoded),
      json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-a"},"spec":{},"status":{}})"));
}

TEST(ProtobufDecoderTest, SecretDataIsBase64AndMapsCollect) {
  std::string raw = ObjectMeta("s", MapEntry(11, "app", "web") + MapEntry(11, "tier", "")) +
                    MapEntry(2, "password", std::string("p\0w", 3)) + MapEntry(2, "k", "ab") + Bytes(3, "Opaque");
  auto decoded = DecodeKubernetesProtobuf(Envelope("v1", "Secret", raw));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->at("metadata").at("labels"), json::parse(R"({"app":"web","tier":""})"));
  EXPECT_EQ(decoded->at("data"), json::parse(R"({"password":"cAB3","k":"YWI="})"));
  EXPECT_EQ(decoded->at("type"), "Opaque");
}

TEST(ProtobufDecoderTest, DeploymentKeepsPointerZeros) {
  std::string container = Bytes(1, "nginx") + Bytes(2, "nginx:1") + Bytes(6, Bytes(1, "") + Int(2, 0) + Int(3, 80));
  std::string pod_spec = Bytes(2, container) + Int(11, 0);
  std::string spec = Int(1, 0) + Bytes(2, MapEntry(1, "app", "d")) +
                     Bytes(3, ObjectMeta("", MapEntry(11, "app", "d")) + Bytes(2, pod_spec)) + Bytes(4, Bytes(1, "")) +
                     Int(5, 0) + Int(7, 0);
  auto decoded = DecodeKubernetesProtobuf(Envelope("apps/v1", "Deployment", ObjectMeta("d") + Bytes(2, spec)));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->at("spec"), json::parse(R"({"replicas":0,"selector":{"matchLabels":{"app":"d"}},
      "template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1",
      "ports":[{"containerPort":80}]}]}},"strategy":{}})"))
      << json::serialize(*decoded);
}

// client-go's typed clients send DeleteOptions as protobuf (helm deletes its release Secrets so); pointer fields
// are kept even when zero.
TEST(ProtobufDecoderTest, DeleteOptions) {
  const std::string raw =
      Int(1, 0) + Bytes(2, Bytes(1, "u-1") + Bytes(2, "42")) + Bytes(4, "Background") + Bytes(5, "All");
  for (const char* api_version : {"v1", "meta.k8s.io/v1"}) {
    auto decoded = DecodeKubernetesProtobuf(Envelope(api_version, "DeleteOptions", raw));
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded->at("gracePeriodSeconds"), 0);
    EXPECT_EQ(decoded->at("preconditions"), json::parse(R"({"uid":"u-1","resourceVersion":"42"})"));
    EXPECT_EQ(decoded->at("propagationPolicy"), "Background");
    EXPECT_EQ(decoded->at("dryRun"), json::parse(R"(["All"])"));
  }
  auto empty = DecodeKubernetesProtobuf(Envelope("v1", "DeleteOptions", ""));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(json::value(*empty), json::parse(R"({"apiVersion":"v1","kind":"DeleteOptions"})"));
}

TEST(ProtobufDecoderTest, RejectsWhatItCannotRead) {
  EXPECT_FALSE(DecodeKubernetesProtobuf("{}").ok());
  auto service = DecodeKubernetesProtobuf(Envelope("v1", "Service", ObjectMeta("s")));
  ASSERT_FALSE(service.ok());
  EXPECT_NE(service.error().message.find("not Service in v1"), std::string::npos) << service.error().message;
  auto unknown_field = DecodeKubernetesProtobuf(Envelope("v1", "ConfigMap", ObjectMeta("c") + Bytes(9, "x")));
  ASSERT_FALSE(unknown_field.ok());
  EXPECT_EQ(unknown_field.error().message, "field 9 of ConfigMap is not supported");
  EXPECT_FALSE(DecodeKubernetesProtobuf(Envelope("v1", "ConfigMap", "\x0a\x7f")).ok());  // truncated
}

}  // namespace
}  // namespace vmesh::kubesim
