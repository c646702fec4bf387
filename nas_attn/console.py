"""Terminal rendering with rich: search progress and the Pareto table (no search logic here)."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from nas_attn.backbones import ArchConfig
from nas_attn.search.results import TrialRow
from nas_attn.worker.evaluate import TrialResult

console = Console(highlight=False)


def info(message: str) -> None:
    """A log line for the user (where the study and artifacts are, what runs where)."""
    console.print(message, markup=False)


class RichProgressObserver:
    """Progress bar of COMPLETE trials towards the target, with a line per finished trial."""

    def __init__(self) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]search"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("complete"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task("search", total=1, status="")
        self._running: set[int] = set()
        self._labels: dict[int, str] = {}
        self._best: float | None = None

    def __enter__(self) -> RichProgressObserver:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def _status(self) -> str:
        best = f"best acc {self._best:.3f}" if self._best is not None else "no result yet"
        return f"{len(self._running)} running · {best}"

    def started(self, target: int, complete: int) -> None:
        self._progress.update(self._task, total=target, completed=complete, status=self._status())

    def trial_started(self, number: int, arch: ArchConfig) -> None:
        self._running.add(number)
        self._labels[number] = arch.label()
        self._progress.update(self._task, status=self._status())

    def trial_finished(self, number: int, result: TrialResult | None, reason: str | None) -> None:
        self._running.discard(number)
        if result is not None:
            self._best = result.accuracy if self._best is None else max(self._best, result.accuracy)
            label = self._labels.pop(number, "")
            self._progress.console.print(
                f"trial {number:>4}  acc {result.accuracy:.4f}  latency {result.latency_ms:.2f} ms "
                f"(IQR {result.latency_iqr_ms:.2f})  {result.train_seconds:.0f}s  {label}",
                markup=False,
            )
            self._progress.advance(self._task)
        else:
            self._labels.pop(number, None)
            self._progress.console.print(f"trial {number:>4}  FAILED: {reason}", markup=False)
        self._progress.update(self._task, status=self._status())


def _format_value(name: str, value: float) -> str:
    if name == "accuracy":
        return f"{value:.4f}"
    if name == "params":
        return f"{value / 1e6:.3f}M"
    return f"{value:.3f}"


def front_table(rows: Sequence[TrialRow], title: str) -> Table:
    """The Pareto front as a table: trial, one column per objective, params, placement."""
    table = Table(title=title, title_justify="left")
    table.add_column("trial", justify="right")
    objective_names = list(rows[0].values) if rows else []
    for name in objective_names:
        table.add_column(name.replace("_", " "), justify="right")
    table.add_column("params", justify="right")
    table.add_column("placement")
    for row in rows:
        table.add_row(
            str(row.number),
            *(_format_value(n, row.values[n]) for n in objective_names),
            f"{row.params / 1e6:.3f}M" if row.params else "-",
            row.placement,
        )
    return table
