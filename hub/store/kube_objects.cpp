// STUB (branch kstore): replaced by branch kobjects
// Until then the Kubernetes store opens (Start() succeeds, watching nothing) and every object call fails.
#include "hub/store/kube_objects.h"

namespace vmesh::hub {
namespace {

Error NotImplemented(const std::string& what) {
  return MakeError("Kubernetes store: " + what + " is not implemented yet (branch kobjects)", ErrorCode::kInternal);
}

class StubKubeObjectTable final : public KubeObjectTable {
 public:
  Status Start() override { return OkStatus(); }
  void Stop() override {}
  void SetChangeListener(std::function<void()>) override {}
  Result<StoredObject> PutObject(const StoredObject&, std::optional<std::int64_t>) override {
    return NotImplemented("PutObject");
  }
  Result<std::optional<StoredObject>> GetObject(const std::string&, const std::string&, const std::string&) override {
    return NotImplemented("GetObject");
  }
  Result<std::vector<StoredObject>> ListObjects(const std::string&) override { return NotImplemented("ListObjects"); }
  Result<bool> DeleteObject(const std::string&, const std::string&, const std::string&) override {
    return NotImplemented("DeleteObject");
  }
};

}  // namespace

std::unique_ptr<KubeObjectTable> MakeKubeObjectTable(kube::KubeClient&, std::string, std::optional<std::string>) {
  return std::make_unique<StubKubeObjectTable>();
}

}  // namespace vmesh::hub
