"""Starts the real kube9 binary for a test: 127.0.0.1, a free port, a temporary data dir, stopped by pid."""
import os
import signal
import subprocess
import tempfile
import time
import urllib.request

BINARY = os.environ.get("KUBE9_BINARY") or os.path.join(os.path.dirname(__file__), "..", "..", ".build", "release", "kube9")


class Server:
    def __init__(self, *arguments, data_dir=None):
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="kube9-python-")
        self.arguments = list(arguments)
        self.log = open(os.path.join(self.data_dir, "server.log"), "ab")
        self.process = subprocess.Popen([BINARY, "server", "--data-dir", self.data_dir, "--listen", "127.0.0.1:0",
                                         "--log-level", "warning"] + self.arguments, stdout=self.log, stderr=self.log)
        self.kubeconfig = os.path.join(self.data_dir, "kubeconfig")
        self.url = None
        deadline = time.time() + 60
        while time.time() < deadline and self.process.poll() is None:
            if os.path.exists(self.kubeconfig):
                lines = [line for line in open(self.kubeconfig) if "server:" in line]
                if lines:
                    address = lines[0].split("server:")[1].strip()
                    try:
                        if urllib.request.urlopen(address + "/readyz", timeout=2).status == 200:
                            self.url = address
                            break
                    except OSError:
                        pass
            time.sleep(0.05)
        if self.url is None:
            self.stop()
            raise AssertionError("kube9 server did not become ready; log:\n" + self.tail())
        host_port = self.url.split("//", 1)[1]
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)

    def tail(self, lines=40):
        try:
            return "".join(open(os.path.join(self.data_dir, "server.log"), errors="replace").readlines()[-lines:])
        except OSError:
            return ""

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait()
        return self.process.returncode
