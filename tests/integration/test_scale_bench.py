"""``grondslag bench --scale`` run tiny (``--scale-events``), so that the path that fills a
store to a million events and asks it the same questions at each size keeps working.

The figures are not asserted (timings never are); what the run must get right is: the
store holds real events that fold into the answers the probe was written to give, at every
stage the same, and every event is projected."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from rich.console import Console

from benchmarks import scale
from benchmarks.scale_fill import Shape
from grondslag import cli


def test_the_scale_benchmark_asks_the_same_questions_of_a_growing_store(
    new_database: Callable[[str], AbstractContextManager[str]], tmp_path: Path
) -> None:
    shape = Shape.for_events(300)
    out = io.StringIO()
    console = Console(file=out, width=150)
    with new_database("grondslag_scale") as url:
        result = asyncio.run(scale.run(url, tmp_path, shape, 0, console, jobs=(1, 2)))
    scale.print_result(console, result)

    stages = result.stages
    assert [s.events for s in stages] == sorted({s.events for s in stages})
    assert len(stages) >= 2 and stages[-1].events >= shape.events
    # the long history's last event is a consent, but as known at ``known_at`` (half of it
    # recorded) the last was a withdrawal: the bitemporal answer folds what was known then
    first = stages[0].answers["bitemporal standing read"][0]
    assert (first["status"], first["reason"]) == ("lapsed", "withdrawn")
    # every probe subject but the withdrawn ones is allowed, every unrecorded ref is not
    checked = dict(stages[-1].answers[f"check of {shape.check_refs:,} refs"][0])
    assert len(checked) == shape.check_refs
    assert {ref for ref, status in checked.items() if status == "lawful"} == {
        ref for i, ref in enumerate(shape.probe_refs()) if i == 0 or i % 4 != 3
    }
    # the rebuild folded every standing event the store holds, decoded, in 1 job and in 2
    one, two = result.rebuilds
    assert one.events > stages[-1].events // 2
    assert (len(one.shares), len(two.shares)) == (1, 2) and two.events == one.events
    assert sum(share.standings for share in two.shares) == one.shares[0].standings
    # the last stage's events projected again in 1 partition and in 2, a process each
    assert [p.processes for p in result.partitioned] == [1, 2]
    assert all(p.events == stages[-1].top - stages[-2].top > 0 for p in result.partitioned)
    assert all(s.projection.events >= 0 for s in stages)
    # every question's queries were seen and counted (none went round the recording pool)
    assert all(count > 0 for stage in stages for count in stage.pages.values())
    assert result.sizes and "same questions" in out.getvalue()
    assert "Rebuild and projection in K processes" in out.getvalue()


def test_bench_scale_takes_the_size_and_the_projector_processes() -> None:
    args = cli.parser().parse_args(
        ["bench", "--scale", "--scale-events", "500", "--scale-projectors", "4"]
    )
    assert (args.scale, args.scale_events, args.scale_projectors) == (True, 500, 4)
