"""The official Kubernetes Python client against a real kube9 server (second acceptance client)."""
import os
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

BINARY = os.environ.get("KUBE9_BINARY") or os.path.join(os.path.dirname(__file__), "..", "..", ".build", "release", "kube9")


@pytest.fixture(scope="module")
def api():
    data_dir = tempfile.mkdtemp(prefix="kube9-python-")
    # No scheduler: the watch test counts the events its own writes cause.
    server = subprocess.Popen([BINARY, "server", "--data-dir", data_dir, "--listen", "127.0.0.1:0", "--log-level", "warning",
                               "--disable-scheduler"])
    kubeconfig = os.path.join(data_dir, "kubeconfig")
    deadline = time.time() + 30
    ready = False
    while time.time() < deadline and server.poll() is None:
        if os.path.exists(kubeconfig):
            address = [line.split("server:")[1].strip() for line in open(kubeconfig) if "server:" in line][0]
            try:
                if urllib.request.urlopen(address + "/readyz", timeout=2).status == 200:
                    ready = True
                    break
            except OSError:
                pass
        time.sleep(0.05)
    assert ready, "kube9 server did not become ready"
    config.load_kube_config(config_file=kubeconfig)
    yield client.CoreV1Api()
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0


def pod(name, labels=None):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {"app": "py"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]),
    )


def test_list_namespaces(api):
    names = {ns.metadata.name for ns in api.list_namespace().items}
    assert {"default", "kube-system", "kube-node-lease"} <= names


def test_create_get_and_list_pods(api):
    created = api.create_namespaced_pod("default", pod("py-one"))
    assert created.metadata.uid
    assert created.status.phase == "Pending"
    fetched = api.read_namespaced_pod("py-one", "default")
    assert fetched.metadata.resource_version == created.metadata.resource_version
    listed = api.list_namespaced_pod("default", label_selector="app=py")
    assert [p.metadata.name for p in listed.items] == ["py-one"]


def test_duplicate_create_is_409(api):
    api.create_namespaced_pod("default", pod("py-dup"))
    with pytest.raises(ApiException) as error:
        api.create_namespaced_pod("default", pod("py-dup"))
    assert error.value.status == 409


def test_watch_sees_added_modified_deleted(api):
    start = api.list_namespaced_pod("default").metadata.resource_version
    seen = []

    def collect():
        w = watch.Watch()
        for event in w.stream(api.list_namespaced_pod, "default", resource_version=start, timeout_seconds=10):
            if event["object"].metadata.name == "py-watched":
                seen.append(event["type"])
            if len(seen) == 3:
                w.stop()

    thread = threading.Thread(target=collect)
    thread.start()
    time.sleep(0.5)
    api.create_namespaced_pod("default", pod("py-watched"))
    api.patch_namespaced_pod("py-watched", "default", {"metadata": {"labels": {"seen": "yes"}}})
    api.delete_namespaced_pod("py-watched", "default")
    thread.join(timeout=15)
    assert seen == ["ADDED", "MODIFIED", "DELETED"]


def test_missing_pod_is_404(api):
    with pytest.raises(ApiException) as error:
        api.read_namespaced_pod("no-such-pod", "default")
    assert error.value.status == 404
