"""`python -m jarvis` is the `jarvis` command."""

from jarvis.cli import main

raise SystemExit(main())
