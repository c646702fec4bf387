"""``python -m nas_attn`` runs the CLI."""

from nas_attn.cli import main

main()
