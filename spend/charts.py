"""Server-side bar charts, drawn as inline SVG by templates/spend/bar_chart.html.

Coordinates are floats (pixels); the amounts shown in labels stay Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .money import usd

WIDTH = 720
HEIGHT = 200
LEFT = 64
BOTTOM = 22
TOP = 8


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    title: str


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    width: int
    height: int
    left: int
    baseline: float
    top: float
    max_label: str
    ticks: list[tuple[float, str]]
    description: str


def daily_bars(days: list[tuple[date, Decimal]], caption: str = "Spend per day") -> BarChart:
    peak = max((amount for _, amount in days), default=Decimal(0))
    scale = float(peak) if peak > 0 else 1.0
    plot_width = WIDTH - LEFT - 4
    plot_height = HEIGHT - BOTTOM - TOP
    slot = plot_width / max(1, len(days))
    label_every = max(1, round(len(days) / 10))
    bars = []
    for i, (day, amount) in enumerate(days):
        # Negative days (a correction larger than the spend) are drawn as empty.
        h = max(0.0, float(amount) / scale * plot_height)
        bars.append(
            Bar(
                x=round(LEFT + i * slot + slot * 0.1, 2),
                y=round(TOP + plot_height - h, 2),
                width=round(max(1.0, slot * 0.8), 2),
                height=round(h, 2),
                label=day.strftime("%d %b") if i % label_every == 0 else "",
                title=f"{day:%a %d %b %Y}: {usd(amount)}",
            )
        )
    ticks = [(round(LEFT + i * slot + slot / 2, 2), b.label) for i, b in enumerate(bars) if b.label]
    total = sum((amount for _, amount in days), Decimal(0))
    return BarChart(
        bars=bars,
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        baseline=TOP + plot_height,
        top=TOP,
        max_label=usd(peak),
        ticks=ticks,
        description=f"{caption}: {len(days)} days, {usd(total)} in total, at most {usd(peak)} a day.",
    )
