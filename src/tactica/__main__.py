"""``python -m tactica``: the same as the ``tactica`` command."""

from tactica.cli import main

main()
