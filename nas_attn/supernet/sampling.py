"""Which paths each supernet training step trains.

* :class:`FairSampler`: strict fairness (FairNAS: Chu, Zhang, Xu, "FairNAS: Rethinking Evaluation
  Fairness of Weight Sharing Neural Architecture Search", ICCV 2021). Each slot keeps a queue of
  seeded random permutations of its candidates; a step yields G paths, path i taking the next
  candidate of every slot's queue (a queue refills with a new permutation when it runs dry).
  With G = the slot's size every candidate of the slot is trained exactly once per step; with
  any G, after every step the counts of a slot's candidates differ by at most one, and they are
  equal whenever the slot's draws so far fill whole permutations.
* :class:`UniformSampler`: single-path uniform sampling (SPOS: Guo et al., ECCV 2020), each
  slot's candidate drawn uniformly and independently, for comparison.

Both are seeded and resumable: :meth:`state` / :meth:`restore` round-trip everything that
decides the next steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import torch

from nas_attn.exceptions import NasAttnError
from nas_attn.supernet.choices import PathIndices

SamplerKind = Literal["fair", "uniform"]


@dataclass(frozen=True)
class SamplerState:
    """A sampler's resumable state: its generator's state and its pending queues."""

    kind: str
    generator: torch.Tensor
    queues: tuple[tuple[int, ...], ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "generator": self.generator, "queues": [list(q) for q in self.queues]}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> SamplerState:
        generator = data["generator"]
        queues = data.get("queues", [])
        if not isinstance(generator, torch.Tensor) or not isinstance(queues, list):
            raise NasAttnError("checkpoint: the sampler state is malformed")
        return cls(kind=str(data["kind"]), generator=generator, queues=tuple(tuple(q) for q in queues))


class PathSampler(Protocol):
    """Yields the paths of one training step."""

    def step(self) -> list[PathIndices]: ...

    def state(self) -> SamplerState: ...

    def restore(self, state: SamplerState) -> None: ...


def _checked(sizes: Sequence[int], paths_per_step: int) -> tuple[int, ...]:
    if not sizes or any(n < 1 for n in sizes):
        raise NasAttnError(f"every supernet slot needs at least one candidate, got sizes {list(sizes)}")
    if paths_per_step < 1:
        raise NasAttnError(f"paths per step must be at least 1, got {paths_per_step}")
    return tuple(sizes)


class FairSampler:
    """Strict-fair paths from per-slot permutation queues (FairNAS)."""

    kind = "fair"

    def __init__(self, sizes: Sequence[int], paths_per_step: int | None = None, seed: int = 0) -> None:
        self.paths_per_step = max(sizes, default=1) if paths_per_step is None else paths_per_step
        self.sizes = _checked(sizes, self.paths_per_step)
        self.generator = torch.Generator().manual_seed(seed)
        self.queues: list[list[int]] = [[] for _ in self.sizes]

    def _next(self, slot: int) -> int:
        queue = self.queues[slot]
        if not queue:
            queue.extend(int(i) for i in torch.randperm(self.sizes[slot], generator=self.generator))
        return queue.pop(0)

    def step(self) -> list[PathIndices]:
        return [tuple(self._next(s) for s in range(len(self.sizes))) for _ in range(self.paths_per_step)]

    def state(self) -> SamplerState:
        return SamplerState(self.kind, self.generator.get_state(), tuple(tuple(q) for q in self.queues))

    def restore(self, state: SamplerState) -> None:
        if state.kind != self.kind or len(state.queues) != len(self.sizes):
            raise NasAttnError(
                f"cannot resume this {self.kind} sampler ({len(self.sizes)} slots) from that state"
            )
        self.generator.set_state(state.generator)
        self.queues = [list(q) for q in state.queues]


class UniformSampler:
    """Single-path one-shot sampling: each slot's candidate uniform and independent (SPOS)."""

    kind = "uniform"

    def __init__(self, sizes: Sequence[int], paths_per_step: int = 1, seed: int = 0) -> None:
        self.paths_per_step = paths_per_step
        self.sizes = _checked(sizes, paths_per_step)
        self.generator = torch.Generator().manual_seed(seed)

    def step(self) -> list[PathIndices]:
        return [
            tuple(int(torch.randint(n, (), generator=self.generator)) for n in self.sizes)
            for _ in range(self.paths_per_step)
        ]

    def state(self) -> SamplerState:
        return SamplerState(self.kind, self.generator.get_state())

    def restore(self, state: SamplerState) -> None:
        if state.kind != self.kind:
            raise NasAttnError(f"cannot resume a {self.kind} sampler from {state.kind}")
        self.generator.set_state(state.generator)


def make_sampler(
    kind: SamplerKind, sizes: Sequence[int], paths_per_step: int | None, seed: int
) -> PathSampler:
    """A seeded sampler of ``kind``; ``paths_per_step`` None: the largest slot (fair) or 1 (uniform)."""
    if kind == "fair":
        return FairSampler(sizes, paths_per_step, seed)
    return UniformSampler(sizes, 1 if paths_per_step is None else paths_per_step, seed)
