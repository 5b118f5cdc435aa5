"""The ``jarvis`` command (also ``python -m jarvis``), one module per command group.

``main`` parses and dispatches; ``ownership`` holds partitions, members and drain;
``settings`` holds run and config; ``api`` the stateless HTTP interface; ``demo`` the
local demo; ``common`` the plumbing they
share (connections from flags, exit codes, argument parsing that exits 2).
"""

from jarvis.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
