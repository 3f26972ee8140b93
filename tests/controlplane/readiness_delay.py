#!/usr/bin/env python3
"""Readiness delay of `ovaboot apply` against `tests/controlplane/up DIR`.

Usage: readiness_delay.py DIR OVABOOT CONFIG WORK RUNS

Each run applies a fresh object set in a namespace of its own (a Deployment, a
Job, a Service and a root HTTPProxy routing to it), so every waited-for object
changes status after the apply: kwok makes the pod Ready and the Job's pod
Succeeded, the real controllers update the Deployment and Job, Contour marks
the HTTPProxy valid. This script watches those kinds in that namespace itself
(started before the apply, one HTTPS watch per kind) and stamps each event as
it arrives. The last status change the apply waited for is the latest of the
moments each object was first seen ready; the delay is from that moment to the
apply's exit. Prints one line per run, then the median and the maximum.
"""

import http.client
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
import uuid

KINDS = [  # (kind, collection path under the namespace, readiness rule)
    ("Deployment", "/apis/apps/v1/namespaces/{ns}/deployments", "deployment"),
    ("Job", "/apis/batch/v1/namespaces/{ns}/jobs", "job"),
    ("HTTPProxy", "/apis/projectcontour.io/v1/namespaces/{ns}/httpproxies", "httpproxy"),
]


def ready(rule, obj):
    """The same rules as src/cluster/readiness.rs, for the objects made here."""
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    conditions = status.get("conditions") or []
    if rule == "deployment":
        want = spec.get("replicas", 1)
        return (
            status.get("observedGeneration", -1) >= meta.get("generation", 0)
            and status.get("updatedReplicas", 0) >= want
            and status.get("replicas", 0) <= status.get("updatedReplicas", 0)
            and status.get("availableReplicas", 0) >= want
        )
    if rule == "job":
        return any(c.get("type") == "Complete" and c.get("status") == "True" for c in conditions)
    valid = next((c for c in conditions if c.get("type") == "Valid"), {})
    return (
        status.get("currentStatus") == "valid"
        and valid.get("observedGeneration") == meta.get("generation")
    )


class Watch(threading.Thread):
    """One watch of a collection; `ready_at[name]`: when an object was first seen ready."""

    def __init__(self, port, ctx, path, rule):
        super().__init__(daemon=True)
        self.conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=120)
        self.path, self.rule = path, rule
        self.opened = threading.Event()
        self.ready_at = {}
        self.error = None
        self.sock = None

    def run(self):
        try:
            self.conn.request("GET", self.path + "?watch=true&timeoutSeconds=120")
            resp = self.conn.getresponse()
            if resp.status != 200:
                raise RuntimeError(f"watch {self.path}: HTTP {resp.status}")
            self.sock = self.conn.sock
            self.opened.set()
            for line in resp:
                at = time.monotonic()
                event = json.loads(line)
                obj = event.get("object", {})
                name = obj.get("metadata", {}).get("name")
                if event.get("type") in ("ADDED", "MODIFIED") and name not in self.ready_at:
                    if ready(self.rule, obj):
                        self.ready_at[name] = at
        except Exception as e:  # reported by the caller
            self.error = e
            self.opened.set()

    def close(self):
        # A shutdown ends the blocked read at once (closing the connection would wait
        # for the reader's lock, until the watch times out).
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.join(5)


def manifests(ns):
    labels = {"app": "web"}
    pod = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]},
    }
    job_pod = {
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "once", "image": "registry.invalid/once:1"}],
        }
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": pod},
        },
        {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"selector": labels, "ports": [{"name": "http", "port": 80}]},
        },
        {
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "once", "namespace": ns},
            "spec": {"backoffLimit": 0, "template": job_pod},
        },
        {
            "apiVersion": "projectcontour.io/v1", "kind": "HTTPProxy",
            "metadata": {"name": "root", "namespace": ns},
            "spec": {
                "virtualhost": {"fqdn": f"{ns}.bench.example.net"},
                "routes": [{"conditions": [{"prefix": "/"}],
                            "services": [{"name": "web", "port": 80}]}],
            },
        },
    ]


def main():
    cp_dir, ovaboot, config, work, runs = sys.argv[1:6]
    ports = dict(l.strip().split("=", 1) for l in open(os.path.join(cp_dir, "ports")) if "=" in l)
    port = int(ports["APISERVER_PORT"])
    pki = os.path.join(cp_dir, "pki")
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
    ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
    delays = []
    for run in range(1, int(runs) + 1):
        ns = f"bench-ready-{uuid.uuid4().hex[:8]}"
        folder = os.path.join(work, ns)
        os.makedirs(os.path.join(folder, "manifests"))
        for i, obj in enumerate(manifests(ns)):
            name = f"{i:02}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
            with open(os.path.join(folder, "manifests", name), "w") as f:
                json.dump(obj, f)
        watches = [Watch(port, ctx, path.format(ns=ns), rule) for _, path, rule in KINDS]
        for w in watches:
            w.start()
        for w in watches:
            w.opened.wait(30)
            if w.error or not w.opened.is_set():
                sys.exit(f"readiness delay: {w.path}: {w.error or 'watch not open within 30 s'}")
        started = time.monotonic()
        with open(os.path.join(folder, "apply.err"), "w") as err:
            rc = subprocess.run(
                [ovaboot, "apply", "--from", folder, "--kubeconfig",
                 os.path.join(cp_dir, "kubeconfig"), "--config", config],
                stdout=subprocess.DEVNULL, stderr=err,
            ).returncode
        exited = time.monotonic()
        if rc != 0:
            sys.exit(f"readiness delay: apply exited {rc}; see {folder}/apply.err")
        # Our own watches may see the last event a moment after the apply's: wait for it
        # (a condition, bounded), not for time.
        deadline = time.monotonic() + 10
        while any(not w.ready_at for w in watches) and time.monotonic() < deadline:
            time.sleep(0.01)
        missing = [w.path for w in watches if not w.ready_at]
        if missing:
            sys.exit(f"readiness delay: never saw ready: {missing}")
        last = max(t for w in watches for t in w.ready_at.values())
        delay = (exited - last) * 1000
        delays.append(delay)
        print(f"run {run}: apply took {exited - started:.2f} s; exit {delay:.0f} ms after "
              f"the last status change it waited for")
        for w in watches:
            w.close()
        subprocess.run(
            [os.path.join(os.environ["CP_BIN"], "kubectl"), "--kubeconfig",
             os.path.join(cp_dir, "kubeconfig"), "delete", "namespace", ns, "--wait=false"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    print(f"readiness delay ms: median {statistics.median(delays):.0f}, max {max(delays):.0f} "
          f"({len(delays)} runs)")


if __name__ == "__main__":
    main()
