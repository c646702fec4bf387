"""``nas-attn validate-proxy`` without Ray: the same sample, retraining and correlations, run by one
in-process worker (e.g. on a single GPU machine, or to debug the worker code in one process).

Uses the command's own functions (``search.usecases._finished_study.open_study_and_space``,
``search.usecases.validate_proxy.validate_proxy``, ``console.print_validation``) with
:class:`~nas_attn.search.execution.inprocess.InProcessPool` in place of the Ray pool; the result is stored
in the study exactly as the command stores it (user attribute ``proxy_validation``).

    .venv/bin/python benches/validate_proxy_inprocess.py --study resnet18_fashion \\
        --storage sqlite:///nas_attn.db --sample 8 --epochs 8 --device cuda
"""

from __future__ import annotations

import argparse
import time

from nas_attn.cli import console, tables
from nas_attn.search.execution.inprocess import InProcessPool
from nas_attn.search.usecases._finished_study import RerunRequest, open_study_and_space
from nas_attn.search.usecases.validate_proxy import validate_proxy


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--study", required=True)
    parser.add_argument("--storage", required=True)
    parser.add_argument("--sample", type=int, default=8)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    study, space = open_study_and_space(RerunRequest(args.storage, args.study, device=args.device))
    started = time.perf_counter()
    result = validate_proxy(study, space, InProcessPool(args.device), args.sample, args.epochs, console.info)
    tables.print_validation(result)
    console.info(
        f"{len(result.rows)} retrainings at {args.epochs} epochs in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
