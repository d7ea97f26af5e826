"""jobnet.Worker against a live node: a Python worker serves a type the node has no handler
for; a handler's exception fails the attempt with its text, as does a result nested past the
payload bound; progress from a Python worker is
seen mid-run, and `jobnet workers` lists the worker with that job; a worker SIGKILLed mid-job loses the job to another worker, which runs it again;
a worker SIGSTOPped past its lease and resumed has its late completion refused (fencing), and
the rerun's result stands. Method: a real `jobnet node`, workers in threads of this process or
in child processes (to kill and stop them), conditions awaited with bounded polls."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import unittest

import jobnet
from nodeproc import Node, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(HERE)

# A worker in a child process: prints "ready" once registered and "started ID ATTEMPT" when its
# handler starts; the handler then sleeps `seconds` and returns "by-child". On SIGTERM it stops
# and prints its figures as JSON.
CHILD = r"""
import json, signal, sys, threading, time
import jobnet
endpoint, job_type, lease_ms, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
w = jobnet.Worker([endpoint], types=[job_type], capacity=1, lease_ms=lease_ms, name="child")
def handler(job):
    print("started", job.id, job.attempt, flush=True)
    time.sleep(seconds)
    return "by-child"
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
t = threading.Thread(target=w.run, args=(handler,), daemon=True)
t.start()
print("ready", w.worker_id, flush=True)
while not stop.wait(0.05):
    pass
w.stop(timeout=20)
print(json.dumps({"completed": w.completed, "refused": w.refused}), flush=True)
"""


class Child:
    """A worker process; its stdout lines are read into a queue."""

    def __init__(self, endpoint, job_type, lease_ms, seconds):
        env = dict(os.environ, PYTHONPATH=PACKAGE)
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, endpoint, job_type,
                                      str(lease_ms), str(seconds)],
                                     stdout=subprocess.PIPE, text=True, env=env)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def expect(self, prefix, timeout=20):
        while True:
            line = self.lines.get(timeout=timeout)
            if line.startswith(prefix):
                return line

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


class WorkerTest(unittest.TestCase):
    def setUp(self):
        self.node = Node(workers=1)
        self.c = jobnet.Client([self.node.endpoint])
        self.workers = []
        self.children = []

    def tearDown(self):
        for w in self.workers:
            w.stop(timeout=20)
            w.close()
        for ch in self.children:
            ch.kill()
        self.c.close()
        self.node.stop()

    def start_worker(self, handler, types, **kw):
        w = jobnet.Worker([self.node.endpoint], types=types, **kw)
        threading.Thread(target=w.run, args=(handler,), daemon=True).start()
        self.workers.append(w)
        return w

    def test_a_python_worker_runs_a_type_the_node_has_no_handler_for(self):
        with self.assertRaises(jobnet.InvalidArgument):
            self.c.submit("py_upper", "abc")  # nobody serves it yet

        def handler(job):
            if job.payload == "boom":
                raise ValueError("no boom today")
            return {"upper": job.payload.upper(), "type": job.type, "attempt": job.attempt}

        self.start_worker(handler, ["py_upper"], capacity=3)
        ids = [self.c.submit("py_upper", "abc%d" % i) for i in range(12)]
        jobs = self.c.wait(ids, timeout=30)
        self.assertEqual([j["result"]["upper"] for j in jobs], ["ABC%d" % i for i in range(12)])
        self.assertTrue(all(j["result"]["type"] == "py_upper" for j in jobs))
        failed = self.c.wait(self.c.submit("py_upper", "boom", max_attempts=1), timeout=30)
        self.assertEqual(failed["state"], "dead")
        self.assertIn("no boom today", failed["error"])
        self.assertEqual(self.c.stats()["counters"]["external_leased"], 13)
        # A result nested past the bound every reader holds fails the attempt, with a reason.
        self.start_worker(lambda job: [[[[job.payload]]]], ["py_nest"])
        deep = {"k": "v"}
        for _ in range(jobnet.PAYLOAD_DEPTH_MAX - 1):
            deep = [deep]
        failed = self.c.wait(self.c.submit("py_nest", deep, max_attempts=1), timeout=30)
        self.assertEqual(failed["state"], "dead")
        self.assertIn("nests deeper than", failed["error"])

    def test_a_flow_hands_its_parents_results_to_a_python_worker(self):
        # Two echo parents, a Python child that sums what they returned, and a collect job
        # after it: submitted whole in one request, by name.
        self.start_worker(lambda job: sum(job.parents.values()) if job.parents else -1,
                          ["py_sum"])
        flow = self.c.submit_flow({
            "a": {"type": "echo", "payload": 20},
            "b": {"type": "echo", "payload": 22},
            "sum": {"type": "py_sum", "after": ["a", "b"]},
            "all": {"type": "collect", "after": ["a", "sum"]},
        })
        ids = flow["ids"]
        self.assertEqual(sorted(ids), ["a", "all", "b", "sum"])
        self.assertEqual(flow["flow"], min(ids.values(), key=lambda i: int(i.split("-")[1])))
        done = self.c.wait(ids["all"], timeout=30)
        self.assertEqual(done["state"], "succeeded")
        self.assertEqual(done["result"], [20, 42])
        child = self.c.status(ids["sum"])
        self.assertEqual(child["depends_on"], [ids["a"], ids["b"]])
        self.assertEqual(child["flow_name"], "sum")
        # A flow with a cycle is refused whole.
        with self.assertRaises(jobnet.InvalidArgument):
            self.c.submit_flow({"x": {"type": "echo", "after": ["y"]},
                                "y": {"type": "echo", "after": ["x"]}})

    def test_progress_from_a_python_worker_is_seen_mid_run(self):
        release = threading.Event()

        def handler(job):
            job.progress(50, "halfway there")
            release.wait(20)
            return "done"

        self.start_worker(handler, ["py_slow"])
        job_id = self.c.submit("py_slow", None)
        mid = wait_for(lambda: (lambda j: j if j["progress"] == 50 else None)(self.c.status(job_id)),
                       what="progress 50")
        self.assertEqual(mid["state"], "running")
        self.assertEqual(mid["progress_message"], "halfway there")
        # `jobnet workers` lists the worker beside the node's slots, with the job it runs.
        out = subprocess.run([self.node.bin, "workers", "--json", "--to", self.node.endpoint],
                             capture_output=True, text=True, timeout=20, check=True).stdout
        lines = [json.loads(line) for line in out.splitlines()]
        external = [w for w in lines if w.get("kind") == "external"]
        self.assertEqual(len(lines) - len(external), 1)  # the node's one slot
        self.assertEqual(len(external), 1, out)
        self.assertEqual((external[0]["types"], external[0]["running"], external[0]["jobs"],
                          external[0]["capacity"], external[0]["polling"]),
                         (["py_slow"], 1, [job_id], 1, False))
        # The node's event stream has the report too, between the run's start and its end.
        report = wait_for(lambda: next((ev for ev in self.c.events(job=job_id, follow=False)
                                        if ev.get("event") == "progress"), None),
                          what="a progress event")
        self.assertEqual((report["state"], report["progress"], report["progress_message"]),
                         ("running", 50, "halfway there"))
        release.set()
        done = self.c.wait(job_id, timeout=20)
        self.assertEqual(done["result"], "done")
        self.assertEqual(done["progress"], 100)

    def test_a_worker_killed_mid_job_loses_it_to_another_worker(self):
        a = Child(self.node.endpoint, "py_job", lease_ms=600, seconds=60)
        self.children.append(a)
        a.expect("ready")
        job_id = self.c.submit("py_job", "x")
        self.assertEqual(a.expect("started").split()[1:], [job_id, "1"])
        self.start_worker(lambda job: "by-b attempt %d" % job.attempt, ["py_job"])
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(timeout=10)
        done = self.c.wait(job_id, timeout=30)
        self.assertEqual(done["state"], "succeeded")
        self.assertEqual(done["result"], "by-b attempt 2")
        counters = self.c.stats()["counters"]
        self.assertEqual(counters["external_expired"], 1)
        self.assertEqual(counters["external_runs_lost"], 1)

    def test_a_worker_stopped_past_its_lease_has_its_late_completion_refused(self):
        a = Child(self.node.endpoint, "py_job", lease_ms=500, seconds=1.5)
        self.children.append(a)
        a.expect("ready")
        job_id = self.c.submit("py_job", "x")
        a.expect("started")
        a.proc.send_signal(signal.SIGSTOP)
        self.start_worker(lambda job: "by-b", ["py_job"])
        done = self.c.wait(job_id, timeout=30)  # rerun on b once a's lease is gone
        self.assertEqual(done["result"], "by-b")
        self.assertEqual(done["attempts"], 2)
        a.proc.send_signal(signal.SIGCONT)
        # a's handler ends after its sleep; the node refuses its result.
        wait_for(lambda: self.c.stats()["counters"].get("external_stale_results", 0) >= 1,
                 what="the late completion to be refused")
        a.proc.send_signal(signal.SIGTERM)
        figures = json.loads(a.expect("{"))
        self.assertEqual(figures["refused"], 1)
        self.assertEqual(figures["completed"], 0)
        self.assertEqual(self.c.status(job_id)["result"], "by-b")


if __name__ == "__main__":
    unittest.main()
