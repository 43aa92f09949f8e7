"""Chart geometry for server-rendered SVG (templates/kpis/_charts.html draws it).

Plain numbers in, coordinates out: no JavaScript, nothing from a CDN, and the same figures the
page prints beside each chart. Axes start at zero and end at a "nice" number (1, 2, 2.5, 5 × 10ⁿ)
so gridlines read as round values.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 12, 12, 28


TICKS = 4
STEPS = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)


def nice_max(value: float, integer: bool = False) -> float:
    """The top of an axis from zero: TICKS round steps (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10ⁿ) that
    reach `value`; whole steps for counts, so no gridline reads "0.25 MQAs"."""
    if value <= 0 or math.isnan(value):
        return float(TICKS) if integer else 1.0
    raw = value / TICKS
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in STEPS if m * power >= raw * (1 - 1e-9))
    if integer:
        step = max(1, math.ceil(step))
    return step * TICKS


@dataclass(frozen=True)
class Tick:
    y: float
    value: float
    text: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    text: str          # the value as the page prints it


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    text: str
    index: int = 0     # which bucket: a gap in the indexes is a missing value


@dataclass(frozen=True)
class Line:
    name: str
    points: list[Point]

    @property
    def path(self) -> str:
        """SVG path data; a missing value (None) breaks the line rather than drawing it at zero."""
        parts, previous = [], None
        for point in self.points:
            move = "L" if previous is not None and point.index == previous + 1 else "M"
            parts.append(f"{move}{point.x:.1f},{point.y:.1f}")
            previous = point.index
        return " ".join(parts)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    ticks: list[Tick]
    bars: list[Bar]
    lines: list[Line]
    labels: list[tuple[float, str]]  # x, text under the axis (every few when crowded)
    baseline: float
    plot_left: float = PAD_LEFT
    plot_right: float = 0.0

    @property
    def empty(self) -> bool:
        return not any(b.height for b in self.bars) and not any(line.points for line in self.lines)


def _ticks(top: float, plot_top: float, plot_bottom: float, fmt: Callable[[float], str], count: int = TICKS) -> list[Tick]:
    return [Tick(plot_bottom - (plot_bottom - plot_top) * i / count, top * i / count, fmt(top * i / count))
            for i in range(count + 1)]


def _axis_labels(centres: list[float], labels: Sequence[str], width: float) -> list[tuple[float, str]]:
    """Every label when they fit (about 7 px a character), else every n-th."""
    if not labels:
        return []
    longest = max(len(text) for text in labels) * 7 + 8
    every = max(1, math.ceil(longest * len(labels) / max(width, 1)))
    return [(x, text) for n, (x, text) in enumerate(zip(centres, labels)) if n % every == 0]


def bar_chart(labels: Sequence[str], values: Sequence[float | None], fmt: Callable[[float], str] = str,
              width: int = 640, height: int = 220, integer: bool = False) -> Chart:
    plot_w, plot_bottom = width - PAD_LEFT - PAD_RIGHT, height - PAD_BOTTOM
    top = nice_max(max((v or 0 for v in values), default=0), integer)
    slot = plot_w / max(len(values), 1)
    bar_w = max(slot * 0.7, 1)
    bars, centres = [], []
    for n, (label, value) in enumerate(zip(labels, values)):
        v = value or 0
        h = (plot_bottom - PAD_TOP) * v / top
        x = PAD_LEFT + n * slot + (slot - bar_w) / 2
        centres.append(x + bar_w / 2)
        bars.append(Bar(round(x, 1), round(plot_bottom - h, 1), round(bar_w, 1), round(h, 1), label,
                        fmt(v) if value is not None else "–"))
    return Chart(width, height, _ticks(top, PAD_TOP, plot_bottom, fmt), bars, [],
                 _axis_labels(centres, labels, plot_w), plot_bottom, PAD_LEFT, width - PAD_RIGHT)


def line_chart(labels: Sequence[str], series: dict[str, Sequence[float | None]], fmt: Callable[[float], str] = str,
               width: int = 640, height: int = 220, top: float | None = None) -> Chart:
    plot_w, plot_bottom = width - PAD_LEFT - PAD_RIGHT, height - PAD_BOTTOM
    highest = max((v for values in series.values() for v in values if v is not None), default=0)
    top = top or nice_max(highest)
    step = plot_w / max(len(labels) - 1, 1)
    centres = [PAD_LEFT + n * step if len(labels) > 1 else PAD_LEFT + plot_w / 2 for n in range(len(labels))]
    lines = []
    for name, values in series.items():
        points = [Point(round(centres[n], 1), round(plot_bottom - (plot_bottom - PAD_TOP) * v / top, 1), labels[n], fmt(v), n)
                  for n, v in enumerate(values) if v is not None]
        lines.append(Line(name, points))
    return Chart(width, height, _ticks(top, PAD_TOP, plot_bottom, fmt), [], lines,
                 _axis_labels(centres, labels, plot_w), plot_bottom, PAD_LEFT, width - PAD_RIGHT)


@dataclass(frozen=True)
class Step:
    label: str
    count: int
    width: float       # of the widest
    text: str          # the count and the conversion from the step before


def funnel(steps: Sequence[tuple[str, int, str]], width: int = 420) -> list[Step]:
    """Horizontal bars, each as wide as its share of the first step's count."""
    widest = max((count for _label, count, _text in steps), default=0) or 1
    return [Step(label, count, round(width * count / widest, 1), text) for label, count, text in steps]
