"""``nas-attn with-timm``: a user's own timm-style script, run with the ``nas_attn`` model registered."""

from __future__ import annotations

import typer

HELP = "\n\n".join(
    [
        'Run a timm-style training or inference script with the timm model "nas_attn" registered.',
        "timm's train.py and validate.py do not import nas_attn, so on their own they stop with "
        '"Unknown model (nas_attn)". This runs SCRIPT (a path, or a module with -m) in this process '
        'as "python SCRIPT ARGS" would, after registering the model. ARGS go to the script untouched '
        "(everything after SCRIPT is the script's, --help included) and its exit code is kept.",
        "Example, with train.py from github.com/huggingface/pytorch-image-models (nas-attn export "
        "prints this line with the arch's own values):",
        "nas-attn with-timm train.py --data-dir data --model nas_attn --model-kwargs arch=best.yaml "
        "--num-classes 10 --input-size 3 16 16 --mean 0.5 0.5 0.5 --std 0.25 0.25 0.25",
    ]
)


def with_timm(
    script: str = typer.Argument(
        ..., metavar="SCRIPT", help="Script path (e.g. timm's train.py), or a module name with -m."
    ),
    args: list[str] | None = typer.Argument(
        None, metavar="ARGS", help="Arguments passed to the script untouched."
    ),
    module: bool = typer.Option(
        False, "-m", "--module", help="SCRIPT is a module name, run like python -m MODULE."
    ),
) -> None:
    from nas_attn.deploy.with_timm import run_script

    code = run_script(script, args or [], as_module=module)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``with-timm`` to the ``nas-attn`` app (options stop at SCRIPT: the rest is the script's)."""
    app.command(
        "with-timm",
        help=HELP,
        context_settings={"allow_interspersed_args": False},
    )(with_timm)
