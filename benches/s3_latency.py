"""S3's latency and the read path: objects per second of `driftwatch replay --capture s3://...`
for small objects with 1, 8, 32 and 64 requests in flight (`--fetch-ahead`), against moto behind
a loopback proxy that holds every request for a fixed delay (30 ms by default), as S3's
first-byte latency does. moto answers a few hundred GETs a second on this machine, which caps
every run at that; `--backend memory` serves the same objects from an in-memory S3 twin
(ListObjectsV2 and GetObject only, the same delay before each answer), whose ceiling is higher,
to show what the read path does when the store is not the limit.

    python benches/s3_latency.py --binary target/release/driftwatch --generator target/release/examples/generate

Starts its own moto server (tests/moto_server.py) and the proxy, uploads a generated capture of
`--objects` objects of about `--object-kb` KB straight to moto, then runs each replay through the
proxy `--runs` times and prints the median wall time and objects per second, with the same
replay straight to moto (no added latency) as the ceiling the emulator itself sets. Needs boto3
and moto[server] (tests/requirements.txt).
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(generator, out, mb, object_kb, *extra):
    """Generates a capture stream and its baseline into `out` (examples/generate.rs)."""
    subprocess.run([generator, "--out", out, "--mb", str(mb), "--object-kb", str(object_kb), *map(str, extra)],
                   check=True, stdout=subprocess.DEVNULL)


def start_moto(python):
    """Starts tests/moto_server.py on a free loopback port; returns the process and the port once
    it listens."""
    port = free_port()
    moto = subprocess.Popen([python, ROOT / "tests/moto_server.py", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return moto, port


def leave_work(work, keep):
    """Removes a benchmark's work folder, or says where it is when `keep`."""
    if keep:
        print(f"work folder: {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_in_background(client):
    """Serves `client(reader, writer)` on a free loopback port from an event loop on a daemon
    thread; returns the port once it listens."""
    port = free_port()
    ready = threading.Event()

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(client, "127.0.0.1", port))
        ready.set()
        loop.run_until_complete(server.serve_forever())

    threading.Thread(target=run, daemon=True).start()
    ready.wait()
    return port


class LatencyProxy:
    """A TCP proxy on loopback: each chunk the client sends (an HTTP request, or a part of a
    large one) reaches the server `delay` seconds later, in order; answers pass at once."""

    def __init__(self, upstream_port, delay):
        self.upstream_port = upstream_port
        self.delay = delay
        self.port = serve_in_background(self._client)

    async def _client(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        queue = asyncio.Queue()

        async def receive():
            while data := await reader.read(65536):
                await queue.put((time.monotonic() + self.delay, data))
            await queue.put(None)

        async def forward():
            while (item := await queue.get()) is not None:
                due, data = item
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def answer():
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()

        await asyncio.gather(receive(), forward(), answer(), return_exceptions=True)


class MemoryS3:
    """An S3 twin on loopback for the read path only: path-style ListObjectsV2 (prefix,
    start-after, delimiter, continuation, 1,000 keys a page) and GetObject, from a dict, each
    answered `delay` seconds after its request arrived."""

    def __init__(self, objects, delay):
        self.objects = dict(sorted(objects.items()))
        self.keys = list(self.objects)
        self.delay = delay
        self.port = serve_in_background(self._client)

    def _list(self, q):
        import bisect
        from xml.sax.saxutils import escape

        prefix = q.get("prefix", "")
        after = q.get("continuation-token") or q.get("start-after") or ""
        delimiter = q.get("delimiter")
        i = bisect.bisect_right(self.keys, after)
        contents, prefixes, last = [], [], None
        while i < len(self.keys) and len(contents) + len(prefixes) < 1000:
            k = self.keys[i]
            i += 1
            if not k.startswith(prefix):
                if k > prefix:
                    break
                continue
            if delimiter and delimiter in k[len(prefix):]:
                p = prefix + k[len(prefix):].split(delimiter)[0] + delimiter
                if not prefixes or prefixes[-1] != p:
                    prefixes.append(p)
                last = k
                continue
            contents.append(k)
            last = k
        more = i < len(self.keys) and self.keys[i].startswith(prefix)
        body = ['<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bench</Name>',
                f"<Prefix>{escape(prefix)}</Prefix><KeyCount>{len(contents) + len(prefixes)}</KeyCount>",
                f"<MaxKeys>1000</MaxKeys><IsTruncated>{'true' if more else 'false'}</IsTruncated>"]
        if more:
            body.append(f"<NextContinuationToken>{escape(last)}</NextContinuationToken>")
        for k in contents:
            body.append(f"<Contents><Key>{escape(k)}</Key><LastModified>2026-03-01T00:00:00.000Z</LastModified>"
                        f'<ETag>"0"</ETag><Size>{len(self.objects[k])}</Size><StorageClass>STANDARD</StorageClass></Contents>')
        for p in prefixes:
            body.append(f"<CommonPrefixes><Prefix>{escape(p)}</Prefix></CommonPrefixes>")
        body.append("</ListBucketResult>")
        return 200, "application/xml", "".join(body).encode()

    async def _client(self, reader, writer):
        from urllib.parse import parse_qsl, unquote, urlsplit

        try:
            while line := await reader.readline():
                arrived = time.monotonic()
                method, target, _ = line.decode().split(" ", 2)
                length = 0
                while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = h.decode().partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if length:
                    await reader.readexactly(length)
                url = urlsplit(target)
                q = dict(parse_qsl(url.query, keep_blank_values=True))
                path = unquote(url.path).lstrip("/")
                bucket, _, key = path.partition("/")
                if method == "GET" and bucket == "bench" and not key and "list-type" in q:
                    status, ctype, body = self._list(q)
                elif method in ("GET", "HEAD") and bucket == "bench" and key in self.objects:
                    status, ctype, body = 200, "application/octet-stream", self.objects[key]
                else:
                    status, ctype = 404, "application/xml"
                    body = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>no</Message></Error>'
                await asyncio.sleep(max(0.0, arrived + self.delay - time.monotonic()))
                head = (f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\nContent-Type: {ctype}\r\n"
                        f"Content-Length: {len(body)}\r\nETag: \"0\"\r\nLast-Modified: Sun, 01 Mar 2026 00:00:00 GMT\r\n\r\n")
                writer.write(head.encode() + (b"" if method == "HEAD" else body))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        writer.close()


def env_for(endpoint):
    e = dict(os.environ)
    e.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return e


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--generator", required=True)
    ap.add_argument("--python", default=sys.executable, help="the interpreter with moto[server]")
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--object-kb", type=int, default=20)
    ap.add_argument("--delay-ms", type=float, default=30.0)
    ap.add_argument("--ahead", default="1,8,32,64")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--backend", choices=["moto", "memory"], default="moto")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    import boto3

    work = Path(tempfile.mkdtemp(prefix="driftwatch-s3-latency-"))
    # About --objects objects of --object-kb KB.
    mb = args.objects * args.object_kb / 1000
    generate(args.generator, work / "data", mb, args.object_kb)
    files = sorted((work / "data/capture").rglob("*.jsonl"))
    objects = {f"datacapture/{f.relative_to(work / 'data/capture')}": f.read_bytes() for f in files}
    total = sum(len(b) for b in objects.values())
    print(f"{len(files)} objects, {total / len(files) / 1000:.1f} KB each on average, {total / 1e6:.1f} MB; "
          f"backend {args.backend}", flush=True)
    moto = None
    try:
        if args.backend == "moto":
            moto, moto_port = start_moto(args.python)
            direct = f"http://127.0.0.1:{moto_port}"
            s3 = boto3.client("s3", endpoint_url=direct, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
            s3.create_bucket(Bucket="bench")
            for key, body in objects.items():
                s3.put_object(Bucket="bench", Key=key, Body=body)
            behind = f"http://127.0.0.1:{LatencyProxy(moto_port, args.delay_ms / 1000).port}"
        else:
            direct = f"http://127.0.0.1:{MemoryS3(objects, 0.0).port}"
            behind = f"http://127.0.0.1:{MemoryS3(objects, args.delay_ms / 1000).port}"
        rows = []
        cases = [(behind, int(a)) for a in args.ahead.split(",")] + [(direct, int(args.ahead.split(",")[-1]))]
        for endpoint, ahead in cases:
            walls = []
            for _ in range(args.runs):
                start = time.perf_counter()
                subprocess.run(
                    [args.binary, "replay", "--capture", "s3://bench/datacapture/", "--baseline",
                     work / "data/baseline", "--fetch-ahead", str(ahead)],
                    check=True, env=env_for(endpoint), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
                walls.append(time.perf_counter() - start)
            wall = statistics.median(walls)
            latency = f"{args.delay_ms:.0f} ms" if endpoint == behind else f"none ({args.backend} alone)"
            rows.append({"backend": args.backend, "latency": latency, "fetch_ahead": ahead, "objects": len(files), "wall_s": wall,
                         "objects_per_s": len(files) / wall, "walls": walls})
            print(f"added latency {latency:>18}  --fetch-ahead {ahead:>3}: {wall:6.2f} s, "
                  f"{len(files) / wall:7.0f} objects/s", flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
    finally:
        if moto:
            moto.terminate()
            moto.wait()


if __name__ == "__main__":
    main()
