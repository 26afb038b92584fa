#!/usr/bin/env python3
"""kubesim driven by the official Kubernetes Python client (Debian's python3-kubernetes 22.6), issue 18.

Usage: python_client_test.py KUBESIM_BINARY [unittest args]

Starts kubesim on 127.0.0.1 port 0 (--event-log-capacity 40, so a test can push old versions out of the
watch history) and checks what a new user of the client does: discovery, CRUD with 409s, watches from a
version (the client sends watch=True), 410 Gone for a version that left the history, paging, server-side
apply and deletion.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import warnings

try:
    from kubernetes import client, config, dynamic, watch
    from kubernetes.client.rest import ApiException
except ImportError as e:  # pragma: no cover - an environment problem, said plainly
    sys.exit("python_client_test: the Kubernetes Python client is missing (install python3-kubernetes, "
             "scripts/setup does): %s" % e)

KUBESIM = None
NS = "default"
EVENT_LOG_CAPACITY = 40
server = None
tmpdir = None
api_client = None


def setUpModule():
    global server, tmpdir, api_client
    warnings.simplefilter("ignore", ResourceWarning)  # the client's connection pools are not closed eagerly
    tmpdir = tempfile.mkdtemp(prefix="kubesim-python-")
    kubeconfig = os.path.join(tmpdir, "kubeconfig")
    server = subprocess.Popen(
        [KUBESIM, "--listen", "127.0.0.1:0", "--kubeconfig-out", kubeconfig, "--cluster-name", "py",
         "--event-log-capacity", str(EVENT_LOG_CAPACITY)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # kubesim prints "listening on HOST:PORT" once it accepts connections and the kubeconfig is written.
    timer = threading.Timer(20, server.kill)
    timer.start()
    first = server.stdout.readline()
    timer.cancel()
    if not first.startswith("listening on "):
        raise RuntimeError("kubesim did not start (exit %s): %r" % (server.poll(), first + server.stdout.read()))
    api_client = config.new_client_from_config(config_file=kubeconfig)


def tearDownModule():
    if server is not None:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        server.stdout.close()
    if api_client is not None:
        api_client.close()
    if tmpdir is not None:
        shutil.rmtree(tmpdir, ignore_errors=True)


def configmap(name, data=None, labels=None):
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data or {})


class PythonClientTest(unittest.TestCase):
    def setUp(self):
        self.v1 = client.CoreV1Api(api_client)

    def assertApiError(self, status, call, *args, **kwargs):
        with self.assertRaises(ApiException, msg="expected HTTP %d from %s" % (status, call.__name__)) as ctx:
            call(*args, **kwargs)
        self.assertEqual(ctx.exception.status, status, "%s: %s" % (call.__name__, ctx.exception))
        return ctx.exception

    def test_discovery(self):
        self.assertTrue(client.VersionApi(api_client).get_code().git_version.startswith("v1.32"))
        self.assertIn("v1", client.CoreApi(api_client).get_api_versions().versions)
        groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
        self.assertTrue({"apps", "coordination.k8s.io", "discovery.k8s.io"} <= groups, groups)
        core = {r.name for r in self.v1.get_api_resources().resources}
        self.assertTrue({"configmaps", "pods", "services", "namespaces", "secrets"} <= core, core)
        apps = {r.name for r in client.AppsV1Api(api_client).get_api_resources().resources}
        self.assertIn("deployments/scale", apps)
        # The dynamic client discovers every group version by itself.
        dyn = dynamic.DynamicClient(api_client, cache_file=os.path.join(tmpdir, "discovery-cache.json"))
        deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
        self.assertTrue(deployments.namespaced)
        self.assertEqual(deployments.name, "deployments")

    def test_crud_and_conflicts(self):
        created = self.v1.create_namespaced_config_map(NS, configmap("crud", {"a": "1"}))
        self.assertEqual(created.data, {"a": "1"})
        self.assertTrue(created.metadata.uid)
        err = self.assertApiError(409, self.v1.create_namespaced_config_map, NS, configmap("crud"))
        self.assertEqual(json.loads(err.body)["reason"], "AlreadyExists")

        read = self.v1.read_namespaced_config_map("crud", NS)
        self.assertEqual(read.metadata.resource_version, created.metadata.resource_version)
        read.data["b"] = "2"
        replaced = self.v1.replace_namespaced_config_map("crud", NS, read)
        self.assertEqual(replaced.data, {"a": "1", "b": "2"})
        self.assertNotEqual(replaced.metadata.resource_version, created.metadata.resource_version)
        # A write from the stale copy is refused.
        stale = created
        stale.data = {"c": "3"}
        err = self.assertApiError(409, self.v1.replace_namespaced_config_map, "crud", NS, stale)
        self.assertEqual(json.loads(err.body)["reason"], "Conflict")
        # The typed patch sends a strategic merge patch for a dict body.
        patched = self.v1.patch_namespaced_config_map("crud", NS, {"data": {"c": "3"}})
        self.assertEqual(patched.data, {"a": "1", "b": "2", "c": "3"})
        # dry_run="All" computes without storing.
        self.v1.patch_namespaced_config_map("crud", NS, {"data": {"d": "4"}}, dry_run="All")
        self.assertNotIn("d", self.v1.read_namespaced_config_map("crud", NS).data)

    def test_bad_parameters_are_refused_with_the_name_and_value(self):
        err = self.assertApiError(400, self.v1.list_namespaced_config_map, NS, limit="ten")
        status = json.loads(err.body)
        self.assertEqual((status["kind"], status["reason"]), ("Status", "BadRequest"))
        self.assertIn('limit: strconv.ParseInt: parsing "ten"', status["message"])
        err = self.assertApiError(422, self.v1.list_namespaced_config_map, NS, resource_version_match="Exact")
        self.assertIn("resourceVersionMatch is forbidden unless resourceVersion is provided", json.loads(err.body)["message"])
        err = self.assertApiError(422, self.v1.create_namespaced_config_map, NS, configmap("bad"), dry_run="Al")
        self.assertIn('dryRun: Unsupported value: []string{"Al"}', json.loads(err.body)["message"])
        self.assertApiError(404, self.v1.read_namespaced_config_map, "bad", NS)

    def test_watch_from_a_version(self):
        start = self.v1.list_namespaced_config_map(NS).metadata.resource_version
        self.v1.create_namespaced_config_map(NS, configmap("watched", {"v": "1"}))
        self.v1.patch_namespaced_config_map("watched", NS, {"data": {"v": "2"}})
        self.v1.delete_namespaced_config_map("watched", NS)
        w = watch.Watch()
        seen = []
        # The client sends watch=True; kubesim must stream events, not answer a list.
        try:
            for event in w.stream(self.v1.list_namespaced_config_map, NS, resource_version=start, timeout_seconds=20):
                seen.append((event["type"], event["object"].metadata.name, (event["object"].data or {}).get("v")))
                if len(seen) == 3:
                    # A change made while the watch is open arrives too.
                    self.v1.create_namespaced_config_map(NS, configmap("watched-live"))
                if len(seen) == 4:
                    w.stop()
        except (KeyError, ValueError) as e:
            self.fail("GET ...configmaps?watch=True was not answered with a watch stream (%r), events so far %s"
                      % (e, seen))
        self.assertEqual(seen, [("ADDED", "watched", "1"), ("MODIFIED", "watched", "2"), ("DELETED", "watched", "2"),
                                ("ADDED", "watched-live", None)])

    def test_watch_from_a_version_that_left_the_history_gets_410(self):
        old = self.v1.list_namespaced_config_map(NS).metadata.resource_version
        for i in range(EVENT_LOG_CAPACITY + 5):
            self.v1.create_namespaced_config_map(NS, configmap("churn-%d" % i))
        w = watch.Watch()
        with self.assertRaises(ApiException, msg="a watch from a compacted version must fail with 410") as ctx:
            for _ in w.stream(self.v1.list_namespaced_config_map, NS, resource_version=old, timeout_seconds=10):
                self.fail("no event may arrive from a compacted version")
        self.assertEqual(ctx.exception.status, 410, str(ctx.exception))
        self.assertTrue(ctx.exception.reason.startswith("Expired: too old resource version"), ctx.exception.reason)
        # Without timeout_seconds the client retries once after a 410, then gives up with it.
        with self.assertRaises(ApiException) as ctx:
            for _ in watch.Watch().stream(self.v1.list_namespaced_config_map, NS, resource_version=old):
                self.fail("no event may arrive from a compacted version")
        self.assertEqual(ctx.exception.status, 410)
        # An exact list at that version is gone too; relisting and watching from there works.
        self.assertApiError(410, self.v1.list_namespaced_config_map, NS, resource_version=old,
                            resource_version_match="Exact")
        fresh = self.v1.list_namespaced_config_map(NS, label_selector="none=here").metadata.resource_version
        self.v1.create_namespaced_config_map(NS, configmap("after-relist"))
        w = watch.Watch()
        for event in w.stream(self.v1.list_namespaced_config_map, NS, resource_version=fresh, timeout_seconds=20):
            self.assertEqual((event["type"], event["object"].metadata.name), ("ADDED", "after-relist"))
            w.stop()
        for i in range(EVENT_LOG_CAPACITY + 5):
            self.v1.delete_namespaced_config_map("churn-%d" % i, NS)

    def test_send_initial_events(self):
        # Client 22.6 predates sendInitialEvents (client-go's WatchList), so the raw call_api.
        self.v1.create_namespaced_config_map(NS, configmap("initial", labels={"initial": "yes"}))
        listed = self.v1.list_namespaced_config_map(NS).metadata.resource_version
        resp = api_client.call_api(
            "/api/v1/namespaces/%s/configmaps" % NS, "GET",
            query_params=[("watch", "true"), ("sendInitialEvents", "true"), ("resourceVersionMatch", "NotOlderThan"),
                          ("allowWatchBookmarks", "true"), ("labelSelector", "initial=yes"), ("timeoutSeconds", "1")],
            auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True)
        try:
            events = [json.loads(line) for line in resp.data.decode().splitlines()]
        finally:
            resp.release_conn()
        self.assertEqual([e["type"] for e in events], ["ADDED", "BOOKMARK"], events)
        self.assertEqual(events[0]["object"]["metadata"]["name"], "initial")
        end = events[1]["object"]["metadata"]
        self.assertEqual(end.get("annotations"), {"k8s.io/initial-events-end": "true"}, events[1])
        self.assertEqual(end["resourceVersion"], listed)
        err = self.assertApiError(422, api_client.call_api, "/api/v1/namespaces/%s/configmaps" % NS, "GET",
                                  query_params=[("watch", "1"), ("sendInitialEvents", "true")],
                                  auth_settings=["BearerToken"], response_type="object")
        self.assertIn("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                      json.loads(err.body)["message"])

    def test_paging(self):
        for i in range(5):
            self.v1.create_namespaced_config_map(NS, configmap("page-%d" % i, labels={"paged": "yes"}))
        first = self.v1.list_namespaced_config_map(NS, label_selector="paged=yes", limit=2)
        self.assertEqual([c.metadata.name for c in first.items], ["page-0", "page-1"])
        self.assertEqual(first.metadata.remaining_item_count, 3)
        self.assertTrue(first.metadata._continue)
        # Pages after the first show the first page's state.
        self.v1.create_namespaced_config_map(NS, configmap("page-9", labels={"paged": "yes"}))
        names, token = [c.metadata.name for c in first.items], first.metadata._continue
        while token:
            page = self.v1.list_namespaced_config_map(NS, label_selector="paged=yes", limit=2, _continue=token)
            self.assertEqual(page.metadata.resource_version, first.metadata.resource_version)
            names += [c.metadata.name for c in page.items]
            token = page.metadata._continue
        self.assertEqual(names, ["page-%d" % i for i in range(5)])
        self.assertEqual(len(self.v1.list_namespaced_config_map(NS, label_selector="paged=yes").items), 6)

    def test_server_side_apply(self):
        manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied", "namespace": NS},
                    "data": {"owner": "py"}}
        # The dynamic client's server_side_apply (application/apply-patch+yaml). Client 22.6 sends only str
        # bodies with that content type ("Cannot prepare a request message" for a dict), hence json.dumps.
        dyn = dynamic.DynamicClient(api_client, cache_file=os.path.join(tmpdir, "discovery-cache.json"))
        configmaps = dyn.resources.get(api_version="v1", kind="ConfigMap")
        body = json.dumps(manifest)
        first = configmaps.server_side_apply(body=body, name="applied", namespace=NS, field_manager="py-apply")
        self.assertEqual(first.data.owner, "py")
        again = configmaps.server_side_apply(body=body, name="applied", namespace=NS, field_manager="py-apply")
        self.assertEqual(again.metadata.resourceVersion, first.metadata.resourceVersion, "a no-op apply must keep it")
        # The typed client with the apply content type, as a second manager: a conflict, then force.
        applier = config.new_client_from_config(config_file=os.path.join(tmpdir, "kubeconfig"))
        try:
            applier.set_default_header("Content-Type", "application/apply-patch+yaml")
            typed = client.CoreV1Api(applier)
            other = json.dumps(dict(manifest, data={"owner": "other"}))
            err = self.assertApiError(409, typed.patch_namespaced_config_map, "applied", NS, other,
                                      field_manager="other-apply")
            self.assertIn('conflict with "py-apply"', json.loads(err.body)["message"])
            forced = typed.patch_namespaced_config_map("applied", NS, other, field_manager="other-apply", force=True)
            self.assertEqual(forced.data, {"owner": "other"})
            managers = {m.manager for m in forced.metadata.managed_fields}
            self.assertIn("other-apply", managers)
        finally:
            applier.close()

    def test_delete_then_404(self):
        self.v1.create_namespaced_config_map(NS, configmap("doomed"))
        status = self.v1.delete_namespaced_config_map("doomed", NS)
        self.assertEqual(status.status, "Success")
        err = self.assertApiError(404, self.v1.read_namespaced_config_map, "doomed", NS)
        self.assertEqual(json.loads(err.body)["reason"], "NotFound")
        self.assertApiError(404, self.v1.delete_namespaced_config_map, "doomed", NS)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python_client_test.py KUBESIM_BINARY [unittest args]")
    KUBESIM = sys.argv[1]
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[2:])
