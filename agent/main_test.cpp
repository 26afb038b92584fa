// Runs the real vmesh-agent binary: flags and exit codes, then a whole life against kubesim and an in-test hub:
// bootstrap, identity Secret, Hello/Welcome, full discovery report, an update applied and ACKed (and a bad
// resource NACKed), /healthz /readyz /metrics, SIGTERM -> exit 0, and a restart that resumes without the
// bundle's token and with the held versions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <regex>

#include "agent/runtime/test_hub.h"
#include "common/base/test_paths.h"
#include "common/kube/client.h"
#include "common/link/link_test_util.h"
#include "common/sync/sync.h"
#include "e2e/kubesim/subprocess.h"
#include "e2e/kubesim/test_cluster.h"

namespace vmesh::agent {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using link::test::WaitFor;
using ::testing::HasSubstr;

std::string AgentBinary() { return testpaths::BinaryDir() + "/agent/vmesh-agent"; }

kubesim::ProcessOutput RunAgent(std::vector<std::string> args) {
  args.insert(args.begin(), AgentBinary());
  return kubesim::RunProcess(args, std::chrono::seconds(30));
}

// A plain-HTTP GET: {status, body}; status 0 when the connection failed.
std::pair<int, std::string> Get(uint16_t port, const std::string& path) {
  try {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), port});
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    asio::write(socket, asio::buffer(request));
    std::string response;
    boost::system::error_code ec;
    asio::read(socket, asio::dynamic_buffer(response), ec);
    const auto space = response.find(' ');
    const auto body = response.find("\r\n\r\n");
    if (space == std::string::npos || body == std::string::npos) return {0, ""};
    return {std::stoi(response.substr(space + 1, 3)), response.substr(body + 4)};
  } catch (const std::exception&) {
    return {0, ""};
  }
}

TEST(AgentCliTest, HelpVersionAndBadFlags) {
  auto help = RunAgent({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("--bootstrap"));
  EXPECT_THAT(help.output, HasSubstr("--admin-listen"));
  auto version = RunAgent({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_THAT(version.output, HasSubstr("vmesh-agent "));

  auto bad = RunAgent({"--no-such-flag"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(std::count(bad.output.begin(), bad.output.end(), '\n'), 1) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("no-such-flag"));

  EXPECT_EQ(RunAgent({}).exit_code, 2);
  auto duration = RunAgent({"--cluster", "c1", "--ping-interval", "often"});
  EXPECT_EQ(duration.exit_code, 2);
  EXPECT_THAT(duration.output, HasSubstr("--ping-interval"));
  auto listen = RunAgent({"--cluster", "c1", "--admin-listen", "nowhere"});
  EXPECT_EQ(listen.exit_code, 2);
  EXPECT_THAT(listen.output, HasSubstr("--admin-listen"));
}

class AgentProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string seeds = testpaths::SourceDir() + "/e2e/kubesim/seeds/";
    Status s = cluster_.Start(KUBESIM_BINARY, "c1",
                              {"--cluster-index", "1", "--pod-ready-delay-ms", "50", "--crds",
                               testpaths::IstioCrdsFile(), "--seed", seeds + "istio.yaml"});
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto bundle = cluster_.WriteFile("bundle.yaml", hub_.RegisterYaml("c1"));
    ASSERT_TRUE(bundle.ok());
    bundle_ = *bundle;
  }

  // Starts the agent and returns its admin port (0 on failure).
  uint16_t StartAgent(kubesim::ChildProcess& agent, const std::string& extra = "") {
    std::vector<std::string> argv = {
        AgentBinary(),         "--cluster",      "c1",          "--bootstrap", bundle_, "--kubeconfig",
        cluster_.kubeconfig(), "--admin-listen", "127.0.0.1:0", "--log-level", "debug"};
    if (!extra.empty()) argv.push_back(extra);
    Status s = agent.Start(argv);
    EXPECT_TRUE(s.ok()) << s.error().message;
    if (!agent.WaitForOutput("running; admin on 127.0.0.1:", std::chrono::seconds(30))) {
      ADD_FAILURE() << agent.output();
      return 0;
    }
    agent.WaitForOutput("\n", std::chrono::seconds(1));
    std::smatch m;
    const std::string out = agent.output();
    if (!std::regex_search(out, m, std::regex("admin on 127\\.0\\.0\\.1:(\\d+)"))) return 0;
    return static_cast<uint16_t>(std::stoi(m[1]));
  }

  kubesim::TestCluster cluster_;
  test::TestHub hub_;
  std::string bundle_;
};

// A ServiceEntry as the hub sends it: one of the kinds the agent applies.
link::v1::Resource ServiceEntryOutput(const std::string& name) {
  json::object o{
      {"apiVersion", "networking.istio.io/v1beta1"},
      {"kind", "ServiceEntry"},
      {"metadata",
       {{"name", name},
        {"namespace", "istio-system"},
        {"labels", {{"app.kubernetes.io/managed-by", "vmesh"}, {"networking.vmesh.dev/virtual-mesh", "vmesh.vm1"}}}}},
      {"spec",
       {{"hosts", json::array{"reviews.bookinfo.global"}},
        {"location", "MESH_INTERNAL"},
        {"resolution", "DNS"},
        {"ports", json::array{json::object{{"number", 9080}, {"name", "http"}, {"protocol", "HTTP"}}}}}}};
  link::v1::Resource r;
  r.set_name("kube/networking.istio.io/v1beta1/ServiceEntry/istio-system/" + name);
  auto* k = r.mutable_kube_object();
  k->set_api_version("networking.istio.io/v1beta1");
  k->set_kind("ServiceEntry");
  k->set_namespace_("istio-system");
  k->set_name(name);
  k->set_json(json::serialize(o));
  r.set_version(sync::ContentVersion(r));
  return r;
}

TEST_F(AgentProcessTest, BootstrapsSyncsServesAdminStopsAndResumesAfterRestart) {
  kubesim::ChildProcess agent;
  const uint16_t port = StartAgent(agent);
  ASSERT_NE(port, 0);
  EXPECT_EQ(Get(port, "/healthz").first, 200);
  ASSERT_TRUE(WaitFor([&] { return hub_.Hellos().size() == 1; }, std::chrono::seconds(20))) << agent.output();
  ASSERT_TRUE(WaitFor([&] { return Get(port, "/readyz").first == 200; }, std::chrono::seconds(20)))
      << Get(port, "/readyz").second << agent.output();
  // The full discovery report names the seeded mesh.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& e : hub_.Received()) {
          if (e.has_discovery_report() && e.discovery_report().full_state() && e.discovery_report().meshes_size() > 0)
            return true;
        }
        return false;
      },
      std::chrono::seconds(20)));

  // The identity was stored in the cluster before connecting.
  auto secret = cluster_.Kubectl({"get", "secret", "-n", "vmesh-system", "vmesh-agent-identity", "-o", "name"});
  EXPECT_EQ(secret.exit_code, 0) << secret.output;

  // An update: one good output, one the cluster cannot take.
  link::v1::ResourceUpdate update;
  update.set_nonce("1");
  update.set_system_version("1-2");
  const auto good = ServiceEntryOutput("vmesh-test-output");
  *update.add_upserts() = good;
  link::v1::Resource bad = ServiceEntryOutput("bad");
  bad.set_name("kube/example.com/v1/Unknown/istio-system/bad");
  bad.mutable_kube_object()->set_api_version("example.com/v1");
  bad.mutable_kube_object()->set_kind("Unknown");
  bad.set_version(sync::ContentVersion(bad));
  *update.add_upserts() = bad;
  ASSERT_TRUE(hub_.Push(update));
  ASSERT_TRUE(WaitFor([&] { return hub_.Acks().size() == 1; }, std::chrono::seconds(30))) << agent.output();
  auto ack = hub_.Acks()[0];
  EXPECT_FALSE(ack.accepted());
  ASSERT_EQ(ack.errors_size(), 1);
  EXPECT_EQ(ack.errors(0).name(), bad.name());
  auto cm = cluster_.Kubectl(
      {"get", "serviceentries.networking.istio.io", "-n", "istio-system", "vmesh-test-output", "-o", "name"});
  EXPECT_EQ(cm.exit_code, 0) << cm.output;

  auto metrics = Get(port, "/metrics");
  EXPECT_EQ(metrics.first, 200);
  EXPECT_THAT(metrics.second, HasSubstr("vmesh_agent_link_messages_total{direction=\"received\",type=\"welcome\"} 1"));
  EXPECT_THAT(metrics.second, HasSubstr("vmesh_agent_nacks_total 1"));
  EXPECT_THAT(metrics.second, HasSubstr("vmesh_agent_outputs_applied_total 1"));
  EXPECT_THAT(metrics.second, HasSubstr("vmesh_agent_ready 1"));

  EXPECT_EQ(agent.Terminate(), 0) << agent.output();

  // Restarted: the stored identity is used (the bundle's token is spent) and the Hello carries what it holds.
  kubesim::ChildProcess again;
  ASSERT_NE(StartAgent(again), 0);
  ASSERT_TRUE(WaitFor([&] { return hub_.Hellos().size() == 2; }, std::chrono::seconds(20))) << again.output();
  EXPECT_THAT(again.output(), HasSubstr("using the stored identity"));
  auto hello = hub_.Hellos()[1];
  ASSERT_EQ(hello.resource_versions().size(), 1u);
  EXPECT_EQ(hello.resource_versions().at(good.name()), good.version());
  EXPECT_EQ(hello.system_version(), "1-2");
  EXPECT_EQ(again.Terminate(), 0) << again.output();
}

TEST_F(AgentProcessTest, CertificateDirectiveSendsACsrAndNoPrivateKeyEverReachesTheHub) {
  kubesim::ChildProcess agent;
  ASSERT_NE(StartAgent(agent), 0);
  std::string mesh;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& e : hub_.Received()) {
          if (e.has_discovery_report() && e.discovery_report().meshes_size() > 0) {
            mesh = e.discovery_report().meshes(0).metadata().name();
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(20)))
      << agent.output();

  link::v1::ResourceUpdate update;
  update.set_nonce("1");
  update.set_system_version("1-1");
  link::v1::Resource cert;
  cert.set_name("cert/" + mesh);
  auto* d = cert.mutable_certificate();
  d->set_mesh(mesh);
  d->set_virtual_mesh("vmesh/vm1");
  d->set_key_algorithm(api::v1::ECDSA_P256);
  d->set_generation("g1");
  d->set_trust_bundle_pem(hub_.registration().link_ca().certificate().ToPem());
  cert.set_version(sync::ContentVersion(cert));
  *update.add_upserts() = cert;
  ASSERT_TRUE(hub_.Push(update));
  ASSERT_TRUE(WaitFor([&] { return hub_.Acks().size() == 1; }, std::chrono::seconds(30))) << agent.output();
  EXPECT_TRUE(hub_.Acks()[0].accepted()) << hub_.Acks()[0].DebugString();
  link::v1::CertificateSigningRequest csr;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& e : hub_.Received()) {
          if (e.has_certificate_signing_request()) {
            csr = e.certificate_signing_request();
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(20)))
      << agent.output();
  EXPECT_EQ(csr.mesh(), mesh);
  EXPECT_THAT(csr.csr_pem(), HasSubstr("BEGIN CERTIFICATE REQUEST"));
  // The key stayed in the cluster: persisted in the state namespace, never in any frame the hub received.
  auto state = cluster_.Kubectl({"get", "secret", "-n", "vmesh-system", "-o", "name"});
  EXPECT_THAT(state.output, HasSubstr("vmesh-ca-"));
  for (const auto& e : hub_.Received()) {
    EXPECT_EQ(e.SerializeAsString().find("PRIVATE KEY"), std::string::npos) << e.DebugString();
  }
  EXPECT_EQ(agent.Terminate(), 0) << agent.output();
}

}  // namespace
}  // namespace vmesh::agent
