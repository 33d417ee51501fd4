"""Operator-side tooling: the ``hotline`` command, the embedded stack and the process supervisor."""
