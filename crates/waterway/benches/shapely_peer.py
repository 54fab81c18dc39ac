#!/usr/bin/env python3
"""Peer for benches/project.rs: shapely's LineString.project on the same million points.

Run after `cargo bench -p jianghai-waterway --bench project` (which writes the points):

    /work/venv-waterway/venv/bin/python crates/waterway/benches/shapely_peer.py

Reads $WATERWAY_BENCH_DIR/points.f64 and km.f64 (default /tmp/waterway-bench) and the crate's
data/yangtze-centreline.geojson. Times (1) shapely.line_locate_point on the whole array (GEOS in
C, vectorised: shapely's fastest path) and (2) LineString.project(Point) called per point, the
per-call API, on the first 100,000 points. shapely works in planar degrees, so its distance
along the line is turned into km through the same vertex km as ours, and the two are compared.
"""
import json
import os
import statistics
import sys
import time

import numpy as np
import shapely
from shapely.geometry import LineString, Point

HERE = os.path.dirname(os.path.abspath(__file__))
DIR = os.environ.get("WATERWAY_BENCH_DIR", "/tmp/waterway-bench")




def haversine_km(a, b):
    r = 6371.0088
    lon1, lat1, lon2, lat2 = map(np.radians, (a[:, 0], a[:, 1], b[:, 0], b[:, 1]))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(h))


def main():
    pts = np.fromfile(os.path.join(DIR, "points.f64"), dtype="<f8").reshape(-1, 2)
    ours = np.fromfile(os.path.join(DIR, "km.f64"), dtype="<f8")
    with open(os.path.join(HERE, "..", "data", "yangtze-centreline.geojson")) as f:
        feat = json.load(f)
    coords = np.array(feat["geometry"]["coordinates"], dtype=float)
    line = LineString(coords)
    geoms = shapely.points(pts)
    shapely.prepare(line)

    runs = []
    for _ in range(5):
        t = time.perf_counter()
        d = shapely.line_locate_point(line, geoms)
        runs.append(time.perf_counter() - t)
    vec = len(pts) / statistics.median(runs)

    sub = [Point(x, y) for x, y in pts[:100_000]]
    runs1 = []
    for _ in range(3):
        t = time.perf_counter()
        for p in sub:
            line.project(p)
        runs1.append(time.perf_counter() - t)
    loop = len(sub) / statistics.median(runs1)

    # km cross-check: shapely's planar-degree distance along the line -> segment + fraction ->
    # km by linear interpolation of the vertex km (anchors + haversine-length interpolation).
    anchors = [a for a in feat["properties"]["anchors"] if "km" in a]
    yich, wuhan = 1666.0, 1040.0
    off = {"U": yich, "M": wuhan, "L": 0.0}
    seg_km = haversine_km(coords[:-1], coords[1:])
    s = np.concatenate([[0.0], np.cumsum(seg_km)])
    km = np.empty(len(coords))
    av = [(a["vertex"], a["km"] + off[a.get("datum", "L")]) for a in anchors]
    for (va, ka), (vb, kb) in zip(av, av[1:]):
        km[va : vb + 1] = ka + (s[va : vb + 1] - s[va]) / (s[vb] - s[va]) * (kb - ka)
    va, ka = av[-1]
    km[va:] = ka - (s[va:] - s[va])
    va, ka = av[0]
    km[: va + 1] = ka + (s[va] - s[: va + 1])
    deg = np.hypot(*(coords[1:] - coords[:-1]).T)
    cum = np.concatenate([[0.0], np.cumsum(deg)])
    i = np.clip(np.searchsorted(cum, d, side="right") - 1, 0, len(deg) - 1)
    f = np.clip((d - cum[i]) / deg[i], 0, 1)
    theirs = km[i] + f * (km[i + 1] - km[i])
    diff = np.abs(theirs - ours)

    print(f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), Python {sys.version.split()[0]}")
    print(f"points: {len(pts):,}; line vertices: {len(coords):,}")
    print(f"shapely.line_locate_point (vectorised): {vec:,.0f} points/s  (median of 5, {statistics.median(runs):.3f} s)")
    print(f"LineString.project(Point) per call:      {loop:,.0f} points/s  (median of 3 on 100,000)")
    print(f"|km(shapely) - km(jianghai)|: median {np.median(diff) * 1000:.1f} m, p99 {np.percentile(diff, 99) * 1000:.1f} m, "
          f"max {diff.max():.2f} km; share > 1 km: {(diff > 1).mean() * 100:.3f} %")


if __name__ == "__main__":
    main()
