"""Progress bars of the long commands (``hotline train``, ``hotline bench`` and the seeding of its store,
``hotline metrics rebuild``), by rich.

Drawn on standard error so that standard output keeps only the figures a script reads; on a terminal the
bars move, elsewhere (CI logs, a pipe) rich prints them once when they finish.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bars() -> Progress:
    """A rich ``Progress`` on standard error: spinner, what, bar, done/total, elapsed and remaining time."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


@contextlib.contextmanager
def stages(title: str, names: Sequence[str]) -> Iterator[Callable[[str], None]]:
    """One bar over the named stages of a command; call the yielded function as each stage begins."""
    with progress_bars() as bars:
        task = bars.add_task(f"{title}: {names[0]}", total=len(names))
        begun: list[str] = []

        def begin(name: str) -> None:
            if begun:
                bars.advance(task)
            begun.append(name)
            bars.update(task, description=f"{title}: {name}")

        yield begin
        bars.update(task, completed=len(names), description=f"{title}: done")
