"""Workers on one queue: objects per second of 1, 2 and 4 `driftwatch serve` processes sharing
one state prefix (`[workers]`) and one SQS queue of S3 notifications (`[notifications]`),
against moto.

    python benches/workers.py --binary target/release/driftwatch --generator target/release/examples/generate

Starts its own moto server (tests/moto_server.py), generates a capture of `--objects` objects of
about `--object-kb` KB and copies it into `--streams` variants of one endpoint, uploads them with
the bucket's notifications on (every object queued), then for each worker count starts that
many workers on a fresh state prefix and times them from their start until the queue is empty
(a message is deleted only once its object is in a checkpoint). Streams are the unit of work (a
stream is one worker's at a time), so the streams should outnumber the workers. moto answers a
few hundred requests a second from one process on this machine, which caps every run; the
figure to read is the ratio between worker counts on the same emulator. Needs boto3 and
moto[server] (tests/requirements.txt).
"""

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3_latency import env_for, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def queue_depth(sqs, url):
    a = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--generator", required=True)
    ap.add_argument("--python", default=sys.executable, help="the interpreter with moto[server]")
    ap.add_argument("--objects", type=int, default=200, help="objects per stream")
    ap.add_argument("--object-kb", type=int, default=20)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (workers' logs)")
    args = ap.parse_args()
    import boto3

    work = Path(tempfile.mkdtemp(prefix="driftwatch-workers-"))
    mb = args.objects * args.object_kb / 1000
    subprocess.run(
        [args.generator, "--out", work / "data", "--mb", str(mb), "--object-kb", str(args.object_kb)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    variant_dir = next((work / "data/capture").glob("*/*"))
    endpoint = variant_dir.parent.name
    files = sorted(variant_dir.rglob("*.jsonl"))
    moto_port = free_port()
    moto = subprocess.Popen(
        [args.python, ROOT / "tests/moto_server.py", "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{moto_port}"
    workers_running = []
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", moto_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing")
        s3, sqs = boto3.client("s3", **kw), boto3.client("sqs", **kw)
        rows = []
        for n in [int(w) for w in args.workers.split(",")]:
            walls = []
            for run in range(args.runs):
                bucket = f"bench-{n}-{run}"
                s3.create_bucket(Bucket=bucket)
                for f in ["statistics.json", "constraints.json"]:
                    s3.upload_file(str(work / "data/baseline" / f), bucket, f"baseline/{f}")
                queue = sqs.create_queue(QueueName=bucket, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
                arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
                    "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"], "Filter": {
                        "Key": {"FilterRules": [{"Name": "prefix", "Value": "datacapture/"}]}}}]})
                # S3's test message, sent when the configuration is set.
                sqs.purge_queue(QueueUrl=queue)
                total_bytes = 0
                for s in range(args.streams):
                    for f in files:
                        rel = f.relative_to(variant_dir)
                        body = f.read_bytes()
                        total_bytes += len(body)
                        s3.put_object(Bucket=bucket, Key=f"datacapture/{endpoint}/Stream-{s}/{rel}", Body=body)
                objects = args.streams * len(files)
                config = work / f"serve-{bucket}.toml"
                config.write_text(f"""[state]
uri = "s3://{bucket}/state/"
[notifications]
queue = "{queue}"
sweep = "10m"
[workers]
lease = "30s"
[cloudwatch]
emf = false
[[monitor]]
endpoint = "{endpoint}"
capture = "s3://{bucket}/datacapture/"
baseline = "s3://{bucket}/baseline/"
start = "earliest"
""")
                start = time.perf_counter()
                for i in range(n):
                    cfg = work / f"serve-{bucket}-{i}.toml"
                    listen = f"[server]\nlisten = \"127.0.0.1:{free_port()}\"\n"
                    cfg.write_text(config.read_text().replace("[cloudwatch]", listen + "[cloudwatch]"))
                    workers_running.append(subprocess.Popen(
                        [args.binary, "serve", "--config", cfg],
                        env={**env_for(url), "DRIFTWATCH_LOG": "debug" if args.keep else "info"},
                        stdout=subprocess.DEVNULL, stderr=open(work / f"{bucket}-{i}.log", "w")))
                while queue_depth(sqs, queue) > 0:
                    if time.perf_counter() - start > 600:
                        raise SystemExit(f"{n} workers did not drain the queue in 10 minutes; logs in {work}")
                    time.sleep(0.05)
                wall = time.perf_counter() - start
                walls.append(wall)
                for p in workers_running:
                    p.terminate()
                for p in workers_running:
                    p.wait()
                workers_running.clear()
            wall = statistics.median(walls)
            rows.append({"workers": n, "streams": args.streams, "objects": objects, "mb": total_bytes / 1e6,
                         "wall_s": wall, "objects_per_s": objects / wall, "walls": walls})
            print(f"{n} workers, {args.streams} streams, {objects} objects of {total_bytes / objects / 1000:.1f} KB: "
                  f"{wall:6.2f} s, {objects / wall:6.0f} objects/s, "
                  f"{objects / wall / n:5.0f} per worker, {total_bytes / 1e6 / wall:5.1f} MB/s", flush=True)
        base = rows[0]["objects_per_s"]
        for r in rows:
            print(f"  {r['workers']} workers: {r['objects_per_s'] / base:.2f}x one")
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
    finally:
        for p in workers_running:
            p.kill()
        moto.terminate()
        moto.wait()
        if args.keep:
            print(f"work folder: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
