"""Properties of schedule occurrences over random zones, periods and times (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.schedules.occurrences import has_occurrences_left, next_occurrence, occurrences
from campaigns.schedules.spec import ScheduleSpec

# Zones with an hour of DST either way, a half-hour one (Lord Howe), one that changes at
# midnight (Santiago), a southern one (Auckland), and two without DST.
ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "UTC",
]
# Days on which one of the zones above changes its clocks, to land periods on them often.
CHANGE_DAYS = [
    date(2026, 3, 8),
    date(2026, 11, 1),
    date(2026, 3, 29),
    date(2026, 10, 25),
    date(2026, 4, 5),
    date(2026, 10, 4),
    date(2026, 9, 6),
    date(2026, 4, 4),
    date(2026, 9, 27),
]

zones = st.sampled_from(ZONES)
times = st.times().map(lambda t: t.replace(microsecond=0))
starts = st.one_of(
    st.sampled_from(CHANGE_DAYS).flatmap(lambda d: st.integers(-3, 0).map(lambda k: d + timedelta(days=k))),
    st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)),
)


@st.composite
def recurrences(draw: st.DrawFn) -> ScheduleSpec:
    circle_type = draw(st.sampled_from([1, 2, 3]))
    values: tuple[int, ...] = ()
    if circle_type == 2:
        values = tuple(sorted(draw(st.sets(st.integers(1, 7), min_size=1))))
    elif circle_type == 3:
        values = tuple(sorted(draw(st.sets(st.integers(1, 31), min_size=1, max_size=6))))
    start = draw(starts)
    return ScheduleSpec(
        kind="recurring",
        circle_type=circle_type,
        circle_value=values,
        time=draw(times),
        start_date=start,
        end_date=start + timedelta(days=draw(st.integers(0, 180))),
        timezone=draw(zones),
    )


def is_recurrence_day(spec: ScheduleSpec, day: date) -> bool:
    if spec.circle_type == 2:
        return day.isoweekday() in spec.circle_value
    if spec.circle_type == 3:
        return day.day in spec.circle_value
    return True


def exists(wall: datetime, zone: ZoneInfo) -> bool:
    """Return whether a naive wall time exists in ``zone`` (is not in a spring-forward gap)."""
    return wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


def before_the_period(spec: ScheduleSpec) -> datetime:
    assert spec.start_date is not None
    return datetime.combine(spec.start_date - timedelta(days=2), time(), tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(recurrences())
def test_a_recurrence_fires_once_on_each_of_its_days_at_its_local_time(spec: ScheduleSpec) -> None:
    zone = ZoneInfo(spec.timezone)
    assert spec.start_date is not None and spec.end_date is not None and spec.time is not None
    found = list(occurrences(spec, after=before_the_period(spec)))

    assert all(a < b for a, b in zip(found, found[1:], strict=False)), "strictly increasing"
    assert all(t.tzinfo is UTC for t in found)
    expected_days = [
        spec.start_date + timedelta(days=k)
        for k in range((spec.end_date - spec.start_date).days + 1)
        if is_recurrence_day(spec, spec.start_date + timedelta(days=k))
    ]
    local = [t.astimezone(zone) for t in found]
    assert [t.date() for t in local] == expected_days
    for moment in local:
        wall = datetime.combine(moment.date(), spec.time)
        if exists(wall, zone):
            # Existing times are kept, and a repeated one is its first pass.
            assert moment.replace(tzinfo=None) == wall
            assert moment.fold == 0
        else:
            # A gap time moves forward by the gap: the offset from before the change applies.
            # (Compared in UTC: aware datetimes sharing a tzinfo compare by wall time.)
            offset_before = (wall - timedelta(days=1)).replace(tzinfo=zone).utcoffset()
            assert moment.astimezone(UTC).replace(tzinfo=None) == wall - offset_before
            assert moment.replace(tzinfo=None) > wall


@settings(max_examples=200, deadline=None)
@given(recurrences(), st.integers(0, 200 * 24 * 60))
def test_occurrences_after_a_moment_are_the_tail_of_all_occurrences(spec: ScheduleSpec, minutes: int) -> None:
    everything = list(occurrences(spec, after=before_the_period(spec)))
    after = before_the_period(spec) + timedelta(minutes=minutes)
    tail = list(occurrences(spec, after=after))
    assert tail == [t for t in everything if t > after]
    assert has_occurrences_left(spec, after=after) is bool(tail)
    assert next_occurrence(spec, after=after) == (tail[0] if tail else None)


@st.composite
def hourly_crons(draw: st.DrawFn) -> tuple[ScheduleSpec, frozenset[int], frozenset[int]]:
    minutes = frozenset(draw(st.sets(st.integers(0, 59), min_size=1, max_size=4)))
    hours = frozenset(draw(st.sets(st.integers(0, 23), min_size=1, max_size=6)))
    start = draw(st.sampled_from(CHANGE_DAYS)) - timedelta(days=draw(st.integers(0, 1)))
    expression = f"{','.join(map(str, sorted(minutes)))} {','.join(map(str, sorted(hours)))} * * *"
    spec = ScheduleSpec(
        kind="cron",
        cron=expression,
        start_date=start,
        end_date=start + timedelta(days=2),
        timezone=draw(zones),
    )
    return spec, minutes, hours


@settings(max_examples=150, deadline=None)
@given(hourly_crons())
def test_a_cron_fires_at_each_matching_wall_minute_once_in_order(
    case: tuple[ScheduleSpec, frozenset[int], frozenset[int]],
) -> None:
    spec, minutes, hours = case
    zone = ZoneInfo(spec.timezone)
    assert spec.start_date is not None and spec.end_date is not None
    # The model, minute by minute: every matching wall time, mapped with fold=0.
    first = datetime.combine(spec.start_date, time())
    walls = (first + timedelta(minutes=k) for k in range(((spec.end_date - spec.start_date).days + 1) * 1440))
    expected = sorted(
        {
            wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
            for wall in walls
            if wall.minute in minutes and wall.hour in hours
        }
    )
    assert list(occurrences(spec, after=before_the_period(spec))) == expected


@settings(max_examples=200, deadline=None)
@given(recurrences())
def test_to_dict_and_from_dict_round_trip(spec: ScheduleSpec) -> None:
    assert ScheduleSpec.from_dict(spec.to_dict()) == spec
