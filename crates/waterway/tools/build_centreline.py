#!/usr/bin/env python3
"""Dev-time generator for crates/waterway/data/yangtze-centreline.geojson.

Not run by the build or by CI: the generated file is committed. It needs, outside the repository,
numpy, scipy, scikit-image and pillow in a venv, and the npm package
`@geo-maps/earth-rivers-500m@0.6.0` (river *areas* from OpenStreetMap, (c) OpenStreetMap
contributors, ODbL 1.0). Only derived centre-line points are committed, never the package.

    python3 -m venv /work/venv-waterway/venv
    /work/venv-waterway/venv/bin/pip install numpy scipy scikit-image pillow
    (cd /work/venv-waterway/npm && npm install @geo-maps/earth-rivers-500m@0.6.0)
    /work/venv-waterway/venv/bin/python crates/waterway/tools/build_centreline.py \
        /work/venv-waterway/npm/node_modules/@geo-maps/earth-rivers-500m/map.geo.json \
        crates/waterway/data/yangtze-centreline.geojson

Method: rasterise the river polygons in the corridor's bounding box on a 0.002 deg grid, take the
distance to the bank inside the water, and between each pair of consecutive waypoints
(domain brief section 1.1) find the least-cost path, where water costs less the farther it is
from the bank and land costs 1000 times more (it is crossed only where the 500 m data has a gap).
Each waypoint is snapped to the deepest water cell within a few km, so the line follows the
channel; the snapped vertex carries the waypoint's published (datum, km) as an anchor. The path is
simplified (Douglas-Peucker, ~60 m) and written as a GeoJSON Feature.
"""
import json
import math
import sys

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from skimage.graph import MCP_Geometric

# (id, English name, Chinese name, lat, lon, datum, km) -- domain brief section 1.1.
# datum None: no published km; the chainage is extrapolated by length from the previous anchor.
WAYPOINTS = [
    ("chaotianmen", "Chongqing Chaotianmen", "朝天门", 29.566, 106.588, "U", 660),
    ("cuntan", "Cuntan port", "寸滩港", 29.615, 106.615, "U", 652),
    ("guoyuan", "Guoyuan port", "果园港", 29.64, 106.80, "U", 630),
    ("changshou", "Changshou", "长寿", 29.82, 107.07, "U", 590),
    ("fuling", "Fuling", "涪陵", 29.72, 107.39, "U", 544),
    ("fengdu-bridge", "Fengdu Yangtze bridge", "丰都长江大桥", 29.87, 107.73, "U", 489),
    ("zhongxian-xinsheng", "Zhongxian Xinsheng port", "忠县新生港", 30.33, 108.10, "U", 437),
    ("wanzhou-fuma-bridge", "Wanzhou Fuma bridge", "万州驸马长江大桥", 30.78, 108.38, "U", 323),
    ("yunyang-bridge", "Yunyang bridge", "云阳长江大桥", 30.93, 108.69, "U", 291),
    ("fengjie-kuimen", "Fengjie / Kuimen", "奉节 夔门", 31.02, 109.53, "U", 205),
    ("wushan", "Wushan", "巫山", 31.07, 109.88, "U", 160),
    ("badong", "Badong", "巴东", 31.04, 110.34, "U", 105),
    ("miaohe", "Miaohe", "庙河", 30.85, 110.93, "U", 59),
    ("three-gorges-dam", "Three Gorges Dam locks & ship lift", "三峡船闸/升船机", 30.83, 111.01, "U", 45),
    ("gezhouba", "Gezhouba locks", "葛洲坝船闸", 30.74, 111.27, "U", 6),
    ("yichang-zhongshuimen", "Yichang Zhongshuimen", "宜昌中水门", 30.69, 111.29, "U", 0),
    ("jingzhou-shashi", "Jingzhou / Shashi", "荆州 沙市", 30.30, 112.25, "M", 478),
    ("shishou-bridge", "Shishou bridge", "石首长江大桥", 29.73, 112.42, "M", 374),
    ("chenglingji", "Chenglingji / Yueyang", "城陵矶", 29.43, 113.14, "M", 230),
    ("wuhan-bridge", "Wuhan Yangtze River Bridge", "武汉长江大桥", 30.55, 114.29, "M", 0),
    ("yangluo", "Wuhan Yangluo port", "阳逻港", 30.65, 114.55, "L", 1005),
    ("jiujiang", "Jiujiang", "九江", 29.73, 116.00, "L", 810),
    ("anqing-jiyangji", "Anqing Jiyangji", "安庆吉阳矶", 30.50, 116.95, "L", 663),
    ("wuhu-bridge", "Wuhu bridge", "芜湖长江大桥", 31.40, 118.33, "L", 432),
    ("nanjing-bridge", "Nanjing Yangtze River Bridge", "南京长江大桥", 32.11, 118.74, "L", 345),
    ("longtan", "Nanjing Longtan port", "龙潭港", 32.20, 119.05, "L", 310),
    ("zhenjiang", "Zhenjiang", "镇江", 32.22, 119.44, "L", 265),
    ("jiangyin-bridge", "Jiangyin bridge", "江阴长江大桥", 31.95, 120.27, "L", 155),
    ("nantong", "Nantong", "南通", 31.99, 120.85, "L", 110),
    ("taicang", "Taicang port", "太仓港", 31.65, 121.20, "L", 50),
    ("wusongkou", "Wusongkou", "吴淞口", 31.40, 121.51, "L", 0),
    ("waigaoqiao", "Waigaoqiao / Haitong terminal", "外高桥 海通码头", 31.36, 121.60, "L", -7),
    ("yangtze-mouth", "Yangtze mouth", "长江口", 31.394, 121.983, None, None),
]

# Hand-placed (lat, lon) points between a waypoint and the next, for the stretches where the 500 m
# OSM river-area data has no water: the Three Gorges reservoir (Fuling -> Three Gorges Dam, mapped as a
# reservoir, not a river), the dam-to-Gezhouba reach and the estuary below Taicang (mapped as sea).
# They are placed from general geographic knowledge of the river's course (towns on its banks) and
# are good to about 1-3 km; these stretches are joined by straight lines through the points.
VIA = {
    "changshou": [(29.80, 107.14), (29.78, 107.22), (29.76, 107.30), (29.73, 107.36)],
    "fuling": [(29.75, 107.44), (29.80, 107.49), (29.82, 107.56), (29.85, 107.63), (29.87, 107.69)],
    "fengdu-bridge": [(29.93, 107.79), (30.00, 107.85), (30.07, 107.90), (30.14, 107.94), (30.21, 107.99), (30.28, 108.03)],
    "zhongxian-xinsheng": [(30.37, 108.14), (30.42, 108.18), (30.47, 108.23), (30.54, 108.27), (30.61, 108.29), (30.68, 108.33), (30.74, 108.36)],
    "wanzhou-fuma-bridge": [(30.82, 108.42), (30.86, 108.48), (30.90, 108.55), (30.93, 108.62)],
    "yunyang-bridge": [(30.94, 108.78), (30.95, 108.90), (30.96, 109.00), (30.95, 109.10), (30.96, 109.20), (30.98, 109.30), (31.01, 109.40), (31.02, 109.47)],
    "fengjie-kuimen": [(31.03, 109.60), (31.02, 109.66), (31.03, 109.75), (31.06, 109.83)],
    "wushan": [(31.05, 109.95), (31.02, 110.05), (31.02, 110.13), (31.03, 110.22), (31.04, 110.30)],
    "badong": [(31.01, 110.42), (30.99, 110.52), (30.96, 110.62), (30.95, 110.72), (30.90, 110.82), (30.87, 110.88)],
    "miaohe": [(30.84, 110.97)],
    "three-gorges-dam": [(30.81, 111.06), (30.80, 111.12), (30.78, 111.18), (30.76, 111.22), (30.75, 111.26)],
    "taicang": [(31.58, 121.29), (31.50, 121.40), (31.43, 121.48)],
    "wusongkou": [(31.38, 121.56)],
    "waigaoqiao": [(31.35, 121.70), (31.36, 121.80), (31.38, 121.90)],
}

LON0, LAT0, LON1, LAT1 = 106.3, 29.2, 122.2, 32.4
RES = 0.002  # degrees per cell
W = int(round((LON1 - LON0) / RES))
H = int(round((LAT1 - LAT0) / RES))
SNAP_CELLS = 20  # search radius when snapping a waypoint to the channel (~4 km)


def to_px(lon, lat):
    return ((lon - LON0) / RES, (LAT1 - lat) / RES)


def to_ll(row, col):
    return (LON0 + (col + 0.5) * RES, LAT1 - (row + 0.5) * RES)


def rasterise(path):
    with open(path) as f:
        data = json.load(f)
    geoms = data["geometries"] if data["type"] == "GeometryCollection" else [data]
    img = Image.new("L", (W, H), 0)
    draw = ImageDraw.Draw(img)
    n = 0
    for g in geoms:
        polys = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
        for rings in polys:
            ext = rings[0]
            xs = [p[0] for p in ext]
            ys = [p[1] for p in ext]
            if max(xs) < LON0 or min(xs) > LON1 or max(ys) < LAT0 or min(ys) > LAT1:
                continue
            n += 1
            draw.polygon([to_px(x, y) for x, y in ext], fill=1, outline=1)
            for hole in rings[1:]:
                draw.polygon([to_px(x, y) for x, y in hole], fill=0)
    print(f"rasterised {n} polygons on {W}x{H}", file=sys.stderr)
    return np.asarray(img, dtype=bool)


def haversine_m(a, b):
    r = 6_371_008.8
    (lon1, lat1), (lon2, lat2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def dp_simplify(points, tol_deg):
    """Douglas-Peucker on lon/lat (lon scaled by cos(lat) so the tolerance is isotropic)."""
    if len(points) < 3:
        return points
    pts = np.array(points)
    k = math.cos(math.radians(pts[:, 1].mean()))
    xy = np.column_stack([pts[:, 0] * k, pts[:, 1]])
    keep = np.zeros(len(pts), dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        a, b = xy[i], xy[j]
        ab = b - a
        seg = xy[i + 1 : j] - a
        denom = float(ab @ ab)
        if denom == 0:
            d = np.hypot(seg[:, 0], seg[:, 1])
        else:
            t = np.clip(seg @ ab / denom, 0, 1)
            d = np.hypot(*(seg - np.outer(t, ab)).T)
        m = int(np.argmax(d))
        if d[m] > tol_deg:
            keep[i + 1 + m] = True
            stack.append((i, i + 1 + m))
            stack.append((i + 1 + m, j))
    return [tuple(p) for p in pts[keep]]


def main():
    src, out = sys.argv[1], sys.argv[2]
    water = rasterise(src)
    depth = ndimage.distance_transform_edt(water)  # cells to the nearest bank
    cost = np.where(water, 1.0 + 3.0 / (1.0 + depth), 1000.0)

    snapped = []
    for wid, *_rest, lat, lon, _d, _k in [(w[0], w[1], w[2], w[3], w[4], w[5], w[6]) for w in WAYPOINTS]:
        c, r = to_px(lon, lat)
        r, c = int(r), int(c)
        r0, r1 = max(r - SNAP_CELLS, 0), min(r + SNAP_CELLS + 1, H)
        c0, c1 = max(c - SNAP_CELLS, 0), min(c + SNAP_CELLS + 1, W)
        win = depth[r0:r1, c0:c1]
        rr, cc = np.mgrid[r0:r1, c0:c1]
        dist = np.hypot(rr - r, cc - c)
        # prefer deep water, penalise distance from the published position
        score = np.where((win >= 2) & (dist <= 12), np.minimum(win, 4) - dist / 4.0, -1e9)
        k = np.unravel_index(int(np.argmax(score)), score.shape)
        sr, sc = r0 + k[0], c0 + k[1]
        if score[k] < -1e8:
            sr, sc = r, c  # no channel nearby in the data: keep the published position
        snapped.append((sr, sc))
        moved = haversine_m((lon, lat), to_ll(sr, sc))
        print(f"{wid:24s} snapped {moved:7.0f} m (depth {depth[sr, sc]:.1f} cells)", file=sys.stderr)

    # Runs of consecutive waypoints joined through the river data are routed in ONE least-cost
    # path from the run's first to its last waypoint; each waypoint in between is anchored at the
    # path vertex nearest to it. (Routing waypoint to waypoint would make the line double back
    # wherever a waypoint sits in a side channel or harbour.) Hand-placed stretches (VIA) are
    # joined by straight lines through their points.
    coords = []
    anchors = []
    n = len(WAYPOINTS)

    def emit(pts):
        if not coords:
            coords.append(pts[0])
        coords.extend(pts[1:])

    i = 0
    anchors.append(0)
    while i < n - 1:
        wid = WAYPOINTS[i][0]
        if wid in VIA:
            (ra, ca), (rb, cb) = snapped[i], snapped[i + 1]
            pts = [to_ll(ra, ca)] + [(lon, lat) for lat, lon in VIA[wid]] + [to_ll(rb, cb)]
            emit(pts)
            anchors.append(len(coords) - 1)
            length = sum(haversine_m(pts[j], pts[j + 1]) for j in range(len(pts) - 1)) / 1000
            print(f"{wid:>22s} -> {WAYPOINTS[i + 1][0]:22s} {length:7.1f} km, hand-placed", file=sys.stderr)
            i += 1
            continue
        j = i + 1
        while j < n - 1 and WAYPOINTS[j][0] not in VIA:
            j += 1
        # route i -> j through the water
        (ra, ca), (rb, cb) = snapped[i], snapped[j]
        m = 80
        r0, r1 = max(min(r for r, _ in snapped[i:j + 1]) - m, 0), min(max(r for r, _ in snapped[i:j + 1]) + m + 1, H)
        c0, c1 = max(min(c for _, c in snapped[i:j + 1]) - m, 0), min(max(c for _, c in snapped[i:j + 1]) + m + 1, W)
        mcp = MCP_Geometric(cost[r0:r1, c0:c1])
        mcp.find_costs([(ra - r0, ca - c0)], [(rb - r0, cb - c0)])
        path = [(r + r0, c + c0) for r, c in mcp.traceback((rb - r0, cb - c0))]
        land = sum(1 for r, c in path if not water[r, c])
        parr = np.array(path)
        # anchor each inner waypoint at the nearest path cell, in order along the path
        cuts = [0]
        for k in range(i + 1, j):
            lat, lon = WAYPOINTS[k][3], WAYPOINTS[k][4]
            c, r = to_px(lon, lat)
            d = np.hypot(parr[:, 0] - r, parr[:, 1] - c)
            d[: cuts[-1] + 1] = np.inf
            cut = int(np.argmin(d))
            print(f"  {WAYPOINTS[k][0]:22s} anchored {haversine_m((lon, lat), to_ll(*path[cut])):6.0f} m from its published position", file=sys.stderr)
            cuts.append(cut)
        cuts.append(len(path) - 1)
        for a, b in zip(cuts, cuts[1:]):
            pts = dp_simplify([to_ll(r, c) for r, c in path[a:b + 1]], 0.0006)
            emit(pts)
            anchors.append(len(coords) - 1)
        print(f"{wid:>22s} -> {WAYPOINTS[j][0]:22s} routed, {len(path)} cells, {land} land cells", file=sys.stderr)
        i = j

    anchor_props = []
    for idx, w in zip(anchors, WAYPOINTS):
        entry = {"vertex": idx, "id": w[0], "name": w[1], "name_zh": w[2], "published": [w[4], w[3]]}
        if w[5] is not None:
            entry["datum"] = w[5]
            entry["km"] = w[6]
        anchor_props.append(entry)
    feature = {
        "type": "Feature",
        "properties": {
            "name": "Yangtze centre line, Chongqing Chaotianmen to the Yangtze mouth",
            "attribution": "Derived from OpenStreetMap river areas (@geo-maps/earth-rivers-500m); (c) OpenStreetMap contributors, ODbL 1.0. Reservoir and estuary stretches hand-placed.",
            "generator": "crates/waterway/tools/build_centreline.py",
            "direction": "downstream",
            "anchors": anchor_props,
        },
        "geometry": {
            "type": "LineString",
            "coordinates": [[round(x, 5), round(y, 5)] for x, y in coords],
        },
    }
    with open(out, "w") as f:
        json.dump(feature, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(coords)} vertices, {len(anchors)} anchors", file=sys.stderr)


if __name__ == "__main__":
    main()
