"""The shipped reference data and the spatial queries on it.

``GeoIndex.load()`` reads the tables (départements, communes, postal codes) at once and the
commune polygons on first spatial query, so a postal-code lookup never pays for them.
Build one index in the composition root and share it: it is read-only and thread-safe.
"""

from __future__ import annotations

import json
import lzma
import math
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from geoloc import container, grid, topology

SERVED_ZONES = frozenset({"metro", "drom"})
EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180.0
MAX_NEAR_RADIUS_M = 50_000.0  # larger accuracy radii are clipped for the border check

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class GeoDataError(RuntimeError):
    """The shipped data files are missing or unreadable."""


@dataclass(frozen=True)
class Departement:
    """A département (or an overseas collectivity, ``served`` False)."""

    code: str
    name: str
    zone: str  # metro, drom or com

    @property
    def served(self) -> bool:
        """One of the 101 départements, each with its SIAO and its 115."""
        return self.zone in SERVED_ZONES


@dataclass(frozen=True)
class Commune:
    """A current commune: INSEE code, name and département code."""

    code: str
    name: str
    departement: str
    zone: str


def normalise_name(name: str) -> str:
    """Case-, accent- and punctuation-insensitive key: "Saint-Étienne" -> "saint etienne"."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    cleaned = "".join(ch if ch.isalnum() else " " for ch in stripped.casefold())
    return " ".join(cleaned.replace("œ", "oe").split())


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class _Polygons:
    geometries: npt.NDArray[np.object_]
    geometry_commune: npt.NDArray[np.int32]
    geometry_departement: npt.NDArray[np.int64]
    tree: shapely.STRtree
    zones: tuple[grid.GridZone, ...]


def _default_data_dir() -> Traversable:
    return resources.files("geoloc").joinpath("data")


class GeoIndex:
    """Départements, communes, postal codes and commune polygons, queried in WGS84."""

    def __init__(self, places: Mapping[str, Any], polygons_source: Traversable | Path) -> None:
        self._polygons_source = polygons_source
        self._polygons: _Polygons | None = None
        self._lock = threading.Lock()
        self.departements: dict[str, Departement] = {
            d["code"]: Departement(d["code"], d["nom"], d["zone"]) for d in places["departements"]
        }
        self.served_codes: tuple[str, ...] = tuple(
            code for code, d in self.departements.items() if d.served
        )
        self._served_position = {code: i for i, code in enumerate(self.served_codes)}
        self.communes: tuple[Commune, ...] = tuple(
            Commune(code, name, dep, zone) for code, name, dep, zone in places["communes"]
        )
        self._commune_departement: IntArray = np.array(
            [self._served_position.get(c.departement, -1) for c in self.communes], dtype=np.int64
        )
        self._by_code = {c.code: c for c in self.communes}
        self._postcodes: dict[str, tuple[int, ...]] = {
            k: tuple(v) for k, v in places["postcodes"].items()
        }
        self._by_name: dict[str, tuple[Commune, ...]] | None = None

    @classmethod
    def load(cls, path: Path | str | None = None) -> GeoIndex:
        """Read the data shipped in the package, or the same files from ``path``."""
        directory: Traversable | Path = Path(path) if path is not None else _default_data_dir()
        places_file = directory.joinpath("places.json.xz")
        try:
            raw = lzma.decompress(places_file.read_bytes())
            places = json.loads(raw)
        except (OSError, lzma.LZMAError, ValueError) as exc:
            raise GeoDataError(f"données de géolocalisation illisibles : {places_file}") from exc
        return cls(places, directory.joinpath("polygons.xz"))

    # -- tables --------------------------------------------------------------------------

    def departement(self, code: str) -> Departement | None:
        """The département or collectivity with this code."""
        return self.departements.get(code)

    def commune(self, code: str) -> Commune | None:
        """The current commune with this INSEE code."""
        return self._by_code.get(code)

    def communes_for_postcode(self, postcode: str) -> tuple[Commune, ...]:
        """Communes served by this postal code (empty when unknown, e.g. CEDEX)."""
        return tuple(self.communes[i] for i in self._postcodes.get(postcode, ()))

    def postcodes(self) -> tuple[str, ...]:
        """Every postal code in La Poste's table, sorted."""
        return tuple(sorted(self._postcodes))

    def communes_named(self, name: str) -> tuple[Commune, ...]:
        """Communes with this name, ignoring case, accents and hyphens."""
        by_name = self._by_name
        if by_name is None:
            grouped: dict[str, list[Commune]] = {}
            for commune in self.communes:
                grouped.setdefault(normalise_name(commune.name), []).append(commune)
            by_name = {k: tuple(v) for k, v in grouped.items()}
            self._by_name = by_name  # idempotent: a race builds the same table twice
        return by_name.get(normalise_name(name), ())

    # -- polygons ------------------------------------------------------------------------

    def _load_polygons(self) -> _Polygons:
        polygons = self._polygons
        if polygons is not None:
            return polygons
        with self._lock:
            if self._polygons is None:
                self._polygons = self._read_polygons()
            return self._polygons

    def _read_polygons(self) -> _Polygons:
        try:
            arrays, meta = container.unpack(self._polygons_source.read_bytes())
        except (OSError, container.ContainerError) as exc:
            raise GeoDataError(
                f"polygones de communes illisibles : {self._polygons_source}"
            ) from exc

        def offsets(counts: npt.NDArray[Any]) -> IntArray:
            return np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)

        topo = topology.Topology(
            arc_xy=topology.unpack_coordinates(
                {k: v for k, v in arrays.items() if len(k) == 2 and k[0] in "xy"}
            ),
            arc_offsets=offsets(arrays["arc_lengths"]),
            ring_arcs=arrays["ring_arcs"].astype(np.int64),
            ring_offsets=offsets(arrays["ring_arc_counts"]),
            polygon_offsets=offsets(arrays["polygon_ring_counts"]),
            geometry_offsets=offsets(arrays["geometry_polygon_counts"]),
            scale=float(meta["scale"]),
        )
        geometries = topology.decode(topo)
        geometry_commune = arrays["geometry_commune"]
        zones = tuple(
            grid.GridZone(
                x0=float(z["x0"]),
                y0=float(z["y0"]),
                cell=float(z["cell"]),
                cells=arrays[f"grid_{z['name']}"],
                sub=arrays[f"sub_{z['name']}"],
            )
            for z in meta["zones"]
        )
        return _Polygons(
            geometries=geometries,
            geometry_commune=geometry_commune,
            geometry_departement=self._commune_departement[geometry_commune],
            tree=shapely.STRtree(geometries),
            zones=zones,
        )

    @property
    def polygons_loaded(self) -> bool:
        """Whether the commune polygons have been read yet."""
        return self._polygons is not None

    def warm(self) -> GeoIndex:
        """Read the polygons now (about half a second) rather than on the first query."""
        self._load_polygons()
        return self

    @property
    def geometries(self) -> npt.NDArray[np.object_]:
        """Commune polygons (several polygons may belong to one merged commune)."""
        return self._load_polygons().geometries

    def geometry_communes(self) -> tuple[Commune, ...]:
        """The commune of each polygon in :attr:`geometries`."""
        polygons = self._load_polygons()
        return tuple(self.communes[i] for i in polygons.geometry_commune)

    def _geometries_at(self, lon: float, lat: float) -> IntArray:
        polygons = self._load_polygons()
        hits: IntArray = polygons.tree.query(shapely.Point(lon, lat), predicate="intersects")
        return np.sort(hits)

    def commune_at(self, lat: float, lon: float) -> Commune | None:
        """The commune whose polygon contains the point (the first one on a shared edge)."""
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return None
        hits = self._geometries_at(lon, lat)
        if len(hits) == 0:
            return None
        return self.communes[int(self._load_polygons().geometry_commune[hits[0]])]

    def nearest_commune(
        self, lat: float, lon: float, max_distance_m: float
    ) -> tuple[Commune, float] | None:
        """The closest commune within ``max_distance_m`` of the point, and its distance."""
        if not (math.isfinite(lat) and math.isfinite(lon)) or max_distance_m <= 0:
            return None
        polygons = self._load_polygons()
        k = max(math.cos(math.radians(lat)), 0.01)  # local equirectangular projection
        half_lat = max_distance_m / METRES_PER_DEGREE
        half_lon = half_lat / k
        window = shapely.box(lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat)
        candidates = polygons.tree.query(window)
        if len(candidates) == 0:
            return None
        point = shapely.Point(lon * k, lat)
        best: tuple[float, int] | None = None
        for g in np.sort(candidates):
            scaled = shapely.transform(polygons.geometries[g], lambda xy: xy * np.array([k, 1.0]))
            distance = float(shapely.distance(point, scaled)) * METRES_PER_DEGREE
            if best is None or distance < best[0]:
                best = (distance, int(g))
        assert best is not None
        distance, g = best
        if distance > max_distance_m:
            return None
        return self.communes[int(polygons.geometry_commune[g])], distance

    def departements_near(self, lat: float, lon: float, radius_m: float) -> tuple[str, ...]:
        """Départements that a circle of ``radius_m`` around the point touches, sorted."""
        if not (math.isfinite(lat) and math.isfinite(lon)) or not math.isfinite(radius_m):
            return ()
        polygons = self._load_polygons()
        radius = min(max(radius_m, 0.0), MAX_NEAR_RADIUS_M)
        k = max(math.cos(math.radians(lat)), 0.01)
        circle = shapely.buffer(
            shapely.Point(lon * k, lat), radius / METRES_PER_DEGREE, quad_segs=16
        )
        circle = shapely.transform(circle, lambda xy: xy / np.array([k, 1.0]))
        hits = polygons.tree.query(circle, predicate="intersects")
        found = {self.served_codes[int(polygons.geometry_departement[g])] for g in hits}
        return tuple(sorted(found))

    # -- batch queries (benchmarks, bulk processing) -----------------------------------

    def commune_indices_at(self, lats: FloatArray, lons: FloatArray) -> IntArray:
        """Index into :attr:`communes` for each point, -1 outside every commune."""
        polygons = self._load_polygons()
        result = np.full(len(lats), -1, dtype=np.int64)
        points = shapely.points(np.asarray(lons, dtype=np.float64), np.asarray(lats))
        point_idx, geom_idx = polygons.tree.query(points, predicate="intersects")
        if len(point_idx):
            # On a shared edge a point hits two polygons: keep the lowest, as commune_at does.
            order = np.lexsort((geom_idx, point_idx))
            point_idx, geom_idx = point_idx[order], geom_idx[order]
            first = np.ones(len(point_idx), dtype=bool)
            first[1:] = point_idx[1:] != point_idx[:-1]
            result[point_idx[first]] = polygons.geometry_commune[geom_idx[first]]
        return result

    def departement_indices_at(self, lats: FloatArray, lons: FloatArray) -> IntArray:
        """Index into :attr:`served_codes` for each point, -1 outside every commune.

        The shipped grid answers most points at once; points in cells that a département
        boundary crosses go through the exact point-in-polygon test.
        """
        polygons = self._load_polygons()
        lats = np.asarray(lats, dtype=np.float64)
        lons = np.asarray(lons, dtype=np.float64)
        cells = grid.lookup(polygons.zones, lons, lats)
        result = np.where(cells < grid.OUTSIDE, cells, -1).astype(np.int64)
        mixed = np.flatnonzero(cells == grid.MIXED)
        if len(mixed):
            communes = self.commune_indices_at(lats[mixed], lons[mixed])
            result[mixed] = np.where(communes >= 0, self._commune_departement[communes], -1)
        return result
