#include "e2e/kubesim/service_controller.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "e2e/kubesim/cluster_setup.h"

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

class ServiceControllerTest : public ::testing::Test {
 protected:
  ServiceControllerTest() : controller_(registry_, store_, ClusterNetworkFor(3)) {
    EXPECT_TRUE(CreateSystemNamespaces(store_).ok());
  }

  const ResourceType& Type(const char* resource) { return *registry_.Find("", "v1", resource); }

  void Create(const char* resource, const std::string& text) {
    auto created = store_.Create(Type(resource), "default", json::parse(text).as_object());
    ASSERT_TRUE(created.ok()) << created.error().message;
  }

  std::string Get(const char* resource, const std::string& name, const char* field) {
    auto object = store_.Get(Type(resource), "default", name);
    if (!object.ok()) return "<none>";
    auto it = (*object)->find(field);
    return it == (*object)->end() ? "<unset>" : json::serialize(it->value());
  }

  ResourceRegistry registry_ = MakeBuiltinRegistry();
  ObjectStore store_;
  ServiceController controller_;
};

TEST_F(ServiceControllerTest, EndpointsListReadyAndNotReadyPods) {
  Create("services", R"({"metadata":{"name":"web"},"spec":{"selector":{"app":"web"},
      "ports":[{"name":"http","port":80,"targetPort":"http"},{"port":9090,"protocol":"UDP"}]}})");
  Create("services", R"({"metadata":{"name":"external"},"spec":{"ports":[{"port":80}]}})");
  const char* container = R"({"name":"c","ports":[{"name":"http","containerPort":8080}]})";
  Create("pods", std::string(R"({"metadata":{"name":"web-1","uid":"u1","labels":{"app":"web"}},
      "spec":{"nodeName":"n","containers":[)") +
                     container + R"(]},
      "status":{"phase":"Running","podIP":"10.3.0.2","conditions":[{"type":"Ready","status":"True"}]}})");
  Create("pods", std::string(R"({"metadata":{"name":"web-2","labels":{"app":"web"}},"spec":{"containers":[)") +
                     container + R"(]},"status":{"phase":"Pending","podIP":"10.3.0.3"}})");
  Create("pods", R"({"metadata":{"name":"other","labels":{"app":"other"}},"spec":{"containers":[]},
      "status":{"phase":"Running","podIP":"10.3.0.4","conditions":[{"type":"Ready","status":"True"}]}})");
  controller_.Reconcile();
  std::string subsets = Get("endpoints", "web", "subsets");
  EXPECT_NE(
      subsets.find(R"("addresses":[{"ip":"10.3.0.2","targetRef":{"kind":"Pod","namespace":"default","name":"web-1")"),
      std::string::npos)
      << subsets;
  EXPECT_NE(subsets.find(R"("nodeName":"n")"), std::string::npos) << subsets;
  EXPECT_NE(subsets.find(R"("notReadyAddresses":[{"ip":"10.3.0.3")"), std::string::npos) << subsets;
  EXPECT_NE(subsets.find(R"("ports":[{"port":8080,"protocol":"TCP","name":"http"},{"port":9090,"protocol":"UDP"}])"),
            std::string::npos)
      << subsets;
  EXPECT_EQ(subsets.find("10.3.0.4"), std::string::npos);
  EXPECT_EQ(Get("endpoints", "external", "subsets"), "<none>");  // no selector: left to the user

  const ResourceType& slices = *registry_.Find("discovery.k8s.io", "v1", "endpointslices");
  auto slice = store_.Get(slices, "default", "web-kubesim");
  ASSERT_TRUE(slice.ok());
  const std::string text = json::serialize(**slice);
  EXPECT_NE(text.find(R"("kubernetes.io/service-name":"web")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("addressType":"IPv4")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"({"addresses":["10.3.0.2"],"conditions":{"ready":true,"serving":true,"terminating":false})"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"({"addresses":["10.3.0.3"],"conditions":{"ready":false,)"), std::string::npos) << text;
  EXPECT_NE(
      text.find(R"("ports":[{"port":8080,"protocol":"TCP","name":"http"},{"port":9090,"protocol":"UDP","name":""}])"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find(R"("ownerReferences":[{"apiVersion":"v1","kind":"Service","name":"web")"), std::string::npos);

  // Nothing changed: nothing written.
  uint64_t rv = store_.resource_version();
  controller_.Reconcile();
  EXPECT_EQ(store_.resource_version(), rv);

  ASSERT_TRUE(store_.Delete(Type("pods"), "default", "web-1").ok());
  ASSERT_TRUE(store_.Delete(Type("pods"), "default", "web-2").ok());
  controller_.Reconcile();
  EXPECT_EQ(Get("endpoints", "web", "subsets"), "<unset>");
  ASSERT_TRUE(store_.Delete(Type("services"), "default", "web").ok());
  controller_.Reconcile();
  EXPECT_EQ(Get("endpoints", "web", "subsets"), "<none>");
  EXPECT_FALSE(store_.Get(slices, "default", "web-kubesim").ok());
}

TEST_F(ServiceControllerTest, LoadBalancersGetTheClusterAddress) {
  Create("services", R"({"metadata":{"name":"gw"},"spec":{"type":"LoadBalancer","ports":[{"port":15443}]}})");
  Create("services", R"({"metadata":{"name":"gw2"},"spec":{"type":"LoadBalancer","ports":[{"port":443}]}})");
  Create("services", R"({"metadata":{"name":"fixed"},"spec":{"type":"LoadBalancer","ports":[{"port":1}]},
      "status":{"loadBalancer":{"ingress":[{"hostname":"lb.example.com"}]}}})");
  controller_.Reconcile();
  EXPECT_EQ(Get("services", "gw", "status"), R"({"loadBalancer":{"ingress":[{"ip":"172.18.0.3"}]}})");
  EXPECT_EQ(Get("services", "gw2", "status"), R"({"loadBalancer":{"ingress":[{"ip":"172.18.1.3"}]}})");
  EXPECT_EQ(Get("services", "fixed", "status"), R"({"loadBalancer":{"ingress":[{"hostname":"lb.example.com"}]}})");
  EXPECT_EQ(ClusterNetworkFor(0).LoadBalancerIp(0), "172.18.0.254");
  EXPECT_EQ(ClusterNetworkFor(7).pod_ip_prefix, "10.7");
  EXPECT_EQ(ClusterNetworkFor(7).service_ip_prefix, "10.135");
}

}  // namespace
}  // namespace vmesh::kubesim
