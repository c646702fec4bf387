"""The one parameter and MAC count, shared by the zoo table and the worker."""

import torch
from torch import nn

from nas_attn.attention.costs import count_params, forward_macs
from nas_attn.worker import count_macs


def test_forward_macs_counts_convolutions_and_matmuls_on_the_given_inputs() -> None:
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    assert forward_macs(conv, torch.zeros(2, 3, 8, 8)) == 2 * 8 * 3 * 9 * 8 * 8
    assert count_params(conv) == 8 * 3 * 9


def test_the_worker_counts_a_network_with_the_same_counter() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Flatten(), nn.Linear(512, 10))
    assert count_macs(net, 8, batch_size=3) == forward_macs(net, torch.zeros(3, 3, 8, 8))
