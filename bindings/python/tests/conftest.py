"""pytest fixtures shared by the dlgemm tests (reference math lives in refs.py)."""

from __future__ import annotations

import numpy as np
import pytest

import dlgemm


@pytest.fixture
def ctx():
    with dlgemm.Context(-1) as c:
        yield c


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
