"""K5: the official Python client lists, reads and watches every kind kube9 serves: nodes of
each origin (an agent with the sim runtime, a fleet of sim nodes, a Kube-9 v0 node), pods,
namespaces, events, leases and Policy objects (a custom kind)."""
import json
import os
import subprocess
import time
import urllib.request

import pytest
from kubernetes import client, config, watch

from kube9server import BINARY, Server


@pytest.fixture(scope="module")
def cluster():
    server = Server()
    agents = []
    for arguments in (["--name", "agent-node", "--cpus", "4"], ["--name", "fleet", "--cpus", "2", "--count", "3"]):
        agents.append(subprocess.Popen([BINARY, "agent", "--server", server.url, "--runtime", "sim"] + arguments,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    request = urllib.request.Request(server.url + "/nodes/", data=json.dumps({"name": "v0-node", "cpu_cores_avail": 2}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    assert urllib.request.urlopen(request, timeout=10).status == 201
    config.load_kube_config(config_file=server.kubeconfig)
    core = client.CoreV1Api()
    deadline = time.time() + 30
    while time.time() < deadline and len(core.list_node().items) < 5:
        time.sleep(0.2)
    yield server
    for agent in agents:
        agent.terminate()
        agent.wait(timeout=30)
    assert server.stop() == 0


def watch_once(function, *args, **kwargs):
    """The first event of a watch with a short timeout."""
    stream = watch.Watch()
    for event in stream.stream(function, *args, timeout_seconds=2, **kwargs):
        stream.stop()
        return event
    return None


def watch_change(function, *args, change, name, **kwargs):
    """Starts a watch from the list's resourceVersion, makes `change`, and returns the event about `name`."""
    listed = function(*args, **kwargs)
    version = listed["metadata"]["resourceVersion"] if isinstance(listed, dict) else listed.metadata.resource_version
    stream = watch.Watch()
    change()
    for event in stream.stream(function, *args, resource_version=version, timeout_seconds=5, **kwargs):
        obj = event["object"]
        metadata = obj["metadata"] if isinstance(obj, dict) else obj.metadata
        if (metadata["name"] if isinstance(metadata, dict) else metadata.name) == name:
            stream.stop()
            return event
    return None


def test_nodes_of_every_origin(cluster):
    core = client.CoreV1Api()
    names = {node.metadata.name for node in core.list_node().items}
    assert {"agent-node", "fleet-0001", "fleet-0002", "fleet-0003", "v0-node"} <= names
    for name in ("agent-node", "fleet-0001", "v0-node"):
        node = core.read_node(name)
        assert node.status.node_info.machine_id is not None
        assert node.status.node_info.kube_proxy_version is not None
        assert node.status.node_info.boot_id is not None
        assert node.status.node_info.system_uuid is not None
    event = watch_once(core.list_node)
    assert event["type"] == "ADDED" and event["object"].metadata.name in names
    changed = watch_change(core.list_node, change=lambda: core.patch_node("v0-node", {"metadata": {"labels": {"seen": "yes"}}}), name="v0-node")
    assert changed["type"] == "MODIFIED" and changed["object"].metadata.labels["seen"] == "yes"
    assert changed["object"].status.node_info.machine_id is not None


def test_pods_namespaces_events(cluster):
    core = client.CoreV1Api()
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="every-kind"),
                       spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]))
    core.create_namespaced_pod("default", pod)
    def ready():
        status = core.read_namespaced_pod("every-kind", "default").status
        return status.phase == "Running" and bool(status.container_statuses) and status.container_statuses[0].ready
    deadline = time.time() + 20
    while time.time() < deadline and not ready():
        time.sleep(0.2)
    read = core.read_namespaced_pod("every-kind", "default")
    assert read.status.phase == "Running"
    assert read.status.container_statuses[0].image_id is not None
    assert read.status.container_statuses[0].ready is True
    assert any(item.metadata.name == "every-kind" for item in core.list_pod_for_all_namespaces().items)
    second = client.V1Pod(metadata=client.V1ObjectMeta(name="every-kind-2"),
                          spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]))
    added = watch_change(core.list_namespaced_pod, "default", change=lambda: core.create_namespaced_pod("default", second), name="every-kind-2")
    assert added["type"] == "ADDED" and added["object"].spec.containers[0].name == "c"
    assert {ns.metadata.name for ns in core.list_namespace().items} >= {"default", "kube-system"}
    assert core.read_namespace("default").status.phase == "Active"
    namespace = client.V1Namespace(metadata=client.V1ObjectMeta(name="every-kind-ns"))
    assert watch_change(core.list_namespace, change=lambda: core.create_namespace(namespace), name="every-kind-ns")["type"] == "ADDED"
    events = core.list_event_for_all_namespaces().items
    assert events, "the scheduler and the agents recorded events"
    first = events[0]
    assert core.read_namespaced_event(first.metadata.name, first.metadata.namespace).involved_object is not None
    assert watch_once(core.list_event_for_all_namespaces)["type"] == "ADDED"


def test_leases(cluster):
    coordination = client.CoordinationV1Api()
    deadline = time.time() + 20
    while time.time() < deadline and not coordination.list_namespaced_lease("kube-node-lease").items:
        time.sleep(0.2)
    leases = coordination.list_lease_for_all_namespaces().items
    assert leases
    lease = coordination.read_namespaced_lease(leases[0].metadata.name, leases[0].metadata.namespace)
    assert lease.spec.holder_identity
    body = client.V1Lease(metadata=client.V1ObjectMeta(name="every-kind-lease"), spec=client.V1LeaseSpec(holder_identity="python"))
    added = watch_change(coordination.list_namespaced_lease, "default", change=lambda: coordination.create_namespaced_lease("default", body), name="every-kind-lease")
    assert added["type"] == "ADDED" and added["object"].spec.holder_identity == "python"


def test_policies(cluster):
    custom = client.CustomObjectsApi()
    body = {"apiVersion": "kube9.io/v1", "kind": "Policy", "metadata": {"name": "scheduler.from-python"},
            "spec": {"slot": "scheduler", "source": "return {name='py', api=1, filter=function() return true end, score=function() return 1 end}"}}
    added = watch_change(custom.list_cluster_custom_object, "kube9.io", "v1", "policies",
                         change=lambda: custom.create_cluster_custom_object("kube9.io", "v1", "policies", body), name="scheduler.from-python")
    assert added["type"] == "ADDED"
    listed = custom.list_cluster_custom_object("kube9.io", "v1", "policies")
    assert any(item["metadata"]["name"] == "scheduler.from-python" for item in listed["items"])
    read = custom.get_cluster_custom_object("kube9.io", "v1", "policies", "scheduler.from-python")
    assert read["spec"]["slot"] == "scheduler"
    event = watch_once(custom.list_cluster_custom_object, "kube9.io", "v1", "policies")
    assert event["type"] == "ADDED"
