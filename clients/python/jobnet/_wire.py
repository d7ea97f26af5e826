"""The jobnet wire protocol (docs/protocol.md): msgpack envelopes over a ZeroMQ DEALER socket,
with failover across endpoints as the C++ client does it (client/client.cpp).

An envelope is ``[version, kind, corr_id, body]``; a reply echoes the request's corr_id. A
socket monitor polled beside the DEALER tells a refused or lost connection (fail over at once)
apart from a connected node that is slow (wait out the request timeout).
"""

import itertools
import random
import json
import threading
import time

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

from . import errors

VERSION = 1

# Message kinds (protocol/messages.hpp `Kind`); numbers are part of the protocol.
SUBMIT, STATUS, WAIT, CANCEL, RETRY, LIST, STATS = 1, 2, 3, 4, 5, 6, 7
SUBMIT_BATCH, TYPES, SUBMIT_FLOW = 32, 34, 36
EVENTS, EVENT_LIST = 22, 74
WORKER_REGISTER, WORKER_POLL, WORKER_HEARTBEAT, WORKER_PROGRESS = 40, 41, 42, 43
WORKER_COMPLETE, WORKER_FAIL, WORKER_UNREGISTER = 44, 45, 46
ACCEPTED, JOB, JOB_LIST, STATS_REPLY, BATCH_ACCEPTED, TYPE_LIST = 64, 65, 66, 67, 71, 73
FLOW_ACCEPTED = 78
WORKER_REGISTERED, WORKER_JOBS, WORKER_BEAT, WORKER_ACK = 80, 81, 82, 83
ERROR = 127

# Limits a client needs (include/jobnet/limits.h).
FRAME_BYTES_MAX = (1 << 20) + (64 << 10)
REPLY_FRAME_BYTES_MAX = 8 * FRAME_BYTES_MAX
WAIT_TIMEOUT_MS_MAX = 3600 * 1000
REQUEST_TIMEOUT_DEFAULT = 5.0  # seconds, as the C++ client
# Nesting: one bound at every door (kPayloadDepthMax). A payload or result nests at most this
# many lists/dicts; a frame wraps it in at most PAYLOAD_ENVELOPE_DEPTH_MAX more (kDepthMax).
PAYLOAD_DEPTH_MAX = 32
PAYLOAD_ENVELOPE_DEPTH_MAX = 4
DEPTH_MAX = PAYLOAD_DEPTH_MAX + PAYLOAD_ENVELOPE_DEPTH_MAX
CONTAINER_ITEMS_MAX = 65536  # kContainerItemsMax: items of one array or map

_MONITOR_EVENTS = (zmq.EVENT_CONNECTED | zmq.EVENT_CONNECT_RETRIED | zmq.EVENT_DISCONNECTED |
                   zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL |
                   zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)


def read_key_file(path):
    """A CURVE key file (`jobnet keys new FILE`): (public, secret), each 40 Z85 characters.
    The secret is never put in an error message."""
    halves = {}
    try:
        with open(path) as f:
            for line in f:
                words = line.split()
                if not words or words[0].startswith("#"):
                    continue
                if len(words) != 2 or words[0] not in ("public", "secret") or len(words[1]) != 40:
                    raise errors.InvalidArgument("%s is not a jobnet key file" % path)
                halves[words[0]] = words[1]
    except OSError as e:
        raise errors.NotFound("cannot read key file %s: %s" % (path, e.strerror))
    if set(halves) != {"public", "secret"}:
        raise errors.InvalidArgument("%s lacks its public or secret key" % path)
    if zmq.curve_public(halves["secret"].encode()).decode() != halves["public"]:
        raise errors.InvalidArgument("%s: its public key is not the one of its secret key" % path)
    return halves["public"], halves["secret"]


def read_cluster_file(path):
    """A cluster.json (`jobnet cluster up`): its endpoints, and the public key of each node
    that has one ({endpoint: key})."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise errors.InvalidArgument("cannot read the cluster file %s: %s" % (path, e))
    endpoints, keys = [], {}
    for n in doc.get("nodes", []) if isinstance(doc, dict) else []:
        if isinstance(n, dict) and isinstance(n.get("endpoint"), str):
            endpoints.append(n["endpoint"])
            if isinstance(n.get("public_key"), str):
                keys[n["endpoint"]] = n["public_key"]
    return endpoints, keys


def depth(value, stop):
    """How deeply `value` nests lists/tuples/dicts (a scalar is 0, [[1]] is 2), walked without
    recursion; the walk stops once past `stop` and returns stop + 1 (so a cycle ends too)."""
    deepest = 0
    todo = [(value, 0)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, dict):
            children = list(v.keys()) + list(v.values())
        elif isinstance(v, (list, tuple)):
            children = v
        else:
            continue
        d += 1
        if d > stop:
            return stop + 1
        deepest = max(deepest, d)
        todo.extend((c, d) for c in children if isinstance(c, (dict, list, tuple)))
    return deepest


def check_payload(value, what="payload"):
    """Raises InvalidArgument when `value` nests deeper than the node takes: the node would
    refuse it too, and a value nested hundreds deep cannot even be packed."""
    if depth(value, PAYLOAD_DEPTH_MAX) > PAYLOAD_DEPTH_MAX:
        raise errors.InvalidArgument("%s nests deeper than %d lists/dicts" % (what, PAYLOAD_DEPTH_MAX))


def pack(kind, corr_id, body):
    try:
        return msgpack.packb([VERSION, kind, corr_id, body], use_bin_type=True)
    except (ValueError, TypeError, OverflowError, RecursionError) as e:
        raise errors.InvalidArgument("cannot encode the request: %s" % e)


def unpack(frame):
    """The decoded envelope: (kind, corr_id, body). Strings that are not UTF-8 keep their bytes
    as surrogate escapes rather than failing the reply. Within the node's own decoder bounds:
    a reply larger, with more items in one container, or nested deeper than a node ever sends
    is Corruption (the unpacker itself keeps its own stack: it never recurses)."""
    if len(frame) > REPLY_FRAME_BYTES_MAX:
        raise errors.Corruption("reply is %d bytes; the limit is %d" % (len(frame),
                                                                          REPLY_FRAME_BYTES_MAX))
    try:
        env = msgpack.unpackb(frame, raw=False, strict_map_key=False,
                              unicode_errors="surrogateescape",
                              max_array_len=CONTAINER_ITEMS_MAX, max_map_len=CONTAINER_ITEMS_MAX)
    except (ValueError, TypeError, RecursionError, msgpack.exceptions.UnpackException) as e:
        # StackError (nested past the unpacker's stack), FormatError, ExtraData are ValueErrors.
        raise errors.Corruption("reply is not a msgpack value within bounds: %s" % (str(e) or
                                                                                    type(e).__name__))
    if depth(env, DEPTH_MAX) > DEPTH_MAX:
        raise errors.Corruption("reply nests deeper than %d lists/maps" % DEPTH_MAX)
    if not isinstance(env, list) or len(env) != 4 or not isinstance(env[3], dict):
        raise errors.Corruption("reply is not [version, kind, corr_id, body]")
    return env[1], env[2], env[3]


class _NotAnswered(Exception):
    """The endpoint did not answer (refused, lost, or silent past the timeout): fail over."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


class Connection:
    """One DEALER to one endpoint at a time, moving on to the next endpoint (once per call) when
    the current one does not answer. Thread-safe: calls are serialized by a lock."""

    _corr = itertools.count(1)  # process-wide, so replies to an old socket never match

    def __init__(self, endpoints, request_timeout=REQUEST_TIMEOUT_DEFAULT, failover=True,
                 context=None, key=None, server_keys=None, spread=True):
        if isinstance(endpoints, str):
            endpoints = [e for e in endpoints.split(",") if e.strip()]
        self.endpoints = [e.strip() for e in endpoints]
        if not self.endpoints:
            raise errors.InvalidArgument("no endpoints given")
        self.request_timeout = float(request_timeout)
        self.failover = failover
        self._ctx = context or zmq.Context.instance()
        self._key = key  # (public, secret) Z85, or None: plain ZeroMQ
        self._server_keys = dict(server_keys or {})
        self._refused = None
        self._lock = threading.RLock()
        self._sock = None
        self._mon = None
        self.endpoint = None
        # A random first endpoint (failover then goes on in order), so a cluster's clients
        # spread their jobs over its nodes instead of all submitting to the first one listed.
        first = random.randrange(len(self.endpoints)) if spread else 0
        self._open(self.endpoints[first])

    # ---- socket lifecycle ----

    def _open(self, endpoint):
        self._close()
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        if self._key is not None:
            server = self._server_keys.get(endpoint)
            if server is None:
                sock.close(0)
                raise errors.InvalidArgument(
                    "no public key of the node at %s (server_keys, or the cluster file)" % endpoint)
            sock.curve_publickey = self._key[0].encode()
            sock.curve_secretkey = self._key[1].encode()
            sock.curve_serverkey = server.encode()
        self._refused = None
        # The monitor is attached before the connect, or the first refusal goes unreported.
        self._mon = sock.get_monitor_socket(_MONITOR_EVENTS)
        try:
            sock.connect(endpoint)
        except zmq.ZMQError as e:
            sock.close(0)
            self._mon.close(0)
            self._mon = None
            raise errors.InvalidArgument("bad endpoint %r: %s" % (endpoint, e))
        self._sock = sock
        self.endpoint = endpoint
        self._connected = False
        self._ever_connected = False
        self._lost_since_send = False

    def _close(self):
        if self._sock is not None:
            try:
                self._sock.disable_monitor()
            except zmq.ZMQError:
                pass
            self._sock.close(0)
            self._sock = None
        if self._mon is not None:
            self._mon.close(0)
            self._mon = None

    def close(self):
        with self._lock:
            self._close()

    def use_endpoint(self, endpoint):
        """Talk to `endpoint` from now on (a worker keeps its poll and its control connection
        on the node it registered with)."""
        with self._lock:
            if endpoint != self.endpoint:
                self._open(endpoint)

    def _drain_monitor(self):
        while self._mon.poll(0):
            event = recv_monitor_message(self._mon)["event"]
            if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self._refused = "the node at %s refused this client's key%s: no principal " \
                    "there holds it" % (self.endpoint, " " + self._key[0] if self._key else "")
            elif event in (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
                           zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL):
                self._refused = ("the node at %s requires a CURVE key, and this client has none "
                                 "(key_file or $JOBNET_KEY)" % self.endpoint if self._key is None
                                 else "the CURVE handshake with the node at %s failed: is its "
                                 "public key the one given here?" % self.endpoint)
            if event == zmq.EVENT_CONNECTED:
                self._connected = self._ever_connected = True
            elif event in (zmq.EVENT_CONNECT_RETRIED, zmq.EVENT_DISCONNECTED):
                self._connected = False
                self._lost_since_send = True

    # ---- requests ----

    def call(self, kind, body, extra_timeout=0.0):
        """Sends one request and returns (reply kind, reply body). An error reply is raised as
        its JobnetError; with failover, an endpoint that does not answer is left for the next
        (each tried once per call). Blocks at most request_timeout + extra_timeout per endpoint
        that accepts the connection but does not answer."""
        with self._lock:
            if self._sock is None:
                raise errors.Unavailable("the client is closed")
            tries = len(self.endpoints) if self.failover else 1
            start = self.endpoints.index(self.endpoint) if self.endpoint in self.endpoints else 0
            last = None
            for k in range(tries):
                if k > 0:
                    try:
                        self._open(self.endpoints[(start + k) % len(self.endpoints)])
                    except errors.JobnetError as e:
                        last = e
                        continue
                try:
                    return self._call_once(kind, body, extra_timeout)
                except _NotAnswered as e:
                    last = e.error
            raise last

    def _call_once(self, kind, body, extra_timeout):
        corr = next(self._corr)
        frame = pack(kind, corr, body)
        if len(frame) > FRAME_BYTES_MAX:
            raise errors.TooLarge("request is %d bytes; the limit is %d" % (len(frame),
                                                                             FRAME_BYTES_MAX))
        # A refusal from before this request may be stale on a socket that was connected once:
        # the node may be back by the next attempt, which then delivers the request.
        self._drain_monitor()
        if self._ever_connected:
            self._lost_since_send = False
        try:
            self._sock.send(frame, zmq.NOBLOCK)
        except zmq.Again:
            raise errors.Overloaded("client send queue is full")
        timeout = self.request_timeout + extra_timeout
        deadline = time.monotonic() + timeout
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._mon, zmq.POLLIN)
        while True:
            lost = not self._connected and self._lost_since_send
            left = 0 if lost else max(0.0, deadline - time.monotonic())
            ready = dict(poller.poll(int(left * 1000)))
            if self._sock in ready:
                parts = self._sock.recv_multipart()
                rkind, rcorr, rbody = unpack(parts[-1])
                if rcorr != corr:
                    continue  # a late reply to a request given up on
                if rkind == ERROR:
                    raise errors.error_for(rbody.get("code", 0), rbody.get("message", ""))
                return rkind, rbody
            if self._refused:
                raise _NotAnswered(errors.PermissionDenied(self._refused))
            if lost:
                raise _NotAnswered(errors.Unavailable(
                    "cannot reach %s: connection refused or lost" % self.endpoint))
            if not ready and time.monotonic() >= deadline:
                raise _NotAnswered(errors.Timeout(
                    "no reply from %s within %d ms" % (self.endpoint, timeout * 1000)))
            self._drain_monitor()


def expect(reply, kind):
    rkind, body = reply
    if rkind != kind:
        raise errors.Corruption("unexpected reply kind %d (wanted %d)" % (rkind, kind))
    return body
