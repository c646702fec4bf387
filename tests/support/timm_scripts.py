"""Stand-ins for timm's train.py / validate.py (not in the timm wheel), and a tiny image folder.

The stand-ins parse the argument names timm's scripts use (``data`` / ``--data-dir``, ``--model``,
``--model-kwargs`` through timm's own ``ParseKwargs``, ``--num-classes``, ``--in-chans``,
``--input-size``, ``--mean``, ``--std``, ``--pretrained``, ``-b``, ...), call
``timm.create_model(args.model, ..., **args.model_kwargs)`` as those scripts do, and feed the
model through timm's own data pipeline (``create_dataset``, ``resolve_data_config``,
``create_loader``). They do not import nas_attn: run plainly they fail like timm's scripts do.
train.py runs one optimisation step (a pipeline check, not a training run: ``--epochs`` is parsed
and recorded only) and saves ``output/train/EXPERIMENT/model_best.pth.tar`` as timm's saver does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

_COMMON = """
import argparse
import os
import sys

import torch
import timm
from timm.data import create_dataset, create_loader, resolve_data_config
from timm.utils import ParseKwargs

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("data", nargs="?", metavar="DIR", help="path to dataset (deprecated: --data-dir)")
parser.add_argument("--data-dir", metavar="DIR")
parser.add_argument("--model", default="resnet50")
parser.add_argument("--model-kwargs", nargs="*", default={}, action=ParseKwargs)
parser.add_argument("--pretrained", action="store_true", default=False)
parser.add_argument("--num-classes", type=int, default=None)
parser.add_argument("--in-chans", type=int, default=None)
parser.add_argument("--input-size", default=None, nargs=3, type=int)
parser.add_argument("--mean", type=float, nargs="+", default=None)
parser.add_argument("--std", type=float, nargs="+", default=None)
parser.add_argument("--gp", default=None)
parser.add_argument("-b", "--batch-size", type=int, default=128)
"""

_MODEL = """
args.data_dir = args.data_dir or args.data
in_chans = args.in_chans if args.in_chans is not None else (args.input_size[0] if args.input_size else 3)
model = timm.create_model(
    args.model,
    pretrained=args.pretrained,
    in_chans=in_chans,
    num_classes=args.num_classes,
    global_pool=args.gp,
    **extra,
    **args.model_kwargs,
)
"""

TRAIN_PY = f'''"""timm-style train.py stand-in: one optimisation step through timm's data pipeline."""
{_COMMON}
parser.add_argument("--drop", type=float, default=0.0)
parser.add_argument("--drop-path", type=float, default=None)
parser.add_argument("--epochs", type=int, default=300)
parser.add_argument("--lr", type=float, default=0.05)
parser.add_argument("--experiment", default="")
parser.add_argument("--output", default="")
args = parser.parse_args()
extra = dict(drop_rate=args.drop, drop_path_rate=args.drop_path)
{_MODEL}
data_config = resolve_data_config(vars(args), model=model)
dataset = create_dataset("", root=args.data_dir, split="train", is_training=True)
loader = create_loader(
    dataset, input_size=data_config["input_size"], batch_size=args.batch_size, is_training=True,
    mean=data_config["mean"], std=data_config["std"], interpolation=data_config["interpolation"],
    num_workers=0, use_prefetcher=False, device=torch.device("cpu"),
)
optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
model.train()
images, targets = next(iter(loader))
loss = torch.nn.functional.cross_entropy(model(images), targets)
optimizer.zero_grad()
loss.backward()
optimizer.step()
mean, std = tuple(data_config["mean"]), tuple(data_config["std"])
print(f"trained {{args.model}}: 1 step, loss {{loss.item():.4f}}, batch {{tuple(images.shape)}}, "
      f"classes {{model.num_classes}}, mean {{mean}}, std {{std}}")
folder = os.path.join(args.output or "output/train", args.experiment or "default")
os.makedirs(folder, exist_ok=True)
torch.save({{"epoch": args.epochs, "arch": args.model, "state_dict": model.state_dict()}},
           os.path.join(folder, "model_best.pth.tar"))
sys.exit(0 if torch.isfinite(loss) else 1)
'''

VALIDATE_PY = f'''"""timm-style validate.py stand-in: top-1 of a checkpoint on the validation split."""
{_COMMON}
parser.add_argument("--checkpoint", default="")
parser.add_argument("--split", default="validation")
args = parser.parse_args()
extra = {{}}
{_MODEL}
if args.checkpoint:
    timm.models.load_checkpoint(model, args.checkpoint)
data_config = resolve_data_config(vars(args), model=model, use_test_size=True)
dataset = create_dataset("", root=args.data_dir, split=args.split, is_training=False)
loader = create_loader(
    dataset, input_size=data_config["input_size"], batch_size=args.batch_size, is_training=False,
    mean=data_config["mean"], std=data_config["std"], interpolation=data_config["interpolation"],
    crop_pct=data_config["crop_pct"], num_workers=0, use_prefetcher=False, device=torch.device("cpu"),
)
model.eval()
correct = seen = 0
with torch.no_grad():
    for images, targets in loader:
        correct += int((model(images).argmax(1) == targets).sum())
        seen += len(targets)
top1 = 100 * correct / seen
print(f"validated {{args.model}} on {{seen}} images, input {{tuple(images.shape[1:])}}: top-1 {{top1:.2f}}")
'''


def write_scripts(folder: Path) -> tuple[Path, Path]:
    """Write the stand-ins as ``train.py`` and ``validate.py`` in ``folder``."""
    train, validate = folder / "train.py", folder / "validate.py"
    train.write_text(TRAIN_PY)
    validate.write_text(VALIDATE_PY)
    return train, validate


def make_image_folder(root: Path, classes: int = 10, train_per_class: int = 4, size: int = 20) -> Path:
    """``root/train`` and ``root/val``, one folder per class of small RGB PNGs (a class = a colour)."""
    rng = np.random.default_rng(0)
    for split, count in (("train", train_per_class), ("val", 1)):
        for c in range(classes):
            folder = root / split / f"class{c:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            colour = np.array([25 * c, 255 - 25 * c, 120], dtype=np.float64)
            for i in range(count):
                pixels = np.clip(colour + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels, "RGB").save(folder / f"{i}.png")
    return root
