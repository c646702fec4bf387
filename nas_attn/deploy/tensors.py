"""Weights read from a file are checked against the network they are loaded into, before use.

:func:`check_state_dict` is the one check of a checkpoint's ``model`` entry and of a safetensors
file's tensors: every entry is a tensor under a string name, every tensor the network needs is
there and nothing else is, and each has the network's shape and dtype. A file that fails is one
NasAttnError saying what differs (counts and the first few names), never a torch traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from nas_attn.exceptions import NasAttnError

SHOWN = 3  # names quoted per problem


def _some(names: list[str]) -> str:
    return ", ".join(names[:SHOWN])


def _problems(expected: Mapping[str, torch.Tensor], got: Mapping[Any, Any]) -> list[str]:
    """What keeps ``got`` from being loaded as ``expected`` (empty: it fits)."""
    bad = [str(k)[:80] for k, v in got.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        return [f"{len(bad)} entr{'y is' if len(bad) == 1 else 'ies are'} not tensors, e.g. {_some(bad)}"]
    tensors = {str(k): v for k, v in got.items() if isinstance(v, torch.Tensor)}
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensor(s), e.g. {_some(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected, e.g. {_some(unexpected)}")
    if problems:
        return problems
    shapes = [k for k, v in expected.items() if tuple(tensors[k].shape) != tuple(v.shape)]
    if shapes:
        key = shapes[0]
        problems.append(
            f"{len(shapes)} tensor(s) differ in shape, e.g. {key}: "
            f"{tuple(tensors[key].shape)} vs {tuple(expected[key].shape)}"
        )
    dtypes = [k for k, v in expected.items() if tensors[k].dtype != v.dtype]
    if dtypes:
        key = dtypes[0]
        theirs, ours = (str(t.dtype).removeprefix("torch.") for t in (tensors[key], expected[key]))
        problems.append(f"{len(dtypes)} tensor(s) differ in dtype, e.g. {key}: {theirs} vs {ours}")
    return problems


def check_state_dict(
    expected: Mapping[str, torch.Tensor], got: Mapping[Any, Any], source: str, fix: str
) -> dict[str, torch.Tensor]:
    """``got`` as a state dict if it holds exactly the tensors of ``expected`` (names, shapes,
    dtypes); else ``NasAttnError("{source} does not fit the arch's network (...); {fix}")``."""
    problems = _problems(expected, got)
    if problems:
        raise NasAttnError(f"{source} does not fit the arch's network ({'; '.join(problems)}); {fix}")
    return {str(k): v for k, v in got.items() if isinstance(v, torch.Tensor)}
