"""Training batches for the scene colourisers: random multi-scale crops of whole photos.

Scene photos differ in size, so they are kept whole (uint8, one array each)
and cut per batch: a random square of 40-100% of the short side, resized to
the crop size, mirrored half the time. That shows the model each photo at
many scales, so it learns colour from objects as they appear in real scenes,
not only at the one scale of CIFAR-10 or Tiny ImageNet. Those object sets are
mixed in whole (with their class labels, for the CNN's class head).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from oldphoto.codecs import image_files
from oldphoto.colour.data import ImageSet

#: Crop sides, as shares of a photo's short side.
CROP_SCALES = (0.4, 1.0)


#: Share of scene photos (by file-name hash) kept out of training for calibration.
HOLDOUT_SHARE = 0.05


def held_out(path: Path, share: float = HOLDOUT_SHARE) -> bool:
    """A stable pseudo-random choice of photos kept back for calibration (by file name)."""
    digest = hashlib.sha1(path.name.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def scene_files(folders: list[str], holdout: bool) -> list[Path]:
    """The scene photos of ``folders`` that training uses, or (``holdout``) those it keeps back."""
    return [p for folder in folders for p in image_files(folder) if held_out(p) == holdout]


def read_photos(files: list[Path], cache: Path | None = None) -> list[np.ndarray]:
    """Decode photos to RGB uint8, from one ``.npz`` cache when it matches the file list."""
    from PIL import Image

    key = hashlib.sha1("|".join(str(p) for p in files).encode()).hexdigest()[:12]
    stored = cache / f"photos-{key}.npz" if cache else None
    if stored is not None and stored.is_file():
        with np.load(stored) as data:
            flat, shapes = data["pixels"], data["shapes"]
        ends = np.cumsum([h * w * 3 for h, w in shapes])
        return [part.reshape(h, w, 3) for part, (h, w) in zip(np.split(flat, ends[:-1]), shapes, strict=True)]
    photos = []
    for path in files:
        with Image.open(path) as image:
            photos.append(np.asarray(image.convert("RGB"), np.uint8))
    if stored is not None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        np.savez(stored, pixels=np.concatenate([p.ravel() for p in photos]),
                 shapes=np.asarray([p.shape[:2] for p in photos]))
    return photos


@dataclass
class CropSampler:
    """Draws (N, 3, S, S) float RGB batches, with class labels (-1 for scene photos)."""

    photos: list[np.ndarray]
    objects: ImageSet | None = None
    object_share: float = 0.25
    crop: int = 128

    def sample(self, count: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        n_objects = int(rng.binomial(count, self.object_share)) if self.objects is not None else 0
        pieces, labels = [], []
        for _ in range(count - n_objects):
            photo = self.photos[int(rng.integers(len(self.photos)))]
            height, width = photo.shape[:2]
            side = max(16, int(min(height, width) * rng.uniform(*CROP_SCALES)))
            top, left = int(rng.integers(height - side + 1)), int(rng.integers(width - side + 1))
            pieces.append(self._resized(photo[top : top + side, left : left + side]))
            labels.append(-1)
        if n_objects:
            chosen = rng.integers(len(self.objects), size=n_objects)
            for index in chosen:
                pieces.append(self._resized(self.objects.images[index]))
                labels.append(int(self.objects.labels[index]))
        batch = torch.cat(pieces)
        flip = torch.from_numpy(rng.random(count) < 0.5)
        batch[flip] = batch[flip].flip(3)
        return batch, torch.tensor(labels, dtype=torch.int64)

    def _resized(self, pixels: np.ndarray) -> torch.Tensor:
        image = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].float() / 255.0
        if image.shape[-1] != self.crop or image.shape[-2] != self.crop:
            shrink = image.shape[-1] > self.crop
            image = F.interpolate(image, size=(self.crop, self.crop), mode="bilinear",
                                  align_corners=False, antialias=shrink)
        return image.clamp(0.0, 1.0)
