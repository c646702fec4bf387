"""Progress bars: the search's trials, a full training's epochs and the re-runs' trainings."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from nas_attn.backbones import ArchConfig
from nas_attn.cli.console import console
from nas_attn.deploy.train import EpochReport, TrainOutcome
from nas_attn.worker.evaluate import TrialResult


class RichProgressObserver:
    """Progress bar of COMPLETE trials towards the target, with a line per finished trial."""

    def __init__(self) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]search"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("evaluated"),
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

    def started(self, target: int, evaluated: int) -> None:
        self._progress.update(self._task, total=target, completed=evaluated, status=self._status())

    def trial_started(self, number: int, arch: ArchConfig) -> None:
        self._running.add(number)
        self._labels[number] = arch.label()
        self._progress.update(self._task, status=self._status())

    def trial_finished(self, number: int, result: TrialResult | None, reason: str | None) -> None:
        self._running.discard(number)
        if result is not None and not result.trained:
            label = self._labels.pop(number, "")
            self._progress.console.print(
                f"trial {number:>4}  screened out, not trained: {'; '.join(result.violations)}  {label}",
                markup=False,
            )
        elif result is not None:
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


def run_training(run: Callable[[Callable[[EpochReport], None]], TrainOutcome], epochs: int) -> TrainOutcome:
    """Run a full training with a progress bar of epochs and one line per epoch."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]train"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("epochs"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )
    task = progress.add_task("train", total=epochs)

    def on_epoch(report: EpochReport) -> None:
        progress.update(task, completed=report.epoch)
        progress.console.print(
            f"epoch {report.epoch:>3}/{report.epochs}  loss {report.train_loss:.4f}  "
            f"val acc {report.val_accuracy:.4f}  {report.seconds:.1f}s",
            markup=False,
        )

    with progress:
        return run(on_epoch)


class JobProgress:
    """Progress bar with an ETA over the trainings of ``reseed`` / ``validate-proxy``
    (a :class:`~nas_attn.search.seeds.runner.JobObserver`)."""

    def __init__(self, label: str) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("trainings"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self._task = self._progress.add_task(label, total=None)
        self._total = 0
        self._started = False

    def __enter__(self) -> JobProgress:
        return self  # the bar appears with the first trainings (a refused study shows none)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._started:
            self._progress.stop()

    def jobs_added(self, count: int) -> None:
        if not self._started:
            self._progress.start()
            self._started = True
        self._total += count
        self._progress.update(self._task, total=self._total)

    def job_done(self) -> None:
        self._progress.advance(self._task)
