"""Typed records of what a study stores beside its trials' values: one read and one write each.

Every record reads what :mod:`~nas_attn.search.studydb.attrs` names, in the JSON form existing
studies hold (a record written here is byte-for-byte what the dict-writing code wrote before):

- :class:`SeedRuns`: a trial's extra training seeds (study attribute ``seed_runs:<trial>``);
- :class:`RacingHistory`: the seed decisions taken for a trial (``racing:<trial>``);
- :class:`ProxyValidationHistory`: every ``validate-proxy`` run (``proxy_validation``);
- :class:`FidelityHistory`: a bracket member's budgets (trial attributes ``fidelity_*``);
- :class:`SpaceIdentity`: the space the study was created with (``nas_attn_space``);
- :class:`StoredResult`: a trial's stored result fields and arch, typed (read only: the door
  writes them).

The study's latency references are :class:`~nas_attn.search.studydb.latency_reference.LatencyReferences`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from nas_attn.backbones import ArchConfig
from nas_attn.exceptions import NasAttnError
from nas_attn.search.studydb import attrs
from nas_attn.search.studydb.latency_reference import StudyAttrs

Attrs = Mapping[str, Any]


class TrialAttrs(Protocol):
    """The part of a (frozen) trial its stored result is read from."""

    @property
    def user_attrs(self) -> dict[str, Any]: ...


# -- study attributes -------------------------------------------------------------------------
@dataclass(frozen=True)
class SeedRuns:
    """A trial's extra training seeds: per seed, the objective values (latency calibrated), the
    latency reference they used (None: unknown) and the epochs trained (None: the proxy's).

    Each seed is held once: :meth:`append` of a seed already present changes nothing, and a
    stored record that holds a seed twice (two drivers racing before seeds were claimed) reads
    as its first result for that seed, so no statistic counts one seed twice."""

    seeds: tuple[int, ...] = ()
    values: tuple[tuple[float, ...], ...] = ()
    latency_reference_ms: tuple[float | None, ...] = ()
    epochs: tuple[int | None, ...] = ()

    @classmethod
    def read(cls, study_attrs: Attrs, trial_number: int) -> SeedRuns:
        return cls.from_attr(study_attrs.get(attrs.seed_runs_key(trial_number)))

    @classmethod
    def every(cls, study_attrs: Attrs) -> list[SeedRuns]:
        """The seed runs of every trial that has some (in the study's attribute order)."""
        return [
            cls.from_attr(stored)
            for key, stored in study_attrs.items()
            if key.startswith(attrs.SEED_RUNS_PREFIX) and isinstance(stored, dict)
        ]

    @classmethod
    def from_attr(cls, stored: Any) -> SeedRuns:
        """The record a ``seed_runs:<trial>`` attribute holds (empty for None), each seed once."""
        if not stored:
            return cls()
        values = tuple(tuple(v) for v in stored.get("values") or [])
        unknown = [None] * len(values)  # records written before these fields were kept
        seeds = tuple(stored.get("seeds") or [])
        used = tuple(stored.get(attrs.LATENCY_REFERENCE_MS) or unknown)
        epochs = tuple(stored.get("epochs") or unknown)
        if len(set(seeds)) == len(seeds):
            return cls(seeds, values, used, epochs)
        first = [i for i, seed in enumerate(seeds) if seed not in seeds[:i]]
        return cls(
            tuple(seeds[i] for i in first),
            tuple(values[i] for i in first if i < len(values)),
            tuple(used[i] for i in first if i < len(used)),
            tuple(epochs[i] for i in first if i < len(epochs)),
        )

    def __len__(self) -> int:
        return len(self.values)

    def __contains__(self, seed: object) -> bool:
        return seed in self.seeds

    def append(self, seed: int, values: Sequence[float], used_ms: float | None, epochs: int) -> SeedRuns:
        """This record with one more seed's result (itself when ``seed`` is already held)."""
        if seed in self.seeds:
            return self
        return SeedRuns(
            (*self.seeds, seed),
            (*self.values, tuple(values)),
            (*self.latency_reference_ms, used_ms),
            (*self.epochs, epochs),
        )

    def to_attr(self) -> dict[str, Any]:
        return {
            "seeds": list(self.seeds),
            "values": [list(v) for v in self.values],
            attrs.LATENCY_REFERENCE_MS: list(self.latency_reference_ms),
            "epochs": list(self.epochs),
        }

    def write(self, study: StudyAttrs, trial_number: int) -> None:
        study.set_user_attr(attrs.seed_runs_key(trial_number), self.to_attr())


#: How a fixed-seeds decision's reason starts ("fixed: 3 seeds"): seeds/policy.py writes it.
FIXED_SEEDS_REASON = "fixed:"


@dataclass(frozen=True)
class RacingDecision:
    """One seed decision for a placement, with when it was taken (fields None where unknown)."""

    seeds: int | None
    verdict: str | None
    reason: str | None
    at: float | None = None

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> RacingDecision:
        return cls(stored.get("seeds"), stored.get("verdict"), stored.get("reason"), stored.get("at"))

    def to_dict(self) -> dict[str, Any]:
        return {"seeds": self.seeds, "verdict": self.verdict, "reason": self.reason, "at": self.at}

    @property
    def fixed(self) -> bool:
        """Taken by a fixed number of seeds (``final_seeds``, ``reseed``), not by racing."""
        return (self.reason or "").startswith(FIXED_SEEDS_REASON)

    def same_as(self, other: RacingDecision) -> bool:
        """The same decision (seeds, verdict and reason), whenever taken."""
        return (self.seeds, self.verdict, self.reason) == (other.seeds, other.verdict, other.reason)

    def describe(self) -> str:
        """In words, e.g. ``resolved (told apart ...)``."""
        return f"{self.verdict} ({self.reason})" if self.reason else str(self.verdict)


@dataclass(frozen=True)
class RacingHistory:
    """The seed decisions taken for one trial, oldest first (each kept when it changed)."""

    decisions: tuple[RacingDecision, ...] = ()

    @classmethod
    def read(cls, study_attrs: Attrs, trial_number: int) -> RacingHistory:
        return cls.from_attr(study_attrs.get(attrs.racing_key(trial_number)))

    @classmethod
    def from_attr(cls, stored: Any) -> RacingHistory:
        """The history a ``racing:<trial>`` attribute holds (empty for None)."""
        return cls(tuple(RacingDecision.from_dict(entry) for entry in stored or []))

    def to_attr(self) -> list[dict[str, Any]]:
        return [d.to_dict() for d in self.decisions]

    @property
    def last(self) -> RacingDecision | None:
        return self.decisions[-1] if self.decisions else None

    @property
    def raced(self) -> bool:
        """Whether racing decided any of its seeds (how many depended on what they showed)."""
        return any(not d.fixed for d in self.decisions)

    def after(self, decision: RacingDecision) -> RacingHistory:
        """This history with ``decision`` appended when it differs from the last one, else itself."""
        if self.last is not None and self.last.same_as(decision):
            return self
        return RacingHistory((*self.decisions, decision))

    def write(self, study: StudyAttrs, trial_number: int) -> None:
        study.set_user_attr(attrs.racing_key(trial_number), self.to_attr())


@dataclass(frozen=True)
class ProxyValidationHistory:
    """Every ``validate-proxy`` run on the study, oldest first (each a ``ProxyValidation`` dict)."""

    runs: tuple[dict[str, Any], ...] = ()

    @classmethod
    def read(cls, study_attrs: Attrs) -> ProxyValidationHistory:
        return cls(tuple(study_attrs.get(attrs.PROXY_VALIDATION_ATTR) or []))

    @property
    def latest(self) -> dict[str, Any] | None:
        return self.runs[-1] if self.runs else None

    def append(self, run: dict[str, Any]) -> ProxyValidationHistory:
        return ProxyValidationHistory((*self.runs, run))

    def write(self, study: StudyAttrs) -> None:
        study.set_user_attr(attrs.PROXY_VALIDATION_ATTR, list(self.runs))


@dataclass(frozen=True)
class StoredClaims:
    """The claims the study last made against its plain backbone (``claims``: method, alpha,
    compared, significant), as written when its seeds last changed (search, racing, reseed)."""

    stored: dict[str, Any] | None

    @classmethod
    def read(cls, study_attrs: Attrs) -> StoredClaims:
        return cls(study_attrs.get(attrs.CLAIMS_ATTR))

    def write(self, study: StudyAttrs) -> None:
        study.set_user_attr(attrs.CLAIMS_ATTR, self.stored)


@dataclass(frozen=True)
class SpaceIdentity:
    """The space a study was created with, as stored (None: not created by nas-attn search)."""

    stored: dict[str, Any] | None

    @classmethod
    def read(cls, study_attrs: Attrs) -> SpaceIdentity:
        return cls(study_attrs.get(attrs.SPACE_ATTR))

    def write(self, study: StudyAttrs) -> None:
        study.set_user_attr(attrs.SPACE_ATTR, self.stored)

    @property
    def _proxy(self) -> dict[str, Any]:
        return (self.stored or {}).get("proxy") or {}

    @property
    def first_seed(self) -> int:
        """The training seed a search trains every trial with (the proxy's ``train_seed``, else
        its ``seed``)."""
        seed = self._proxy.get("train_seed")
        return int(seed if seed is not None else self._proxy.get("seed", 0))

    @property
    def proxy_epochs(self) -> int:
        """The proxy's epoch budget (0 when unknown)."""
        return int(self._proxy.get("epochs") or 0)


def stored_objectives(study_attrs: Attrs) -> list[str] | None:
    """The objective names the search stored, in the order of the study's values."""
    names: list[str] | None = study_attrs.get(attrs.OBJECTIVES_ATTR)
    return names


def _json_kind(value: Any) -> str:
    """What a stored JSON value is, in words ("a string", "a list", ...)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    kinds: dict[type, str] = {str: "a string", list: "a list"}
    return kinds.get(type(value), f"a {type(value).__name__}")


# -- trial attributes -------------------------------------------------------------------------
@dataclass(frozen=True)
class FidelityStep:
    """A bracket member's result at one budget: the epochs and its objective values."""

    epochs: int
    values: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, **self.values}


@dataclass(frozen=True)
class FidelityHistory:
    """A multi-fidelity bracket member's budgets (all None/empty for a trial outside brackets)."""

    epochs: int | None = None  # the budget its values come from (the highest it reached)
    steps: tuple[FidelityStep, ...] = ()
    spent: int | None = None  # epochs trained over all its budgets
    note: str | None = None  # why a promoted run did not count

    @classmethod
    def read(cls, trial_attrs: Attrs) -> FidelityHistory:
        steps = tuple(
            FidelityStep(step["epochs"], {k: v for k, v in step.items() if k != "epochs"})
            for step in trial_attrs.get(attrs.FIDELITY_HISTORY) or []
        )
        return cls(
            trial_attrs.get(attrs.FIDELITY_EPOCHS),
            steps,
            trial_attrs.get(attrs.FIDELITY_SPENT),
            trial_attrs.get(attrs.FIDELITY_NOTE),
        )

    def to_attrs(self) -> dict[str, Any]:
        """The trial user attributes that hold it (``note`` only when there is one)."""
        out: dict[str, Any] = {
            attrs.FIDELITY_EPOCHS: self.epochs,
            attrs.FIDELITY_HISTORY: [step.to_dict() for step in self.steps],
            attrs.FIDELITY_SPENT: self.spent,
        }
        if self.note:
            out[attrs.FIDELITY_NOTE] = self.note
        return out


@dataclass(frozen=True)
class StoredResult:
    """A trial's stored result fields and bookkeeping, typed (see attrs.py for each key)."""

    user_attrs: Mapping[str, Any]
    number: int | None = None  # the trial's number, to name it in errors

    @classmethod
    def of(cls, trial: TrialAttrs) -> StoredResult:
        return cls(trial.user_attrs, getattr(trial, "number", None))

    @property
    def arch(self) -> ArchConfig | None:
        """The placement it evaluated (parsed on each call); None for a trial without one (not
        made by nas-attn, or an empty arch). A stored arch that is no valid placement (the study
        was changed outside nas-attn) is one NasAttnError naming the trial."""
        stored = self.user_attrs.get(attrs.ARCH)
        if not stored:
            return None
        try:
            return ArchConfig.from_dict(stored)
        except NasAttnError as exc:
            trial = "a trial" if self.number is None else f"trial {self.number}"
            found = str(exc) if isinstance(stored, Mapping) else f"{_json_kind(stored)}, not a mapping"
            raise NasAttnError(
                f"{trial}'s stored 'arch' attribute is not a valid placement ({found}); the study was "
                "changed outside nas-attn: search again into a new --study (the study is left unchanged)"
            ) from None

    @property
    def trained(self) -> bool:
        """False when a constraint screened the placement out (never trained)."""
        return self.user_attrs.get(attrs.TRAINED, True) is not False

    @property
    def digest(self) -> str | None:
        return self.user_attrs.get(attrs.DIGEST)

    def _number(self, key: str) -> float | None:
        """The stored number under ``key`` (None when absent); a value of another type (the
        study was changed outside nas-attn) is one NasAttnError naming the trial and the key."""
        value = self.user_attrs.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            trial = "a trial" if self.number is None else f"trial {self.number}"
            raise NasAttnError(
                f"{trial}'s stored '{key}' attribute is {_json_kind(value)}, not a number; the study was "
                "changed outside nas-attn: search again into a new --study (the study is left unchanged)"
            )
        return value

    @property
    def accuracy(self) -> float | None:
        value = self._number(attrs.ACCURACY)
        return None if value is None else float(value)

    @property
    def latency_ms(self) -> float | None:
        value = self._number(attrs.LATENCY_MS)
        return None if value is None else float(value)

    @property
    def latency_reference_ms(self) -> float | None:
        return self._number(attrs.LATENCY_REFERENCE_MS)

    @property
    def params(self) -> int | None:
        value = self._number(attrs.PARAMS)
        return None if value is None else int(value)

    @property
    def epochs(self) -> int | None:
        value = self._number(attrs.EPOCHS)
        return None if value is None else int(value)

    @property
    def warm_start_key(self) -> str | None:
        """The warm-start backbone the placement started from (None: trained from scratch)."""
        return self.user_attrs.get(attrs.WARM_START_KEY) or None

    @property
    def device(self) -> str | None:
        return self.user_attrs.get(attrs.DEVICE)

    @property
    def versions(self) -> dict[str, str]:
        versions: dict[str, str] = self.user_attrs.get(attrs.VERSIONS, {})
        return versions

    @property
    def input_normalization(self) -> tuple[list[float], list[float]] | None:
        """The proxy data's mean and std (None for trials of studies made before they were kept)."""
        mean, std = self.user_attrs.get(attrs.INPUT_MEAN), self.user_attrs.get(attrs.INPUT_STD)
        return (mean, std) if mean and std else None

    @property
    def metrics(self) -> dict[str, Any]:
        """The measured metrics it has, in :data:`attrs.METRICS` order."""
        return {k: self.user_attrs[k] for k in attrs.METRICS if k in self.user_attrs}

    @property
    def duplicate_of(self) -> int | None:
        """The trial whose result answered this one (None: it was evaluated itself)."""
        return self.user_attrs.get(attrs.DUPLICATE_OF)

    @property
    def fail_reason(self) -> str:
        return str(self.user_attrs.get(attrs.FAIL_REASON, ""))

    @property
    def fidelity(self) -> FidelityHistory:
        return FidelityHistory.read(self.user_attrs)
