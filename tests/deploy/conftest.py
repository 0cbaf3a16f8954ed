"""Fixtures for the deployment tests (container, compose, dashboard, Kubernetes, scale-out)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy_helpers  # noqa: E402, F401  (puts the repository root on sys.path)
