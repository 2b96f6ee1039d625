"""Many endpoints in one `serve`: peak RSS and poll time of one process monitoring `--endpoints`
endpoints, all from local folders (no AWS account, no emulator).

    python benches/endpoints.py --binary target/release/driftwatch --generator target/release/examples/generate

Generates one capture stream of `--mb` MB (`--peak` requests an hour, objects of `--object-kb`
KB) and its baseline, links its files into `--endpoints`
endpoints (`ep-000/AllTraffic/...`, hard links: no extra disk), writes a `serve` configuration
with one `[[monitor]]` per endpoint (local capture, baseline, state and reports; no bus), starts
`serve` and reads its `/metrics` and `/proc`:

- the first poll: every endpoint's history read from `start = "earliest"` (its wall seconds, as
  `driftwatch_poll_seconds` gives them once `driftwatch_polls_total` is 1);
- a steady poll: the median of the next `--steady` polls, when nothing new lands (a listing per
  stream);
- peak RSS (VmHWM) and RSS after the steady poll (VmRSS), CPU seconds.

`--runs` repeats the whole measurement and prints medians.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3_latency import free_port, generate, leave_work  # noqa: E402


def metrics(port):
    """The service's metrics: name -> sum over its label sets."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        out[name.split("{")[0]] = out.get(name.split("{")[0], 0.0) + float(value)
    return out


def proc_status(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        fields[k] = v.strip()
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(stat[11]) + int(stat[12])) / ticks
    return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024, cpu


def one_run(args, work, objects, endpoints):
    run = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    port = free_port()
    monitors = "".join(
        f"""
[[monitor]]
endpoint = "{ep}"
capture = "{work}/capture/"
baseline = "{work}/data/baseline/"
start = "earliest"
poll_interval = "{args.poll_interval}s"
"""
        for ep in endpoints
    )
    config = run / "serve.toml"
    config.write_text(f"""[state]
uri = "{run}/state/"
[reports]
uri = "{run}/reports/"
[server]
listen = "127.0.0.1:{port}"
[cloudwatch]
emf = false
{monitors}""")
    env = {**os.environ, "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "DRIFTWATCH_LOG": "warn"}
    start = time.perf_counter()
    p = subprocess.Popen([args.binary, "serve", "--config", config], env=env, stdout=subprocess.DEVNULL,
                         stderr=open(run / "serve.log", "w"))
    try:
        seen = {}  # poll number -> its wall seconds, as sampled
        while not seen or max(seen) < args.steady + 1:
            if p.poll() is not None:
                raise SystemExit(f"serve exited with {p.returncode}; log: {run / 'serve.log'}")
            if time.perf_counter() - start > args.timeout:
                raise SystemExit(f"polls did not end in {args.timeout} s; log: {run / 'serve.log'}")
            try:
                m = metrics(port)
            except OSError:
                time.sleep(0.05)
                continue
            n = int(m.get("driftwatch_polls_total", 0))
            if n >= 1 and n not in seen:
                seen[n] = m["driftwatch_poll_seconds"]
                if n == 1:
                    to_first = time.perf_counter() - start
                    peak_first, _, cpu_first = proc_status(p.pid)
                    if m.get("driftwatch_objects_read_total", 0) < objects:
                        raise SystemExit("the first poll did not read every object")
            time.sleep(0.05)
        if 1 not in seen:
            raise SystemExit("the first poll's end was not seen (it ended between two samples)")
        first = (to_first, seen[1])
        steady = statistics.median([v for k, v in seen.items() if k > 1][: args.steady])
        peak, rss, cpu = proc_status(p.pid)
        windows = m.get("driftwatch_windows_closed_total", 0)
    finally:
        p.terminate()
        p.wait()
    if not args.keep:
        shutil.rmtree(run, ignore_errors=True)
    return {"to_first_poll_end_s": first[0], "first_poll_s": first[1], "steady_poll_s": steady,
            "peak_rss_mb_first_poll": peak_first, "peak_rss_mb": peak, "rss_mb": rss,
            "cpu_s_first_poll": cpu_first, "cpu_s": cpu, "windows": windows}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--generator", required=True)
    ap.add_argument("--endpoints", type=int, default=200)
    ap.add_argument("--mb", type=float, default=1.0, help="capture per endpoint")
    ap.add_argument("--peak", type=int, default=300, help="requests an hour at peak (300: a quiet endpoint)")
    ap.add_argument("--object-kb", type=int, default=20, help="size of the capture objects")
    ap.add_argument("--poll-interval", type=int, default=2, help="seconds between polls")
    ap.add_argument("--steady", type=int, default=5, help="steady polls timed after the first")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=900, help="seconds the first poll may take")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="driftwatch-endpoints-"))
    try:
        generate(args.generator, work / "data", args.mb, args.object_kb, "--peak", args.peak)
        variant_dir = next((work / "data/capture").glob("*/*"))
        files = sorted(variant_dir.rglob("*.jsonl"))
        endpoints = [f"ep-{i:03}" for i in range(args.endpoints)]
        size = sum(f.stat().st_size for f in files)
        for ep in endpoints:
            for f in files:
                dest = work / "capture" / ep / "AllTraffic" / f.relative_to(variant_dir)
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.link(f, dest)
        objects = len(files) * len(endpoints)
        runs = [one_run(args, work, objects, endpoints) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"{len(endpoints)} endpoints, {objects} objects, {size * len(endpoints) / 1e6:.1f} MB "
              f"({size / 1e6:.2f} MB and {len(files)} objects each), medians of {len(runs)} run(s):")
        print(f"  first poll (every endpoint's history): {med['first_poll_s']:.2f} s "
              f"({med['to_first_poll_end_s']:.2f} s from the start), {med['cpu_s_first_poll']:.2f} CPU s, "
              f"{med['windows']:.0f} windows closed")
        print(f"  steady poll (nothing new): {med['steady_poll_s']:.3f} s")
        print(f"  peak RSS {med['peak_rss_mb']:.0f} MB (first poll {med['peak_rss_mb_first_poll']:.0f} MB), "
              f"RSS after the steady poll {med['rss_mb']:.0f} MB")
        if args.json:
            Path(args.json).write_text(json.dumps({"endpoints": len(endpoints), "objects": objects,
                                                   "mb": size * len(endpoints) / 1e6, "runs": runs,
                                                   "median": med}, indent=1))
    finally:
        leave_work(work, args.keep)


if __name__ == "__main__":
    main()
