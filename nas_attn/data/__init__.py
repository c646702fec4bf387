"""Proxy datasets, loaded whole as uint8 tensors: ``load_dataset(name, image_size, seed)``."""

from nas_attn.data import digits  # noqa: F401  (register bundled datasets)
from nas_attn.data.base import (
    DatasetSpec,
    ProxyData,
    get_dataset_spec,
    list_datasets,
    load_dataset,
    register_dataset,
)

__all__ = [
    "DatasetSpec",
    "ProxyData",
    "get_dataset_spec",
    "list_datasets",
    "load_dataset",
    "register_dataset",
]
