// Issue 13 (docs/hub-on-kubernetes.md, "Test topology"): the hub in a management cluster. A management kubesim
// with the vmesh CRDs applied by kubectl, three `vmesh-hub serve --store kubernetes` replicas electing a leader
// on a Lease, a readiness-checking Service in front of them, and workload kubesims whose agents reach the hub
// through the Service — all real processes.
//
// What must hold: a VirtualMesh applied with kubectl is reconciled and kubectl shows its status; a leader
// killed with certificates being issued is replaced by another replica (the failover is measured, 10 times,
// with client-go's default timings), agents reconnect, the VirtualMesh returns to ACCEPTED, no key gets two
// certificates, no workload is restarted twice and nothing is lost; a leader cut off from the API server stops
// signing before its lease can expire and another replica takes over.
//
// Every replica reaches the API server through its own TcpProxy (forwarding unless the test partitions it).
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "common/base/base64.h"
#include "common/base/test_paths.h"
#include "common/pki/certificate.h"
#include "e2e/harness/fleet.h"
#include "e2e/proxy/service_proxy.h"
#include "e2e/proxy/tcp_proxy.h"

namespace vmesh::e2e {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;

constexpr int kReplicas = 3;
constexpr char kRestartedFor[] = "vmesh.dev/restarted-for-certificate";

// RFC 3339 ("2026-12-03T14:05:00.123456Z", fraction optional; kubectl and the hub's log lines write UTC) to a
// time point; nullopt when it does not parse.
std::optional<WallClock::time_point> ParseUtc(const std::string& text) {
  std::tm tm{};
  std::istringstream in(text);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return std::nullopt;
  auto at = WallClock::from_time_t(timegm(&tm));
  if (in.peek() == '.') {
    in.get();
    std::string digits;
    while (std::isdigit(in.peek())) digits += static_cast<char>(in.get());
    digits = (digits + "000000").substr(0, 6);
    at += std::chrono::microseconds(std::stoll(digits));
  }
  return at;
}

std::string Rfc3339(WallClock::time_point at) {
  const std::time_t t = WallClock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::ostringstream out;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count() % 1000;
  out << std::put_time(&tm, "%Y-%m-%dT%H:%M:%S") << '.' << std::setw(3) << std::setfill('0') << ms << 'Z';
  return out.str();
}

// The cell of the row named `row` under the header `column` in kubectl's table output ("" when absent).
std::string TableCell(const std::string& table, const std::string& row, const std::string& column) {
  std::istringstream lines(table);
  std::string header;
  if (!std::getline(lines, header)) return "";
  const size_t start = header.find(column);
  if (start == std::string::npos) return "";
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    if (name != row || line.size() <= start) continue;
    std::istringstream cell(line.substr(start));
    std::string value;
    cell >> value;
    return value;
  }
  return "";
}

// One "signed intermediate" line of a hub log (csr_handler.cpp logs it once the certificate is recorded).
struct Signature {
  WallClock::time_point logged_at;
  std::string serial;
  std::string line;
};

std::vector<Signature> Signatures(const std::string& log) {
  std::vector<Signature> out;
  std::istringstream lines(log);
  std::string line;
  const std::string marker = ": signed intermediate ";
  while (std::getline(lines, line)) {
    const size_t at = line.find(marker);
    if (at == std::string::npos) continue;
    auto when = ParseUtc(line.substr(0, line.find(' ')));
    if (!when) continue;
    std::istringstream rest(line.substr(at + marker.size()));
    Signature s{*when, "", line};
    rest >> s.serial;
    out.push_back(s);
  }
  return out;
}

size_t CountLines(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double Seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

std::chrono::milliseconds ParseFlagDuration(const std::string& text) {
  // "15s", "1500ms": enough for the timings this test passes.
  if (text.size() > 2 && text.substr(text.size() - 2) == "ms") return std::chrono::milliseconds(std::stoll(text));
  return std::chrono::seconds(std::stoll(text));
}

// Sets a kubesim's added latency of every API request (0: none).
int SetLatency(ClusterUnderTest& cluster, int milliseconds) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  try {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), cluster.kubesim().port()));
    http::request<http::string_body> req{http::verb::post, "/kubesim/faults", 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.body() = "{\"latencyMs\": " + std::to_string(milliseconds) + "}";
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    return static_cast<int>(res.result_int());
  } catch (const std::exception&) {
    return 0;
  }
}

// A Deployment's rollouts: spec generation and the certificate its pods were last restarted for.
struct Rollout {
  std::string generation;
  std::string restarted_for;
  bool operator==(const Rollout&) const = default;
};

class HaE2eTest : public ::testing::Test {
 protected:
  // The management cluster and the replicas, each replica reaching the API server through its own TcpProxy;
  // returns once one replica is ready (the first leader).
  void StartHubs(const LeaseTimings& timings, const std::vector<std::string>& serve_args) {
    auto started = management_.Start();
    ASSERT_TRUE(started.ok()) << started.error().message << "\n" << management_.ServerLog();
    for (int i = 0; i < kReplicas; ++i) {
      api_links_.push_back(std::make_unique<TcpProxy>("127.0.0.1", management_.port()));
      ASSERT_TRUE(api_links_.back()->Start().ok());
      auto kubeconfig =
          management_.KubeconfigVia(api_links_.back()->port(), HubReplicaSet::ReplicaId(i) + ".kubeconfig");
      ASSERT_TRUE(kubeconfig.ok()) << kubeconfig.error().message;
      hubs_.SetKubeconfig(i, *kubeconfig);
    }
    timings_ = timings;
    auto init = hubs_.Init();
    ASSERT_TRUE(init.ok()) << init.error().message;
    auto served = hubs_.ServeAll(serve_args, timings);
    ASSERT_TRUE(served.ok()) << served.error().message << hubs_.Logs();
    ASSERT_GE(hubs_.WaitForReadyReplica(60s), 0) << "no replica became the leader\n" << hubs_.Logs();
  }

  // Workload clusters cluster-1..n with Istio (and bookinfo), registered through the Service, with agents that
  // reach the hub through the Service; waits until every agent is connected and every mesh discovered.
  void AddClusters(int n, bool bookinfo) {
    for (int i = 1; i <= n; ++i) {
      const std::string name = "cluster-" + std::to_string(i);
      clusters_.push_back(std::make_unique<ClusterUnderTest>(binaries_, name, i));
      ClusterUnderTest& cluster = *clusters_.back();
      std::vector<std::string> seeds = {"istio.yaml"};
      if (bookinfo) seeds.push_back("bookinfo.yaml");
      ASSERT_TRUE(cluster.StartKubesim(seeds).ok()) << name;
      auto bundle = hubs_.Register(name);
      ASSERT_TRUE(bundle.ok()) << bundle.error().message << hubs_.Logs();
      ASSERT_TRUE(cluster.StartAgent(*bundle).ok());
    }
    for (auto& c : clusters_) {
      ASSERT_TRUE(WaitFor([&] { return hubs_.ClusterState(c->name()) == "CONNECTED"; }, 60s))
          << c->name() << " not connected\n"
          << Logs();
    }
    ASSERT_TRUE(WaitFor(
        [&] {
          auto out = hubs_.Ctl({"get", "meshes", "-o", "json"});
          for (auto& c : clusters_) {
            if (out.output.find(MeshName(*c)) == std::string::npos) return false;
          }
          return out.exit_code == 0;
        },
        60s))
        << hubs_.Ctl({"get", "meshes"}).output << Logs();
  }

  static std::string MeshName(const ClusterUnderTest& c) { return "istiod-istio-system-" + c.name(); }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // The VirtualMesh as the management cluster has it (kubectl -o json), null when it cannot be read.
  boost::json::value VirtualMesh(const std::string& name) {
    auto out = management_.Kubectl({"get", "virtualmesh", name, "-n", "vmesh", "-o", "json"});
    return out.exit_code == 0 ? ParseJson(out.output) : boost::json::value();
  }

  // ACCEPTED for the VirtualMesh's current generation, in the management cluster.
  bool WaitForAccepted(const std::string& name, std::chrono::milliseconds timeout) {
    return WaitFor(
        [&] {
          auto vm = VirtualMesh(name);
          return JsonString(vm, {"status", "state"}) == "ACCEPTED" &&
                 JsonString(vm, {"status", "observedGeneration"}) == JsonString(vm, {"metadata", "generation"});
        },
        timeout);
  }

  // A new issuance round without a new root: every mesh's intermediate options change, so every agent
  // generates a key and sends a CSR (istiod >= 1.19 hot-reloads the new intermediate: no restarts).
  ProcessOutput ChangeIntermediateTtl(const std::string& name, int days) {
    return management_.Kubectl(
        {"patch", "virtualmesh", name, "-n", "vmesh", "--type", "merge", "-p",
         R"({"spec":{"mtlsConfig":{"shared":{"intermediateCertOptions":{"ttlDays":)" + std::to_string(days) + "}}}}}"});
  }

  std::map<std::string, std::string> SecretData(ClusterUnderTest& cluster, const std::string& ns,
                                                const std::string& name) {
    std::map<std::string, std::string> files;
    auto out = cluster.Kubectl({"get", "secret", name, "-n", ns, "-o", "json"});
    if (out.exit_code != 0) return files;
    const boost::json::value secret = ParseJson(out.output);
    const boost::json::value* data = JsonAt(secret, {"data"});
    if (!data || !data->is_object()) return files;
    for (const auto& [key, value] : data->as_object()) {
      if (value.is_string()) files[std::string(key)] = Base64Decode(std::string(value.as_string())).value_or("");
    }
    return files;
  }
  std::map<std::string, std::string> Cacerts(ClusterUnderTest& c) { return SecretData(c, "istio-system", "cacerts"); }

  static std::string Serial(const std::string& pem) {
    auto cert = pki::Certificate::FromPem(pem);
    return cert.ok() ? Lower(cert->serial_hex()) : "";
  }

  // Every Deployment of the cluster, "namespace/name" -> rollout.
  std::map<std::string, Rollout> Rollouts(ClusterUnderTest& cluster) {
    std::map<std::string, Rollout> out;
    const boost::json::value list = ParseJson(cluster.Kubectl({"get", "deployments", "-A", "-o", "json"}).output);
    const boost::json::value* items = JsonAt(list, {"items"});
    if (!items || !items->is_array()) return out;
    for (const auto& d : items->as_array()) {
      Rollout r;
      r.generation = JsonString(d, {"metadata", "generation"});
      if (const auto* a = JsonAt(d, {"spec", "template", "metadata", "annotations"}); a && a->is_object()) {
        r.restarted_for = JsonString(*a, {kRestartedFor});
      }
      out[JsonString(d, {"metadata", "namespace"}) + "/" + JsonString(d, {"metadata", "name"})] = r;
    }
    return out;
  }

  // Waits until every cluster holds cacerts of one root and every Deployment was restarted for the installed
  // certificate; returns the root.
  std::string WaitForInstalledAndRestarted() {
    std::string root;
    for (auto& c : clusters_) {
      EXPECT_TRUE(WaitFor(
          [&] {
            auto files = Cacerts(*c);
            if (files["root-cert.pem"].empty()) return false;
            if (root.empty()) root = files["root-cert.pem"];
            const std::string serial = Serial(files["ca-cert.pem"]);
            auto rollouts = Rollouts(*c);
            for (const auto& [name, r] : rollouts) {
              if (Lower(r.restarted_for) != serial || r.generation != "2") return false;
            }
            return !rollouts.empty();
          },
          120s))
          << c->name() << ": restart onto the VirtualMesh root incomplete\n"
          << Logs();
      EXPECT_EQ(Cacerts(*c)["root-cert.pem"], root) << c->name();
    }
    return root;
  }

  // IssuedCertificate objects in the management cluster: serial -> spec.
  std::map<std::string, boost::json::value> IssuedCertificates() {
    std::map<std::string, boost::json::value> out;
    auto listed = management_.Kubectl({"get", "issuedcertificates", "-n", "vmesh", "-o", "json"});
    EXPECT_EQ(listed.exit_code, 0) << listed.output;
    const boost::json::value list = ParseJson(listed.output);
    const boost::json::value* items = JsonAt(list, {"items"});
    if (!items || !items->is_array()) return out;
    for (const auto& item : items->as_array()) {
      const boost::json::value* spec = JsonAt(item, {"spec"});
      if (spec) out[Lower(JsonString(*spec, {"serial"}))] = *spec;
    }
    return out;
  }

  // No key has two certificates: every IssuedCertificate's key fingerprint is unique, and so is every agent
  // identity's (Cluster status).
  void ExpectOneCertificatePerKey(const std::map<std::string, boost::json::value>& issued) {
    std::map<std::string, std::vector<std::string>> by_key;
    for (const auto& [serial, spec] : issued) by_key[JsonString(spec, {"publicKeyFingerprint"})].push_back(serial);
    for (const auto& [key, serials] : by_key) {
      EXPECT_FALSE(key.empty()) << "an IssuedCertificate without publicKeyFingerprint";
      EXPECT_EQ(serials.size(), 1u) << "key " << key << " has " << serials.size() << " intermediates: " << serials[0]
                                    << ", " << serials.back();
    }
    auto clusters = management_.Kubectl({"get", "clusters.networking.vmesh.dev", "-n", "vmesh", "-o", "json"});
    ASSERT_EQ(clusters.exit_code, 0) << clusters.output;
    const boost::json::value list = ParseJson(clusters.output);
    const boost::json::value* items = JsonAt(list, {"items"});
    ASSERT_TRUE(items && items->is_array()) << clusters.output;
    std::map<std::string, int> identity_keys;
    for (const auto& item : items->as_array()) {
      const boost::json::value* identities = JsonAt(item, {"status", "identities"});
      if (!identities || !identities->is_array()) continue;
      for (const auto& identity : identities->as_array())
        ++identity_keys[JsonString(identity, {"publicKeyFingerprint"})];
    }
    for (const auto& [key, count] : identity_keys) EXPECT_EQ(count, 1) << "agent identity key " << key;
  }

  size_t AgentLogCount(const std::string& needle) {
    size_t n = 0;
    for (auto& c : clusters_) n += CountLines(c->AgentLog(), needle);
    return n;
  }

  std::string Logs() { return FleetLogs(hubs_, clusters_) + "--- management kubesim\n" + management_.ServerLog(); }

  Binaries binaries_ = Binaries::FromBuild();
  TempDir dir_{"vmesh-ha-test"};
  ManagementCluster management_{binaries_};
  std::vector<std::unique_ptr<TcpProxy>> api_links_;  // replica i -> the API server
  HubReplicaSet hubs_{binaries_, management_, kReplicas};
  LeaseTimings timings_;
  std::vector<std::unique_ptr<ClusterUnderTest>> clusters_;
};

// (a) and (b): kubectl apply of examples/virtualmesh.yaml, then ten kill -9s of the leader, each right after
// an agent sent a CSR of a new issuance round, with client-go's default timings (15 s / 10 s / 2 s).
TEST_F(HaE2eTest, KubectlAppliedVirtualMeshSurvivesTenLeaderKills) {
  ASSERT_NO_FATAL_FAILURE(StartHubs(LeaseTimings{}, {"--status-interval", "1s"}));
  ASSERT_NO_FATAL_FAILURE(AddClusters(3, /*bookinfo=*/true));

  // (a) The example, applied with kubectl against the management cluster, reconciled by the leader.
  const std::string example = testpaths::SourceDir() + "/examples/virtualmesh.yaml";
  auto applied = management_.Kubectl({"apply", "-f", example});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_NE(applied.output.find("virtualmesh.networking.vmesh.dev/demo created"), std::string::npos) << applied.output;
  ASSERT_TRUE(WaitForAccepted("demo", 240s))
      << management_.Kubectl({"get", "virtualmesh", "demo", "-n", "vmesh", "-o", "yaml"}).output << Logs();
  auto table = management_.Kubectl({"get", "virtualmeshes", "-n", "vmesh"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_EQ(TableCell(table.output, "demo", "STATE"), "ACCEPTED") << table.output;
  EXPECT_EQ(TableCell(table.output, "demo", "MESHES"), "3/3") << table.output;
  auto ctl = hubs_.Ctl({"get", "virtualmesh", "demo", "-o", "json"});
  ASSERT_EQ(ctl.exit_code, 0) << ctl.output;
  EXPECT_EQ(JsonString(ParseJson(ctl.output), {"status", "state"}), "ACCEPTED") << ctl.output;
  const std::string root = WaitForInstalledAndRestarted();
  ASSERT_FALSE(root.empty());
  std::map<std::string, std::map<std::string, Rollout>> rollouts;
  for (auto& c : clusters_) rollouts[c->name()] = Rollouts(*c);
  const auto lease_before = management_.Lease();
  ASSERT_TRUE(lease_before.ok()) << lease_before.error().message;

  // (b) Ten kills.
  std::vector<double> failover;
  int kills_mid_csr = 0;
  for (int kill = 1; kill <= 10; ++kill) {
    const int leader = hubs_.ReadyReplica();
    ASSERT_GE(leader, 0) << "kill " << kill << ": no leader\n" << Logs();
    // The metric agrees with /readyz: exactly one replica leads.
    for (int i = 0; i < kReplicas; ++i) {
      EXPECT_EQ(hubs_.replica(i).Metric("vmesh_hub_leader"), i == leader ? 1 : 0)
          << "kill " << kill << ": " << HubReplicaSet::ReplicaId(i);
    }
    const size_t csrs_before = AgentLogCount(": sent CSR ");
    auto patched = ChangeIntermediateTtl("demo", 100 + kill);
    ASSERT_EQ(patched.exit_code, 0) << patched.output;
    // Agents connected to the leader get the new directive; kill as soon as one has sent its CSR (agents still
    // reconnecting after the previous kill send theirs to the next leader).
    if (WaitFor([&] { return AgentLogCount(": sent CSR ") > csrs_before; }, 10s)) ++kills_mid_csr;

    const auto killed_at = SteadyClock::now();
    hubs_.Kill9(leader);
    const int next = hubs_.WaitForReadyReplica(60s, leader);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - killed_at);
    ASSERT_GE(next, 0) << "kill " << kill << ": no replica took over from " << HubReplicaSet::ReplicaId(leader) << "\n"
                       << Logs();
    failover.push_back(Seconds(took));
    std::cout << "kill " << kill << ": " << HubReplicaSet::ReplicaId(leader) << " -> " << HubReplicaSet::ReplicaId(next)
              << " in " << Seconds(took) << " s" << std::endl;
    EXPECT_TRUE(WaitFor(
        [&] {
          auto lease = management_.Lease();
          return lease.ok() && lease->holder == HubReplicaSet::ReplicaId(next);
        },
        10s))
        << "the Lease does not name the ready replica " << HubReplicaSet::ReplicaId(next);
    // Kubernetes restarts the killed pod; it comes back as a follower.
    auto restarted = hubs_.Serve(leader);
    ASSERT_TRUE(restarted.ok()) << restarted.error().message;
  }

  const double median = Median(failover);
  const double max = *std::max_element(failover.begin(), failover.end());
  std::ostringstream json;
  json << R"({"test":"ha_e2e_failover","kills":)" << failover.size() << R"(,"leaseDuration":")"
       << timings_.lease_duration << R"(","renewDeadline":")" << timings_.renew_deadline << R"(","retryPeriod":")"
       << timings_.retry_period << R"(","killsRightAfterACsr":)" << kills_mid_csr << R"(,"failoverSeconds":[)";
  for (size_t i = 0; i < failover.size(); ++i) json << (i ? "," : "") << failover[i];
  json << R"(],"medianSeconds":)" << median << R"(,"maxSeconds":)" << max << "}";
  std::cout << json.str() << std::endl;
  RecordProperty("failover", json.str());
  std::ofstream(testpaths::BinaryDir() + "/ha_e2e_failover.json") << json.str() << "\n";

  // A follower takes the Lease a lease duration after it last saw it renewed, polling every retry period: the
  // design's bound, plus the time the new leader's core takes to load and reconcile before /readyz says 200.
  const auto bound = ParseFlagDuration(timings_.lease_duration) + 2 * ParseFlagDuration(timings_.retry_period) + 3s;
  EXPECT_LE(max, Seconds(std::chrono::duration_cast<std::chrono::milliseconds>(bound))) << json.str();
  auto lease_after = management_.Lease();
  ASSERT_TRUE(lease_after.ok());
  EXPECT_GE(lease_after->lease_transitions, lease_before->lease_transitions + 10);

  // Agents reconnect (through the Service, to the last leader), and the last issuance round completes.
  for (auto& c : clusters_) {
    EXPECT_TRUE(c->agent_running()) << c->name() << c->AgentLog();
    EXPECT_TRUE(WaitFor([&] { return hubs_.ClusterState(c->name()) == "CONNECTED"; }, 120s))
        << c->name() << " did not reconnect\n"
        << Logs();
  }
  ASSERT_TRUE(WaitForAccepted("demo", 120s))
      << management_.Kubectl({"get", "virtualmesh", "demo", "-n", "vmesh", "-o", "yaml"}).output << Logs();
  table = management_.Kubectl({"get", "virtualmeshes", "-n", "vmesh"});
  EXPECT_EQ(TableCell(table.output, "demo", "STATE"), "ACCEPTED") << table.output;

  // No key has two certificates; every installed intermediate is recorded, of the same root; nothing was
  // restarted again (the root never changed); the AccessPolicies and Cluster registrations are all there.
  const auto issued = IssuedCertificates();
  ExpectOneCertificatePerKey(issued);
  for (auto& c : clusters_) {
    auto files = Cacerts(*c);
    EXPECT_EQ(files["root-cert.pem"], root) << c->name() << ": the root changed";
    const std::string serial = Serial(files["ca-cert.pem"]);
    EXPECT_TRUE(issued.count(serial)) << c->name() << ": installed intermediate " << serial << " is not recorded";
    EXPECT_EQ(Rollouts(*c), rollouts[c->name()]) << c->name() << ": restarted again";
  }
  auto policies = management_.Kubectl({"get", "accesspolicies", "-n", "vmesh", "-o", "name"});
  EXPECT_NE(policies.output.find("productpage-to-reviews"), std::string::npos) << policies.output;
  EXPECT_NE(policies.output.find("reviews-to-ratings"), std::string::npos) << policies.output;
  for (auto& c : clusters_) {
    auto registered = management_.Kubectl({"get", "clusters.networking.vmesh.dev", c->name(), "-n", "vmesh"});
    EXPECT_EQ(registered.exit_code, 0) << registered.output;
  }
}

// (c) The leader is cut off from the API server (its TcpProxy black-holes) while certificates are being issued.
// It must stop signing before its lease can expire — no signature logged after its last renewal plus the
// renew deadline, none recorded after another replica took the Lease — and another replica takes over.
// Short timings (lease 6 s, renew deadline 4 s, retry 1 s) keep the test short; the rule is the same.
TEST_F(HaE2eTest, PartitionedLeaderNeverSignsAfterItsLeaseExpired) {
  const LeaseTimings timings{"6s", "4s", "1s"};
  ASSERT_NO_FATAL_FAILURE(StartHubs(timings, {"--status-interval", "1s"}));
  ASSERT_NO_FATAL_FAILURE(AddClusters(2, /*bookinfo=*/false));
  const std::string manifest = WriteFile("vm1.yaml", R"(apiVersion: networking.vmesh.dev/v1
kind: VirtualMesh
metadata: {name: vm1, namespace: vmesh}
spec:
  meshes:
  - {name: istiod-istio-system-cluster-1, namespace: vmesh}
  - {name: istiod-istio-system-cluster-2, namespace: vmesh}
  mtlsConfig:
    autoRestartPods: true
    shared:
      rootCertificateAuthority: {generated: {keyAlgorithm: ECDSA_P256, orgName: vmesh-ha}}
      intermediateCertOptions: {keyAlgorithm: ECDSA_P256}
  federation: {permissive: {}}
)");
  auto applied = management_.Kubectl({"apply", "-f", manifest});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  ASSERT_TRUE(WaitForAccepted("vm1", 120s)) << Logs();

  const int leader = hubs_.ReadyReplica();
  ASSERT_GE(leader, 0);
  const std::string leader_id = HubReplicaSet::ReplicaId(leader);
  // cluster-2's API server answers slowly from now on (2 s a request): its agent persists the new key before it
  // sends the CSR (several requests), so the CSR reaches the hub after the partition and after the renew deadline.
  // The partition begins as soon as cluster-2's agent starts on the new generation.
  ClusterUnderTest& slow = *clusters_[1];
  ASSERT_EQ(SetLatency(slow, 2000), 200);
  const size_t requests_before = CountLines(slow.AgentLog(), ": requesting a new intermediate");
  const size_t slow_csrs_before = CountLines(slow.AgentLog(), ": sent CSR ");
  auto patched = ChangeIntermediateTtl("vm1", 20);
  ASSERT_EQ(patched.exit_code, 0) << patched.output;
  ASSERT_TRUE(
      WaitFor([&] { return CountLines(slow.AgentLog(), ": requesting a new intermediate") > requests_before; }, 30s))
      << slow.AgentLog();

  // The partition: every byte between the leader and the API server vanishes; nothing is closed.
  api_links_[leader]->SetMode(ProxyMode::kBlackhole);
  const auto partitioned_at = WallClock::now();
  const auto partitioned_steady = SteadyClock::now();

  const int next = hubs_.WaitForReadyReplica(60s, leader);
  ASSERT_GE(next, 0) << "no replica took over from the partitioned " << leader_id << "\n" << Logs();
  const double took =
      Seconds(std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - partitioned_steady));
  std::cout << "partition: " << leader_id << " -> " << HubReplicaSet::ReplicaId(next) << " in " << took << " s"
            << std::endl;
  // Never two ready replicas: the Service saw the partitioned leader unready before the next one was ready.
  EXPECT_NE(ProbeHttps(hubs_.replica(leader).api_port()), 200) << leader_id << " still claims to lead";
  {
    std::optional<SteadyClock::time_point> unready_at, ready_at;
    for (const auto& change : hubs_.service().ReadinessChanges()) {
      if (change.at < partitioned_steady) continue;
      if (change.backend == leader_id && !change.ready && !unready_at) unready_at = change.at;
      if (change.backend == HubReplicaSet::ReplicaId(next) && change.ready && !ready_at) ready_at = change.at;
    }
    ASSERT_TRUE(unready_at.has_value()) << "the Service never saw " << leader_id << " unready";
    ASSERT_TRUE(ready_at.has_value());
    EXPECT_LT(*unready_at, *ready_at) << "two replicas were ready at once";
  }

  // The scenario happened as arranged: cluster-2's CSR for the new generation was sent after the partition.
  ASSERT_TRUE(WaitFor([&] { return CountLines(slow.AgentLog(), ": sent CSR ") > slow_csrs_before; }, 60s))
      << slow.AgentLog();
  {
    std::optional<WallClock::time_point> sent_at;
    std::istringstream lines(slow.AgentLog());
    for (std::string line; std::getline(lines, line);) {
      if (line.find(": sent CSR ") != std::string::npos) sent_at = ParseUtc(line.substr(0, line.find(' ')));
    }
    ASSERT_TRUE(sent_at.has_value()) << slow.AgentLog();
    ASSERT_GT(*sent_at, partitioned_at) << slow.name() << "'s CSR went out before the partition; the scenario "
                                        << "needs it in flight\n"
                                        << slow.AgentLog();
  }
  ASSERT_EQ(SetLatency(slow, 0), 200);
  ASSERT_TRUE(WaitForAccepted("vm1", 120s)) << Logs();
  auto lease = management_.Lease();
  ASSERT_TRUE(lease.ok()) << lease.error().message;
  EXPECT_EQ(lease->holder, HubReplicaSet::ReplicaId(next));
  auto acquired = ParseUtc(lease->acquire_time);
  ASSERT_TRUE(acquired.has_value()) << lease->acquire_time;

  // Fencing: the ex-leader's last renewal was at the latest when the partition began; every signature it made
  // is logged (after it was recorded) before that plus the renew deadline, and before the new leader took the
  // Lease.
  const std::string ex_log = hubs_.replica(leader).Log();
  const auto fence = partitioned_at + ParseFlagDuration(timings.renew_deadline);
  std::set<std::string> signed_by_ex;
  for (const auto& s : Signatures(ex_log)) {
    signed_by_ex.insert(Lower(s.serial));
    EXPECT_LT(s.logged_at, fence) << leader_id << " signed after its lease could have expired (fence " << Rfc3339(fence)
                                  << "): " << s.line;
    EXPECT_LT(s.logged_at, *acquired) << leader_id << " signed after " << lease->holder << " acquired the Lease at "
                                      << lease->acquire_time << ": " << s.line;
  }
  // The records agree: whatever was recorded after the new leader acquired the Lease was signed by another
  // replica.
  std::set<std::string> signed_by_others;
  for (int i = 0; i < kReplicas; ++i) {
    if (i == leader) continue;
    for (const auto& s : Signatures(hubs_.replica(i).AllLogs())) signed_by_others.insert(Lower(s.serial));
  }
  const auto issued = IssuedCertificates();
  for (const auto& [serial, spec] : issued) {
    auto at = ParseUtc(JsonString(spec, {"issuedAt"}));
    ASSERT_TRUE(at.has_value()) << serial;
    if (*at >= fence) {
      EXPECT_FALSE(signed_by_ex.count(serial)) << serial << " issued at " << JsonString(spec, {"issuedAt"});
      EXPECT_TRUE(signed_by_others.count(serial))
          << serial << " issued at " << JsonString(spec, {"issuedAt"}) << " by no replica's log";
    }
  }
  ExpectOneCertificatePerKey(issued);
  // cluster-2's CSR went out after the partition began (its API server answers slowly): nothing of it is lost —
  // the intermediate it installed was signed by a replica that held the Lease.
  const std::string slow_serial = Serial(Cacerts(slow)["ca-cert.pem"]);
  EXPECT_TRUE(signed_by_others.count(slow_serial))
      << slow.name() << " installed " << slow_serial << ", which no replica but " << leader_id << " logged\n"
      << Logs();

  // The ex-leader stepped down (closed its agent sessions, stopped its core) by the time another replica could
  // take the Lease: a lease duration after its last renewal at the latest.
  std::optional<WallClock::time_point> stepped_down;
  {
    std::istringstream lines(ex_log);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("lost leadership") == std::string::npos) continue;
      stepped_down = ParseUtc(line.substr(0, line.find(' ')));
      break;
    }
  }
  ASSERT_TRUE(stepped_down.has_value()) << leader_id << " never logged that it lost leadership\n" << ex_log;
  const auto step_down_delay = std::chrono::duration_cast<std::chrono::milliseconds>(*stepped_down - partitioned_at);
  std::cout << R"({"test":"ha_e2e_partition","leaseDuration":")" << timings.lease_duration << R"(","renewDeadline":")"
            << timings.renew_deadline << R"(","retryPeriod":")" << timings.retry_period << R"(","takeoverSeconds":)"
            << took << R"(,"exLeaderSteppedDownAfterSeconds":)" << Seconds(step_down_delay)
            << R"(,"exLeaderRefusedToSign":)" << CountLines(ex_log, "refusing to sign") << "}" << std::endl;
  EXPECT_LE(step_down_delay, ParseFlagDuration(timings.lease_duration))
      << leader_id << " kept its term (and its agents' sessions) " << step_down_delay.count()
      << " ms after the partition, beyond the lease duration " << timings.lease_duration << " (renew deadline "
      << timings.renew_deadline << ")\n"
      << ex_log;

  // Healed, the ex-leader follows: it does not become ready while the new leader holds the Lease.
  api_links_[leader]->SetMode(ProxyMode::kForward);
  api_links_[leader]->DropAll();
  std::this_thread::sleep_for(3 * ParseFlagDuration(timings.retry_period));
  EXPECT_NE(ProbeHttps(hubs_.replica(leader).api_port()), 200) << hubs_.replica(leader).Log();
  EXPECT_EQ(ProbeHttps(hubs_.replica(next).api_port()), 200) << hubs_.replica(next).Log();
}

}  // namespace
}  // namespace vmesh::e2e
