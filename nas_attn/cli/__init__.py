"""The ``nas-attn`` command line (Typer).

- :mod:`~nas_attn.cli.app`: the app, ``main()`` and exit codes; it registers the commands of
  :mod:`~nas_attn.cli.search` (search, modules), :mod:`~nas_attn.cli.study` (front, export,
  report, dashboard), :mod:`~nas_attn.cli.train`, :mod:`~nas_attn.cli.reruns` (reseed,
  validate-proxy) and :mod:`~nas_attn.cli.timm` (with-timm); :mod:`~nas_attn.cli._options`
  holds the options several of them share.
- What they print: :mod:`~nas_attn.cli.console` (the terminal), :mod:`~nas_attn.cli.progress`
  (progress bars), :mod:`~nas_attn.cli.tables` (tables and report lines).
"""

from __future__ import annotations

from nas_attn.cli.app import app, main

__all__ = ["app", "main"]
