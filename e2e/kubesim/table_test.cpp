#include "e2e/kubesim/table.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;
using std::chrono::seconds;

ObjectPtr Obj(const char* text) { return std::make_shared<const json::object>(json::parse(text).as_object()); }

TEST(HumanDurationTest, MatchesKubernetes) {
  EXPECT_EQ(HumanDuration(seconds(-5)), "<invalid>");
  EXPECT_EQ(HumanDuration(seconds(0)), "0s");
  EXPECT_EQ(HumanDuration(seconds(119)), "119s");
  EXPECT_EQ(HumanDuration(seconds(200)), "3m20s");
  EXPECT_EQ(HumanDuration(seconds(300)), "5m");
  EXPECT_EQ(HumanDuration(seconds(45 * 60)), "45m");
  EXPECT_EQ(HumanDuration(seconds(5 * 3600 + 7 * 60)), "5h7m");
  EXPECT_EQ(HumanDuration(seconds(30 * 3600)), "30h");
  EXPECT_EQ(HumanDuration(seconds(3 * 86400 + 4 * 3600)), "3d4h");
  EXPECT_EQ(HumanDuration(seconds(100 * 86400)), "100d");
  EXPECT_EQ(HumanDuration(seconds((3 * 365 + 10) * 86400)), "3y10d");
}

TEST(TableTest, WantsTable) {
  EXPECT_TRUE(WantsTable("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"));
  EXPECT_FALSE(WantsTable("application/json"));
  EXPECT_FALSE(WantsTable("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"));
}

TEST(TableTest, PodColumnsAndRows) {
  ResourceRegistry registry = MakeBuiltinRegistry();
  auto now = std::chrono::system_clock::from_time_t(1767225600 + 90);  // 90 s after creation
  json::object table =
      RenderTable(*registry.Find("", "v1", "pods"), {Obj(R"({"metadata":{"name":"web-1","namespace":"default",
                                     "creationTimestamp":"2026-01-01T00:00:00Z","managedFields":[{}]},
                                     "spec":{"containers":[{"name":"a"},{"name":"b"}],"nodeName":"n1"},
                                     "status":{"phase":"Running","podIP":"10.0.0.7","containerStatuses":[
                                       {"name":"a","ready":true,"restartCount":2},{"name":"b","ready":false}]}})")},
                  now);
  EXPECT_EQ(table.at("kind"), "Table");
  EXPECT_EQ(table.at("apiVersion"), "meta.k8s.io/v1");
  std::vector<std::string> names;
  for (const auto& c : table.at("columnDefinitions").as_array()) names.emplace_back(c.at("name").as_string());
  EXPECT_EQ(names, (std::vector<std::string>{"Name", "Ready", "Status", "Restarts", "Age", "IP", "Node"}));
  const json::value& row = table.at("rows").at(0);
  EXPECT_EQ(row.at("cells"), json::parse(R"(["web-1","1/2","Running",2,"90s","10.0.0.7","n1"])"));
  EXPECT_EQ(row.at("object").at("kind"), "PartialObjectMetadata");
  EXPECT_FALSE(row.at("object").at("metadata").as_object().contains("managedFields"));
}

TEST(TableTest, DeploymentsServicesAndDefaults) {
  ResourceRegistry registry = MakeBuiltinRegistry();
  auto now = std::chrono::system_clock::from_time_t(1767225600);
  json::object deployments =
      RenderTable(*registry.Find("apps", "v1", "deployments"),
                  {Obj(R"({"metadata":{"name":"web"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
          "template":{"spec":{"containers":[{"name":"c","image":"nginx:1"}]}}},
          "status":{"readyReplicas":2,"updatedReplicas":3,"availableReplicas":2}})")},
                  now);
  EXPECT_EQ(deployments.at("rows").at(0).at("cells"),
            json::parse(R"(["web","2/3",3,2,"<unknown>","c","nginx:1","app=web"])"));
  json::object services =
      RenderTable(*registry.Find("", "v1", "services"),
                  {Obj(R"({"metadata":{"name":"gw"},"spec":{"type":"LoadBalancer","clusterIP":"10.96.0.9",
          "ports":[{"port":15443,"protocol":"TCP"}]},"status":{"loadBalancer":{"ingress":[{"ip":"172.18.0.1"}]}}})")},
                  now);
  EXPECT_EQ(services.at("rows").at(0).at("cells"),
            json::parse(R"(["gw","LoadBalancer","10.96.0.9","172.18.0.1","15443/TCP","<unknown>","<none>"])"));
  json::object leases = RenderTable(*registry.Find("coordination.k8s.io", "v1", "leases"),
                                    {Obj(R"({"metadata":{"name":"l"},"spec":{"holderIdentity":"hub-0"}})")}, now);
  ASSERT_EQ(leases.at("columnDefinitions").as_array().size(), 3u);  // Name, Holder, Age
  EXPECT_EQ(leases.at("columnDefinitions").at(1).at("name"), "Holder");
  EXPECT_EQ(leases.at("rows").at(0).at("cells").at(1), "hub-0");
}

TEST(TableTest, CustomResourcePrinterColumns) {
  ResourceType se{"networking.istio.io", "v1", "serviceentries", "ServiceEntry", "serviceentry"};
  se.builtin = false;
  se.printer_columns = {{"Hosts", "string", ".spec.hosts"},
                        {"Resolution", "string", ".spec.resolution"},
                        {"Ports", "integer", ".spec.ports", 1},
                        {"Age", "date", ".metadata.creationTimestamp"}};
  auto now = std::chrono::system_clock::from_time_t(1767225600 + 300);
  json::object table = RenderTable(se, {Obj(R"({"metadata":{"name":"ext","creationTimestamp":"2026-01-01T00:00:00Z"},
                                     "spec":{"hosts":["a.io","b.io"],"ports":[{"number":443}]}})")},
                                   now);
  std::vector<std::string> names;
  for (const auto& c : table.at("columnDefinitions").as_array()) names.emplace_back(c.at("name").as_string());
  EXPECT_EQ(names, (std::vector<std::string>{"Name", "Hosts", "Resolution", "Ports", "Age"}));
  EXPECT_EQ(table.at("columnDefinitions").at(3).at("priority"), 1);
  EXPECT_EQ(table.at("rows").at(0).at("cells"),
            json::parse(R"(["ext","[\"a.io\",\"b.io\"]",null,"[{\"number\":443}]","5m"])"));
}

}  // namespace
}  // namespace vmesh::kubesim
