#!/usr/bin/env python3
"""No input crashes a node, and one nesting bound holds everywhere (issue 16): hostile HTTP input
replayed against a live node.

Goal: every hostile request gets its documented status at once (within a second), never a
crash or a timeout, and the node keeps serving. Method: a real `jobnet node --http` (and a second
one with tokens), on ports claimed as every test claims them (flock on /tmp/jobnet-test-ports),
killed when this script ends however it ends (finally, atexit, and PR_SET_PDEATHSIG so it dies
with this process even on SIGKILL). Cases: payloads and bodies nested 10^2..10^6 deep (arrays
and objects), a 1.5 MiB payload, nesting exactly at the bound (accepted, then listed over HTTP
and by `jobnet list`) and one over, bad batch items among good ones, HEAD on several routes
(no body; the connection stays usable), odd Authorization headers, a request without Host,
a few bad parameters and bodies, every response-counter series at 0 on a fresh node, and JWTs
signed by a third party's library (taken) or forged (refused).

  http_hostile.py --jobnet BIN
Debian python3 (+ python3-zmq, python3-msgpack for the port claim helper of clients/python;
python3-jwt and python3-cryptography sign the JWTs).
"""
import argparse
import atexit
import base64
import ctypes
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS_PYTHON = os.path.join(HERE, "..", "clients", "python")
sys.path[:0] = [CLIENTS_PYTHON, os.path.join(CLIENTS_PYTHON, "tests")]
from nodeproc import free_port  # noqa: E402  (the per-process port claim)

PAYLOAD_DEPTH_MAX = 32        # limits::kPayloadDepthMax
BODY_BYTES_MAX = 2 << 20      # limits::kHttpBodyBytesMax
ANSWER_SECONDS = 1.0          # what "at once" means here
SECRET = "hostile-secret"

PR_SET_PDEATHSIG = 1


def die_with_parent():
    """preexec_fn of the node: the kernel kills it when this process dies, whatever kills us."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Node:
    def __init__(self, jobnet, tmp, name, extra=()):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.zmq_port, self.http_port = free_port(), free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % self.zmq_port
        self.log_path = os.path.join(self.dir, "node.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [jobnet, "node", "--id", "n1", "--listen", self.endpoint, "--data",
             os.path.join(self.dir, "data"), "--workers", "2",
             "--http", "127.0.0.1:%d" % self.http_port] + list(extra),
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        atexit.register(self.kill)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        if not self.log.closed:
            self.log.close()

    def tail(self):
        with open(self.log_path) as f:
            return "".join(f.readlines()[-30:])


class Answer:
    def __init__(self, status, headers, body, seconds):
        self.status, self.headers, self.body, self.seconds = status, headers, body, seconds

    def json(self):
        return json.loads(self.body)


def request(port, method, path, body=None, headers=None, conn=None, skip_host=False):
    """One request (on `conn` when given, else on a new connection). Times the answer."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=40)
    start = time.monotonic()
    try:
        conn.putrequest(method, path, skip_host=skip_host, skip_accept_encoding=True)
        data = body.encode() if isinstance(body, str) else body
        hdrs = dict(headers or {})
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
            hdrs["Content-Length"] = str(len(data))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders(data)
        r = conn.getresponse()
        payload = r.read()
        return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, payload,
                      time.monotonic() - start)
    finally:
        if own:
            conn.close()


def nest(depth, objects, inner="1"):
    opener, closer = ('{"a":', "}") if objects else ("[", "]")
    return opener * depth + inner + closer * depth


def spec(payload, **fields):
    text = '{"type":"echo","payload":' + payload
    for k, v in fields.items():
        text += ',"%s":%s' % (k, json.dumps(v))
    return text + "}"


class Checks:
    def __init__(self):
        self.failures = []
        self.count = 0

    def expect(self, what, answer, status, code=None, within=ANSWER_SECONDS):
        self.count += 1
        if answer.status != status:
            self.failures.append("%s: status %d, want %d: %r" % (what, answer.status, status,
                                                                answer.body[:200]))
            return False
        if answer.seconds > within:
            self.failures.append("%s: answered in %.2f s, want at most %.1f s" %
                                 (what, answer.seconds, within))
        if code is not None:
            try:
                got = answer.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                got = None
            if got != code:
                self.failures.append("%s: error code %r, want %r: %r" % (what, got, code,
                                                                        answer.body[:200]))
                return False
        return True

    def check(self, what, ok, detail=""):
        self.count += 1
        if not ok:
            self.failures.append("%s %s" % (what, detail))

    def report(self, name):
        """Prints each failure and the tally under `name`; the exit code."""
        for f in self.failures:
            print("%s: %s" % (name, f))
        print("%s: %d checks, %d failures" % (name, self.count, len(self.failures)))
        return 1 if self.failures else 0


def wait_ready(node, port):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if node.proc.poll() is not None:
            raise AssertionError("the node exited with %s:\n%s" % (node.proc.returncode, node.tail()))
        try:
            if request(port, "GET", "/readyz").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("the node's /readyz never answered 200:\n" + node.tail())


def counters_start_at_zero(c, port):
    text = request(port, "GET", "/metrics").body.decode()
    for cls in ("2xx", "4xx", "5xx"):
        c.check("metrics: jobnet_http_responses_total{code=%s} exported from the start" % cls,
                re.search(r'^jobnet_http_responses_total\{[^}]*code="%s"[^}]*\} ' % cls, text, re.M)
                is not None)


def deep_input(c, port, jobnet, zmq_endpoint):
    J = "/api/jobs"
    for depth in (10 ** 2, 10 ** 3, 10 ** 4, 10 ** 5, 10 ** 6):
        for objects in (False, True):
            kind = "objects" if objects else "arrays"
            body = spec(nest(depth, objects))
            # A million nested objects do not fit the 2 MiB body limit: that is its answer.
            status, code = (413, "too_large") if len(body) > BODY_BYTES_MAX else (400, "invalid_argument")
            c.expect("POST %s, payload nested %d deep (%s)" % (J, depth, kind),
                     request(port, "POST", J, body), status, code)
            bare = nest(depth, objects)
            if len(bare) <= BODY_BYTES_MAX:
                c.expect("POST %s, body nested %d deep (%s)" % (J, depth, kind),
                         request(port, "POST", J, bare), 400, "invalid_argument")
                # As a batch: a list of one deep "spec" gets that spec's error; a deep object
                # is no batch at all.
                a = request(port, "POST", J + "/batch", bare)
                if objects:
                    c.expect("POST %s/batch, body nested %d deep (objects)" % (J, depth), a, 400,
                             "invalid_argument")
                elif c.expect("POST %s/batch, body nested %d deep (arrays)" % (J, depth), a, 200):
                    items = a.json()["items"]
                    c.check("batch nested %d deep: one item, its own invalid_argument" % depth,
                            len(items) == 1 and items[0]["error"]["code"] == "invalid_argument",
                            a.body[:200])
                c.expect("PUT /api/queues/q, body nested %d deep (%s)" % (depth, kind),
                         request(port, "PUT", "/api/queues/q", bare), 400, "invalid_argument")
                c.expect("POST /api/workers, body nested %d deep (%s)" % (depth, kind),
                         request(port, "POST", "/api/workers", bare), 400, "invalid_argument")
    # Unbalanced deep text (a body cut short) is just bad JSON.
    c.expect("POST %s, unbalanced deep body" % J, request(port, "POST", J, "[" * 500000),
             400, "invalid_argument")
    # 1.5 MiB: over the payload limit, under the body limit.
    big = '"' + "a" * (3 << 19) + '"'
    c.expect("POST %s, 1.5 MiB payload" % J, request(port, "POST", J, spec(big)), 413, "too_large")
    # Exactly at the bound: accepted, run, listed and shown, over HTTP and by the CLI; one more
    # level is 400.
    for objects in (False, True):
        kind = "objects" if objects else "arrays"
        queue = "deep_" + kind
        at = request(port, "POST", J + "?wait=true&timeout=20s",
                     spec(nest(PAYLOAD_DEPTH_MAX, objects), queue=queue))
        if c.expect("POST %s?wait=true, payload nested %d deep (%s)" % (J, PAYLOAD_DEPTH_MAX, kind),
                    at, 200, within=20):
            job = at.json()
            c.check("the deepest job succeeded", job.get("state") == "succeeded", job.get("error"))
            listed = request(port, "GET", J + "?queue=" + queue)
            if c.expect("GET %s?queue=%s" % (J, queue), listed, 200):
                ids = [j["id"] for j in listed.json()["jobs"]]
                c.check("GET %s lists the deepest job" % J, job["id"] in ids, ids)
                c.check("GET %s gives back its result" % J,
                        listed.json()["jobs"][0]["result"] == json.loads(nest(PAYLOAD_DEPTH_MAX, objects)))
            c.expect("GET %s/%s" % (J, job["id"]), request(port, "GET", J + "/" + job["id"]), 200)
            cli = subprocess.run([jobnet, "list", "--queue", queue, "--json", "--to", zmq_endpoint],
                                 capture_output=True, text=True, timeout=20)
            c.check("jobnet list shows the deepest job", cli.returncode == 0 and job["id"] in cli.stdout,
                    "(rc %d) %s" % (cli.returncode, cli.stderr[-300:]))
        c.expect("POST %s, payload nested %d deep (%s)" % (J, PAYLOAD_DEPTH_MAX + 1, kind),
                 request(port, "POST", J, spec(nest(PAYLOAD_DEPTH_MAX + 1, objects))),
                 400, "invalid_argument")


def bad_batch_items(c, port):
    items = [spec("1"), spec(nest(10 ** 5, False)), spec(nest(PAYLOAD_DEPTH_MAX, True)),
             spec(nest(PAYLOAD_DEPTH_MAX + 1, False)), spec('"' + "b" * (3 << 19) + '"'),
             '{"typo": 1}', '{"type": "no_such_type"}', spec("2")]
    want = [None, "invalid_argument", None, "invalid_argument", "too_large", "invalid_argument",
            "invalid_argument", None]
    for body in ("[" + ",".join(items) + "]", '{"jobs": [' + ",".join(items) + "]}"):
        a = request(port, "POST", "/api/jobs/batch", body)
        if not c.expect("POST /api/jobs/batch with bad items among good ones", a, 200):
            continue
        got = [i.get("error", {}).get("code") for i in a.json()["items"]]
        c.check("batch: each bad item fails alone, the good ones are accepted", got == want,
                "got %s, want %s" % (got, want))
    # Good specs whose payloads together pass one frame: taken in several requests, in order.
    large = ",".join(spec('"' + "c" * (700 << 10) + '"') for _ in range(2))
    a = request(port, "POST", "/api/jobs/batch", "[" + large + "]")
    if c.expect("POST /api/jobs/batch, two 700 KiB payloads", a, 200):
        c.check("batch: both large specs accepted",
                all("id" in i for i in a.json()["items"]), a.body[:300])


def head_requests(c, port):
    done = request(port, "POST", "/api/jobs?wait=true&timeout=20s", spec('"head"')).json()
    paths = ["/api/jobs/" + done["id"], "/api/jobs?limit=5", "/api/queues", "/api/nodes",
             "/api/workers", "/healthz", "/readyz", "/metrics", "/api/jobs/n1-999999",
             "/api/jobs/not_an_id", "/api/no-such-route"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for path in paths:
            get = request(port, "GET", path)
            head = request(port, "HEAD", path, conn=conn)  # on one kept-alive connection
            c.check("HEAD %s: the status of GET" % path, head.status == get.status,
                    "%d vs %d" % (head.status, get.status))
            c.check("HEAD %s: no body" % path, head.body == b"", head.body[:100])
            c.check("HEAD %s: answered at once" % path, head.seconds <= ANSWER_SECONDS)
            if path.startswith("/api/jobs/"):  # a stable answer: the same length as GET's
                c.check("HEAD %s: GET's Content-Length" % path,
                        head.headers.get("content-length") == str(len(get.body)),
                        "%s vs %d" % (head.headers.get("content-length"), len(get.body)))
        # The connection is still in step: a GET on it reads its own answer.
        after = request(port, "GET", "/api/jobs/" + done["id"], conn=conn)
        c.check("GET after HEADs on one connection", after.status == 200 and
                after.json().get("id") == done["id"], after.body[:200])
    finally:
        conn.close()
    ev = request(port, "HEAD", "/api/events")
    c.check("HEAD /api/events: 405 with Allow: GET and no body",
            ev.status == 405 and ev.headers.get("allow") == "GET" and ev.body == b"",
            "%d %s" % (ev.status, ev.headers))


def odd_requests(c, port):
    # No Host in HTTP/1.1: 400. HTTP/1.0 needs none.
    c.expect("GET /healthz without Host (HTTP/1.1)",
             request(port, "GET", "/healthz", skip_host=True), 400, "invalid_argument")
    c.expect("POST /api/jobs without Host (HTTP/1.1)",
             request(port, "POST", "/api/jobs", spec("1"), skip_host=True), 400, "invalid_argument")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        head = s.recv(64)
    c.check("GET /healthz over HTTP/1.0 without Host", head.split(b" ")[1:2] == [b"200"], head)
    c.expect("GET /api/events?job=not_an_id", request(port, "GET", "/api/events?job=not_an_id"),
             400, "invalid_argument")
    c.expect("POST /api/workers with an unknown field",
             request(port, "POST", "/api/workers", '{"workers": 2, "bogus": 1}'), 400,
             "invalid_argument")
    c.expect("POST /api/jobs with a 129-byte key",
             request(port, "POST", "/api/jobs", spec("1", key="k" * 129)), 413, "too_large")
    c.expect("POST /api/jobs/batch with an unknown field",
             request(port, "POST", "/api/jobs/batch", '{"jobs": [%s], "x": 1}' % spec("1")), 400,
             "invalid_argument")


def tokens(c, jobnet, tmp):
    config = os.path.join(tmp, "tokens.toml")
    with open(config, "w") as f:
        f.write('[[http.tokens]]\nname = "hostile"\nsha256 = "%s"\nscopes = ["read", "write"]\n'
                % hashlib.sha256(SECRET.encode()).hexdigest())
    node = Node(jobnet, tmp, "tokens", ["--config", config])
    try:
        wait_ready(node, node.http_port)
        port = node.http_port
        for value in ("Bearer " + SECRET, "bearer " + SECRET, "BEARER " + SECRET,
                      "Bearer  " + SECRET, "bEaReR \t " + SECRET + "  "):
            c.expect("GET /api/jobs with Authorization %r" % value.replace(SECRET, "<secret>"),
                     request(port, "GET", "/api/jobs", headers={"Authorization": value}), 200)
        for value in ("Bearer", "Bearer" + SECRET, "Basic eDp5", "Bearer wrong", ""):
            a = request(port, "GET", "/api/jobs", headers={"Authorization": value} if value else {})
            c.expect("GET /api/jobs with Authorization %r" % value.replace(SECRET, "<secret>"),
                     a, 401, "unauthenticated")
        a = request(port, "GET", "/api/no-such-route")
        c.expect("an unknown route without a token", a, 401, "unauthenticated")
        c.check("401 carries WWW-Authenticate: Bearer", a.headers.get("www-authenticate") == "Bearer")
        c.expect("an unknown route with a token",
                 request(port, "GET", "/api/no-such-route",
                         headers={"Authorization": "Bearer " + SECRET}), 404, "not_found")
        h = request(port, "HEAD", "/api/jobs")
        c.check("HEAD /api/jobs without a token: 401, no body", h.status == 401 and h.body == b"",
                "%d %r" % (h.status, h.body[:80]))
        c.expect("GET /healthz (public) without a token", request(port, "GET", "/healthz"), 200)
        c.expect("a deep payload with a token",
                 request(port, "POST", "/api/jobs", spec(nest(10 ** 6, False)),
                         headers={"Authorization": "Bearer " + SECRET}), 400, "invalid_argument")
    finally:
        if c.failures:
            sys.stdout.write("--- tokens node log (tail)\n" + node.tail())
        node.kill()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwts(c, jobnet, tmp):
    """JWTs signed by PyJWT (python3-jwt, a third party's signer) are taken; hostile ones are
    refused with 401 at once: alg none, HS256 keyed with the public key, a header nested 1000
    deep, an oversized token, exp out of range, a signature from another key."""
    import jwt  # Debian python3-jwt, with python3-cryptography
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    ec_key, rsa_key = ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 2048)
    keys = []
    for kid, k, algo in (("e1", ec_key, jwt.algorithms.ECAlgorithm),
                         ("r1", rsa_key, jwt.algorithms.RSAAlgorithm)):
        jwk = json.loads(algo.to_jwk(k.public_key()))
        jwk["kid"] = kid
        keys.append(jwk)
    jwks = os.path.join(tmp, "jwks.json")
    with open(jwks, "w") as f:
        json.dump({"keys": keys}, f)
    node = Node(jobnet, tmp, "jwt", ["--http-jwks", jwks, "--http-jwt-issuer", "https://idp/",
                                     "--http-jwt-audience", "jobnet"])
    now = int(time.time())
    claims = {"iss": "https://idp/", "aud": ["jobnet", "other"], "sub": "py", "scope": "read write",
              "exp": now + 300, "nbf": now - 10}

    def bearer(token):
        return {"Authorization": "Bearer " + token}
    try:
        wait_ready(node, node.http_port)
        port = node.http_port
        es = jwt.encode(claims, ec_key, algorithm="ES256", headers={"kid": "e1"})
        rs = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "r1"})
        c.expect("GET /api/jobs with a PyJWT ES256 token", request(port, "GET", "/api/jobs", headers=bearer(es)), 200)
        c.expect("POST /api/jobs with a PyJWT RS256 token",
                 request(port, "POST", "/api/jobs", spec('"jwt"'), headers=bearer(rs)), 201)
        reader = jwt.encode(dict(claims, scope="read"), ec_key, algorithm="ES256", headers={"kid": "e1"})
        c.expect("POST /api/jobs with a read-only JWT",
                 request(port, "POST", "/api/jobs", spec('"jwt"'), headers=bearer(reader)), 403,
                 "permission_denied")
        pem = ec_key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        body = b64url(json.dumps(dict(claims, scope="admin")).encode())
        hs_input = b64url(b'{"alg":"HS256","kid":"e1"}') + "." + body
        import hmac
        hs = hs_input + "." + b64url(hmac.new(pem, hs_input.encode(), "sha256").digest())
        stranger = ec.generate_private_key(ec.SECP256R1())
        hostile = {
            "alg none": b64url(b'{"alg":"none"}') + "." + body + ".",
            "HS256 keyed with the public key": hs,
            "a header nested 1000 deep": b64url(("[" * 1000 + "]" * 1000).encode()) + "." + body + ".AA",
            "a 16,000-byte token": "a" * 16000 + "." + body + ".AA",
            "exp 1e300": jwt.encode(dict(claims, exp=1e300), ec_key, algorithm="ES256", headers={"kid": "e1"}),
            "expired an hour ago": jwt.encode(dict(claims, exp=now - 3600), ec_key, algorithm="ES256", headers={"kid": "e1"}),
            "another key under kid e1": jwt.encode(claims, stranger, algorithm="ES256", headers={"kid": "e1"}),
            "the wrong audience": jwt.encode(dict(claims, aud="else"), rsa_key, algorithm="RS256", headers={"kid": "r1"}),
        }
        for name, token in hostile.items():
            a = request(port, "GET", "/api/jobs", headers=bearer(token))
            c.expect("a JWT with " + name, a, 401, "unauthenticated")
            c.check("a JWT with %s: WWW-Authenticate names invalid_token" % name,
                    'error="invalid_token"' in a.headers.get("www-authenticate", ""),
                    a.headers.get("www-authenticate"))
        c.check("the JWT node is still running", node.proc.poll() is None, node.proc.returncode)
    finally:
        if c.failures:
            sys.stdout.write("--- jwt node log (tail)\n" + node.tail())
        node.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobnet", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="http_hostile.")
    c = Checks()
    node = Node(args.jobnet, tmp, "open")
    try:
        wait_ready(node, node.http_port)
        port = node.http_port
        counters_start_at_zero(c, port)
        deep_input(c, port, args.jobnet, node.endpoint)
        bad_batch_items(c, port)
        head_requests(c, port)
        odd_requests(c, port)
        # Through all of it the node kept serving.
        c.check("the node is still running", node.proc.poll() is None, node.proc.returncode)
        c.expect("GET /healthz at the end", request(port, "GET", "/healthz"), 200)
        c.expect("POST /api/jobs at the end", request(port, "POST", "/api/jobs", spec('"bye"')), 201)
        tokens(c, args.jobnet, tmp)
        jwts(c, args.jobnet, tmp)
    except Exception as e:  # a crash of this script is a failure, with the node's log
        c.failures.append("%s: %s" % (type(e).__name__, e))
    finally:
        if c.failures:
            sys.stdout.write("--- node log (tail)\n" + node.tail())
        node.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return c.report("http_hostile")


if __name__ == "__main__":
    sys.exit(main())
