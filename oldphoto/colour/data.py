"""Training data for the colourisers: image folders or CIFAR-10 batches as uint8 arrays.

Decoding tens of thousands of small JPEGs dominates a CPU epoch, so a dataset is
decoded once, resized to the working size, and cached as ``.npz`` beside the run.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oldphoto.codecs import IMAGE_SUFFIXES
from oldphoto.errors import OldphotoError

__all__ = ["IMAGE_SUFFIXES", "ImageSet", "load_image_set", "merge", "scan_folder", "split"]


@dataclass
class ImageSet:
    """Square RGB images (N, S, S, 3) uint8, labels (N,) int64 (-1 = none), class names."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str] = field(default_factory=list)
    source: str = ""
    #: (N,) index of the ``--data`` set each image came from (None = one set), so
    #: calibration can hold every set to the colourfulness target, not just the mix.
    origins: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def has_labels(self) -> bool:
        return bool(self.classes) and bool((self.labels >= 0).all())

    def subset(self, index: np.ndarray) -> ImageSet:
        origins = None if self.origins is None else self.origins[index]
        return ImageSet(self.images[index], self.labels[index], self.classes, self.source, origins)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _is_cifar_batches(folder: Path) -> bool:
    return (folder / "data_batch_1").is_file() or (folder / "test_batch").is_file()


class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers only: a CIFAR batch cannot run code."""

    ALLOWED = frozenset({"_reconstruct", "ndarray", "dtype", "scalar"})

    def find_class(self, module: str, name: str) -> object:
        if module.split(".")[0] == "numpy" and name in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name}")


def _unpickle(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return _ArraysOnly(handle, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise OldphotoError(f"{path}: not a CIFAR-10 python batch ({err})") from err


def _load_cifar_batches(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """CIFAR-10's python batches, read with an unpickler that only builds arrays."""
    names = sorted(folder.glob("data_batch_*")) or [folder / "test_batch"]
    images, labels = [], []
    for path in names:
        batch = _unpickle(path)
        images.append(np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[b"labels"], np.int64))
    classes = [f"class{i}" for i in range(10)]
    meta = folder / "batches.meta"
    if meta.is_file():
        classes = [name.decode() for name in _unpickle(meta)[b"label_names"]]
    return np.concatenate(images).transpose(0, 2, 3, 1), np.concatenate(labels), classes


def _read_square(path: Path, size: int) -> np.ndarray:
    """Decode one file to RGB uint8 and centre-crop + resize it to size x size."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
        if side != size:
            image = image.resize((size, size), Image.BICUBIC)
        return np.asarray(image, np.uint8)


def scan_folder(folder: Path, limit_per_class: int = 0) -> tuple[list[Path], np.ndarray, list[str]]:
    """Files and labels of a class-subfolder tree, or of a plain folder (labels -1)."""
    subdirs = sorted(p for p in folder.iterdir() if p.is_dir())
    if not subdirs:
        files = _image_files(folder)
        return files, np.full(len(files), -1, np.int64), []
    files, labels = [], []
    for index, sub in enumerate(subdirs):
        found = _image_files(sub)
        if limit_per_class:
            found = found[:limit_per_class]
        files += found
        labels += [index] * len(found)
    return files, np.asarray(labels, np.int64), [p.name for p in subdirs]


def load_image_set(
    folder: Path, size: int, limit_per_class: int = 0, cache_dir: Path | None = None
) -> ImageSet:
    """Load --data as uint8 squares of ``size``, from a cache when one matches."""
    folder = Path(folder)
    if not folder.is_dir():
        raise OldphotoError(f"--data {folder}: not a folder")
    key = hashlib.sha1(f"{folder.resolve()}|{size}|{limit_per_class}".encode()).hexdigest()[:12]
    cache = cache_dir / f"images-{folder.name}-{size}-{key}.npz" if cache_dir else None
    if cache is not None and cache.is_file():
        with np.load(cache) as stored:
            return ImageSet(
                stored["images"], stored["labels"], [str(c) for c in stored["classes"]], str(folder)
            )
    if _is_cifar_batches(folder):
        images, labels, classes = _load_cifar_batches(folder)
        if size != 32:
            images = np.stack([_resize(img, size) for img in images])
    else:
        files, labels, classes = scan_folder(folder, limit_per_class)
        if not files:
            raise OldphotoError(f"--data {folder}: no images found")
        images = np.stack([_read_square(path, size) for path in files])
    result = ImageSet(images, labels, classes, str(folder))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, images=images, labels=labels, classes=np.asarray(classes, dtype=str))
    return result


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC), np.uint8)


def merge(sets: list[ImageSet]) -> ImageSet:
    """Concatenate sets; labels are offset so every source keeps its own classes."""
    images, labels, classes = [], [], []
    for part in sets:
        images.append(part.images)
        offset = len(classes)
        labels.append(np.where(part.labels >= 0, part.labels + offset, -1))
        classes += part.classes
    origins = np.concatenate([np.full(len(part), number) for number, part in enumerate(sets)])
    return ImageSet(
        np.concatenate(images), np.concatenate(labels), classes, "+".join(p.source for p in sets),
        origins,
    )


def split(data: ImageSet, val_fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
    """A seeded random train/validation split (the paper used 70/30)."""
    order = np.random.default_rng(seed).permutation(len(data))
    n_val = round(len(data) * val_fraction)
    return data.subset(np.sort(order[n_val:])), data.subset(np.sort(order[:n_val]))
