"""A two-level grid over each territory that answers most département lookups in O(1).

A cell holds a département index when no département boundary crosses it (then every point
of the cell is in that département), ``OUTSIDE`` when no boundary crosses it and it lies
outside every commune, and ``MIXED`` otherwise. Each mixed cell is cut again into
``SUB × SUB`` sub-cells classified the same way; only points in a mixed sub-cell need the
exact point-in-polygon test. The grid is computed once by ``scripts/build_geodata.py`` and
shipped with the data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import shapely

OUTSIDE = 254
MIXED = 255
NOT_COVERED = -1  # outside every zone's bounding box
SUB = 8

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Classifier = Callable[[FloatArray, FloatArray], IntArray]


@dataclass(frozen=True)
class GridZone:
    """One territory's grid: ``cells[row, col]`` covers ``x0 + col*cell .. + cell``.

    ``sub[k]`` refines the k-th mixed cell (in row-major order) into SUB × SUB sub-cells.
    """

    x0: float
    y0: float
    cell: float
    cells: npt.NDArray[np.uint8]
    sub: npt.NDArray[np.uint8]
    mixed_ids: IntArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mixed_ids", np.flatnonzero(self.cells.ravel() == MIXED))
        if len(self.sub) != len(self.mixed_ids):
            raise ValueError("one sub-grid per mixed cell expected")

    @property
    def shape(self) -> tuple[int, int]:
        rows, cols = self.cells.shape
        return int(rows), int(cols)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        rows, cols = self.shape
        return self.x0, self.y0, self.x0 + cols * self.cell, self.y0 + rows * self.cell


def _classify_boxes(
    x0: FloatArray,
    y0: FloatArray,
    size: float,
    boundary: shapely.STRtree,
    classify: Classifier,
    chunk: int = 200_000,
) -> npt.NDArray[np.uint8]:
    """MIXED for boxes a boundary crosses, else the département (or OUTSIDE) of the centre."""
    result = np.empty(len(x0), dtype=np.uint8)
    for start in range(0, len(x0), chunk):
        xs = x0[start : start + chunk]
        ys = y0[start : start + chunk]
        boxes = shapely.box(xs, ys, xs + size, ys + size)
        hit = np.zeros(len(xs), dtype=bool)
        hit[boundary.query(boxes, predicate="intersects")[0]] = True
        values = classify(xs[~hit] + size / 2, ys[~hit] + size / 2)
        block = np.empty(len(xs), dtype=np.uint8)
        block[hit] = MIXED
        block[~hit] = np.where(values < 0, OUTSIDE, values).astype(np.uint8)
        result[start : start + chunk] = block
    return result


def build_zone(
    bounds: tuple[float, float, float, float],
    cell: float,
    boundary: shapely.STRtree,
    classify: Classifier,
) -> GridZone:
    """Grid over ``bounds`` (lon/lat) whose cells a ``boundary`` line crosses are refined.

    ``classify(lons, lats)`` gives the département index of each point, or -1 outside.
    """
    min_x, min_y, max_x, max_y = bounds
    col0 = int(np.floor(min_x / cell)) - 1
    row0 = int(np.floor(min_y / cell)) - 1
    cols = int(np.ceil(max_x / cell)) + 1 - col0
    rows = int(np.ceil(max_y / cell)) + 1 - row0
    x0, y0 = col0 * cell, row0 * cell
    r, c = np.divmod(np.arange(rows * cols), cols)
    cells = _classify_boxes(x0 + c * cell, y0 + r * cell, cell, boundary, classify)
    mixed = np.flatnonzero(cells == MIXED)
    mr, mc = np.divmod(mixed, cols)
    sr, sc = np.divmod(np.arange(SUB * SUB), SUB)
    small = cell / SUB
    sub_x = (x0 + mc * cell)[:, None] + sc[None, :] * small
    sub_y = (y0 + mr * cell)[:, None] + sr[None, :] * small
    sub = _classify_boxes(sub_x.ravel(), sub_y.ravel(), small, boundary, classify)
    return GridZone(
        x0=x0,
        y0=y0,
        cell=cell,
        cells=cells.reshape(rows, cols),
        sub=sub.reshape(len(mixed), SUB, SUB),
    )


def lookup(zones: Sequence[GridZone], lons: FloatArray, lats: FloatArray) -> IntArray:
    """Value for each point: a département index, OUTSIDE, MIXED or NOT_COVERED."""
    result = np.full(len(lons), NOT_COVERED, dtype=np.int64)
    for zone in zones:
        west, south, east, north = zone.bounds
        inside = np.flatnonzero((lons >= west) & (lons < east) & (lats >= south) & (lats < north))
        if len(inside) == 0:
            continue
        rows, cols = zone.shape
        fx = (lons[inside] - zone.x0) / zone.cell
        fy = (lats[inside] - zone.y0) / zone.cell
        col = np.minimum(fx.astype(np.int64), cols - 1)
        row = np.minimum(fy.astype(np.int64), rows - 1)
        flat = row * cols + col
        value = zone.cells.ravel()[flat].astype(np.int64)
        refine = np.flatnonzero(value == MIXED)
        if len(refine):
            block = np.searchsorted(zone.mixed_ids, flat[refine])
            sub_col = np.minimum(((fx[refine] - col[refine]) * SUB).astype(np.int64), SUB - 1)
            sub_row = np.minimum(((fy[refine] - row[refine]) * SUB).astype(np.int64), SUB - 1)
            value[refine] = zone.sub[block, sub_row, sub_col]
        result[inside] = value
    return result
