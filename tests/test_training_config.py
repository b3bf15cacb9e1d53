"""Run configuration: presets load, dotted overrides are typed, bad keys/values name the key."""

import pytest

from gaitreid.config import available_presets, load_config, save_config
from gaitreid.errors import ConfigError


def test_presets_load_and_agree_on_input_size():
    assert {"demo", "casia-b-cpu", "casia-b-gpu"} <= set(available_presets())
    for name in ("demo", "casia-b-cpu", "casia-b-gpu"):
        cfg = load_config(name)
        assert (cfg.model.in_height, cfg.model.in_width) == (cfg.data.height, cfg.data.width)
    assert load_config("demo").data.source == "synthetic"
    assert load_config("casia-b-gpu").model.name == "resnet9"


def test_overrides_are_typed():
    cfg = load_config("demo", overrides=["phase.ssl.steps=7", "phase.hybrid.lr=1e-4", "runtime.channels_last=true",
                                         "phase.supervised.schedule.milestones=[5, 9]", "phase.hybrid.triplet_weight=2"])
    assert cfg.phase.ssl.steps == 7
    assert cfg.phase.hybrid.lr == pytest.approx(1e-4)
    assert cfg.runtime.channels_last is True
    assert cfg.phase.supervised.schedule.milestones == [5, 9]
    assert isinstance(cfg.phase.hybrid.triplet_weight, float)


@pytest.mark.parametrize(
    "override, named",
    [
        ("phase.ssl.stepz=3", "phase.ssl.stepz"),
        ("phase.ssl.steps=abc", "phase.ssl.steps"),
        ("phase.ssl.steps=1.5", "phase.ssl.steps"),
        ("runtime.channels_last=maybe", "runtime.channels_last"),
        ("nosuch.key=1", "nosuch.key"),
        ("phase.ssl.steps.deeper=1", "phase.ssl.steps.deeper"),
        ("runtime.bf16=sometimes", "runtime.bf16"),
        ("model.name=resnet99", "resnet99"),
        ("phase.hybrid.triplet_mining=random", "phase.hybrid.triplet_mining"),
    ],
)
def test_bad_overrides_name_the_key(override, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_config("demo", overrides=[override])


def test_override_needs_equals_and_preset_must_exist():
    with pytest.raises(ConfigError, match="key.path=value"):
        load_config("demo", overrides=["phase.ssl.steps"])
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        load_config("nope")


def test_model_and_data_size_must_match():
    with pytest.raises(ConfigError, match="model input"):
        load_config("demo", overrides=["data.height=64"])


def test_save_and_reload_round_trip(tmp_path):
    cfg = load_config("casia-b-cpu", overrides=["phase.ssl.steps=11", "data.validation=split-test"])
    path = save_config(cfg, tmp_path / "config.yaml")
    again = load_config(path=path)
    assert again == cfg
    assert again.to_dict() == cfg.to_dict()


def test_bad_yaml_file_is_a_config_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("phase: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(path=bad)
    with pytest.raises(ConfigError, match="missing.yaml"):
        load_config(path=tmp_path / "missing.yaml")
