"""Silhouette augmentations on batches of clips `[n, s, h, w]` (float in [0, 1]), in torch.

Every transform draws its parameters once per clip and applies them to all the clip's frames
(a walking person does not change shape from frame to frame), independently across clips.
All randomness comes from the `torch.Generator` passed in, so a seed reproduces a batch.

- `AffinePerspective`: small rotation / scale / translation and perspective jitter, one
  homography per clip sampled with `grid_sample` (frames ride along as channels);
- `HorizontalFlip`;
- `BandMorphology`: dilation or erosion (max-pool of x, or -max-pool of -x) on a band of rows,
  a cheap imitation of a coat or a bag thickening or thinning part of the body;
- `RandomErasing` (Zhong et al. 2020): one background-valued rectangle per clip.

`SimCLRAugment` is the strong pipeline of phase 1 (two views of a sequence must still match);
`TrainAugment` the light one for the supervised phases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from gaitreid.errors import ConfigError


def _uniform(n: int, low: float, high: float, g: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g)  # [n]


def _chance(n: int, p: float, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g) < p  # [n] bool


def _check_clips(x: torch.Tensor) -> None:
    if x.dim() != 4 or not x.is_floating_point():
        raise ValueError(f"augmentations expect float clips [n, s, h, w], got {x.dtype} {tuple(x.shape)}")


@dataclass
class AugmentConfig:
    """Probabilities and magnitudes; fractions are of the frame height/width."""

    affine_prob: float = 0.8
    max_rotation_deg: float = 8.0
    min_scale: float = 0.9
    max_scale: float = 1.1
    max_translate: float = 0.06
    perspective: float = 0.06  # corner-pull strength of the projective jitter
    flip_prob: float = 0.5
    band_prob: float = 0.5
    min_band: float = 0.15  # band height range as a fraction of the frame height
    max_band: float = 0.45
    band_kernel: int = 3  # odd max-pool size: pixels of dilation/erosion = kernel // 2
    erase_prob: float = 0.5
    min_erase_area: float = 0.02
    max_erase_area: float = 0.15

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"augment.{f.name} must be a finite number >= 0, got {value!r}")
            if f.name.endswith("_prob") and value > 1:
                raise ConfigError(f"augment.{f.name} is a probability, got {value}")
        for low, high in (("min_scale", "max_scale"), ("min_band", "max_band"), ("min_erase_area", "max_erase_area")):
            if getattr(self, low) > getattr(self, high):
                raise ConfigError(f"augment.{low} ({getattr(self, low)}) exceeds augment.{high} ({getattr(self, high)})")
        if self.min_scale <= 0:
            raise ConfigError(f"augment.min_scale must be > 0, got {self.min_scale}")
        if self.max_band > 1 or self.max_erase_area > 1:
            raise ConfigError("augment.max_band and augment.max_erase_area are fractions of the frame (<= 1)")
        if not isinstance(self.band_kernel, int) or self.band_kernel % 2 == 0:
            raise ConfigError(f"augment.band_kernel must be an odd integer, got {self.band_kernel!r}")

    @classmethod
    def light(cls) -> "AugmentConfig":
        """Mild settings for the supervised phases: labels already say what must match."""
        return cls(
            affine_prob=0.5, max_rotation_deg=3.0, min_scale=0.95, max_scale=1.05, max_translate=0.03,
            perspective=0.0, flip_prob=0.5, band_prob=0.0, erase_prob=0.3, max_erase_area=0.1,
        )


class AffinePerspective:
    """One random homography per clip (rotation, scale, translation, perspective), bilinear."""

    def __init__(self, prob: float, max_rotation_deg: float, scale: tuple[float, float], max_translate: float, perspective: float):
        self.prob, self.max_rotation = prob, math.radians(max_rotation_deg)
        self.scale, self.max_translate, self.perspective = scale, max_translate, perspective

    def homographies(self, n: int, aspect: float, g: torch.Generator) -> torch.Tensor:
        """Maps output to input points in grid_sample's [-1, 1] coordinates: `[n, 3, 3]`."""
        angle = _uniform(n, -self.max_rotation, self.max_rotation, g)
        scale = _uniform(n, *self.scale, g)
        shift = _uniform(2 * n, -2 * self.max_translate, 2 * self.max_translate, g).reshape(n, 2)  # [-1,1] spans 2
        tilt = _uniform(2 * n, -self.perspective, self.perspective, g).reshape(n, 2)
        apply = _chance(n, self.prob, g)
        # in square units (x stretched by the aspect ratio) so rotation does not shear the body
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        inverse = torch.zeros(n, 3, 3)
        inverse[:, 0, 0], inverse[:, 0, 1] = cos, sin  # inverse rotation and scale
        inverse[:, 1, 0], inverse[:, 1, 1] = -sin, cos
        inverse[:, 0, 2] = -(cos * shift[:, 0] * aspect + sin * shift[:, 1])  # then undo the shift
        inverse[:, 1, 2] = -(-sin * shift[:, 0] * aspect + cos * shift[:, 1])
        inverse[:, 2, 2] = 1.0
        inverse[:, 2, :2] = tilt  # projective row: far side shrinks
        to_square = torch.diag(torch.tensor([aspect, 1.0, 1.0]))
        from_square = torch.diag(torch.tensor([1.0 / aspect, 1.0, 1.0]))
        h = from_square @ inverse @ to_square  # [n, 3, 3]
        return torch.where(apply[:, None, None], h, torch.eye(3).expand(n, 3, 3))

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        n, _, height, width = x.shape
        h = self.homographies(n, width / height, g).to(x.device, x.dtype)
        ys = (torch.arange(height, device=x.device, dtype=x.dtype) * 2 + 1) / height - 1  # pixel centres
        xs = (torch.arange(width, device=x.device, dtype=x.dtype) * 2 + 1) / width - 1
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        points = torch.stack([grid_x, grid_y, torch.ones_like(grid_x)], dim=-1)  # [h, w, 3]
        mapped = torch.einsum("nij,hwj->nhwi", h, points)  # [n, h, w, 3]
        grid = mapped[..., :2] / mapped[..., 2:].clamp_min(1e-3)  # [n, h, w, 2]
        warped = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        identity = (h == torch.eye(3, device=x.device, dtype=x.dtype)).all(dim=(1, 2))  # [n]
        return torch.where(identity[:, None, None, None], x, warped)


class HorizontalFlip:
    def __init__(self, prob: float):
        self.prob = prob

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        flip = _chance(x.shape[0], self.prob, g).to(x.device)
        return torch.where(flip[:, None, None, None], x.flip(-1), x)


class BandMorphology:
    """Dilate or erode (even odds) the rows of one horizontal band per selected clip."""

    def __init__(self, prob: float, band: tuple[float, float], kernel: int):
        self.prob, self.band, self.kernel = prob, band, kernel

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        n, s, height, width = x.shape
        apply = _chance(n, self.prob, g)
        dilate = _chance(n, 0.5, g)
        band_rows = (_uniform(n, *self.band, g) * height).round()
        top = (torch.rand(n, generator=g) * (height - band_rows + 1)).floor()
        rows = torch.arange(height)
        in_band = (rows >= top[:, None]) & (rows < (top + band_rows)[:, None]) & apply[:, None]  # [n, h]
        if self.kernel == 1 or not bool(in_band.any()):
            return x
        frames = x.reshape(n * s, 1, height, width)
        pool = lambda t: F.max_pool2d(t, self.kernel, stride=1, padding=self.kernel // 2)  # noqa: E731
        dilated = pool(frames).reshape(n, s, height, width)
        eroded = (-pool(-frames)).reshape(n, s, height, width)
        in_band, dilate = in_band.to(x.device), dilate.to(x.device)
        changed = torch.where(dilate[:, None, None, None], dilated, eroded)
        return torch.where(in_band[:, None, :, None], changed, x)


class RandomErasing:
    """Set one random rectangle (area fraction in range, aspect 0.3..3.3) to background."""

    def __init__(self, prob: float, area: tuple[float, float]):
        self.prob, self.area = prob, area

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        n, _, height, width = x.shape
        apply = _chance(n, self.prob, g)
        area = _uniform(n, *self.area, g) * height * width
        aspect = torch.exp(_uniform(n, math.log(0.3), math.log(1 / 0.3), g))
        rect_h = torch.sqrt(area * aspect).round().clamp(1, height)
        rect_w = torch.sqrt(area / aspect).round().clamp(1, width)
        top = (torch.rand(n, generator=g) * (height - rect_h + 1)).floor()
        left = (torch.rand(n, generator=g) * (width - rect_w + 1)).floor()
        rows, cols = torch.arange(height), torch.arange(width)
        in_rows = (rows >= top[:, None]) & (rows < (top + rect_h)[:, None])  # [n, h]
        in_cols = (cols >= left[:, None]) & (cols < (left + rect_w)[:, None])  # [n, w]
        erase = in_rows[:, :, None] & in_cols[:, None, :] & apply[:, None, None]  # [n, h, w]
        return x.masked_fill(erase[:, None].to(x.device), 0.0)


class SilhouetteAugment:
    """Geometric jitter -> flip -> band morphology -> erasing, from one `AugmentConfig`."""

    def __init__(self, cfg: AugmentConfig):
        self.cfg = cfg
        self.transforms = [
            AffinePerspective(cfg.affine_prob, cfg.max_rotation_deg, (cfg.min_scale, cfg.max_scale), cfg.max_translate, cfg.perspective),
            HorizontalFlip(cfg.flip_prob),
            BandMorphology(cfg.band_prob, (cfg.min_band, cfg.max_band), cfg.band_kernel),
            RandomErasing(cfg.erase_prob, (cfg.min_erase_area, cfg.max_erase_area)),
        ]

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """`[n, s, h, w]` -> `[n, s, h, w]`, values kept in [0, 1]."""
        _check_clips(x)
        g = generator if generator is not None else torch.Generator().manual_seed(int(torch.randint(2**62, ())))
        for transform in self.transforms:
            x = transform(x, g)
        return x.clamp(0.0, 1.0)


class SimCLRAugment(SilhouetteAugment):
    """Strong augmentations for the two SimCLR views (phase 1); defaults from `AugmentConfig()`."""

    def __init__(self, cfg: AugmentConfig | None = None):
        super().__init__(cfg if cfg is not None else AugmentConfig())


class TrainAugment(SilhouetteAugment):
    """Light augmentations for the supervised phases; defaults from `AugmentConfig.light()`."""

    def __init__(self, cfg: AugmentConfig | None = None):
        super().__init__(cfg if cfg is not None else AugmentConfig.light())
