// STUB (branch leader): delete when branch kstore is merged
// Stands in for hub/store/kube_store.cpp so that `vmesh-hub serve --store kubernetes` links and fails clearly.
#include "hub/store/kube_store.h"

namespace vmesh::hub {

Result<StorePtr> OpenKubernetesStore(kube::KubeClientPtr client, KubeStoreOptions options) {
  return MakeError("the Kubernetes store is not in this build (hub/store/kube_store.cpp, branch kstore)",
                   ErrorCode::kUnavailable);
}

}  // namespace vmesh::hub
