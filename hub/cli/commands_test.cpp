// vmeshctl's argument parsing, per-command validation and help, kind names, and what `check` reports.
#include "hub/cli/commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

namespace vmesh::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'800'000'000));

Invocation Parse(const std::vector<std::string>& args) {
  auto inv = ParseArguments(args);
  EXPECT_TRUE(inv.ok()) << inv.error().message;
  return inv.ok() ? *inv : Invocation{};
}

std::string ParseError(const std::vector<std::string>& args) {
  auto inv = ParseArguments(args);
  EXPECT_FALSE(inv.ok());
  return inv.ok() ? "" : inv.error().message;
}

TEST(ParseArguments, FlagsAnywhereInEveryForm) {
  Invocation a = Parse({"-o", "json", "get", "meshes", "--config", "/x/admin.vmeshconfig"});
  EXPECT_THAT(a.words, ElementsAre("get", "meshes"));
  EXPECT_EQ(a.output, OutputFormat::kJson);
  EXPECT_EQ(a.config, "/x/admin.vmeshconfig");

  Invocation b = Parse({"get", "vm", "-oyaml", "--log-level=debug"});
  EXPECT_EQ(b.output, OutputFormat::kYaml);
  EXPECT_EQ(b.log_level, "debug");

  Invocation c = Parse({"apply", "-f", "-"});
  EXPECT_EQ(c.file, "-");
  EXPECT_THAT(c.words, ElementsAre("apply"));
  EXPECT_THAT(c.command_flags, ElementsAre("filename"));

  Invocation d = Parse({"cluster", "register", "c1", "--ttl", "30m", "--out=/tmp/b.yaml"});
  EXPECT_THAT(d.words, ElementsAre("cluster", "register", "c1"));
  EXPECT_EQ(d.ttl, "30m");
  EXPECT_EQ(d.out, "/tmp/b.yaml");

  Invocation e = Parse({"delete", "--", "-odd-name"});
  EXPECT_THAT(e.words, ElementsAre("delete", "-odd-name")) << "-- ends the flags";

  EXPECT_TRUE(Parse({"get", "--help"}).help);
  EXPECT_TRUE(Parse({"-h"}).help);
  EXPECT_TRUE(Parse({"--version"}).version);
}

TEST(ParseArguments, BadFlagsAreUsageErrorsNamingTheFlag) {
  EXPECT_THAT(ParseError({"get", "vm", "--frobnicate"}), HasSubstr("unknown flag --frobnicate"));
  EXPECT_THAT(ParseError({"get", "vm", "-x"}), HasSubstr("unknown flag -x"));
  EXPECT_THAT(ParseError({"get", "vm", "-o"}), HasSubstr("-o needs a value"));
  EXPECT_THAT(ParseError({"get", "vm", "-o", "xml"}), HasSubstr("expected table, yaml or json"));
  EXPECT_THAT(ParseError({"--help=yes"}), HasSubstr("--help takes no value"));
}

Result<const CommandSpec*> Resolve(const std::vector<std::string>& args, std::vector<std::string>* rest) {
  auto inv = ParseArguments(args);
  if (!inv.ok()) return inv.error();
  return ResolveCommand(*inv, rest);
}

TEST(ResolveCommand, FindsTheCommandAndItsArguments) {
  std::vector<std::string> rest;
  auto c = Resolve({"cluster", "register", "c1", "--ttl", "1h"}, &rest);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_THAT((*c)->path, ElementsAre("cluster", "register"));
  EXPECT_THAT(rest, ElementsAre("c1"));

  c = Resolve({"get", "virtualmeshes"}, &rest);
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(rest, ElementsAre("virtualmeshes"));

  c = Resolve({"describe", "virtualmesh", "vm1"}, &rest);
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(rest, ElementsAre("virtualmesh", "vm1"));
}

TEST(ResolveCommand, RefusesWhatTheCommandDoesNotTake) {
  std::vector<std::string> rest;
  auto c = Resolve({"cluster", "register"}, &rest);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("usage: vmeshctl cluster register NAME"));
  c = Resolve({"get", "vm", "--ttl", "1h"}, &rest);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("get does not take --ttl"));
  c = Resolve({"cluster", "explode"}, &rest);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("see vmeshctl cluster --help"));
  c = Resolve({"frob"}, &rest);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("unknown command \"frob\""));
  c = Resolve({"check", "extra"}, &rest);
  EXPECT_FALSE(c.ok());
}

TEST(ResolveCommand, RotateRootTakesANameANamespaceAndAbort) {
  std::vector<std::string> rest;
  auto inv = ParseArguments({"rotate", "root", "vm1", "-n", "prod", "--abort"});
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  EXPECT_TRUE(inv->abort);
  EXPECT_EQ(inv->ns, "prod");
  auto c = ResolveCommand(*inv, &rest);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_THAT((*c)->path, ElementsAre("rotate", "root"));
  EXPECT_THAT(rest, ElementsAre("vm1"));
  EXPECT_FALSE(ParseArguments({"rotate", "root", "vm1"})->abort);
  EXPECT_FALSE(Resolve({"rotate", "root"}, &rest).ok()) << "the VirtualMesh is required";
  auto other = Resolve({"get", "vm", "--abort"}, &rest);
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(other.error().message, HasSubstr("get does not take --abort"));
}

int RunArgs(const std::vector<std::string>& args, std::string* out, std::string* err) {
  auto inv = ParseArguments(args);
  EXPECT_TRUE(inv.ok());
  std::ostringstream o, e;
  int code = Run(*inv, "1.2.3", o, e);
  *out = o.str();
  *err = e.str();
  return code;
}

TEST(Run, HelpVersionAndUsageErrorsNeedNoHub) {
  std::string out, err;
  EXPECT_EQ(RunArgs({"--version"}, &out, &err), 0);
  EXPECT_EQ(out, "vmeshctl 1.2.3\n");

  EXPECT_EQ(RunArgs({"--help"}, &out, &err), 0);
  for (const auto& c : Commands()) EXPECT_THAT(out, HasSubstr(c.usage));

  EXPECT_EQ(RunArgs({"cluster", "register", "--help"}, &out, &err), 0);
  EXPECT_THAT(out, HasSubstr("Usage: vmeshctl cluster register NAME [--ttl 1h] [--out FILE]"));
  EXPECT_THAT(out, HasSubstr("mode 0600"));

  EXPECT_EQ(RunArgs({"mesh", "--help"}, &out, &err), 0);
  EXPECT_THAT(out, HasSubstr("vmeshctl mesh restart MESH"));

  EXPECT_EQ(RunArgs({}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("Usage: vmeshctl"));

  EXPECT_EQ(RunArgs({"get", "pods"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("vmeshctl: unknown kind \"pods\""));
  EXPECT_EQ(RunArgs({"describe", "mesh", "m1"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("describe supports virtualmesh only"));
  EXPECT_EQ(RunArgs({"apply"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("apply needs -f FILE"));
  EXPECT_EQ(RunArgs({"delete", "vm"}, &out, &err), 2);
  EXPECT_EQ(RunArgs({"delete", "-f", "x.yaml", "vm", "vm1"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("not both"));
}

TEST(Run, MissingCredentialIsAUsageError) {
  ::unsetenv("VMESHCONFIG");
  std::string out, err;
  EXPECT_EQ(RunArgs({"check"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("pass --config FILE or set VMESHCONFIG"));
  EXPECT_EQ(RunArgs({"check", "--config", "/nonexistent/admin.vmeshconfig"}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("vmeshctl: configuration: reading the admin credential /nonexistent/admin.vmeshconfig"));
}

TEST(CreateRootSecret, ParsesItsFlagsAndNeedsCertAndKey) {
  Invocation inv = Parse({"create", "root-secret", "corp-root", "--root-cert", "ca.pem", "--key=ca.key", "--cert-chain",
                          "chain.pem", "-n", "pki"});
  std::vector<std::string> args;
  auto command = ResolveCommand(inv, &args);
  ASSERT_TRUE(command.ok()) << command.error().message;
  EXPECT_THAT((*command)->path, ElementsAre("create", "root-secret"));
  EXPECT_THAT(args, ElementsAre("corp-root"));
  EXPECT_EQ(inv.root_cert, "ca.pem");
  EXPECT_EQ(inv.key, "ca.key");
  EXPECT_EQ(inv.cert_chain, "chain.pem");
  EXPECT_EQ(inv.ns, "pki");

  // Other commands do not take the new flags; root-secret needs both files, before any hub is asked.
  args.clear();
  EXPECT_THAT(ResolveCommand(Parse({"apply", "-f", "x", "--key", "k"}), &args).error().message,
              HasSubstr("apply does not take --key"));
  std::string out, err;
  EXPECT_EQ(RunArgs({"create", "root-secret", "corp-root", "--root-cert", "ca.pem"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("create root-secret needs --root-cert FILE and --key FILE"));
  EXPECT_EQ(RunArgs({"create", "root-secret", "--help"}, &out, &err), 0);
  EXPECT_THAT(out, HasSubstr("--cert-chain FILE"));
  EXPECT_EQ(RunArgs({"create"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("unknown or missing create command"));
}

TEST(CreateRootSecret, BuildsARootCaSecret) {
  api::v1::Secret s = RootSecret("corp-root", "pki", "CERT", "KEY", "");
  EXPECT_EQ(s.api_version(), "v1");
  EXPECT_EQ(s.kind(), "Secret");
  EXPECT_EQ(s.type(), "vmesh.dev/root-ca");
  EXPECT_EQ(s.metadata().name(), "corp-root");
  EXPECT_EQ(s.metadata().namespace_(), "pki");
  EXPECT_EQ(s.data().at("root-cert.pem"), "CERT");
  EXPECT_EQ(s.data().at("key.pem"), "KEY");
  EXPECT_FALSE(s.data().contains("cert-chain.pem"));
  EXPECT_EQ(RootSecret("r", "", "C", "K", "CHAIN").data().at("cert-chain.pem"), "CHAIN");
  EXPECT_TRUE(RootSecret("r", "", "C", "K", "").metadata().namespace_().empty()) << "the hub's namespace";
}

TEST(NormalizeKind, SingularPluralShortAndAnyCase) {
  EXPECT_EQ(*NormalizeKind("Secret"), "secrets");
  EXPECT_EQ(*NormalizeKind("secrets"), "secrets");
  EXPECT_EQ(*NormalizeKind("VirtualMesh"), "virtualmeshes");
  EXPECT_EQ(*NormalizeKind("vm"), "virtualmeshes");
  EXPECT_EQ(*NormalizeKind("accesspolicy"), "accesspolicies");
  EXPECT_EQ(*NormalizeKind("Meshes"), "meshes");
  EXPECT_EQ(*NormalizeKind("cert"), "certificates");
  EXPECT_EQ(*NormalizeKind("dest"), "destinations") << "the same spellings as the API (common/base/kinds.h)";
  EXPECT_EQ(*NormalizeKind("VMS"), "virtualmeshes");
  auto bad = NormalizeKind("pods");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("known: virtualmeshes, accesspolicies"));
}

api::v1::Cluster ClusterIn(const std::string& name, api::v1::ClusterState state) {
  api::v1::Cluster c;
  c.mutable_metadata()->set_name(name);
  c.mutable_status()->set_state(state);
  return c;
}

api::v1::VirtualMesh Vm(const std::string& name, api::v1::ApprovalState state, int64_t generation, int64_t observed) {
  api::v1::VirtualMesh vm;
  vm.mutable_metadata()->set_name(name);
  vm.mutable_metadata()->set_namespace_("vmesh");
  vm.mutable_metadata()->set_generation(generation);
  vm.mutable_status()->set_state(state);
  vm.mutable_status()->set_observed_generation(observed);
  return vm;
}

IssuedCertificate Cert(const std::string& serial, const std::string& mesh, TimePoint issued, TimePoint not_after) {
  return IssuedCertificate{.serial = serial,
                           .virtual_mesh = "vmesh/vm1",
                           .mesh = mesh,
                           .cluster = "c1",
                           .not_after = not_after,
                           .issued_at = issued};
}

TEST(CheckProblems, NothingWhenAllIsWell) {
  EXPECT_THAT(CheckProblems({ClusterIn("c1", api::v1::CONNECTED)}, {Vm("vm1", api::v1::ACCEPTED, 2, 2)},
                            {Cert("aa", "m1", kNow - 24h, kNow + 24h * 30)}, kNow),
              IsEmpty());
}

TEST(CheckProblems, OneLinePerProblem) {
  auto disconnected = ClusterIn("c2", api::v1::DISCONNECTED);
  disconnected.mutable_status()->mutable_last_heartbeat()->set_seconds(1'800'000'000 - 300);
  auto pending = Vm("vm1", api::v1::PENDING, 3, 3);
  auto& mesh = (*pending.mutable_status()->mutable_meshes())["m2.vmesh"];
  mesh.set_state(api::v1::PENDING);
  mesh.add_errors("mesh m2 is not discovered yet");
  auto stale = Vm("vm2", api::v1::ACCEPTED, 4, 3);
  auto problems = CheckProblems(
      {ClusterIn("c1", api::v1::CONNECTED), disconnected, ClusterIn("c3", api::v1::REGISTERED)}, {pending, stale},
      {// m1: the latest certificate is fine even though an older one expires soon.
       Cert("old1", "m1", kNow - 48h, kNow + 24h), Cert("new1", "m1", kNow - 1h, kNow + 24h * 300),
       // m2: the latest expires in 3 days.
       Cert("late2", "m2", kNow - 1h, kNow + 72h)},
      kNow);
  EXPECT_THAT(problems,
              ElementsAre("cluster c2 is DISCONNECTED (last heartbeat 5m ago)",
                          "cluster c3 is REGISTERED (its agent has never connected)",
                          "virtualmesh vmesh/vm1 is PENDING: mesh m2.vmesh PENDING: mesh m2 is not discovered yet",
                          "virtualmesh vmesh/vm2: status describes generation 3 but the spec is at generation 4 (the "
                          "hub has not reconciled the latest change)",
                          "certificate late2 of mesh m2 (cluster c1) expires in 3d"));
}

}  // namespace
}  // namespace vmesh::cli
