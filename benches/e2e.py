"""End-to-end benchmark: `driftwatch replay` against the Python peers on the same capture data.

Run through `scripts/bench`, which builds the release binary and the peers' virtual environment
first. Data sets are generated once by `cargo run --release --example generate` and kept in
`--data-dir`:

- busy:  12 mixed features, 1-4 rows per request, 20,000 requests an hour at peak (large
         hourly windows); the throughput target's shape.
- small: the same features at 300 requests an hour at peak (windows of a few hundred rows).
- wide:  100 features, busy, about 1 GB; the memory target's shape.

The slow peers (whylogs row by row, Evidently) read only the first `--slice-mb` MB of the busy
and small sets, and driftwatch reads the same slice for their ratios.

Every command runs `--runs` times; the table shows medians (peak RSS: the largest seen) and
ratios computed from those medians, all from this one run. Peak RSS is the kernel's
`ru_maxrss` of the process (wait4). Results also go to `DATA_DIR/results.json`.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_measured(cmd):
    """Runs `cmd` with its own rusage (os.wait4); returns (wall s, peak RSS KB, stdout)."""
    start = time.perf_counter()
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"driftwatch-bench-{os.getpid()}.out"
    with open(out_path, "w") as out, open(os.devnull, "w") as devnull:
        p = subprocess.Popen(cmd, stdout=out, stderr=devnull)
        _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    text = out_path.read_text()
    out_path.unlink()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed with exit code {code}")
    return wall, usage.ru_maxrss, text


def generate(generator, data_dir, name, mb, features, peak, object_kb=None):
    d = data_dir / name
    stamp = d / "params.json"
    params = {"mb": mb, "features": features, "peak": peak, "max_rows": 4, "object_kb": object_kb}
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return d
    print(f"generating {name}: {mb} MB, {features} features, peak {peak} requests/h", flush=True)
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    cmd = [generator, "--out", d, "--mb", str(mb), "--features", str(features), "--peak", str(peak), "--max-rows", "4"]
    if object_kb:
        cmd += ["--object-kb", str(object_kb)]
    subprocess.run(cmd, check=True)
    stamp.write_text(json.dumps(params))
    return d


def slice_of(d, mb):
    """A capture folder of the first `mb` MB of `d`'s files (symbolic links), in data order."""
    out = d / f"slice-{mb}"
    if out.exists():
        return out
    total, limit = 0, mb * 1e6
    for f in sorted((d / "capture").rglob("*.jsonl")):
        if total >= limit:
            break
        rel = f.relative_to(d / "capture")
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).symlink_to(f)
        total += f.stat().st_size
    return out


def capture_bytes(capture):
    return sum(f.stat().st_size for f in Path(capture).rglob("*.jsonl"))


def driftwatch(binary, capture, baseline, threads, runs):
    walls, rss, rows = [], [], None
    for _ in range(runs):
        wall, kb, out = run_measured(
            [binary, "replay", "--capture", capture, "--baseline", baseline, "--threads", str(threads)]
        )
        walls.append(wall)
        rss.append(kb)
        m = re.search(r"^\S+/\S+\s+(\d+)\s+(\d+)\s+(\d+)", out, re.M)
        rows = int(m.group(3)) if m else None
    return {"wall_s": statistics.median(walls), "walls": walls, "peak_rss_kb": max(rss), "rows": rows}


def peer(python, tool, capture, training, runs):
    results = []
    for _ in range(runs):
        wall, kb, out = run_measured(
            [python, ROOT / "benches/peers.py", "--tool", tool, "--capture", capture, "--training", training]
        )
        r = json.loads(out)
        r["process_wall_s"] = wall
        r["peak_rss_kb"] = kb
        results.append(r)
    med = lambda k: statistics.median(r[k] for r in results)
    return {
        "wall_s": med("wall_s"),
        "parse_s": med("parse_s"),
        "compute_s": med("compute_s"),
        "walls": [r["wall_s"] for r in results],
        "peak_rss_kb": max(r["peak_rss_kb"] for r in results),
        "rows": results[0]["rows"],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target-dir", default=str(ROOT / "target"))
    ap.add_argument("--data-dir", default=os.environ.get("BENCH_DIR", "/tmp/driftwatch-bench"))
    ap.add_argument("--runs", type=int, default=5, help="runs of each driftwatch command")
    ap.add_argument("--peer-runs", type=int, default=3, help="runs of each peer")
    ap.add_argument("--busy-mb", type=int, default=200)
    ap.add_argument("--small-mb", type=int, default=20)
    ap.add_argument("--wide-mb", type=int, default=1000)
    ap.add_argument("--wider-mb", type=int, default=100, help="the 1,000-feature stream")
    ap.add_argument("--slice-mb", type=int, default=10, help="the slice the slow peers (and driftwatch, for the ratio) read")
    ap.add_argument("--python", default=sys.executable, help="the peers' interpreter")
    ap.add_argument("--driftwatch-only", action="store_true", help="leave the Python peers out")
    args = ap.parse_args()

    target = Path(args.target_dir)
    binary = target / "release/driftwatch"
    generator = target / "release/examples/generate"
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    sets = {
        "busy": generate(generator, data, "busy", args.busy_mb, 12, 20000),
        "small": generate(generator, data, "small", args.small_mb, 12, 300),
        "wide": generate(generator, data, "wide", args.wide_mb, 100, 20000),
        # The busy stream's records in objects of about 200 KB and 20 KB (as low-traffic and
        # many-instance endpoints write them): throughput should not depend on object size.
        "busy-200kb": generate(generator, data, "busy-200kb", args.busy_mb, 12, 20000, object_kb=200),
        "busy-20kb": generate(generator, data, "busy-20kb", args.busy_mb, 12, 20000, object_kb=20),
        "wide-1000": generate(generator, data, "wide-1000", args.wider_mb, 1000, 2000),
    }
    results = {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "machine": platform.machine(), "rows": []}
    table = results["rows"]

    def add(data_set, capture, tool, threads, r):
        mb = capture_bytes(capture) / 1e6
        row = {
            "data": data_set,
            "tool": tool,
            "threads": threads,
            "mb": round(mb, 1),
            "rows": r["rows"],
            "wall_s": round(r["wall_s"], 3),
            "mb_per_s": round(mb / r["wall_s"], 1),
            "rows_per_s": round(r["rows"] / r["wall_s"]) if r["rows"] else None,
            "peak_rss_mb": round(r["peak_rss_kb"] / 1024, 1),
            "parse_s": r.get("parse_s"),
            "compute_s": r.get("compute_s"),
            "walls": [round(w, 3) for w in r["walls"]],
        }
        table.append(row)
        print(json.dumps(row), flush=True)
        return row

    for name in ["busy", "busy-200kb", "busy-20kb", "small", "wide", "wide-1000"]:
        d = sets[name]
        for threads in [1, 2]:
            add(name, d / "capture", "driftwatch", threads, driftwatch(binary, d / "capture", d / "baseline", threads, args.runs))
    for name in [] if args.driftwatch_only else ["busy", "small"]:
        d = sets[name]
        for tool in ["json", "whylogs"]:
            add(name, d / "capture", tool, 1, peer(args.python, tool, d / "capture", d / "training.csv", args.peer_runs))
        s = slice_of(d, args.slice_mb)
        label = f"{name} (first {args.slice_mb} MB)"
        add(label, s, "driftwatch", 2, driftwatch(binary, s, d / "baseline", 2, args.runs))
        for tool in ["whylogs-rows", "evidently"]:
            add(label, s, tool, 1, peer(args.python, tool, s, d / "training.csv", args.peer_runs))

    (data / "results.json").write_text(json.dumps(results, indent=1))
    print_table(results)


def print_table(results):
    rows = results["rows"]

    def best(data_set):
        cands = [r for r in rows if r["data"] == data_set and r["tool"] == "driftwatch"]
        return max(cands, key=lambda r: r["rows_per_s"] or 0) if cands else None

    print(f"\n{results['date']}, {results['cpus']} CPUs ({results['machine']}); medians of the runs; "
          "ratio = driftwatch's best rows/s on the same data / this row's rows/s\n")
    print("| data | tool | threads | MB | rows | wall s | MB/s | rows/s | peak RSS MB | parse s | compute s | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        b = best(r["data"])
        ratio = ""
        if r["tool"] != "driftwatch" and b and r["rows_per_s"]:
            x = b["rows_per_s"] / r["rows_per_s"]
            ratio = f"{x:.0f}x" if x >= 10 else f"{x:.1f}x"
        fmt = lambda v: "" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
        print(f"| {r['data']} | {r['tool']} | {r['threads']} | {r['mb']} | {r['rows']} | {r['wall_s']:.2f} | "
              f"{r['mb_per_s']:.0f} | {r['rows_per_s']:,} | {r['peak_rss_mb']:.0f} | {fmt(r['parse_s'])} | "
              f"{fmt(r['compute_s'])} | {ratio} |")
    for name in ["busy", "small", "wide"]:
        one = next((r for r in rows if r["data"] == name and r["tool"] == "driftwatch" and r["threads"] == 1), None)
        two = next((r for r in rows if r["data"] == name and r["tool"] == "driftwatch" and r["threads"] == 2), None)
        if one and two:
            print(f"\n{name}: 2 threads are {one['wall_s'] / two['wall_s']:.2f}x 1 thread", end="")
    print()


if __name__ == "__main__":
    main()
