#include "e2e/kubesim/json_patch.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

std::string Merge(const char* target, const char* patch) {
  return json::serialize(ApplyMergePatch(json::parse(target), json::parse(patch)));
}

std::string Strategic(const char* target, const char* patch) {
  auto result = ApplyStrategicMergePatch(json::parse(target), json::parse(patch));
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
  return result.ok() ? json::serialize(*result) : "";
}

void ExpectJsonEq(const std::string& actual, const char* expected) {
  EXPECT_EQ(json::parse(actual), json::parse(expected)) << actual;
}

// The examples of RFC 7386, appendix A.
TEST(MergePatchTest, Rfc7386Examples) {
  ExpectJsonEq(Merge(R"({"a":"b"})", R"({"a":"c"})"), R"({"a":"c"})");
  ExpectJsonEq(Merge(R"({"a":"b"})", R"({"b":"c"})"), R"({"a":"b","b":"c"})");
  ExpectJsonEq(Merge(R"({"a":"b"})", R"({"a":null})"), R"({})");
  ExpectJsonEq(Merge(R"({"a":"b","b":"c"})", R"({"a":null})"), R"({"b":"c"})");
  ExpectJsonEq(Merge(R"({"a":["b"]})", R"({"a":"c"})"), R"({"a":"c"})");
  ExpectJsonEq(Merge(R"({"a":"c"})", R"({"a":["b"]})"), R"({"a":["b"]})");
  ExpectJsonEq(Merge(R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})"), R"({"a":{"b":"d"}})");
  ExpectJsonEq(Merge(R"({"a":[{"b":"c"}]})", R"({"a":[1]})"), R"({"a":[1]})");
  ExpectJsonEq(Merge(R"(["a","b"])", R"(["c","d"])"), R"(["c","d"])");
  ExpectJsonEq(Merge(R"({"a":"b"})", R"(["c"])"), R"(["c"])");
  ExpectJsonEq(Merge(R"({"a":"foo"})", "null"), "null");
  ExpectJsonEq(Merge(R"({"e":null})", R"({"a":1})"), R"({"e":null,"a":1})");
  ExpectJsonEq(Merge(R"([1,2])", R"({"a":"b","c":null})"), R"({"a":"b"})");
  ExpectJsonEq(Merge(R"({})", R"({"a":{"bb":{"ccc":null}}})"), R"({"a":{"bb":{}}})");
}

std::string JsonPatch(const char* target, const char* patch) {
  auto result = ApplyJsonPatch(json::parse(target), json::parse(patch));
  return result.ok() ? json::serialize(*result) : "error: " + result.error().message;
}

// Examples from RFC 6902, appendix A.
TEST(JsonPatchTest, Rfc6902Examples) {
  ExpectJsonEq(JsonPatch(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])"),
               R"({"foo":"bar","baz":"qux"})");
  ExpectJsonEq(JsonPatch(R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])"),
               R"({"foo":["bar","qux","baz"]})");
  ExpectJsonEq(JsonPatch(R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/-","value":"x"}])"),
               R"({"foo":["bar","x"]})");
  ExpectJsonEq(JsonPatch(R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])"), R"({"foo":"bar"})");
  ExpectJsonEq(JsonPatch(R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])"),
               R"({"foo":["bar","baz"]})");
  ExpectJsonEq(JsonPatch(R"({"baz":"qux","foo":"bar"})", R"([{"op":"replace","path":"/baz","value":"boo"}])"),
               R"({"baz":"boo","foo":"bar"})");
  ExpectJsonEq(JsonPatch(R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
                         R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])"),
               R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})");
  ExpectJsonEq(JsonPatch(R"({"a":{"b":1}})", R"([{"op":"copy","from":"/a","path":"/c"}])"),
               R"({"a":{"b":1},"c":{"b":1}})");
  ExpectJsonEq(JsonPatch(R"({"/":{"~":1}})", R"([{"op":"replace","path":"/~1/~0","value":2}])"), R"({"/":{"~":2}})");
  EXPECT_EQ(JsonPatch(R"({"foo":"bar"})", R"([{"op":"test","path":"/foo","value":"baz"}])"),
            "error: operation 1: test failed at /foo");
  EXPECT_EQ(JsonPatch(R"({"foo":"bar"})", R"([{"op":"remove","path":"/nope"}])"),
            "error: operation 1: remove /nope: the path does not exist");
  EXPECT_EQ(JsonPatch(R"({"foo":["a"]})", R"([{"op":"add","path":"/foo/5","value":1}])").substr(0, 6), "error:");
  EXPECT_EQ(JsonPatch("{}", R"([{"op":"frobnicate","path":"/a"}])"), "error: operation 1: unknown op \"frobnicate\"");
}

constexpr const char* kPodSpec = R"({"containers":[
  {"name":"app","image":"app:1","ports":[{"containerPort":80},{"containerPort":443}]},
  {"name":"sidecar","image":"proxy:1"}]})";

TEST(StrategicMergePatchTest, MergesContainersByName) {
  // What `kubectl apply` sends after an image change: only the changed field of the element.
  ExpectJsonEq(Strategic(kPodSpec, R"({"$setElementOrder/containers":[{"name":"app"},{"name":"sidecar"}],
                                       "containers":[{"name":"app","image":"app:2"}]})"),
               R"({"containers":[
                    {"name":"app","image":"app:2","ports":[{"containerPort":80},{"containerPort":443}]},
                    {"name":"sidecar","image":"proxy:1"}]})");
}

TEST(StrategicMergePatchTest, AppendsDeletesAndReorders) {
  ExpectJsonEq(Strategic(kPodSpec, R"({"$setElementOrder/containers":[{"name":"init"},{"name":"app"}],
                                       "containers":[{"name":"init","image":"i:1"},
                                                     {"name":"sidecar","$patch":"delete"}]})"),
               R"({"containers":[{"name":"init","image":"i:1"},
                    {"name":"app","image":"app:1","ports":[{"containerPort":80},{"containerPort":443}]}]})");
}

TEST(StrategicMergePatchTest, MergesPortsByContainerPort) {
  ExpectJsonEq(Strategic(kPodSpec, R"({"containers":[{"name":"app","ports":[{"containerPort":443,"name":"https"}]}]})"),
               R"({"containers":[
                    {"name":"app","image":"app:1","ports":[{"containerPort":80},{"containerPort":443,"name":"https"}]},
                    {"name":"sidecar","image":"proxy:1"}]})");
}

TEST(StrategicMergePatchTest, ListsWithoutMergeKeyAreReplaced) {
  ExpectJsonEq(Strategic(R"({"args":["a","b"],"tolerations":[{"key":"x"}]})", R"({"args":["c"],"tolerations":[]})"),
               R"({"args":["c"],"tolerations":[]})");
}

TEST(StrategicMergePatchTest, Directives) {
  ExpectJsonEq(Strategic(R"({"a":{"x":1,"y":2},"b":1})", R"({"a":{"$patch":"replace","z":3}})"),
               R"({"a":{"z":3},"b":1})");
  ExpectJsonEq(Strategic(R"({"a":{"x":1,"y":2},"b":1})", R"({"a":{"$patch":"delete"}})"), R"({"a":{},"b":1})");
  ExpectJsonEq(Strategic(R"({"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}})",
                         R"({"strategy":{"$retainKeys":["type"],"type":"Recreate"}})"),
               R"({"strategy":{"type":"Recreate"}})");
  ExpectJsonEq(Strategic(R"({"finalizers":["a","b","c"]})", R"({"$deleteFromPrimitiveList/finalizers":["b"]})"),
               R"({"finalizers":["a","c"]})");
  ExpectJsonEq(Strategic(R"({"m":{"k":"v"}})", R"({"m":{"k":null},"n":{"$patch":"merge","q":1}})"),
               R"({"m":{},"n":{"q":1}})");
  EXPECT_FALSE(ApplyStrategicMergePatch(json::parse("{}"), json::parse(R"({"$patch":"explode"})")).ok());
}

}  // namespace
}  // namespace vmesh::kubesim
