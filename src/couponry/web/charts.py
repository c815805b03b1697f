"""Bar charts of a daily series, drawn by the server as inline SVG (no chart library, no CDN).

`bar_chart()` only computes geometry; templates/dashboard/_chart.html draws it with SVG presentation
attributes and CSS classes (the Content-Security-Policy forbids `style` attributes). A day without data
gets no bar, so a chart has exactly as many bars as days with data. Each bar carries a <title> (the day
and its value) and the chart a <title>/<desc>; the page also has the figures as a table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 720, 180  # the viewBox; the SVG scales to its container's width
LEFT, RIGHT, TOP, BOTTOM = 84, 8, 10, 24  # room for the value axis and the first/last day


@dataclass(frozen=True)
class Bar:
    day: str
    value: int
    text: str  # the value as people read it ("12.50", "3")
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    title: str
    desc: str
    width: int
    height: int
    bars: list[Bar]
    top_text: str  # the value at the top of the axis
    baseline: float  # y of the zero line
    plot_top: int  # y of the axis' top
    left: int
    right_edge: int
    first_day: str
    last_day: str


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10^k at or above `value` (the axis' top), at least 1."""
    if value <= 1:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def bar_chart(
    title: str,
    series: Sequence[tuple[str, int]],
    text: Callable[[int], str] = str,
) -> Chart:
    """A chart of `series` ((day, value) per day of the period, in order); negative values draw as 0."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((v for _, v in series), default=0))
    slot = plot_w / max(len(series), 1)
    width = max(slot * 0.8, 0.5)
    bars = []
    for i, (day, value) in enumerate(series):
        if value == 0:
            continue
        h = plot_h * max(value, 0) / top
        bars.append(
            Bar(
                day=day,
                value=value,
                text=text(value),
                x=round(LEFT + i * slot + (slot - width) / 2, 2),
                y=round(TOP + plot_h - h, 2),
                width=round(width, 2),
                height=round(h, 2),
            )
        )
    first, last = (series[0][0], series[-1][0]) if series else ("", "")
    if bars:
        peak = max(bars, key=lambda b: b.value)
        desc = (
            f"{len(bars)} of {len(series)} days from {first} to {last} have data; "
            f"the highest is {peak.text} on {peak.day}."
        )
    else:
        desc = f"No data on any day from {first} to {last}."
    return Chart(
        title=title,
        desc=desc,
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        top_text=text(top),
        baseline=TOP + plot_h,
        plot_top=TOP,
        left=LEFT,
        right_edge=WIDTH - RIGHT,
        first_day=first,
        last_day=last,
    )
