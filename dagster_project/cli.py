"""The ``meterr`` command: a thin layer that materialises the same Dagster definitions in-process.

Nothing here touches the warehouse directly except through assets, so every command passes the same
quality gate and dbt tests as the schedules and the sensor.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ingest.paths import meterr_home

log = logging.getLogger("meterr")


def _progress(message: str) -> None:
    print(f"meterr: {message}", file=sys.stderr, flush=True)


def _materialize(selection, run_config: dict | None = None, tags: dict | None = None):
    """Run ``selection`` of the one Definitions in this process; returns the Dagster result."""
    import dagster as dg

    from dagster_project.definitions import ASSETS, resources

    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
    config = dict(run_config or {})
    # Dagster's event log stays quiet on the console; the commands print their own lines.
    config.setdefault("loggers", {"console": {"config": {"log_level": "WARNING"}}})
    # dagster-dbt echoes dbt's log to stdout; send it to stderr as progress so stdout keeps the
    # commands' own lines (one per file for `meterr ingest`, the report path for `meterr demo`).
    with contextlib.redirect_stdout(sys.stderr):
        return dg.materialize(
            ASSETS,
            selection=selection,
            run_config=config,
            resources=resources(),
            instance=instance,
            raise_on_error=False,
            tags=tags,
        )


def _outcomes(result) -> list[dict]:
    from dagster_project.assets.drop_folder import LEDGER_KEY

    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key == LEDGER_KEY:
            value = materialization.metadata.get("outcomes_json")
            return list(value.value) if value is not None else []
    return []


# What dagster-dbt's DagsterDbtCliRuntimeError quotes from dbt's log for each failed node: an
# error in a node ("Runtime Error in model fct_x (path)", then the message on the next line) or a
# failed data test ("Failure in test not_null_x (path)", then "Got 3 results, ...").
_DBT_NODE_ERROR = re.compile(
    r"^\s*(?:(?:Runtime|Compilation|Database|Dependency) Error in (\w+) (\S+)|Failure in (test) "
    r"(\S+)) \([^)]*\)\s*\n\s*(\S.*)$",
    re.MULTILINE,
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# A run's line names this many failed nodes, then how many more.
SHOWN_DBT_FAILURES = 3


def _dbt_failures(message: str) -> str | None:
    """The failed dbt nodes a dagster-dbt error quotes, as ``model NAME: what dbt said`` joined by
    "; " (None when it quotes none): dagster-dbt's own first line only says that "the dbt CLI
    process with command" failed."""
    failures = []
    for match in _DBT_NODE_ERROR.finditer(_ANSI.sub("", message)):
        kind, name = (match[1], match[2]) if match[1] else (match[3], match[4])
        failure = f"{kind} {name}: {match[5].strip()}"
        if failure not in failures:
            failures.append(failure)
    if not failures:
        return None
    more = len(failures) - SHOWN_DBT_FAILURES
    shown = "; ".join(failures[:SHOWN_DBT_FAILURES])
    return f"dbt build failed: {shown}" + (f"; and {more} more" if more > 0 else "")


def _reason(error) -> str:
    """What a failed step's error says is wrong: the first line of the first exception in its
    cause chain that is not Dagster's wrapper ("Error occurred while executing op ..."), without
    its module path; for a failed dbt build, the nodes that failed and why."""
    while True:
        if error.cls_name == "DagsterDbtCliRuntimeError":
            failures = _dbt_failures(error.message)
            if failures:
                return failures
        if error.cause is None or not error.cls_name.startswith("Dagster"):
            break
        error = error.cause
    first_line = error.message.strip().splitlines()[0] if error.message.strip() else "failed"
    return re.sub(r"^(?:\w+\.)+(\w+:)", r"\1", first_line)


def _failures(result) -> list[str]:
    """Why a run did not succeed: failed steps and failed blocking (ERROR) checks."""
    problems = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            problems.append(f"{event.step_key}: {_reason(error) if error else 'failed'}")
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.severity.value == "ERROR":
            problems.append(
                f"check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} failed"
            )
    return problems


def _run_pipeline(
    files: list[Path] | None, *, report: bool, week: str | None = None, settle: bool = True
):
    from dagster_project import dbt_warm
    from ingest import quality
    from ingest.drop import SETTLE_SECONDS, pending_files
    from ingest.unpack import scan_ahead

    # While Dagster starts, on the other core: the files' one read (digest, line check) in a
    # thread, great-expectations loading and dbt importing in processes of their own.
    waiting = files if files is not None else pending_files(meterr_home())
    scan_ahead(waiting)
    if waiting:
        quality.load_in_background()
    dbt_warm.start_ahead()
    from dagster_project.jobs import FULL_SELECTION, INGEST_SELECTION

    run_config: dict = {"ops": {}}
    if files is not None:
        run_config["ops"]["drop_folder_files"] = {"config": {"files": [str(f) for f in files]}}
    elif settle:
        # As the sensor does: a file modified in the last seconds may still be being written.
        run_config["ops"]["drop_folder_files"] = {"config": {"settle_seconds": SETTLE_SECONDS}}
    if report and week:
        run_config["ops"]["reports__weekly_report"] = {"config": {"week": week}}
    started = time.monotonic()
    _progress("loading files, building marts with dbt" + (", rendering reports" if report else ""))
    result = _materialize(FULL_SELECTION if report else INGEST_SELECTION, run_config)
    _progress(f"pipeline finished in {time.monotonic() - started:.0f}s")
    return result


def _settings_problem() -> str | None:
    """What is wrong with ``meterr.yaml`` or the price override file, checked before a run starts
    (a build would fail on it after loading files); None when both are fine or absent."""
    from ingest.settings import SettingsError, dbt_vars

    try:
        dbt_vars(meterr_home())
    except SettingsError as exc:
        return str(exc)
    return None


def _warn_of_settings(what: str) -> None:
    """Commands that read the marts without building them still say when ``meterr.yaml`` or the
    price override file is broken: the marts keep the last build's settings and prices, and
    without the warning an edit that did not take would look as if it had."""
    problem = _settings_problem()
    if problem:
        print(f"warning: {problem}; the {what} shows the last build's prices and settings",
              file=sys.stderr)


def cmd_ingest(args: argparse.Namespace) -> int:
    missing = [name for name in args.files if not Path(name).is_file()]
    for name in missing:
        what = "is a directory" if Path(name).is_dir() else "no such file"
        print(f"error: {name}: {what}; nothing was ingested", file=sys.stderr)
    problem = _settings_problem()
    if problem:
        print(f"error: {problem}; nothing was ingested", file=sys.stderr)
    if missing or problem:
        return 1
    home = meterr_home().ensure()
    inbox = home.drop / "cli"
    inbox.mkdir(parents=True, exist_ok=True)
    copies = []
    for name in args.files:
        source = Path(name)
        target = inbox / source.name
        if target.exists():
            target = inbox / f"{time.time_ns()}-{source.name}"
        # Copy under a hidden name, then rename: the sensor never sees a half-written file.
        partial = target.with_name("." + target.name + ".part")
        shutil.copyfile(source, partial)
        os.replace(partial, target)
        copies.append(target)
    # No FILE: everything already waiting in drop/ (what the sensor would pick up).
    result = _run_pipeline(copies if args.files else None, report=False)
    outcomes = _outcomes(result)
    for outcome in outcomes:
        print(outcome["line"], flush=True)
    problems = _failures(result)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    quarantined = any(o["status"] == "quarantined" for o in outcomes)
    return 1 if quarantined or problems else 0


def _integrations(home) -> tuple[list, str | None]:
    """The integrations a pull uses (the environment's keys, then the stored ones), and why the
    stored ones cannot be read (a wrong or missing ``METERR_SECRET_KEY``), if so."""
    from ingest.integrations import IntegrationSecretError, enabled_integrations, env_integrations

    integrations = list(env_integrations())
    try:
        integrations += enabled_integrations(home)
    except IntegrationSecretError as exc:
        return integrations, str(exc)
    return integrations, None


def api_window(home, today=None, integrations: list | None = None) -> tuple | None:
    """The UTC days ``meterr run`` pulls from the APIs for ``integrations`` (default: those of
    :func:`_integrations`): the last 30 the first time an integration's endpoint is seen, else the
    last 3 (providers revise recent buckets) and every day since the oldest endpoint's last
    successful sync (up to 90 days). None: no key that can be used."""
    from datetime import UTC, datetime

    from ingest.providers.sync import endpoints_for, last_synced_days, pull_start

    if integrations is None:
        integrations, _ = _integrations(home)
    if not integrations:
        return None
    today = today or datetime.now(UTC).date()
    synced = {i.integration_id: last_synced_days(home, i.integration_id) for i in integrations}
    last = [
        synced[integration.integration_id].get(endpoint.name)
        for integration in integrations
        for endpoint in endpoints_for(integration.provider)
    ]
    return pull_start(last, today), today


def _pull_apis(home) -> list[str]:
    from dagster_project.assets.provider_apis import PARTITION_RANGE_END, PARTITION_RANGE_START
    from dagster_project.jobs import PROVIDER_API_SELECTION

    # Stored keys that cannot be decrypted are an error of the run; the environment's keys
    # still run.
    integrations, secret_problem = _integrations(home)
    problems = [secret_problem] if secret_problem else []
    window = api_window(home, integrations=integrations)
    if window is None:
        if secret_problem:
            _progress("no provider API key could be read: skipping the API pull")
        else:
            _progress(
                "no provider API key configured (OPENAI_ADMIN_KEY, ANTHROPIC_ADMIN_KEY or "
                "`meterr integrations add`): skipping the API pull"
            )
        return problems
    first, last = window
    _progress(f"pulling provider usage and cost APIs for {first}..{last}")
    result = _materialize(
        PROVIDER_API_SELECTION,
        tags={PARTITION_RANGE_START: first.isoformat(), PARTITION_RANGE_END: last.isoformat()},
    )
    problems += _failures(result)
    for evaluation in result.get_asset_check_evaluations():
        rejected = evaluation.metadata.get("rejected_windows")
        for line in rejected.value if rejected is not None else []:
            problems.append(line)
    return problems


def cmd_run(args: argparse.Namespace) -> int:
    problem = _settings_problem()
    if problem:
        print(f"error: {problem}; nothing was run", file=sys.stderr)
        return 1
    home = meterr_home().ensure()
    api_problems = _pull_apis(home)
    for problem in api_problems:
        print(f"error: {problem}", file=sys.stderr)
    result = _run_pipeline(None, report=True)
    for outcome in _outcomes(result):
        print(outcome["line"], flush=True)
    problems = _failures(result)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    print(home.reports / "index.html")
    return 1 if problems or api_problems else 0


def _report_path(result) -> Path | None:
    """The weekly report the run's report asset wrote (its ``path`` metadata)."""
    for event in result.get_asset_materialization_events():
        path = event.event_specific_data.materialization.metadata.get("path")
        if path is not None:
            return Path(path.value)
    return None


def cmd_demo(args: argparse.Namespace) -> int:
    from ingest.sample_data import write_sample_files

    problem = _settings_problem()
    if problem:
        print(f"error: {problem}; nothing was run", file=sys.stderr)
        return 1
    home = meterr_home().ensure()
    written = write_sample_files(home.drop)
    _progress(f"wrote the sample data set ({len(written)} files) into {home.drop}")
    # The sample files were just written whole: no need to let them settle.
    result = _run_pipeline(None, report=True, settle=False)
    for outcome in _outcomes(result):
        print(outcome["line"], flush=True)
    problems = _failures(result)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    newest = _report_path(result)
    if problems or newest is None or not newest.exists():
        print("demo failed: no report was written", file=sys.stderr)
        return 1
    print(newest)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from dagster_project.jobs import REPORT_SELECTION

    _warn_of_settings("report")
    run_config = {"ops": {"reports__weekly_report": {"config": {"week": args.week or ""}}}}
    result = _materialize(REPORT_SELECTION, run_config)
    problems = _failures(result)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    path = _report_path(result)
    if problems or path is None:
        return 1
    print(path)
    return 0


def cmd_export_focus(args: argparse.Namespace) -> int:
    import dagster as dg

    from dagster_project.assets.reports import focus_export

    _warn_of_settings("export")
    run_config = {"ops": {"exports__focus_export": {"config": {"month": args.month}}}}
    result = _materialize(dg.AssetSelection.assets(focus_export), run_config)
    problems = _failures(result)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    path = _report_path(result)
    if problems or path is None:
        return 1
    print(path)
    return 0


def cmd_webhooks_serve(args: argparse.Namespace) -> int:
    from ingest.webhooks import serve

    serve(host=args.host, port=args.port)
    return 0


def iso_week(text: str) -> str:
    """``--week``: an ISO week ``YYYY-Www`` that exists (``2026-w5`` is read as ``2026-W05``)."""
    from datetime import date

    found = re.fullmatch(r"(\d{4})-[Ww](\d{1,2})", text.strip())
    try:
        if not found:
            raise ValueError
        year, week = int(found[1]), int(found[2])
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO week: expected YYYY-Www, e.g. 2026-W49"
        ) from None
    if monday > _today():
        # A page for it would say "no usage was recorded", which is not known yet.
        raise argparse.ArgumentTypeError(
            f"{year}-W{week:02d} starts on {monday.isoformat()}, after today: nothing to report yet"
        )
    return f"{year}-W{week:02d}"


def calendar_month(text: str) -> str:
    """``--month``: a calendar month ``YYYY-MM``."""
    from datetime import date

    found = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not found or not 1 <= int(found[2]) <= 12:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a calendar month: expected YYYY-MM, e.g. 2026-11"
        )
    if date(int(found[1]), int(found[2]), 1) > _today():
        raise argparse.ArgumentTypeError(f"{found[0]} has not started yet: nothing to export")
    return found[0]


def _today():
    """Today's UTC date (the reports' and exports' days are UTC days)."""
    from datetime import UTC, datetime

    return datetime.now(UTC).date()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meterr",
        description="Read-only AI cost analytics: a Dagster + dbt pipeline into DuckDB.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="load the bundled sample data and render the reports")
    demo.set_defaults(func=cmd_demo)
    run = sub.add_parser("run", help="what the schedules do, once")
    run.set_defaults(func=cmd_run)
    ingest = sub.add_parser(
        "ingest",
        help="copy files into the drop folder and process them now "
        "(no FILE: process everything waiting in the drop folder)",
    )
    ingest.add_argument("files", nargs="*", metavar="FILE")
    ingest.set_defaults(func=cmd_ingest)
    report = sub.add_parser("report", help="render the weekly report and the index")
    report.add_argument(
        "--week", type=iso_week, help="ISO week YYYY-Www (default: the last complete week)"
    )
    report.set_defaults(func=cmd_report)
    export = sub.add_parser("export", help="write a standard export of the marts")
    export_sub = export.add_subparsers(dest="export_command", required=True)
    focus = export_sub.add_parser("focus", help="a FinOps FOCUS 1.2 file (CSV and Parquet)")
    focus.add_argument("--month", type=calendar_month, required=True, help="calendar month YYYY-MM")
    focus.set_defaults(func=cmd_export_focus)
    from ingest.integrations_cli import add_subparsers as add_integrations

    add_integrations(sub).set_defaults(func=lambda a: a.handler(a))
    webhooks = sub.add_parser("webhooks", help="the webhook receiver")
    webhooks_sub = webhooks.add_subparsers(dest="webhooks_command", required=True)
    serve = webhooks_sub.add_parser("serve", help="receive signed payloads into the drop folder")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    serve.set_defaults(func=cmd_webhooks_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (NotADirectoryError, PermissionError, FileExistsError, IsADirectoryError) as exc:
        # METERR_HOME (or a folder in it) is unusable: say which path and why, not a traceback.
        print(
            f"error: {exc.strerror}: {exc.filename} (METERR_HOME={meterr_home().root})",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
