"""moto server with the SageMaker monitoring-schedule API added.

moto 5.2.5 emulates S3, EventBridge, SQS and SageMaker endpoints, but answers HTTP 500 to
Create/List/Describe/DeleteMonitoringSchedule, which driftwatch's discovery calls. This launcher
adds those four actions to moto's SageMaker responder, storing schedules on the SageMaker
backend (per account and region, so `/moto-api/reset` clears them), then starts the normal
server with the usual flags:

    python tests/moto_server.py -H 127.0.0.1 -p 0

It relies on moto internals, so scripts/test pins moto[server]==5.2.5.
"""

import datetime
import sys

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ResourceNotFound, ValidationError
from moto.sagemaker.responses import SageMakerResponse
from moto.server import main


def _schedules(backend):
    if not hasattr(backend, "driftwatch_schedules"):
        backend.driftwatch_schedules = {}
    return backend.driftwatch_schedules


def _arn(self, name):
    return f"arn:aws:sagemaker:{self.region}:{self.current_account}:monitoring-schedule/{name.lower()}"


def create_monitoring_schedule(self):
    name = self._get_param("MonitoringScheduleName")
    config = self._get_param("MonitoringScheduleConfig") or {}
    schedules = _schedules(self.sagemaker_backend)
    if name in schedules:
        raise ValidationError(f"Monitoring Schedule {name} already exists")
    job = config.get("MonitoringJobDefinition") or {}
    endpoint = (job.get("MonitoringInputs") or [{}])[0].get("EndpointInput", {}).get("EndpointName")
    if endpoint is None and config.get("MonitoringJobDefinitionName"):
        definition = self.sagemaker_backend.describe_data_quality_job_definition(config["MonitoringJobDefinitionName"])
        endpoint = definition.get("DataQualityJobInput", {}).get("EndpointInput", {}).get("EndpointName")
    now = datetime.datetime.now(datetime.timezone.utc)
    schedules[name] = {
        "MonitoringScheduleArn": _arn(self, name),
        "MonitoringScheduleName": name,
        "MonitoringScheduleStatus": "Scheduled",
        "MonitoringType": config.get("MonitoringType", "DataQuality"),
        "CreationTime": now,
        "LastModifiedTime": now,
        "MonitoringScheduleConfig": config,
        "EndpointName": endpoint,
    }
    return ActionResult({"MonitoringScheduleArn": schedules[name]["MonitoringScheduleArn"]})


def describe_monitoring_schedule(self):
    name = self._get_param("MonitoringScheduleName")
    schedule = _schedules(self.sagemaker_backend).get(name)
    if schedule is None:
        raise ResourceNotFound(f"Monitoring Schedule {name} not found")
    return ActionResult({k: v for k, v in schedule.items() if v is not None})


def list_monitoring_schedules(self):
    endpoint = self._get_param("EndpointName")
    kind = self._get_param("MonitoringTypeEquals")
    contains = self._get_param("NameContains")
    status = self._get_param("StatusEquals")
    rows = sorted(_schedules(self.sagemaker_backend).values(), key=lambda s: s["MonitoringScheduleName"])
    rows = [
        s
        for s in rows
        if (endpoint is None or s["EndpointName"] == endpoint)
        and (kind is None or s["MonitoringType"] == kind)
        and (contains is None or contains in s["MonitoringScheduleName"])
        and (status is None or s["MonitoringScheduleStatus"] == status)
    ]
    start = int(self._get_param("NextToken") or 0)
    size = int(self._get_param("MaxResults") or 10)
    page = rows[start : start + size]
    summaries = [
        {
            "MonitoringScheduleName": s["MonitoringScheduleName"],
            "MonitoringScheduleArn": s["MonitoringScheduleArn"],
            "CreationTime": s["CreationTime"],
            "LastModifiedTime": s["LastModifiedTime"],
            "MonitoringScheduleStatus": s["MonitoringScheduleStatus"],
            "MonitoringType": s["MonitoringType"],
            **({"EndpointName": s["EndpointName"]} if s["EndpointName"] else {}),
        }
        for s in page
    ]
    result = {"MonitoringScheduleSummaries": summaries}
    if start + size < len(rows):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


def delete_monitoring_schedule(self):
    name = self._get_param("MonitoringScheduleName")
    if _schedules(self.sagemaker_backend).pop(name, None) is None:
        raise ResourceNotFound(f"Monitoring Schedule {name} not found")
    return EmptyResult()


for _f in (create_monitoring_schedule, describe_monitoring_schedule, list_monitoring_schedules, delete_monitoring_schedule):
    setattr(SageMakerResponse, _f.__name__, _f)


if __name__ == "__main__":
    sys.exit(main())
