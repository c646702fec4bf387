"""Test support: the helpers the tests share, none of them a test or a conftest.

Importable as ``support`` (pytest puts ``tests/`` on ``sys.path`` for its conftest):

- ``spaces``: the tiny search space (one text, two sampler sections) and its stage lines
- ``cli``: ``nas-attn`` in-process (``run_cli``) and as a subprocess (``nas_attn``)
- ``search``: small studies, consistency checks, Ray clusters and faulty pools for the search tests
- ``finished_study``: a finished study written as a search writes one, without training
- ``dashboard``: a live ``nas-attn dashboard`` process on a free loopback port
- ``timm_scripts``: stand-ins for timm's train.py / validate.py and a tiny image folder
- ``cifar_files``: CIFAR python-pickle batch folders (and a planted pickle payload)
- ``attention``: eval-mode maths from raw weights for the attention tests
"""
