"""Display formatting for report values: money, signed changes, percentages, token counts, dates.

Every function takes the plain values that :mod:`reports.data` returns (floats, ints, ISO date and
timestamp strings, or ``None``) and returns a plain string. Jinja2 escapes the result like any other
value, so none of these produce markup. They are registered as template filters in
:mod:`reports.render`.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

# Shown for a missing value (no data, or a cost that no price covers).
MISSING = "—"


def money(value: float | Decimal | int | None) -> str:
    """US dollars: ``$1,234.56``; sub-cent amounts keep two significant digits (``$0.0042``).

    Rounded half away from zero, as the exact decimal amount: the marts hold decimals, which reach
    here as floats (``0.695`` is stored as 0.69499999…, and a change computed in floats, 0.81 −
    0.945, as −0.13499999…). Both are first taken back to the decimal they stand for, so the same
    amount prints the same way wherever it appears ($0.70, −$0.14).
    """
    if value is None:
        return MISSING
    amount = _exact(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    # DECIMAL(18,6) cannot hold less than a millionth; float noise below that is zero.
    if amount < Decimal("5e-7"):
        return "$0.00"
    if amount >= _CENT:
        return f"{sign}${amount.quantize(_CENT, ROUND_HALF_UP):,}"
    decimals = min(6, -math.floor(math.log10(amount)) + 1)
    digits = amount.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)
    if digits == 0:
        return "$0.00"
    return f"{sign}${str(digits).rstrip('0')}"


_CENT = Decimal("0.01")
# Money in the marts has at most 15 decimals; float arithmetic on such amounts is off by far less
# than 1e-12 of a dollar, so rounding there first recovers the decimal amount.
_EXACT = Decimal("1e-12")


def _exact(value: float | Decimal | int) -> Decimal:
    """The decimal amount a money value stands for (a float's noise beyond 12 decimals dropped)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(float(value))).quantize(_EXACT, ROUND_HALF_EVEN)


def money_signed(value: float | int | None) -> str:
    """A change in dollars with an explicit sign: ``+$12.30``, ``-$0.0042``, ``$0.00``."""
    if value is None:
        return MISSING
    text = money(value)
    if text == "$0.00" or text.startswith("-"):
        return text
    return "+" + text


def pct(value: float | None) -> str:
    """A share given as a fraction (0.125 -> ``12.5%``); tiny non-zero shares show as ``<0.1%``."""
    if value is None:
        return MISSING
    share = float(value) * 100
    if share == 0:
        return "0%"
    if 0 < abs(share) < 0.05:
        return "<0.1%"
    return f"{share:,.1f}%"


def pct_signed(value: float | None) -> str:
    """A relative change given as a fraction, with sign (0.125 -> ``+12.5%``); ``None`` -> ``n/a``.

    ``None`` means there is nothing to compare with (the previous period had no spend).
    """
    if value is None:
        return "n/a"
    change = float(value) * 100
    if abs(change) < 0.05:
        return "0.0%"
    sign = "+" if change > 0 else "-"
    if abs(change) >= 1000:
        return f"{sign}{abs(change):,.0f}%"
    return f"{sign}{abs(change):,.1f}%"


def num(value: float | int | None) -> str:
    """A whole number with thousands separators: ``1,234,567``."""
    if value is None:
        return MISSING
    return f"{round(float(value)):,}"


_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def compact(value: float | int | None) -> str:
    """A large count in short form: ``950``, ``1.2K``, ``3.4M``, ``120M``, ``5.6B``."""
    if value is None:
        return MISSING
    number = float(value)
    sign = "-" if number < 0 else ""
    number = abs(number)
    for size, unit in _UNITS:
        if number >= size * 0.9995:
            scaled = number / size
            text = f"{scaled:.0f}" if scaled >= 99.95 else f"{scaled:.1f}".removesuffix(".0")
            return f"{sign}{text}{unit}"
    return f"{sign}{round(number):,}"


def change_class(value: float | None) -> str:
    """CSS class for a spend change: ``up`` (spend grew), ``down`` (shrank) or ``flat``."""
    if value is None or abs(float(value)) < 5e-7:
        return "flat"
    return "up" if float(value) > 0 else "down"


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def day_label(value: date | str) -> str:
    """A day as ``Mon 13 Jan``."""
    day = _as_date(value)
    return f"{day:%a} {day.day} {day:%b}"


def short_day_label(value: date | str) -> str:
    """A day as ``Mon 13`` (chart axes)."""
    day = _as_date(value)
    return f"{day:%a} {day.day}"


def full_date(value: date | str | None) -> str:
    """A day as ``13 Jan 2025``."""
    if value is None:
        return MISSING
    day = _as_date(value)
    return f"{day.day} {day:%b %Y}"


def week_range(start: date | str, end: date | str) -> str:
    """A week's days: ``13–19 Jan 2025``, ``27 Jan – 2 Feb 2025``, ``30 Dec 2024 – 5 Jan 2025``."""
    first, last = _as_date(start), _as_date(end)
    if first.year != last.year:
        return f"{full_date(first)} – {full_date(last)}"
    if first.month != last.month:
        return f"{first.day} {first:%b} – {full_date(last)}"
    return f"{first.day}–{full_date(last)}"


def timestamp(value: datetime | str | None) -> str:
    """A UTC timestamp as ``2025-01-20 08:15 UTC`` (naive values are taken to be UTC)."""
    if value is None:
        return MISSING
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def rate(value: float | None) -> str:
    """A fee rate given as a fraction, as short as it can be: 0.05 -> ``5%``, 0.075 -> ``7.5%``."""
    if value is None:
        return MISSING
    text = f"{float(value) * 100:.1f}".removesuffix(".0")
    return f"{text}%"


def hours(value: float | None) -> str:
    """An age in hours as ``45 min``, ``5 h`` or ``3 d``."""
    if value is None:
        return MISSING
    amount = float(value)
    if amount < 1:
        return f"{round(amount * 60)} min"
    if amount < 48:
        return f"{amount:.0f} h"
    return f"{amount / 24:.0f} d"


# Free text from an unknown table is cut here: a cell is for reading, not for a whole log.
CELL_TEXT_LIMIT = 300


def cell(value: object, column: str = "") -> str:
    """Any value of a table whose columns are not known in advance (generic data-health tables).

    Money columns (``*_usd``, ``*cost*``) are dollars, other numbers are grouped; timestamps and
    dates read as elsewhere in the report; long text is cut to :data:`CELL_TEXT_LIMIT` characters.
    """
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    name = column.lower()
    if isinstance(value, int | float):
        if name.endswith("_usd") or "cost" in name or "spend" in name:
            return money(value)
        if isinstance(value, int) or float(value).is_integer():
            return f"{value:,.0f}"
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"
    text = str(value)
    if len(text) == 10 and text[4:5] == "-" and text[7:8] == "-":
        try:
            return full_date(text)
        except ValueError:
            pass
    if len(text) >= 19 and text[4:5] == "-" and text[10:11] == "T":
        try:
            return timestamp(text)
        except ValueError:
            pass
    if len(text) > CELL_TEXT_LIMIT:
        return text[: CELL_TEXT_LIMIT - 1] + "…"
    return text


FILTERS = {
    "money": money,
    "money_signed": money_signed,
    "pct": pct,
    "pct_signed": pct_signed,
    "num": num,
    "compact": compact,
    "change_class": change_class,
    "day_label": day_label,
    "full_date": full_date,
    "week_range": week_range,
    "timestamp": timestamp,
    "rate": rate,
    "hours": hours,
    "cell": cell,
}
