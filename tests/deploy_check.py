#!/usr/bin/env python3
"""deploy/ holds what it says (docs/operations.md "Installing"): checks each file against the
build and the docs, so they cannot drift apart silently.

- jobnet.toml: TOML; every key of docs/operations.md §2's table is in it (set or commented); a node
  started with it (data and listen overridden) serves, tells NOTIFY_SOCKET READY=1 (sd_notify),
  and on SIGTERM STOPPING=1, then drains with exit 0.
- jobnet.service: `systemd-analyze verify` passes (ExecStart pointed at this build's binary),
  Type=notify, SIGTERM is its stop signal, and TimeoutStopSec covers the default drain grace plus the 6 s
  watchdog.
- kubernetes.yaml: a headless Service the StatefulSet names; each pod's start command (run through
  sh with `exec` printing instead) gives the node its pod name as id, advertises its stable name and
  lists the others' as peers; the grace period covers the drain; /readyz and /healthz are its
  probes; one volume per pod holds its journal.
- Dockerfile: Debian 12; the runtime stage installs every shared library jobnet-node needs (ldd,
  mapped to Debian packages, covered by the listed packages and their dependencies).

  deploy_check.py --jobnet BIN --source DIR
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib

import yaml  # Debian python3-yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_hostile import Checks  # noqa: E402

GRACE_S = 10          # limits: the default drain grace (grace_ms 10000)
WATCHDOG_S = 6        # after the grace, the watchdog ends a node whose handler ignores cancel


def seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|min|m)?", text.strip())
    if not m:
        return None
    n, unit = int(m.group(1)), m.group(2) or "s"
    return n / 1000 if unit == "ms" else n * 60 if unit in ("m", "min") else n


def config(c, jobnet, src, tmp):
    path = os.path.join(src, "deploy", "jobnet.toml")
    text = open(path).read()
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        c.check("deploy/jobnet.toml is TOML", False, str(e))
        return
    present = set(re.findall(r"^#?\s*\[*([a-z_.]+)\]*\s*(?:=|$)", text, re.M))
    ops = open(os.path.join(src, "docs", "operations.md")).read()
    section = ops[ops.index("## 2. Configuration file"):ops.index("## 3. Logs")]
    documented = set(re.findall(r"^\| `\[*([a-z_.]+)\]*`", section, re.M))
    missing = sorted(k for k in documented if k not in present)
    c.check("deploy/jobnet.toml has every key of operations.md §2", not missing, missing)
    log = open(os.path.join(tmp, "node.log"), "w")
    # As systemd runs it (Type=notify): READY=1 once it serves, STOPPING=1 when it drains.
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(os.path.join(tmp, "notify"))
    notify.settimeout(30)
    node = subprocess.Popen([jobnet, "node", "--config", path, "--data", os.path.join(tmp, "data"),
                             "--listen", "tcp://127.0.0.1:*"], stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, NOTIFY_SOCKET=os.path.join(tmp, "notify")))
    try:
        try:
            ready = notify.recv(4096).decode()
        except socket.timeout:
            ready = "(nothing within 30 s)"
        c.check("the node tells systemd READY=1 once it serves", ready.startswith("READY=1\n"), ready)
        c.check("a node serves with deploy/jobnet.toml", "listening on" in open(log.name).read(),
                open(log.name).read()[-400:])
        node.send_signal(signal.SIGTERM)
        try:
            stopping = notify.recv(4096).decode()
        except socket.timeout:
            stopping = "(nothing within 30 s)"
        c.check("and STOPPING=1 when it drains", stopping.startswith("STOPPING=1\n"), stopping)
        code = node.wait(timeout=GRACE_S + WATCHDOG_S + 10)
        c.check("it drains on SIGTERM with exit 0", code == 0, code)
    finally:
        notify.close()
        if node.poll() is None:
            node.kill()
            node.wait()
        log.close()


def unit(c, jobnet, src, tmp):
    text = open(os.path.join(src, "deploy", "jobnet.service")).read()
    stop = re.search(r"^TimeoutStopSec=(\S+)", text, re.M)
    c.check("the unit stops with SIGTERM", re.search(r"^KillSignal=SIGTERM$", text, re.M))
    c.check("the unit waits for the node's readiness", re.search(r"^Type=notify$", text, re.M))
    c.check("TimeoutStopSec covers the grace and the watchdog",
            stop and (seconds(stop.group(1)) or 0) >= GRACE_S + WATCHDOG_S, stop and stop.group(1))
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        c.check("systemd-analyze is installed (Debian systemd)", False)
        return
    local = os.path.join(tmp, "jobnet.service")
    with open(local, "w") as f:  # the real unit, run from this build instead of /usr/local/bin
        f.write(text.replace("/usr/local/bin/jobnet", jobnet).replace("User=jobnet", "User=root")
                .replace("Group=jobnet", "Group=root"))
    r = subprocess.run([analyze, "verify", local], capture_output=True, text=True, timeout=60)
    # verify also lints the host's own units it pulls in; only lines about this unit count.
    ours = [l for l in (r.stdout + r.stderr).splitlines() if "jobnet.service" in l]
    c.check("systemd-analyze verify deploy/jobnet.service", not ours, ours)


def kubernetes(c, src):
    docs = [d for d in yaml.safe_load_all(open(os.path.join(src, "deploy", "kubernetes.yaml"))) if d]
    svc = next((d for d in docs if d["kind"] == "Service"), None)
    sts = next((d for d in docs if d["kind"] == "StatefulSet"), None)
    if svc is None or sts is None:
        c.check("kubernetes.yaml has a Service and a StatefulSet", False)
        return
    spec = sts["spec"]
    c.check("the Service is headless", svc["spec"].get("clusterIP") == "None")
    c.check("the StatefulSet names the Service", spec["serviceName"] == svc["metadata"]["name"])
    pod = spec["template"]["spec"]
    c.check("terminationGracePeriodSeconds covers the drain",
            pod.get("terminationGracePeriodSeconds", 30) >= GRACE_S + WATCHDOG_S)
    box = pod["containers"][0]
    c.check("readiness probe is /readyz", box["readinessProbe"]["httpGet"]["path"] == "/readyz")
    c.check("liveness probe is /healthz", box["livenessProbe"]["httpGet"]["path"] == "/healthz")
    claims = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
    mounts = {m["name"]: m["mountPath"] for m in box.get("volumeMounts", [])}
    c.check("one journal volume per pod, mounted", claims and claims <= set(mounts), (claims, mounts))
    script = box["args"][0].replace("exec ", "echo ")
    replicas = spec["replicas"]
    for i in range(replicas):
        name = "%s-%d" % (sts["metadata"]["name"], i)
        out = subprocess.run(["sh", "-c", script], env={"POD_NAME": name, "PATH": "/usr/bin:/bin"},
                             capture_output=True, text=True).stdout.split()
        arg = lambda flag: [out[k + 1] for k in range(len(out) - 1) if out[k] == flag]
        others = ["tcp://%s-%d.%s:7701" % (sts["metadata"]["name"], j, svc["metadata"]["name"])
                  for j in range(replicas) if j != i]
        c.check("%s: id is the pod name" % name, arg("--id") == [name], out)
        c.check("%s: advertises its stable name" % name,
                arg("--advertise") == ["tcp://%s.%s:7701" % (name, svc["metadata"]["name"])], out)
        c.check("%s: the others are its peers" % name, sorted(arg("--peer")) == sorted(others), out)
        c.check("%s: its journal is on its volume" % name,
                any(d.startswith(tuple(mounts.values())) for d in arg("--data")), out)


def dockerfile(c, src, jobnet):
    text = open(os.path.join(src, "deploy", "Dockerfile")).read()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    c.check("the Dockerfile builds and runs on Debian 12", stages and all(s.startswith("debian:12")
                                                                           for s in stages), stages)
    c.check("the image stops with SIGTERM", re.search(r"^STOPSIGNAL SIGTERM$", text, re.M))
    last = text[text.rindex("FROM "):]
    listed = re.findall(r"\b(lib[a-z0-9.+-]+|ca-certificates)\b", last.split("rm -rf")[0])
    deps = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                           "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"]
                          + listed, capture_output=True, text=True).stdout
    covered = {l.strip() for l in deps.splitlines() if not l.startswith(" ")}
    node = os.path.join(os.path.dirname(jobnet), "jobnet-node")
    libs = re.findall(r"=> (/\S+)", subprocess.run(["ldd", node], capture_output=True,
                                                    text=True).stdout)
    needed = set()
    for lib in libs:
        r = subprocess.run(["dpkg", "-S", os.path.realpath(lib)], capture_output=True, text=True)
        if r.returncode != 0:
            r = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
        if r.returncode == 0:
            needed.add(r.stdout.split(":")[0])
    base = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}  # in debian:12-slim itself
    missing = sorted(p for p in needed - base if p not in covered)
    c.check("the runtime stage installs every library jobnet-node loads", needed and not missing,
            missing)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobnet", required=True)
    ap.add_argument("--source", required=True)
    args = ap.parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="jobnet-deploy-")
    try:
        config(c, args.jobnet, args.source, tmp)
        unit(c, args.jobnet, args.source, tmp)
        kubernetes(c, args.source)
        dockerfile(c, args.source, args.jobnet)
    except Exception as e:
        c.failures.append("%s: %s" % (type(e).__name__, e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return c.report("deploy_check")


if __name__ == "__main__":
    sys.exit(main())
