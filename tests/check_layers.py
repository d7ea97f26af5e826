#!/usr/bin/env python3
"""Fails when an #include in the product sources points up a layer, or sideways between two
folders of the same layer, or brings CAF or ZeroMQ into a folder that must stay free of them,
or when a plain assert() (compiled out by NDEBUG) is left in them.

The layer order is written in docs/architecture.md ("Layers"); LAYERS below is the same table.
A folder may include its own files and any folder of a lower layer, nothing else.

Usage: check_layers.py ROOT          check the tree at ROOT
       check_layers.py --self-test   prove the checker catches what it should
"""
import os
import re
import sys
import tempfile

# folder -> layer, bottom first. Same number = siblings that must not meet.
LAYERS = {
    "base": 0,                # always-on checks, exit codes
    "protocol": 1,            # messages, codec, limits: std + msgpack
    "client": 2,              # the client library: protocol + cppzmq
    "core": 2,                # pure state machines (scheduler, forwarding)
    "storage": 2,             # the RocksDB journal
    "coord": 2,               # consensus from etcd: client and coordination primitives
    "handlers": 2,            # job types, the place users extend
    "actors": 3,              # CAF actors
    "http": 3,                # the HTTP face: a protocol client of its node (client + RESTinio)
    "node": 4,                # node runtime: config, transport, wiring
    "cluster": 5,             # the local cluster runner, the chaos tool (below the CLI)
    "bench": 5,               # the benchmark programs
    "cli": 6,                 # the command line: client commands, journal tool, `jobnet cluster`
    "app": 7,                 # the binary's entry point
}
# Public headers (include/jobnet/) belong to the folder that implements them.
PUBLIC = {
    "include/jobnet/status.h": "protocol",
    "include/jobnet/job.h": "protocol",
    "include/jobnet/queue.h": "protocol",
    "include/jobnet/events.h": "protocol",
    "include/jobnet/limits.h": "protocol",
    "include/jobnet/client.h": "client",
    "include/jobnet/keys.h": "client",
}
SOURCE_DIRS = ["base", "protocol", "client", "core", "storage", "coord", "handlers", "actors", "http", "node",
               "cluster", "bench", "cli", "app", "include"]
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
# Folders below the actors that the node's threads and other programs reuse: no CAF, no ZeroMQ
# (docs/architecture.md "Layers"). The client library is the one layer-2 user of cppzmq.
NO_CAF_ZMQ = {"base", "protocol", "core", "storage", "coord"}
CAF_ZMQ_RE = re.compile(r'^\s*#\s*include\s*<(caf/[^>]*|zmq[^>]*)>')
ASSERT_RE = re.compile(r'(^|[^_A-Za-z0-9])assert\s*\(')


def unit_of(path):
    """The layer key of a repository-relative path, or None if it is not in a layer."""
    if path in PUBLIC:
        return PUBLIC[path]
    top = path.split("/", 1)[0]
    return top if top in LAYERS else None


def check(root):
    problems = []
    for d in SOURCE_DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for name in sorted(files):
                if not name.endswith((".hpp", ".cpp", ".h")):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                src = unit_of(rel)
                if src is None:
                    problems.append(f"{rel}: not in any layer (add it to LAYERS and docs)")
                    continue
                with open(full, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        code = line.split("//", 1)[0]
                        if ASSERT_RE.search(code) and "static_assert" not in code:
                            problems.append(f"{rel}:{lineno}: plain assert() is compiled out "
                                            "under NDEBUG; use JOBNET_CHECK (base/check.hpp)")
                        banned = CAF_ZMQ_RE.match(line)
                        if banned and src in NO_CAF_ZMQ:
                            problems.append(f"{rel}:{lineno}: includes <{banned.group(1)}>: "
                                            f"{src} stays free of CAF and ZeroMQ")
                        m = INCLUDE_RE.match(line)
                        if not m:
                            continue
                        target = m.group(1)
                        # public headers are included as "jobnet/x.h" from include/
                        dst = unit_of("include/" + target if target.startswith("jobnet/")
                                      else target)
                        if dst is None:
                            problems.append(f"{rel}:{lineno}: includes \"{target}\", which is in "
                                            "no layer")
                        elif dst != src and LAYERS[dst] >= LAYERS[src]:
                            way = "up" if LAYERS[dst] > LAYERS[src] else "sideways"
                            problems.append(f"{rel}:{lineno}: includes \"{target}\": {src} "
                                            f"(layer {LAYERS[src]}) -> {dst} (layer "
                                            f"{LAYERS[dst]}) points {way}")
    return problems


def self_test():
    cases = {
        "up": ("storage/a.hpp", '#include "actors/x.hpp"\n', 1),
        "sideways": ("core/a.cpp", '#include "storage/journal.hpp"\n', 1),
        "public client header from protocol": ("protocol/a.hpp", '#include "jobnet/client.h"\n', 1),
        "down": ("actors/a.cpp", '#include "core/x.hpp"\n#include "jobnet/status.h"\n', 0),
        "own folder": ("node/a.cpp", '#include "node/b.hpp"\n', 0),
        "assert": ("core/b.cpp", "void f(int x) { assert(x); }\n", 1),
        "static_assert": ("core/c.cpp", "static_assert(1 == 1, \"\");\n", 0),
        "cli drives the local cluster": ("cli/a.cpp", '#include "cluster/local_cluster.hpp"\n', 0),
        "the local cluster uses the CLI": ("cluster/a.cpp", '#include "cli/json_io.hpp"\n', 1),
        "bench and cluster are siblings": ("bench/a.cpp", '#include "cluster/local_cluster.hpp"\n', 1),
        "unknown folder": ("misc/a.cpp", "", 0),  # not scanned
        "coord without CAF": ("coord/a.cpp", "#include <caf/all.hpp>\n", 1),
        "coord without ZeroMQ": ("coord/a.cpp", "#include <zmq.hpp>\n", 1),
        "coord on storage's level": ("coord/a.cpp", '#include "storage/journal.hpp"\n', 1),
        "coord uses base and protocol": ("coord/a.cpp", '#include "base/base64.hpp"\n'
                                         '#include "jobnet/status.h"\n#include <curl/curl.h>\n', 0),
        "the client may use ZeroMQ": ("client/a.cpp", "#include <zmq.hpp>\n", 0),
    }
    failed = 0
    for label, (rel, text, want) in cases.items():
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, os.path.dirname(rel)))
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
            got = len(check(root))
            if got != want:
                print(f"self-test {label}: {got} problem(s), expected {want}")
                failed += 1
    print("self-test:", "ok" if not failed else f"{failed} case(s) wrong")
    return 1 if failed else 0


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--self-test":
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems = check(sys.argv[1])
    for p in problems:
        print(p)
    print(f"layers: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
