"""meterr's own settings file, ``$METERR_HOME/meterr.yaml``, turned into dbt vars.

The platform fee and the reconciliation tolerance are configured once, here, and every dbt build
(the Dagster asset, hence the CLI, schedules and sensor) passes them with ``--vars``. The file is
optional: without it meterr charges no fee. Schema (example: ``meterr.example.yaml``)::

    platform_fee:
      model: percentage        # none | percentage | per_request | flat_monthly
      percent: 5               # percentage: percent of provider cost (5 = 5%)
      per_request_usd: 0.002   # per_request: USD per request
      flat_monthly_usd: 100    # flat_monthly: USD per user and calendar month
    reconciliation:
      tolerance_usd: 0.01      # differences up to this many USD count as a match ...
      tolerance_percent: 1     # ... or up to this percent of the reference amount
    prices_override: prices.yaml   # price overrides; relative paths are under $METERR_HOME

Each fee model takes exactly its own amount key; anything else is an error that names the file,
the key and what is allowed, so a typo never silently means "no fee".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from ingest import prices
from ingest.paths import MeterrHome, meterr_home

SETTINGS_FILE_NAME = "meterr.yaml"

FEE_MODELS = ("none", "percentage", "per_request", "flat_monthly")
# fee model -> (its amount key in meterr.yaml, the dbt var it sets)
FEE_AMOUNT_KEYS: dict[str, tuple[str, str]] = {
    "percentage": ("percent", "platform_fee_percent"),
    "per_request": ("per_request_usd", "platform_fee_per_request_usd"),
    "flat_monthly": ("flat_monthly_usd", "platform_fee_flat_monthly_usd"),
}
RECONCILIATION_KEYS: dict[str, str] = {
    "tolerance_usd": "reconciliation_tolerance_usd",
    "tolerance_percent": "reconciliation_tolerance_pct",
}
TOP_LEVEL_KEYS = ("platform_fee", "reconciliation", "prices_override")


class SettingsError(ValueError):
    """meterr.yaml (or the price override file it points to) is invalid; the message says where."""


def _number(value: Any, where: str, *, maximum: Decimal | None = None) -> float | int:
    """A YAML number >= 0 (and <= maximum), returned as int or float for dbt's --vars JSON."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SettingsError(f"{where} must be a number >= 0; got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise SettingsError(f"{where} must be a number >= 0; got {value!r}") from None
    if not number.is_finite() or number < 0:
        raise SettingsError(f"{where} must be a number >= 0; got {value!r}")
    if maximum is not None and number > maximum:
        raise SettingsError(f"{where} must be at most {maximum}; got {value!r}")
    return int(number) if number == number.to_integral_value() else float(number)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SettingsError(f"{where} must be a mapping; got {value!r}")
    return value


def _unknown(section: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(map(str, section)) - set(allowed))
    if unknown:
        raise SettingsError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )


def _fee_vars(section: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The platform_fee section of ``source`` (the file, for messages) as dbt vars."""
    where = f"{source}: platform_fee"
    amount_keys = tuple(key for key, _ in FEE_AMOUNT_KEYS.values())
    _unknown(section, ("model", *amount_keys), where)
    model = section.get("model", "none")
    if not isinstance(model, str) or model.strip().lower() not in FEE_MODELS:
        raise SettingsError(f"{where}.model must be one of {', '.join(FEE_MODELS)}; got {model!r}")
    model = model.strip().lower()
    fee_vars: dict[str, Any] = {
        "platform_fee_model": model,
        "platform_fee_percent": 0,
        "platform_fee_per_request_usd": 0,
        "platform_fee_flat_monthly_usd": 0,
    }
    for fee_model, (key, var_name) in FEE_AMOUNT_KEYS.items():
        if key not in section:
            if fee_model == model:
                raise SettingsError(f"{where}: model {model} needs platform_fee.{key}")
            continue
        if fee_model != model:
            raise SettingsError(
                f"{where}.{key} only applies to model {fee_model}, but model is {model}"
            )
        maximum = Decimal(100) if key == "percent" else None
        fee_vars[var_name] = _number(section[key], f"{where}.{key}", maximum=maximum)
    return fee_vars


def read_settings(path: Path) -> dict[str, Any]:
    """The validated contents of a meterr.yaml as dbt vars (without the override path)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{path} cannot be read: {exc}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path} is not valid YAML: {prices.yaml_problem(exc)}") from None
    document = _mapping(document, str(path))
    _unknown(document, TOP_LEVEL_KEYS, str(path))
    dbt_vars = _fee_vars(_mapping(document.get("platform_fee"), f"{path}: platform_fee"), str(path))
    reconciliation = _mapping(document.get("reconciliation"), f"{path}: reconciliation")
    _unknown(reconciliation, tuple(RECONCILIATION_KEYS), f"{path}: reconciliation")
    for key, var_name in RECONCILIATION_KEYS.items():
        if key in reconciliation:
            dbt_vars[var_name] = _number(reconciliation[key], f"{path}: reconciliation.{key}")
    override = document.get("prices_override")
    if override is not None:
        if not isinstance(override, str) or not override.strip():
            raise SettingsError(f"{path}: prices_override must be a file path; got {override!r}")
        dbt_vars["prices_override_path"] = override.strip()
    return dbt_vars


def dbt_vars(home: MeterrHome | str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The ``--vars`` for a dbt build under ``home`` (default ``$METERR_HOME``).

    Reads ``home/meterr.yaml`` if present (no file: no platform fee, default tolerances) and
    resolves the price override file: ``prices_override`` from meterr.yaml (relative to home),
    else ``home/prices.yaml`` if it exists. The override file is parsed here too, so a broken one
    fails before dbt starts, with a message naming the entry. ``prices_override_path`` is always
    set (``none`` = no overrides) so dbt never falls back to an ambient ``$METERR_HOME``.
    Raises :class:`SettingsError`.
    """
    layout = home if isinstance(home, MeterrHome) else meterr_home(home)
    settings_file = layout.root / SETTINGS_FILE_NAME
    result: dict[str, Any] = {
        "platform_fee_model": "none",
        "platform_fee_percent": 0,
        "platform_fee_per_request_usd": 0,
        "platform_fee_flat_monthly_usd": 0,
    }
    if settings_file.is_file():
        result.update(read_settings(settings_file))
    configured = result.pop("prices_override_path", None)
    if configured is not None:
        override = Path(configured).expanduser()
        override = override if override.is_absolute() else layout.root / override
        if not override.is_file():
            raise SettingsError(
                f"{settings_file}: prices_override points to {override}, which does not exist"
            )
    else:
        default = layout.root / prices.OVERRIDE_FILE_NAME
        override = default if default.is_file() else None
    if override is not None:
        try:
            prices.load_overrides(override)
        except prices.PriceOverrideError as exc:
            raise SettingsError(str(exc)) from None
    result["prices_override_path"] = (
        str(override.resolve()) if override is not None else prices.NO_OVERRIDE_FILE
    )
    return result
