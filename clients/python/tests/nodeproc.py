"""A real `jobnet node` process on a loopback port, for the Python tests (ctest passes the
binary as $JOBNET_BIN)."""

import fcntl
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import jobnet


_claimed = []  # lock files held open: a port stays claimed while this process lives


def free_port():
    """A loopback port claimed for this process, as tests/node_harness.hpp's FreePort does: from
    20000..31999 (below the ephemeral range, so no outgoing connection holds it), with an flock
    on /tmp/jobnet-test-ports/PORT so tests running at once never pick the same one."""
    os.makedirs("/tmp/jobnet-test-ports", exist_ok=True)
    rng = random.Random(os.getpid() ^ time.time_ns())
    for _ in range(2000):
        port = rng.randrange(20000, 32000)
        claim = open("/tmp/jobnet-test-ports/%d" % port, "a")
        try:
            fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", port))
        except OSError:
            claim.close()
            continue
        _claimed.append(claim)
        return port
    raise RuntimeError("no free loopback port in 20000..31999")


def wait_for(condition, timeout=20.0, interval=0.05, what="condition"):
    """Polls `condition` until it returns a true value (returned), or fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


class Node:
    def __init__(self, node_id="n1", workers=2, extra=(), key_file=None, server_key=None):
        """`key_file` and `server_key`: a node with principals, probed with that key."""
        self.bin = os.environ.get("JOBNET_BIN", "jobnet")
        self.dir = tempfile.mkdtemp(prefix="jobnet-py-")
        self.port = free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.data = os.path.join(self.dir, "data")
        self.log = open(os.path.join(self.dir, "node.log"), "w")
        self.proc = subprocess.Popen(
            [self.bin, "node", "--id", node_id, "--listen", self.endpoint, "--data", self.data,
             "--workers", str(workers)] + list(extra),
            stdout=self.log, stderr=subprocess.STDOUT)
        self.client_keys = ({} if key_file is None else
                            {"key_file": key_file, "server_keys": {self.endpoint: server_key}})
        probe = jobnet.Client([self.endpoint], request_timeout=1.0, **self.client_keys)
        try:
            def up():
                if self.proc.poll() is not None:
                    raise AssertionError("node exited at start: " + self.log_text())
                try:
                    return probe.stats()
                except jobnet.JobnetError:
                    return None
            wait_for(up, what="the node to answer stats")
        except BaseException:
            self.stop()  # no node outlives a test that could not start it
            raise
        finally:
            probe.close()

    def log_text(self):
        self.log.flush()
        with open(os.path.join(self.dir, "node.log")) as f:
            return f.read()[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
