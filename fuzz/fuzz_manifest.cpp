// Fuzz target: the manifest decoder (common/api/manifest.h), what the hub runs on every `vmeshctl apply`,
// `delete` and `preview` body: multi-document YAML or JSON into VirtualMesh, AccessPolicy, Secret and the
// discovery kinds, with the Gloo Mesh import and structural validation.
//
// Oracles besides the sanitizers: decoding never throws; an error names a document; and every object that
// decodes encodes (YAML and JSON) into a manifest that decodes again to an equal object.
#include <google/protobuf/util/message_differencer.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/api/manifest.h"

namespace {

using namespace vmesh::api;

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_manifest: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void CheckRoundTrip(const google::protobuf::Message& message, Format format, const DecodeOptions& options) {
  const std::string encoded = Encode(message, format);
  DecodeResult again = DecodeManifests(encoded, options);
  if (!again.ok())
    Fail("an object that decoded does not decode after encoding", encoded + "\n" + JoinErrors(again.errors));
  if (again.objects.size() != 1) Fail("one encoded object decodes to a different count", encoded);
  const auto& back = AsMessage(again.objects[0].object);
  if (!google::protobuf::util::MessageDifferencer::Equals(message, back)) {
    Fail("encode/decode round trip changed the object", encoded + "\nback:\n" + back.DebugString());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool validate : {true, false}) {  // apply/preview validate; delete does not
    DecodeOptions options;
    options.validate = validate;
    DecodeResult decoded = DecodeManifests(text, options);
    if (!decoded.ok()) {
      if (!decoded.objects.empty()) Fail("objects returned with errors", JoinErrors(decoded.errors));
      (void)JoinErrors(decoded.errors);
      continue;
    }
    for (const auto& d : decoded.objects) {
      CheckRoundTrip(AsMessage(d.object), Format::kYaml, options);
      CheckRoundTrip(AsMessage(d.object), Format::kJson, options);
    }
  }
  return 0;
}
