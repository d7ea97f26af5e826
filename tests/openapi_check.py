#!/usr/bin/env python3
"""Checks a real node's HTTP face against docs/openapi.yaml.

Starts `jobnet node --http` on free loopback ports, sends every operation of the spec a valid
request (and one the spec documents an error for, where it does), and checks each answer: the
status is one the spec lists for that operation, and the JSON body validates against its schema.
A documented route that is not served (404 where the spec lists none) fails; so does a field
renamed on either side, since objects list their required fields and forbid others.

  openapi_check.py --jobnet BIN --spec docs/openapi.yaml
  openapi_check.py --self-test --spec docs/openapi.yaml   # the validator alone, no node
Debian python3 + python3-yaml only.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

# The Python client from this tree (clients/python), for what HTTP cannot do: register an
# external worker. Imported where it is used, so the self-test needs no ZeroMQ.
CLIENTS_PYTHON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python")

# The subset of JSON Schema (OpenAPI 3.0 flavour) the spec may use. A keyword outside it fails
# the check, so the spec cannot quietly rely on something this validator ignores.
VALIDATING = {"$ref", "type", "nullable", "enum", "properties", "required",
              "additionalProperties", "items", "oneOf", "allOf", "minimum", "maximum",
              "minItems", "maxItems", "maxLength", "pattern"}
ANNOTATIONS = {"description", "default", "example"}


class SchemaError(Exception):
    pass


class Validator:
    def __init__(self, spec):
        self.spec = spec

    def resolve(self, ref):
        if not ref.startswith("#/"):
            raise SchemaError("only local $ref supported: " + ref)
        node = self.spec
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def errors(self, value, schema, where="$"):
        """Every way `value` breaks `schema`, as 'where: why' strings."""
        unknown = set(schema) - VALIDATING - ANNOTATIONS
        if unknown:
            raise SchemaError("%s: schema keywords outside the checked subset: %s" % (where, sorted(unknown)))
        if "$ref" in schema:
            return self.errors(value, self.resolve(schema["$ref"]), where)
        if value is None:
            return [] if schema.get("nullable") or not _constrains_type(schema) else [where + ": null"]
        out = []
        for sub in schema.get("allOf", []):
            out += self.errors(value, sub, where)
        if "oneOf" in schema:
            passing = [s for s in schema["oneOf"] if not self.errors(value, s, where)]
            if len(passing) != 1:
                out.append("%s: matches %d of oneOf, want 1: %s" % (where, len(passing), _short(value)))
        t = schema.get("type")
        if t is not None and not _is_type(value, t):
            return out + ["%s: want %s, got %s" % (where, t, _short(value))]
        if "enum" in schema and value not in schema["enum"]:
            out.append("%s: %s not in %s" % (where, _short(value), schema["enum"]))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in schema and value < schema["minimum"]:
                out.append("%s: %s < minimum %s" % (where, value, schema["minimum"]))
            if "maximum" in schema and value > schema["maximum"]:
                out.append("%s: %s > maximum %s" % (where, value, schema["maximum"]))
        if isinstance(value, str):
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                out.append("%s: longer than %d" % (where, schema["maxLength"]))
            if "pattern" in schema and not re.search(schema["pattern"], value):
                out.append("%s: %r does not match %s" % (where, value, schema["pattern"]))
        if isinstance(value, dict):
            props = schema.get("properties", {})
            for name in schema.get("required", []):
                if name not in value:
                    out.append("%s: missing required '%s'" % (where, name))
            extra = schema.get("additionalProperties", True)
            for name, v in value.items():
                if name in props:
                    out += self.errors(v, props[name], where + "." + name)
                elif extra is False:
                    out.append("%s: unexpected field '%s'" % (where, name))
                elif isinstance(extra, dict):
                    out += self.errors(v, extra, where + "." + name)
        if isinstance(value, list):
            if "minItems" in schema and len(value) < schema["minItems"]:
                out.append("%s: fewer than %d items" % (where, schema["minItems"]))
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                out.append("%s: more than %d items" % (where, schema["maxItems"]))
            if "items" in schema:
                for i, v in enumerate(value):
                    out += self.errors(v, schema["items"], "%s[%d]" % (where, i))
        return out


def _constrains_type(schema):
    return any(k in schema for k in ("type", "$ref", "oneOf", "allOf", "enum"))


def _is_type(value, t):
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    raise SchemaError("unknown type " + t)


def _short(value):
    text = json.dumps(value)
    return text if len(text) < 120 else text[:117] + "..."


# --- the node -------------------------------------------------------------------------------

def free_port():
    # Claimed as every test claims its ports (clients/python/tests/nodeproc.py).
    sys.path[:0] = [CLIENTS_PYTHON, os.path.join(CLIENTS_PYTHON, "tests")]
    from nodeproc import free_port as claim
    return claim()


def until(condition, what, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("gave up waiting for " + what)


class Http:
    def __init__(self, base):
        self.base = base

    def send(self, method, path, query=None, body=None, raw=None, headers=None):
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(url, data=data, method=method,
                                     headers=dict({"Content-Type": "application/json"},
                                                  **(headers or {})))
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                ctype = r.headers.get("Content-Type", "")
                if ctype.startswith("text/event-stream"):  # never ends: up to its first event
                    lines = [r.readline()]
                    while lines[-1] and not lines[-1].startswith(b"data:") and len(lines) < 50:
                        lines.append(r.readline())
                    return r.status, ctype, b"".join(lines)
                return r.status, ctype, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read()


# --- the cases ------------------------------------------------------------------------------

# A WebSocket handshake's headers (a valid one: the bad parameter is what gets the 400).
WS_HEADERS = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}

def run_cases(spec, http, zmq_endpoint, jobnet):
    """Sends every case; returns the failures. Each case names the operation it covers as
    (spec path, method) and the status it expects."""
    v = Validator(spec)
    failures = []
    covered = {}  # (path, method) -> set of statuses seen

    def call(path_t, method, want, path=None, query=None, body=None, raw=None, headers=None):
        status, ctype, data = http.send(method.upper(), path or path_t, query, body, raw, headers)
        where = "%s %s%s" % (method.upper(), path or path_t, "?" + urllib.parse.urlencode(query) if query else "")
        covered.setdefault((path_t, method), set()).add(status)
        op = spec["paths"].get(path_t, {}).get(method)
        if op is None:
            failures.append("%s: the spec has no operation %s %s" % (where, method.upper(), path_t))
            return None
        if status != want:
            failures.append("%s: status %d, want %d: %s" % (where, status, want, data[:200]))
        listed = op["responses"].get(str(status))
        if listed is None:
            failures.append("%s: status %d is not one the spec lists (%s)" %
                            (where, status, ", ".join(sorted(op["responses"]))))
            return None
        if "$ref" in listed:
            listed = v.resolve(listed["$ref"])
        content = listed.get("content", {})
        media = ctype.split(";")[0].strip()
        match = [k for k in content if k.split(";")[0].strip() == media]
        if not match:
            failures.append("%s: content type %r, the spec lists %s" % (where, ctype, sorted(content)))
            return None
        schema = content[match[0]]["schema"]
        if media == "text/event-stream":
            # The stream's events carry StateEvent objects (OpenAPI 3.0 cannot say so in the
            # schema): the first one must be one.
            events = [l[5:].strip() for l in data.decode().splitlines() if l.startswith("data:")]
            if not events:
                failures.append("%s: no event in the stream" % where)
            for e in events:
                failures.extend("%s: event: %s" % (where, err) for err in
                                v.errors(json.loads(e), {"$ref": "#/components/schemas/StateEvent"}))
            return data.decode()
        if media != "application/json":
            return data.decode()
        try:
            doc = json.loads(data)
        except ValueError:
            failures.append("%s: body is not JSON: %r" % (where, data[:200]))
            return None
        errs = v.errors(doc, schema)
        failures.extend("%s: %s" % (where, e) for e in errs)
        return doc

    # Jobs. A sleeping job holds a worker while the wait times out (202) and while it is
    # cancelled; an echo job with a key succeeds (wait: 200) and repeats (200, duplicate).
    J, JID, RETRY = "/api/jobs", "/api/jobs/{id}", "/api/jobs/{id}/retry"
    slow = call(J, "post", 201, body={"type": "sleep", "payload": 60000, "queue": "slow",
                                      "priority": 5, "max_attempts": 2, "backoff": "1s",
                                      "timeout": 120000})
    call(J, "post", 202, query={"wait": "true", "timeout": "50ms"},
         body={"type": "sleep", "payload": 60000, "queue": "slow"})
    done = call(J, "post", 200, query={"wait": "1", "timeout": "20s"},
                body={"type": "echo", "payload": {"a": [1, "b"]}, "key": "openapi-k1"})
    call(J, "post", 200, body={"type": "echo", "payload": {"a": [1, "b"]}, "key": "openapi-k1"})
    call(J, "post", 201, body={"type": "echo", "delay": 3600000})
    call(J, "post", 400, body={"type": "echo", "bogus": 1})
    call(J, "post", 400, query={"timeout": "0s"}, body={"type": "echo"})
    # Input the face judges itself, answered at once with the documented codes.
    call(J, "post", 400, raw=b'{"type": "echo", "payload": ' + b"[" * 33 + b"]" * 33 + b"}")
    call(J, "post", 413, body={"type": "echo", "payload": "a" * (3 << 19)})
    call(J, "post", 413, body={"type": "echo", "key": "k" * 129})
    call(J, "post", 413, body={"type": "t" * 65})
    if done is not None and done.get("state") != "succeeded":
        failures.append("wait=1 answered 200 with a job in state %r" % done.get("state"))

    call(J, "get", 200, query={"limit": "2"})
    call(J, "get", 200, query={"state": "succeeded", "queue": "default", "type": "echo",
                               "after": "n1-1", "limit": "10"})
    call(J, "get", 400, query={"bogus": "1"})
    # The created-at range: a range holding every job lists them, one in the future none.
    now_ms = int(time.time() * 1000)
    held = call(J, "get", 200, query={"created_from": "1", "created_to": str(now_ms + 60000)})
    ahead = call(J, "get", 200, query={"created_from": str(now_ms + 3600000)})
    if not held or not held["jobs"] or ahead is None or ahead["jobs"]:
        failures.append("created_from/created_to: %d jobs in the past hour's range, %s in the next's" %
                        (len(held["jobs"]) if held else -1, len(ahead["jobs"]) if ahead else "?"))
    call(J, "get", 400, query={"created_from": "20", "created_to": "10"})
    call(J, "get", 400, query={"created_from": "yesterday"})

    slow_id = slow["id"] if slow else "n1-1"
    call(JID, "get", 200, path="/api/jobs/" + slow_id)
    call(JID, "get", 404, path="/api/jobs/n1-999999")
    call(JID, "get", 400, path="/api/jobs/not-an-id")
    call(JID, "get", 413, path="/api/jobs/n1-" + "1" * 60)
    call(JID, "delete", 200, path="/api/jobs/" + slow_id)
    call(JID, "delete", 409, path="/api/jobs/" + slow_id)
    call(JID, "delete", 404, path="/api/jobs/n1-999999")
    call(RETRY, "post", 200, path="/api/jobs/%s/retry" % slow_id)
    call(RETRY, "post", 409, path="/api/jobs/%s/retry" % slow_id)
    call(RETRY, "post", 404, path="/api/jobs/n1-999999/retry")

    RESULT = "/api/jobs/{id}/result"
    done_id = done["id"] if done else "n1-1"
    result = call(RESULT, "get", 200, path="/api/jobs/%s/result" % done_id)
    if result is not None and result != {"a": [1, "b"]}:
        failures.append("result of the echo job: %s" % _short(result))
    call(RESULT, "get", 409, path="/api/jobs/%s/result" % slow_id)
    call(RESULT, "get", 404, path="/api/jobs/n1-999999/result")

    # Schedules: one added with the CLI, listed, paused and resumed over HTTP.
    subprocess.run([jobnet, "schedule", "add", "openapi_tick", "echo", "1", "--every", "1h",
                    "--to", zmq_endpoint], check=True, capture_output=True, timeout=30)
    listed = call("/api/schedules", "get", 200)
    if listed is not None and [x["name"] for x in listed.get("schedules", [])] != ["openapi_tick"]:
        failures.append("GET /api/schedules: want openapi_tick, got %s" % _short(listed))
    SCH = "/api/schedules/{name}/"
    paused = call(SCH + "pause", "post", 200, path="/api/schedules/openapi_tick/pause")
    if paused is not None and paused.get("paused") is not True:
        failures.append("pause: the schedule is not paused: %s" % _short(paused))
    call(SCH + "resume", "post", 200, path="/api/schedules/openapi_tick/resume")
    call(SCH + "pause", "post", 404, path="/api/schedules/no_such_schedule/pause")
    call(SCH + "resume", "post", 404, path="/api/schedules/no_such_schedule/resume")

    BULK = "/api/jobs/bulk"
    for _ in range(2):
        call("/api/jobs", "post", 201, body={"type": "echo", "queue": "openapi_bulk", "delay": "1h"})
    bulk = call(BULK, "post", 200, body={"action": "cancel", "queue": "openapi_bulk", "state": "delayed"})
    if bulk is not None and (bulk.get("touched"), bulk.get("matched")) != (2, 2):
        failures.append("bulk cancel: want 2 touched of 2, got %s" % _short(bulk))
    call(BULK, "post", 400, body={"action": "explode", "queue": "openapi_bulk"})
    call(BULK, "post", 400, body={"action": "retry"})
    call(BULK, "post", 400, body={"action": "cancel", "queue": "openapi_bulk"})  # cancel needs a state
    me = call("/api/whoami", "get", 200)
    if me is not None and (me.get("write"), me.get("read_only"), me.get("name")) != (True, False, None):
        failures.append("whoami without tokens: want write, not read-only, no name; got %s" % _short(me))

    B = "/api/jobs/batch"
    batch = call(B, "post", 200, body=[{"type": "echo"}, {"type": "no-such-handler"}, {"typo": 1}])
    if batch is not None and [("error" in i) for i in batch.get("items", [])] != [False, True, True]:
        failures.append("batch: want one job and two errors, got %s" % _short(batch))
    call(B, "post", 200, body={"jobs": [{"type": "echo", "payload": 1}]})
    call(B, "post", 400, body=[])
    call(B, "post", 400, body={"jobs": [{"type": "echo"}], "bogus": 1})
    call(B, "post", 413, body=[{"type": "echo"}] * 1001)
    deep = call(B, "post", 200, raw=b'[{"type": "echo"}, {"type": "echo", "payload": ' +
                b"[" * 10000 + b"]" * 10000 + b"}]")
    if deep is not None and [("error" in i) for i in deep.get("items", [])] != [False, True]:
        failures.append("batch: a deep spec must fail alone, got %s" % _short(deep))

    # Flows and dependencies (docs/protocol.md §22-23).
    F = "/api/flows"
    flow = call(F, "post", 201, body={"jobs": {"a": {"type": "echo", "payload": 1},
                                              "b": {"type": "collect", "after": ["a"]}}})
    if flow is not None:
        b = flow.get("ids", {}).get("b")
        if sorted(flow.get("ids", {})) != ["a", "b"] or flow.get("flow") != flow["ids"].get("a"):
            failures.append("flow: want ids of a and b, a first: %s" % _short(flow))
        shown = call(F + "/{id}", "get", 200, path=F + "/" + b)
        if shown is not None and [j.get("flow_name") for j in shown.get("jobs", [])] != ["a", "b"]:
            failures.append("flow: GET shows %s" % _short(shown))
        child = call("/api/jobs", "post", 201, body={"type": "echo", "depends_on": [b]})
        if child is not None and child.get("depends_on") != [b]:
            failures.append("depends_on: the child shows %s" % _short(child))
    call(F + "/{id}", "get", 404, path=F + "/n1-999999")
    call(F, "post", 400, body={"jobs": {"a": {"type": "echo", "after": ["a"]}}})  # a cycle
    call(F, "post", 400, body={"jobs": {"a": {"type": "echo", "after": ["zz"]}}})
    call(F, "post", 400, body={"jobs": {}})
    call(F, "post", 404, body={"jobs": {"a": {"type": "echo", "depends_on": ["n1-999999"]}}})
    call("/api/jobs", "post", 404, body={"type": "echo", "depends_on": ["n1-999999"]})

    # Queues.
    call("/api/queues", "get", 200)
    QN = "/api/queues/{name}"
    call(QN, "put", 200, path="/api/queues/openapi",
         body={"order": "lifo", "concurrency": 2, "rate": 0, "weight": 3, "paused": False})
    call(QN, "put", 400, path="/api/queues/openapi", body={"bogus": 1})
    for verb in ("pause", "resume"):
        t = QN + "/" + verb
        call(t, "post", 200, path="/api/queues/openapi/" + verb)
        call(t, "post", 400, path="/api/queues/b%21d/" + verb)

    # Workers, nodes, operations.
    call("/api/workers", "get", 200)
    call("/api/workers", "post", 200, body={"workers": 3})
    call("/api/workers", "post", 400, body={"workers": 0})
    call("/api/workers", "post", 400, body={"workers": 2, "bogus": 1})
    AS = "/api/workers/autoscale"
    scaled = call(AS, "put", 200, body={"min": 1, "max": 4, "target_wait": "500ms"})
    if scaled is not None and scaled.get("autoscale") != {"min": 1, "max": 4}:
        failures.append("autoscale: want bounds 1..4, got %s" % _short(scaled))
    off = call(AS, "put", 200, body={"min": 0, "max": 0})
    if off is not None and off.get("autoscale") is not None:
        failures.append("autoscale off: want null bounds, got %s" % _short(off))
    call(AS, "put", 400, body={"min": 5, "max": 2})
    call(AS, "put", 400, body={"min": 1})
    call(AS, "put", 400, body={"min": 1, "max": 2, "quiet": "soon"})
    call(AS, "put", 400, body={"min": 1, "max": 2, "bogus": 1})
    # An external worker, registered with the Python client over ZeroMQ, then removed.
    WID = "/api/workers/{id}"
    sys.path.insert(0, CLIENTS_PYTHON)
    import jobnet
    worker = jobnet.Worker([zmq_endpoint], types=["openapi_external"], capacity=1)
    call("/api/workers", "get", 200)  # now with its `external` list, checked against the schema
    call(WID, "delete", 200, path="/api/workers/%d" % worker.worker_id)
    call(WID, "delete", 404, path="/api/workers/%d" % worker.worker_id)
    call(WID, "delete", 400, path="/api/workers/not-a-number")
    call("/api/nodes", "get", 200)
    call("/api/events", "get", 200, query={"since": "0", "queue": "default"})
    call("/api/events", "get", 400, query={"since": "soon"})
    call("/api/events", "get", 400, query={"job": "not_an_id"})
    call("/api/ws", "get", 426)
    call("/api/ws", "get", 400, query={"since": "soon"}, headers=WS_HEADERS)
    # The WebSocket itself, with Debian's python3-websocket: its first task update is a TaskUpdate.
    import websocket
    ws = websocket.create_connection(http.base.replace("http:", "ws:") + "/api/ws?since=0",
                                     timeout=20)
    try:
        covered.setdefault(("/api/ws", "get"), set()).add(ws.getstatus())
        first_update = None
        while first_update is None:
            m = json.loads(ws.recv())
            if m.get("event") == "task_update":
                first_update = m
        failures.extend("GET /api/ws message: " + e
                        for e in v.errors(first_update, {"$ref": "#/components/schemas/TaskUpdate"}))
    finally:
        ws.close()
    call("/healthz", "get", 200)
    call("/readyz", "get", 200)
    text = call("/metrics", "get", 200)
    if text is not None and "jobnet_" not in text:
        failures.append("GET /metrics: no jobnet_ series")
    if text is not None:
        # Prometheus' own linter on the exposition (Debian package prometheus): names, help,
        # types, histogram buckets. Not optional: a missing promtool is a failure.
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                              text=True)
        if lint.returncode != 0:
            failures.append("promtool check metrics: " + _short(lint.stdout + lint.stderr))
        # Counters move: jobs were submitted and finished above.
        moved = re.search(r'^jobnet_jobs_submitted_total\{node="n1",queue="default"\} (\d+)', text, re.M)
        if moved is None or int(moved.group(1)) == 0:
            failures.append("GET /metrics: jobnet_jobs_submitted_total{queue=\"default\"} did not move")

    # Any route answers a body over the 2 MiB limit with 413, before anything else.
    for path_t in ("/api/queues", "/api/workers", "/api/nodes", "/healthz", "/readyz", "/metrics",
                   "/api/schedules", "/api/whoami"):
        call(path_t, "get", 413, raw=b"x" * ((2 << 20) + 1))
    # Every operation of the spec was exercised, with a success, and with an error where the
    # spec documents one a client can cause.
    client_errors = {"400", "404", "409", "413"}
    for path_t, ops in spec["paths"].items():
        for method, op in ops.items():
            if method == "parameters":
                continue
            seen = covered.get((path_t, method))
            if not seen:
                failures.append("%s %s: in the spec but not checked" % (method.upper(), path_t))
                continue
            if not any(200 <= s < 300 or s == 101 for s in seen):
                failures.append("%s %s: never answered 2xx" % (method.upper(), path_t))
            if client_errors & set(op["responses"]) and not any(400 <= s < 500 for s in seen):
                failures.append("%s %s: no error case checked" % (method.upper(), path_t))
    # Every GET operation answers HEAD with GET's status and no body (the stream: 405).
    for path_t, ops in spec["paths"].items():
        if "get" not in ops or "{" in path_t:
            continue
        want = 405 if path_t in ("/api/events", "/api/ws") else http.send("GET", path_t)[0]
        status, _, data = http.send("HEAD", path_t)
        if status != want or data:
            failures.append("HEAD %s: status %d (want %d), %d body bytes" % (path_t, status, want,
                                                                             len(data)))
    # An unknown route answers the one error shape.
    status, _, data = http.send("GET", "/api/no-such-route")
    errs = v.errors(json.loads(data), {"$ref": "#/components/schemas/Error"}) if status == 404 else [
        "status %d" % status]
    failures.extend("GET /api/no-such-route: " + e for e in errs)
    return failures


def self_test(spec):
    """The validator catches what the server check relies on it to catch."""
    v = Validator(spec)
    job = {"id": "n1-1", "type": "echo", "queue": "default", "state": "succeeded", "result": {"a": 1},
           "error": None, "attempts": 1, "max_attempts": 3, "priority": 0, "created_at": 1,
           "started_at": 1, "finished_at": 2, "run_at": 0}
    ref = {"$ref": "#/components/schemas/Job"}
    problems = []
    if v.errors(job, ref):
        problems.append("a good job fails: %s" % v.errors(job, ref))
    renamed = dict(job)
    renamed["created"] = renamed.pop("created_at")
    bad_cases = {
        "a renamed field": renamed,
        "a wrong type": dict(job, attempts="1"),
        "a bool for an integer": dict(job, priority=True),
        "null where not nullable": dict(job, queue=None),
        "a state outside the enum": dict(job, state="finished"),
    }
    for what, value in bad_cases.items():
        if not v.errors(value, ref):
            problems.append("%s passes" % what)
    err = {"$ref": "#/components/schemas/Error"}
    if v.errors({"error": {"code": "not_found", "message": "x"}}, err):
        problems.append("a good error fails")
    if not v.errors({"error": {"code": "nope", "message": "x"}}, err):
        problems.append("an unknown error code passes")
    item = {"$ref": "#/components/schemas/BatchItem"}
    if v.errors({"id": "n1-1", "state": "queued", "duplicate": False}, item):
        problems.append("a good batch item fails")
    if not v.errors({"id": "n1-1", "state": "queued"}, item):
        problems.append("a batch item without duplicate passes")
    try:
        v.errors(1, {"type": "integer", "format": "int64"})
        problems.append("a keyword outside the subset is accepted")
    except SchemaError:
        pass
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--jobnet")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    with open(args.spec) as f:
        spec = yaml.safe_load(f)
    if spec.get("openapi") != "3.0.3":
        print("openapi_check: want openapi 3.0.3, got %r" % spec.get("openapi"))
        return 1

    if args.self_test:
        problems = self_test(spec)
        for p in problems:
            print("openapi_check self-test: " + p)
        return 1 if problems else 0

    if not args.jobnet:
        ap.error("--jobnet is required")
    tmp = tempfile.mkdtemp(prefix="openapi_check.")
    zmq_port, http_port = free_port(), free_port()
    log = open(os.path.join(tmp, "node.log"), "w")
    node = subprocess.Popen(
        [args.jobnet, "node", "--id", "n1", "--listen", "tcp://127.0.0.1:%d" % zmq_port,
         "--data", os.path.join(tmp, "data"), "--workers", "4",
         "--http", "127.0.0.1:%d" % http_port], stdout=log, stderr=subprocess.STDOUT)
    http = Http("http://127.0.0.1:%d" % http_port)
    failures = None
    try:
        def ready():
            if node.poll() is not None:
                raise AssertionError("the node exited with %s" % node.returncode)
            try:
                return http.send("GET", "/readyz")[0] == 200
            except OSError:
                return False
        until(ready, "the node's /readyz")
        failures = run_cases(spec, http, "tcp://127.0.0.1:%d" % zmq_port, args.jobnet)
    finally:
        node.send_signal(signal.SIGKILL)
        node.wait()
        log.close()
        if failures != []:  # an exception or a failed check: show why the node may have
            with open(os.path.join(tmp, "node.log")) as f:
                sys.stdout.write("--- node log (tail)\n" + "".join(f.readlines()[-30:]))
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print("openapi_check: " + f)
    print("openapi_check: %d operations, %d failures" %
          (sum(1 for p in spec["paths"].values() for m in p if m != "parameters"), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
