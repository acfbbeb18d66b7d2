"""Loaded by Python at start-up when this folder is on PYTHONPATH (see `engine/ctl.py env`)."""

import localstack_names

localstack_names.install()
