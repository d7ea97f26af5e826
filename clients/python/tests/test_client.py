"""jobnet.Client against a live node: every operation round-trips; errors are raised with the
protocol's stable code; failover skips an endpoint nobody listens on; progress of the
simulate_backup handler is seen while it runs. Method: a real `jobnet node` process
(tests/nodeproc.py), the client over ZeroMQ, conditions awaited with bounded polls."""

import os
import shutil
import subprocess
import tempfile
import unittest

import jobnet
from nodeproc import Node, free_port, wait_for


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node(workers=2)
        cls.c = jobnet.Client([cls.node.endpoint])

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.node.stop()

    def test_submit_wait_status_list_round_trip(self):
        payload = {"hello": "py", "n": [1, 2.5, None, True], "b": b"\x00\x01"}
        job_id = self.c.submit("echo", payload, queue="pyq", priority=7, max_attempts=2,
                               label="from python")
        self.assertIsInstance(job_id, str)
        self.assertTrue(job_id.startswith("n1-"))
        done = self.c.wait(job_id, timeout=20)
        self.assertEqual(done["state"], "succeeded")
        self.assertEqual(done["result"], payload)
        self.assertEqual(done["progress"], 100)
        st = self.c.status(job_id, history=True)
        self.assertEqual(st["queue"], "pyq")
        self.assertEqual(st["priority"], 7)
        self.assertEqual(st["max_attempts"], 2)
        self.assertEqual(st["label"], "from python")
        self.assertEqual(len(st["history"]), 1)
        listed = self.c.list(queue="pyq", limit=10)
        self.assertIn(job_id, [j["id"] for j in listed])
        self.assertEqual(self.c.list(queue="pyq", after=listed[-1]["id"]), [])
        # A key makes a resubmit return the same job.
        k1 = self.c.submit("echo", 1, key="py-key-1")
        self.assertEqual(self.c.submit("echo", 2, key="py-key-1"), k1)

    def test_events_replay_and_follow(self):
        job_id = self.c.submit("echo", "events", queue="evq")
        self.c.wait(job_id, timeout=20)
        seen = [e for e in self.c.events(since=0, queue="evq", follow=False)]
        states = [e["state"] for e in seen if e.get("id") == job_id]
        self.assertEqual(states[-1], "succeeded", seen)
        self.assertTrue(all("seq" in e for e in seen))
        last = seen[-1]["seq"]
        # Following from the newest seq: the next job's events arrive live.
        stream = self.c.events(since=last, queue="evq", wait=5)
        second = self.c.submit("echo", "live", queue="evq")
        live = []
        for ev in stream:
            live.append(ev)
            if ev.get("id") == second and ev.get("state") == "succeeded":
                break
        stream.close()
        self.assertTrue(all(e["seq"] > last for e in live))
        self.assertEqual(live[-1]["id"], second)

    def test_batch_wait_many_cancel_retry(self):
        items = self.c.submit_batch([("echo", "a"), {"type": "echo", "payload": "b", "queue": "q2"},
                                     ("no_such_type", 1)])
        self.assertEqual(len(items), 3)
        self.assertIsInstance(items[2], jobnet.InvalidArgument)
        self.assertEqual(items[2].code, 3)
        jobs = self.c.wait(items[:2], timeout=20)
        self.assertEqual([j["result"] for j in jobs], ["a", "b"])
        delayed = self.c.submit("echo", "later", delay_ms=600000)
        self.assertEqual(self.c.status(delayed)["state"], "delayed")
        self.assertEqual(self.c.cancel(delayed)["state"], "cancelled")
        with self.assertRaises(jobnet.Conflict) as cm:
            self.c.cancel(delayed)
        self.assertEqual(cm.exception.code, 9)
        self.assertEqual(cm.exception.code_name, "conflict")
        self.assertEqual(self.c.retry(delayed)["state"], "queued")
        self.assertEqual(self.c.wait(delayed, timeout=20)["result"], "later")

    def test_stats_types_and_errors_carry_their_codes(self):
        stats = self.c.stats()
        self.assertEqual(stats["node"], "n1")
        self.assertIn("succeeded", stats["jobs"])
        types = [h["type"] for h in self.c.types()]
        self.assertIn("echo", types)
        self.assertIn("simulate_backup", types)
        with self.assertRaises(jobnet.NotFound) as cm:
            self.c.status("n1-999999")
        self.assertEqual(cm.exception.code, 1)
        with self.assertRaises(jobnet.InvalidArgument):
            self.c.submit("no_such_type", 1)
        with self.assertRaises(jobnet.InvalidArgument):
            self.c.submit("sleep", "not a number")  # refused at submit by its payload check
        with self.assertRaises(TypeError):
            self.c.submit("echo", 1, no_such_option=1)
        slow = self.c.submit("sleep", 5000)
        with self.assertRaises(jobnet.Timeout) as cm:
            self.c.wait(slow, timeout=0.2)
        self.assertEqual(cm.exception.code_name, "timeout")
        self.c.cancel(slow)

    def test_one_nesting_bound_for_payloads_and_replies(self):
        def nest(n):
            v = "leaf"
            for i in range(n):
                v = [v] if i % 2 else {"k": v}
            return v
        at, over = nest(jobnet.PAYLOAD_DEPTH_MAX), nest(jobnet.PAYLOAD_DEPTH_MAX + 1)
        # The deepest payload runs, and its job can be listed and shown like any other.
        job_id = self.c.submit("echo", at, queue="deepq")
        self.assertEqual(self.c.wait(job_id, timeout=20)["result"], at)
        self.assertEqual([j["result"] for j in self.c.list(queue="deepq")], [at])
        # One level more is refused before anything is sent; in a batch it fails only itself.
        with self.assertRaises(jobnet.InvalidArgument):
            self.c.submit("echo", over)
        with self.assertRaises(jobnet.InvalidArgument):
            self.c.submit("echo", nest(100000))  # far past what msgpack itself could pack
        items = self.c.submit_batch([("echo", 1), ("echo", over), ("echo", at)])
        self.assertIsInstance(items[1], jobnet.InvalidArgument)
        self.assertEqual([j["result"] for j in self.c.wait([items[0], items[2]], timeout=20)],
                         [1, at])
        # Replies are read within the node's own decoder bounds.
        from jobnet import _wire
        deep = _wire.msgpack.packb([1, 64, 1, {"x": nest(_wire.DEPTH_MAX)}])
        for bad in (deep, b"\x94" + b"\x91" * 5000, b"\xdd\xff\xff\xff\xff", b"\xc1"):
            with self.assertRaises(jobnet.Corruption):
                _wire.unpack(bad)
        self.assertEqual(_wire.depth(nest(5), 100), 5)
        self.assertEqual(_wire.depth(nest(50), 10), 11)
        # A raw frame nested far past the node's own bound: answered at once, to its corr_id.
        import zmq
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.node.endpoint)
        try:
            pk = _wire.msgpack.packb
            frame = (b"\x94\x01\x01" + pk(4242) + b"\x82" + pk("type") + pk("echo") + pk("payload") +
                     b"\x91" * 100000 + b"\xc0")
            sock.send(frame)
            self.assertTrue(sock.poll(5000), "no answer to a frame nested 100000 deep")
            kind, corr, body = _wire.unpack(sock.recv())
            self.assertEqual((kind, corr, body["code"]), (_wire.ERROR, 4242, 3), body)
        finally:
            sock.close()

    def test_failover_skips_an_endpoint_nobody_listens_on(self):
        dead = "tcp://127.0.0.1:%d" % free_port()
        with jobnet.Client([dead, self.node.endpoint], request_timeout=3.0) as c:
            job_id = c.submit("echo", "via failover")
            self.assertEqual(c.endpoint, self.node.endpoint)
            self.assertEqual(c.wait(job_id, timeout=20)["result"], "via failover")
        with jobnet.Client([dead], request_timeout=3.0) as c:
            with self.assertRaises(jobnet.Unavailable):
                c.stats()

    def test_clients_start_at_a_random_endpoint_unless_spread_is_off(self):
        # Two endpoints nobody listens on: a client connects lazily, so where it starts shows.
        eps = ["tcp://127.0.0.1:%d" % free_port() for _ in range(2)]
        starts = set()
        for _ in range(40):  # all 40 at one of the two by chance: 2 in 2^40
            with jobnet.Client(eps, request_timeout=1.0) as c:
                starts.add(c.endpoint)
        self.assertEqual(starts, set(eps))
        for _ in range(10):
            with jobnet.Client(eps, request_timeout=1.0, spread=False) as c:
                self.assertEqual(c.endpoint, eps[0])
        # The failover walk still reaches the live node wherever it starts.
        for _ in range(4):
            with jobnet.Client([eps[0], self.node.endpoint, eps[1]], request_timeout=3.0) as c:
                self.assertEqual(c.stats()["node"], "n1")

    def test_simulate_backup_progress_is_seen_mid_run(self):
        job_id = self.c.submit("simulate_backup", {"bytes": 40 << 20, "chunk_bytes": 1 << 20,
                                                   "chunk_ms": 50})
        mid = wait_for(lambda: (lambda j: j if j["state"] == "running" and
                                0 < j["progress"] < 100 else None)(self.c.status(job_id)),
                       what="progress between 0 and 100")
        self.assertIn("MiB", mid["progress_message"])
        done = self.c.wait(job_id, timeout=30)
        self.assertEqual(done["state"], "succeeded")
        self.assertEqual(done["result"]["bytes"], 40 << 20)
        self.assertEqual(done["progress"], 100)

    def test_simulate_backup_copies_a_tree_and_honours_cancel(self):
        src = os.path.join(self.node.dir, "tree")
        os.makedirs(os.path.join(src, "sub"))
        for name, size in (("a.bin", 5000), ("sub/b.bin", 70000)):
            with open(os.path.join(src, name), "wb") as f:
                f.write(os.urandom(size))
        done = self.c.wait(self.c.submit("simulate_backup", {"path": src, "copy": True,
                                                             "chunk_bytes": 4096}), timeout=30)
        self.assertEqual(done["state"], "succeeded", done["error"])
        self.assertEqual(done["result"]["files"], 2)
        self.assertEqual(done["result"]["bytes"], 75000)
        # The copies are removed when the run ends.
        tmp = os.path.join(self.node.data, "backup-tmp")
        self.assertEqual(os.listdir(tmp) if os.path.isdir(tmp) else [], [])
        # A long one stops when cancelled.
        long_id = self.c.submit("simulate_backup", {"bytes": 1 << 30, "chunk_ms": 100})
        wait_for(lambda: self.c.status(long_id)["progress_message"], what="the backup to start")
        self.assertEqual(self.c.cancel(long_id)["state"], "cancelled")
        wait_for(lambda: self.c.stats()["busy"] == 0, what="the cancelled run to stop")


class KeysTest(unittest.TestCase):
    """A node with principals (docs/operations.md §21): the client takes a key file and the
    node's public key; a read key reads and its submit is PermissionDenied; no key is refused."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="jobnet-py-keys-")
        self.bin = os.environ.get("JOBNET_BIN", "jobnet")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def key(self, name):
        path = os.path.join(self.dir, name + ".key")
        out = subprocess.run([self.bin, "keys", "new", path], capture_output=True, text=True,
                             check=True).stdout
        return path, out.split()[-1]  # the public key is the last word

    def test_keys_and_scopes(self):
        node_key, node_pub = self.key("node")
        writer, writer_pub = self.key("writer")
        reader, reader_pub = self.key("reader")
        stranger, _ = self.key("stranger")
        principals = os.path.join(self.dir, "principals.toml")
        with open(principals, "w") as f:
            for name, pub, scopes in (("writer", writer_pub, '"read", "write"'),
                                      ("reader", reader_pub, '"read"')):
                f.write('[[principals]]\nname = "%s"\nkey = "%s"\nscopes = [%s]\n'
                        % (name, pub, scopes))
        node = Node(extra=["--principals", principals, "--key-file", node_key],
                    key_file=writer, server_key=node_pub)
        try:
            keys = {node.endpoint: node_pub}
            with jobnet.Client([node.endpoint], key_file=writer, server_keys=keys) as c:
                job_id = c.submit("echo", "over curve")
                self.assertEqual(c.wait(job_id, timeout=20)["result"], "over curve")
            with jobnet.Client([node.endpoint], key_file=reader, server_keys=keys) as c:
                self.assertEqual(c.status(job_id)["state"], "succeeded")
                with self.assertRaises(jobnet.PermissionDenied) as e:
                    c.submit("echo", "x")
                self.assertIn("needs scope write", str(e.exception))
            with jobnet.Client([node.endpoint], key_file=stranger, server_keys=keys,
                               request_timeout=3.0) as c:
                with self.assertRaises(jobnet.PermissionDenied) as e:
                    c.stats()
                self.assertIn("refused this client's key", str(e.exception))
            with jobnet.Client([node.endpoint], request_timeout=3.0) as c:
                with self.assertRaises(jobnet.PermissionDenied):
                    c.stats()
        finally:
            node.stop()


if __name__ == "__main__":
    unittest.main()
