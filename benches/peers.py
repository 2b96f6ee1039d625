"""The Python peers of `scripts/bench`, on the same capture files as driftwatch.

Each tool does driftwatch's job as a user would write it with that tool: read every capture
file in data order, decode each line (`json.loads`) and its CSV bodies, collect the rows of each
hourly window (the model's score first, then the request's columns, Model Monitor's order),
and compare every window with the training data.

- `json`: the floor: only `json.loads` of every line, counting rows (no profile at all).
- `whylogs`: `why.log(window)` per window (a DataFrame at once) and `calculate_drift_scores`
  against the profile of the training data (KS for numbers, chi-square for categories).
- `whylogs-rows`: the same, but each request row tracked as it arrives
  (`DatasetProfile.track(row=...)`), as a streaming monitor would use whylogs.
- `evidently`: `Report([DataDriftPreset()])` per window against the training data.

Parse time (reading, JSON, CSV into a DataFrame) and compute time (profiling and comparing)
are measured apart. The training data's own profile is built once, before timing starts.
Prints one JSON object.

    python benches/peers.py --tool whylogs --capture DIR --training FILE [--max-mb N]
"""

import argparse
import io
import json
import os
import resource
import sys
import time
from pathlib import Path


def capture_files(root, max_bytes):
    files = sorted(p for p in Path(root).rglob("*.jsonl"))
    out, total = [], 0
    for p in files:
        if max_bytes and total >= max_bytes:
            break
        out.append(p)
        total += p.stat().st_size
    return out, total


def hour_of(path):
    # .../yyyy/mm/dd/HH/file.jsonl
    parts = path.parts
    return "/".join(parts[-5:-1])


def windows(files, header, counts):
    """Yields (hour, DataFrame) per hour folder; counts parse time and rows."""
    import pandas as pd

    current, lines = None, []
    for f in files:
        hour = hour_of(f)
        if current is not None and hour != current:
            yield current, frame(lines, header, counts)
            lines = []
        current = hour
        t = time.perf_counter()
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                rec = json.loads(line)
                data = rec["captureData"]
                inputs = data["endpointInput"]["data"].split("\n")
                outputs = data.get("endpointOutput", {}).get("data", "").split("\n")
                if len(outputs) == len(inputs):
                    lines.extend(o + "," + i for o, i in zip(outputs, inputs))
                else:
                    lines.extend("," + i for i in inputs)
        counts["parse"] += time.perf_counter() - t
    if lines:
        yield current, frame(lines, header, counts)


def frame(lines, header, counts):
    import pandas as pd

    t = time.perf_counter()
    df = pd.read_csv(io.StringIO("\n".join(lines)), header=None, names=header)
    counts["parse"] += time.perf_counter() - t
    counts["rows"] += len(df)
    counts["windows"] += 1
    return df


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", choices=["json", "whylogs", "whylogs-rows", "evidently"], required=True)
    ap.add_argument("--capture", required=True)
    ap.add_argument("--training", required=True)
    ap.add_argument("--max-mb", type=float, default=0.0, help="only the first N MB of capture files")
    args = ap.parse_args()
    files, total = capture_files(args.capture, int(args.max_mb * 1e6))
    counts = {"parse": 0.0, "compute": 0.0, "rows": 0, "windows": 0}
    start = time.perf_counter()
    if args.tool == "json":
        for f in files:
            with open(f, encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        rec = json.loads(line)
                        counts["rows"] += rec["captureData"]["endpointInput"]["data"].count("\n") + 1
        counts["parse"] = time.perf_counter() - start
    else:
        import pandas as pd

        reference = pd.read_csv(args.training)
        header = list(reference.columns)
        if args.tool in ("whylogs", "whylogs-rows"):
            import whylogs as why
            from whylogs.core import DatasetProfile
            from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores

            ref_view = why.log(reference).view()
            start = time.perf_counter()
            drifted = 0
            for _, df in windows(files, header, counts):
                if args.tool == "whylogs-rows":
                    t = time.perf_counter()
                    records = df.to_dict("records")
                    counts["parse"] += time.perf_counter() - t
                t = time.perf_counter()
                if args.tool == "whylogs-rows":
                    profile = DatasetProfile()
                    for r in records:
                        profile.track(row=r)
                    view = profile.view()
                else:
                    view = why.log(df).view()
                scores = calculate_drift_scores(target_view=view, reference_view=ref_view, with_thresholds=True)
                drifted += sum(1 for s in scores.values() if s and s.get("drift_category") == "DRIFT")
                counts["compute"] += time.perf_counter() - t
        else:
            from evidently import Report
            from evidently.presets import DataDriftPreset

            start = time.perf_counter()
            drifted = 0
            for _, df in windows(files, header, counts):
                t = time.perf_counter()
                snap = Report([DataDriftPreset()]).run(reference_data=reference, current_data=df)
                result = snap.dict()
                drifted += int(result["metrics"][0]["value"]["count"])
                counts["compute"] += time.perf_counter() - t
        counts["drifted_columns"] = drifted
    wall = time.perf_counter() - start
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "tool": args.tool,
        "files": len(files),
        "bytes": total,
        "rows": counts["rows"],
        "windows": counts["windows"],
        "parse_s": round(counts["parse"], 3),
        "compute_s": round(counts["compute"], 3),
        "wall_s": round(wall, 3),
        "peak_rss_kb": rss_kb,
    }))


if __name__ == "__main__":
    sys.exit(main())
