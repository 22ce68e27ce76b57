"""The drop folder's raw tables: one Dagster asset per ``raw.*`` table an export format writes.

All of them are produced by one step (a file's format is only known after reading it), which
processes the pending files, yields a materialization per raw table and the quality gate's result
as a blocking check on each. Bad files never reach ``raw``: the gate runs before the commit.
"""

from pathlib import Path

import dagster as dg

from dagster_project.check_results import check_outcome
from dagster_project.resources import MeterrSettings
from ingest import check_log, quality
from ingest.drop import FileOutcome, process_drop_folder
from ingest.formats import FORMATS
from ingest.warehouse import connect

GATE_CHECK = "quality_gate"
LEDGER_KEY = dg.AssetKey(["meta", "ingested_files"])


def raw_key(raw_table: str) -> dg.AssetKey:
    """Asset key of a raw table: the table it writes (``raw.<name>``)."""
    return dg.AssetKey(["raw", raw_table])


class DropFilesConfig(dg.Config):
    """Which files to process: paths (absolute or relative to the drop folder); empty = all."""

    files: list[str] = []
    settle_seconds: float = 0.0
    """Whole-folder runs only: a file modified less than this long ago is left for the next run
    (``meterr ingest`` and ``meterr run`` set :data:`ingest.drop.SETTLE_SECONDS`)."""


def _raw_specs() -> list[dg.AssetSpec]:
    seen: dict[str, dg.AssetSpec] = {}
    for fmt in FORMATS:
        if fmt.raw_table in seen:
            continue
        seen[fmt.raw_table] = dg.AssetSpec(
            key=raw_key(fmt.raw_table),
            group_name="exports",
            kinds={"duckdb", "python"},
            description=(
                f"Raw rows of dropped `{fmt.name}` files as received (usage fields only), "
                f"one row per record, plus the file they came from. Format detected by content."
            ),
            metadata={"dagster/table_name": f"raw.{fmt.raw_table}"},
        )
    return list(seen.values())


RAW_SPECS = _raw_specs()
LEDGER_SPEC = dg.AssetSpec(
    key=LEDGER_KEY,
    group_name="exports",
    kinds={"duckdb", "python"},
    description="meta.ingested_files: one row per file seen (loaded, duplicate or quarantined).",
)


def _check_result(spec: dg.AssetSpec, outcomes: list[FileOutcome], violations: list[str]):
    mine = [o for o in outcomes if o.raw_table == f"raw.{spec.key.path[-1]}"]
    rejected = [o for o in mine if o.status == "quarantined"]
    loaded = [o for o in mine if o.status == "loaded"]
    metadata = {
        "files_loaded": len(loaded),
        "rows_loaded": sum(o.row_count for o in loaded),
        "files_rejected": len(rejected),
        "rejected": dg.MetadataValue.json(
            [{"file": o.name, "reason": o.reason, "failed": o.gate_failures} for o in rejected]
        ),
        "violations_in_raw": dg.MetadataValue.json(violations),
    }
    if violations:
        # Committed rows break an invariant: block everything downstream.
        return dg.AssetCheckResult(
            asset_key=spec.key,
            check_name=GATE_CHECK,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata=metadata,
        )
    # A rejected batch was kept out of raw (quarantined); downstream is safe, so this warns.
    return dg.AssetCheckResult(
        asset_key=spec.key,
        check_name=GATE_CHECK,
        passed=not rejected,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )


@dg.multi_asset(
    name="drop_folder_files",
    specs=[*RAW_SPECS, LEDGER_SPEC],
    check_specs=[
        dg.AssetCheckSpec(
            GATE_CHECK,
            asset=spec.key,
            blocking=True,
            description=(
                "great-expectations gate: required columns, types, non-negative counts and costs, "
                "timestamps from 2020 to now, known providers, unique keys. Failing files are "
                "quarantined before commit; an invariant broken in rows committed since the "
                "check last passed blocks dbt."
            ),
        )
        for spec in RAW_SPECS
    ],
    can_subset=False,
    pool="duckdb_writer",
)
def drop_folder_files(
    context: dg.AssetExecutionContext, config: DropFilesConfig, meterr: MeterrSettings
):
    """Load every pending file in ``$METERR_HOME/drop`` (or the configured ones)."""
    home = meterr.layout()
    files = None
    if config.files:
        files = [p if p.is_absolute() else home.drop / p for p in map(Path, config.files)]
    outcomes = process_drop_folder(
        home,
        files,
        on_file=lambda o: context.log.info(o.line()),
        settle_seconds=config.settle_seconds,
    )
    checks = []
    with connect(home) as con:
        # Rows committed before the check last passed were clean then and cannot have broken
        # since, so only newer rows (and their keys) are checked again; of those, the batches
        # this run's gate has just passed are not read a second time.
        violations = {
            spec.key.path[-1]: quality.raw_invariant_violations(
                con,
                fmt,
                since=check_log.last_passed(con, spec.key.to_user_string(), GATE_CHECK),
                gated=[
                    (o.file_sha256, o.gated_at)
                    for o in outcomes
                    if o.raw_table == fmt.qualified_table and o.gated_at and o.file_sha256
                ],
            )
            for spec in RAW_SPECS
            for fmt in FORMATS
            if fmt.raw_table == spec.key.path[-1]
        }
        counts = {
            spec.key.path[-1]: con.execute(
                f"SELECT count(*) FROM raw.{spec.key.path[-1]}"
            ).fetchone()[0]
            for spec in RAW_SPECS
        }
        checks = [
            _check_result(spec, outcomes, violations[spec.key.path[-1]]) for spec in RAW_SPECS
        ]
        check_log.record(con, map(check_outcome, checks), run_id=context.run_id)
    for spec, check in zip(RAW_SPECS, checks, strict=True):
        table = spec.key.path[-1]
        mine = [o for o in outcomes if o.raw_table == f"raw.{table}" and o.status == "loaded"]
        yield dg.MaterializeResult(
            asset_key=spec.key,
            metadata={
                "rows_loaded_this_run": sum(o.row_count for o in mine),
                "files_loaded_this_run": len(mine),
                "dagster/row_count": counts[table],
            },
        )
        yield check
    yield dg.MaterializeResult(
        asset_key=LEDGER_KEY,
        metadata={
            "files_seen_this_run": len(outcomes),
            "loaded": sum(o.status == "loaded" for o in outcomes),
            "duplicate": sum(o.status == "duplicate" for o in outcomes),
            "quarantined": sum(o.status == "quarantined" for o in outcomes),
            # Still being written: left in drop/ for the next run, nothing of it committed.
            "waiting": sum(o.status == "waiting" for o in outcomes),
            # Folders under drop/ whose files cannot be reached (unreadable, or a link).
            "skipped": sum(o.status == "skipped" for o in outcomes),
            "outcomes": dg.MetadataValue.md(
                "\n".join(f"- {o.line()}" for o in outcomes) or "no files pending"
            ),
            "outcomes_json": dg.MetadataValue.json(
                [
                    {
                        "name": o.name,
                        "status": o.status,
                        "rows": o.row_count,
                        "reason": o.reason,
                        "format": o.format,
                        "line": o.line(),
                    }
                    for o in outcomes
                ]
            ),
        },
    )
