"""The three-stage chain of the stream benchmark, done in one process.

    python benchmarks/inprocess.py IN_DIR OUT_DIR

Reads every image of IN_DIR, runs age (seed 1), detect and denoise-lr on it by
calling the filter classes directly, and writes PNGs to OUT_DIR: the same work
as ``oldphoto age IN -r --seed 1 | oldphoto detect | oldphoto denoise-lr -o OUT/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from oldphoto.codecs import encode_image, read_image, write_atomically
from oldphoto.plugins import registered_filters

STAGES = (("age", {"seed": 1}), ("detect", {}), ("denoise-lr", {}))


def main(source: Path, target: Path) -> None:
    filters = registered_filters()
    chain = [filters[name].cls(**options) for name, options in STAGES]
    for stage in chain:
        stage.setup()
    for path in sorted(source.rglob("*.png")):
        frame = read_image(path, name=path.relative_to(source).as_posix())
        for stage in chain:
            frame = stage.process([frame])[0]
            frame.meta["history"].append(stage.record)
        write_atomically(target / frame.name, encode_image(frame, "png"))
    for stage in chain:
        stage.finish()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
