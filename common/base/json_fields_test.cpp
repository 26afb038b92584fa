#include "common/base/json_fields.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace vmesh::jsonf {
namespace {

json::object Pod() {
  return json::parse(R"({"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "a", "n": 1},
                                     "annotations": {"x": "y"}},
                        "spec": {"replicas": 3, "big": 18446744073709551615, "paused": true, "list": [1, 2],
                                 "name": 7}})")
      .as_object();
}

TEST(JsonFields, ReadsPresentFieldsOfTheRightType) {
  const json::object pod = Pod();
  const json::object* spec = Obj(pod, "spec");
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(Int(spec, "replicas"), 3);
  EXPECT_TRUE(Bool(spec, "paused"));
  ASSERT_NE(Arr(spec, "list"), nullptr);
  EXPECT_EQ(Arr(spec, "list")->size(), 2u);
  EXPECT_EQ(Name(pod), "p");
  EXPECT_EQ(Namespace(pod), "ns");
  EXPECT_EQ(Labels(pod), (std::map<std::string, std::string>{{"app", "a"}}));
  EXPECT_EQ(Annotations(pod).at("x"), "y");
  EXPECT_EQ(StrAt(pod, {"metadata", "labels", "app"}), "a");
  EXPECT_EQ(IntAt(pod, {"spec", "replicas"}), 3);
  EXPECT_EQ(ObjAt(pod, {"metadata", "annotations"}).size(), 1u);
}

TEST(JsonFields, MissingOrMistypedFieldsAreEmptyNotThrown) {
  const json::object pod = Pod();
  const json::object* spec = Obj(pod, "spec");
  EXPECT_EQ(Str(spec, "name"), "") << "a number is not a string";
  EXPECT_EQ(Obj(spec, "replicas"), nullptr);
  EXPECT_EQ(Arr(spec, "paused"), nullptr);
  EXPECT_EQ(Int(spec, "missing", -1), -1);
  EXPECT_EQ(Int(spec, "paused", -1), -1);
  EXPECT_FALSE(Bool(spec, "replicas"));
  EXPECT_EQ(Str(nullptr, "x"), "");
  EXPECT_TRUE(StrMap(nullptr).empty());
  EXPECT_EQ(At(pod, {"metadata", "name", "deeper"}), nullptr);
  EXPECT_EQ(At(json::value(1), {"a"}), nullptr);
  EXPECT_TRUE(ObjAt(pod, {"status"}).empty());
}

TEST(JsonFields, EnsureCreatesOrReplacesAnObjectMember) {
  json::object o{{"data", 1}};
  Ensure(o, "data")["k"] = "v";
  Ensure(Ensure(o, "metadata"), "labels")["app"] = "a";
  EXPECT_EQ(StrAt(o, {"data", "k"}), "v");
  EXPECT_EQ(Labels(o).at("app"), "a");
}

}  // namespace
}  // namespace vmesh::jsonf
