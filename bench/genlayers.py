#!/usr/bin/env python3
"""Generate the benchmark's input data, deterministically from a seed.

    genlayers.py OUT [--files N] [--rm-entries N] [--untar N]
                     [--mount-layers N] [--seed S]

Creates, under OUT (which must not exist yet):

  layers/l1 l2 l3   three lower layers, l1 top-most, l3 the base.
                    tree/a/... and tree/b/...: N small files (0-16 KiB,
                    mostly small) in directories 3-6 levels deep, spread
                    over the layers and merged; some names shadowed by a
                    higher layer; whiteouts (char 0:0) and one opaque
                    directory (trusted.overlay.opaque=y) in l2; relative
                    symlinks; hard links inside l3.
                    rm/...: a lower tree of about --rm-entries entries
                    (files in l3 and l2) for the rm -rf workload.
  untar.tar         --untar small files in nested directories (top: u/).
  m/000 ...         --mount-layers small layers for the mount-time rows.

The big files (big/f1g, big/f256 in l3) are written by bench/run with dd.
Needs root (mknod, trusted.* xattrs).  Prints a one-line summary.
"""

import argparse
import io
import os
import random
import sys
import tarfile

KIB = 1024


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        # one random block; file contents are slices of it
        self.block = self.rng.randbytes(1024 * KIB)
        self.counts = {"files": 0, "dirs": 0, "symlinks": 0, "hardlinks": 0,
                       "whiteouts": 0, "shadowed": 0, "opaque": 0}
        self.made_dirs = set()

    def size(self):
        # mostly small: squared uniform puts half the files under 4 KiB
        return int(16 * KIB * self.rng.random() ** 2)

    def data(self, n):
        off = self.rng.randrange(0, len(self.block) - 16 * KIB)
        return self.block[off:off + n]

    def mkdirs(self, path):
        if path in self.made_dirs:
            return
        parent = os.path.dirname(path)
        if parent and parent not in self.made_dirs and not os.path.isdir(parent):
            self.mkdirs(parent)
        os.makedirs(path, exist_ok=True)
        self.made_dirs.add(path)
        self.counts["dirs"] += 1

    def write(self, path, n=None):
        self.mkdirs(os.path.dirname(path))
        with open(path, "wb") as f:
            f.write(self.data(self.size() if n is None else n))
        self.counts["files"] += 1


def make_dirs(g, ndirs):
    """Random directory tree below tree/a and tree/b, for files 3-6 deep.

    Depth counts path components from the mount root: tree/a/f is 3, so
    the directories are 2-5 deep."""
    dirs = [("tree/a", 2), ("tree/b", 2)]
    for i in range(ndirs):
        parent, depth = g.rng.choice([d for d in dirs[-200:] if d[1] < 5] or dirs[:2])
        dirs.append((f"{parent}/d{i}", depth + 1))
    return [d for d, _ in dirs]


def gen_tree(g, layers, nfiles):
    l1, l2, l3 = layers
    dirs = make_dirs(g, max(4, nfiles // 20))
    base_only = []
    for i in range(nfiles):
        d = g.rng.choice(dirs)
        rel = f"{d}/f{i}"
        r = g.rng.random()
        layer = l3 if r < 0.55 else (l2 if r < 0.80 else l1)
        g.write(os.path.join(layer, rel))
        if layer == l3:
            r2 = g.rng.random()
            if r2 < 0.05:      # shadowed by a higher layer
                g.write(os.path.join(g.rng.choice((l1, l2)), rel))
                g.counts["shadowed"] += 1
            elif r2 < 0.07:    # deleted by a whiteout in the middle layer
                p = os.path.join(l2, rel)
                g.mkdirs(os.path.dirname(p))
                os.mknod(p, 0o600 | 0o020000, os.makedev(0, 0))
                g.counts["whiteouts"] += 1
            elif r2 < 0.08:    # a hard link inside the base layer
                os.link(os.path.join(l3, rel), os.path.join(l3, f"{d}/h{i}"))
                g.counts["hardlinks"] += 1
            else:
                base_only.append(rel)
        if g.rng.random() < 0.02:
            p = os.path.join(layer, f"{d}/s{i}")
            os.symlink(f"f{i}" if g.rng.random() < 0.8 else f"../missing{i}", p)
            g.counts["symlinks"] += 1

    # one opaque directory in the middle layer: it hides the base layer's
    # files of that directory and shows a few of its own
    if base_only:
        d = os.path.dirname(g.rng.choice(base_only))
        p = os.path.join(l2, d)
        g.mkdirs(p)
        os.setxattr(p, "trusted.overlay.opaque", b"y")
        for j in range(5):
            g.write(os.path.join(p, f"opq{j}"))
        g.counts["opaque"] += 1


def gen_rm_tree(g, layers, nentries):
    """About nentries entries below rm/, files in l3 and l2, dirs merged."""
    _, l2, l3 = layers
    made = 0
    i = 0
    while made < nentries:
        d = f"rm/r{i // 400}/s{(i // 40) % 10}"
        for layer in (l3, l2):
            g.mkdirs(os.path.join(layer, d))
        made += 1  # the directory
        for j in range(40):
            layer = l3 if (j % 3) else l2
            g.write(os.path.join(layer, f"{d}/f{j}"), g.size() // 4)
        made += 40
        i += 40
    return made


def gen_untar(g, path, nfiles):
    with tarfile.open(path, "w") as tar:
        dirs = set()
        for i in range(nfiles):
            d = f"u/d{i // 500}/e{(i // 50) % 10}"
            parts = d.split("/")
            for k in range(1, len(parts) + 1):
                dd = "/".join(parts[:k])
                if dd not in dirs:
                    ti = tarfile.TarInfo(dd)
                    ti.type = tarfile.DIRTYPE
                    ti.mode = 0o755
                    tar.addfile(ti)
                    dirs.add(dd)
            data = g.data(g.size())
            ti = tarfile.TarInfo(f"{d}/f{i}")
            ti.size = len(data)
            ti.mode = 0o644
            tar.addfile(ti, io.BytesIO(data))


def gen_mount_layers(g, top, n):
    for k in range(n):
        root = os.path.join(top, f"{k:03d}")
        for j in range(20):
            g.write(os.path.join(root, f"usr/lib/p{k}/f{j}"), 512)
        for j in range(5):  # shared names: the top-most one wins
            g.write(os.path.join(root, f"etc/conf{j}"), 64)
        g.mkdirs(os.path.join(root, "var/empty"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--files", type=int, default=70000)
    ap.add_argument("--rm-entries", type=int, default=20000)
    ap.add_argument("--untar", type=int, default=20000)
    ap.add_argument("--mount-layers", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if os.path.exists(a.out):
        sys.exit(f"genlayers: {a.out} exists")
    os.umask(0o022)
    g = Gen(a.seed)
    layers = [os.path.join(a.out, "layers", n) for n in ("l1", "l2", "l3")]
    for layer in layers:
        g.mkdirs(layer)
    gen_tree(g, layers, a.files)
    c = dict(g.counts)
    rm = gen_rm_tree(g, layers, a.rm_entries)
    gen_untar(g, os.path.join(a.out, "untar.tar"), a.untar)
    gen_mount_layers(g, os.path.join(a.out, "m"), a.mount_layers)
    print(f"genlayers: tree {c['files']} files, {c['dirs']} dirs, {c['symlinks']} symlinks, "
          f"{c['hardlinks']} hard links, {c['whiteouts']} whiteouts, "
          f"{c['shadowed']} shadowed, {c['opaque']} opaque dir; rm tree {rm} entries; "
          f"untar {a.untar} files; {a.mount_layers} mount layers")


if __name__ == "__main__":
    main()
