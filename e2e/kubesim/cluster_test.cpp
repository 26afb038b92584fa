// kubesim as the e2e tests, the demo and vmesh's agents use it (phase 2): the real kubectl over TLS with a
// bearer token, multi-cluster seeds, the Endpoints controller, the Istio simulation and fault injection.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <regex>
#include <thread>

#include "common/base/base64.h"
#include "common/base/test_paths.h"
#include "common/pki/csr.h"
#include "common/pki/issuer.h"
#include "e2e/kubesim/test_cluster.h"

namespace vmesh::kubesim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(FindKubectl().empty()) << "kubectl is not installed (scripts/setup warns of it)";
  }

  void Start(const std::vector<std::string>& args, const std::string& name = "kubesim") {
    Status s = cluster_.Start(KUBESIM_BINARY, name, args);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }

  // Runs kubectl and expects success; returns its output.
  std::string Ok(const std::vector<std::string>& args) {
    ProcessOutput out = cluster_.Kubectl(args);
    std::string command;
    for (const auto& a : args) command += " " + a;
    EXPECT_EQ(out.exit_code, 0) << "kubectl" << command << ":\n" << out.output;
    EXPECT_FALSE(out.timed_out) << "kubectl" << command;
    return out.output;
  }

  // Runs kubectl until its output satisfies `done` or `timeout` passes; returns the last output.
  std::string Until(const std::vector<std::string>& args, const std::function<bool(const std::string&)>& done,
                    milliseconds timeout = seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string out;
    while (true) {
      out = cluster_.Kubectl(args).output;
      if (done(out) || std::chrono::steady_clock::now() >= deadline) return out;
      std::this_thread::sleep_for(milliseconds(100));
    }
  }

  std::string Seed(const std::string& name) { return testpaths::SourceDir() + "/e2e/kubesim/seeds/" + name; }

  TestCluster cluster_;
};

// Python's urllib as a second client: requests with an exact method, body and token, printing
// "<status> <body>" (also for HTTP errors).
constexpr const char* kRequest = R"(
import ssl, sys, urllib.request, urllib.error
method, url, token, body, ca = sys.argv[1:6]
context = ssl.create_default_context(cafile=ca) if ca else None
request = urllib.request.Request(url, method=method, data=body.encode() if body else None,
                                 headers={"Authorization": "Bearer " + token} if token else {})
try:
    response = urllib.request.urlopen(request, context=context, timeout=20)
    print(response.status, response.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
)";

// Reads a watch stream with Python's http.client: prints the event types, then "complete" when the stream
// ended with the last chunk or "dropped" when the connection broke, then the seconds it took.
constexpr const char* kWatch = R"py(
import json, re, socket, sys, time
port, path = sys.argv[1:3]
start = time.time()
connection = socket.create_connection(("127.0.0.1", int(port)), timeout=20)
connection.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode())
data = b""
while True:
    try:
        block = connection.recv(65536)
    except ConnectionError:
        break
    if not block:
        break
    data += block
body = data.split(b"\r\n\r\n", 1)[1]
types = []
for line in body.split(b"\n"):
    match = re.search(rb'\{"type":"(\w+)".*', line)
    if match:
        event = json.loads(match.group(0))
        types.append(event["type"] + ("/" + str(event["object"].get("code")) if event["type"] == "ERROR" else ""))
end = "complete" if body.endswith(b"0\r\n\r\n") else "dropped"
print(" ".join(types), end, round(time.time() - start, 1))
)py";

// A root CA and intermediates under it, written as the `cacerts` Secret vmesh's agent writes (SPEC §5.3).
struct Root {
  Root(const std::string& name)
      : key(*pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256())),
        cert(*pki::IssueRootCa(key, pki::RootCaProfile{"vmesh", name}, pki::Clock::now())) {}

  // cacerts with a new intermediate; returns the manifest, and the intermediate's fingerprint in `ca_fp`.
  std::string Cacerts(std::string* ca_fp) const {
    auto ca_key = pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
    auto signer = pki::CaSigner::Create(cert, key);
    pki::IntermediateProfile profile;
    profile.common_name = "vmesh intermediate test";
    profile.spiffe_uri = "spiffe://cluster.local/ns/istio-system/sa/istiod";
    auto ca = pki::IssueIntermediate(*signer, *pki::Csr::Create(*ca_key, {}), profile, pki::Clock::now());
    *ca_fp = ca->Fingerprint();
    return "apiVersion: v1\nkind: Secret\nmetadata: {name: cacerts, namespace: istio-system}\ndata:\n"
           "  root-cert.pem: " +
           Base64Encode(cert.ToPem()) + "\n  ca-cert.pem: " + Base64Encode(ca->ToPem()) +
           "\n  ca-key.pem: " + Base64Encode(ca_key->ToPem()) +
           "\n  cert-chain.pem: " + Base64Encode(ca->ToPem() + cert.ToPem()) + "\n";
  }

  pki::PrivateKey key;
  pki::Certificate cert;
};

constexpr const char* kIstiodAnnotations =
    "jsonpath={range .items[*]}{.metadata.name} "
    "{.metadata.annotations.kubesim\\.vmesh\\.dev/loaded-root-fingerprint} "
    "{.metadata.annotations.kubesim\\.vmesh\\.dev/loaded-ca-cert-fingerprint}{\"\\n\"}{end}";

TEST_F(ClusterTest, KubectlOverTlsWithBearerToken) {
  Start({"--tls", "--token", "t0ken"});
  auto config = cluster_.Kubectl({"config", "view", "--raw", "-o", "json"});
  ASSERT_EQ(config.exit_code, 0) << config.output;
  auto json = boost::json::parse(config.output);
  const auto& entry = json.at("clusters").at(0).at("cluster");
  EXPECT_EQ(entry.at("server").as_string(), "https://127.0.0.1:" + std::to_string(cluster_.port()));
  auto ca = Base64Decode(std::string(entry.at("certificate-authority-data").as_string()));
  ASSERT_TRUE(ca.has_value());
  EXPECT_NE(ca->find("-----BEGIN CERTIFICATE-----"), std::string::npos);

  std::string out = Ok({"get", "namespaces"});
  EXPECT_NE(out.find("kube-system"), std::string::npos) << out;
  Ok({"create", "configmap", "over-tls", "--from-literal=k=v"});
  EXPECT_EQ(Ok({"get", "configmap", "over-tls", "-o", "jsonpath={.data.k}"}), "v");

  // Watches stream over TLS too (reads and writes share the TLS stream while a watch is open).
  ChildProcess watch;
  ASSERT_TRUE(cluster_.StartKubectl(watch, {"get", "configmaps", "--watch", "-o", "name"}).ok());
  ASSERT_TRUE(watch.WaitForOutput("configmap/over-tls", seconds(20))) << watch.output();
  Ok({"create", "configmap", "watched", "--from-literal=k=v"});
  EXPECT_TRUE(watch.WaitForOutput("configmap/watched", seconds(20))) << watch.output();

  // The same kubeconfig with another token is refused.
  std::string text = cluster_.Kubectl({"config", "view", "--raw"}).output;
  auto wrong = cluster_.WriteFile("wrong-kubeconfig", std::regex_replace(text, std::regex("t0ken"), "wr0ng"));
  ASSERT_TRUE(wrong.ok());
  ProcessOutput denied =
      RunProcess({"kubectl", "--kubeconfig", *wrong, "get", "namespaces"}, seconds(30), {"HOME=" + cluster_.dir()});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE(denied.output.find("Unauthorized"), std::string::npos) << denied.output;

  // Without a token: 401 with a Status body; health checks stay open.
  auto ca_file = cluster_.WriteFile("ca.pem", *ca);
  ASSERT_TRUE(ca_file.ok());
  const std::string base = "https://127.0.0.1:" + std::to_string(cluster_.port());
  std::string anonymous =
      RunProcess({"python3", "-c", kRequest, "GET", base + "/api/v1/namespaces", "", "", *ca_file}, seconds(20)).output;
  EXPECT_EQ(anonymous.rfind("401 ", 0), 0u) << anonymous;
  EXPECT_NE(anonymous.find(R"("kind":"Status")"), std::string::npos) << anonymous;
  EXPECT_NE(anonymous.find(R"("reason":"Unauthorized")"), std::string::npos) << anonymous;
  EXPECT_EQ(RunProcess({"python3", "-c", kRequest, "GET", base + "/healthz", "", "", *ca_file}, seconds(20)).output,
            "200 ok\n");

  // SIGTERM with a TLS watch open: a clean exit, and kubectl's watch ends.
  EXPECT_EQ(cluster_.server().Terminate(seconds(5)), 0) << cluster_.server_output();
  EXPECT_GE(watch.Wait(seconds(10)), 0) << watch.output();
}

// Two clusters from the same seeds: placeholders filled, disjoint pod/service ranges, their own east-west
// gateway addresses.
TEST_F(ClusterTest, MultiClusterSeedsGetTheirOwnNetworks) {
  Start({"--cluster-index", "1", "--pod-ready-delay-ms", "100", "--seed", Seed("istio.yaml"), "--seed",
         Seed("bookinfo.yaml")},
        "east");
  TestCluster west;
  ASSERT_TRUE(
      west.Start(KUBESIM_BINARY, "west",
                 {"--cluster-index", "2", "--pod-ready-delay-ms", "100", "--seed", Seed("istio-smart-dns.yaml")})
          .ok());

  EXPECT_EQ(Ok({"get", "namespace", "istio-system", "-o", "jsonpath={.metadata.labels.topology\\.istio\\.io/network}"}),
            "network-1");
  EXPECT_EQ(west.Kubectl({"get", "namespace", "istio-system", "-o",
                          "jsonpath={.metadata.labels.topology\\.istio\\.io/network}"})
                .output,
            "network-2");
  const std::string gateway_ip = "jsonpath={.status.loadBalancer.ingress[0].ip}";
  EXPECT_EQ(Until({"get", "service", "istio-eastwestgateway", "-n", "istio-system", "-o", gateway_ip},
                  [](const std::string& out) { return !out.empty(); }),
            "172.18.0.1");
  const auto west_ip = [&] {
    return west.Kubectl({"get", "service", "istio-eastwestgateway", "-n", "istio-system", "-o", gateway_ip}).output;
  };
  for (int i = 0; i < 50 && west_ip().empty(); ++i) std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(west_ip(), "172.18.0.2");
  EXPECT_EQ(Ok({"get", "service", "istio-eastwestgateway", "-n", "istio-system", "-o",
                "jsonpath={.spec.type} {.spec.selector.istio} {.spec.ports[*].name} {.spec.ports[*].port}"}),
            "LoadBalancer eastwestgateway status-port tls 15021 15443");
  EXPECT_EQ(
      Ok({"get", "service", "productpage", "-n", "bookinfo", "-o", "jsonpath={.spec.clusterIP}"}).rfind("10.129.", 0),
      0u);
  EXPECT_EQ(west.Kubectl({"get", "service", "istiod", "-n", "istio-system", "-o", "jsonpath={.spec.clusterIP}"})
                .output.rfind("10.130.", 0),
            0u);

  // istiod as Istio installs it, and the mesh config with and without smart DNS.
  EXPECT_EQ(Ok({"get", "deployment", "istiod", "-n", "istio-system", "-o",
                "jsonpath={.metadata.labels.app} {.metadata.labels.istio} "
                "{.spec.template.spec.serviceAccountName} {.spec.template.spec.containers[0].name} "
                "{.spec.template.spec.containers[0].image}"}),
            "istiod pilot istiod discovery docker.io/istio/pilot:1.20.3");
  Ok({"get", "serviceaccount", "istiod", "-n", "istio-system"});
  EXPECT_EQ(Ok({"get", "configmap", "istio", "-n", "istio-system", "-o", "jsonpath={.data.mesh}"}),
            "trustDomain: cluster.local\ndefaultConfig:\n  proxyMetadata: {}");
  EXPECT_NE(west.Kubectl({"get", "configmap", "istio", "-n", "istio-system", "-o", "jsonpath={.data.mesh}"})
                .output.find("ISTIO_META_DNS_CAPTURE: \"true\""),
            std::string::npos);

  // Sidecar-injected bookinfo pods made by the Deployment controller, with IPs from the cluster's range.
  EXPECT_EQ(Ok({"get", "namespace", "bookinfo", "-o", "jsonpath={.metadata.labels.istio-injection}"}), "enabled");
  std::string pods = Until({"get", "pods", "-n", "bookinfo", "-l", "app=reviews", "-o",
                            "jsonpath={.items[0].status.podIP} {.items[0].metadata.labels.version} "
                            "{.items[0].metadata.labels.security\\.istio\\.io/tlsMode} "
                            "{.items[0].spec.serviceAccountName}"},
                           [](const std::string& out) { return out.rfind("10.1.", 0) == 0; });
  EXPECT_TRUE(std::regex_match(pods, std::regex(R"(10\.1\.\d+\.\d+ v1 istio bookinfo-reviews)"))) << pods;
  EXPECT_NE(Ok({"get", "pods", "-n", "bookinfo", "-l", "app=ratings", "-o",
                "jsonpath={.items[0].metadata.annotations.sidecar\\.istio\\.io/status}"})
                .find("istio-proxy"),
            std::string::npos);
  EXPECT_EQ(Ok({"get", "service", "productpage", "-n", "bookinfo", "-o",
                "jsonpath={.spec.ports[0].name}:{.spec.ports[0].port}"}),
            "http:9080");
  for (const char* account : {"bookinfo-productpage", "bookinfo-reviews", "bookinfo-ratings"}) {
    Ok({"get", "serviceaccount", account, "-n", "bookinfo"});
  }
  std::string west_pods =
      west.Kubectl({"get", "pods", "-n", "istio-system", "-o", "jsonpath={.items[*].status.podIP}"}).output;
  for (int i = 0; i < 50 && west_pods.find("10.2.") == std::string::npos; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    west_pods = west.Kubectl({"get", "pods", "-n", "istio-system", "-o", "jsonpath={.items[*].status.podIP}"}).output;
  }
  EXPECT_TRUE(std::regex_match(west_pods, std::regex(R"(10\.2\.\d+\.\d+ 10\.2\.\d+\.\d+)"))) << west_pods;
}

TEST_F(ClusterTest, Istio118SeedUsesTheOlderImage) {
  Start({"--cluster-index", "3", "--seed", Seed("istio-1.18.yaml")});
  EXPECT_EQ(Ok({"get", "deployment", "istiod", "-n", "istio-system", "-o",
                "jsonpath={.spec.template.spec.containers[0].image}"}),
            "docker.io/istio/pilot:1.18.2");
}

// Endpoints list the ready pods a Service selects, follow scaling, and go away with the Service.
TEST_F(ClusterTest, EndpointsFollowReadyPods) {
  Start({"--cluster-index", "4", "--pod-ready-delay-ms", "300", "--seed", Seed("bookinfo.yaml")});
  const std::vector<std::string> get_addresses = {
      "get",
      "endpoints",
      "reviews",
      "-n",
      "bookinfo",
      "-o",
      "jsonpath={.subsets[0].addresses[*].ip}|{.subsets[0].addresses[*].targetRef.kind}|"
      "{.subsets[0].ports[0].name}:{.subsets[0].ports[0].port}"};
  std::string one =
      Until(get_addresses, [](const std::string& out) { return std::regex_search(out, std::regex(R"(^10\.4\.)")); });
  EXPECT_TRUE(std::regex_match(one, std::regex(R"(10\.4\.\d+\.\d+\|Pod\|http:9080)"))) << one;
  std::string pod_ip =
      Ok({"get", "pods", "-n", "bookinfo", "-l", "app=reviews", "-o", "jsonpath={.items[0].status.podIP}"});
  EXPECT_EQ(one.substr(0, one.find('|')), pod_ip);

  std::string table = Ok({"get", "endpoints", "reviews", "-n", "bookinfo"});
  EXPECT_TRUE(std::regex_search(table, std::regex(R"(NAME +ENDPOINTS +AGE\nreviews +10\.4\.\d+\.\d+:9080 )"))) << table;

  Ok({"scale", "deployment", "reviews-v1", "-n", "bookinfo", "--replicas=3"});
  // New pods show up as not ready first, then as addresses.
  std::string three = Until(
      get_addresses, [](const std::string& out) { return std::regex_search(out, std::regex(R"(^\S+ \S+ \S+\|)")); });
  EXPECT_TRUE(std::regex_search(three, std::regex(R"(^10\.4\.\S+ 10\.4\.\S+ 10\.4\.\S+\|Pod Pod Pod\|)"))) << three;

  EXPECT_TRUE(
      std::regex_match(Ok({"get", "endpointslices", "-n", "bookinfo", "-l", "kubernetes.io/service-name=reviews", "-o",
                           "jsonpath={.items[*].endpoints[*].addresses[0]}"}),
                       std::regex(R"(10\.4\.\S+ 10\.4\.\S+ 10\.4\.\S+)")));

  Ok({"delete", "service", "reviews", "-n", "bookinfo"});
  std::string gone = Until({"get", "endpoints", "-n", "bookinfo", "-o", "name"},
                           [](const std::string& out) { return out.find("reviews") == std::string::npos; });
  EXPECT_EQ(gone.find("reviews"), std::string::npos) << gone;
  EXPECT_NE(gone.find("endpoints/productpage"), std::string::npos) << gone;
}

// SPEC §5.3/§5.6 as kubesim's istiod plays it: same-root intermediates hot-reload on 1.20, a new root needs
// a rolling restart of istiod, the istio-ca-root-cert ConfigMaps follow, and sidecars restarted afterwards
// trust the new root.
TEST_F(ClusterTest, IstiodLoadsCacertsAndRestartsForANewRoot) {
  Start({"--cluster-index", "5", "--pod-ready-delay-ms", "100", "--seed", Seed("istio.yaml"), "--seed",
         Seed("bookinfo.yaml")});
  const std::vector<std::string> istiod = {"get", "pods",       "-n", "istio-system",
                                           "-l",  "app=istiod", "-o", kIstiodAnnotations};
  const std::vector<std::string> mirrored = {
      "get", "configmap", "istio-ca-root-cert", "-n", "bookinfo", "-o", "jsonpath={.data.root-cert\\.pem}"};
  const std::vector<std::string> trusted = {
      "get", "pods",
      "-n",  "bookinfo",
      "-l",  "app=reviews",
      "-o",  "jsonpath={.items[*].metadata.annotations.kubesim\\.vmesh\\.dev/trusted-root-fingerprint}"};
  // Istio's self-signed root at first.
  std::string self_signed =
      Until(mirrored, [](const std::string& out) { return out.find("BEGIN CERTIFICATE") != std::string::npos; });
  ASSERT_NE(self_signed.find("BEGIN CERTIFICATE"), std::string::npos) << self_signed;
  const std::string self_signed_fp = pki::Certificate::FromPem(self_signed)->Fingerprint();
  std::string before =
      Until(istiod, [&](const std::string& out) { return out.find(self_signed_fp) != std::string::npos; });
  const std::string istiod_pod = before.substr(0, before.find(' '));
  EXPECT_EQ(Until(trusted, [](const std::string& out) { return out.size() == 64; }), self_signed_fp);

  // The first vmesh root is not picked up by the running istiod...
  Root root("root one");
  std::string ca1;
  auto cacerts = cluster_.WriteFile("cacerts.yaml", root.Cacerts(&ca1));
  Ok({"apply", "-f", *cacerts});
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(Ok(istiod), istiod_pod + " " + self_signed_fp + " " + self_signed_fp + "\n");
  EXPECT_EQ(Ok(mirrored), self_signed);

  // ... until istiod is restarted; then the ConfigMaps carry it.
  Ok({"rollout", "restart", "deployment/istiod", "-n", "istio-system"});
  Ok({"rollout", "status", "deployment/istiod", "-n", "istio-system", "--timeout=20s"});
  const std::string loaded_one = " " + root.cert.Fingerprint() + " " + ca1 + "\n";
  std::string after = Until(istiod, [&](const std::string& out) {
    return out.find('\n') == out.size() - 1 && out.find(loaded_one) != std::string::npos;
  });
  const std::string restarted_pod = after.substr(0, after.find(' '));
  EXPECT_NE(restarted_pod, istiod_pod);
  EXPECT_EQ(after, restarted_pod + loaded_one);
  EXPECT_EQ(Until(mirrored, [&](const std::string& out) { return out == root.cert.ToPem(); }), root.cert.ToPem());
  EXPECT_EQ(Ok({"get", "configmap", "istio-ca-root-cert", "-n", "default", "-o", "jsonpath={.data.root-cert\\.pem}"}),
            root.cert.ToPem());
  // Sidecars started before keep the old root until they are restarted.
  EXPECT_EQ(Ok(trusted), self_signed_fp);
  Ok({"rollout", "restart", "deployment/reviews-v1", "-n", "bookinfo"});
  Ok({"rollout", "status", "deployment/reviews-v1", "-n", "bookinfo", "--timeout=20s"});
  EXPECT_EQ(Until(trusted, [&](const std::string& out) { return out == root.cert.Fingerprint(); }),
            root.cert.Fingerprint());

  // A new intermediate under the same root: hot reload, same pod.
  std::string ca2;
  cacerts = cluster_.WriteFile("cacerts.yaml", root.Cacerts(&ca2));
  Ok({"apply", "-f", *cacerts});
  EXPECT_EQ(Until(istiod, [&](const std::string& out) { return out.find(ca2) != std::string::npos; }),
            restarted_pod + " " + root.cert.Fingerprint() + " " + ca2 + "\n");

  // Another root: ignored until the next restart.
  Root other("root two");
  std::string ca3;
  cacerts = cluster_.WriteFile("cacerts.yaml", other.Cacerts(&ca3));
  Ok({"apply", "-f", *cacerts});
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(Ok(istiod), restarted_pod + " " + root.cert.Fingerprint() + " " + ca2 + "\n");
  EXPECT_EQ(Ok(mirrored), root.cert.ToPem());
}

TEST_F(ClusterTest, Istiod118NeedsARestartEvenUnderTheSameRoot) {
  Root root("root");
  std::string ca1;
  auto seed = cluster_.WriteFile("cacerts.yaml", root.Cacerts(&ca1));
  ASSERT_TRUE(seed.ok());
  Start({"--pod-ready-delay-ms", "100", "--seed", Seed("istio-1.18.yaml"), "--seed", *seed});
  const std::vector<std::string> istiod = {"get", "pods",       "-n", "istio-system",
                                           "-l",  "app=istiod", "-o", kIstiodAnnotations};
  std::string loaded = Until(istiod, [&](const std::string& out) { return out.find(ca1) != std::string::npos; });
  const std::string pod = loaded.substr(0, loaded.find(' '));
  EXPECT_EQ(loaded, pod + " " + root.cert.Fingerprint() + " " + ca1 + "\n");

  std::string ca2;
  auto cacerts = cluster_.WriteFile("cacerts2.yaml", root.Cacerts(&ca2));
  Ok({"apply", "-f", *cacerts});
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(Ok(istiod), pod + " " + root.cert.Fingerprint() + " " + ca1 + "\n");

  Ok({"rollout", "restart", "deployment/istiod", "-n", "istio-system"});
  Ok({"rollout", "status", "deployment/istiod", "-n", "istio-system", "--timeout=20s"});
  std::string after = Until(istiod, [&](const std::string& out) {
    return out.find('\n') == out.size() - 1 && out.find(ca2) != std::string::npos;
  });
  EXPECT_NE(after.substr(0, after.find(' ')), pod);
  EXPECT_NE(after.find(" " + root.cert.Fingerprint() + " " + ca2 + "\n"), std::string::npos) << after;
}

std::string Post(const TestCluster& cluster, const std::string& path, const std::string& body) {
  return RunProcess({"python3", "-c", kRequest, "POST", "http://127.0.0.1:" + std::to_string(cluster.port()) + path, "",
                     body, ""},
                    seconds(20))
      .output;
}

std::string Get(const TestCluster& cluster, const std::string& path) {
  return RunProcess({"python3", "-c", kRequest, "GET", "http://127.0.0.1:" + std::to_string(cluster.port()) + path, "",
                     "", ""},
                    seconds(20))
      .output;
}

// The status codes of `n` LIST requests, made by one Python process.
std::string Codes(const TestCluster& cluster, int n) {
  const char* kCodes = R"(
import sys, urllib.request, urllib.error
codes = []
for _ in range(int(sys.argv[2])):
    try:
        codes.append(urllib.request.urlopen(sys.argv[1], timeout=20).status)
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        codes.append(e.code if '"kind":"Status"' in body else -e.code)
print(" ".join(map(str, codes)))
)";
  return RunProcess({"python3", "-c", kCodes,
                     "http://127.0.0.1:" + std::to_string(cluster.port()) + "/api/v1/namespaces", std::to_string(n)},
                    seconds(30))
      .output;
}

TEST_F(ClusterTest, FaultErrorRateIsDeterministicPerSeed) {
  Start({"--fault-error-rate", "0.5", "--fault-seed", "42"});
  TestCluster twin;
  ASSERT_TRUE(twin.Start(KUBESIM_BINARY, "twin", {"--fault-error-rate", "0.5", "--fault-seed", "42"}).ok());
  const std::string codes = Codes(cluster_, 40);
  EXPECT_EQ(Codes(twin, 40), codes);
  EXPECT_NE(codes.find("200"), std::string::npos) << codes;
  EXPECT_NE(codes.find("500"), std::string::npos) << codes;
  EXPECT_NE(codes.find("429"), std::string::npos) << codes;
  EXPECT_TRUE(std::regex_match(codes, std::regex(R"(((200|500|429) )*(200|500|429)\n)"))) << codes;
  // Health checks and watches are spared.
  EXPECT_EQ(Post(cluster_, "/kubesim/faults", R"({"errorRate": 1})").rfind("200 ", 0), 0u);
  EXPECT_EQ(Codes(cluster_, 5).find("200"), std::string::npos);
  EXPECT_EQ(Get(cluster_, "/healthz"), "200 ok\n");
  std::string watch = RunProcess({"python3", "-c", kWatch, std::to_string(cluster_.port()),
                                  "/api/v1/namespaces?watch=1&timeoutSeconds=1"},
                                 seconds(20))
                          .output;
  EXPECT_EQ(watch.rfind("ADDED ADDED ADDED ADDED complete", 0), 0u) << watch;
  // Off again at run time.
  EXPECT_EQ(Post(cluster_, "/kubesim/faults", R"({"errorRate": 0})").rfind("200 ", 0), 0u);
  EXPECT_EQ(Codes(cluster_, 3), "200 200 200\n");
  Ok({"get", "configmaps"});
}

TEST_F(ClusterTest, FaultLatencyAndAdminEndpoint) {
  Start({"--fault-latency-ms", "400", "--token", "t0ken"});
  const std::string base = "http://127.0.0.1:" + std::to_string(cluster_.port());
  // The admin endpoint wants the token like everything else, and validates what it gets.
  EXPECT_EQ(RunProcess({"python3", "-c", kRequest, "GET", base + "/kubesim/faults", "", "", ""}, seconds(20))
                .output.rfind("401 ", 0),
            0u);
  std::string config =
      RunProcess({"python3", "-c", kRequest, "GET", base + "/kubesim/faults", "t0ken", "", ""}, seconds(20)).output;
  EXPECT_NE(config.find(R"("latencyMs":400)"), std::string::npos) << config;
  std::string bad =
      RunProcess({"python3", "-c", kRequest, "POST", base + "/kubesim/faults", "t0ken", R"({"errorRate": 2})", ""},
                 seconds(20))
          .output;
  EXPECT_EQ(bad.rfind("400 ", 0), 0u) << bad;

  const char* kTime = R"(
import sys, time, urllib.request
start = time.time()
urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer t0ken"}), timeout=20)
print(round(time.time() - start, 2))
)";
  const std::string url = base + "/api/v1/namespaces";
  EXPECT_GE(std::stod(RunProcess({"python3", "-c", kTime, url}, seconds(20)).output), 0.39);
  RunProcess({"python3", "-c", kRequest, "POST", base + "/kubesim/faults", "t0ken", R"({"latencyMs": 0})", ""},
             seconds(20));
  EXPECT_LT(std::stod(RunProcess({"python3", "-c", kTime, url}, seconds(20)).output), 0.35);
}

TEST_F(ClusterTest, FaultDropsWatchesAfterEventsOrSeconds) {
  Start({"--fault-drop-watch-after-events", "2"});
  const std::string port = std::to_string(cluster_.port());
  std::string dropped =
      RunProcess({"python3", "-c", kWatch, port, "/api/v1/namespaces?watch=1&timeoutSeconds=5"}, seconds(20)).output;
  EXPECT_EQ(dropped.rfind("ADDED ADDED dropped", 0), 0u) << dropped;

  // Later events count too: a watch from now is cut after the second change.
  Post(cluster_, "/kubesim/faults", R"({"dropWatchAfterEvents": 3})");
  ChildProcess watch;
  std::string rv = std::string(boost::json::parse(Ok({"get", "--raw", "/api/v1/namespaces/default/configmaps"}))
                                   .at("metadata")
                                   .at("resourceVersion")
                                   .as_string());
  ASSERT_TRUE(watch
                  .Start({"python3", "-c", kWatch, port,
                          "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=10&resourceVersion=" + rv})
                  .ok());
  std::this_thread::sleep_for(milliseconds(300));
  for (int i = 0; i < 4; ++i) Ok({"create", "configmap", "c" + std::to_string(i)});
  EXPECT_GE(watch.Wait(seconds(15)), 0);
  EXPECT_EQ(watch.output().rfind("ADDED ADDED ADDED dropped", 0), 0u) << watch.output();

  Post(cluster_, "/kubesim/faults", R"({"dropWatchAfterEvents": 0, "dropWatchAfterSeconds": 0.5})");
  std::string timed =
      RunProcess({"python3", "-c", kWatch, port, "/api/v1/namespaces?watch=1&timeoutSeconds=10"}, seconds(20)).output;
  std::smatch match;
  ASSERT_TRUE(std::regex_match(timed, match, std::regex(R"(ADDED ADDED ADDED ADDED dropped ([0-9.]+)\n)"))) << timed;
  EXPECT_GE(std::stod(match[1]), 0.5);
  EXPECT_LT(std::stod(match[1]), 5.0);  // long before timeoutSeconds
  // A watch that ends on its own first still ends normally. (timeoutSeconds=0 means "the server's default",
  // as in kube-apiserver, so the watch gets 1 s and the drop comes later.)
  Post(cluster_, "/kubesim/faults", R"({"dropWatchAfterSeconds": 8})");
  std::string normal =
      RunProcess({"python3", "-c", kWatch, port, "/api/v1/namespaces?watch=1&timeoutSeconds=1"}, seconds(20)).output;
  EXPECT_NE(normal.find("complete"), std::string::npos) << normal;
}

TEST_F(ClusterTest, FaultExpiresTheNextWatch) {
  Start({"--fault-expire-next-watch"});
  const std::string port = std::to_string(cluster_.port());
  const std::string path = "/api/v1/namespaces?watch=1&timeoutSeconds=1";
  EXPECT_EQ(RunProcess({"python3", "-c", kWatch, port, path}, seconds(20)).output.rfind("ERROR/410 complete", 0), 0u);
  EXPECT_EQ(RunProcess({"python3", "-c", kWatch, port, path}, seconds(20)).output.rfind("ADDED ADDED", 0), 0u);
  Post(cluster_, "/kubesim/faults", R"({"expireNextWatch": true})");
  EXPECT_EQ(RunProcess({"python3", "-c", kWatch, port, path}, seconds(20)).output.rfind("ERROR/410 complete", 0), 0u);
  // kubectl's raw watch shows the Status.
  Post(cluster_, "/kubesim/faults", R"({"expireNextWatch": true})");
  ProcessOutput raw = cluster_.Kubectl({"get", "--raw", path});
  EXPECT_NE(raw.output.find(R"("code":410)"), std::string::npos) << raw.output;
  EXPECT_NE(raw.output.find(R"("reason":"Expired")"), std::string::npos) << raw.output;
}

}  // namespace
}  // namespace vmesh::kubesim
