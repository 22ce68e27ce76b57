"""Raw tables pulled from the providers' organization APIs: a daily-partitioned asset per endpoint.

Each run replaces exactly its window of UTC days for every enabled integration of that provider
(stored user keys plus the environment's admin keys), inside one DuckDB transaction per endpoint
and window: a failure mid-pagination leaves the previous rows of those days untouched. With no key
configured the asset is skipped with a log line, never an error. Runs cover a range of days at
once (single-run backfill policy), so a first backfill of 30 days is one run.
"""

import os
from datetime import date, timedelta

import dagster as dg

from dagster_project.check_results import check_outcome
from dagster_project.resources import MeterrSettings
from ingest import check_log, quality
from ingest.integrations import IntegrationSecretError, enabled_integrations, env_integrations
from ingest.loading import ensure_table
from ingest.providers.http import ProviderUnavailableError
from ingest.providers.sync import (
    ENDPOINTS,
    SyncGateError,
    base_url_for,
    duplicate_grain,
    sync_window,
)
from ingest.warehouse import connect

GATE_CHECK = "quality_gate"
# Usage APIs answer for any day since the organisation started; 2024-01-01 bounds the UI's list.
PARTITIONS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_offset=1, timezone="UTC")
PARTITION_RANGE_START = "dagster/asset_partition_range_start"
PARTITION_RANGE_END = "dagster/asset_partition_range_end"
# Materialization metadata: the integrations whose pull failed ("id: reason"); the schedule does
# not count a partition pulled with errors as pulled.
PULL_ERRORS = "errors"
# Providers that did not answer at all earlier in a run (run id -> provider -> why): the run's
# other endpoints of that provider are skipped with that reason, instead of each waiting out its
# own timeouts (five endpoints of a stalled provider held a run for half an hour). Only steps in
# one process share it (`meterr run`, the in-process executor); elsewhere each step finds out.
_STALLED: dict[str, dict[str, str]] = {}


class ProviderApis(dg.ConfigurableResource):
    """Where the provider APIs are and which keys to use.

    Keys are read from the environment (``OPENAI_ADMIN_KEY``, ``ANTHROPIC_ADMIN_KEY``) and from the
    encrypted integrations store at run time, so no key ever sits in run config or the UI.
    """

    openai_base_url: str | None = None
    anthropic_base_url: str | None = None

    def base_url(self, provider: str) -> str:
        explicit = {"openai": self.openai_base_url, "anthropic": self.anthropic_base_url}
        return explicit.get(provider) or base_url_for(provider, os.environ)

    def integrations(self, home, provider: str, log) -> list:
        found = [i for i in env_integrations(os.environ) if i.provider == provider]
        try:
            found += [i for i in enabled_integrations(home) if i.provider == provider]
        except IntegrationSecretError as exc:
            # The stored keys cannot be read; the environment's keys still run.
            log.error(str(exc))
        return found


def _window(context: dg.AssetExecutionContext) -> tuple[date, date]:
    window = context.partition_time_window
    first = window.start.date()
    last = (window.end - timedelta(seconds=1)).date()
    return first, last


def _make_asset(name: str):
    endpoint = ENDPOINTS[name]
    provider = endpoint.profile.provider
    key = dg.AssetKey(["raw", endpoint.table.raw_table])

    @dg.multi_asset(
        name=f"{endpoint.table.raw_table}_pull",
        specs=[
            dg.AssetSpec(
                key,
                group_name=provider,
                kinds={"duckdb", "python", provider},
                skippable=True,
                partitions_def=PARTITIONS,
                description=(
                    f"`GET {endpoint.path}` ({endpoint.profile.display}), one row per bucket "
                    f"result x {', '.join(endpoint.grain)}; raw fields as received."
                ),
                metadata={"dagster/table_name": endpoint.table.qualified_table},
            )
        ],
        check_specs=[
            dg.AssetCheckSpec(
                GATE_CHECK,
                asset=key,
                blocking=True,
                description=(
                    "great-expectations gate on every pulled window before it replaces the old "
                    "rows, and SQL invariants (signs, ranges, no repeated grain) over the table."
                ),
            )
        ],
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool="duckdb_writer",
        can_subset=True,
    )
    def _pull(context: dg.AssetExecutionContext, meterr: MeterrSettings, providers: ProviderApis):
        home = meterr.layout()
        integrations = providers.integrations(home, provider, context.log)
        if not integrations:
            context.log.info(
                f"no {endpoint.profile.display} key configured "
                f"(set {endpoint.profile.key_env_var} or `meterr integrations add`): skipping"
            )
            return
        first, last = _window(context)
        results, errors = [], []
        if context.run_id not in _STALLED:
            _STALLED.clear()  # a new run asks every provider again
            _STALLED[context.run_id] = {}
        stalled = _STALLED[context.run_id]
        for integration in integrations:
            if provider in stalled:
                skipped = (
                    f"{integration.integration_id}: {endpoint.name} {first}..{last}: skipped: "
                    f"{stalled[provider]}"
                )
                errors.append(skipped)
                context.log.error(skipped)
                continue
            try:
                result = sync_window(
                    home,
                    endpoint,
                    first,
                    last,
                    api_key=integration.api_key,
                    integration_id=integration.integration_id,
                    user_id=integration.user_id,
                    base_url=providers.base_url(provider),
                )
                results.append(result)
                context.log.info(
                    f"{integration.integration_id}: {result.rows} rows for {first}..{last}"
                )
                if result.uncovered_days:
                    # A response that stopped short: what came is kept, but the window is not
                    # pulled (the schedule and `meterr run` ask for the missing days again).
                    short = (
                        f"{integration.integration_id}: {endpoint.name} {first}..{last}: the "
                        f"response has no bucket for {result.uncovered_days} day(s) from "
                        f"{result.first_uncovered_day}; those days are asked for again on the "
                        "next pull"
                    )
                    errors.append(short)
                    context.log.warning(short)
            except SyncGateError as exc:
                errors.append(f"{integration.integration_id}: {exc}")
            except Exception as exc:  # one user's bad key must not stop the others
                # The endpoint and window, so the line alone says what to pull again.
                failed = f"{integration.integration_id}: {endpoint.name} {first}..{last}: {exc}"
                errors.append(failed)
                context.log.error(failed)
                if isinstance(exc, ProviderUnavailableError) and exc.stalled:
                    stalled[provider] = (
                        f"{endpoint.profile.display} did not answer {endpoint.name} in this run"
                    )
        with connect(home) as con:
            # A first pull that failed (a refused key) created no table; check an empty one
            # rather than fail on a missing table and bury the pull's own reason.
            ensure_table(con, endpoint.table)
            violations = quality.raw_invariant_violations(con, endpoint.table)
            repeated = duplicate_grain(con, endpoint, endpoint.table.qualified_table)
            if repeated:
                violations.append(repeated)
            total = con.execute(
                f"SELECT count(*) FROM {endpoint.table.qualified_table}"
            ).fetchone()[0]
            check = dg.AssetCheckResult(
                asset_key=key,
                check_name=GATE_CHECK,
                passed=not violations and not errors,
                severity=(
                    dg.AssetCheckSeverity.ERROR if violations else dg.AssetCheckSeverity.WARN
                ),
                metadata={
                    "violations_in_raw": dg.MetadataValue.json(violations),
                    "rejected_windows": dg.MetadataValue.json(errors),
                },
            )
            check_log.record(con, [check_outcome(check)], run_id=context.run_id)
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "window": f"{first}..{last}",
                "rows_pulled": sum(r.rows for r in results),
                "integrations": len(integrations),
                PULL_ERRORS: dg.MetadataValue.json(errors),
                "dagster/row_count": total,
            },
        )
        yield check

    return _pull


PROVIDER_API_ASSETS = [_make_asset(name) for name in ENDPOINTS]
