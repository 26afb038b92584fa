#include "e2e/kubesim/defaulting.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace vmesh::kubesim {
namespace {

namespace json = boost::json;

json::object Defaulted(const char* group, const char* resource, const char* text) {
  ResourceRegistry registry = MakeBuiltinRegistry();
  json::object object = json::parse(text).as_object();
  ApplyDefaults(*registry.Find(group, "v1", resource), object);
  return object;
}

TEST(DefaultingTest, DeploymentAndPodTemplate) {
  json::object d = Defaulted("apps", "deployments", R"({"spec":{"template":{"spec":{"containers":[
      {"name":"a","image":"nginx:1.25","ports":[{"containerPort":80}]},{"name":"b","image":"busybox"}]}}}})");
  const json::value& spec = d.at("spec");
  EXPECT_EQ(spec.at("replicas"), 1);
  EXPECT_EQ(spec.at("revisionHistoryLimit"), 10);
  EXPECT_EQ(spec.at("progressDeadlineSeconds"), 600);
  EXPECT_EQ(spec.at("strategy"),
            json::parse(R"({"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}})"));
  const json::value& pod = spec.at("template").at("spec");
  EXPECT_EQ(pod.at("restartPolicy"), "Always");
  EXPECT_EQ(pod.at("dnsPolicy"), "ClusterFirst");
  EXPECT_EQ(pod.at("containers").at(0).at("imagePullPolicy"), "IfNotPresent");
  EXPECT_EQ(pod.at("containers").at(0).at("ports").at(0).at("protocol"), "TCP");
  EXPECT_EQ(pod.at("containers").at(1).at("imagePullPolicy"), "Always");  // no tag means :latest
}

TEST(DefaultingTest, KeepsWhatIsSet) {
  json::object d = Defaulted("apps", "deployments", R"({"spec":{"replicas":0,"strategy":{"type":"Recreate"}}})");
  EXPECT_EQ(d.at("spec").at("replicas"), 0);
  EXPECT_EQ(d.at("spec").at("strategy"), json::parse(R"({"type":"Recreate"})"));
  EXPECT_EQ(Defaulted("", "secrets", R"({"type":"kubernetes.io/tls"})").at("type"), "kubernetes.io/tls");
}

TEST(DefaultingTest, CoreKinds) {
  EXPECT_EQ(Defaulted("", "secrets", "{}").at("type"), "Opaque");
  json::object svc = Defaulted("", "services", R"({"spec":{"ports":[{"port":443}]}})");
  EXPECT_EQ(svc.at("spec").at("type"), "ClusterIP");
  EXPECT_EQ(svc.at("spec").at("ports").at(0), json::parse(R"({"port":443,"protocol":"TCP","targetPort":443})"));
  EXPECT_EQ(Defaulted("", "configmaps", R"({"data":{}})"), json::parse(R"({"data":{}})").as_object());
}

}  // namespace
}  // namespace vmesh::kubesim
