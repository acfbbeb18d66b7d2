"""Configuration read from the function's environment (set by Terraform)."""

import os


class ConfigError(RuntimeError):
    """A required environment variable is missing: a deployment error, not a request error."""


def require_env(name: str) -> str:
    """The value of environment variable `name`; raises ConfigError when unset or empty.

    Read at call time rather than import time so a misconfigured function fails with a
    clear message in its logs, and tests can set the variables per test.
    """
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(f"environment variable {name} is not set")
    return value
