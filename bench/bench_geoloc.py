"""Positions resolved per second to a département and to a commune, against a brute force.

Run: ``.venv/bin/python bench/bench_geoloc.py`` (``scripts/bench.sh`` pins it to one core).
Workload: 200,000 random WGS84 positions, uniform over mainland France's bounding box
(Corsica included) plus the five overseas départements' boxes: about half fall in a
commune, the rest at sea or abroad, so both the hit and the miss paths are measured.

Baseline, measured in the same process: a brute-force scan that tests every polygon of
the layer for every position (département polygons, the union of their communes; commune
polygons), unprepared and without any index, on a sample of the same positions. The
indexed answers are checked against the brute force on that sample.
Times are CPU time of this process (``time.process_time``), best of three runs for all
but the slow commune brute force and the single-call loop, so other load on the machine
changes the figures little.
Targets (issue 6): at least 100,000 positions per second to a département, at least 100
times the brute-force scan.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import shapely

from geoloc.index import GeoIndex
from geoloc.locator import Locator

POSITIONS = 200_000
BRUTE_DEPARTEMENT_SAMPLE = 2_000
BRUTE_COMMUNE_SAMPLE = 100
SINGLE_CALLS = 2_000
TARGET_RATE = 100_000
TARGET_SPEEDUP = 100
BOXES = [  # south, north, west, east, share of the positions
    (41.3, 51.1, -5.2, 9.6, 0.90),
    (15.8, 16.55, -61.85, -61.0, 0.02),
    (14.38, 14.9, -61.25, -60.8, 0.02),
    (2.1, 5.8, -54.6, -51.6, 0.02),
    (-21.4, -20.85, 55.2, 55.85, 0.02),
    (-13.05, -12.6, 44.95, 45.32, 0.02),
]

T = TypeVar("T")
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def positions(n: int, seed: int = 115) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    lats, lons = [], []
    for south, north, west, east, share in BOXES:
        k = int(n * share)
        lats.append(rng.uniform(south, north, k))
        lons.append(rng.uniform(west, east, k))
    order = rng.permutation(sum(len(a) for a in lats))
    return np.concatenate(lats)[order], np.concatenate(lons)[order]


def rate(work: Callable[[], T], count: int, repeat: int = 3) -> tuple[float, T]:
    """Best of ``repeat`` runs in items per second, and the work's result."""
    best = float("inf")
    result: T | None = None
    for _ in range(repeat):
        started = time.process_time()
        result = work()
        best = min(best, time.process_time() - started)
    assert result is not None
    return count / best, result


def brute_force(polygons: npt.NDArray[np.object_], lats: FloatArray, lons: FloatArray) -> IntArray:
    """Index of the first polygon containing each position, testing every polygon."""
    result = np.full(len(lats), -1, dtype=np.int64)
    for i in range(len(lats)):
        inside = np.flatnonzero(shapely.contains_xy(polygons, lons[i], lats[i]))
        if len(inside):
            result[i] = inside[0]
    return result


def main() -> None:
    started = time.process_time()
    index = GeoIndex.load()
    tables = time.process_time() - started
    started = time.process_time()
    geometries = index.geometries
    polygons_load = time.process_time() - started
    print(f"load: tables {tables * 1000:.0f} ms, polygons {polygons_load * 1000:.0f} ms")

    lats, lons = positions(POSITIONS)
    n = len(lats)
    departement_rate, departements = rate(lambda: index.departement_indices_at(lats, lons), n)
    commune_rate, communes = rate(lambda: index.commune_indices_at(lats, lons), n)
    inside = int((departements >= 0).sum())
    print(f"{n} positions, {inside} in a département ({inside / n:.0%}), the rest sea/abroad")

    # Brute-force layers: fresh (unprepared) copies, no index.
    served = {code: i for i, code in enumerate(index.served_codes)}
    owners = np.array([served[c.departement] for c in index.geometry_communes()])
    departement_polygons = np.array(
        [shapely.coverage_union_all(geometries[owners == i]) for i in range(len(served))],
        dtype=object,
    )
    commune_polygons = shapely.from_wkb(shapely.to_wkb(geometries))

    sample_d = slice(0, BRUTE_DEPARTEMENT_SAMPLE)
    brute_d_rate, brute_d = rate(
        lambda: brute_force(departement_polygons, lats[sample_d], lons[sample_d]),
        BRUTE_DEPARTEMENT_SAMPLE,
    )
    mismatches_d = int((brute_d != departements[sample_d]).sum())

    sample_c = slice(0, BRUTE_COMMUNE_SAMPLE)
    brute_c_rate, brute_c = rate(
        lambda: brute_force(commune_polygons, lats[sample_c], lons[sample_c]),
        BRUTE_COMMUNE_SAMPLE,
        repeat=1,
    )
    position_of = {c.code: i for i, c in enumerate(index.communes)}
    commune_of_polygon = np.array([position_of[c.code] for c in index.geometry_communes()])
    brute_c_communes = np.where(brute_c >= 0, commune_of_polygon[np.maximum(brute_c, 0)], -1)
    mismatches_c = int((brute_c_communes != communes[sample_c]).sum())

    locator = Locator(index)
    single = list(zip(lats[:SINGLE_CALLS].tolist(), lons[:SINGLE_CALLS].tolist(), strict=True))
    single_rate, _ = rate(
        lambda: [locator.from_position(a, b) for a, b in single], SINGLE_CALLS, repeat=1
    )

    speedup_d = departement_rate / brute_d_rate
    speedup_c = commune_rate / brute_c_rate
    print(f"département, indexed (2-level grid, STRtree): {departement_rate:,.0f} positions/s")
    print(f"département, brute force (101 polygons): {brute_d_rate:10,.0f} positions/s")
    print(f"  speed-up x{speedup_d:,.0f}, {mismatches_d} disagreement(s) on the sample")
    print(f"commune, indexed (STRtree): {commune_rate:23,.0f} positions/s")
    print(f"commune, brute force (35,357 polygons): {brute_c_rate:11,.0f} positions/s")
    print(f"  speed-up x{speedup_c:,.0f}, {mismatches_c} disagreement(s) on the sample")
    print(f"Locator.from_position, one call each (with nearest): {single_rate:,.0f} /s")
    ok = departement_rate >= TARGET_RATE and speedup_d >= TARGET_SPEEDUP
    ok = ok and mismatches_d == 0 and mismatches_c == 0
    verdict = "met" if ok else "NOT met"
    print(f"targets (>= {TARGET_RATE:,} /s to a département, >= x{TARGET_SPEEDUP}): {verdict}")


if __name__ == "__main__":
    main()
