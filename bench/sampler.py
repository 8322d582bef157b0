"""A small wall-clock sampling profiler for every thread of this process (py-spy style).

cProfile sees only the thread that enabled it, while the send engine works in a dispatch
thread plus a pool of sending threads. This samples ``sys._current_frames()`` every few
milliseconds and counts, per thread group (the thread name without its number), the
function at the top of the stack ("self") and every function on it ("total"). Wall
clock, not CPU: a thread blocked in a socket read or a database call is counted where it
waits, which is what shows what a dispatch spends its time on. The sampler holds the GIL
briefly for each sample, so it slows the profiled code a little.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections import Counter, defaultdict
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
ROOT = str(Path(__file__).resolve().parent.parent) + "/"


def _where(code) -> str:
    filename = code.co_filename
    if filename.startswith(ROOT):
        filename = filename[len(ROOT) :]
    else:
        for marker in ("site-packages/", "lib/python3"):
            if marker in filename:
                filename = filename.split(marker, 1)[1]
                break
    return f"{filename}:{code.co_name}"


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


def _innermost_project(frame) -> str:
    """Return the innermost frame of Crier's own code (not the benchmark, not libraries)."""
    first = None
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(ROOT) and "/.venv/" not in filename and "/bench/" not in filename:
            return _where(frame.f_code)
        first = first or _where(frame.f_code)
        frame = frame.f_back
    return first or "?"


class Sampler(threading.Thread):
    """Sample all other threads every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, interval: float = 0.005, *, track_rss: bool = False) -> None:
        super().__init__(name="bench-sampler", daemon=True)
        self.interval = interval
        self.track_rss = track_rss
        # Growth of this process's resident set, charged to the innermost Crier function
        # the main thread was in when it grew (a rough, but direct, memory attribution).
        self.rss_growth: Counter[str] = Counter()
        self.rss_start = self.rss_peak = _rss_bytes()
        self.halt = threading.Event()
        self.samples: Counter[str] = Counter()
        self.own: dict[str, Counter[str]] = defaultdict(Counter)
        self.total: dict[str, Counter[str]] = defaultdict(Counter)

    def run(self) -> None:
        me = threading.get_ident()
        main = threading.main_thread().ident
        last_rss = self.rss_start
        while not self.halt.wait(self.interval):
            names = {t.ident: t.name for t in threading.enumerate()}
            if self.track_rss:
                rss = _rss_bytes()
                if rss > last_rss:
                    frame = sys._current_frames().get(main)
                    self.rss_growth[_innermost_project(frame)] += rss - last_rss
                last_rss = rss
                self.rss_peak = max(self.rss_peak, rss)
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                group = re.sub(r"[-_]?\d+(_\d+)?$", "", names.get(ident, "?"))
                self.samples[group] += 1
                seen = set()
                self.own[group][_where(frame.f_code)] += 1
                while frame is not None:
                    where = _where(frame.f_code)
                    if where not in seen:
                        seen.add(where)
                        self.total[group][where] += 1
                    frame = frame.f_back

    def stop(self) -> None:
        self.halt.set()
        self.join()

    def report(self, top: int = 20, only: tuple[str, ...] = ()) -> str:
        """Return the top functions per thread group, as shares of that group's samples."""
        lines = []
        for group, n in self.samples.most_common():
            if only and not group.startswith(only):
                continue
            lines.append(f"== thread group {group!r}: {n} samples ({n * self.interval:.1f} s of wall time)")
            lines.append("   self%  total%  function")
            ranked = sorted(self.total[group].items(), key=lambda kv: -kv[1])[:top]
            for where, count in ranked:
                own = self.own[group].get(where, 0)
                lines.append(f"  {100 * own / n:5.1f}  {100 * count / n:6.1f}  {where}")
            lines.append("")
        return "\n".join(lines)

    def rss_top(self, top: int = 8) -> dict[str, float]:
        """Return the functions the resident set grew in most, in MB."""
        return {where: round(n / 2**20, 1) for where, n in self.rss_growth.most_common(top)}

    def rss_report(self, top: int = 15) -> str:
        lines = [
            f"== resident set: {self.rss_start / 2**20:.0f} MB at start, "
            f"peak {self.rss_peak / 2**20:.0f} MB; "
            "growth by the innermost Crier function of the main thread:"
        ]
        lines += [f"  {mb:8.1f} MB  {where}" for where, mb in self.rss_top(top).items()]
        return "\n".join(lines) + "\n"

    def top(self, group: str, names: tuple[str, ...]) -> dict[str, float]:
        """Return the share of ``group``'s samples spent inside each of ``names`` (substrings)."""
        n = self.samples.get(group, 0) or 1
        shares = {}
        for name in names:
            count = max((c for where, c in self.total[group].items() if name in where), default=0)
            shares[name] = round(count / n, 3)
        return shares
