#!/usr/bin/env python3
"""Keeps the shared cargo target directory from filling the disk.

Every change to the workspace's crates (or their features) leaves the previous build's
artifacts behind under a new hash: tens of gigabytes after a few days of commits, and a CI
run once died with "No space left on device". Cargo has no stable garbage collection for a
target directory, so this removes what a build can no longer use:

- for the workspace's own crates, tests, examples and benches: all but the newest few
  builds of each (a crate is legitimately built a few ways at once: as a library, as its
  own unit-test binary, under clippy, with other features);
- leftovers of interrupted builds (codegen-unit object files);
- when the disk is still short of space, third-party builds no build has written for days
  that are not the newest of their name (rebuilding one costs seconds).

A profile another build is using right now (its `.cargo-lock` held, by another checkout's
`make test`, say) is left alone.
"""

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time

KEEP_OWN = 4
# Examples are binaries of ~800 MB (line tables): two builds of each, beside what clippy
# leaves there (metadata only, small), which is counted apart.
KEEP_OWN_EXAMPLES = 2
LOW_SPACE = 20 * 1024**3
STALE_AFTER = 3 * 24 * 3600

ARTIFACT = re.compile(r"^(?:lib)?(?P<name>[A-Za-z0-9_]+?)-(?P<hash>[0-9a-f]{16})(?P<rest>\..*)?$")


def own_names():
    out = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    names = set()
    for package in json.loads(out)["packages"]:
        names.add(package["name"].replace("-", "_"))
        for target in package["targets"]:
            names.add(target["name"].replace("-", "_"))
    return names


def groups(directory):
    """(name, hash) -> (newest mtime, [paths]) for the hashed artifacts in one directory."""
    found = {}
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return found
    for entry in entries:
        m = ARTIFACT.match(entry.name)
        if not m:
            continue
        try:
            mtime = entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue
        key = (m["name"], m["hash"])
        newest, paths = found.get(key, (0.0, []))
        paths.append(entry.path)
        found[key] = (max(newest, mtime), paths)
    return found


def metadata_only(paths):
    """Whether a build left only metadata (a check or clippy build), no linked output."""
    return all(p.endswith((".rmeta", ".d")) for p in paths)


def remove(paths):
    freed = 0
    for path in paths:
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                freed += sum(
                    os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs
                )
                shutil.rmtree(path, ignore_errors=True)
            else:
                freed += os.path.getsize(path)
                os.remove(path)
        except FileNotFoundError:
            pass
    return freed


def in_use(profile):
    """Whether a cargo build holds this profile directory's lock now."""
    lock = os.path.join(profile, ".cargo-lock")
    if not os.path.exists(lock):
        return False
    with open(lock, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def artifact_dirs(target):
    for root, dirs, _ in os.walk(target):
        if in_use(root):
            print(f"target directory: {root} is being built; left alone")
            dirs[:] = []
            continue
        for d in list(dirs):
            if d in ("deps", "examples"):
                yield os.path.join(root, d)
        # Only profile directories hold deps/ and examples/; no need to descend into them.
        dirs[:] = [d for d in dirs if d not in ("deps", "examples", "build", "incremental", "site")]


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def prune(target, own):
    freed = 0
    now = time.time()
    low = free_bytes(target) < LOW_SPACE
    for directory in artifact_dirs(target):
        by_name = {}
        for (name, _), (mtime, paths) in groups(directory).items():
            by_name.setdefault(name, []).append((mtime, paths))
        examples = os.path.basename(directory) == "examples"
        for name, builds in by_name.items():
            builds.sort(key=lambda b: b[0], reverse=True)
            if name in own and examples:
                # A check build's metadata must not push a linked binary out of the two kept.
                linked = [b for b in builds if not metadata_only(b[1])]
                checked = [b for b in builds if metadata_only(b[1])]
                doomed = linked[KEEP_OWN_EXAMPLES:] + checked[KEEP_OWN_EXAMPLES:]
            elif name in own:
                doomed = builds[KEEP_OWN:]
            elif low:
                doomed = [b for b in builds[1:] if now - b[0] > STALE_AFTER]
            else:
                doomed = []
            for _, paths in doomed:
                freed += remove(paths)
        # An interrupted build leaves its codegen units behind.
        for entry in os.scandir(directory):
            if entry.name.endswith(".rcgu.o"):
                freed += remove([entry.path])
    return freed


def main():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/devpulse/target")
    if not os.path.isdir(target):
        return 0
    freed = prune(target, own_names())
    left = free_bytes(target)
    print(f"target directory: freed {freed / 1024**3:.1f} GiB, {left / 1024**3:.1f} GiB free on its disk")
    if left < 5 * 1024**3:
        print(
            "warning: under 5 GiB free; a full build needs about 15 GiB and `make test` ~5 GiB more",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
