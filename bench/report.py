#!/usr/bin/env python3
"""Turn bench/run's raw measurements into a Markdown table.

    report.py RAW.tsv META.txt > latest.md

RAW.tsv lines: ROW TARGET REP VALUE.  Rows named check:NAME hold values
that must agree between targets; fail:WORKLOAD marks a failed workload.
Each cell is the median over all samples of a row on a target.  Exit
status 1 if a workload failed on layerfs (either target) or a check
value of layerfs differs from the kernel's (other targets' problems are only reported)."""

import statistics
import sys
from collections import defaultdict

TARGETS = ["layerfs", "layerfs-noopen", "fuse-overlayfs", "kernel", "native"]
OURS = ("layerfs", "layerfs-noopen")

# id, label (formatted with the meta values), unit
ROWS = [
    ("mount_3", "mount, 3 layers", "s"),
    ("mount_20", "mount, 20 small layers", "s"),
    ("mount_100", "mount, 100 small layers", "s"),
    ("walk_cold", "walk cold (find -printf '%s %m', {entries} entries)", "s"),
    ("walk_warm", "walk warm", "s"),
    ("lsR_warm", "ls -lR warm", "s"),
    ("read_small_cold", "read all small files cold (tar -c tree \\| wc -c)", "s"),
    ("seqread_cold", "seq read {big1} MiB cold", "s"),
    ("seqread_warm", "seq read {big1} MiB warm", "s"),
    ("seqwrite", "seq write {big1} MiB, bs=1M, conv=fsync", "s"),
    ("copyup", "copy-up {big2} MiB (append 1 byte), default options", "s"),
    ("copyup_nofsync", "copy-up {big2} MiB, fsync=0 (kernel: volatile)", "s"),
    ("untar", "untar {untar} small files", "s"),
    ("rm_tree", "rm -rf a lower tree ({rm_entries} entries)", "s"),
    ("chown_tree", "chown -R a lower tree ({rm_entries} entries, a copy-up each), default options", "s"),
    ("chown_tree_nofsync", "chown -R a lower tree, fsync=0 (kernel: volatile)", "s"),
    ("fio_randread_cold", "fio 4k randread cold, lower file ({big2} MiB), {fio_runtime}", "IOPS"),
    ("fio_randread_warm", "fio 4k randread warm (file cached), {fio_runtime}", "IOPS"),
    ("fio_randwrite", "fio 4k randwrite, new upper file ({fio_mib} MiB), {fio_runtime}", "IOPS"),
    ("lookup_3", "stat every file of tree/ by path, fresh mount", "s"),
    ("lookup_100", "stat by path over 100 small layers (2,000 files, 200 missing names)", "s"),
    ("walk2_serial", "walk tree/a then tree/b, cold", "s"),
    ("walk2_parallel", "walk tree/a and tree/b at once, cold", "s"),
    ("walk2_speedup", "parallel walk speedup (serial / parallel)", "x"),
    ("rss_peak", "daemon peak RSS after the warm walk (VmHWM)", "MiB"),
    ("rss_forget", "daemon RSS after drop_caches=2 (FORGETs)", "MiB"),
]


def fmt(v, unit):
    if v is None:
        return "—"
    if unit == "IOPS":
        return f"{v:.0f}"
    if unit == "MiB":
        return f"{v:.1f}"
    if unit == "x":
        return f"{v:.2f}"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}"


def main():
    raw, metafile = sys.argv[1], sys.argv[2]
    meta = {}
    with open(metafile) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            meta[k] = v
    samples = defaultdict(list)
    checks = defaultdict(set)
    fails = defaultdict(set)
    with open(raw) as f:
        for line in f:
            row, target, rep, value = line.rstrip("\n").split("\t")
            if row.startswith("check:"):
                checks[row[6:]].add((target, value))
            elif row.startswith("fail:"):
                fails[row[5:]].add(f"{target} (rep {rep})")
            elif value:
                samples[(row, target)].append(float(value))

    def med(row, target, unit):
        s = samples.get((row, target))
        if not s:
            return None
        m = statistics.median(s)
        return m / 1024 if unit == "MiB" else m

    out = []
    kind = "QUICK (small data set, smoke test only)" if meta.get("quick") not in ("", "0") else "full"
    out.append(f"## layerfs benchmark, {meta['date']}\n")
    out.append(f"- run: {kind}; {meta['reps']} repetition(s), medians; "
               f"{meta['mount_samples']} mount(s) per repetition for the mount rows")
    out.append(f"- machine: {meta['host']}, {meta['cpu']}, {meta['memory']}, kernel {meta['kernel']}, "
               f"cpuidle {meta.get('cpuidle', 'not recorded')}")
    out.append(f"- layers on: {meta['fs']}")
    out.append(f"- {meta['layerfs']}; fuse-overlayfs {meta['fuse_overlayfs']}; "
               f"libfuse {meta['libfuse']}; {meta['fio']}")
    out.append(f"- data: 3 layers, {meta['files']} small files in tree/ + an rm/ tree of "
               f"{meta['rm_entries']} entries; merged view {meta['entries']} entries; "
               f"big files {meta['big1']} MiB and {meta['big2']} MiB")
    out.append("")
    out.append("| workload | unit | layerfs | layerfs noopen | fuse-overlayfs | kernel | native "
               "| layerfs/kernel | layerfs/fuse-overlayfs | noopen/fuse-overlayfs |")
    out.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for row, label, unit in ROWS:
        vals = {t: med(row, t, unit) for t in TARGETS}
        if all(v is None for v in vals.values()):
            continue
        cells = [fmt(vals[t], unit) for t in TARGETS]
        out.append(f"| {label.format(**meta)} | {unit} | " + " | ".join(cells) +
                   f" | {ratio(vals['layerfs'], vals['kernel'])}"
                   f" | {ratio(vals['layerfs'], vals['fuse-overlayfs'])}"
                   f" | {ratio(vals['layerfs-noopen'], vals['fuse-overlayfs'])} |")
    out.append("")
    out.append("Times in seconds (lower is better), IOPS higher is better; a ratio "
               "is layerfs's value divided by the other's. layerfs noopen: layerfs "
               "-o noopen, the request flow of a rootless mount (no open requests, "
               "the writeback cache, no passthrough). native: a plain directory "
               "holding a copy of the merged view (see bench/README.md per row).")

    # only layerfs's targets decide the exit status; the kernel is the reference
    bad = False
    for wl, where in sorted(fails.items()):
        out.append(f"\n**FAILED**: workload {wl} on {', '.join(sorted(where))}")
        bad = bad or any(w.split(" ")[0] in OURS for w in where)
    for name, pairs in sorted(checks.items()):
        if len({v for _, v in pairs}) > 1:
            detail = ", ".join(f"{t}={v}" for t, v in sorted(pairs))
            out.append(f"\n**CHECK DIFFERS**: {name}: {detail}")
            ref = {v for t, v in pairs if t == "kernel"} or {v for t, v in pairs if t == "native"}
            bad = bad or any(t in OURS and v not in ref for t, v in pairs)
    print("\n".join(out))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
