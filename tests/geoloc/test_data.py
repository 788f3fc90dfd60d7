"""The shipped data: present in the package, compact, licensed, and self-consistent."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geoloc import container, grid, topology
from geoloc.index import GeoDataError, GeoIndex

DATA = resources.files("geoloc").joinpath("data")


def test_given_the_package_then_data_files_ship_inside_it_and_total_a_few_mb() -> None:
    sizes = {name: DATA.joinpath(name).read_bytes() for name in ("places.json.xz", "polygons.xz")}
    total = sum(len(b) for b in sizes.values())
    assert 1_000_000 < total < 6_000_000


def test_given_sources_file_then_it_names_the_sources_and_the_licence() -> None:
    text = DATA.joinpath("SOURCES.md").read_text("utf-8")
    assert "Licence Ouverte" in text
    assert "Etalab 2.0" in text
    assert "decoupage-administratif" in text
    assert "france-geojson" in text
    assert "ADMIN EXPRESS" in text


def test_given_a_fresh_index_then_tables_answer_before_polygons_are_read() -> None:
    fresh = GeoIndex.load()
    assert fresh.communes_for_postcode("29200")[0].name == "Brest"
    assert fresh.polygons_loaded is False
    assert fresh.warm() is fresh
    assert fresh.polygons_loaded is True


def test_given_missing_data_directory_then_french_error(tmp_path: Path) -> None:
    with pytest.raises(GeoDataError, match="données de géolocalisation illisibles"):
        GeoIndex.load(tmp_path)


def test_given_every_served_departement_then_it_has_polygons(index: GeoIndex) -> None:
    with_polygons = {c.departement for c in index.geometry_communes()}
    assert with_polygons == set(index.served_codes)


def test_given_every_commune_polygon_then_it_points_to_a_current_commune(index: GeoIndex) -> None:
    communes = index.geometry_communes()
    assert len(communes) == len(index.geometries) == 35_357
    assert all(index.commune(c.code) is c for c in communes[::97])


def test_given_a_random_point_inside_a_commune_then_commune_at_finds_it(
    index: GeoIndex,
) -> None:
    rng = np.random.default_rng(6)
    communes = index.geometry_communes()
    picks = rng.choice(len(index.geometries), size=300, replace=False)
    points = shapely.point_on_surface(index.geometries[picks])
    for pick, point in zip(picks, points, strict=True):
        found = index.commune_at(point.y, point.x)
        assert found is not None
        assert found.departement == communes[pick].departement


def test_given_grid_and_exact_test_then_they_agree_on_random_points(index: GeoIndex) -> None:
    rng = np.random.default_rng(115)
    boxes = [  # (south, north, west, east): mainland and Corsica, then each overseas one
        (41.3, 51.1, -5.2, 9.6, 200_000),
        (15.8, 16.55, -61.85, -61.0, 5_000),
        (14.38, 14.9, -61.25, -60.8, 5_000),
        (2.1, 5.8, -54.6, -51.6, 5_000),
        (-21.4, -20.85, 55.2, 55.85, 5_000),
        (-13.05, -12.6, 44.95, 45.32, 5_000),
    ]
    lats = np.concatenate([rng.uniform(s, n, k) for s, n, _, _, k in boxes])
    lons = np.concatenate([rng.uniform(w, e, k) for _, _, w, e, k in boxes])
    fast = index.departement_indices_at(lats, lons)
    communes = index.commune_indices_at(lats, lons)
    served = {code: i for i, code in enumerate(index.served_codes)}
    departement_of = np.array([served.get(c.departement, -1) for c in index.communes])
    exact = np.where(communes >= 0, departement_of[np.maximum(communes, 0)], -1)
    assert (fast >= 0).sum() > 90_000  # about half the boxes is land in a département
    assert set(fast[200_000:].tolist()) >= {served[c] for c in ("971", "972", "973", "974", "976")}
    assert np.array_equal(fast, exact)


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(min_value=41.0, max_value=51.5, allow_nan=False),
    lon=st.floats(min_value=-5.5, max_value=10.0, allow_nan=False),
)
def test_given_any_point_in_mainland_box_then_grid_matches_point_in_polygon(
    index: GeoIndex, lat: float, lon: float
) -> None:
    fast = index.departement_indices_at(np.array([lat]), np.array([lon]))[0]
    commune = index.commune_at(lat, lon)
    expected = index.served_codes.index(commune.departement) if commune else -1
    assert fast == expected


def test_given_nan_coordinates_then_batch_lookups_say_outside(index: GeoIndex) -> None:
    lats = np.array([np.nan, 48.8566])
    lons = np.array([2.3522, np.nan])
    assert index.departement_indices_at(lats, lons).tolist() == [-1, -1]


def test_given_grid_lookup_outside_every_zone_then_not_covered() -> None:
    zone = grid.GridZone(
        x0=0.0,
        y0=0.0,
        cell=1.0,
        cells=np.zeros((2, 2), dtype=np.uint8),
        sub=np.zeros((0, grid.SUB, grid.SUB), dtype=np.uint8),
    )
    values = grid.lookup([zone], np.array([0.5, 1.5, 2.5, -0.1]), np.array([0.5, 1.5, 0.5, 0.5]))
    assert values.tolist() == [0, 0, grid.NOT_COVERED, grid.NOT_COVERED]


def test_given_two_departements_split_inside_a_cell_then_sub_cells_tell_them_apart() -> None:
    # Département 0 west of x=1.3, département 1 east of it, on a 1-degree grid.
    west = shapely.box(0, 0, 1.3, 2)
    east = shapely.box(1.3, 0, 3, 2)
    boundary = shapely.STRtree(
        [shapely.LineString([(1.3, 0), (1.3, 2)]), west.exterior, east.exterior]
    )

    def classify(lons: npt.NDArray[np.float64], lats: npt.NDArray[np.float64]) -> Any:
        inside = (lons > 0) & (lons < 3) & (lats > 0) & (lats < 2)
        return np.where(inside, np.where(lons < 1.3, 0, 1), -1)

    zone = grid.build_zone((0, 0, 3, 2), 1.0, boundary, classify)
    lons = np.array([0.5, 1.1, 1.2, 1.45, 1.9, 2.5, 5.0])
    lats = np.full(len(lons), 1.5)
    values = grid.lookup([zone], lons, lats)
    assert values.tolist() == [0, 0, 0, 1, 1, 1, grid.NOT_COVERED]
    assert (zone.cells == grid.MIXED).sum() > 0
    assert len(zone.sub) == (zone.cells == grid.MIXED).sum()


# -- the encodings -------------------------------------------------------------------------


def test_given_two_squares_sharing_an_edge_then_the_edge_is_stored_once() -> None:
    left = shapely.box(0, 0, 1, 1)
    right = shapely.box(1, 0, 2, 1)
    topo = topology.encode([left, right], scale=10)
    decoded = topology.decode(topo)
    assert shapely.equals(decoded[0], left)
    assert shapely.equals(decoded[1], right)
    # 8 ring vertices in all, but the shared edge (2 vertices) is stored once: 3 arcs
    assert len(topo.arc_offsets) - 1 == 3
    refs = topo.ring_arcs.tolist()
    shared = {r if r >= 0 else ~r for r in refs[:2]} & {r if r >= 0 else ~r for r in refs[2:]}
    assert len(shared) == 1


def test_given_enclave_and_hole_then_round_trip_is_exact() -> None:
    outer = shapely.Polygon(
        [(0, 0), (4, 0), (4, 4), (0, 4)], holes=[[(1, 1), (1, 2), (2, 2), (2, 1)]]
    )
    enclave = shapely.box(1, 1, 2, 2)
    island = shapely.MultiPolygon([shapely.box(10, 10, 11, 11), shapely.box(12, 10, 13, 11)])
    topo = topology.encode([outer, enclave, island], scale=1e5)
    decoded = topology.decode(topo)
    for original, back in zip([outer, enclave, island], decoded, strict=True):
        assert shapely.equals(original, back)
    assert len(topo.arc_offsets) - 1 == 4  # outer ring, shared hole/enclave, two islands


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(-50, 50), st.integers(-50, 50)), min_size=1, max_size=12))
def test_given_grid_of_unit_squares_then_round_trip_is_exact(cells: list[tuple[int, int]]) -> None:
    squares = [shapely.box(x, y, x + 1, y + 1) for x, y in sorted(set(cells))]
    topo = topology.encode(squares, scale=1e5)
    decoded = topology.decode(topo)
    assert all(shapely.equals(a, b) for a, b in zip(squares, decoded, strict=True))


@given(
    st.lists(
        st.tuples(st.integers(-(2**27), 2**27), st.integers(-(2**27), 2**27)),
        min_size=1,
        max_size=50,
    )
)
def test_given_any_integer_coordinates_then_packing_round_trips(
    points: list[tuple[int, int]],
) -> None:
    xy = np.array(points, dtype=np.int64)
    planes = topology.pack_coordinates(xy)
    assert np.array_equal(topology.unpack_coordinates(planes), xy)


def test_given_arrays_then_container_round_trips_and_is_deterministic() -> None:
    arrays: dict[str, npt.NDArray[Any]] = {
        "a": np.arange(10, dtype=np.int32),
        "b": np.array([[1.5, 2.5]], dtype=np.float64),
        "c": np.zeros(3, dtype=np.uint8),
    }
    packed = container.pack(arrays, {"format": 1})
    assert packed == container.pack(arrays, {"format": 1})
    back, meta = container.unpack(packed)
    assert meta == {"format": 1}
    for name, array in arrays.items():
        assert np.array_equal(back[name], array)
        assert back[name].dtype == array.dtype


def test_given_corrupt_container_then_container_error() -> None:
    with pytest.raises(container.ContainerError, match="not an xz stream"):
        container.unpack(b"pas du xz")
