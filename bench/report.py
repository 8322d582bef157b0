"""Figures, the table printed at the end of a run, and ``bench/results/latest.json``."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    """One measured figure; ``ratio`` is to the limit measured in the same run, if any."""

    key: str
    label: str
    value: float | None
    unit: str
    ratio: float | None = None
    ratio_to: str = ""
    goal: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Report:
    mode: str
    database: str
    broker: str
    started: float = field(default_factory=time.time)
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def add(self, figure: Figure, *, echo: bool = True) -> Figure:
        self.figures.append(figure)
        if echo:
            print(f"  = {format_line(figure)}", flush=True)
        return figure

    def error(self, text: str) -> None:
        self.errors.append(text)
        print(f"  ! ERROR: {text}", flush=True)

    def skip(self, text: str) -> None:
        self.skipped.append(text)
        print(f"  - skipped: {text}", flush=True)

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": datetime.fromtimestamp(self.started, UTC).isoformat(timespec="seconds"),
            "mode": self.mode,
            "duration_seconds": round(time.time() - self.started, 1),
            "machine": machine(),
            "database": self.database,
            "broker": self.broker,
            "figures": [asdict(f) for f in self.figures],
            "details": self.details,
            "skipped": self.skipped,
            "errors": self.errors,
        }

    def write(self, path: Path | None = None) -> Path:
        path = path or RESULTS_DIR / "latest.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.as_dict(), indent=2, default=str) + "\n"
        path.write_text(text)
        vendor = "postgresql" if self.database.startswith("PostgreSQL") else "sqlite"
        (path.parent / f"{self.mode}-{vendor}.json").write_text(text)
        return path


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in {"s", "ms", "MB", "x"} or abs(value) < 100:
        return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{value:,.0f}"


def format_line(f: Figure) -> str:
    """Return the one-line form of a figure (the quick run prints one per figure)."""
    text = f"{f.label}: {_number(f.value, f.unit)} {f.unit}".rstrip()
    if f.ratio is not None:
        text += f" | ratio {f.ratio:.2f}" + (f" to {f.ratio_to}" if f.ratio_to else "")
    if f.goal:
        verdict = {True: "met", False: "MISSED", None: "n/a"}[f.met]
        text += f" | goal {f.goal}: {verdict}"
    if f.note:
        text += f" ({f.note})"
    return text


def table(report: Report) -> str:
    """Return the figures as a fixed-width table."""
    rows = [("figure", "value", "unit", "ratio", "goal", "met")]
    for f in report.figures:
        rows.append(
            (
                f.label,
                _number(f.value, f.unit),
                f.unit,
                "-" if f.ratio is None else f"{f.ratio:.2f}",
                f.goal or "-",
                {True: "yes", False: "NO", None: "-"}[f.met] if f.goal else "-",
            )
        )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """Return what the figures were measured on."""
    memory_kb = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    memory_kb = int(line.split()[1])
    except OSError:
        pass
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    import django
    import httpx

    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "django": django.get_version(),
        "httpx": httpx.__version__,
        "load_average_at_end": [round(x, 2) for x in load],
    }
