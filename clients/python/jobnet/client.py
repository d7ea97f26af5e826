"""jobnet.Client: submit jobs to a jobnet cluster and follow them (docs/protocol.md §4, §12)."""

import os
import time
import uuid

from . import _wire as w
from . import errors

# The job-spec fields a submit takes besides type and payload (docs/protocol.md §4.1).
SPEC_OPTIONS = ("queue", "priority", "run_at_ms", "delay_ms", "max_attempts", "backoff_ms",
                "timeout_ms", "key", "callback", "reuse", "label", "depends_on",
                "on_parent_failure")


def _job(body):
    """A job map as the node sent it, with the fields an older node leaves out at their
    defaults (docs/protocol.md §5.2: absent = default)."""
    body.setdefault("progress", 0)
    body.setdefault("progress_message", "")
    return body


def default_endpoints():
    """$JOBNET_ENDPOINTS (comma-separated) if set, else tcp://127.0.0.1:7701."""
    env = os.environ.get("JOBNET_ENDPOINTS", "")
    eps = [e.strip() for e in env.split(",") if e.strip()]
    return eps or ["tcp://127.0.0.1:7701"]


def connection_keys(endpoints, key_file=None, server_keys=None, cluster=None):
    """(endpoints, key or None, server_keys) from the arguments and the environment."""
    keys = {}
    cluster = cluster or os.environ.get("JOBNET_CLUSTER")
    if cluster:
        cluster_endpoints, keys = w.read_cluster_file(cluster)
        if not endpoints and not os.environ.get("JOBNET_ENDPOINTS") and cluster_endpoints:
            endpoints = cluster_endpoints
    keys.update(server_keys or {})
    key_file = key_file or os.environ.get("JOBNET_KEY")
    key = w.read_key_file(key_file) if key_file else None
    return endpoints or default_endpoints(), key, keys


def _spec(type, payload, opts, auto_key):
    unknown = set(opts) - set(SPEC_OPTIONS)
    if unknown:
        raise TypeError("unknown job option(s): %s (known: %s)" % (", ".join(sorted(unknown)),
                                                                  ", ".join(SPEC_OPTIONS)))
    w.check_payload(payload)
    spec = {"type": type, "payload": payload}
    spec.update({k: v for k, v in opts.items() if v is not None})
    if auto_key and not spec.get("key"):
        # As the C++ client: a submit retried on another try never makes a second job on the
        # same node.
        spec["key"] = "auto-" + uuid.uuid4().hex
    return spec


class Client:
    """A client of one jobnet cluster, talking to one of `endpoints` (a random one at first, so
    a cluster's clients spread their jobs over its nodes; `spread=False`: the first) and
    failing over to the next when a node does not answer (refused or lost connection at once,
    a silent node after `request_timeout` seconds). Errors are raised as jobnet.JobnetError
    subclasses carrying the protocol's code (``e.code``, ``e.code_name``). Jobs are returned as
    dicts with the keys of docs/protocol.md §5.2 (``id``, ``state``, ``result``, ``error``,
    ``progress``...). Thread-safe: calls from several threads are serialized."""

    def __init__(self, endpoints=None, request_timeout=w.REQUEST_TIMEOUT_DEFAULT, failover=True,
                 auto_key=True, key_file=None, server_keys=None, cluster=None, spread=True):
        """With a node that has principals (docs/operations.md §21): `key_file` (default
        $JOBNET_KEY) is this client's CURVE key file, and `server_keys` ({endpoint: Z85}) or
        `cluster` (a cluster.json; default $JOBNET_CLUSTER, whose endpoints are used when none
        are given) give the nodes' public keys."""
        endpoints, key, server_keys = connection_keys(endpoints, key_file, server_keys, cluster)
        self._conn = w.Connection(endpoints, request_timeout, failover, key=key,
                                  server_keys=server_keys, spread=spread)
        self._auto_key = auto_key

    @property
    def endpoint(self):
        """The endpoint this client talks to now."""
        return self._conn.endpoint

    def close(self):
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def submit(self, type, payload=None, **opts):
        """Submits one job and returns its id. `payload` is any msgpack-able value nesting at
        most 32 lists/dicts (deeper: jobnet.InvalidArgument, not sent); `opts` are job-spec
        fields: queue, priority, run_at_ms, delay_ms, max_attempts, backoff_ms, timeout_ms, key
        (a submit without a key gets a random one), callback (a URL on the node's allow-list),
        reuse (True: answer from an identical job's result), label (free text, shown in
        status), depends_on (a list of job ids, of any node: the job waits, in state
        "waiting", until they all succeeded) and on_parent_failure ("cancel", the default: a
        parent that ends dead or cancelled cancels this job; "run": it runs anyway)."""
        body = w.expect(self._conn.call(w.SUBMIT, _spec(type, payload, opts, self._auto_key)),
                        w.ACCEPTED)
        return body["id"]

    def submit_batch(self, specs):
        """Submits up to 1000 jobs in one request (one fsync on the node). Each spec is a dict
        {"type", "payload", and job options} or a (type, payload) pair. Returns one entry per
        spec, in order: the job id, or the JobnetError that refused that spec (not raised: the
        other specs are unaffected)."""
        out = []
        refused = {}  # index -> the error of a spec refused here (its payload nests too deep)
        for i, s in enumerate(specs):
            try:
                if isinstance(s, dict):
                    s = dict(s)
                    out.append(_spec(s.pop("type"), s.pop("payload", None), s, self._auto_key))
                else:
                    t, p = s
                    out.append(_spec(t, p, {}, self._auto_key))
            except errors.InvalidArgument as e:
                refused[i] = e  # fails only itself, as the node's own per-spec errors
        sent = []
        if out:
            body = w.expect(self._conn.call(w.SUBMIT_BATCH, {"specs": out}), w.BATCH_ACCEPTED)
            items = body.get("items", [])
            if len(items) != len(out):
                raise errors.Corruption("batch reply has %d answers for %d specs" % (len(items),
                                                                                     len(out)))
            sent = [it["id"] if "id" in it else errors.error_for(it.get("code", 0),
                                                                 it.get("message", ""))
                    for it in items]
        answers = iter(sent)
        return [refused[i] if i in refused else next(answers) for i in range(len(specs))]

    def submit_flow(self, jobs):
        """Submits a whole graph of up to 1000 jobs at once (docs/protocol.md §23): `jobs` maps
        a name to a spec dict {"type", "payload", "after": [names of this flow's jobs it waits
        for], and job options (depends_on may name jobs that exist already)}. The node accepts
        all of them or none (one journal write, one fsync) and answers {"flow": id, "ids":
        {name: job id}}. Idempotency keys and reuse are not taken in a flow."""
        out = []
        for name, s in jobs.items():
            s = dict(s)
            after = list(s.pop("after", []))
            spec = _spec(s.pop("type"), s.pop("payload", None), s, auto_key=False)
            spec["name"] = name
            spec["after"] = after
            out.append(spec)
        body = w.expect(self._conn.call(w.SUBMIT_FLOW, {"jobs": out}), w.FLOW_ACCEPTED)
        return {"flow": body["flow"], "ids": dict(body.get("ids", {}))}

    def status(self, id, history=False):
        """The job as it is now (with history: its last attempts)."""
        body = {"id": id, "history": True} if history else {"id": id}
        return _job(w.expect(self._conn.call(w.STATUS, body), w.JOB))

    def wait(self, ids, timeout=30.0):
        """Blocks until the job (a str id) or every job (a list of ids) is final, and returns
        it (or them, in order). Raises jobnet.Timeout when `timeout` seconds pass first (None:
        no limit)."""
        if isinstance(ids, str):
            return self._wait_one(ids, None if timeout is None else time.monotonic() + timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        return [self._wait_one(i, deadline) for i in ids]

    def _wait_one(self, id, deadline):
        while True:
            # The node holds a wait up to an hour; longer waits are asked again.
            window = 30.0 if deadline is None else max(0.0, deadline - time.monotonic())
            window_ms = int(min(window * 1000, w.WAIT_TIMEOUT_MS_MAX))
            try:
                return _job(w.expect(self._conn.call(w.WAIT, {"id": id, "timeout_ms": window_ms},
                                                     extra_timeout=window_ms / 1000.0), w.JOB))
            except errors.Timeout as e:
                if deadline is not None and time.monotonic() >= deadline:
                    raise errors.Timeout("job %s is not finished after the wait's timeout (%s)"
                                         % (id, e.message))

    def list(self, state=None, queue=None, type=None, limit=100, after=None):
        """One page of this node's jobs in id order (pass the last id as `after` for the
        next page)."""
        body = {"limit": limit}
        for k, v in (("state", state), ("queue", queue), ("type", type), ("after", after)):
            if v:
                body[k] = v
        return [_job(j) for j in w.expect(self._conn.call(w.LIST, body), w.JOB_LIST)["jobs"]]

    def cancel(self, id):
        """Cancels a queued, delayed or running job; raises Conflict if it is final."""
        return _job(w.expect(self._conn.call(w.CANCEL, {"id": id}), w.JOB))

    def retry(self, id):
        """Re-queues a dead, failed or cancelled job with fresh attempts."""
        return _job(w.expect(self._conn.call(w.RETRY, {"id": id}), w.JOB))

    def stats(self):
        """The node's view: jobs by state, queues, counters, peers."""
        return w.expect(self._conn.call(w.STATS, {}), w.STATS_REPLY)

    def events(self, since=0, queue=None, job=None, follow=True, wait=15.0, max=500):
        """The node's job events after seq `since`, oldest first, as dicts (docs/protocol.md
        §17: ``seq``, ``id``, ``state``, ``queue``, ``type``, ``at``, ``attempt``, and ``node``
        and ``error`` when set; a running job's progress report has ``"event": "progress"``,
        ``progress`` and ``progress_message``). A generator: with `follow` it waits for new events (long polls of
        `wait` seconds) until closed; without, it stops at the newest event. Events are numbered
        per node, so it reads the node this client talks to and never fails over: a node that
        stops answering raises jobnet.Unavailable or jobnet.Timeout, and a reader resumes with the
        last seq it saw. When the node no longer holds the events right after `since` (trimmed,
        or `since` is ahead of it), it yields {"gap": True, "oldest": seq, "next": seq} first."""
        conn = w.Connection([self.endpoint], self._conn.request_timeout, failover=False)
        try:
            while True:
                body = {"since": since, "max": max, "wait_ms": int(wait * 1000) if follow else 0}
                if queue:
                    body["queue"] = queue
                if job:
                    body["job"] = job
                page = w.expect(conn.call(w.EVENTS, body, extra_timeout=wait if follow else 0.0),
                                w.EVENT_LIST)
                if page.get("gap"):
                    yield {"gap": True, "oldest": page.get("oldest"), "next": page.get("next")}
                for ev in page["events"]:
                    yield ev
                since = page["next"]
                if not follow and not page["events"]:
                    return
        finally:
            conn.close()

    def types(self):
        """The job handlers of the node: [{"type", "payload", "result"}]."""
        return w.expect(self._conn.call(w.TYPES, {}), w.TYPE_LIST)["handlers"]
