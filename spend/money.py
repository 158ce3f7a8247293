"""Showing money. Amounts are Decimal with six places; pages show cents, or up to
four places for sub-cent prices, so $0.0387 is not rounded to a misleading $0.04."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENTS = Decimal("0.01")
FINE = Decimal("0.0001")


def usd(value: Decimal | int | str | None) -> str:
    if value is None or value == "":
        return "—"
    amount = Decimal(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    cents = amount.quantize(CENTS, rounding=ROUND_HALF_UP)
    if cents == amount or amount >= 100:
        return f"{sign}${cents:,}"
    fine = amount.quantize(FINE, rounding=ROUND_HALF_UP)
    text = f"{fine:,}".rstrip("0")
    if len(text.split(".")[1]) < 2:
        text = f"{cents:,}"
    return f"{sign}${text}"


def percent(part: Decimal, whole: Decimal) -> str:
    """ "12%", or "<1%" for a small non-zero share; whole must be positive."""
    if whole <= 0:
        return "—"
    share = (part / whole * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    if share == 0 and part > 0:
        return "<1%"
    return f"{share}%"
