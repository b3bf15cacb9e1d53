"""Typed run configuration: YAML presets, dotted command-line overrides, saved beside every run.

A run is described by one `RunConfig`: where the data comes from (`data`), the network (`model`,
the models package's `ModelConfig`), one section per training phase (`phase.ssl`,
`phase.supervised`, `phase.hybrid`), the validation monitor (`validation`) and the runtime
(`runtime`: seed, threads, bf16, device). Presets live in `gaitreid/configs/NAME.yaml`; any field can
be overridden as `--set phase.ssl.steps=200`. Every value is checked against its declared type
when loaded, so a typo fails at once with a `ConfigError` naming the key, not deep inside training.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gaitreid.errors import ConfigError

PRESET_DIR = Path(__file__).resolve().parent / "configs"
PHASE_NAMES = ("ssl", "supervised", "hybrid")


@dataclass
class SyntheticSpec:
    """The generated dataset used when `data.source` is `synthetic` (gaitreid.synth, CASIA-B
    structure: every subject walks nm-01..06, bg-01..02, cl-01..02 in 11 views)."""

    subjects: int = 40
    seed: int = 0
    frames: list[int] = field(default_factory=lambda: [56, 72])  # frames per sequence: min, max
    raw_height: int = 128  # rendering resolution (rows) before pretreatment; >= 2 x data.height
    workers: int = 2  # generator processes


@dataclass
class DataConfig:
    """Where sequences come from and how a training clip is cut from them."""

    source: str = "synthetic"  # "synthetic" or the root of a CASIA-B style dataset
    synthetic: SyntheticSpec = field(default_factory=SyntheticSpec)
    cache_root: str = "cache"  # sequence stores are built (once) under this directory
    split: str = "casia-b/dev"  # split name (gaitreid.evaluation.load_split); only its training subjects train
    # validation subjects for the rank-1 monitor and the best checkpoint:
    #   "none", "holdout" (the last `val_fraction` of the training subjects, which then do not train),
    #   or "split-test" (the split's test subjects, to watch them during development; the best checkpoint
    #   is then chosen on test subjects, so figures from such a run are not a fair test result)
    validation: str = "none"
    val_fraction: float = 0.2
    height: int = 64  # frame size in the store and at the model input
    width: int = 44
    clip_length: int = 30  # frames per training clip


@dataclass
class ScheduleConfig:
    """Learning-rate schedule: linear warm-up, then cosine decay, step decay or constant."""

    kind: str = "cosine"  # cosine | step | constant
    warmup_steps: int = 0
    min_lr_ratio: float = 0.01  # cosine ends at lr * min_lr_ratio
    milestones: list[int] = field(default_factory=list)  # step schedule: multiply by gamma at each
    gamma: float = 0.1


@dataclass
class PhaseConfig:
    """What every phase has: a step budget, an optimiser, a schedule, checkpoint/eval cadence."""

    steps: int = 100
    lr: float = 1e-3
    weight_decay: float = 5e-4
    optimizer: str = "adamw"  # adamw | sgd
    momentum: float = 0.9  # sgd only
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    grad_clip: float = 5.0  # max gradient norm; 0 disables clipping
    log_every: int = 10
    eval_every: int = 0  # validation rank-1 every N steps (0: only at the end)
    checkpoint_every: int = 50
    augment: str = "light"  # strong (SimCLR views) | light | none


@dataclass
class SSLPhaseConfig(PhaseConfig):
    """Phase 1: SimCLR. N sequences per step, two clips each with independent augmentations."""

    batch_sequences: int = 32
    augment: str = "strong"
    temperature: float = 0.1
    projection_hidden: int = 512
    projection_dim: int = 128


@dataclass
class SupervisedPhaseConfig(PhaseConfig):
    """Phase 2: cross-entropy over training identities; P identities x K sequences per step."""

    batch_p: int = 8
    batch_k: int = 4
    label_smoothing: float = 0.1
    freeze_early_steps: int = 0  # keep the early backbone layers frozen for the first N steps
    freeze_stages: int = 1  # how many early backbone stages that freezing covers
    init_from: str = "ssl"  # phase whose checkpoint initialises this one ("" = from scratch)


@dataclass
class HybridPhaseConfig(SupervisedPhaseConfig):
    """Phase 3: cross-entropy + lambda x triplet on a P x K batch."""

    triplet_margin: float = 0.2
    triplet_mining: str = "batch_hard"  # batch_hard | batch_all
    triplet_weight: float = 1.0  # lambda
    init_from: str = "supervised"


@dataclass
class PhasesConfig:
    ssl: SSLPhaseConfig = field(default_factory=SSLPhaseConfig)
    supervised: SupervisedPhaseConfig = field(default_factory=SupervisedPhaseConfig)
    hybrid: HybridPhaseConfig = field(default_factory=HybridPhaseConfig)


@dataclass
class ValidationConfig:
    """The rank-1 monitor on labelled validation subjects (cheap: a subset, bounded frames)."""

    max_subjects: int = 0  # 0 = all validation subjects
    views: list[str] = field(default_factory=list)  # empty = all views
    max_frames: int = 60  # frames per sequence embedded (the middle ones)
    batch_size: int = 16


@dataclass
class RuntimeConfig:
    seed: int = 0
    threads: int = 0  # torch.set_num_threads; 0 = leave torch's default
    bf16: str = "auto"  # on | off | auto (on with CUDA, and on CPUs with AMX-BF16/AVX512-BF16: ~2x measured)
    channels_last: bool = False
    device: str = "auto"  # auto | cpu | cuda
    progress: bool = True  # tqdm progress bar


@dataclass
class RunConfig:
    name: str = "run"
    data: DataConfig = field(default_factory=DataConfig)
    model: Any = None  # gaitreid.models.ModelConfig (resolved at load time)
    phase: PhasesConfig = field(default_factory=PhasesConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def to_dict(self) -> dict:
        return to_plain(self)


# ----------------------------------------------------------------------------------------------
# Building dataclasses from plain data, checking every value's type.


def _model_config_class():
    from gaitreid.models import ModelConfig

    return ModelConfig


def _field_types(cls) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    if cls is RunConfig:
        hints["model"] = _model_config_class()
    return hints


def _check_value(value: Any, tp: Any, key: str) -> Any:
    """Return `value` as type `tp` (ints accepted for floats), or raise ConfigError naming `key`."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' must be a mapping, got {value!r}")
        return from_dict(tp, value, prefix=key)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_value(value, arg, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if errors else f"config key '{key}': bad value {value!r}")
    if origin is list:
        (item_type,) = typing.get_args(tp) or (Any,)
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise ConfigError(f"config key '{key}' must be a list, got {value!r}")
        return [_check_value(v, item_type, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' must be a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config key '{key}' must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"config key '{key}' must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads `1e-4` (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"config key '{key}' must be a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "on" if value else "off"  # YAML 1.1 reads on/off as booleans
        if isinstance(value, (int, float)):
            return str(value)  # YAML reads `view: 090` style values as numbers
        raise ConfigError(f"config key '{key}' must be a string, got {value!r}")
    if tp is tuple or origin is tuple:
        if isinstance(value, (list, tuple)):
            args = typing.get_args(tp)
            if args and args[-1] is not Ellipsis:
                return tuple(_check_value(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
            item = args[0] if args else Any
            return tuple(_check_value(v, item, f"{key}[{i}]") for i, v in enumerate(value))
        raise ConfigError(f"config key '{key}' must be a list, got {value!r}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"config key '{key}' must be {tp.__name__}, got {value!r}")
    return value


def from_dict(cls, data: dict, prefix: str = ""):
    """Build dataclass `cls` from a mapping; unknown keys and mistyped values raise ConfigError."""
    hints = _field_types(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in (data or {}).items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            raise ConfigError(f"unknown config key '{full}' (known: {', '.join(sorted(names))})")
        kwargs[key] = _check_value(value, hints[key], full)
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"config section '{prefix or cls.__name__}': {err}") from err
    if cls is RunConfig and obj.model is None:
        obj.model = _model_config_class()()
    return obj


def to_plain(obj: Any) -> Any:
    """Dataclasses -> dicts, tuples -> lists: what YAML and JSON can hold."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    return obj


# ----------------------------------------------------------------------------------------------
# Presets, overrides, saving.


def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror or err}") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def parse_overrides(pairs: list[str] | None) -> list[tuple[str, Any]]:
    """`["phase.ssl.steps=200", "data.split=half"]` -> [(dotted key, YAML-parsed value)]."""
    out = []
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"override '{pair}' must look like key.path=value")
        key, raw = pair.split("=", 1)
        key = key.strip()
        if not key:
            raise ConfigError(f"override '{pair}' has no key")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as err:
            raise ConfigError(f"override '{pair}': cannot parse value: {err}") from err
        out.append((key, value))
    return out


def _apply_override(data: dict, dotted: str, value: Any) -> None:
    """Set `data[a][b][c] = value` for `a.b.c`; type checking happens when the config is built."""
    parts = dotted.split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override '{dotted}': '{'.'.join(parts[: i + 1])}' is not a section")
        node = child
    node[parts[-1]] = value


def _check_key_exists(dotted: str) -> None:
    """Unknown keys are named exactly as the user typed them."""
    cls = RunConfig
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        names = {f.name for f in dataclasses.fields(cls)}
        if part not in names:
            where = ".".join(parts[:i]) or "top level"
            raise ConfigError(f"unknown config key '{dotted}' ('{part}' is not in {where}; known: {', '.join(sorted(names))})")
        tp = _field_types(cls)[part]
        if i < len(parts) - 1:
            if not dataclasses.is_dataclass(tp):
                raise ConfigError(f"unknown config key '{dotted}' ('{'.'.join(parts[: i + 1])}' is a value, not a section)")
            cls = tp


def load_config(
    preset: str | None = None,
    path: str | Path | None = None,
    overrides: list[str] | None = None,
) -> RunConfig:
    """A preset name (or a YAML file), then dotted overrides, checked into a RunConfig."""
    if preset and path:
        raise ConfigError("give either a preset name or a config file, not both")
    if path:
        data = _read_yaml(Path(path))
    elif preset:
        file = PRESET_DIR / f"{preset}.yaml"
        if not file.is_file():
            raise ConfigError(f"unknown preset '{preset}' (available: {', '.join(available_presets())})")
        data = _read_yaml(file)
    else:
        data = {}
    for key, value in parse_overrides(overrides):
        _check_key_exists(key)
        _apply_override(data, key, value)
    config = from_dict(RunConfig, data)
    validate(config)
    return config


def validate(config: RunConfig) -> None:
    """Cross-field checks that types alone cannot express."""
    if config.runtime.bf16 not in ("on", "off", "auto"):
        raise ConfigError(f"config key 'runtime.bf16' must be on, off or auto, got {config.runtime.bf16!r}")
    if config.runtime.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"config key 'runtime.device' must be auto, cpu or cuda, got {config.runtime.device!r}")
    for name in PHASE_NAMES:
        phase = getattr(config.phase, name)
        key = f"phase.{name}"
        if phase.steps < 0:
            raise ConfigError(f"config key '{key}.steps' must be >= 0")
        if phase.lr <= 0:
            raise ConfigError(f"config key '{key}.lr' must be > 0")
        if phase.optimizer not in ("adamw", "sgd"):
            raise ConfigError(f"config key '{key}.optimizer' must be adamw or sgd, got {phase.optimizer!r}")
        if phase.schedule.kind not in ("cosine", "step", "constant"):
            raise ConfigError(f"config key '{key}.schedule.kind' must be cosine, step or constant, got {phase.schedule.kind!r}")
        if phase.augment not in ("strong", "light", "none"):
            raise ConfigError(f"config key '{key}.augment' must be strong, light or none, got {phase.augment!r}")
        if phase.checkpoint_every <= 0:
            raise ConfigError(f"config key '{key}.checkpoint_every' must be > 0")
        if isinstance(phase, SupervisedPhaseConfig):
            if phase.batch_p < 2 or phase.batch_k < 1:
                raise ConfigError(f"config keys '{key}.batch_p'/'batch_k' must be >= 2 and >= 1")
            if phase.init_from and phase.init_from not in PHASE_NAMES:
                raise ConfigError(f"config key '{key}.init_from' must be one of {', '.join(PHASE_NAMES)} or empty")
        if isinstance(phase, SSLPhaseConfig) and phase.batch_sequences < 2:
            raise ConfigError(f"config key '{key}.batch_sequences' must be >= 2 (NT-Xent needs negatives)")
    if isinstance(config.phase.hybrid, HybridPhaseConfig) and config.phase.hybrid.triplet_mining not in ("batch_hard", "batch_all"):
        raise ConfigError(f"config key 'phase.hybrid.triplet_mining' must be batch_hard or batch_all, got {config.phase.hybrid.triplet_mining!r}")
    if config.data.validation not in ("none", "holdout", "split-test"):
        raise ConfigError(f"config key 'data.validation' must be none, holdout or split-test, got {config.data.validation!r}")
    if not 0.0 < config.data.val_fraction < 1.0:
        raise ConfigError(f"config key 'data.val_fraction' must be in (0, 1), got {config.data.val_fraction}")
    if config.data.clip_length < 1:
        raise ConfigError("config key 'data.clip_length' must be >= 1")
    model = config.model
    mh, mw = getattr(model, "in_height", None), getattr(model, "in_width", None)
    if mh is not None and (mh, mw) != (config.data.height, config.data.width):
        raise ConfigError(
            f"model input {mh}x{mw} differs from data frame size {config.data.height}x{config.data.width}: "
            "set model.in_height/in_width and data.height/width to the same size"
        )


def save_config(config: RunConfig, path: str | Path) -> Path:
    """Write the config as YAML (what `load_config(path=...)` reads back)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    tmp.replace(path)
    return path
