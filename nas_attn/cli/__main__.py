"""``python -m nas_attn.cli`` runs the CLI (as ``python -m nas_attn`` and ``nas-attn`` do)."""

from nas_attn.cli import main

main()
