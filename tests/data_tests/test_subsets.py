import pytest
import torch

from nas_attn import NasAttnError
from nas_attn.data import balanced_indices, load_dataset, take_subsets


def test_balanced_counts_differ_by_at_most_one() -> None:
    labels = torch.arange(10).repeat_interleave(30)
    for n in (10, 25, 99):
        counts = torch.bincount(labels[balanced_indices(labels, n, seed=3)], minlength=10)
        assert int(counts.sum()) == n and int(counts.max() - counts.min()) <= 1


def test_small_classes_are_used_up_and_others_fill_in() -> None:
    labels = torch.tensor([0] * 50 + [1] * 2 + [2] * 50)
    idx = balanced_indices(labels, 30, seed=0)
    assert torch.bincount(labels[idx]).tolist() == [14, 2, 14]
    assert len(set(idx.tolist())) == 30 and idx.tolist() == sorted(idx.tolist())


def test_subsets_are_fixed_by_the_seed() -> None:
    labels = torch.arange(5).repeat(40)
    a, b, c = (balanced_indices(labels, 20, seed=s) for s in (0, 0, 1))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_take_subsets_cuts_both_splits_and_recomputes_statistics() -> None:
    data = load_dataset("digits", 8, seed=0)
    small = take_subsets(data, 50, 20, seed=0)
    assert small.train_images.shape == (50, 3, 8, 8) and len(small.val_labels) == 20
    assert torch.bincount(small.train_labels).tolist() == [5] * 10
    assert small.mean != data.mean and small.num_classes == 10
    assert take_subsets(data, None, None, seed=0) is data
    whole_val = take_subsets(data, 30, None, seed=0)
    assert torch.equal(whole_val.val_images, data.val_images)


def test_a_subset_larger_than_the_split_says_so() -> None:
    data = load_dataset("digits", 8, seed=0)
    with pytest.raises(
        NasAttnError, match=r"proxy.train_subset is 5000 but dataset 'digits' has only 1437 train"
    ):
        take_subsets(data, 5000, None, seed=0)
