"""The command line, `invtrack`: thin commands over the service layer."""

from api.cli.main import main

__all__ = ["main"]
