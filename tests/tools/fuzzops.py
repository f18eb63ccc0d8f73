"""fuzzops: the operations of difffuzz.py (beside it, which imports this
module). op_NAME(m, a) does operation NAME with arguments A under the
mount M and returns what it saw; OPS maps the names to them. result()
runs one and gives ("ok", what it returned) or ("err", the errno's
name); result_as_user() and result_without_caps() do so in a child as a
user (uid 1000) or as root without capabilities. difffuzz.py's
rand_op() makes the arguments and runs each operation on both mounts.

The operations: writes (at the end, in the middle, truncating, through
a shared mapping, before and after a rename or an unlink, beside a
reader opened before the copy-up, through a second name of a file),
truncate and ftruncate of open files, fallocate with each mode,
copy_file_range and FICLONE, reads, lseek SEEK_DATA/SEEK_HOLE, open(2)
with various flags (O_TMPFILE linked in), stat, access(2), listings
(also with seekdir/telldir and rewinddir around creates and unlinks),
mkdir, rmdir, a whole tree removed (merged directories left with only
whiteouts), unlink, rename and renameat2 (RENAME_NOREPLACE, _EXCHANGE,
_WHITEOUT; now and then over an existing object), link, symlink, mknod
(FIFOs, sockets, devices, the 0/0 whiteout device), chmod, chown,
utimes, utimensat with UTIME_NOW and UTIME_OMIT, xattrs (user.*,
trusted.*, the overlay's opaque marker) on files, directories and
symlinks, file capabilities, POSIX ACLs (default ones on directories,
and what is made in them), and directories given an owner and a mode
by root and then changed by the user.
"""
import ctypes
import errno
import fcntl
import hashlib
import mmap
import os
import stat
import struct
import time

# whether the kernel's writeback cache is on for layerfs's files (set by
# difffuzz.py's main() before the first operation)
WRITEBACK = False


def result(fn):
    try:
        return ("ok", fn())
    except OSError as e:
        return ("err", errno.errorcode.get(e.errno, str(e.errno)))


USER = 1000


def result_in_child(fn, become):
    """FN's result in a child that first calls BECOME."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            become()
            os.write(w, repr(result(fn)).encode())
        finally:
            os._exit(0)
    os.close(w)
    out = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        out += b
    os.close(r)
    os.waitpid(pid, 0)
    return eval(out.decode()) if out else ("child died",)


def become_user():
    os.setgroups([])
    os.setgid(USER)
    os.setuid(USER)


def result_as_user(fn):
    """As uid and gid USER, no other groups: the permission checks of
    the merged view."""
    return result_in_child(fn, become_user)


def drop_capabilities():
    # capset(2), _LINUX_CAPABILITY_VERSION_3: two sets of (effective,
    # permitted, inheritable), all empty
    hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(ctypes.byref(hdr), ctypes.byref(data)) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def result_without_caps(fn):
    """As root without capabilities (podman --cap-drop=all): the kernel
    checks permissions as for anyone, and the daemon's own decisions
    (set-id bits) must follow the capabilities, not the uid."""
    return result_in_child(fn, drop_capabilities)


# a file capability (cap_net_raw=ep, revision 2): a write or a chown of
# the file must drop it, as the kernel does
FILECAP = struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0)

libc = ctypes.CDLL(None, use_errno=True)
RENAME_FLAGS = {"noreplace": 1, "exchange": 2, "whiteout": 4}


def op_rename2(m, a):
    src, dst, how = a
    if libc.renameat2(-100, os.path.join(m, src).encode(), -100,
                      os.path.join(m, dst).encode(), RENAME_FLAGS[how]) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def op_utime(m, a):
    full = os.path.join(m, a[0])
    os.utime(full, ns=(a[1], a[1] + 7), follow_symlinks=False)
    st = os.lstat(full)
    return st.st_atime_ns, st.st_mtime_ns


def op_write(m, a):
    path, data, how = a
    full = os.path.join(m, path)
    if how == "trunc":
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    elif how == "append":
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    else:
        flags = os.O_RDWR
    fd = os.open(full, flags | os.O_NONBLOCK, 0o644)
    try:
        if how == "middle":
            os.lseek(fd, 3, os.SEEK_SET)
        return os.write(fd, data)
    finally:
        os.close(fd)


def read_all(fd):
    chunks = []
    while True:
        b = os.read(fd, 1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def op_read(m, a):
    # O_NONBLOCK everywhere: a FIFO must not stop the run
    fd = os.open(os.path.join(m, a[0]), os.O_RDONLY | os.O_NONBLOCK)
    try:
        return hashlib.sha1(read_all(fd)).hexdigest()
    finally:
        os.close(fd)


def op_held_read(m, a):
    # a reader opened before a writer (and so before a copy-up) sees the
    # new data, as with the kernel since 4.19
    path, data = a
    full = os.path.join(m, path)
    r = os.open(full, os.O_RDONLY | os.O_NONBLOCK)
    try:
        os.pread(r, 1, 0)
        w = os.open(full, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
        try:
            os.write(w, data)
        finally:
            os.close(w)
        return hashlib.sha1(os.pread(r, 1 << 20, 0)).hexdigest()
    finally:
        os.close(r)


def phantom(path):
    """The kernel's overlayfs can list a name that a lower layer whites out
    in a merged directory while no lookup finds it (seen with Linux 6.18,
    a whiteout over a directory of a lower layer); such a name is no part
    of the view."""
    try:
        os.lstat(path)
        return False
    except FileNotFoundError:
        return True


def op_listdir(m, a):
    d = os.path.join(m, a[0])
    names = os.listdir(d)
    if len(names) != len(set(names)):
        return ("duplicates", sorted(names))
    return sorted(n for n in names if not phantom(os.path.join(d, n)))


def op_stat(m, a):
    st = os.lstat(os.path.join(m, a[0]))
    return (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
            st.st_size if not stat.S_ISDIR(st.st_mode) else None,
            st.st_nlink, st.st_uid, st.st_gid)


def op_rename(m, a):
    os.rename(os.path.join(m, a[0]), os.path.join(m, a[1]))


def op_truncate(m, a):
    os.truncate(os.path.join(m, a[0]), a[1])


def op_xattr(m, a):
    """user.fuzz, or the overlay's own opaque marker: set through a mount
    it is an ordinary attribute, escaped in the upper (Linux 6.7), that
    must not make the directory opaque, then or after a remount."""
    full = os.path.join(m, a[0])
    if a[1] is None:
        os.removexattr(full, a[2], follow_symlinks=False)
    else:
        os.setxattr(full, a[2], a[1], follow_symlinks=False)


def op_fallocate(m, a):
    fd = os.open(os.path.join(m, a[0]), os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.posix_fallocate(fd, a[1], a[2])
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


OPEN_FLAGS = {"creat": os.O_CREAT, "excl": os.O_EXCL, "trunc": os.O_TRUNC,
              "append": os.O_APPEND, "directory": os.O_DIRECTORY,
              "nofollow": os.O_NOFOLLOW}
OPEN_ACCESS = {"r": os.O_RDONLY, "w": os.O_WRONLY, "rw": os.O_RDWR,
               "tmpfile": os.O_TMPFILE | os.O_WRONLY, "path": os.O_PATH}


def op_open(m, a):
    """open(2) with flags the other operations do not use (through
    symlinks, with a trailing slash, O_TMPFILE linked in by name), and
    what the descriptor shows."""
    path, access, extra, slash, link = a
    flags = OPEN_ACCESS[access] | os.O_NONBLOCK
    for x in extra:
        flags |= OPEN_FLAGS[x]
    fd = os.open(os.path.join(m, path) + slash, flags, 0o640)
    try:
        st = os.fstat(fd)
        out = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
               st.st_size if stat.S_ISREG(st.st_mode) else None]
        if access == "tmpfile":
            os.write(fd, b"tmpfile")
            if link.count("/") % 2:
                # linkat(2) with AT_EMPTY_PATH (CAP_DAC_READ_SEARCH)
                out.append(result(lambda: libc.linkat(fd, b"", -100, os.path.join(m, link).encode(),
                                                      0x1000) == 0 or raise_errno()))
            else:
                out.append(result(lambda: os.link("/proc/self/fd/%d" % fd,
                                                  os.path.join(m, link))))
        return out
    finally:
        os.close(fd)


def op_setcap(m, a):
    os.setxattr(os.path.join(m, a[0]), "security.capability", FILECAP,
                follow_symlinks=False)


def open_nonempty(path):
    """PATH opened for reading and writing if it is a non-empty regular
    file, else None (and nothing opened: an open for writing alone copies
    up on the kernel's overlay, and with noopen not on layerfs)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return None
    return os.open(path, os.O_RDWR | os.O_NONBLOCK)


def op_mmap_write(m, a):
    """A store through a shared mapping of a non-empty regular file, which
    the kernel writes back later."""
    path, off, data = a
    fd = open_nonempty(os.path.join(m, path))
    if fd is None:
        return "not a non-empty file"
    try:
        size = os.fstat(fd).st_size
        mm = mmap.mmap(fd, size, mmap.MAP_SHARED)
        try:
            off = off % size
            n = min(len(data), size - off)
            mm[off:off + n] = data[:n]
            mm.flush()
        finally:
            mm.close()
        return hashlib.sha1(read_all(fd)).hexdigest()
    finally:
        os.close(fd)


def op_write_setcap(m, a):
    """A file written and given a capability through its descriptor
    before its close: with a writeback cache the data reaches the file
    system at the close (a setxattr does not write it back first)."""
    path, data = a
    fd = os.open(os.path.join(m, path),
                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK, 0o755)
    try:
        n = os.write(fd, data)
        os.setxattr(fd, "security.capability", FILECAP)
        return n
    finally:
        os.close(fd)


def op_copy_range(m, a):
    """copy_file_range(2) from part of one file into another, made
    empty first (without O_TRUNC an open for writing that copies nothing
    would copy up on the kernel's overlay only, with noopen)."""
    src, dst, off, n = a
    fi = os.open(os.path.join(m, src), os.O_RDONLY | os.O_NONBLOCK)
    try:
        fo = os.open(os.path.join(m, dst),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK, 0o644)
        try:
            return os.copy_file_range(fi, fo, n, off, 3)
        finally:
            os.close(fo)
    finally:
        os.close(fi)


def op_write_rename(m, a):
    """Writes through a descriptor before and after its file is renamed
    (with a writeback cache the data reaches the file system later)."""
    src, dst, data = a
    fd = os.open(os.path.join(m, src),
                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK, 0o644)
    try:
        os.write(fd, data)
        moved = result(lambda: os.rename(os.path.join(m, src), os.path.join(m, dst)))
        os.write(fd, b"after the rename")
        return moved
    finally:
        os.close(fd)


def op_write_unlink(m, a):
    """Writes through a descriptor before and after its file is removed,
    and what the descriptor reads and shows then."""
    path, data = a
    fd = os.open(os.path.join(m, path),
                 os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK, 0o644)
    try:
        os.write(fd, data)
        os.unlink(os.path.join(m, path))
        os.write(fd, b"after the unlink")
        st = os.fstat(fd)
        return (hashlib.sha1(os.pread(fd, 1 << 20, 0)).hexdigest(), st.st_size, st.st_nlink)
    finally:
        os.close(fd)


FALLOC = {"punch": 0x01 | 0x02, "zero": 0x10, "zero_keep": 0x10 | 0x01}


def op_write_punch(m, a):
    """A write through a descriptor, then a hole punched or a range zeroed
    over part of it and what the descriptor reads then (the written pages
    may still be in a writeback cache)."""
    path, how, off, n = a
    fd = open_nonempty(os.path.join(m, path))
    if fd is None:
        return "not a non-empty file"
    try:
        os.pwrite(fd, b"w" * 9000, 100)
        if libc.fallocate(fd, FALLOC[how], ctypes.c_long(off), ctypes.c_long(n)) < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        return (hashlib.sha1(read_all(fd)).hexdigest(), os.fstat(fd).st_size)
    finally:
        os.close(fd)


def raise_errno():
    e = ctypes.get_errno()
    raise OSError(e, os.strerror(e))


# fallocate(2) modes beyond plain allocation; collapse and insert range
# never reach a FUSE daemon (EOPNOTSUPP, README): they are done on the
# kernel's overlay only where layerfs did not refuse them so
FALLOC_MODES = {"keep": 0x01, "punch": 0x01 | 0x02, "zero": 0x10,
                "zero_keep": 0x10 | 0x01, "collapse": 0x08, "insert": 0x20}
FALLOC_UNPASSED = ("collapse", "insert")


def op_falloc_mode(m, a):
    """fallocate(2) with a mode, on a descriptor held open for reading
    and writing, and what it reads and shows then."""
    path, how, off, n = a
    fd = open_nonempty(os.path.join(m, path))
    if fd is None:
        return "not a non-empty file"
    try:
        if libc.fallocate(fd, FALLOC_MODES[how], ctypes.c_long(off), ctypes.c_long(n)) < 0:
            raise_errno()
        return (hashlib.sha1(os.pread(fd, 1 << 20, 0)).hexdigest(), os.fstat(fd).st_size)
    finally:
        os.close(fd)


FICLONE = 0x40049409


def op_clone(m, a):
    """ioctl(FICLONE) of one file into another made empty first: the
    backing file systems here have no reflinks, so both refuse, but
    with the same errno (EXDEV, EBADF, EISDIR...)."""
    src, dst = a
    fi = os.open(os.path.join(m, src), os.O_RDONLY | os.O_NONBLOCK)
    try:
        fo = os.open(os.path.join(m, dst),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK, 0o644)
        try:
            fcntl.ioctl(fo, FICLONE, fi)
        finally:
            os.close(fo)
    finally:
        os.close(fi)


def op_link_write(m, a):
    """A second name for a file (a lower one breaks its links to other
    lower names at the copy-up), a write through the new name, and what
    both names show then."""
    src, dst, data = a
    s, d = os.path.join(m, src), os.path.join(m, dst)
    os.link(s, d, follow_symlinks=False)
    fd = os.open(d, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    out = []
    for p in (s, d):
        st = os.lstat(p)
        with open(p, "rb") as f:
            out.append((hashlib.sha1(f.read()).hexdigest(), st.st_size, st.st_nlink))
    return out


def op_held_ino(m, a):
    """A file kept open for reading across its copy-up (a chmod by path):
    its st_ino stays the same through the descriptor and the path."""
    path, mode = a
    full = os.path.join(m, path)
    fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    try:
        before = os.fstat(fd).st_ino
        os.chmod(full, mode)
        return (os.fstat(fd).st_ino == before, os.lstat(full).st_ino == before,
                stat.S_IMODE(os.fstat(fd).st_mode))
    finally:
        os.close(fd)


def op_held_truncate(m, a):
    """truncate(2) by path or ftruncate(2) of a file held open for
    reading and writing, a write through the descriptor past the new
    end, and what the descriptor reads and shows then."""
    path, size, how = a
    full = os.path.join(m, path)
    fd = open_nonempty(full)
    if fd is None:
        return "not a non-empty file"
    try:
        os.pread(fd, 10, 0)
        if how == "path":
            os.truncate(full, size)
        else:
            os.ftruncate(fd, size)
        os.pwrite(fd, b"past", size + 10)
        st = os.fstat(fd)
        return (hashlib.sha1(os.pread(fd, 1 << 20, 0)).hexdigest(), st.st_size)
    finally:
        os.close(fd)


UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
AT_SYMLINK_NOFOLLOW = 0x100


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def op_utimens(m, a):
    """utimensat(2) with UTIME_NOW or UTIME_OMIT for either time (which
    a user may also use on another's file it may write, when both are
    UTIME_NOW), and which time moved: kept, set to the value, or now."""
    path, at, mt, follow = a
    full = os.path.join(m, path)
    before = os.lstat(full) if not follow else os.stat(full)
    ts = (Timespec * 2)()
    for t, spec in zip(ts, (at, mt)):
        t.tv_sec, t.tv_nsec = (0, UTIME_NOW) if spec == "now" else \
            (0, UTIME_OMIT) if spec == "omit" else (spec, 5)
    start = time.time_ns() - 2 * 10**9
    if libc.utimensat(-100, full.encode(), ts, 0 if follow else AT_SYMLINK_NOFOLLOW) < 0:
        raise_errno()
    st = os.lstat(full) if not follow else os.stat(full)
    out = []
    for spec, old, new, atime in ((at, before.st_atime_ns, st.st_atime_ns, True),
                                  (mt, before.st_mtime_ns, st.st_mtime_ns, False)):
        if spec == "omit":
            # an atime may move on by itself (relatime: a listing of a
            # directory after a change in it), and the kernel's FUSE may
            # show a cached one before the call: only a move back counts
            out.append("kept" if new == old or (new > old and atime) else "moved")
        elif spec == "now":
            out.append("now" if new >= start else "not now")
        else:
            out.append("set" if new == spec * 10**9 + 5 else "not set")
    return out


MKNOD = {"fifo": (stat.S_IFIFO, 0), "sock": (stat.S_IFSOCK, 0),
         "null": (stat.S_IFCHR, os.makedev(1, 3)),
         "whiteout": (stat.S_IFCHR, os.makedev(0, 0)),
         "blk": (stat.S_IFBLK, os.makedev(7, 200))}


def op_mknod(m, a):
    """mknod(2) of each kind; a 0/0 character device, the overlay's
    whiteout, is refused through the mount."""
    path, kind = a
    mode, dev = MKNOD[kind]
    os.mknod(os.path.join(m, path), mode | 0o640, dev)


def op_access(m, a):
    """access(2): the permission checks the overlay makes on lower
    objects as the caller, with a trailing slash now and then."""
    path, mode, slash = a
    return os.access(os.path.join(m, path) + slash, mode)


def op_dir_user(m, a):
    """A directory given an owner and a mode by root, then changed and
    read as the user: a create, a listing, a removal."""
    path, uid, mode, name = a
    d = os.path.join(m, path)
    os.chown(d, uid, uid, follow_symlinks=False)
    os.chmod(d, mode)

    def as_user():
        return (result(lambda: os.close(os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK, 0o600))),
                result(lambda: sorted(n for n in os.listdir(d) if not phantom(os.path.join(d, n)))),
                result(lambda: os.unlink(os.path.join(d, name))),
                result(lambda: os.mkdir(os.path.join(d, name + name))),
                result(lambda: os.rename(os.path.join(d, name + name), os.path.join(d, name))))
    return result_as_user(as_user)


def op_rmtree(m, a):
    """Everything under a directory removed, deepest first and in name
    order, then the directory: the removal of a merged directory whose
    names are all whiteouts, and what each step returned."""
    out = []

    def rm(p):
        full = os.path.join(m, p)
        st = os.lstat(full)
        if stat.S_ISDIR(st.st_mode):
            names = result(lambda: sorted(n for n in os.listdir(full)
                                          if not phantom(os.path.join(full, n))))
            if names[0] == "ok":
                for n in names[1]:
                    rm(os.path.join(p, n))
            else:
                out.append((p, "listdir", names))
            out.append((p, result(lambda: os.rmdir(full))))
        else:
            out.append((p, result(lambda: os.unlink(full))))
    rm(a[0])
    return out


def op_seek_hole(m, a):
    """lseek(2) SEEK_DATA and SEEK_HOLE from a few offsets, after a write
    and a hole punched through the same descriptor (pages the writeback
    cache may still hold)."""
    path, off, n = a
    fd = open_nonempty(os.path.join(m, path))
    if fd is None:
        return "not a non-empty file"
    try:
        os.pwrite(fd, b"s" * 100, 20000)
        if libc.fallocate(fd, FALLOC_MODES["punch"], ctypes.c_long(off), ctypes.c_long(n)) < 0:
            raise_errno()
        size = os.fstat(fd).st_size
        out = []
        for start in (0, 4096, 12288, 20000, 30000):
            if WRITEBACK:
                # the kernel's FUSE answers itself: no holes (README),
                # so only what lies past the end is the same
                out.append(start >= size)
                continue
            for whence in (os.SEEK_DATA, os.SEEK_HOLE):
                out.append(result(lambda: os.lseek(fd, start, whence)))
        return out
    finally:
        os.close(fd)


# POSIX ACLs as the kernel stores them (version 2; tag, permissions, id)
ACL_TAGS = {"user_obj": 1, "user": 2, "group_obj": 4, "group": 8, "mask": 0x10, "other": 0x20}
ACLS = {
    "min": [("user_obj", 7, -1), ("group_obj", 5, -1), ("other", 0, -1)],
    "user": [("user_obj", 7, -1), ("user", 7, USER), ("group_obj", 5, -1),
             ("mask", 7, -1), ("other", 1, -1)],
    "group": [("user_obj", 6, -1), ("group_obj", 4, -1), ("group", 6, USER),
              ("mask", 4, -1), ("other", 4, -1)],
}


def acl_value(name):
    return struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", ACL_TAGS[t], perm, i & 0xffffffff) for t, perm, i in ACLS[name])


def op_acl(m, a):
    """A POSIX ACL set on an object (a default one on a directory: the
    modes and ACLs of what is made in it follow it), or removed; then a
    file and a directory made in it, and their modes."""
    path, which, acl = a
    full = os.path.join(m, path)
    name = "system.posix_acl_" + which
    if acl is None:
        os.removexattr(full, name)
    else:
        os.setxattr(full, name, acl_value(acl))
    st = os.lstat(full)
    out = [stat.S_IMODE(st.st_mode)]
    if stat.S_ISDIR(st.st_mode):
        for made, mk in (("af", lambda p: os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK, 0o666))),
                         ("ad", lambda p: os.mkdir(p, 0o777))):
            p = os.path.join(full, made)
            out.append(result(lambda: mk(p)))
            out.append(result(lambda: stat.S_IMODE(os.lstat(p).st_mode)))
    return out


class Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]


libc.opendir.restype = ctypes.c_void_p
libc.opendir.argtypes = [ctypes.c_char_p]
libc.readdir.restype = ctypes.POINTER(Dirent)
libc.readdir.argtypes = [ctypes.c_void_p]
libc.telldir.restype = ctypes.c_long
libc.telldir.argtypes = [ctypes.c_void_p]
libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
libc.closedir.argtypes = [ctypes.c_void_p]
libc.rewinddir.argtypes = [ctypes.c_void_p]


def op_readdir_seek(m, a):
    """A listing read in part, a position taken (telldir), more read,
    names made and removed, then a seekdir back and the rest read. Names
    made or removed meanwhile may or may not show (POSIX); the others must
    show exactly once before the position or after it, and those read
    after the position must show again after the seekdir, in the same
    order. The result is what broke that, and the names that stayed."""
    path, k, j, new, gone = a
    d = os.path.join(m, path)
    # the name to remove, by name: the two list in different orders
    names = sorted(n for n in os.listdir(d) if not phantom(os.path.join(d, n)))
    victim = names[gone % len(names)] if names and gone is not None else None
    dp = libc.opendir(d.encode())
    if not dp:
        raise_errno()

    def read(n):
        names = []
        while n is None or len(names) < n:
            ctypes.set_errno(0)
            e = libc.readdir(dp)
            if not e:
                if ctypes.get_errno():
                    raise_errno()
                break
            name = e.contents.d_name.decode("utf-8", "surrogateescape")
            if name not in (".", ".."):
                names.append(name)
        return names
    try:
        first = read(k)
        pos = libc.telldir(dp)
        middle = read(j)
        touched = {new}
        changes = [result(lambda: os.close(os.open(os.path.join(d, new), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)))]
        if victim is not None:
            touched.add(victim)
            changes.append(result(lambda: os.unlink(os.path.join(d, victim))))
        libc.seekdir(dp, pos)
        rest = read(None)
        # after a rewinddir the listing is the directory's now (the
        # descriptor was opened before its copy-up, maybe)
        libc.rewinddir(dp)
        rewound = set(n for n in read(None) if not phantom(os.path.join(d, n)))
    finally:
        libc.closedir(dp)
    now = set(n for n in os.listdir(d) if not phantom(os.path.join(d, n)))
    kept = now - touched
    broken = []
    seen = first + rest
    for n in sorted(kept):
        if seen.count(n) != 1:
            broken.append((n, "seen %d times" % seen.count(n)))
    for n in sorted(set(seen) - kept - touched):
        if not phantom(os.path.join(d, n)):
            broken.append((n, "not in the directory"))
    if rewound != now:
        broken.append(("after a rewinddir", sorted(rewound ^ now)))
    again = [n for n in rest if n in set(middle) and n in kept]
    if again != [n for n in middle if n in kept]:
        broken.append(("after the seekdir", "read %r, then %r" % (middle, rest)))
    return (sorted(kept), [c[0] for c in changes], broken)


OPS = {
    "write": op_write,
    "read": op_read,
    "held_read": op_held_read,
    "listdir": op_listdir,
    "stat": op_stat,
    "mkdir": lambda m, a: os.mkdir(os.path.join(m, a[0]), 0o755),
    "rmdir": lambda m, a: os.rmdir(os.path.join(m, a[0])),
    "unlink": lambda m, a: os.unlink(os.path.join(m, a[0])),
    "rename": op_rename,
    "link": lambda m, a: os.link(os.path.join(m, a[0]), os.path.join(m, a[1]),
                                 follow_symlinks=False),
    "symlink": lambda m, a: os.symlink(a[0], os.path.join(m, a[1])),
    "chmod": lambda m, a: os.chmod(os.path.join(m, a[0]), a[1]),
    "chown": lambda m, a: os.chown(os.path.join(m, a[0]), a[1], a[2],
                                   follow_symlinks=False),
    "truncate": op_truncate,
    "xattr": op_xattr,
    "mkfifo": lambda m, a: os.mkfifo(os.path.join(m, a[0]), 0o600),
    "rename2": op_rename2,
    "utime": op_utime,
    "setcap": op_setcap,
    "fallocate": op_fallocate,
    "open": op_open,
    "mmap_write": op_mmap_write,
    "write_setcap": op_write_setcap,
    "copy_range": op_copy_range,
    "write_rename": op_write_rename,
    "write_unlink": op_write_unlink,
    "write_punch": op_write_punch,
    "falloc_mode": op_falloc_mode,
    "clone": op_clone,
    "link_write": op_link_write,
    "held_ino": op_held_ino,
    "held_truncate": op_held_truncate,
    "utimens": op_utimens,
    "mknod": op_mknod,
    "access": op_access,
    "dir_user": op_dir_user,
    "rmtree": op_rmtree,
    "readdir_seek": op_readdir_seek,
    "seek_hole": op_seek_hole,
    "acl": op_acl,
}
