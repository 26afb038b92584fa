#include "common/crdschema/builtin_istio.h"

#include <cstdlib>
#include <iostream>

namespace vmesh::embedded {
std::string_view IstioCrdsYaml();  // generated from third_party/istio/crds.yaml (cmake/EmbedText.cmake)
}

namespace vmesh::crdschema {

std::string_view BuiltinIstioCrdsYaml() { return embedded::IstioCrdsYaml(); }

const SchemaSet& BuiltinIstioSchemas() {
  static const SchemaSet* const schemas = [] {
    Result<SchemaSet> loaded = SchemaSet::Load(BuiltinIstioCrdsYaml());
    if (!loaded.ok()) {
      // The vendored file is part of the build and crdschema_test loads it: this is a broken build, not input.
      std::cerr << "built-in Istio CRDs do not load: " << loaded.error().message << "\n";
      std::abort();
    }
    return new SchemaSet(std::move(*loaded));
  }();
  return *schemas;
}

}  // namespace vmesh::crdschema
