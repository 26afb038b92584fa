// Test support for the Kubernetes store: the vmesh CRDs as the fake API server needs them (the generated ones land
// on another branch: these keep spec and status open, with the status subresource), and a KubeClient that shares
// one fake API server between several stores (two hubs).
#pragma once

#include <string>

#include "common/kube/fake_client.h"
#include "hub/store/kube_store.h"

namespace vmesh::hub::testing {

// One CRD of group networking.vmesh.dev, namespaced, v1, status subresource, spec and status unvalidated.
inline std::string TestCrd(const std::string& kind, const std::string& plural) {
  std::string singular = kind;
  for (char& c : singular) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return "apiVersion: apiextensions.k8s.io/v1\n"
         "kind: CustomResourceDefinition\n"
         "metadata: {name: " +
         plural +
         ".networking.vmesh.dev}\n"
         "spec:\n"
         "  group: networking.vmesh.dev\n"
         "  scope: Namespaced\n"
         "  names: {plural: " +
         plural + ", singular: " + singular + ", kind: " + kind +
         ", categories: [vmesh]}\n"
         "  versions:\n"
         "  - name: v1\n"
         "    served: true\n"
         "    storage: true\n"
         "    subresources: {status: {}}\n"
         "    schema:\n"
         "      openAPIV3Schema:\n"
         "        type: object\n"
         "        properties:\n"
         "          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}\n"
         "          status: {type: object, x-kubernetes-preserve-unknown-fields: true}\n";
}

// The four kinds; `except` (a plural) is left out, for the missing-CRD test.
inline std::string TestCrdsYaml(const std::string& except = "") {
  std::string out;
  for (auto [kind, plural] : {std::pair{"Cluster", "clusters"}, std::pair{"IssuedCertificate", "issuedcertificates"},
                              std::pair{"VirtualMesh", "virtualmeshes"}, std::pair{"AccessPolicy", "accesspolicies"}}) {
    if (plural == except) continue;
    out += (out.empty() ? "" : "---\n") + TestCrd(kind, plural);
  }
  return out;
}

// A KubeClient forwarding to a fake owned elsewhere (which must outlive it).
class BorrowedClient final : public kube::KubeClient {
 public:
  explicit BorrowedClient(kube::KubeClient& target) : target_(target) {}
  boost::asio::awaitable<Result<kube::ApiResponse>> Request(std::string method, std::string target, std::string body,
                                                            std::string content_type) override {
    return target_.Request(std::move(method), std::move(target), std::move(body), std::move(content_type));
  }
  boost::asio::awaitable<Status> Watch(std::string target,
                                       std::function<bool(const kube::WatchEvent&)> on_event) override {
    return target_.Watch(std::move(target), std::move(on_event));
  }

 private:
  kube::KubeClient& target_;
};

// A fake API server with the CRDs and the hub namespace "vmesh".
inline Result<kube::FakeKubeClientPtr> MakeHubCluster(const std::string& crds = TestCrdsYaml()) {
  auto fake = kube::MakeFakeKubeClient({.crds_yaml = {crds}});
  if (!fake.ok()) return fake.error();
  if (Status s = (*fake)->Seed("apiVersion: v1\nkind: Namespace\nmetadata: {name: vmesh}\n"); !s.ok()) return s.error();
  return fake;
}

// A store over `cluster` (several may share one).
inline Result<StorePtr> OpenStoreOn(kube::KubeClient& cluster, KubeStoreOptions options = {}) {
  return OpenKubernetesStore(std::make_unique<BorrowedClient>(cluster), std::move(options));
}

}  // namespace vmesh::hub::testing
