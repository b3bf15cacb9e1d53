"""`ModelConfig` (what network, what size) and `build_model` (a small registry by name).

Names: "gaitset-compact" (CPU default), "resnet9" (GaitBase-like, for GPUs), "frame-cnn" (the
original scripts' single-image baseline). Fields left as None take the named model's defaults,
so a saved config (`to_dict`) always holds concrete values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Callable

from gaitreid.errors import ConfigError
from gaitreid.models.backbones import (
    CompactGaitSetBackbone,
    ResNet9Backbone,
    output_rows,
    plan_downsampling,
)
from gaitreid.models.frame_cnn import FrameMeanEncoder
from gaitreid.models.gait_model import GaitModel, SetEncoder


@dataclass(frozen=True)
class ModelSpec:
    """What a registered model name means: its defaults and how to build its encoder."""

    widths: tuple[int, ...]
    num_widths: int | None  # None: any number >= 1
    bins: tuple[int, ...]
    embedding_dim: int
    build_encoder: Callable[["ModelConfig"], Any]


def _set_encoder(backbone_cls):
    def build(cfg: "ModelConfig") -> SetEncoder:
        backbone = backbone_cls(cfg.widths, cfg.downsample)
        return SetEncoder(backbone, cfg.bins, cfg.embedding_dim)

    return build


def _frame_mean_encoder(cfg: "ModelConfig") -> FrameMeanEncoder:
    return FrameMeanEncoder(cfg.widths, cfg.embedding_dim)


MODEL_REGISTRY: dict[str, ModelSpec] = {
    "gaitset-compact": ModelSpec((32, 64, 128), 3, (1, 2, 4, 8, 16), 128, _set_encoder(CompactGaitSetBackbone)),
    "resnet9": ModelSpec((64, 128, 256, 512), 4, (16,), 256, _set_encoder(ResNet9Backbone)),
    "frame-cnn": ModelSpec((32, 64, 128), None, (1,), 128, _frame_mean_encoder),
}

# backbone downsampling points per set model (the frame CNN pools after every stage)
_DOWNSAMPLING_POINTS = {
    "gaitset-compact": CompactGaitSetBackbone.DOWNSAMPLING_POINTS,
    "resnet9": ResNet9Backbone.DOWNSAMPLING_POINTS,
}

MIN_INPUT_SIZE = 8


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigError(f"model.{what} must be a list of integers, got {value!r}")
    items = tuple(value)
    if not items or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in items):
        raise ConfigError(f"model.{what} must be a non-empty list of positive integers, got {list(items)!r}")
    return items


def _positive_int(value: Any, what: str, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"model.{what} must be an integer >= {minimum}, got {value!r}")
    return value


@dataclass
class ModelConfig:
    """The network's architecture and input size; validated on creation (ConfigError)."""

    name: str = "gaitset-compact"
    widths: tuple[int, ...] | None = None  # channels per backbone stage
    bins: tuple[int, ...] | None = None  # horizontal pyramid: strips per scale; parts = sum
    embedding_dim: int | None = None  # channels c of the [n, c, p] embedding
    in_height: int = 64
    in_width: int = 44
    num_classes: int = 0  # > 0 adds a part-wise classifier

    def __post_init__(self) -> None:
        if self.name not in MODEL_REGISTRY:
            raise ConfigError(f"model.name {self.name!r} is unknown; choose one of {sorted(MODEL_REGISTRY)}")
        spec = MODEL_REGISTRY[self.name]
        self.widths = spec.widths if self.widths is None else _int_tuple(self.widths, "widths")
        if spec.num_widths is not None and len(self.widths) != spec.num_widths:
            raise ConfigError(
                f"model.widths for {self.name} needs {spec.num_widths} values, got {list(self.widths)}"
            )
        self.bins = spec.bins if self.bins is None else _int_tuple(self.bins, "bins")
        if self.name == "frame-cnn" and self.bins != (1,):
            raise ConfigError(f"model.bins for frame-cnn must be [1] (one embedding per sequence), got {list(self.bins)}")
        self.embedding_dim = spec.embedding_dim if self.embedding_dim is None else _positive_int(self.embedding_dim, "embedding_dim")
        _positive_int(self.in_height, "in_height", MIN_INPUT_SIZE)
        _positive_int(self.in_width, "in_width", MIN_INPUT_SIZE)
        _positive_int(self.num_classes, "num_classes", 0)
        if self.name == "frame-cnn":
            if min(self.in_height, self.in_width) < 2 ** len(self.widths):
                raise ConfigError(
                    f"model input {self.in_height}x{self.in_width} is too small for {len(self.widths)} "
                    f"frame-cnn stages (each halves the size)"
                )
        elif self.final_rows < max(self.bins):
            raise ConfigError(
                f"model.bins {list(self.bins)} need {max(self.bins)} feature rows but a "
                f"{self.in_height}-row input gives {self.final_rows}; use smaller bins or taller input"
            )

    @property
    def downsample(self) -> tuple[bool, ...]:
        """Which backbone downsampling points are used (set models only)."""
        points = _DOWNSAMPLING_POINTS.get(self.name, 0)
        return plan_downsampling(self.in_height, max(self.bins), points)

    @property
    def final_rows(self) -> int:
        """Rows of the backbone's output map, which the horizontal strips divide."""
        return output_rows(self.in_height, self.downsample)

    @property
    def num_parts(self) -> int:
        return sum(self.bins)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["widths"], d["bins"] = list(self.widths), list(self.bins)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"model config must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model config key(s) {unknown}; known: {sorted(known)}")
        return cls(**data)


def build_model(cfg: ModelConfig) -> GaitModel:
    """The network named by `cfg.name`, randomly initialised."""
    encoder = MODEL_REGISTRY[cfg.name].build_encoder(cfg)
    model = GaitModel(encoder, cfg.num_classes)
    model.config = replace(cfg)  # a copy: replace_classifier updates num_classes on it
    return model
