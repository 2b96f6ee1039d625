"""Checks deploy/cloudwatch.yaml against the metrics driftwatch writes.

Replays the bundled example with `--emf`, turns each embedded-metric-format line into the
datapoints CloudWatch Logs would make of it (PutMetricData on the moto server at MOTO_ENDPOINT,
in a namespace of its own so runs do not mix), and reads back, with GetMetricData, the metric the
template's alarm watches, with the alarm's dimensions, statistic and period. The alarm must see
one datapoint per window, and be over its threshold in exactly the windows whose
constraint_violations.json has a baseline_drift_check for the feature. The dashboard's body must
be JSON once substituted, and each SEARCH must name the namespace and the dimension set the lines
declare.

    MOTO_ENDPOINT=http://127.0.0.1:PORT python tests/check_cloudwatch.py target/debug/driftwatch
"""

import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import boto3
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
ENDPOINT = "loan-scoring-prod"


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def main():
    binary, moto = sys.argv[1], os.environ.get("MOTO_ENDPOINT")
    if not moto:
        fail("MOTO_ENDPOINT is not set")
    template = cfn_yaml.load(str(ROOT / "deploy/cloudwatch.yaml"))
    params = {k: v.get("Default") for k, v in template["Parameters"].items()}
    params["EndpointName"] = ENDPOINT
    schedule = params["MonitoringScheduleName"] or f"driftwatch-{ENDPOINT}"
    alarm = template["Resources"]["FeatureDriftAlarm"]["Properties"]
    feature = params["FeatureName"]
    metric_name = alarm["MetricName"]["Fn::Sub"].replace("${FeatureName}", feature)
    dims = {}
    for d in alarm["Dimensions"]:
        v = d["Value"]
        if isinstance(v, dict) and "Ref" in v:
            v = params[v["Ref"]]
        elif isinstance(v, dict) and "Fn::If" in v:
            v = schedule
        dims[d["Name"]] = v
    threshold = float(params["DriftThreshold"])

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        emf, out = tmp / "emf.jsonl", tmp / "out"
        run = subprocess.run(
            [binary, "replay", "--capture", str(ROOT / "examples/capture"), "--baseline",
             str(ROOT / "baselines/loan-scoring"), "--output", str(out), "--emf", str(emf)],
            capture_output=True, text=True)
        if run.returncode != 0:
            fail(f"replay failed: {run.stderr}")
        lines = [json.loads(l) for l in emf.read_text().splitlines()]
        if len(lines) != 120:
            fail(f"{len(lines)} EMF lines for the example's 120 windows")

        # What CloudWatch Logs does with each line, into a namespace of this run's own.
        namespace = f"check-{uuid.uuid4().hex[:8]}/" + alarm["Namespace"]
        cw = boto3.client("cloudwatch", endpoint_url=moto, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        declared = set()
        for line in lines:
            ts = dt.datetime.fromtimestamp(line["_aws"]["Timestamp"] / 1000, tz=dt.timezone.utc)
            for directive in line["_aws"]["CloudWatchMetrics"]:
                if directive["Namespace"] != alarm["Namespace"]:
                    fail(f"namespace {directive['Namespace']} is not the alarm's {alarm['Namespace']}")
                for dim_set in directive["Dimensions"]:
                    declared.add(tuple(dim_set))
                    data = [{
                        "MetricName": m["Name"],
                        "Dimensions": [{"Name": n, "Value": line[n]} for n in dim_set],
                        "Timestamp": ts,
                        "Value": float(line[m["Name"]]),
                        "Unit": m.get("Unit", "None"),
                    } for m in directive["Metrics"]]
                    for i in range(0, len(data), 1000):
                        cw.put_metric_data(Namespace=namespace, MetricData=data[i:i + 1000])
        if declared != {tuple(dims)}:
            fail(f"the lines declare dimension sets {declared}, the alarm uses {tuple(dims)}")

        # The alarm's view: its metric, dimensions, statistic and period.
        first = min(l["_aws"]["Timestamp"] for l in lines) / 1000
        last = max(l["_aws"]["Timestamp"] for l in lines) / 1000
        got = cw.get_metric_data(
            MetricDataQueries=[{"Id": "drift", "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": metric_name,
                           "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]},
                "Period": int(alarm["Period"]), "Stat": alarm["Statistic"]}}],
            StartTime=dt.datetime.fromtimestamp(first, tz=dt.timezone.utc),
            EndTime=dt.datetime.fromtimestamp(last + 3600, tz=dt.timezone.utc),
        )["MetricDataResults"][0]
        points = dict(zip(got["Timestamps"], got["Values"]))
        if len(points) != 120:
            fail(f"the alarm's metric has {len(points)} datapoints, not one per window")
        fired, violated = set(), set()
        for t, v in points.items():
            if v > threshold:
                fired.add(t)
            start = t - dt.timedelta(hours=1)
            folder = out / ENDPOINT / "AllTraffic" / start.strftime("%Y/%m/%d/%H")
            cv = json.loads((folder / "constraint_violations.json").read_text())
            if any(x["feature_name"] == feature and x["constraint_check_type"] == "baseline_drift_check"
                   for x in cv["violations"]):
                violated.add(t)
        if fired != violated:
            fail(f"the alarm fires in {len(fired)} windows, baseline_drift_check of {feature} in {len(violated)}")
        if not fired:
            fail(f"the example's {feature} drift never raises the alarm")

    # The dashboard: JSON once substituted, each SEARCH over the lines' namespace and dimensions.
    body, _ = template["Resources"]["DataQualityDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    values = {"AWS::Region": "us-east-1", "EndpointName": ENDPOINT, "Schedule": schedule,
              "DriftThreshold": str(threshold), "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:x"}
    dashboard = json.loads(re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], body))
    schema = "{" + ",".join([alarm["Namespace"], *dims]) + "}"
    searches = [m[0]["expression"] for w in dashboard["widgets"] if w["type"] == "metric"
                for m in w["properties"]["metrics"]]
    for s in searches:
        if schema not in s or f'MonitoringSchedule="{schedule}"' not in s or 'Feature="_"' not in s:
            fail(f"dashboard search {s} does not match the metrics' schema {schema}")
    print(f"deploy/cloudwatch.yaml: alarm on {metric_name} sees 120 datapoints and fires in the {len(fired)} "
          f"windows with a baseline_drift_check of {feature}; {len(searches)} dashboard searches match {schema}")


if __name__ == "__main__":
    main()
