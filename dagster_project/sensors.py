"""``drop_folder_sensor``: one run per new file in ``$METERR_HOME/drop`` (subfolders included).

The cursor is JSON ``{relative path: [size, mtime_ns]}`` of files already requested and still in
the folder; entries vanish once a run archives or quarantines the file, so it stays small. Run keys
carry the file's digest. The sensor only lists and hashes files: it never opens DuckDB.
"""

import json
import time

import dagster as dg

from dagster_project.jobs import ingest_job
from dagster_project.resources import DropFolder
from ingest.drop import SETTLE_SECONDS


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches $METERR_HOME/drop and requests one ingest run per new or changed file.",
)
def drop_folder_sensor(context: dg.SensorEvaluationContext, drop_folder: DropFolder):
    seen: dict[str, list[int]] = json.loads(context.cursor) if context.cursor else {}
    now_ns = time.time_ns()
    current: dict[str, list[int]] = {}
    requests: list[dg.RunRequest] = []
    files, skipped = drop_folder.scan()
    for folder in skipped:
        # A run for named files does not walk the folder, so the tick says it, each time.
        context.log.warning(folder.line())
    for item in files:
        signature = [item.size, item.mtime_ns]
        if (now_ns - item.mtime_ns) / 1e9 < SETTLE_SECONDS:
            # Not settled: leave it out of the cursor so a later tick picks it up.
            if item.relative in seen:
                current[item.relative] = seen[item.relative]
            continue
        current[item.relative] = signature
        if seen.get(item.relative) == signature:
            continue
        try:
            digest = drop_folder.digest(item.path)
            identity = digest
        except OSError:
            # Unreadable here (no permission, a link to nothing): the run still takes the file,
            # to quarantine it with its reason; a tick must not fail for one file. Content names
            # a run; an unreadable file has none, so its path does.
            digest, identity = "unreadable", f"unreadable:{item.relative}"
        requests.append(
            dg.RunRequest(
                run_key=f"{identity}-{item.mtime_ns}",
                run_config={"ops": {"drop_folder_files": {"config": {"files": [str(item.path)]}}}},
                tags={"meterr/file": item.relative, "meterr/sha256": digest},
            )
        )
    cursor = json.dumps(current, sort_keys=True)
    if not requests and skipped:
        # The tick's skip reason is what the sensor's page in the UI shows.
        reason = "no new files; " + "; ".join(folder.line() for folder in skipped)
        return dg.SensorResult(skip_reason=reason, cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)
