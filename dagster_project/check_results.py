"""Turning a Dagster check result into a row of ``meta.check_results``."""

import dagster as dg

from ingest.check_log import CheckOutcome


def check_outcome(result: dg.AssetCheckResult) -> CheckOutcome:
    """The warehouse's record of one check evaluation (failing metadata summarised as text)."""
    details = []
    for name, value in (result.metadata or {}).items():
        raw = getattr(value, "value", value)
        if raw in (None, [], {}, 0, ""):
            continue
        details.append(f"{name}: {raw}")
    return CheckOutcome(
        asset_key=result.asset_key.to_user_string() if result.asset_key else "",
        check_name=result.check_name or "",
        passed=bool(result.passed),
        severity=result.severity.value if result.severity else None,
        description="; ".join(details)[:2000] or None,
    )
