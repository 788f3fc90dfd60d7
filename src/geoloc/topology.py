"""Lossless shared-arc encoding of a polygon coverage (commune boundaries).

Two neighbouring communes share their common border. Storing each polygon's rings on their
own stores that border twice; here every ring is cut where its neighbour changes and each
piece (an *arc*) is stored once, as in TopoJSON. Rings become lists of arc references
(``~id`` for an arc walked backwards). Coordinates are integers (degrees times ``scale``),
delta- and zigzag-encoded, then split into byte planes so that a general-purpose
compressor (lzma) packs them well. Decoding is vectorised with numpy.

The encoding is exact: decoding gives back every ring's vertices in order (each ring may
start at a different vertex, which changes no polygon).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_MULTIPOLYGON = 6  # shapely.GeometryType.MULTIPOLYGON


@dataclass(frozen=True)
class Topology:
    """Arcs and the rings, polygons and multipolygons built from them."""

    arc_xy: IntArray  # (n, 2) integer coordinates of all arcs, concatenated
    arc_offsets: IntArray  # (arcs + 1,) start of each arc in arc_xy
    ring_arcs: IntArray  # arc references of all rings; ~id means the arc walked backwards
    ring_offsets: IntArray  # (rings + 1,) start of each ring in ring_arcs
    polygon_offsets: IntArray  # (polygons + 1,) start of each polygon's rings
    geometry_offsets: IntArray  # (geometries + 1,) start of each multipolygon's polygons
    scale: float  # integer units per degree


def _vertex_keys(xy: IntArray) -> IntArray:
    """One int64 per vertex (coordinates must fit in 32 bits each)."""
    return (xy[:, 0] << 32) ^ (xy[:, 1] & 0xFFFFFFFF)


def encode(geometries: Sequence[object], scale: float = 1e5) -> Topology:
    """Encode polygons or multipolygons (a coverage, ideally) into shared arcs."""
    rings, polygon_off, geometry_off = _quantised_rings(geometries, scale)
    keys = [_vertex_keys(ring) for ring in rings]
    signature = _edge_signatures(keys)
    arcs = _Arcs()
    ring_arcs: list[int] = []
    ring_offsets = [0]
    position = 0
    for ring, k in zip(rings, keys, strict=True):
        n = len(ring)
        sig = signature[position : position + n]
        position += n
        if n:
            ring_arcs.extend(arcs.refer(ring, k, sig))
        ring_offsets.append(len(ring_arcs))

    lengths = np.array([len(c) for c in arcs.chunks], dtype=np.int64)
    return Topology(
        arc_xy=np.vstack(arcs.chunks) if arcs.chunks else np.zeros((0, 2), dtype=np.int64),
        arc_offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        ring_arcs=np.array(ring_arcs, dtype=np.int64),
        ring_offsets=np.array(ring_offsets, dtype=np.int64),
        polygon_offsets=np.asarray(polygon_off, dtype=np.int64),
        geometry_offsets=np.asarray(geometry_off, dtype=np.int64),
        scale=scale,
    )


def _quantised_rings(
    geometries: Sequence[object], scale: float
) -> tuple[list[IntArray], object, object]:
    """Every ring as integer vertices, open (no closing vertex) and with no repeated vertex;
    and shapely's polygon and geometry offsets."""
    multi = np.array(
        [
            g if shapely.get_type_id(g) == _MULTIPOLYGON else shapely.multipolygons([g])
            for g in geometries
        ],
        dtype=object,
    )
    _, coords, (ring_off, polygon_off, geometry_off) = shapely.to_ragged_array(multi)
    quantised = np.rint(np.asarray(coords, dtype=np.float64) * scale).astype(np.int64)

    rings: list[IntArray] = []
    for r in range(len(ring_off) - 1):
        ring = quantised[ring_off[r] : ring_off[r + 1] - 1]  # drop the closing vertex
        if len(ring) > 1:
            keep = np.ones(len(ring), dtype=bool)
            keep[1:] = np.any(ring[1:] != ring[:-1], axis=1)
            ring = ring[keep]
            if len(ring) > 1 and np.array_equal(ring[0], ring[-1]):
                ring = ring[:-1]
        rings.append(ring)
    return rings, polygon_off, geometry_off


def _edge_signatures(keys: list[IntArray]) -> IntArray:
    """Owners of every undirected edge, as one number per edge of every ring (concatenated).

    An edge's signature is the same seen from each ring that uses it, so every ring sharing
    a border cuts it at the same vertices.
    """
    lo_parts = []
    hi_parts = []
    owner_parts = []
    for r, k in enumerate(keys):
        nxt = np.roll(k, -1)
        lo_parts.append(np.minimum(k, nxt))
        hi_parts.append(np.maximum(k, nxt))
        owner_parts.append(np.full(len(k), r, dtype=np.int64))
    lo = np.concatenate(lo_parts)
    hi = np.concatenate(hi_parts)
    owner = np.concatenate(owner_parts)
    order = np.lexsort((owner, hi, lo))
    lo_s, hi_s, owner_s = lo[order], hi[order], owner[order]
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = (lo_s[1:] != lo_s[:-1]) | (hi_s[1:] != hi_s[:-1])
    group = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], len(order))
    g_min = owner_s[starts]
    g_max = owner_s[ends - 1]
    g_count = ends - starts
    signature_sorted = (g_min * 1_000_003 + g_max) * 7 + np.minimum(g_count, 6)
    signature = np.empty(len(order), dtype=np.int64)
    signature[order] = signature_sorted[group]
    return signature


class _Arcs:
    """The arcs stored so far, each once, in a canonical direction."""

    def __init__(self) -> None:
        self.index: dict[bytes, int] = {}
        self.chunks: list[IntArray] = []

    def refer(self, ring: IntArray, k: IntArray, sig: IntArray) -> list[int]:
        """The arc references of a (non-empty) ring, cut where its edges' owners change."""
        n = len(ring)
        cuts = np.flatnonzero(sig != np.roll(sig, 1))
        pieces: list[IntArray] = []
        if len(cuts) == 0:
            start = int(np.argmin(k))
            rotated = np.roll(ring, -start, axis=0)
            pieces.append(np.vstack([rotated, rotated[:1]]))
        else:
            rotated = np.roll(ring, -int(cuts[0]), axis=0)
            local = np.append(cuts - cuts[0], n)
            closed = np.vstack([rotated, rotated[:1]])
            for a, b in itertools.pairwise(local):
                pieces.append(closed[a : b + 1])
        return [self._refer_piece(piece, closed_arc=len(cuts) == 0) for piece in pieces]

    def _refer_piece(self, piece: IntArray, *, closed_arc: bool) -> int:
        forward = np.ascontiguousarray(piece).tobytes()
        backward = np.ascontiguousarray(piece[::-1]).tobytes()
        if closed_arc:
            # A closed arc: canonical start is the smallest vertex, both directions tried.
            backward = np.ascontiguousarray(
                np.vstack([piece[:1], piece[-2:0:-1], piece[:1]])
            ).tobytes()
        if forward <= backward:
            canonical, reverse = forward, False
        else:
            canonical, reverse = backward, True
        arc_id = self.index.get(canonical)
        if arc_id is None:
            arc_id = len(self.chunks)
            self.index[canonical] = arc_id
            stored = piece if not reverse else piece[::-1]
            if closed_arc and reverse:
                stored = np.vstack([piece[:1], piece[-2:0:-1], piece[:1]])
            self.chunks.append(np.ascontiguousarray(stored))
        return ~arc_id if reverse else arc_id


def ring_coordinates(topology: Topology) -> tuple[FloatArray, IntArray]:
    """Closed rings in degrees, as (coordinates, ring offsets) for shapely's ragged arrays."""
    refs = topology.ring_arcs
    reverse = refs < 0
    arcs = np.where(reverse, ~refs, refs)
    start = topology.arc_offsets[arcs]
    end = topology.arc_offsets[arcs + 1]
    piece_len = end - start - 1  # each piece drops its last vertex (the next one's first)
    total = int(piece_len.sum())
    piece_of = np.repeat(np.arange(len(refs)), piece_len)
    piece_first = np.concatenate([[0], np.cumsum(piece_len)[:-1]]) if len(refs) else piece_len
    local = np.arange(total) - np.repeat(piece_first, piece_len)
    index = np.where(
        reverse[piece_of],
        end[piece_of] - 1 - local,
        start[piece_of] + local,
    )
    # Vertices per ring, then the closing vertex appended after each ring's last one.
    ring_piece_counts = np.diff(topology.ring_offsets)
    ring_of_piece = np.repeat(np.arange(len(ring_piece_counts)), ring_piece_counts)
    ring_len = np.bincount(ring_of_piece, weights=piece_len, minlength=len(ring_piece_counts))
    ring_len = ring_len.astype(np.int64)
    ring_first = np.concatenate([[0], np.cumsum(ring_len)[:-1]])
    closing = np.insert(index, ring_first + ring_len, index[ring_first])
    xy = topology.arc_xy[closing].astype(np.float64) / topology.scale
    offsets = np.concatenate([[0], np.cumsum(ring_len + 1)]).astype(np.int64)
    return xy, offsets


def decode(topology: Topology) -> npt.NDArray[np.object_]:
    """Multipolygons (one per encoded geometry) rebuilt from the arcs."""
    xy, ring_offsets = ring_coordinates(topology)
    result = shapely.from_ragged_array(
        shapely.GeometryType.MULTIPOLYGON,
        xy,
        (ring_offsets, topology.polygon_offsets, topology.geometry_offsets),
    )
    return np.asarray(result, dtype=object)


def pack_coordinates(xy: IntArray) -> dict[str, npt.NDArray[np.uint8]]:
    """Delta + zigzag + byte planes: small numbers with many zero bytes, easy to compress."""
    delta = np.diff(xy, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    zigzag = ((delta << 1) ^ (delta >> 63)).astype(np.uint64)
    if zigzag.size and int(zigzag.max()) >= 1 << 32:
        raise ValueError("coordinate deltas do not fit in 32 bits")
    planes: dict[str, npt.NDArray[np.uint8]] = {}
    for axis, name in ((0, "x"), (1, "y")):
        column = zigzag[:, axis]
        for byte in range(4):
            planes[f"{name}{byte}"] = ((column >> np.uint64(8 * byte)) & np.uint64(0xFF)).astype(
                np.uint8
            )
    return planes


def unpack_coordinates(planes: dict[str, npt.NDArray[np.uint8]]) -> IntArray:
    """Inverse of :func:`pack_coordinates`."""
    columns = []
    for name in ("x", "y"):
        stacked = np.stack([planes[f"{name}{byte}"] for byte in range(4)], axis=1)
        zigzag = np.ascontiguousarray(stacked).view("<u4").ravel().astype(np.int64)
        delta = (zigzag >> 1) ^ -(zigzag & 1)
        columns.append(np.cumsum(delta))
    return np.stack(columns, axis=1).astype(np.int64)
