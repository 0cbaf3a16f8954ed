"""Fixtures every test folder may use: the real photo the model tests read."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo: (512, 512, 3) uint8 RGB, one person."""
    data = pytest.importorskip("skimage.data", reason="scikit-image gives the astronaut photo")
    return np.ascontiguousarray(data.astronaut())
