// SchemaSet against the real Istio CRDs (third_party/istio/crds.yaml): the objects SPEC §6 makes vmesh write must
// pass, and each kind of mistake must be reported at the exact field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <iostream>
#include <string>

#include "common/base/files.h"
#include "common/base/test_paths.h"
#include "common/crdschema/builtin_istio.h"
#include "common/crdschema/schema_set.h"
#include "common/crdschema/yaml_to_json.h"

namespace vmesh::crdschema {

void PrintTo(const Violation& v, std::ostream* os) { *os << ToString(v); }

namespace {

namespace json = boost::json;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// The Istio CRDs, parsed once per test binary.
const SchemaSet& Istio() {
  static const SchemaSet* const set = [] {
    Result<SchemaSet> loaded = SchemaSet::LoadFile(testpaths::IstioCrdsFile());
    if (!loaded.ok()) {
      std::cerr << loaded.error().message << "\n";
      std::abort();
    }
    return new SchemaSet(std::move(loaded).value());
  }();
  return *set;
}

json::value Yaml(std::string_view text) {
  Result<std::vector<json::value>> docs = YamlDocumentsToJson(text);
  if (!docs.ok() || docs->size() != 1) {
    ADD_FAILURE() << "bad test YAML: " << (docs.ok() ? "not one document" : docs.error().message);
    return json::value();
  }
  return std::move(docs->front());
}

::testing::Matcher<Violation> At(const std::string& path, const std::string& message_part) {
  return AllOf(Field(&Violation::path, path), Field(&Violation::message, HasSubstr(message_part)));
}

// The federated ServiceEntry of SPEC §6, as vmesh writes it into the remote cluster.
constexpr std::string_view kServiceEntry = R"(
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: reviews.bookinfo.svc.cluster-1.global
  namespace: istio-system
  labels:
    app.kubernetes.io/managed-by: vmesh
    networking.vmesh.dev/virtual-mesh: vmesh.vm1
spec:
  hosts: [reviews.bookinfo.svc.cluster-1.global]
  addresses: [240.12.34.56]
  location: MESH_INTERNAL
  ports:
  - number: 9080
    name: http-9080
    protocol: HTTP
  - number: 9443
    name: grpc
    protocol: GRPC
  resolution: STATIC
  endpoints:
  - address: 172.18.0.10
    ports:
      http-9080: 15443
      grpc: 15443
    labels:
      security.istio.io/tlsMode: istio
      app: reviews
      version: v1
)";

constexpr std::string_view kDestinationRule = R"(
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: reviews.bookinfo.svc.cluster-1.global
  namespace: istio-system
spec:
  host: reviews.bookinfo.svc.cluster-1.global
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
    connectionPool:
      tcp:
        tcpKeepalive:
          time: 7200s
          interval: 75s
          probes: 9
)";

json::value ServiceEntry() { return Yaml(kServiceEntry); }
json::value DestinationRule() { return Yaml(kDestinationRule); }

// The value at a JSON pointer ("/spec/ports/0"); it must exist.
json::value& Get(json::value& object, std::string_view pointer) { return object.at_pointer(pointer); }

// ---------------------------------------------------------------------------------------------------------------
// Loading

TEST(SchemaSetLoadTest, ServesTheIstioKinds) {
  std::vector<std::string> kinds = Istio().Kinds();
  for (const char* version : {"v1alpha3", "v1beta1", "v1"}) {
    for (const char* kind : {"ServiceEntry", "DestinationRule", "Gateway", "VirtualService", "Sidecar"}) {
      EXPECT_THAT(kinds, Contains(std::string("networking.istio.io/") + version + " " + kind));
    }
  }
  for (const char* version : {"v1beta1", "v1"}) {
    for (const char* kind : {"AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication"}) {
      EXPECT_THAT(kinds, Contains(std::string("security.istio.io/") + version + " " + kind));
    }
  }
  EXPECT_THAT(kinds, Contains("networking.istio.io/v1alpha3 EnvoyFilter"));
  EXPECT_THAT(kinds, Not(Contains("networking.istio.io/v1alpha3 AuthorizationPolicy")));
  EXPECT_TRUE(std::is_sorted(kinds.begin(), kinds.end()));
  EXPECT_EQ(kinds.size(), 33u);  // every served version of the 15 CRDs in the file
}

constexpr std::string_view kTinyCrd = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              lookbehind: {type: string, pattern: "(?<=a)b"}
              id: {type: string, pattern: "^[a-z]+$"}
              old: {type: string}
  - name: v0
    served: false
    storage: false
    schema:
      openAPIV3Schema: {type: object}
)";

TEST(SchemaSetLoadTest, LoadsSmallCrdsAndSkipsUnservedVersionsAndOtherDocuments) {
  std::string yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n" + std::string(kTinyCrd);
  Result<SchemaSet> set = SchemaSet::Load(yaml);
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_THAT(set->Kinds(), ElementsAre("example.com/v1 Widget"));
}

TEST(SchemaSetLoadTest, LoadObjectsTakesDecodedCrdsWithTheSameRules) {
  Result<std::vector<json::value>> docs = YamlDocumentsToJson(kTinyCrd);
  ASSERT_TRUE(docs.ok()) << docs.error().message;
  Result<SchemaSet> set = SchemaSet::LoadObjects(*docs);
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_THAT(set->Kinds(), ElementsAre("example.com/v1 Widget"));
  Result<SchemaSet> none = SchemaSet::LoadObjects({json::parse(R"({"kind": "ConfigMap"})")});
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.error().message, HasSubstr("no served CustomResourceDefinition"));
}

// The hub's fallback schemas are the vendored file, byte for byte, and they compile.
TEST(BuiltinIstioTest, IsTheVendoredFileAndServesTheKindsVmeshWrites) {
  Result<std::string> file = ReadFile(testpaths::IstioCrdsFile());
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(BuiltinIstioCrdsYaml(), *file);
  EXPECT_EQ(BuiltinIstioSchemas().Kinds(), Istio().Kinds());
  EXPECT_THAT(BuiltinIstioSchemas().Kinds(), testing::Contains("networking.istio.io/v1beta1 ServiceEntry"));
  EXPECT_THAT(BuiltinIstioSchemas().Kinds(), testing::Contains("security.istio.io/v1 AuthorizationPolicy"));
}

TEST(SchemaSetLoadTest, PatternThatStdRegexCannotCompileIsSkipped) {
  Result<SchemaSet> set = SchemaSet::Load(kTinyCrd);
  ASSERT_TRUE(set.ok()) << set.error().message;
  json::value widget = Yaml(R"(
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
spec: {lookbehind: anything, id: "Not-Lowercase"}
)");
  EXPECT_THAT(set->Validate(widget), ElementsAre(At("spec.id", "must match pattern \"^[a-z]+$\"")));
}

TEST(SchemaSetLoadTest, ErrorsNameTheDocumentAndTheKeyword) {
  std::string broken(kTinyCrd);
  broken.replace(broken.find("{type: string}"), 14, "{type: strin}");
  Result<SchemaSet> set = SchemaSet::Load(std::string(kTinyCrd) + "---\n" + broken);
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.error().message, HasSubstr("document 2 (CustomResourceDefinition widgets.example.com)"));
  EXPECT_THAT(set.error().message,
              HasSubstr("spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.old.type: unsupported "
                        "type string \"strin\""));
}

TEST(SchemaSetLoadTest, DuplicateKindsAreAnError) {
  Result<SchemaSet> set = SchemaSet::Load(std::string(kTinyCrd) + "---\n" + std::string(kTinyCrd));
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.error().message, HasSubstr("document 2"));
  EXPECT_THAT(set.error().message, HasSubstr("example.com/v1 Widget is defined twice"));
}

TEST(SchemaSetLoadTest, SyntaxErrorsMissingFilesAndEmptyInputFail) {
  Result<SchemaSet> syntax = SchemaSet::Load("a: [1\n");
  ASSERT_FALSE(syntax.ok());
  EXPECT_THAT(syntax.error().message, HasSubstr("YAML syntax error at line"));

  Result<SchemaSet> missing = SchemaSet::LoadFile("/nonexistent/crds.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("/nonexistent/crds.yaml"));

  Result<SchemaSet> empty = SchemaSet::Load("");
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.error().message, HasSubstr("no served CustomResourceDefinition"));
}

TEST(SchemaSetLoadTest, CopiesShareTheSchemas) {
  SchemaSet copy = Istio();
  EXPECT_EQ(copy.Kinds(), Istio().Kinds());
  EXPECT_THAT(copy.Validate(ServiceEntry()), IsEmpty());
}

// ---------------------------------------------------------------------------------------------------------------
// Valid objects

TEST(SchemaSetValidTest, FederatedServiceEntryInEveryVersion) {
  for (const char* version :
       {"networking.istio.io/v1alpha3", "networking.istio.io/v1beta1", "networking.istio.io/v1"}) {
    json::value se = ServiceEntry();
    se.as_object()["apiVersion"] = version;
    EXPECT_THAT(Istio().Validate(se), IsEmpty()) << version;
  }
}

TEST(SchemaSetValidTest, LocalServiceEntryWithExportToAndDnsResolution) {
  json::value se = Yaml(R"(
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: ratings.bookinfo.svc.cluster-2.global, namespace: istio-system}
spec:
  hosts: [ratings.bookinfo.svc.cluster-2.global]
  exportTo: ["."]
  location: MESH_INTERNAL
  ports: [{number: 9080, name: http, protocol: HTTP, targetPort: 9080}]
  resolution: DNS
  endpoints:
  - address: a1b2.elb.amazonaws.com
    ports: {http: 15443}
    weight: 1
    network: network-2
    locality: us-east-1/us-east-1a
)");
  EXPECT_THAT(Istio().Validate(se), IsEmpty());
}

TEST(SchemaSetValidTest, DestinationRuleWithIstioMutualAndTcpKeepalive) {
  EXPECT_THAT(Istio().Validate(DestinationRule()), IsEmpty());
  for (const char* version : {"networking.istio.io/v1alpha3", "networking.istio.io/v1"}) {
    json::value dr = DestinationRule();
    dr.as_object()["apiVersion"] = version;
    EXPECT_THAT(Istio().Validate(dr), IsEmpty()) << version;
  }
}

TEST(SchemaSetValidTest, EastWestGatewayWithAutoPassthrough) {
  json::value gw = Yaml(R"(
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: vmesh-east-west, namespace: istio-system}
spec:
  selector:
    istio: eastwestgateway
    topology.istio.io/network: network-1
  servers:
  - port: {number: 15443, name: tls, protocol: TLS}
    tls: {mode: AUTO_PASSTHROUGH}
    hosts: ["*.global"]
)");
  EXPECT_THAT(Istio().Validate(gw), IsEmpty());
}

TEST(SchemaSetValidTest, AuthorizationPolicies) {
  json::value deny_all = Yaml(R"(
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: bookinfo}
spec: {}
)");
  EXPECT_THAT(Istio().Validate(deny_all), IsEmpty());

  json::value allow = Yaml(R"(
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: vmesh-reviews-allow
  namespace: bookinfo
  labels: {app.kubernetes.io/managed-by: vmesh}
spec:
  selector:
    matchLabels: {app: reviews}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: [cluster-1/ns/bookinfo/sa/productpage, "cluster-2/ns/*/sa/*"]
        namespaces: [bookinfo]
    to:
    - operation:
        ports: ["9080"]
        methods: [GET, HEAD]
        paths: [/reviews/*, /health]
    when:
    - key: request.headers[x-vmesh]
      values: ["1"]
)");
  EXPECT_THAT(Istio().Validate(allow), IsEmpty());
  allow.as_object()["apiVersion"] = "security.istio.io/v1";
  EXPECT_THAT(Istio().Validate(allow), IsEmpty());
}

TEST(SchemaSetValidTest, PeerAuthenticationStrict) {
  json::value pa = Yaml(R"(
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec:
  mtls: {mode: STRICT}
  portLevelMtls:
    "8080": {mode: PERMISSIVE}
)");
  EXPECT_THAT(Istio().Validate(pa), IsEmpty());
}

TEST(SchemaSetValidTest, NullableFieldsPreservedStatusAndIntOrString) {
  json::value dr = DestinationRule();
  Get(dr, "/spec/trafficPolicy/tls").as_object()["insecureSkipVerify"] = nullptr;  // nullable: true
  EXPECT_THAT(Istio().Validate(dr), IsEmpty());

  json::value se = ServiceEntry();
  se.as_object()["status"] = json::parse(
      R"({"observedGeneration": "3", "conditions": [{"type": "Reconciled", "status": "True",
          "observedGeneration": 3, "lastTransitionTime": "2026-11-26T23:00:00.123Z"}], "istioInternal": {"x": 1}})");
  EXPECT_THAT(Istio().Validate(se), IsEmpty());
}

// ---------------------------------------------------------------------------------------------------------------
// Violations, each at its exact path

TEST(SchemaSetViolationTest, UnknownFields) {
  json::value se = ServiceEntry();
  Get(se, "/spec/endpoints/0").as_object()["weightx"] = 1;
  EXPECT_THAT(Istio().Validate(se),
              ElementsAre(At("spec.endpoints[0].weightx", "unknown field \"weightx\"; known fields: address, ")));

  json::value top = ServiceEntry();
  top.as_object()["extra"] = json::object();
  Get(top, "/spec").as_object()["host"] = "typo-of-hosts";
  EXPECT_THAT(Istio().Validate(top), ElementsAre(At("spec.host", "unknown field \"host\""),
                                                 At("extra", "unknown field \"extra\"; known fields: spec, status")));
}

TEST(SchemaSetViolationTest, WrongTypes) {
  json::value se = ServiceEntry();
  Get(se, "/spec/ports/0/number") = "80";
  Get(se, "/spec/ports/1/number") = 9443.0;  // a double is not an integer
  Get(se, "/spec/addresses") = "240.12.34.56";
  EXPECT_THAT(Istio().Validate(se), ElementsAre(At("spec.addresses", "must be an array; got string \"240.12.34.56\""),
                                                At("spec.ports[0].number", "must be an integer; got string \"80\""),
                                                At("spec.ports[1].number", "must be an integer; got number 9443.0")));
}

TEST(SchemaSetViolationTest, EnumValues) {
  json::value se = ServiceEntry();
  Get(se, "/spec/resolution") = "STATICC";
  EXPECT_THAT(Istio().Validate(se),
              ElementsAre(At("spec.resolution",
                             "must be one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS; got \"STATICC\"")));

  json::value dr = DestinationRule();
  Get(dr, "/spec/trafficPolicy/tls/mode") = nullptr;  // not nullable
  EXPECT_THAT(Istio().Validate(dr), ElementsAre(At("spec.trafficPolicy.tls.mode", "must be a string; got null")));
}

TEST(SchemaSetViolationTest, IntegerBounds) {
  json::value se = ServiceEntry();
  Get(se, "/spec/ports/0/number") = 4294967296LL;  // uint32 max + 1
  Get(se, "/spec/ports/1/number") = -1;
  Get(se, "/spec/endpoints/0/ports/grpc") = 18446744073709551615ULL;
  EXPECT_THAT(Istio().Validate(se),
              ElementsAre(At("spec.ports[0].number", "must be at most 4294967295; got 4294967296"),
                          At("spec.ports[1].number", "must be at least 0; got -1"),
                          At("spec.endpoints[0].ports.grpc", "must be at most 4294967295; got 18446744073709551615")));

  json::value dr = DestinationRule();
  Get(dr, "/spec/trafficPolicy/connectionPool/tcp").as_object()["maxConnections"] = 2147483648LL;
  EXPECT_THAT(Istio().Validate(dr), ElementsAre(At("spec.trafficPolicy.connectionPool.tcp.maxConnections",
                                                   "must fit in int32 (-2147483648..2147483647); got 2147483648")));
}

TEST(SchemaSetViolationTest, RequiredFields) {
  json::value se = ServiceEntry();
  se.at("spec").as_object().erase("hosts");
  Get(se, "/spec/ports/0").as_object().erase("name");
  EXPECT_THAT(Istio().Validate(se), ElementsAre(At("spec.hosts", "is required but missing"),
                                                At("spec.ports[0].name", "is required but missing")));

  json::value no_spec = ServiceEntry();
  no_spec.as_object().erase("spec");
  EXPECT_THAT(Istio().Validate(no_spec), ElementsAre(At("spec", "is required but missing")));

  json::value dr = DestinationRule();
  dr.at("spec").as_object().erase("host");
  EXPECT_THAT(Istio().Validate(dr), ElementsAre(At("spec.host", "is required but missing")));
}

TEST(SchemaSetViolationTest, LengthAndCountLimits) {
  json::value se = ServiceEntry();
  Get(se, "/spec/hosts") = json::array();
  Get(se, "/spec/endpoints/0/address") = std::string(257, 'a');
  EXPECT_THAT(Istio().Validate(se),
              ElementsAre(At("spec.hosts", "must have at least 1 item(s); has 0"),
                          At("spec.endpoints[0].address", "must be at most 256 characters long; got 257")));
}

TEST(SchemaSetViolationTest, DuplicateListMapKeys) {
  json::value se = ServiceEntry();
  Get(se, "/spec/ports/1/name") = "http-9080";  // ports is x-kubernetes-list-type: map keyed by name
  EXPECT_THAT(Istio().Validate(se), ElementsAre(At("spec.ports[1]", "duplicate entry name=\"http-9080\" of item [0]")));
}

TEST(SchemaSetViolationTest, ProtobufOneOf) {
  json::value dr = DestinationRule();
  Get(dr, "/spec/trafficPolicy").as_object()["loadBalancer"] = json::parse(R"({"simple": "ROUND_ROBIN"})");
  EXPECT_THAT(Istio().Validate(dr), IsEmpty());

  Get(dr, "/spec/trafficPolicy/loadBalancer").as_object()["consistentHash"] = json::parse(R"({"useSourceIp": true})");
  EXPECT_THAT(Istio().Validate(dr),
              ElementsAre(At("spec.trafficPolicy.loadBalancer",
                             "must set at most one of simple, consistentHash, backendUtilization; found simple, "
                             "consistentHash")));

  // Nested: consistentHash has two oneofs under allOf.
  json::value hash = DestinationRule();
  Get(hash, "/spec/trafficPolicy").as_object()["loadBalancer"] =
      json::parse(R"({"consistentHash": {"httpHeaderName": "x-user", "useSourceIp": true}})");
  EXPECT_THAT(Istio().Validate(hash),
              ElementsAre(At("spec.trafficPolicy.loadBalancer.consistentHash", "found httpHeaderName, useSourceIp")));
}

TEST(SchemaSetViolationTest, PatternsAndFormats) {
  json::value ap = Yaml(R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: waypoint, namespace: bookinfo}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: "1Gateway", name: waypoint}]
)");
  EXPECT_THAT(Istio().Validate(ap), ElementsAre(At("spec.targetRefs[0].kind", "must match pattern")));

  json::value se = ServiceEntry();
  se.as_object()["status"] = json::parse(R"({"conditions": [{"lastTransitionTime": "yesterday"}]})");
  EXPECT_THAT(Istio().Validate(se),
              ElementsAre(At("status.conditions[0].lastTransitionTime", "must be an RFC 3339 date-time")));

  json::value vs = Yaml(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - directResponse:
      status: 503
      body: {bytes: "not base64!"}
)");
  EXPECT_THAT(Istio().Validate(vs), ElementsAre(At("spec.http[0].directResponse.body.bytes", "must be base64")));
  Get(vs, "/spec/http/0/directResponse/body/bytes") = "dW5hdmFpbGFibGU=";
  EXPECT_THAT(Istio().Validate(vs), IsEmpty());
}

TEST(SchemaSetViolationTest, UnknownApiVersionOrKind) {
  json::value se = ServiceEntry();
  se.as_object()["apiVersion"] = "networking.istio.io/v2";
  EXPECT_THAT(Istio().Validate(se),
              ElementsAre(At("apiVersion",
                             "ServiceEntry is not served as networking.istio.io/v2; served versions: "
                             "networking.istio.io/v1, networking.istio.io/v1alpha3, "
                             "networking.istio.io/v1beta1")));

  se.as_object()["apiVersion"] = "networking.istio.io/v1beta1";
  se.as_object()["kind"] = "ServiceEntri";
  EXPECT_THAT(Istio().Validate(se),
              ElementsAre(At("kind", "unknown kind ServiceEntri in networking.istio.io/v1beta1")));

  se.as_object()["apiVersion"] = "v1";
  se.as_object()["kind"] = "Service";
  EXPECT_THAT(Istio().Validate(se), ElementsAre(At("apiVersion", "no CRD serves v1 Service")));
}

TEST(SchemaSetViolationTest, Metadata) {
  json::value se = ServiceEntry();
  Get(se, "/metadata").as_object().erase("name");
  Get(se, "/metadata/labels").as_object()["networking.vmesh.dev/virtual-mesh"] = "vmesh/vm1";
  Get(se, "/metadata").as_object()["annotations"] = json::parse(R"({"note": 1})");
  EXPECT_THAT(Istio().Validate(se),
              ElementsAre(At("metadata.name", "is required but missing"),
                          At("metadata.labels[networking.vmesh.dev/virtual-mesh]", "not a valid label value"),
                          At("metadata.annotations.note", "must be a string; got integer 1")));

  json::value bad_name = ServiceEntry();
  Get(bad_name, "/metadata/name") = "Reviews_Global";
  EXPECT_THAT(Istio().Validate(bad_name), ElementsAre(At("metadata.name", "must be a DNS-1123 subdomain")));
}

// The keywords Istio's CRDs do not happen to combine this way, on a synthetic CRD.
constexpr std::string_view kGadgetCrd = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  names: {kind: Gadget}
  versions:
  - name: v1
    served: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            additionalProperties: false
            properties:
              size:
                x-kubernetes-int-or-string: true
                anyOf: [{type: integer, minimum: 1}, {type: string, pattern: "^[0-9]+(Mi|Gi)$"}]
              ratio: {type: number, exclusiveMinimum: true, minimum: 0, multipleOf: 0.25}
              counter: {type: integer, format: int64}
              tags: {type: array, x-kubernetes-list-type: set, items: {type: string}}
              selector: {type: object, minProperties: 1, maxProperties: 2, additionalProperties: {type: string}}
              free:
                type: object
                x-kubernetes-preserve-unknown-fields: true
                properties:
                  known: {type: boolean}
              mode:
                type: string
                nullable: true
                not: {enum: [LEGACY]}
              pair:
                type: object
                properties: {a: {type: string}, b: {type: string}}
                anyOf: [{required: [a]}, {required: [b]}]
                not: {required: [a, b]}
)";

TEST(SchemaSetKeywordTest, GenericKeywordsOnASyntheticCrd) {
  Result<SchemaSet> set = SchemaSet::Load(kGadgetCrd);
  ASSERT_TRUE(set.ok()) << set.error().message;
  json::value good = Yaml(R"(
apiVersion: example.com/v1
kind: Gadget
metadata: {name: g}
spec:
  size: 512Mi
  ratio: 0.75
  counter: -9223372036854775808
  tags: [a, b]
  selector: {app: x}
  free: {known: true, anything: [1, {deep: null}]}
  mode: null
  pair: {a: x}
)");
  EXPECT_THAT(set->Validate(good), IsEmpty());

  json::value bad = Yaml(R"(
apiVersion: example.com/v1
kind: Gadget
metadata: {name: g}
spec:
  size: 0
  ratio: 0.3
  counter: 9223372036854775808
  tags: [a, b, a]
  selector: {}
  free: {known: "yes"}
  mode: LEGACY
  pair: {a: x, b: y}
  other: 1
)");
  EXPECT_THAT(
      set->Validate(bad),
      ElementsAre(At("spec.size",
                     "matches none of the anyOf alternatives: spec.size: must be at least 1; got 0 "
                     "| spec.size: must be a string; got integer 0"),
                  At("spec.ratio", "must be a multiple of 0.25; got 0.3"), At("spec.counter", "must fit in int64"),
                  At("spec.tags[2]", "duplicate of item [0]"),
                  At("spec.selector", "must have at least 1 entries; has 0"),
                  At("spec.free.known", "must be a boolean; got string \"yes\""),
                  At("spec.mode", "must not match the schema given under `not`"),
                  At("spec.pair", "must not set a together with b"), At("spec.other", "unknown field \"other\"")));

  json::value more = Yaml(R"(
apiVersion: example.com/v1
kind: Gadget
metadata: {name: g}
spec: {size: true, ratio: 0, selector: {a: x, b: y, c: z}, pair: {}}
)");
  EXPECT_THAT(set->Validate(more), ElementsAre(At("spec.size", "must be an integer or a string; got boolean true"),
                                               At("spec.ratio", "must be greater than 0; got 0"),
                                               At("spec.selector", "must have at most 2 entries; has 3"),
                                               At("spec.pair", "must set one of a, b")));
}

// ---------------------------------------------------------------------------------------------------------------
// Garbage never crashes

TEST(SchemaSetGarbageTest, NonObjectsAndMissingTypeInformation) {
  for (const char* text : {"null", "42", "\"ServiceEntry\"", "[]", "[{\"kind\": \"ServiceEntry\"}]"}) {
    EXPECT_THAT(Istio().Validate(json::parse(text)), ElementsAre(At("", "must be a Kubernetes object"))) << text;
  }
  EXPECT_THAT(Istio().Validate(json::object()),
              ElementsAre(At("apiVersion", "is required"), At("kind", "is required")));
  EXPECT_THAT(Istio().Validate(json::parse(R"({"apiVersion": "networking.istio.io/v1", "spec": {}})")),
              ElementsAre(At("kind", "is required but missing")));
  EXPECT_THAT(Istio().Validate(json::parse(R"({"apiVersion": 5, "kind": ["ServiceEntry"]})")),
              ElementsAre(At("apiVersion", "must be a non-empty string; got integer 5"),
                          At("kind", "must be a non-empty string; got an array")));
}

TEST(SchemaSetGarbageTest, WrongShapesEverywhere) {
  json::value garbage = json::parse(R"({
    "apiVersion": "networking.istio.io/v1beta1", "kind": "ServiceEntry", "metadata": "reviews",
    "spec": {"hosts": {"a": "b"}, "ports": "9080", "endpoints": [1, null, [], {"ports": [], "labels": 7}],
             "location": 1, "workloadSelector": {"labels": null}}})");
  std::vector<Violation> violations = Istio().Validate(garbage);
  EXPECT_THAT(violations, ElementsAre(At("metadata", "must be an object; got string \"reviews\""),
                                      At("spec.hosts", "must be an array; got an object"),
                                      At("spec.ports", "must be an array; got string \"9080\""),
                                      At("spec.endpoints[0]", "must be an object; got integer 1"),
                                      At("spec.endpoints[1]", "must be an object; got null"),
                                      At("spec.endpoints[2]", "must be an object; got an array"),
                                      At("spec.endpoints[3].ports", "must be an object; got an array"),
                                      At("spec.endpoints[3].labels", "must be an object; got integer 7"),
                                      At("spec.location", "must be a string; got integer 1"),
                                      At("spec.workloadSelector.labels", "must be an object; got null")));

  json::value spec_string = ServiceEntry();
  spec_string.as_object()["spec"] = "hosts: [a]";
  EXPECT_THAT(Istio().Validate(spec_string), ElementsAre(At("spec", "must be an object; got string")));
}

TEST(SchemaSetGarbageTest, DeeplyNestedAndHugeValues) {
  json::value deep = json::array();
  for (int i = 0; i < 10000; ++i) {
    json::array wrapper;
    wrapper.push_back(std::move(deep));
    deep = std::move(wrapper);
  }
  json::value se = ServiceEntry();
  Get(se, "/spec").as_object()["hosts"] = deep;
  se.as_object()["status"] = deep;  // preserved unknown fields are not walked, however deep
  std::vector<Violation> violations = Istio().Validate(se);
  EXPECT_THAT(violations, ElementsAre(At("spec.hosts[0]", "must be a string; got an array"),
                                      At("status", "must be an object; got an array")));

  json::value ap = Yaml(R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: waypoint, namespace: bookinfo}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}]
)");
  Get(ap, "/spec/targetRefs/0/kind") = std::string(100000, 'G');  // too long for maxLength and for std::regex
  violations = Istio().Validate(ap);
  ASSERT_FALSE(violations.empty());
  EXPECT_EQ(violations.front().path, "spec.targetRefs[0].kind");
  EXPECT_THAT(violations.front().message, HasSubstr("characters long"));
}

}  // namespace
}  // namespace vmesh::crdschema
