// SPEC §13 / issue "hub–agent link" benchmark: one vmesh-hub process with N simulated agents that speak the
// real protocol (register, bootstrap over HTTPS, mTLS WebSocket, Hello, ACKs). Prints JSON:
//  - hub memory per idle agent (RSS growth from 0 to N sessions, divided by N) and hub CPU while idle;
//  - resource update fan-out: after every agent reported one mesh, one VirtualMesh over all of them is applied;
//    the time until every agent received (and ACKed) its certificate directive, as a rate and percentiles.
//
//  - with --destinations D --providers P (SPEC §13's scale scenario): every agent also reports D destinations,
//    the VirtualMesh federates the destinations of the first P clusters to every mesh (flat network), agents
//    answer certificate directives with CSRs and report their intermediates installed; measured: apply -> every
//    mesh ACCEPTED, then one destination added in a provider cluster -> the time until every other agent has
//    received and ACKed its ServiceEntry (p50/p99), and the hub CPU that change cost.
//
// Usage: vmesh_link_bench [--agents N] [--idle-seconds S] [--destinations D --providers P]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/common/proc_stats.h"
#include "common/api/manifest.h"
#include "common/link/client.h"
#include "common/link/event_loop.h"
#include "common/pki/csr.h"
#include "common/pki/key.h"
#include "e2e/harness/fleet.h"
#include "vmesh/config/v1/config.pb.h"
#include "vmesh/link/v1/link.pb.h"

namespace {

using namespace vmesh;
using bench::CpuSeconds;
using bench::Percentile;
using bench::RssKiB;
using Clock = std::chrono::steady_clock;

struct FakeAgent {
  std::string cluster;
  link::TlsContextPtr tls;
  link::ConnectionPtr connection;
  std::atomic<bool> welcomed{false};
  std::atomic<bool> got_update{false};
  Clock::time_point update_at{};
  uint64_t next_id = 1;
  // Scale scenario.
  std::atomic<bool> installed{false};
  std::atomic<bool> saw_added{false};
  Clock::time_point added_at{};
  std::string generation;
};

// The added destination's federated ServiceEntry, as every other cluster receives it.
std::string AddedHostFragment() { return "/ServiceEntry/istio-system/added.bench.svc.bench-0.global"; }

vmesh::api::v1::Destination MakeDestination(const std::string& cluster, const std::string& name, int index) {
  vmesh::api::v1::Destination d;
  d.set_api_version("discovery.vmesh.dev/v1");
  d.set_kind("Destination");
  d.mutable_metadata()->set_name(name + "-bench-" + cluster);
  d.mutable_metadata()->set_namespace_("vmesh");
  auto* spec = d.mutable_spec();
  spec->set_cluster(cluster);
  spec->mutable_mesh()->set_name("istiod-istio-system-" + cluster);
  spec->mutable_mesh()->set_namespace_("vmesh");
  spec->set_name(name);
  spec->set_namespace_("bench");
  auto* port = spec->add_ports();
  port->set_name("http");
  port->set_port(8080);
  port->set_protocol("TCP");
  port->set_target_port("8080");
  (*spec->mutable_labels())["app"] = name;
  (*spec->mutable_selector())["app"] = name;
  auto* endpoint = spec->add_endpoints();
  endpoint->set_ip("10.0." + std::to_string(index / 250) + "." + std::to_string(index % 250 + 1));
  endpoint->set_ready(true);
  endpoint->set_service_account(name);
  (*endpoint->mutable_labels())["app"] = name;
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  int agents = 1000;
  int idle_seconds = 10;
  int destinations = 0;
  int providers = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--agents") agents = std::atoi(argv[i + 1]);
    if (flag == "--idle-seconds") idle_seconds = std::atoi(argv[i + 1]);
    if (flag == "--destinations") destinations = std::atoi(argv[i + 1]);
    if (flag == "--providers") providers = std::atoi(argv[i + 1]);
  }
  const bool scale = destinations > 0 && providers > 0;
  e2e::HubProcess hub(e2e::Binaries::FromBuild());
  if (auto s = hub.Init(); !s.ok()) {
    std::cerr << s.error().message << "\n";
    return 1;
  }
  if (auto s = hub.Serve({"--status-interval", "3600s", "--log-level", "warn"}); !s.ok()) {
    std::cerr << s.error().message << "\n";
    return 1;
  }
  config::v1::AdminConfig admin;
  api::DecodeInto(e2e::ReadFileOr(hub.admin_config()), &admin);
  auto anonymous = *link::TlsContext::Client({admin.hub_ca(), "", ""});

  // Register and bootstrap N clusters.
  std::vector<std::unique_ptr<FakeAgent>> fleet;
  auto t_register = Clock::now();
  for (int i = 0; i < agents; ++i) {
    auto agent = std::make_unique<FakeAgent>();
    agent->cluster = "bench-" + std::to_string(i);
    auto registered = hub.Api("POST", "/v1/clusters", R"({"name":")" + agent->cluster + R"(","ttl":"1h"})");
    if (registered.status != 201) {
      std::cerr << "register " << agent->cluster << ": " << registered.status << " " << registered.body << "\n";
      return 1;
    }
    config::v1::BootstrapBundle bundle;
    api::DecodeInto(registered.body, &bundle);
    auto key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
    link::v1::BootstrapRequest request;
    request.set_cluster_name(agent->cluster);
    request.set_token(bundle.token());
    request.set_csr_pem(pki::Csr::Create(key, {})->ToPem());
    link::FetchRequest fetch;
    fetch.url = "https" + bundle.hub_url().substr(3) + "/v1/bootstrap";
    fetch.body = request.SerializeAsString();
    fetch.content_type = "application/x-protobuf";
    auto answer = link::Fetch(anonymous, fetch);
    link::v1::BootstrapResponse response;
    if (!answer.ok() || answer->status != 200 || !response.ParseFromString(answer->body)) {
      std::cerr << "bootstrap " << agent->cluster << " failed\n";
      return 1;
    }
    agent->tls = *link::TlsContext::Client({admin.hub_ca(), response.certificate_pem(), key.ToPem()});
    fleet.push_back(std::move(agent));
  }
  double register_seconds = std::chrono::duration<double>(Clock::now() - t_register).count();

  const pid_t hub_pid = hub.pid();  // the harness's shell execs the hub in place
  std::this_thread::sleep_for(std::chrono::seconds(1));
  long rss_before = RssKiB(hub_pid);

  link::EventLoop loop(1);
  std::atomic<int> welcomed{0};
  std::atomic<int> updated{0};
  std::atomic<int> failed{0};
  std::atomic<int> installed{0};
  std::atomic<int> saw_added{0};
  auto t_connect = Clock::now();
  for (auto& agent_ptr : fleet) {
    FakeAgent* agent = agent_ptr.get();
    link::ConnectionHandlers handlers;
    handlers.on_open = [agent](const link::ConnectionPtr& c) {
      link::v1::Envelope hello;
      hello.set_id(agent->next_id++);
      hello.mutable_hello()->set_cluster_name(agent->cluster);
      hello.mutable_hello()->set_agent_version("bench");
      (void)c->Send(hello.SerializeAsString());
    };
    handlers.on_message = [agent, &welcomed, &updated, &installed, &saw_added, destinations, scale](
                              const link::ConnectionPtr& c, std::string message) {
      link::v1::Envelope envelope;
      if (!envelope.ParseFromString(message)) return;
      if (envelope.has_welcome() && !agent->welcomed.exchange(true)) {
        ++welcomed;
        // One mesh per cluster (and its destinations in the scale scenario).
        link::v1::Envelope report;
        report.set_id(agent->next_id++);
        report.mutable_discovery_report()->set_full_state(true);
        auto* mesh = report.mutable_discovery_report()->add_meshes();
        mesh->set_api_version("discovery.vmesh.dev/v1");
        mesh->set_kind("Mesh");
        mesh->mutable_metadata()->set_name("istiod-istio-system-" + agent->cluster);
        mesh->mutable_metadata()->set_namespace_("vmesh");
        auto* spec = mesh->mutable_spec();
        spec->set_cluster(agent->cluster);
        spec->set_installation_namespace("istio-system");
        spec->set_istio_version("1.20.3");
        spec->set_trust_domain("cluster.local");
        spec->set_istiod_service_account("istiod");
        spec->set_ca_hot_reload(true);
        for (int d = 0; d < destinations; ++d) {
          *report.mutable_discovery_report()->add_destinations() =
              MakeDestination(agent->cluster, "svc-" + std::to_string(d), d);
        }
        (void)c->Send(report.SerializeAsString());
      }
      if (envelope.has_resource_update()) {
        if (!agent->got_update.exchange(true)) {
          agent->update_at = Clock::now();
          ++updated;
        }
        link::v1::Envelope ack;
        ack.set_id(agent->next_id++);
        ack.mutable_ack()->set_nonce(envelope.resource_update().nonce());
        ack.mutable_ack()->set_system_version(envelope.resource_update().system_version());
        ack.mutable_ack()->set_accepted(true);
        (void)c->Send(ack.SerializeAsString());
        for (const auto& r : envelope.resource_update().upserts()) {
          if (r.name().find(AddedHostFragment()) != std::string::npos && !agent->saw_added.exchange(true)) {
            agent->added_at = Clock::now();
            ++saw_added;
          }
          if (!scale || !r.has_certificate() || r.certificate().generation() == agent->generation) continue;
          // A certificate directive: a CSR for a fresh key, as the real agent sends.
          agent->generation = r.certificate().generation();
          auto key = *pki::PrivateKey::Generate(pki::KeySpec::EcdsaP256());
          link::v1::Envelope csr;
          csr.set_id(agent->next_id++);
          auto* request = csr.mutable_certificate_signing_request();
          request->set_mesh(r.certificate().mesh());
          request->set_directive_generation(agent->generation);
          request->set_csr_pem(pki::Csr::Create(key, {})->ToPem());
          request->set_request_id(agent->cluster + "-" + agent->generation.substr(0, 8));
          (void)c->Send(csr.SerializeAsString());
        }
      }
      if (envelope.has_issued_certificate() && !envelope.issued_certificate().error().empty()) {
        std::cerr << agent->cluster << ": " << envelope.issued_certificate().error() << "\n";
      }
      if (envelope.has_issued_certificate() && envelope.issued_certificate().error().empty()) {
        link::v1::Envelope status;
        status.set_id(agent->next_id++);
        auto* ms = status.mutable_status_report()->add_meshes();
        ms->set_mesh(envelope.issued_certificate().mesh());
        ms->mutable_certificate()->set_phase(api::v1::INSTALLED);
        ms->mutable_certificate()->set_serial("bench");
        ms->set_installed_generation(agent->generation);
        (void)c->Send(status.SerializeAsString());
        if (!agent->installed.exchange(true)) ++installed;
      }
    };
    handlers.on_closed = [](const link::ConnectionPtr&, const link::CloseInfo&) {};
    link::DialOptions options;
    options.url = hub.agent_url() + "/v1/connect";
    options.tls = agent->tls;
    link::Dial(loop.context(), options, handlers, [agent, &failed](Result<link::ConnectionPtr> r) {
      if (r.ok()) {
        agent->connection = *r;
      } else {
        ++failed;
        std::cerr << "dial " << agent->cluster << ": " << r.error().message << "\n";
      }
    });
  }
  e2e::WaitFor([&] { return welcomed.load() + failed.load() >= agents; }, std::chrono::seconds(300));
  double connect_seconds = std::chrono::duration<double>(Clock::now() - t_connect).count();
  std::this_thread::sleep_for(std::chrono::seconds(3));  // discovery reports processed, reconciles settled
  long rss_after = RssKiB(hub_pid);

  double cpu_before = CpuSeconds(hub_pid);
  std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
  double cpu_idle = CpuSeconds(hub_pid) - cpu_before;

  // Fan-out: one VirtualMesh over every mesh (shared trust, ECDSA root) gives every agent a certificate directive.
  std::ostringstream vm;
  vm << "apiVersion: networking.vmesh.dev/v1\nkind: VirtualMesh\nmetadata: {name: bench, namespace: vmesh}\n"
     << "spec:\n  mtlsConfig:\n    shared:\n      rootCertificateAuthority:\n        generated: {keyAlgorithm: "
        "ECDSA_P256}\n      intermediateCertOptions: {keyAlgorithm: ECDSA_P256}\n  meshes:\n";
  for (const auto& agent : fleet) vm << "  - {name: istiod-istio-system-" << agent->cluster << ", namespace: vmesh}\n";
  if (scale) {
    vm << "  federation:\n    flatNetwork: true\n    selectors:\n    - destinationSelectors:\n      - "
          "kubeServiceMatcher:\n          clusters: [";
    for (int p = 0; p < providers; ++p) vm << (p ? ", " : "") << "bench-" << p;
    vm << "]\n";
  }
  double cpu_fanout_before = CpuSeconds(hub_pid);
  auto t_apply = Clock::now();
  auto applied = hub.Api("POST", "/v1/apply", vm.str());
  if (applied.status != 200) std::cerr << "apply: " << applied.status << " " << applied.body << "\n";
  bool all = e2e::WaitFor([&] { return updated.load() >= welcomed.load(); }, std::chrono::seconds(300));
  double fanout_seconds = std::chrono::duration<double>(Clock::now() - t_apply).count();
  double cpu_fanout = CpuSeconds(hub_pid) - cpu_fanout_before;
  std::vector<double> latencies;
  for (const auto& agent : fleet) {
    if (agent->got_update) latencies.push_back(std::chrono::duration<double>(agent->update_at - t_apply).count());
  }

  // Scale scenario: every mesh ACCEPTED, then one destination added in provider cluster bench-0.
  double accepted_seconds = -1, added_p50 = -1, added_p99 = -1, added_all_seconds = -1, added_cpu = -1;
  int added_seen = 0;
  if (scale) {
    auto vm_state = [&] {
      auto answer = hub.Api("GET", "/v1/objects/virtualmeshes?name=bench");
      boost::system::error_code ec;
      auto v = boost::json::parse(answer.body, ec);
      if (ec || !v.is_object() || !v.as_object().contains("status")) return std::string();
      const auto* state = v.as_object().at("status").as_object().if_contains("state");
      return state ? std::string(state->as_string()) : std::string("PENDING");
    };
    if (e2e::WaitFor([&] { return vm_state() == "ACCEPTED"; }, std::chrono::seconds(180))) {
      accepted_seconds = std::chrono::duration<double>(Clock::now() - t_apply).count();
    } else {
      std::cerr << "not ACCEPTED: " << installed.load() << " installed\n";
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
    FakeAgent* provider = fleet.front().get();
    link::v1::Envelope delta;
    delta.set_id(1000000);
    *delta.mutable_discovery_report()->add_destinations() = MakeDestination(provider->cluster, "added", 999);
    double cpu_added_before = CpuSeconds(hub_pid);
    auto t_added = Clock::now();
    (void)provider->connection->Send(delta.SerializeAsString());
    e2e::WaitFor([&] { return saw_added.load() >= welcomed.load() - 1; }, std::chrono::seconds(120));
    added_all_seconds = std::chrono::duration<double>(Clock::now() - t_added).count();
    added_cpu = CpuSeconds(hub_pid) - cpu_added_before;
    std::vector<double> added;
    for (const auto& agent : fleet) {
      if (agent->saw_added) added.push_back(std::chrono::duration<double>(agent->added_at - t_added).count());
    }
    added_seen = static_cast<int>(added.size());
    added_p50 = Percentile(added, 0.5);
    added_p99 = Percentile(added, 0.99);
  }

  boost::json::object out;
  out["benchmark"] = scale ? "hub_federation_scale" : "hub_idle_agents";
  if (scale) {
    out["destinations_per_agent"] = destinations;
    out["provider_clusters"] = providers;
    out["apply_to_all_accepted_seconds"] = accepted_seconds;
    out["certificates_installed"] = installed.load();
    out["destination_added_seen_by"] = added_seen;
    out["destination_added_all_seconds"] = added_all_seconds;
    out["destination_added_p50_seconds"] = added_p50;
    out["destination_added_p99_seconds"] = added_p99;
    out["destination_added_hub_cpu_seconds"] = added_cpu;
  }
  out["agents"] = agents;
  out["connected"] = welcomed.load();
  out["dial_failures"] = failed.load();
  out["register_and_bootstrap_seconds"] = register_seconds;
  out["connect_seconds"] = connect_seconds;
  out["hub_rss_kib_before_sessions"] = rss_before;
  out["hub_rss_kib_with_sessions"] = rss_after;
  out["hub_kib_per_idle_agent"] =
      welcomed.load() > 0 ? static_cast<double>(rss_after - rss_before) / welcomed.load() : 0.0;
  out["idle_seconds"] = idle_seconds;
  out["hub_cpu_percent_while_idle"] = 100.0 * cpu_idle / idle_seconds;
  out["fanout_all_received"] = all;
  out["fanout_agents_updated"] = updated.load();
  out["fanout_seconds"] = fanout_seconds;
  out["fanout_updates_per_second"] = fanout_seconds > 0 ? updated.load() / fanout_seconds : 0.0;
  out["fanout_p50_seconds"] = Percentile(latencies, 0.5);
  out["fanout_p99_seconds"] = Percentile(latencies, 0.99);
  out["fanout_hub_cpu_seconds"] = cpu_fanout;
  std::cout << boost::json::serialize(out) << std::endl;

  for (auto& agent : fleet) {
    if (agent->connection) agent->connection->Close();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  loop.Stop();
  fleet.clear();  // the connections go before the event loop they belong to
  hub.Stop();
  return 0;
}
