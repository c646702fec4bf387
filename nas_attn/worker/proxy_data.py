"""The proxy set a ProxyConfig asks for: load it, key it, or take it shipped from the driver.

The driver can load the data once and put it in the Ray object store; actors then receive it
with :meth:`TrialRunner.set_data` (a top-level ObjectRef argument arrives resolved; a nested
one is fetched here), so remote nodes need no dataset path.
"""

from __future__ import annotations

from typing import Any

from nas_attn.data import ProxyData, load_dataset, take_subsets
from nas_attn.exceptions import NasAttnError
from nas_attn.worker.config import ProxyConfig

ProxyKey = tuple[str, int, int, int | None, int | None]


def proxy_data_key(cfg: ProxyConfig) -> ProxyKey:
    """What identifies the data of a proxy run: dataset, image size, seed and subset sizes."""
    return (cfg.dataset, cfg.image_size, cfg.seed, cfg.train_subset, cfg.val_subset)


def load_proxy_data(cfg: ProxyConfig) -> ProxyData:
    """The dataset of ``cfg`` at its image size, cut to its class-balanced subsets (on the CPU)."""
    data = load_dataset(cfg.dataset, cfg.image_size, cfg.seed)
    return take_subsets(data, cfg.train_subset, cfg.val_subset, cfg.seed)


def resolve_proxy_data(data: Any) -> ProxyData:
    """``data`` itself when it is ProxyData, else the ProxyData behind a Ray ObjectRef."""
    if not isinstance(data, ProxyData):
        import ray  # only a worker that was handed an ObjectRef needs Ray here

        if not isinstance(data, ray.ObjectRef):
            raise NasAttnError(f"expected ProxyData or a Ray ObjectRef to it, got {type(data).__name__}")
        data = ray.get(data)
        if not isinstance(data, ProxyData):
            raise NasAttnError(f"the ObjectRef holds {type(data).__name__}, not ProxyData; ray.put the data")
    return data


def check_matches(data: ProxyData, cfg: ProxyConfig) -> ProxyData:
    """``data`` if it can serve ``cfg`` (image size), else a NasAttnError naming the mismatch."""
    if data.image_size != cfg.image_size:
        raise NasAttnError(
            f"shipped data '{data.name}' is {data.image_size} px but proxy.image_size is {cfg.image_size}; "
            "ship the output of load_proxy_data(proxy)"
        )
    return data
