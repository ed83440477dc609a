#!/usr/bin/env python3
"""Checks the Kubernetes manifests (deploy/kubernetes) and the Dockerfile against the server.

- every manifest parses and is valid against the Kubernetes API's own schema (the
  kubernetes-validate package carries the schemas; strict: unknown fields fail);
- every kustomization names files that exist, and its patches name resources and keys the
  base has (overlays are checked as they patch the base; their output is not re-validated
  against the schemas, which would need kustomize itself);
- an overlay that can run more than one replica (replicas or its autoscaler) sets REDIS_URL;
- every environment variable the server reads is in the ConfigMap or the Secret (set, or
  named in a comment with its default);
- the probes name ports the container has (its http port is the ConfigMap's PORT), and their
  paths answer 200 on a real server (the binary in DEVPULSE_SERVER_BIN, on its embedded
  PostgreSQL);
- the pods run as the image's numeric user, and the image defaults to production.

Usage: check-deploy.py (from the repository root; make test runs it).
"""

import glob
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import kubernetes_validate
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy", "kubernetes")
KUBERNETES = "1.33.0"
errors = []


def fail(message):
    errors.append(message)


def documents(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def resources_of(directory, seen=None):
    """The resources a kustomization directory builds, before its own patches: (file, doc)."""
    seen = seen or set()
    kfile = os.path.join(directory, "kustomization.yaml")
    (k,) = documents(kfile)
    out = []
    for entry in k.get("resources", []):
        path = os.path.normpath(os.path.join(directory, entry))
        if os.path.isdir(path):
            if not os.path.exists(os.path.join(path, "kustomization.yaml")):
                fail(f"{kfile}: {entry} has no kustomization.yaml")
                continue
            out.extend(resources_of(path, seen))
        elif os.path.isfile(path):
            out.extend((path, d) for d in documents(path))
        else:
            fail(f"{kfile}: resource {entry} does not exist")
    return out


def find(resources, kind, name):
    return [d for _, d in resources if d.get("kind") == kind and d["metadata"]["name"] == name]


def validate_schema(path, doc):
    try:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as e:
        fail(f"{os.path.relpath(path, ROOT)}: {doc.get('kind')} {doc['metadata'].get('name')}: {e.message} at {list(e.path)}")


def effective(directory):
    """What an overlay runs: its resources with its replicas, deletions and JSON patches."""
    (k,) = documents(os.path.join(directory, "kustomization.yaml"))
    resources = resources_of(directory)
    docs = [dict(d) for _, d in resources]
    for r in k.get("replicas", []):
        found = [d for d in docs if d["metadata"]["name"] == r["name"] and "replicas" in d.get("spec", {})]
        if not found:
            fail(f"{directory}: replicas names {r['name']}, which has no replicas")
        for d in found:
            d["spec"] = dict(d["spec"], replicas=r["count"])
    for p in k.get("patches", []):
        target = p.get("target", {})
        matches = [d for d in docs if d.get("kind") == target.get("kind") and d["metadata"]["name"] == target.get("name")]
        if not matches:
            fail(f"{directory}: a patch names {target}, which the base does not have")
            continue
        patch = yaml.safe_load(p["patch"])
        if isinstance(patch, dict) and patch.get("$patch") == "delete":
            docs = [d for d in docs if not any(d is m for m in matches)]
            continue
        if not isinstance(patch, list):
            fail(f"{directory}: only JSON patches and `$patch: delete` are understood here")
            continue
        for op in patch:
            keys = [k.replace("~1", "/").replace("~0", "~") for k in op["path"].split("/") if k]
            for d in matches:
                node = d
                for key in keys[:-1]:
                    node = node.get(key) if isinstance(node, dict) else None
                if not isinstance(node, dict):
                    fail(f"{directory}: {op['op']} {op['path']}: the base has no such place")
                    continue
                if op["op"] in ("replace", "remove") and keys[-1] not in node:
                    fail(f"{directory}: {op['op']} {op['path']}: the base has no such key")
                if op["op"] == "remove":
                    node.pop(keys[-1], None)
                else:
                    node[keys[-1]] = op["value"]
    return docs


def env_read_by_server():
    names = set()
    for path in glob.glob(os.path.join(ROOT, "server", "src", "**", "*.rs"), recursive=True):
        with open(path) as f:
            text = f.read()
        names.update(
            re.findall(r'"((?:DEVPULSE|DATABASE|REDIS|OTLP|OTEL|LOG|LEPTOS)_[A-Z0-9_]+|HOST|PORT)"', text)
        )
    return names


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def probe_paths_answer(paths):
    binary = os.environ.get("DEVPULSE_SERVER_BIN")
    if not binary:
        fail("DEVPULSE_SERVER_BIN is not set: the probes cannot be tried on a real server")
        return
    port = free_port()
    with tempfile.TemporaryDirectory(dir=os.path.join(ROOT, ".data")) as data:
        os.chmod(data, 0o755)
        env = dict(
            os.environ,
            DATABASE_URL="",
            PORT=str(port),
            DEVPULSE_DATA_DIR=data,
            DEVPULSE_DEMO="0",
            RUST_LOG="warn",
        )
        server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for path in sorted(paths):
                status, deadline = None, time.time() + 90
                while time.time() < deadline:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                            status = r.status
                            break
                    except Exception as e:
                        status = getattr(e, "code", None)
                        if server.poll() is not None:
                            break
                        time.sleep(0.5)
                if status != 200:
                    fail(f"probe path {path} answered {status} on a real server, not 200")
        finally:
            server.terminate()
            server.wait(timeout=60)
            subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "stop", os.path.join(data, "postgres")], check=False)


def main():
    kustomizations = sorted(glob.glob(os.path.join(DEPLOY, "**", "kustomization.yaml"), recursive=True))
    if not kustomizations:
        fail("no kustomization.yaml under deploy/kubernetes")
    listed = set()
    for kfile in kustomizations:
        for path, doc in resources_of(os.path.dirname(kfile)):
            if path not in listed:
                # Each file once, though the base is in every overlay.
                for d in documents(path):
                    validate_schema(path, d)
            listed.add(path)
    for path in glob.glob(os.path.join(DEPLOY, "**", "*.yaml"), recursive=True):
        if path.endswith(".example.yaml"):
            # Examples (the Secret's keys) are applied by hand, never by a kustomization.
            if path in listed:
                fail(f"{os.path.relpath(path, ROOT)} is an example, yet a kustomization applies it")
            for d in documents(path):
                validate_schema(path, d)
            listed.add(path)
        elif os.path.basename(path) != "kustomization.yaml" and path not in listed:
            fail(f"{os.path.relpath(path, ROOT)} is in no kustomization")

    base = os.path.join(DEPLOY, "base")
    overlays = [os.path.dirname(k) for k in kustomizations if os.path.dirname(k) != base]
    for directory in [base] + overlays:
        docs = effective(directory)
        name = os.path.relpath(directory, DEPLOY)
        deployments = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "devpulse"]
        if len(deployments) != 1:
            fail(f"{name}: has {len(deployments)} devpulse Deployments")
            continue
        replicas = deployments[0]["spec"].get("replicas", 1)
        hpa = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
        most = max([replicas] + [h["spec"]["maxReplicas"] for h in hpa])
        config = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "devpulse"]
        redis = config and config[0].get("data", {}).get("REDIS_URL")
        if most > 1 and not redis:
            fail(f"{name}: up to {most} replicas without REDIS_URL (live updates and rate limits need it)")
        if most > 1 and not [d for d in docs if d["kind"] == "PodDisruptionBudget"]:
            fail(f"{name}: several replicas but no PodDisruptionBudget")
        print(f"{name}: {replicas} replicas (up to {most}), Redis {'set' if redis else 'unset'}")

    documented = ""
    for f in ("configmap.yaml", "secret.example.yaml"):
        with open(os.path.join(base, f)) as fh:
            documented += fh.read()
    for var in sorted(env_read_by_server()):
        if not re.search(rf"\b{var}\b", documented):
            fail(f"the server reads {var}, which neither base/configmap.yaml nor base/secret.example.yaml names")

    (deployment,) = find(resources_of(base), "Deployment", "devpulse")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == "server"]
    ports = {p["name"] for p in container["ports"]}
    (config,) = find(resources_of(base), "ConfigMap", "devpulse")
    http = [p["containerPort"] for p in container["ports"] if p["name"] == "http"]
    if http != [int(config["data"]["PORT"])]:
        fail(f"the container's http port {http} is not the ConfigMap's PORT {config['data']['PORT']}")
    paths = set()
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        get = container.get(probe, {}).get("httpGet")
        if not get:
            fail(f"the server container has no HTTP {probe}")
            continue
        if get["port"] not in ports:
            fail(f"{probe} names port {get['port']}, which the container lacks")
        paths.add(get["path"])
    if container["readinessProbe"]["httpGet"]["path"] != "/readyz":
        fail("readiness must be /readyz (it checks the database); /healthz says only that the process is up")
    probe_paths_answer(paths)

    with open(os.path.join(ROOT, "Dockerfile")) as f:
        dockerfile = f.read()
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    if users != [str(pod["securityContext"]["runAsUser"])]:
        fail(f"the image runs as {users}, the pods as {pod['securityContext']['runAsUser']}: use one numeric user")
    if "DEVPULSE_ENV=production" not in dockerfile:
        fail("the image's default environment must be production")

    if errors:
        print("\n".join(f"error: {e}" for e in errors), file=sys.stderr)
        return 1
    print(f"deploy/kubernetes: {len(listed)} files valid against Kubernetes {KUBERNETES}; probes {sorted(paths)} answer 200")
    return 0


if __name__ == "__main__":
    sys.exit(main())
