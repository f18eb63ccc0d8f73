#!/usr/bin/env python3
"""difffuzz: random operations on layerfs and on the kernel's overlayfs,
over the same generated lower layers; every result and, now and then, the
whole merged view must be the same on both.

    difffuzz.py --layerfs PATH --dir DIR [--seed N] [--ops N] [--opts ,OPT...]
                [--workers N] [--nochrdev FSOPS]

(make fuzz runs many seeds; tests/differential.bats a few.)

Needs root (the kernel mount, trusted.* xattrs, whiteout devices), or,
with --userns, root of a user namespace with a mount namespace of its
own and uid and gid 1000 mapped (as rootless podman runs; run by root
of the initial namespace, it makes one itself, with ids 0-65535). DIR
must be empty or absent; the script mounts DIR/kernel and DIR/layerfs
and unmounts them before it exits. On a difference it prints the seed,
the operations so far and the difference, and exits 1. At the end, both
uppers must hold the same objects (no copy-up the kernel did not make,
or the other way round), the view must stay the same across a remount of
layerfs, and when the kernel mounts layerfs's upper as the top lower
layer.

Names come from a small pool, so operations keep meeting names that
exist in some layers, are whited out in others, or sit in opaque
directories. Known, documented differences are not exercised: a
directory rename the kernel refuses with EXDEV is not done on layerfs
either (layerfs would do it); with noopen, a write of nothing (not
truncating) is done on neither, nor an open for writing without O_TRUNC,
since the open alone copies up on the kernel and not on layerfs (a
hard-linked lower file keeps its link count); without the writeback
cache, root does not write to or fallocate a set-id file with a file
capability (layerfs drops the set-id bits with the capability, see
README); with --userns, nothing writes to, truncates or fallocates a
file with a file capability and more than one name (the kernel's
overlay with userxattr makes each name an inode of its own, and one
that a write found without security xattrs skips the check after the
capability was set through another name: the capability stays, where
layerfs and a local file system drop it), and no other user or root
without capabilities acts on a regular file with more than one name (the
second name's inode there keeps the owner and mode it had when it was
first looked up, and its permission checks follow them); fallocate's
collapse and insert range, which FUSE refuses (EOPNOTSUPP), are done on
the kernel's overlay only where layerfs failed otherwise; with the
writeback cache SEEK_DATA/SEEK_HOLE tell only what lies past the end
(the kernel's FUSE shows no holes); with --nochrdev no character device
is made; a listing read with seekdir/telldir while names come and go is
judged by what POSIX promises (the two list in different orders); and
times and inode numbers are not compared, but for the times utimensat
sets or leaves (UTIME_NOW, UTIME_OMIT) and the inode number a file open
across its copy-up keeps.

The operations are in fuzzops.py, beside this script (its directory is
on sys.path when run as python3 tests/tools/difffuzz.py); each runs as
root, as a user (uid 1000), or as root without capabilities.

With --workers N, N processes each apply --ops random operations to
layerfs alone, at once, where no result can be foretold; then only the
last two checks are made: the view stays the same across a remount, and
the kernel reads the upper as layerfs showed it. Workers store through
no mapping (a truncation by another would end the worker with SIGBUS).

With --nochrdev, layerfs may not make character devices (a seccomp
filter), as where whiteout devices are refused: it writes .wh. files,
which the last check turns into devices for the kernel.
"""
import argparse
import ctypes
import errno
import hashlib
import os
import random
import stat
import subprocess
import sys
import time

# no __pycache__ beside the script (it is run by root in a user's tree)
sys.dont_write_bytecode = True
import fuzzops
from fuzzops import (ACLS, FALLOC, FALLOC_MODES, FALLOC_UNPASSED, FILECAP,
                     MKNOD, OPEN_FLAGS, OPS, RENAME_FLAGS, USER, libc, open_nonempty,
                     phantom, result, result_as_user, result_without_caps)

NAMES = ["a", "b", "c", "d"]
MAXDEPTH = 3
# relative and never above the directory holding the link: following one
# must stay inside the mount (both mounts would otherwise share the file)
LINKS = ["a", "b/c", "x", "d/../a"]
# the kernel's features that layerfs does not have, off whatever the
# kernel's defaults (as KOPTS in tests/helpers.bash)
KOPTS = "redirect_dir=off,index=off,metacopy=off"
# the xattr that makes a lower directory opaque (user.overlay.opaque and
# the kernel's userxattr with --userns)
OPAQUE = "trusted.overlay.opaque"
# from Linux 6.7 the kernel's overlay takes its own attributes through the
# mount (escaped); before, it refuses them
ESCAPES = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2]) >= (6, 7)

# the paths of the kernel's view at its last snapshot: half the paths
# of the operations are taken from them, so that they meet files and
# directories (most names of the pool exist in no layer); operations on
# file data take regular files
existing = []
existing_files = []
existing_dirs = []
DATA_OPS = ("write", "read", "held_read", "truncate", "fallocate", "setcap",
            "mmap_write", "write_setcap", "copy_range", "write_unlink", "write_punch",
            "falloc_mode", "clone", "link_write", "held_ino", "held_truncate", "seek_hole")


def note_existing(view):
    existing[:] = sorted(view)
    existing_files[:] = [p for p in existing if view[p][0] == stat.S_IFREG]
    existing_dirs[:] = [p for p in existing if view[p][0] == stat.S_IFDIR]


def rand_dir(rng):
    """An existing directory most of the time (never the root)."""
    if existing_dirs and rng.random() < 0.8:
        return rng.choice(existing_dirs)
    return rand_path(rng)


def rand_target(rng):
    """A name to rename or link to: now and then an existing object (a
    directory over another, maybe empty or holding only whiteouts)."""
    if existing and rng.random() < 0.3:
        return rng.choice(existing)
    return rand_path(rng)


def rand_path(rng, depth=None, files=False):
    pool = existing_files if files and existing_files else existing
    if pool and depth is None and rng.random() < 0.5:
        return rng.choice(pool)
    depth = depth or rng.randint(1, MAXDEPTH)
    return "/".join(rng.choice(NAMES) for _ in range(depth))


def rand_data(rng):
    n = rng.choice([0, 1, 7, 100, 4096, 5000, 70000])
    return bytes(rng.getrandbits(8) for _ in range(min(n, 64))) * (n // 64 + 1)


# ---- lower layers -------------------------------------------------------

def build_layer(rng, root, layer, below):
    """Fill ROOT (layer LAYER, 1 = top) with random objects; BELOW is the
    set of paths that exist in the layers underneath."""
    made = set()
    for _ in range(40):
        p = rand_path(rng)
        full = os.path.join(root, p)
        parent = os.path.dirname(full)
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError:
            continue  # a file or a dangling symlink on the way
        if os.path.lexists(full):
            continue
        kind = rng.random()
        try:
            if layer < 3 and p in below and kind < 0.25:
                os.mknod(full, stat.S_IFCHR | 0o000, os.makedev(0, 0))
            elif kind < 0.55:
                with open(full, "wb") as f:
                    f.write(rand_data(rng))
                os.chmod(full, rng.choice([0o644, 0o600, 0o755, 0o444, 0o4755, 0o2755]))
                if rng.random() < 0.2:
                    os.setxattr(full, "user.fuzz", b"v%d" % layer)
                if rng.random() < 0.15:
                    os.setxattr(full, "security.capability", FILECAP)
            elif kind < 0.8:
                os.mkdir(full)
                if layer < 3 and p in below and rng.random() < 0.4:
                    os.setxattr(full, OPAQUE, b"y")
            elif kind < 0.9:
                os.symlink(rng.choice(LINKS), full)
            else:
                # in name order: a set's order follows Python's string
                # hashes, which change from run to run
                others = [q for q in sorted(made) if os.path.isfile(os.path.join(root, q))
                          and not os.path.islink(os.path.join(root, q))]
                if others:
                    os.link(os.path.join(root, rng.choice(others)), full)
                else:
                    open(full, "wb").close()
        except OSError:
            continue
        made.add(p)
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            made.add(os.path.relpath(os.path.join(dirpath, n), root))
    return made


def shown_args(name, a):
    """A's data as its length, for the log."""
    return tuple(len(x) if isinstance(x, bytes) and name != "xattr" else x for x in a)


def rand_op(rng):
    name = rng.choice(list(OPS) + ["write", "write", "stat", "listdir"])
    p = rand_path(rng, files=name in DATA_OPS)
    if name == "write":
        return name, (p, rand_data(rng), rng.choice(["trunc", "append", "middle"]))
    if name == "held_read":
        return name, (p, b"more")
    if name == "mmap_write":
        return name, (p, rng.choice([0, 5, 4090, 5000]), rng.choice([b"M", b"mapped" * 200]))
    if name in ("write_setcap", "write_unlink"):
        return name, (p, rand_data(rng))
    if name == "copy_range":
        return name, (p, rand_path(rng), rng.choice([0, 1, 4096, 5000]),
                      rng.choice([1, 100, 70000]))
    if name == "write_punch":
        return name, (p, rng.choice(list(FALLOC)), rng.choice([0, 50, 4096, 8192]),
                      rng.choice([1, 100, 4096, 20000]))
    if name == "write_rename":
        return name, (p, rand_path(rng), rand_data(rng))
    if name in ("rename", "link"):
        return name, (p, rand_target(rng))
    if name == "rename2":
        return name, (p, rand_target(rng), rng.choice(list(RENAME_FLAGS)))
    if name == "falloc_mode":
        return name, (p, rng.choice(list(FALLOC_MODES)), rng.choice([0, 50, 4096, 8192]),
                      rng.choice([1, 100, 4096, 20000]))
    if name == "clone":
        return name, (p, rand_path(rng))
    if name == "link_write":
        return name, (p, rand_path(rng), rand_data(rng) or b"x")
    if name == "held_ino":
        return name, (p, rng.choice([0o600, 0o644, 0o755]))
    if name == "held_truncate":
        return name, (p, rng.choice([0, 1, 4096, 5000, 100000]), rng.choice(["path", "fd"]))
    if name == "utimens":
        return name, (p, rng.choice(["now", "omit", rng.randrange(1, 1 << 32)]),
                      rng.choice(["now", "omit", rng.randrange(1, 1 << 32)]), rng.random() < 0.3)
    if name == "mknod":
        return name, (p, rng.choice(list(MKNOD)))
    if name == "access":
        return name, (p, rng.choice([os.F_OK, os.R_OK, os.W_OK, os.X_OK, os.R_OK | os.W_OK]),
                      "/" if rng.random() < 0.1 else "")
    if name == "dir_user":
        return name, (rand_dir(rng), rng.choice([0, USER]), rng.choice([0o755, 0o777, 0o1777, 0o700, 0o500]),
                      rng.choice(NAMES))
    if name == "seek_hole":
        return name, (p, rng.choice([0, 4096, 8192]), rng.choice([4096, 8192, 40000]))
    if name == "acl":
        which = rng.choice(["access", "default"])
        return name, (rand_dir(rng) if which == "default" else p, which,
                      rng.choice([None] + list(ACLS)))
    if name == "rmtree":
        return name, (rand_dir(rng),)
    if name == "readdir_seek":
        return name, (rng.choice(["", rand_dir(rng)]), rng.randint(0, 3), rng.randint(0, 3),
                      "n" + rng.choice(NAMES), rng.choice([None, 0, 1, 2]))
    if name == "utime":
        return name, (p, rng.randrange(1, 1 << 40) * 1000)
    if name == "symlink":
        return name, (rng.choice(LINKS), p)
    if name == "chmod":
        return name, (p, rng.choice([0o600, 0o644, 0o755, 0o700, 0o4755, 0o2775, 0o3777]))
    if name == "chown":
        return name, (p, rng.choice([-1, 0, 1000]), rng.choice([-1, 0, 1000]))
    if name == "fallocate":
        return name, (p, rng.choice([0, 100, 5000]), rng.choice([1, 4096, 70000]))
    if name == "truncate":
        return name, (p, rng.choice([0, 1, 4096, 100000]))
    if name == "xattr":
        return name, (p, rng.choice([None, b"x", b"longer value"]),
                      rng.choice(["user.fuzz", "user.fuzz", "trusted.fuzz", OPAQUE] if ESCAPES
                                 else ["user.fuzz", "trusted.fuzz"]))
    if name == "open":
        access = rng.choice(["r", "r", "w", "rw", "tmpfile", "path"])
        extra = [x for x in OPEN_FLAGS if rng.random() < 0.15]
        return name, (p, access, extra, "/" if rng.random() < 0.1 else "", rand_path(rng))
    if name == "listdir":
        return name, (rng.choice(["", p.rsplit("/", 1)[0]]),)
    return name, (p,)


# ---- operations left out (the known differences above) ------------------

def filecap_stat(path):
    """The stat of a regular file with a file capability, else None."""
    try:
        st = os.stat(path)
        os.getxattr(path, "security.capability")
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


# the operations that write file data (and so may clear set-id bits and
# a file capability)
WRITES = ("write", "held_read", "fallocate", "write_setcap", "copy_range",
          "write_rename", "write_unlink", "write_punch", "falloc_mode",
          "link_write", "held_truncate", "seek_hole")


def written(name, a):
    """The path whose data operation NAME with arguments A changes."""
    return a[1] if name in ("copy_range", "clone") else a[0]


def linked(path):
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_nlink > 1


def linked_with_filecap(path):
    st = filecap_stat(path)
    return st is not None and st.st_nlink > 1


def setid_with_filecap(path):
    st = filecap_stat(path)
    return st is not None and bool(st.st_mode & (stat.S_ISUID | stat.S_ISGID))


# ---- the whole view -----------------------------------------------------

def snapshot(m):
    view = {}
    for dirpath, dirs, files in os.walk(m):
        dirs.sort()
        for n in sorted(dirs + files):
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, m)
            if phantom(full):
                continue
            st = os.lstat(full)
            item = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                    st.st_uid, st.st_gid]
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    item += [st.st_size, st.st_nlink, hashlib.sha1(f.read()).hexdigest()]
            elif stat.S_ISLNK(st.st_mode):
                item.append(os.readlink(full))
            else:
                item.append(st.st_nlink)
            for x in ("user.fuzz", "trusted.fuzz", "security.capability", OPAQUE,
                      "system.posix_acl_access", "system.posix_acl_default"):
                try:
                    item.append(os.getxattr(full, x, follow_symlinks=False))
                except OSError:
                    pass
            # the names a program sees: none of the overlay's own
            item.append(sorted(os.listxattr(full, follow_symlinks=False)))
            view[rel] = item
    return view


def upper_objects(u):
    """What an upper layer holds: each path's type, whiteouts (a 0/0
    device or a .wh. file) as such. Opacity is left out: the kernel makes
    a directory opaque when it is made where a lower layer has a whiteout,
    layerfs only where a lower directory would show through."""
    out = {}
    for dirpath, dirs, files in os.walk(u):
        for n in dirs + files:
            full = os.path.join(dirpath, n)
            st = os.lstat(full)
            if n == ".wh..wh..opq":
                continue
            if n.startswith(".wh."):
                n, kind = n[4:], "whiteout"
            elif stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                kind = "whiteout"
            else:
                kind = stat.S_IFMT(st.st_mode)
            out[os.path.relpath(os.path.join(dirpath, n), u)] = kind
    return out


def diff_views(k, l):
    out = []
    for p in sorted(set(k) | set(l)):
        if k.get(p) != l.get(p):
            out.append("  %s: kernel %r, layerfs %r" % (p, k.get(p), l.get(p)))
    return out


# ---- mounts -------------------------------------------------------------

def initial_userns():
    """Whether this process is in the initial user namespace, the one that
    maps every id to itself."""
    with open("/proc/self/uid_map") as f:
        return f.read().split() == ["0", "0", "4294967295"]


CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
# the ids a user namespace of difffuzz's own maps (each to itself)
NS_IDS = 65536


def enter_userns():
    """Move into a new user namespace, ids 0 to NS_IDS - 1 mapped to
    themselves, and a mount namespace of its own: --userns run by root
    of the initial namespace. Outside one, layerfs, really root, would
    write trusted.overlay.* markers (as the kernel's overlay without
    userxattr does), which the kernel's overlay with userxattr beside it
    reads as plain xattrs, and show opaque directories that overlay
    does not honour. A child left outside writes the maps (an
    unprivileged process could map only itself)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(w)
            if os.read(r, 1) == b"u":
                ns = "/proc/%d/" % os.getppid()
                for name in ("uid_map", "gid_map"):
                    with open(ns + name, "w") as f:
                        f.write("0 0 %d\n" % NS_IDS)
                code = 0
        finally:
            os._exit(code)
    os.close(r)
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0:
        e = ctypes.get_errno()
        os.close(w)
        os.waitpid(pid, 0)
        sys.exit("difffuzz: --userns: unshare: %s" % os.strerror(e))
    os.write(w, b"u")
    os.close(w)
    if os.waitpid(pid, 0)[1] != 0 or initial_userns():
        sys.exit("difffuzz: --userns: could not map the ids of a user namespace")


def mounted(m):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == m for line in f)


def umount(m):
    if not mounted(m):
        return
    for cmd in (["umount", m], ["umount", "-l", m]):
        if subprocess.run(cmd, stderr=subprocess.DEVNULL).returncode == 0:
            break
    for _ in range(100):
        if not mounted(m):
            return
        time.sleep(0.05)


def layerfs_cmd(args):
    """layerfs, behind fsops nochrdev with --nochrdev"""
    if args.nochrdev:
        return [args.nochrdev, "nochrdev", args.layerfs]
    return [args.layerfs]


def chardev_whiteouts(src, dst):
    """Copy the upper SRC to DST with each .wh.NAME file turned into the
    0/0 device NAME, the only form of whiteout the kernel reads. Returns
    the names that had both forms."""
    subprocess.run(["cp", "-a", src, dst], check=True)
    both = []
    for dirpath, dirs, files in os.walk(dst):
        for n in files:
            if not n.startswith(".wh.") or n == ".wh..wh..opq":
                continue
            target = os.path.join(dirpath, n[4:])
            os.unlink(os.path.join(dirpath, n))
            if os.path.lexists(target):
                both.append(os.path.relpath(target, dst))
                continue
            os.mknod(target, stat.S_IFCHR | 0o600, 0)
    return both


def mount_both(args, d):
    lower = ":".join(os.path.join(d, "lower", "l%d" % i) for i in (1, 2, 3))
    km, lm = os.path.join(d, "kernel"), os.path.join(d, "layerfs")
    for x in ("ku", "kw", "lu", "lw"):
        os.makedirs(os.path.join(d, x), exist_ok=True)
    os.makedirs(km, exist_ok=True)
    os.makedirs(lm, exist_ok=True)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    "lowerdir=%s,upperdir=%s/ku,workdir=%s/kw,%s" % (lower, d, d, KOPTS),
                    km], check=True)
    subprocess.run(layerfs_cmd(args) + ["-o",
                    "lowerdir=%s,upperdir=%s/lu,workdir=%s/lw%s" % (lower, d, d, args.opts), lm],
                   check=True)
    for _ in range(100):
        if mounted(lm):
            break
        time.sleep(0.05)
    return km, lm


def run_workers(lm, seed, workers, ops, logs):
    """WORKERS processes apply OPS random operations each to LM at once;
    results are not judged, but each worker logs its operations and
    results, with the time they started, to LOGS/wN.log. Returns the
    workers that died."""
    pids = []
    for k in range(workers):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                rng = random.Random(seed * 1000 + k)
                with open(os.path.join(logs, "w%d.log" % k), "w") as log:
                    for i in range(ops):
                        name, a = rand_op(rng)
                        if name == "mmap_write":
                            # another worker's truncation would kill this
                            # one with SIGBUS
                            continue
                        t = time.monotonic()
                        r = result(lambda: OPS[name](lm, a))
                        shown = shown_args(name, a)
                        log.write("%.6f w%d.%d %s %r: %r\n" % (t, k, i, name, shown, r))
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    return [p for p in pids if os.waitpid(p, 0)[1] != 0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layerfs", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ops", type=int, default=300)
    ap.add_argument("--opts", default="", help="more layerfs -o options")
    ap.add_argument("--userns", action="store_true",
                    help="run inside a user namespace (as root of it, with "
                    "uid and gid %d mapped; root of the initial namespace "
                    "makes one): the layers use user.overlay.* "
                    "xattrs, the kernel mounts with userxattr" % USER)
    ap.add_argument("--workers", type=int, default=0,
                    help="apply operations from this many processes at "
                    "once, to layerfs alone")
    ap.add_argument("--nochrdev", metavar="FSOPS",
                    help="run layerfs behind FSOPS nochrdev (tests/tools/fsops): "
                    "it may not make whiteout devices and writes .wh. files")
    args = ap.parse_args()
    if args.userns:
        if initial_userns():
            # the comparison holds only where layerfs runs as rootless
            # podman runs it (user.overlay.*, as the kernel's userxattr)
            if os.geteuid() != 0:
                sys.exit("difffuzz: --userns: run as root, or as root of a user "
                         "namespace (unshare -rm --map-auto)")
            enter_userns()
        global KOPTS, OPAQUE
        KOPTS = KOPTS.replace("redirect_dir=off", "redirect_dir=nofollow") + ",userxattr"
        OPAQUE = "user.overlay.opaque"
    d = os.path.abspath(args.dir)
    os.makedirs(d, exist_ok=True)
    if os.listdir(d):
        sys.exit("difffuzz: %s is not empty" % d)
    os.umask(0o022)
    rng = random.Random(args.seed)
    below = set()
    for layer in (3, 2, 1):
        root = os.path.join(d, "lower", "l%d" % layer)
        os.makedirs(root)
        below |= build_layer(rng, root, layer, below)
    km, lm = mount_both(args, d)
    note_existing(snapshot(km))
    lower = ":".join(os.path.join(d, "lower", "l%d" % i) for i in (1, 2, 3))
    done = []
    failed = []
    # noopen is layerfs's default in a user namespace
    opts = args.opts.split(",")
    noopen = "noopen" in opts or "noopen=1" in opts or \
        (args.userns and "noopen=0" not in opts)
    # the kernel's writeback cache: wherever file data does not pass
    # through (never in a user namespace)
    writeback = (noopen or args.userns or "passthrough=0" in opts) and \
        "writeback=0" not in opts
    fuzzops.WRITEBACK = writeback
    try:
        if args.workers:
            dead = run_workers(lm, args.seed, args.workers, args.ops, d)
            if dead:
                failed.append("%d worker(s) died" % len(dead))
            # on a failure, the last operations of all workers in time order
            for k in range(args.workers):
                with open(os.path.join(d, "w%d.log" % k)) as f:
                    done += f.read().splitlines()
            done.sort()
        for i in range(0 if args.workers else args.ops):
            name, a = rand_op(rng)
            if noopen and (name == "write" and not a[1] and a[2] != "trunc" or
                           name == "open" and a[1] in ("w", "rw") and "trunc" not in a[2]):
                done.append("%d %s %r: nothing written, skipped with noopen" % (i, name, a[0]))
                continue
            # a quarter of the operations run as another user, a tenth
            # as root without capabilities
            r = rng.random()
            run = result_as_user if r < 0.25 else result_without_caps if r < 0.35 else result
            if not writeback and name in WRITES and \
                    run is result and \
                    setid_with_filecap(os.path.join(km, written(name, a))):
                done.append("%d %s %r: set-id with a file capability, by root, " % (i, name, a[0]) +
                            "skipped without the writeback cache")
                continue
            if args.userns and (name in WRITES + ("truncate",) or
                                name == "open" and a[1] in ("w", "rw")) and \
                    linked_with_filecap(os.path.join(km, written(name, a))):
                done.append("%d %s %r: a file capability and more than one name, " % (i, name, a[0]) +
                            "skipped in a user namespace")
                continue
            if args.userns and run is not result and linked(os.path.join(km, a[0])):
                done.append("%d %s %r: by another user, a file with more than one name, " % (i, name, a[0]) +
                            "skipped in a user namespace")
                continue
            if args.nochrdev and name == "mknod" and a[1] == "null":
                done.append("%d %s %r: no character devices with --nochrdev, skipped" % (i, name, a))
                continue
            if args.userns and name == "link_write" and \
                    (run is not result or filecap_stat(os.path.join(km, a[0]))):
                done.append("%d %s %r: a second name, then a write by another user or " % (i, name, a[0]) +
                            "to a file with a file capability, skipped in a user namespace")
                continue
            if name == "falloc_mode" and a[1] in FALLOC_UNPASSED:
                # layerfs first: FUSE refuses these modes before the
                # daemon (README), the kernel's overlay passes them on
                rl = run(lambda: OPS[name](lm, a))
                if rl == ("err", errno.errorcode[errno.EOPNOTSUPP]):
                    # but the open for writing copies up (not with
                    # noopen, where the kernel's overlay would)
                    if not noopen:
                        run(lambda: os.close(open_nonempty(os.path.join(km, a[0]))))
                    done.append("%d %s %r: EOPNOTSUPP on layerfs, only opened on the kernel" % (i, name, a[:2]))
                    continue
                rk = run(lambda: OPS[name](km, a))
            else:
                rk = run(lambda: OPS[name](km, a))
                if name in ("rename", "rename2") and rk == ("err", "EXDEV"):
                    done.append("%d %s %r: kernel EXDEV, skipped" % (i, name, a[:2]))
                    continue
                rl = run(lambda: OPS[name](lm, a))
            shown = shown_args(name, a)
            who = {result_as_user: " (user)", result_without_caps: " (no caps)"}.get(run, "")
            done.append("%d %s%s %r: %r" % (i, name, who,
                                               shown, rk))
            if rk != rl:
                failed.append("op %d %s %r: kernel %r, layerfs %r" % (i, name, shown, rk, rl))
                break
            if i % 25 == 24 or i == args.ops - 1:
                view = snapshot(km)
                note_existing(view)
                diffs = diff_views(view, snapshot(lm))
                if diffs:
                    failed.append("views differ after op %d:" % i)
                    failed += diffs[:20]
                    break
        if not failed and not args.workers:
            # nothing copied up, whited out or made that the kernel did not
            diffs = diff_views(upper_objects(os.path.join(d, "ku")),
                               upper_objects(os.path.join(d, "lu")))
            if diffs:
                failed.append("the uppers hold different objects:")
                failed += diffs[:20]
        if not failed:
            # what layerfs wrote reads back the same after a remount
            before = snapshot(lm)
            umount(lm)
            subprocess.run(layerfs_cmd(args) + ["-o", "lowerdir=%s,upperdir=%s/lu,workdir=%s/lw%s" % (
                lower, d, d, args.opts), lm], check=True)
            diffs = diff_views(before, snapshot(lm))
            if diffs:
                failed.append("layerfs view changed across a remount:")
                failed += diffs[:20]
        if not failed:
            # and the kernel reads the upper as layerfs shows it (the upper
            # as the top lower layer: what podman commits as a layer)
            umount(lm)
            umount(km)
            top = os.path.join(d, "lu")
            if args.nochrdev:
                top = os.path.join(d, "lu-chardev")
                both = chardev_whiteouts(os.path.join(d, "lu"), top)
                if both:
                    failed.append("the upper has both a .wh. file and the name: %s" % both)
            subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                            "lowerdir=%s:%s,%s" % (top, lower, KOPTS), km], check=True)
            diffs = diff_views(snapshot(km), before)
            if diffs:
                failed.append("the kernel reads layerfs's upper differently:")
                failed += diffs[:20]
    finally:
        umount(lm)
        umount(km)
    if failed:
        print("difffuzz: seed %d" % args.seed)
        print("\n".join(done[-40:]))
        print("\n".join(failed))
        sys.exit(1)
    if args.workers:
        print("difffuzz: seed %d, %d workers of %d operations, the same after a remount "
              "and through the kernel" % (args.seed, args.workers, args.ops))
    else:
        print("difffuzz: seed %d, %d operations, same results" % (args.seed, args.ops))


if __name__ == "__main__":
    main()
