#include "e2e/kubesim/selector.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

json::object Obj(const char* text) { return json::parse(text).as_object(); }

bool LabelsMatch(const char* selector, const char* labels) {
  auto parsed = LabelSelector::Parse(selector);
  EXPECT_TRUE(parsed.ok()) << selector << ": " << (parsed.ok() ? "" : parsed.error().message);
  return parsed.ok() && parsed->Matches(Obj(labels));
}

TEST(LabelSelectorTest, EmptyMatchesEverything) {
  EXPECT_TRUE(LabelsMatch("", "{}"));
  EXPECT_TRUE(LabelsMatch("  ", R"({"a":"b"})"));
}

TEST(LabelSelectorTest, EqualityAndInequality) {
  EXPECT_TRUE(LabelsMatch("app=web", R"({"app":"web"})"));
  EXPECT_TRUE(LabelsMatch("app==web", R"({"app":"web","x":"y"})"));
  EXPECT_FALSE(LabelsMatch("app=web", R"({"app":"db"})"));
  EXPECT_FALSE(LabelsMatch("app=web", "{}"));
  EXPECT_TRUE(LabelsMatch("app!=web", R"({"app":"db"})"));
  EXPECT_TRUE(LabelsMatch("app!=web", "{}"));  // a missing label is not equal
  EXPECT_FALSE(LabelsMatch("app!=web", R"({"app":"web"})"));
  EXPECT_TRUE(LabelsMatch("app=web,tier=front", R"({"app":"web","tier":"front"})"));
  EXPECT_FALSE(LabelsMatch("app=web,tier=front", R"({"app":"web","tier":"back"})"));
}

TEST(LabelSelectorTest, SetBased) {
  EXPECT_TRUE(LabelsMatch("env in (prod, staging)", R"({"env":"staging"})"));
  EXPECT_FALSE(LabelsMatch("env in (prod,staging)", R"({"env":"dev"})"));
  EXPECT_FALSE(LabelsMatch("env in (prod)", "{}"));
  EXPECT_TRUE(LabelsMatch("env notin (prod)", R"({"env":"dev"})"));
  EXPECT_TRUE(LabelsMatch("env notin (prod)", "{}"));
  EXPECT_FALSE(LabelsMatch("env notin (prod,dev)", R"({"env":"dev"})"));
  EXPECT_TRUE(LabelsMatch("app,env in (a,b),!legacy", R"({"app":"x","env":"b"})"));
  EXPECT_FALSE(LabelsMatch("app,!legacy", R"({"app":"x","legacy":"true"})"));
  EXPECT_FALSE(LabelsMatch("app", R"({"other":"x"})"));
  EXPECT_TRUE(LabelsMatch("example.com/team=core", R"({"example.com/team":"core"})"));
}

TEST(LabelSelectorTest, NumericComparisons) {
  EXPECT_TRUE(LabelsMatch("replicas>2", R"({"replicas":"3"})"));
  EXPECT_FALSE(LabelsMatch("replicas>2", R"({"replicas":"2"})"));
  EXPECT_TRUE(LabelsMatch("replicas<2", R"({"replicas":"1"})"));
  EXPECT_FALSE(LabelsMatch("replicas<2", R"({"replicas":"x"})"));
}

TEST(LabelSelectorTest, RejectsMalformedSelectors) {
  EXPECT_FALSE(LabelSelector::Parse("env in (a,b").ok());
  EXPECT_FALSE(LabelSelector::Parse("env within (a)").ok());
  EXPECT_FALSE(LabelSelector::Parse("=web").ok());
  EXPECT_FALSE(LabelSelector::Parse("app=we b").ok());
  EXPECT_FALSE(LabelSelector::Parse("a>b").ok());
  EXPECT_FALSE(LabelSelector::Parse("a,,b").ok());
}

TEST(LabelSelectorTest, MatchesObjectLabels) {
  auto s = LabelSelector::Parse("app=web");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->MatchesObject(Obj(R"({"metadata":{"labels":{"app":"web"}}})")));
  EXPECT_FALSE(s->MatchesObject(Obj(R"({"metadata":{"name":"x"}})")));
}

TEST(FieldSelectorTest, MetadataFields) {
  auto s = FieldSelector::Parse("metadata.name=a,metadata.namespace!=kube-system");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->MatchesObject(Obj(R"({"metadata":{"name":"a","namespace":"default"}})")));
  EXPECT_FALSE(s->MatchesObject(Obj(R"({"metadata":{"name":"a","namespace":"kube-system"}})")));
  EXPECT_FALSE(s->MatchesObject(Obj(R"({"metadata":{"name":"b","namespace":"default"}})")));
}

TEST(FieldSelectorTest, NestedAndMissingFields) {
  auto phase = FieldSelector::Parse("status.phase==Running");
  ASSERT_TRUE(phase.ok());
  EXPECT_TRUE(phase->MatchesObject(Obj(R"({"status":{"phase":"Running"}})")));
  EXPECT_FALSE(phase->MatchesObject(Obj(R"({"status":{}})")));
  auto empty_node = FieldSelector::Parse("spec.nodeName=");
  ASSERT_TRUE(empty_node.ok());
  EXPECT_TRUE(empty_node->MatchesObject(Obj(R"({"spec":{}})")));  // missing matches as ""
  EXPECT_FALSE(FieldSelector::Parse("metadata.name").ok());
}

}  // namespace
}  // namespace vmesh::kubesim
