"""Build the geoloc package data from the shared open data (see src/geoloc/data/SOURCES.md).

Usage: .venv/bin/python scripts/build_geodata.py [DATA_DIR] [--out DIR]

DATA_DIR defaults to ``../shared/data`` relative to the repository root. Writes:

- ``places.json.xz``: the 101 départements and the overseas collectivities, every current
  commune (INSEE code, name, département) and the postal-code table;
- ``polygons.xz``: commune polygons as shared arcs (lossless, 1e-5 degree), the commune
  each polygon belongs to today, and the département grid (see ``geoloc.grid``).

The output is deterministic: the same input gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from geoloc import container, grid, topology

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUT = REPO_ROOT / "src" / "geoloc" / "data"
SCALE = 1e5  # the source coordinates have five decimals: quantising at 1e-5 is lossless
GRID_CELL = 0.01  # degrees (about 1.1 km north-south)
SERVED_ZONES = ("metro", "drom")
FORMAT = 1


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_places(data: Path) -> dict[str, Any]:
    """Départements, current communes and postal codes from @etalab/decoupage-administratif."""
    departements_raw = json.loads((data / "etalab" / "departements.json").read_text("utf-8"))
    communes_raw = json.loads((data / "etalab" / "communes.json").read_text("utf-8"))

    departements = [
        {"code": d["code"], "nom": d["nom"], "zone": d["zone"], "region": d["region"]}
        for d in departements_raw
    ]
    served = [d for d in departements if d["zone"] in SERVED_ZONES]
    if len(served) != 101:
        raise SystemExit(f"expected 101 départements, found {len(served)}")

    current = sorted(
        (c for c in communes_raw if c["type"] == "commune-actuelle"), key=lambda c: c["code"]
    )
    communes = [[c["code"], c["nom"], c["departement"], c["zone"]] for c in current]
    index = {c["code"]: i for i, c in enumerate(current)}

    postcodes: dict[str, set[int]] = {}
    for c in communes_raw:
        if c["type"] == "commune-actuelle":
            owner = index[c["code"]]
        elif c["type"] == "arrondissement-municipal":
            owner = index[c["commune"]]  # Paris, Lyon, Marseille: the city itself
        else:
            continue  # delegated and associated communes share their commune's codes
        for code in c.get("codesPostaux", []):
            postcodes.setdefault(code, set()).add(owner)

    # A code that a polygon of 2018 may carry, mapped to the commune that holds it today.
    renamed: dict[str, str] = {}
    for c in current:
        for old in c.get("anciensCodes", []):
            renamed.setdefault(old, c["code"])
    for c in communes_raw:
        if c["type"] in ("commune-deleguee", "commune-associee") and "chefLieu" in c:
            renamed.setdefault(c["code"], c["chefLieu"])

    return {
        "departements": departements,
        "communes": communes,
        "postcodes": {k: sorted(v) for k, v in sorted(postcodes.items())},
        "index": index,
        "renamed": renamed,
    }


def load_polygons(data: Path, places: dict[str, Any]) -> tuple[list[Any], list[int], int]:
    """Commune polygons (2018) and, for each, the index of the commune holding it today."""
    geometries: list[Any] = []
    owners: list[int] = []
    remapped = 0
    index: dict[str, int] = places["index"]
    renamed: dict[str, str] = places["renamed"]
    for path in sorted((data / "geo" / "communes").glob("communes-*.geojson")):
        features = json.loads(path.read_text("utf-8"))["features"]
        for feature in features:
            code = feature["properties"]["code"]
            if code not in index:
                target = renamed.get(code)
                hops = 0
                while target is not None and target not in index and hops < 5:
                    target = renamed.get(target)
                    hops += 1
                if target is None or target not in index:
                    raise SystemExit(f"{path.name}: commune {code} has no current commune")
                code = target
                remapped += 1
            geometries.append(shapely.geometry.shape(feature["geometry"]))
            owners.append(index[code])
    return geometries, owners, remapped


def boundary_arcs(
    topo: topology.Topology, ring_departement: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Arcs on a département's edge: used once (coast, border) or by two départements."""
    refs = topo.ring_arcs
    arcs = np.where(refs < 0, ~refs, refs)
    ring_of_ref = np.repeat(np.arange(len(topo.ring_offsets) - 1), np.diff(topo.ring_offsets))
    departement_of_ref = ring_departement[ring_of_ref]
    count = np.bincount(arcs, minlength=len(topo.arc_offsets) - 1)
    low = np.full(len(count), np.iinfo(np.int64).max, dtype=np.int64)
    high = np.full(len(count), -1, dtype=np.int64)
    np.minimum.at(low, arcs, departement_of_ref)
    np.maximum.at(high, arcs, departement_of_ref)
    result: npt.NDArray[np.bool_] = (count == 1) | (low != high)
    return result


def build(data: Path, out: Path) -> None:
    started = time.monotonic()
    places = load_places(data)
    log(f"{len(places['communes'])} communes, {len(places['postcodes'])} codes postaux")
    geometries, owners, remapped = load_polygons(data, places)
    log(f"{len(geometries)} polygones de communes ({remapped} rattachés à une commune nouvelle)")

    topo = topology.encode(geometries, scale=SCALE)
    decoded = topology.decode(topo)
    same_area = np.allclose(shapely.area(decoded), shapely.area(np.array(geometries)), atol=1e-15)
    if not same_area:
        raise SystemExit("topology round trip changed a polygon")
    log(f"{len(topo.arc_offsets) - 1} arcs, {len(topo.arc_xy)} sommets après partage des bords")

    served = [d["code"] for d in places["departements"] if d["zone"] in SERVED_ZONES]
    served_index = {code: i for i, code in enumerate(served)}
    commune_departement = np.array(
        [served_index.get(c[2], -1) for c in places["communes"]], dtype=np.int64
    )
    owner_array = np.array(owners, dtype=np.int64)
    geometry_departement = commune_departement[owner_array]
    if (geometry_departement < 0).any():
        raise SystemExit("a polygon belongs to no served département")

    ring_polygon = (
        np.searchsorted(topo.polygon_offsets, np.arange(len(topo.ring_offsets) - 1), "right") - 1
    )
    polygon_geometry = (
        np.searchsorted(
            topo.geometry_offsets, np.arange(len(topo.polygon_offsets) - 1), side="right"
        )
        - 1
    )
    ring_departement = geometry_departement[polygon_geometry[ring_polygon]]
    on_edge = boundary_arcs(topo, ring_departement)
    edge_ids = np.flatnonzero(on_edge)
    lines = shapely.from_ragged_array(
        shapely.GeometryType.LINESTRING,
        topo.arc_xy.astype(np.float64) / SCALE,
        (topo.arc_offsets,),
    )[edge_ids]
    boundary_tree = shapely.STRtree(lines)
    polygon_tree = shapely.STRtree(decoded)

    def classify(
        lons: npt.NDArray[np.float64], lats: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        result = np.full(len(lons), -1, dtype=np.int64)
        points_idx, geom_idx = polygon_tree.query(
            shapely.points(lons, lats), predicate="intersects"
        )
        result[points_idx] = geometry_departement[geom_idx]
        return result

    arrays: dict[str, npt.NDArray[Any]] = {}
    zones_meta = []
    zone_of = np.array(
        [code if code.startswith("97") else "metro" for code in served], dtype=object
    )
    for zone_name in ["metro", "971", "972", "973", "974", "976"]:
        members = np.flatnonzero(zone_of[geometry_departement] == zone_name)
        bounds = tuple(float(v) for v in shapely.total_bounds(decoded[members]))
        zone = grid.build_zone(
            (bounds[0], bounds[1], bounds[2], bounds[3]), GRID_CELL, boundary_tree, classify
        )
        mixed = float((zone.cells == grid.MIXED).mean())
        still = float((zone.sub == grid.MIXED).mean()) if zone.sub.size else 0.0
        log(
            f"grille {zone_name}: {zone.shape[0]}x{zone.shape[1]} cellules, {mixed:.1%} mixtes, "
            f"dont {still:.0%} des sous-cellules encore mixtes"
        )
        arrays[f"grid_{zone_name}"] = zone.cells
        arrays[f"sub_{zone_name}"] = zone.sub
        zones_meta.append({"name": zone_name, "x0": zone.x0, "y0": zone.y0, "cell": zone.cell})

    arrays.update(topology.pack_coordinates(topo.arc_xy))
    arrays["arc_lengths"] = np.diff(topo.arc_offsets).astype(np.int32)
    arrays["ring_arcs"] = topo.ring_arcs.astype(np.int32)
    arrays["ring_arc_counts"] = np.diff(topo.ring_offsets).astype(np.int32)
    arrays["polygon_ring_counts"] = np.diff(topo.polygon_offsets).astype(np.int32)
    arrays["geometry_polygon_counts"] = np.diff(topo.geometry_offsets).astype(np.int32)
    arrays["geometry_commune"] = owner_array.astype(np.int32)

    sources = {
        "etalab/departements.json": sha256(data / "etalab" / "departements.json"),
        "etalab/communes.json": sha256(data / "etalab" / "communes.json"),
        "geo/communes/*.geojson": hashlib.sha256(
            b"".join(
                sha256(p).encode()
                for p in sorted((data / "geo" / "communes").glob("communes-*.geojson"))
            )
        ).hexdigest(),
    }
    meta = {"format": FORMAT, "scale": SCALE, "zones": zones_meta, "sources": sources}

    out.mkdir(parents=True, exist_ok=True)
    polygons_bytes = container.pack(arrays, meta)
    (out / "polygons.xz").write_bytes(polygons_bytes)
    places_doc = {
        "format": FORMAT,
        "sources": sources,
        "departements": places["departements"],
        "communes": places["communes"],
        "postcodes": places["postcodes"],
    }
    places_bytes = lzma.compress(
        json.dumps(places_doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(
            "utf-8"
        ),
        format=lzma.FORMAT_XZ,
        preset=9,
    )
    (out / "places.json.xz").write_bytes(places_bytes)
    log(
        f"écrit {out}: polygons.xz {len(polygons_bytes) / 1e6:.2f} Mo, "
        f"places.json.xz {len(places_bytes) / 1e6:.2f} Mo "
        f"en {time.monotonic() - started:.0f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    data: Path = args.data
    if not (data / "etalab" / "communes.json").is_file():
        log(f"données introuvables dans {data} (attendu : etalab/communes.json)")
        return 2
    build(data, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
