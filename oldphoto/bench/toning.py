"""``oldphoto bench toning``: does the colourisers' colour check keep the right photos?

Each colour photo of a set is shown three ways: as it is (real colour: must be
kept), toned like an old print (sepia or cyanotype, with a tone that drifts
with density, film noise and JPEG: must be colourised), and grey (must be
colourised). The table counts what :func:`oldphoto.colour.toning.colour_kind`
decides for each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from oldphoto.aging import jpeg_roundtrip
from oldphoto.colour.toning import colour_kind, tone

#: (name, hue range in degrees, chroma range) of the print tones the bench makes.
TONES = (("sepia", (50.0, 85.0), (10.0, 25.0)), ("cyanotype", (230.0, 265.0), (15.0, 30.0)))


def toned_print(grey: np.ndarray, rng: np.random.Generator, kind: str) -> np.ndarray:
    """A grey picture as a toned print: random hue and strength, drifting with density, noisy, JPEG."""
    _, hues, chromas = next(t for t in TONES if t[0] == kind)
    dark_hue, light_hue = rng.uniform(*hues, size=2)
    chroma = rng.uniform(*chromas)
    weight = grey[..., None]
    printed = tone(grey, dark_hue, chroma) * (1 - weight) + tone(grey, light_hue, chroma) * weight
    return jpeg_roundtrip(np.clip(printed + rng.normal(0, 0.01, printed.shape), 0, 1), 85)


def toning_table(folders: list[Path], limit: int = 0, seed: int = 0) -> list[dict[str, Any]]:
    """Per set and version: how many photos were judged grey, toned or colour, and the accuracy."""
    from skimage.color import rgb2gray

    from oldphoto.bench.colour import list_images, read_rgb

    rng = np.random.default_rng(seed)
    rows = []
    for folder in folders:
        counts: dict[str, dict[str, int]] = {}
        for path in list_images(folder, limit):
            rgb = read_rgb(path)
            grey = rgb2gray(rgb).astype(np.float32)
            versions = {
                "colour": rgb,
                "sepia": toned_print(grey, rng, "sepia"),
                "cyanotype": toned_print(grey, rng, "cyanotype"),
                "grey": jpeg_roundtrip(np.repeat(grey[..., None], 3, axis=2), 85),
            }
            for version, pixels in versions.items():
                judged = colour_kind(pixels)
                tally = counts.setdefault(version, {"grey": 0, "toned": 0, "colour": 0})
                tally[judged] += 1
        for version, tally in counts.items():
            total = sum(tally.values())
            right = tally["colour"] if version == "colour" else total - tally["colour"]
            rows.append({"set": str(folder), "version": version, "photos": total, **tally,
                         "right": round(right / max(1, total), 4)})
    return rows


def print_toning_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from oldphoto.console import rich_console

    table = Table(title="colour check: real colour kept, toned and grey photos colourised")
    for column in ("set", "version", "photos", "judged grey", "judged toned", "judged colour", "right"):
        table.add_column(column)
    for row in rows:
        table.add_row(Path(row["set"]).name, row["version"], str(row["photos"]), str(row["grey"]),
                      str(row["toned"]), str(row["colour"]), f"{row['right']:.3f}")
    rich_console(stderr=False, min_width=120).print(table)
