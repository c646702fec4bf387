"""Weight-sharing supernet (issue 30, core): one seeded backbone whose stage slots hold every
candidate a search space allows, trained with strict-fair sampling, scored per placement after
BatchNorm re-fitting, and extractable as a normal ``build_model`` network.

``net`` (Supernet, slots, what is private), ``choices`` (candidates per slot, masking),
``extract`` (a path as a standalone network), ``batchnorm`` (re-fitting), ``sampling``
(FairNAS / SPOS samplers), ``train`` and ``checkpoint`` (training, resume, milestones),
``score`` (a placement's score).
"""

from nas_attn.supernet.batchnorm import path_norms, refit_bn
from nas_attn.supernet.checkpoint import SupernetCheckpoint, load_checkpoint, save_checkpoint
from nas_attn.supernet.choices import MaskedChoice, PathIndices, SlotChoices
from nas_attn.supernet.extract import extract, path_state_dict
from nas_attn.supernet.net import Candidate, Slot, Supernet
from nas_attn.supernet.sampling import FairSampler, PathSampler, SamplerState, UniformSampler, make_sampler
from nas_attn.supernet.score import PathScore, ScoringSet, score
from nas_attn.supernet.train import SupernetTrainConfig, SupernetTrainResult, train_supernet

__all__ = [
    "Candidate",
    "FairSampler",
    "MaskedChoice",
    "PathIndices",
    "PathSampler",
    "PathScore",
    "SamplerState",
    "ScoringSet",
    "Slot",
    "SlotChoices",
    "Supernet",
    "SupernetCheckpoint",
    "SupernetTrainConfig",
    "SupernetTrainResult",
    "UniformSampler",
    "extract",
    "load_checkpoint",
    "make_sampler",
    "path_norms",
    "path_state_dict",
    "refit_bn",
    "save_checkpoint",
    "score",
    "train_supernet",
]
