#!/usr/bin/env python3
"""Task updates over WebSocket (GET /api/ws, docs/http.md §10) against a live node, with Debian's
python3-websocket as a third-party client.

Checks: a subscriber sees every job submitted after it connected through to `succeeded`, as
`task_update` messages in seq order with the documented fields; `type` and `queue` narrow the
stream; `since=SEQ` resumes after SEQ and `since=now` starts at the newest event; an idle stream
sends heartbeats; a bad handshake or parameter is answered at once (426, 400) and leaves the node
serving; with tokens, the token may come as a header or as `access_token` (RFC 6750 §2.3) and is
needed, and GET /api/whoami tells a read token it may not write (the dashboard hides its
controls by it); and hostile frames (a header that claims a terabyte, garbage) cost the node nothing.

  http_websocket.py --jobnet BIN
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import websocket  # Debian python3-websocket

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_hostile import Checks, Node, request, spec, wait_ready  # noqa: E402

FINAL = ("succeeded", "failed", "dead", "cancelled")


def connect(port, query="", headers=None):
    return websocket.create_connection("ws://127.0.0.1:%d/api/ws%s" % (port, query), timeout=20,
                                       header=headers or [])


def messages(ws, until, seconds=20):
    """Messages (decoded) until `until(list)` holds or `seconds` pass."""
    got = []
    end = time.monotonic() + seconds
    while time.monotonic() < end and not until(got):
        ws.settimeout(max(0.05, end - time.monotonic()))
        try:
            got.append(json.loads(ws.recv()))
        except websocket.WebSocketTimeoutException:
            break
    return got


def submit(port, body):
    a = request(port, "POST", "/api/jobs", body)
    if a.status != 201:
        raise AssertionError("submit: %d %r" % (a.status, a.body[:200]))
    return a.json()["id"]


def finals(msgs):
    return {m["id"]: m["state"] for m in msgs
            if m.get("event") == "task_update" and m.get("state") in FINAL}


def follow(c, port):
    ws = connect(port)
    first = messages(ws, lambda g: len(g) >= 1)
    c.check("the first message says subscribed, since 0",
            first[:1] == [{"event": "subscribed", "since": 0}], first[:1])
    ids = [submit(port, spec('"ws%d"' % i)) for i in range(4)]
    got = messages(ws, lambda g: all(i in finals(g) for i in ids))
    ws.close()
    ups = [m for m in got if m.get("event") == "task_update"]
    c.check("every job followed to succeeded", finals(got) == {i: "succeeded" for i in ids},
            finals(got))
    c.check("task updates in seq order", [m["seq"] for m in ups] == sorted(m["seq"] for m in ups))
    states = [m["state"] for m in ups if m["id"] == ids[0]]
    c.check("a job's updates: queued, running, succeeded", states == ["queued", "running", "succeeded"],
            states)
    need = {"event", "update", "seq", "id", "state", "queue", "type", "at", "attempt"}
    c.check("a task update has its fields", ups and need <= set(ups[0]), ups[:1])
    c.check("update says state", ups and ups[0]["update"] == "state", ups[:1])
    return max(m["seq"] for m in ups)


def filters_and_resume(c, port, last_seq):
    ws = connect(port, "?type=word_count")
    a = submit(port, spec('"plain"'))
    b = submit(port, '{"type":"word_count","payload":"three little words"}')
    got = messages(ws, lambda g: b in finals(g))
    ws.close()
    seen = {m["id"] for m in got if m.get("event") == "task_update"}
    c.check("type=word_count shows only word_count jobs", seen == {b}, seen)

    ws = connect(port, "?queue=q2")
    d = submit(port, spec('"q2"', queue="q2"))
    submit(port, spec('"default"'))
    got = messages(ws, lambda g: d in finals(g))
    ws.close()
    seen = {m["id"] for m in got if m.get("event") == "task_update"}
    c.check("queue=q2 shows only q2's jobs", seen == {d}, seen)

    # since=SEQ replays what came after SEQ: the jobs of this function, none before.
    ws = connect(port, "?since=%d" % last_seq)
    got = messages(ws, lambda g: d in finals(g))
    ws.close()
    ups = [m for m in got if m.get("event") == "task_update"]
    c.check("since=SEQ starts right after SEQ", ups and ups[0]["seq"] == last_seq + 1,
            ups[:1])
    c.check("since=SEQ replays the later jobs", {a, b, d} <= {m["id"] for m in ups})

    ws = connect(port, "?since=now")
    first = messages(ws, lambda g: len(g) >= 1)
    newest = max(m["seq"] for m in ups)
    c.check("since=now starts at the newest event",
            first[:1] and first[0].get("event") == "subscribed" and first[0]["since"] >= newest,
            first[:1])
    e = submit(port, spec('"now"'))
    got = messages(ws, lambda g: e in finals(g))
    ws.close()
    seen = {m["id"] for m in got if m.get("event") == "task_update"}
    c.check("since=now shows only later jobs", seen == {e}, seen)


def heartbeat(c, port):
    ws = connect(port, "?since=now&queue=quiet")
    got = messages(ws, lambda g: any(m.get("event") == "heartbeat" for m in g), seconds=25)
    ws.close()
    beats = [m for m in got if m.get("event") == "heartbeat"]
    c.check("an idle stream sends a heartbeat with where it stands",
            beats and isinstance(beats[0].get("next"), int), got)


def raw_upgrade(port, lines):
    """Sends a raw request; returns (status line, headers+body text)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")
    finally:
        s.close()


def bad_handshakes(c, port):
    a = request(port, "GET", "/api/ws")
    c.expect("GET /api/ws without Upgrade", a, 426, "upgrade_required")
    c.check("426 names the version", a.headers.get("sec-websocket-version") == "13", a.headers)
    base = ["GET /api/ws HTTP/1.1", "Host: x", "Upgrade: websocket", "Connection: Upgrade"]
    text = raw_upgrade(port, base + ["Sec-WebSocket-Version: 8",
                                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="])
    c.check("version 8 is 426", text.startswith("HTTP/1.1 426"), text[:80])
    text = raw_upgrade(port, base + ["Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: short"])
    c.check("a bad key is 400", text.startswith("HTTP/1.1 400"), text[:80])
    for q in ("?since=abc", "?type=no%20spaces", "?flavour=x", "?job=nope"):
        try:
            connect(port, q).close()
            c.check("%s refused" % q, False, "it connected")
        except websocket.WebSocketBadStatusException as e:
            c.check("%s is 400" % q, e.status_code == 400, e.status_code)


def hostile_frames(c, port, node):
    # A frame header claiming 2^40 bytes, then garbage: the face never reads client frames.
    ws = connect(port, "?since=now")
    messages(ws, lambda g: len(g) >= 1)
    ws.sock.sendall(bytes([0x82, 0xFF]) + (1 << 40).to_bytes(8, "big") + b"\0" * 4 + b"x" * 1000)
    ws.sock.sendall(os.urandom(4096))
    x = submit(port, spec('"after hostile frames"'))
    got = messages(ws, lambda g: x in finals(g))
    c.check("the stream goes on after hostile frames", finals(got).get(x) == "succeeded", got[-3:])
    ws.close()
    with open("/proc/%d/status" % node.proc.pid) as f:
        rss = [int(l.split()[1]) for l in f if l.startswith("VmRSS")][0] // 1024
    c.check("the node's RSS stays small after a frame claiming 1 TiB", rss < 400, "%d MiB" % rss)
    c.expect("GET /healthz after hostile frames", request(port, "GET", "/healthz"), 200)


def tokens(c, jobnet, tmp):
    import hashlib
    config = os.path.join(tmp, "tokens.toml")
    with open(config, "w") as f:
        f.write('[[http.tokens]]\nname = "viewer"\nsha256 = "%s"\nscopes = ["read"]\n'
                % hashlib.sha256(b"ws-secret").hexdigest())
    node = Node(jobnet, tmp, "tokens", ["--config", config])
    try:
        wait_ready(node, node.http_port)
        port = node.http_port
        for q, hdr in (("", []), ("?access_token=wrong", [])):
            try:
                connect(port, q, hdr).close()
                c.check("no or a wrong token refused", False, q)
            except websocket.WebSocketBadStatusException as e:
                c.check("no or a wrong token is 401 (%s)" % (q or "none"), e.status_code == 401,
                        e.status_code)
        # What the read token may do, as the dashboard asks it: read, not write or admin.
        me = request(port, "GET", "/api/whoami", headers={"Authorization": "Bearer ws-secret"})
        c.expect("GET /api/whoami with the read token", me, 200)
        c.check("whoami: the read token may not write", me.status == 200 and
                (me.json()["name"], me.json()["write"], me.json()["admin"]) == ("viewer", False, False),
                me.body[:200])
        c.expect("a write with the read token", request(port, "POST", "/api/jobs", spec('"no"'),
                                                        headers={"Authorization": "Bearer ws-secret"}),
                 403, "permission_denied")
        for q, hdr in (("?access_token=ws-secret", []), ("", ["Authorization: Bearer ws-secret"])):
            ws = connect(port, q, hdr)
            first = messages(ws, lambda g: len(g) >= 1)
            ws.close()
            c.check("a read token connects (%s)" % ("query" if q else "header"),
                    first[:1] and first[0].get("event") == "subscribed", first)
    finally:
        if c.failures:
            sys.stdout.write("--- tokens node log (tail)\n" + node.tail())
        node.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobnet", required=True)
    args = ap.parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="jobnet-ws-")
    node = Node(args.jobnet, tmp, "open")
    try:
        wait_ready(node, node.http_port)
        port = node.http_port
        last = follow(c, port)
        filters_and_resume(c, port, last)
        heartbeat(c, port)
        bad_handshakes(c, port)
        hostile_frames(c, port, node)
        c.check("the node is still running", node.proc.poll() is None, node.proc.returncode)
        tokens(c, args.jobnet, tmp)
    except Exception as e:  # a crash of this script is a failure, with the node's log
        c.failures.append("%s: %s" % (type(e).__name__, e))
    finally:
        if c.failures:
            sys.stdout.write("--- node log (tail)\n" + node.tail())
        node.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return c.report("http_websocket")


if __name__ == "__main__":
    sys.exit(main())
