"""The (n, 3) arrays every model step works on: one row per match, columns home, draw, away."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def as_outcome_array(
    values: ArrayLike, name: str = "probabilities", *, single_row: bool = False
) -> NDArray[np.float64]:
    """``values`` as a float64 (n, 3) array ordered (home, draw, away); with ``single_row``, one row of
    three values is read as (1, 3). Raises ValueError, naming ``name``, on any other shape."""
    array = np.asarray(values, dtype=np.float64)
    if single_row and array.ndim == 1 and array.shape[0] == 3:
        array = array[np.newaxis, :]
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"{name} must have shape (n, 3) ordered (home, draw, away); got {array.shape}")
    return array
