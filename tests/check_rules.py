"""Checks the rules in deploy/rules.yaml against the events driftwatch produces.

The events are the bundled example's (tests/snapshots/cli__example_events.snap, which
tests/cli.rs compares with a real replay on every run): a sudden shift, its resolution, and a
gradual drift; and the model-quality event of the example replayed with labels
(tests/snapshots/cli__quality_events.snap, a sudden degradation), with its gradual and
recovered forms derived from it here (same envelope, the kind, action and detail-type of
those decisions), and the gradual drift as it reads with labels (`detail.quality.verdict`
declining, not yet known, stable: only the stable one must not start the retraining pipeline). Each rule's pattern goes on its own bus in the moto server at MOTO_ENDPOINT, with
an SQS queue as its target; every event is put on every bus, and each rule must receive exactly
the detail-types it is meant for. The retraining target's pipeline parameters must have names
EventBridge accepts and paths that exist in the gradual event.

    MOTO_ENDPOINT=http://127.0.0.1:PORT python tests/check_rules.py
"""

import json
import os
import re
import sys
import uuid
from pathlib import Path

import boto3
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
SUDDEN, GRADUAL, RESOLVED = "Sudden Data Shift Detected", "Gradual Data Drift Detected", "Data Drift Resolved"
DEGRADED, RECOVERED = "Model Quality Degraded", "Model Quality Recovered"
Q_SUDDEN, Q_GRADUAL, Q_RECOVERED = (DEGRADED, "sudden", None), (DEGRADED, "gradual", None), (RECOVERED, "resolved", None)
D_SUDDEN, D_RESOLVED = (SUDDEN, "sudden", "unmonitored"), (RESOLVED, "resolved", "unmonitored")
# Gradual drift by what the labels say over it (detail.quality.verdict).
D_GRADUAL = {v: (GRADUAL, "gradual", v) for v in ("unmonitored", "declining", "not_yet_known", "stable")}
BIAS, BIAS_RESOLVED = "Bias Drift Detected", "Bias Drift Resolved"
B_SUDDEN, B_GRADUAL, B_RESOLVED = (BIAS, "sudden", None), (BIAS, "gradual", None), (BIAS_RESOLVED, "resolved", None)
# What each rule is for: (detail-type, kind, quality verdict) of the events it must receive.
EXPECTED = {
    "BiasRule": {B_SUDDEN, B_GRADUAL, B_RESOLVED},
    "GradualDriftRule": {D_GRADUAL["unmonitored"], D_GRADUAL["declining"], D_GRADUAL["not_yet_known"]},
    "SuddenShiftRule": {D_SUDDEN},
    "QualityInvestigateRule": {Q_SUDDEN},
    "QualityRetrainRule": {Q_GRADUAL},
    "AuditRule": {D_SUDDEN, D_RESOLVED, *D_GRADUAL.values(), Q_SUDDEN, Q_GRADUAL, Q_RECOVERED, B_SUDDEN, B_GRADUAL, B_RESOLVED},
}


def variant(event, detail_type=None, **detail):
    """A copy of `event` with another detail-type and detail fields (the forms a snapshot's
    event takes when its episode turns gradual or resolves)."""
    e = json.loads(json.dumps(event))
    if detail_type:
        e["detail-type"] = detail_type
    e["detail"].update(detail)
    return e


def snapshot_events(name):
    return json.loads((ROOT / "tests/snapshots" / name).read_text().split("---", 2)[2])


def key(e):
    return (e["detail-type"], e["detail"]["kind"], e["detail"].get("quality", {}).get("verdict"))


def resolve(node, params):
    """Replaces {"Ref": parameter} by the parameter's default."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in params:
            return params[node["Ref"]]
        return {k: resolve(v, params) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, params) for v in node]
    return node


def json_path(event, path):
    node = event
    for part in path.removeprefix("$.").split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def main():
    endpoint = os.environ.get("MOTO_ENDPOINT")
    if not endpoint:
        sys.exit("MOTO_ENDPOINT is not set (./scripts/test starts moto and sets it)")
    template = cfn_yaml.load(str(ROOT / "deploy/rules.yaml"))
    params = {name: p.get("Default") for name, p in template["Parameters"].items()}
    rules = {
        name: r["Properties"]
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::Events::Rule" and "EventPattern" in r["Properties"]
    }
    events = snapshot_events("cli__example_events.snap")
    kinds = sorted({e["detail-type"] for e in events})
    assert kinds == sorted({SUDDEN, GRADUAL, RESOLVED}), kinds
    quality = snapshot_events("cli__quality_events.snap")
    assert [key(e) for e in quality] == [Q_SUDDEN], [key(e) for e in quality]
    gradual_q = variant(quality[0], kind="gradual", action="retrain", basis="ramp")
    recovered_q = variant(quality[0], RECOVERED, kind="resolved", action="none", basis="quiet")
    # The example's gradual drift as it reads when the labels say declining, not yet known, stable.
    gradual_d = next(e for e in events if e["detail-type"] == GRADUAL)
    assert key(gradual_d) == D_GRADUAL["unmonitored"], key(gradual_d)
    with_labels = []
    for verdict in ("declining", "not_yet_known", "stable"):
        with_labels.append(variant(gradual_d, quality={"verdict": verdict, "windowsJudged": 12, "estimated": False}))
    # The bias event of tests/bias.rs (a facet value that stopped appearing: sudden), with its
    # gradual and resolved forms.
    bias = snapshot_events("bias__bias_events.snap")
    assert [key(e) for e in bias] == [B_SUDDEN], [key(e) for e in bias]
    gradual_b = variant(bias[0], kind="gradual", action="review", basis="ramp")
    resolved_b = variant(bias[0], BIAS_RESOLVED, kind="resolved", action="none", basis="quiet")
    events = events + with_labels + quality + [gradual_q, recovered_q] + bias + [gradual_b, resolved_b]
    # driftwatch's events under another source must match nothing.
    stranger = dict(events[0], source="not-driftwatch")

    session = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    eb, sqs = boto3.client("events", **session), boto3.client("sqs", **session)
    failures = []
    assert set(rules) == set(EXPECTED), f"rules in the template: {sorted(rules)}"
    for name, rule in rules.items():
        pattern = resolve(rule["EventPattern"], params)
        suffix = uuid.uuid4().hex[:8]
        bus = f"check-{name}-{suffix}"
        eb.create_event_bus(Name=bus)
        queue = sqs.create_queue(QueueName=f"check-{name}-{suffix}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        eb.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
        eb.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
        for e in events + [stranger]:
            out = eb.put_events(
                Entries=[
                    {
                        "Source": e["source"],
                        "DetailType": e["detail-type"],
                        "Detail": json.dumps(e["detail"]),
                        "Resources": e["resources"],
                        "EventBusName": bus,
                    }
                ]
            )
            assert out["FailedEntryCount"] == 0, out
        got = []
        while True:
            msgs = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            if not msgs:
                break
            for m in msgs:
                got.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        received = sorted(key(g) for g in got)
        want = sorted(key(e) for e in events if key(e) in EXPECTED[name])
        status = "ok" if received == want else "WRONG"
        print(f"{status}: {name} {json.dumps(pattern)} received {received}")
        if received != want:
            failures.append(f"{name}: received {received}, expected {want}")
        if any(g["source"] != events[0]["source"] for g in got):
            failures.append(f"{name}: matched an event from another source")

    # The retraining pipeline's parameters, from the data-drift and the model-quality events.
    for rule, gradual in (
        ("GradualDriftRule", next(e for e in events if e["detail-type"] == GRADUAL)),
        ("QualityRetrainRule", gradual_q),
    ):
        check_parameters(rule, rules[rule], gradual, failures)
    if failures:
        sys.exit("rules check failed:\n  " + "\n  ".join(failures))


def check_parameters(name, rule, gradual, failures):
    for target in rule["Targets"]:
        for p in target.get("SageMakerPipelineParameters", {}).get("PipelineParameterList", []):
            if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", p["Name"]):
                failures.append(f"pipeline parameter name {p['Name']!r} is not accepted by EventBridge")
            value = p["Value"]
            if value.startswith("$.") and not isinstance(json_path(gradual, value), str):
                failures.append(f"{name}: pipeline parameter {p['Name']}: {value} is not a string in the gradual event")
            else:
                print(f"ok: {name} pipeline parameter {p['Name']} = {value} -> {json_path(gradual, value)!r}")


if __name__ == "__main__":
    main()
