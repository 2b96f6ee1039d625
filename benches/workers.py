"""Workers on one queue: objects per second of 1, 2 and 4 `driftwatch serve` processes sharing
one state prefix (`[workers]`) and one SQS queue of S3 notifications (`[notifications]`),
against moto.

    python benches/workers.py --binary target/release/driftwatch --generator target/release/examples/generate

Starts its own moto server (tests/moto_server.py), generates a capture of `--objects` objects of
about `--object-kb` KB and copies it into `--streams` variants of one endpoint. For each worker
count, on a fresh bucket, queue and state prefix, with the bucket's notifications on the queue:

- `--arrival live` (the default, what a deployment sees): the workers start first, then
  `--uploaders` threads PUT the objects as fast as moto takes them, the streams' objects
  interleaved in time order; timed from the first PUT until the queue is empty (a message is
  deleted only once its object is in a checkpoint). A row with 0 workers is the upload alone:
  the rate the machine and moto allow, which caps the others.
- `--arrival backlog`: every object is uploaded (and queued) first, then the workers start.
  moto's ReceiveMessage slows with the queue's depth (`--queue-probe`: about 30 ms a receive
  and delete with 20 messages queued, about 900 ms with 1,500 here), so this measures the
  emulator's queue more than the workers.

Streams are the unit of work (a stream is one worker's at a time), so the streams should
outnumber the workers. moto is one Python process on the same two cores as the workers and the
uploader, so the figure to read is each row against the upload alone. Needs boto3 and
moto[server] (tests/requirements.txt).
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3_latency import env_for, free_port, generate, leave_work, start_moto  # noqa: E402



def queue_depth(sqs, url):
    a = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def queue_probe(sqs, depths=(20, 1500), taken=200):
    """What one receive costs the emulator at a given queue depth: `depth` S3-notification-sized
    messages queued, then receives of 10 and their deletes until `taken` (or all) are gone."""
    body = json.dumps({"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "k" * 80}}}]}) + " " * 600
    for depth in depths:
        q = sqs.create_queue(QueueName=f"probe-{depth}-{time.time_ns()}")["QueueUrl"]
        for _ in range(0, depth, 10):
            sqs.send_message_batch(QueueUrl=q, Entries=[{"Id": str(j), "MessageBody": body} for j in range(10)])
        start, n, calls = time.perf_counter(), 0, 0
        while n < min(depth, taken):
            got = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            calls += 1
            if got:
                sqs.delete_message_batch(QueueUrl=q, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
            n += len(got)
        wall = time.perf_counter() - start
        print(f"queue depth {depth}: {wall / calls * 1000:.0f} ms per receive and delete ({calls} receives)")
        sqs.delete_queue(QueueUrl=q)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--generator", required=True)
    ap.add_argument("--python", default=sys.executable, help="the interpreter with moto[server]")
    ap.add_argument("--objects", type=int, default=200, help="objects per stream")
    ap.add_argument("--object-kb", type=int, default=20)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--workers", default="0,1,2,4", help="worker counts (0: the upload alone, live only)")
    ap.add_argument("--arrival", choices=["live", "backlog"], default="live")
    ap.add_argument("--uploaders", type=int, default=4, help="threads that PUT the objects")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (workers' logs)")
    ap.add_argument("--queue-probe", action="store_true",
                    help="only time moto's ReceiveMessage at queue depths of 20 and 1,500")
    args = ap.parse_args()
    import boto3

    work = Path(tempfile.mkdtemp(prefix="driftwatch-workers-"))
    mb = args.objects * args.object_kb / 1000
    generate(args.generator, work / "data", mb, args.object_kb)
    variant_dir = next((work / "data/capture").glob("*/*"))
    endpoint = variant_dir.parent.name
    files = sorted(variant_dir.rglob("*.jsonl"))
    moto, moto_port = start_moto(args.python)
    url = f"http://127.0.0.1:{moto_port}"
    workers_running = []
    try:
        kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing")
        s3, sqs = boto3.client("s3", **kw), boto3.client("sqs", **kw)
        if args.queue_probe:
            queue_probe(sqs)
            return
        rows = []
        # The objects in the order capture lands: time first, the streams interleaved.
        order = [(s, f) for f in files for s in range(args.streams)]
        bodies = {f: f.read_bytes() for f in files}
        total_bytes = sum(len(bodies[f]) for _, f in order)
        objects = len(order)

        def upload(bucket):
            """PUTs every object from `--uploaders` threads; returns when the last is in."""
            lock, nxt = threading.Lock(), [0]

            def work():
                s3t = boto3.client("s3", **kw)
                while True:
                    with lock:
                        i = nxt[0]
                        nxt[0] += 1
                    if i >= len(order):
                        return
                    s, f = order[i]
                    key = f"datacapture/{endpoint}/Stream-{s}/{f.relative_to(variant_dir)}"
                    s3t.put_object(Bucket=bucket, Key=key, Body=bodies[f])

            threads = [threading.Thread(target=work) for _ in range(args.uploaders)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        for n in [int(w) for w in args.workers.split(",")]:
            if n == 0 and args.arrival == "backlog":
                continue
            walls, drains, depths = [], [], []
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

                def start_workers():
                    ports = []
                    for i in range(n):
                        cfg = work / f"serve-{bucket}-{i}.toml"
                        ports.append(free_port())
                        listen = f"[server]\nlisten = \"127.0.0.1:{ports[-1]}\"\n"
                        cfg.write_text(config.read_text().replace("[cloudwatch]", listen + "[cloudwatch]"))
                        workers_running.append(subprocess.Popen(
                            [args.binary, "serve", "--config", cfg],
                            env={**env_for(url), "DRIFTWATCH_LOG": "debug" if args.keep else "info"},
                            stdout=subprocess.DEVNULL, stderr=open(work / f"{bucket}-{i}.log", "w")))
                    return ports

                if args.arrival == "backlog":
                    upload(bucket)
                    start = time.perf_counter()
                    start_workers()
                    uploaded = start
                else:
                    # Every worker answers /healthz before the first PUT.
                    for port in start_workers():
                        for _ in range(300):
                            try:
                                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                                break
                            except OSError:
                                time.sleep(0.1)
                    start = time.perf_counter()
                    sampler_stop = threading.Event()
                    deepest = [0]

                    def sample():
                        c = boto3.client("sqs", **kw)
                        while not sampler_stop.wait(0.5):
                            deepest[0] = max(deepest[0], queue_depth(c, queue))

                    sampler = threading.Thread(target=sample)
                    sampler.start()
                    upload(bucket)
                    uploaded = time.perf_counter()
                    sampler_stop.set()
                    sampler.join()
                    depths.append(deepest[0])
                while n > 0 and queue_depth(sqs, queue) > 0:
                    if time.perf_counter() - start > 900:
                        raise SystemExit(f"{n} workers did not drain the queue in 15 minutes; logs in {work}")
                    time.sleep(0.05)
                end = time.perf_counter()
                walls.append(end - start)
                drains.append(end - uploaded)
                for p in workers_running:
                    p.terminate()
                for p in workers_running:
                    p.wait()
                workers_running.clear()
                if n == 0:
                    sqs.delete_queue(QueueUrl=queue)
            wall = statistics.median(walls)
            row = {"workers": n, "arrival": args.arrival, "streams": args.streams, "objects": objects,
                   "mb": total_bytes / 1e6, "wall_s": wall, "objects_per_s": objects / wall, "walls": walls,
                   "drain_after_last_put_s": statistics.median(drains), "deepest_queue": depths}
            rows.append(row)
            who = "upload alone" if n == 0 else f"{n} workers"
            print(f"{who}, {args.streams} streams, {objects} objects of {total_bytes / objects / 1000:.1f} KB "
                  f"({args.arrival}): {wall:6.2f} s, {objects / wall:6.0f} objects/s, "
                  f"queue empty {row['drain_after_last_put_s']:.2f} s after the last PUT"
                  + (f", deepest queue {max(depths)}" if depths else ""), flush=True)
        base = next((r["objects_per_s"] for r in rows if r["workers"] == 1), None)
        alone = next((r["objects_per_s"] for r in rows if r["workers"] == 0), None)
        for r in rows:
            if r["workers"] > 0 and base:
                vs = f", {r['objects_per_s'] / alone:.2f}x the upload alone" if alone else ""
                print(f"  {r['workers']} workers: {r['objects_per_s'] / base:.2f}x one{vs}")
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
    finally:
        for p in workers_running:
            p.kill()
        moto.terminate()
        moto.wait()
        leave_work(work, args.keep)


if __name__ == "__main__":
    main()
