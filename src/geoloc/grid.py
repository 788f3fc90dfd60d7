"""A uniform grid over each territory that answers most département lookups in O(1).

A cell holds a département index when no département boundary crosses it (then every point
of the cell is in that département, or outside every commune), and ``MIXED`` otherwise,
where the caller falls back to the exact point-in-polygon test. The grid is computed once
by ``scripts/build_geodata.py`` and shipped with the data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

OUTSIDE = 254
MIXED = 255
NOT_COVERED = -1  # outside every zone's bounding box

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class GridZone:
    """One territory's grid: ``cells[row, col]`` covers ``x0 + col*cell .. + cell``."""

    x0: float
    y0: float
    cell: float
    cells: npt.NDArray[np.uint8]

    @property
    def shape(self) -> tuple[int, int]:
        rows, cols = self.cells.shape
        return int(rows), int(cols)


def build_zone(
    bounds: tuple[float, float, float, float],
    cell: float,
    boundary: shapely.STRtree,
    classify: Callable[[FloatArray, FloatArray], IntArray],
    chunk: int = 200_000,
) -> GridZone:
    """Grid over ``bounds`` (lon/lat): cells crossed by ``boundary`` lines are MIXED.

    ``classify(lons, lats)`` gives the département index of each point, or -1 outside.
    """
    min_x, min_y, max_x, max_y = bounds
    col0 = int(np.floor(min_x / cell)) - 1
    row0 = int(np.floor(min_y / cell)) - 1
    cols = int(np.ceil(max_x / cell)) + 1 - col0
    rows = int(np.ceil(max_y / cell)) + 1 - row0
    x0, y0 = col0 * cell, row0 * cell
    cells = np.full(rows * cols, OUTSIDE, dtype=np.uint8)
    flat = np.arange(rows * cols)
    for start in range(0, len(flat), chunk):
        ids = flat[start : start + chunk]
        r, c = np.divmod(ids, cols)
        boxes = shapely.box(x0 + c * cell, y0 + r * cell, x0 + (c + 1) * cell, y0 + (r + 1) * cell)
        hit = np.zeros(len(ids), dtype=bool)
        pairs = boundary.query(boxes, predicate="intersects")
        hit[pairs[0]] = True
        quiet = ~hit
        lons = x0 + (c[quiet] + 0.5) * cell
        lats = y0 + (r[quiet] + 0.5) * cell
        values = classify(lons.astype(np.float64), lats.astype(np.float64))
        block = np.where(values < 0, OUTSIDE, values).astype(np.uint8)
        cells[ids[quiet]] = block
        cells[ids[hit]] = MIXED
    return GridZone(x0=x0, y0=y0, cell=cell, cells=cells.reshape(rows, cols))


def lookup(zones: Sequence[GridZone], lons: FloatArray, lats: FloatArray) -> IntArray:
    """Cell value for each point: a département index, OUTSIDE, MIXED or NOT_COVERED."""
    result = np.full(len(lons), NOT_COVERED, dtype=np.int64)
    for zone in zones:
        rows, cols = zone.shape
        col = np.floor((lons - zone.x0) / zone.cell)
        row = np.floor((lats - zone.y0) / zone.cell)
        inside = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
        if not inside.any():
            continue
        value = zone.cells[row[inside].astype(np.int64), col[inside].astype(np.int64)]
        result[inside] = value
    return result
