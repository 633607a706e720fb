"""Randomized HTTP requests against the real kube9 binary (K5): mutated valid objects and patches,
random query parameters and paths, protobuf garbage, malformed request lines, headers and chunked
bodies. Asserts: no 5xx from the Kubernetes API, the process alive, /healthz answering within 100 ms
throughout (probed from another process), and a restart on the same data directory loads every
object the server accepted. KUBE9_FUZZ_REQUESTS sets the count (default 10,000); the seed is
printed so that a failure can be replayed with KUBE9_FUZZ_SEED."""
import http.client
import json
import multiprocessing
import os
import random
import socket
import time

from kube9server import Server

REQUESTS = int(os.environ.get("KUBE9_FUZZ_REQUESTS", "10000"))
SEED = int(os.environ.get("KUBE9_FUZZ_SEED", str(int(time.time()))))

NASTY = [None, True, False, -1, 0, 1, 2**31, 2**63 - 1, -2**63, 2**64, 10**20, 1e300, -1e300, 0.5, "", "x" * 300, "1e300",
         "10000000000000000", "9e18", "-1", ":", "::", "@", "/", "../..", "\u0000", "é☃😀", "a" * 70, "UPPER", "-", ".",
         [], {}, [[[[]]]], {"a": {"b": {"c": {}}}}, ["a", 1, None], "2026-13-45T99:99:99Z", "1Ei", "9223372036854775807"]
QUANTITIES = ["1e300", "10000000000000000", "9e18", "9e15", "-1", ":", "1Ei", "1e3", "0.000000001", "1.5Gi", 10**20, 1e300, -5, "Infinity"]


def seeds():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "fuzz"}},
           "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "ports": [{"containerPort": 80}],
                                    "resources": {"requests": {"cpu": "100m", "memory": "16Mi"}, "limits": {"cpu": "1"}},
                                    "env": [{"name": "A", "value": "1"}],
                                    "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1}}],
                    "terminationGracePeriodSeconds": 30, "tolerations": [{"key": "k", "operator": "Exists"}]}}
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "labels": {"kube9.io/node-type": "worker"}},
            "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}, "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}], "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "nodeInfo": {"kubeletVersion": "v"}}}
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"},
             "reason": "R", "message": "m", "type": "Normal", "count": 1}
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
             "spec": {"holderIdentity": "h", "leaseDurationSeconds": 10, "renewTime": "2026-01-01T00:00:00.000000Z"}}
    policy = {"apiVersion": "kube9.io/v1", "kind": "Policy", "metadata": {"name": "scheduler.f"},
              "spec": {"slot": "scheduler", "source": "return {name='f', api=1, filter=function() return true end, score=function() return 1 end}"}}
    return [("/api/v1/namespaces/default/pods", pod), ("/api/v1/nodes", node), ("/api/v1/namespaces", namespace),
            ("/api/v1/namespaces/default/events", event), ("/apis/coordination.k8s.io/v1/namespaces/default/leases", lease),
            ("/apis/kube9.io/v1/policies", policy)]


def mutate(rng, value, depth=0):
    """A random change somewhere in a JSON value."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        choice = rng.random()
        copy = dict(value)
        if choice < 0.15:
            del copy[key]
        elif choice < 0.3:
            copy[rng.choice(["x", "$patch", "metadata", "status", "spec", key + "x", "resources", "gracePeriodSeconds"])] = rng.choice(NASTY)
        elif choice < 0.45 and depth < 30:
            copy[key] = mutate(rng, copy[key], depth + 1)
        elif choice < 0.6 and key in ("cpu", "memory", "pods", "requests", "limits", "capacity", "allocatable"):
            copy[key] = rng.choice(QUANTITIES) if key in ("cpu", "memory", "pods") else {"cpu": rng.choice(QUANTITIES)}
        else:
            copy[key] = rng.choice(NASTY) if rng.random() < 0.7 else mutate(rng, copy[key], depth + 1)
        return copy
    if isinstance(value, list) and value and rng.random() < 0.8:
        copy = list(value)
        index = rng.randrange(len(copy))
        choice = rng.random()
        if choice < 0.3:
            copy.append(copy[index])
        elif choice < 0.5:
            del copy[index]
        else:
            copy[index] = mutate(rng, copy[index], depth + 1)
        return copy
    return rng.choice(NASTY)


def named(rng, obj):
    obj = json.loads(json.dumps(obj))
    if isinstance(obj.get("metadata"), dict) and isinstance(obj["metadata"].get("name"), str):
        base = obj["metadata"]["name"]
        if obj.get("kind") == "Policy":
            obj["metadata"]["name"] = "scheduler.f%d" % rng.randrange(50)
        else:
            obj["metadata"]["name"] = "%s%d" % (base, rng.randrange(50))
    return obj


def deep(rng, levels):
    text = "[" * levels + "1" + "]" * levels
    return text if rng.random() < 0.5 else '{"a":' * levels + "1" + "}" * levels


def probe(url, stop, result):
    """Runs in its own process: GET /healthz every 20 ms on a fresh connection; the slowest answer."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    slowest, failures, count = 0.0, 0, 0
    while not stop.is_set():
        start = time.monotonic()
        try:
            connection = http.client.HTTPConnection(host, int(port), timeout=5)
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            connection.close()
            if response.status != 200:
                failures += 1
        except OSError:
            failures += 1
        slowest = max(slowest, time.monotonic() - start)
        count += 1
        time.sleep(0.02)
    result.put((slowest, failures, count))


class Client:
    def __init__(self, server):
        self.server = server
        self.connection = None

    def request(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
            try:
                self.connection.request(method, path, body=body, headers=headers or {})
                response = self.connection.getresponse()
                data = response.read()
                if response.getheader("connection", "").lower() == "close":
                    self.connection.close()
                    self.connection = None
                return response.status, data
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = None
                if attempt == 1:
                    raise
        return 0, b""


def raw(server, payload, rng):
    """Sends bytes on a new socket; returns the status code of the answer, or None when the server closed it."""
    with socket.create_connection((server.host, server.port), timeout=10) as connection:
        try:
            connection.sendall(payload)
            if rng.random() < 0.5:
                connection.shutdown(socket.SHUT_WR)
            answer = b""
            while len(answer) < 4096:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                answer += chunk
                if b"\r\n\r\n" in answer:
                    break
        except OSError:
            return None
    if not answer.startswith(b"HTTP/1."):
        return None
    try:
        return int(answer.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def malformed(rng):
    body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "raw%d" % rng.randrange(9)}}).encode()
    choices = [
        b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * rng.choice([10, 9000, 70000]) + b"\r\n\r\n",
        b"POST /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + rng.choice([b"zz\r\n", b"ffffffffffffffffff\r\n", b"5\r\nabc\r\n0\r\n\r\n", b"-1\r\n\r\n", b"3\r\nabcdef\r\n"]),
        b"POST /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
        + rng.choice([b"-5", b"99999999999999999999", b"abc", b"10", b"1000"]) + b"\r\n\r\n" + body[:rng.randrange(len(body))],
        b"GARBAGE\r\n\r\n",
        b"GET /api/v1/pods HTTP/9.9\r\n\r\n",
        b"GET " + b"/a" * rng.choice([10, 5000]) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /api/v1/pods HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
        b"GET /api/v1/pods HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
        b"POST /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.kubernetes.protobuf\r\nContent-Length: 12\r\n\r\nk8s\x00\x12\xff\xff\xff\xff\xff\xff\xff",
        b"GET /api/v1/namespaces/default/pods?watch=1&timeoutSeconds=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    return rng.choice(choices)


def query(rng):
    options = ["watch=1&timeoutSeconds=%s" % rng.choice(["0", "1", "-1", "99999999999999999999", "x"]),
               "labelSelector=%s" % rng.choice(["app%3Dfuzz", "a+in+(b", "!!", "a%3D%3D%3Db", "x+notin+()", "%ff%fe"]),
               "fieldSelector=%s" % rng.choice(["metadata.name%3Dp1", "spec.nodeName!%3D", "bogus%3D1", "%3D"]),
               "limit=%s" % rng.choice(["1", "-1", "0", "99999999999999999999", "x"]),
               "continue=%s" % rng.choice(["", "abc", "eyJ2IjotMSwibnMiOiIiLCJuIjoiIn0", "%%%"]),
               "resourceVersion=%s" % rng.choice(["0", "-1", "1", "99999999999999999999", "x"]),
               "gracePeriodSeconds=%s" % rng.choice(["0", "-1", "9223372036854775807", "99999999999999999999"]),
               "dryRun=%s" % rng.choice(["All", "x"]), "fieldValidation=%s" % rng.choice(["Strict", "Warn", "x"]),
               "propagationPolicy=Foreground", "allowWatchBookmarks=true"]
    return "&".join(rng.sample(options, rng.randrange(1, 4)))


def test_http_fuzz():
    rng = random.Random(SEED)
    print("kube9 HTTP fuzz: seed %d, %d requests" % (SEED, REQUESTS))
    server = Server()
    stop = multiprocessing.Event()
    result = multiprocessing.Queue()
    prober = multiprocessing.Process(target=probe, args=(server.url, stop, result))
    prober.start()
    client = Client(server)
    fives = []
    statuses = {}
    kinds = seeds()
    try:
        for number in range(REQUESTS):
            choice = rng.random()
            collection, seed = rng.choice(kinds)
            method, path, body, headers = "GET", collection, None, {"Content-Type": "application/json"}
            if choice < 0.30:
                obj = named(rng, seed)
                for _ in range(rng.randrange(0, 4)):
                    obj = mutate(rng, obj)
                method, body = "POST", json.dumps(obj)
            elif choice < 0.45:
                obj = named(rng, seed)
                name = obj.get("metadata", {}).get("name", "x") if isinstance(obj.get("metadata"), dict) else "x"
                method, path = rng.choice(["PATCH", "PUT"]), "%s/%s%s" % (collection, name, rng.choice(["", "", "/status"]))
                kind = rng.random()
                if method == "PUT":
                    body = json.dumps(mutate(rng, obj))
                elif kind < 0.33:
                    headers["Content-Type"] = "application/json-patch+json"
                    ops = []
                    for _ in range(rng.randrange(1, 30)):
                        ops.append({"op": rng.choice(["add", "remove", "replace", "copy", "move", "test", "bogus"]),
                                    "path": rng.choice(["/metadata/labels/x", "/spec", "/metadata", "", "/spec/containers/0", "/spec/containers/-",
                                                        "/a/b/c", "/metadata/annotations/~1", "/spec/containers/99999999999999999999"]),
                                    "from": rng.choice(["/spec", "/metadata", "", "/status"]), "value": rng.choice(NASTY)})
                    body = json.dumps(ops)
                elif kind < 0.66:
                    headers["Content-Type"] = "application/merge-patch+json"
                    body = json.dumps(mutate(rng, {"metadata": {"labels": {"a": "b"}}, "spec": obj.get("spec", {})}))
                else:
                    headers["Content-Type"] = "application/strategic-merge-patch+json"
                    body = json.dumps(mutate(rng, {"spec": {"containers": [{"name": "c", "image": "x"}],
                                                            "$setElementOrder/containers": [{"name": "c"}]},
                                                   "metadata": {"$patch": rng.choice(["merge", "delete", "replace", "x"])}}))
            elif choice < 0.55:
                method, path = "GET", collection + "?" + query(rng)
            elif choice < 0.63:
                method, path = "DELETE", "%s/%s%d?%s" % (collection, seed["metadata"]["name"], rng.randrange(50), query(rng))
                body = json.dumps(mutate(rng, {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                                               "preconditions": {"uid": "x"}, "propagationPolicy": "Background"}))
            elif choice < 0.68:
                method, body = "POST", deep(rng, rng.choice([50, 99, 100, 101, 150, 5000]))
            elif choice < 0.72:
                method = "POST"
                headers["Content-Type"] = "application/vnd.kubernetes.protobuf"
                body = b"k8s\x00" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
            elif choice < 0.78:
                segments = ["api", "v1", "apis", "namespaces", "default", "pods", "nodes", "status", "binding", "log", "proxy",
                            "kube9", "policies", "scheduler", "default", "filter", "%2e%2e", "%00", "x" * 300, "openapi", "v3", "watch"]
                path = "/" + "/".join(rng.choice(segments) for _ in range(rng.randrange(1, 8)))
                method = rng.choice(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
                if method in ("POST", "PUT", "PATCH"):
                    body = json.dumps(rng.choice(NASTY))
            elif choice < 0.83:
                method, path = "POST", "/kube9/v1/policies/scheduler/best-fit/%s" % rng.choice(["filter", "score", "nope"])
                body = json.dumps([mutate(rng, {"name": "p", "requests": {"cpu": 1}}), mutate(rng, {"name": "n", "free": {"cpu": 2}})])
            else:
                status = raw(server, malformed(rng), rng)
                statuses[status] = statuses.get(status, 0) + 1
                if status is not None and status >= 500:
                    fives.append(("RAW", "malformed", status))
                continue
            if isinstance(body, str):
                body = body.encode()
            try:
                status, data = client.request(method, path, body=body, headers=headers)
            except (http.client.HTTPException, OSError) as error:
                assert server.alive(), "the server died at request %d (%s %s): %s\n%s" % (number, method, path, error, server.tail())
                statuses["transport error"] = statuses.get("transport error", 0) + 1
                continue
            statuses[status] = statuses.get(status, 0) + 1
            upstream = "/proxy" in path or path.rstrip("/").endswith("/log")
            bare = path.split("?", 1)[0]
            kube_nine = bare in ("/", "/test_db") or bare.startswith("/nodes") or bare.startswith("/pods")
            if kube_nine:
                # Kube-9's own API answers 500 {"error": ...} in the cases its spec lists; never anything else.
                if status >= 500:
                    try:
                        assert status == 500 and "error" in json.loads(data)
                    except (AssertionError, ValueError):
                        fives.append((method, path[:120], status, data[:300]))
            elif status >= 500 and not upstream:
                fives.append((method, path[:120], status, data[:300]))
            assert server.alive(), "the server died at request %d (%s %s)\n%s" % (number, method, path, server.tail())
    except BaseException:
        server.stop()
        raise
    finally:
        stop.set()
        prober.join(timeout=30)
    slowest, failures, probes = result.get(timeout=10)
    print("kube9 HTTP fuzz: statuses %s; /healthz probed %d times, slowest %.1f ms, %d failures" %
          (dict(sorted((str(k), v) for k, v in statuses.items())), probes, slowest * 1000, failures))
    try:
        assert server.alive()
        assert probes > 100, "the /healthz probe ran %d times" % probes
        assert sum(v for k, v in statuses.items() if isinstance(k, int) and 200 <= k < 300) > 500, "too few requests succeeded: %s" % statuses
        assert statuses.get("transport error", 0) < REQUESTS // 100, "%d requests got no answer" % statuses.get("transport error", 0)
        assert not fives, "5xx answers: %s" % fives[:5]
        assert failures == 0, "/healthz failed %d times" % failures
        assert slowest < 0.1, "/healthz took %.1f ms at worst" % (slowest * 1000)
        before = {}
        for collection, _ in kinds:
            status, data = client.request("GET", collection)
            before[collection] = len(json.loads(data)["items"])
    finally:
        data_dir = server.data_dir
        stopped = server.stop()
    # Everything the server accepted loads back.
    assert stopped == 0
    again = Server(data_dir=data_dir)
    try:
        loaded = {}
        for collection, _ in kinds:
            status, data = Client(again).request("GET", collection)
            assert status == 200, collection
            loaded[collection] = len(json.loads(data)["items"])
        assert loaded["/api/v1/namespaces/default/pods"] == before["/api/v1/namespaces/default/pods"], (loaded, before)
        # Events are left out: controllers record new ones after a restart (nodes registered again).
        events = "/api/v1/namespaces/default/events"
        assert {k: v for k, v in loaded.items() if k != events} == {k: v for k, v in before.items() if k != events}, \
            "objects before the restart %s, after %s" % (before, loaded)
        assert loaded[events] >= before[events]
        print("kube9 HTTP fuzz: restarted on the same data; loaded %s" % loaded)
    finally:
        again.stop()
