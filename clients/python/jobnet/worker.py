"""jobnet.Worker: serve job types from a Python process (docs/protocol.md "External workers").

The worker registers with a node for its types and capacity, leases jobs with a long poll, runs
each in a thread, and reports the result (or the exception's text as the failure). A thread
heartbeats meanwhile: a worker silent past its lease (killed, stopped, cut off) loses its jobs
to other workers, and its late results are then refused by the node (fencing).
"""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from . import _wire as w
from . import errors
from .client import connection_keys, default_endpoints

log = logging.getLogger("jobnet.worker")

PROGRESS_INTERVAL = 0.2  # seconds: the node applies at most 5 updates a second per job
LEASE_MS_DEFAULT = 10000


class Job:
    """One leased run of a job, as the handler sees it."""

    def __init__(self, worker, item, worker_id):
        self._worker = worker
        self._worker_id = worker_id  # the registration that holds the lease
        self.id = item["id"]
        self.type = item["type"]
        self.payload = item.get("payload")
        # A job submitted with depends_on: its parents' results, {parent job id: result}.
        self.parents = dict(item.get("parents") or {})
        self.queue = item.get("queue", "")
        self.priority = item.get("priority", 0)
        self.attempt = item.get("attempt", 0)
        self.timeout_ms = item.get("timeout_ms", 0)
        self.lease = item["lease"]
        self._lost = threading.Event()
        self._progress_at = 0.0

    @property
    def cancelled(self):
        """True once the node no longer counts this run: cancelled, timed out, or lost with the
        worker's lease. A long handler should check it and give up: its result will be refused."""
        return self._lost.is_set()

    def progress(self, pct, message=""):
        """Reports progress, 0..100 and a short message (shown by `jobnet status` and
        `jobnet wait`). Calls more often than 5 a second are dropped here. Never raises."""
        now = time.monotonic()
        if now - self._progress_at < PROGRESS_INTERVAL:
            return
        self._progress_at = now
        self._worker._progress(self, max(0, min(100, int(pct))), str(message)[:256])

    def __repr__(self):
        return "Job(%s, %s, attempt %d)" % (self.id, self.type, self.attempt)


class Worker:
    """Serves `types` with up to `capacity` jobs at once. The constructor registers with the
    first node of `endpoints` that answers (so jobs of these types are accepted from then on);
    run(handler) serves until stop(). `lease_ms`: how long the worker may be silent before the
    node gives its jobs to others (it heartbeats three times per lease)."""

    def __init__(self, endpoints=None, types=(), capacity=1, name=None, lease_ms=LEASE_MS_DEFAULT,
                 poll_ms=None, request_timeout=w.REQUEST_TIMEOUT_DEFAULT, key_file=None,
                 server_keys=None, cluster=None):
        if isinstance(types, str):
            types = [types]
        self.types = list(types)
        self.capacity = int(capacity)
        self.name = name or ""
        self.lease_ms = int(lease_ms)
        self.poll_ms = int(poll_ms if poll_ms is not None else min(2000, max(100, self.lease_ms // 2)))
        endpoints, key, keys = connection_keys(endpoints, key_file, server_keys, cluster)
        # Results, progress and heartbeats share one connection; the long poll has its own.
        # Both always talk to the node the worker registered with.
        self._ctl = w.Connection(endpoints, request_timeout, failover=True, key=key,
                                 server_keys=keys)
        self._poll = w.Connection(endpoints, request_timeout, failover=False, key=key,
                                  server_keys=keys)
        self._lock = threading.Lock()
        self._register_lock = threading.Lock()
        self._slot_free = threading.Condition(self._lock)
        self._running = {}  # lease -> Job
        self._stop = threading.Event()
        self._beat_stop = threading.Event()  # heartbeats go on until the last handler reported
        self._done = threading.Event()
        self._done.set()
        self.worker_id = None
        self.node = None
        # Figures: runs completed and failed, and results the node refused (fenced).
        self.completed = 0
        self.failed = 0
        self.refused = 0
        self._register()

    # ---- registration ----

    def _register(self):
        body = w.expect(self._ctl.call(w.WORKER_REGISTER, {
            "name": self.name, "types": self.types, "capacity": self.capacity,
            "lease_ms": self.lease_ms}), w.WORKER_REGISTERED)
        old = self.worker_id
        self.worker_id = body["worker"]
        self.node = body.get("node", "")
        self.lease_ms = body.get("lease_ms", self.lease_ms) or self.lease_ms
        self._poll.use_endpoint(self._ctl.endpoint)
        if old is not None:
            log.warning("worker re-registered on %s as %d (was %s): runs of the old "
                        "registration are lost", self.node, self.worker_id, old)
            with self._lock:
                for job in self._running.values():
                    job._lost.set()

    # ---- serving ----

    def run(self, handler):
        """Serves jobs until stop(): each leased job runs `handler(job)` in a thread; its return
        value (any msgpack-able value) is the result; an exception fails the attempt with its
        text. Returns after stop(), once running handlers have finished."""
        self._stop.clear()
        self._beat_stop.clear()
        self._done.clear()
        if self.worker_id is None:  # run again after a stop
            self._register()
        beat = threading.Thread(target=self._heartbeat_loop, name="jobnet-heartbeat", daemon=True)
        beat.start()
        pool = ThreadPoolExecutor(max_workers=self.capacity, thread_name_prefix="jobnet-job")
        try:
            while not self._stop.is_set():
                with self._lock:
                    while len(self._running) >= self.capacity and not self._stop.is_set():
                        self._slot_free.wait(0.5)
                    free = self.capacity - len(self._running)
                if self._stop.is_set():
                    break
                polled_as = self.worker_id
                try:
                    body = w.expect(self._poll.call(
                        w.WORKER_POLL, {"worker": polled_as, "wait_ms": self.poll_ms,
                                        "max": free},
                        extra_timeout=self.poll_ms / 1000.0), w.WORKER_JOBS)
                except errors.NotFound:
                    self._reregister(polled_as)
                    continue
                except (errors.Unavailable, errors.Timeout, errors.Draining,
                        errors.StorageFull, errors.Overloaded) as e:
                    log.warning("poll failed (%s); trying again", e)
                    if isinstance(e, errors.Unavailable):
                        self._reregister(polled_as)
                    else:
                        self._stop.wait(0.5)
                    continue
                for item in body.get("jobs", []):
                    job = Job(self, item, polled_as)
                    with self._lock:
                        self._running[job.lease] = job
                    pool.submit(self._run_one, handler, job)
        finally:
            pool.shutdown(wait=True)
            self._stop.set()
            self._beat_stop.set()
            beat.join()
            self._unregister()
            self._done.set()

    def stop(self, timeout=None):
        """Stops serving: no new jobs are leased; running handlers finish and report; the worker
        unregisters. Blocks until run() has returned (up to `timeout` seconds, None: no limit)
        when run() is active."""
        self._stop.set()
        with self._lock:
            self._slot_free.notify_all()
        return self._done.wait(timeout)

    def close(self):
        """Unregisters (if run() has not) and closes the sockets."""
        self._stop.set()
        if self._done.is_set():
            self._unregister()
        self._ctl.close()
        self._poll.close()

    def _unregister(self):
        with self._register_lock:
            if self.worker_id is None:
                return
            try:
                self._ctl.call(w.WORKER_UNREGISTER, {"worker": self.worker_id})
            except errors.JobnetError as e:
                log.info("unregister: %s", e)
            self.worker_id = None

    def _reregister(self, stale_id):
        """Registers again unless another thread already did since `stale_id` was refused."""
        while not self._stop.is_set():
            try:
                with self._register_lock:
                    if self.worker_id == stale_id:
                        self._register()
                return
            except errors.JobnetError as e:
                log.warning("register failed (%s); trying again", e)
                self._stop.wait(0.5)

    def _run_one(self, handler, job):
        try:
            try:
                result = handler(job)
            except Exception as e:  # the handler's failure is the attempt's
                text = str(e) or type(e).__name__
                self._report(job, w.WORKER_FAIL, {"error": text[:4096]})
                with self._lock:
                    self.failed += 1
                return
            try:
                w.check_payload(result, "the result")
            except errors.InvalidArgument as e:  # the node would refuse it: fail the attempt
                self._report(job, w.WORKER_FAIL, {"error": str(e)})
                with self._lock:
                    self.failed += 1
                return
            self._report(job, w.WORKER_COMPLETE, {"result": result})
        finally:
            with self._lock:
                self._running.pop(job.lease, None)
                self._slot_free.notify_all()

    def _report(self, job, kind, fields):
        body = {"worker": job._worker_id, "id": job.id, "lease": job.lease}
        body.update(fields)
        delay = 0.1
        for attempt in range(12):  # a busy or full node: retry a while, within the lease
            try:
                self._ctl.call(kind, body)
                if kind == w.WORKER_COMPLETE:
                    with self._lock:
                        self.completed += 1
                return
            except (errors.Conflict, errors.NotFound) as e:
                with self._lock:
                    self.refused += 1
                job._lost.set()
                log.warning("result of job %s (lease %d) refused: %s", job.id, job.lease, e)
                return
            except (errors.Overloaded, errors.StorageFull, errors.Timeout,
                    errors.Unavailable) as e:
                log.warning("reporting job %s failed (%s); retrying", job.id, e)
                time.sleep(delay)
                delay = min(2.0, delay * 2)
            except errors.JobnetError as e:
                log.error("reporting job %s: %s", job.id, e)
                return

    def _progress(self, job, pct, message):
        if job.cancelled:
            return
        try:
            self._ctl.call(w.WORKER_PROGRESS, {"worker": job._worker_id, "id": job.id,
                                               "lease": job.lease, "pct": pct,
                                               "message": message})
        except (errors.Conflict, errors.NotFound):
            job._lost.set()
        except errors.JobnetError as e:
            log.info("progress of job %s: %s", job.id, e)

    def _heartbeat_loop(self):
        interval = self.lease_ms / 3000.0
        while not self._beat_stop.wait(interval):
            with self._lock:
                leases = list(self._running)
            beat_as = self.worker_id
            try:
                body = w.expect(self._ctl.call(w.WORKER_HEARTBEAT, {"worker": beat_as,
                                                                    "leases": leases}),
                                w.WORKER_BEAT)
            except errors.NotFound:
                # The node dropped this worker (silent past its lease, or restarted): its runs
                # are lost; register again so the poll loop goes on.
                self._reregister(beat_as)
                continue
            except errors.JobnetError as e:
                log.warning("heartbeat failed: %s", e)
                continue
            lost = set(body.get("lost", []))
            if lost:
                with self._lock:
                    for lease in lost:
                        job = self._running.get(lease)
                        if job is not None:
                            job._lost.set()
