"""End-to-end tests use the shared running stack from tests/conftest.py (`stack`, `resident`).

``Resident`` stays importable from here for the tests that import it by this path.
"""

from __future__ import annotations

from tests.conftest import Resident

__all__ = ["Resident"]
