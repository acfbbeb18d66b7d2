"""Loaded by Python at start-up when this folder is on PYTHONPATH (see `engine/ctl.py env`)."""

import localstack_names  # noqa: F401  (importing it installs the resolver)
