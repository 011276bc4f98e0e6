"""Config: round trips through dict/JSON/TOML, overrides, and errors that name the key or file."""
from __future__ import annotations

import dataclasses
import json

import pytest

from timestepmusic.config import Config
from timestepmusic.stage_configs import ENCODINGS, ChunkConfig, EncodingConfig


def test_defaults_round_trip_through_dict_and_json():
    cfg = Config()
    assert Config.from_dict(cfg.to_dict()) == cfg
    assert Config.from_dict(json.loads(cfg.to_json())) == cfg
    assert json.loads(cfg.to_json()) == json.loads(json.dumps(cfg.to_dict()))


def test_non_default_round_trip():
    cfg = Config().override({"chunks.chunk_seconds": 0.5, "chunks.max_events": 30, "encoding.encoding": "OHE",
                             "gan.betas": [0.0, 0.99], "ae.device": "cpu", "events.pedal_bins": 0})
    again = Config.from_dict(json.loads(cfg.to_json()))
    assert again == cfg
    assert again.gan.betas == (0.0, 0.99)
    assert again != Config()


def test_empty_dict_gives_defaults():
    assert Config.from_dict({}) == Config()


def test_toml_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[chunks]\nchunk_seconds = 0.5\nmax_events = 30\n\n[encoding]\nencoding = "ponOHE"\n\n'
                    "[ae]\nlatent = 75\nlr = 1\n\n[gan]\nbetas = [0.0, 0.9]\n")
    cfg = Config.from_toml(path)
    assert cfg.chunks.chunk_seconds == 0.5
    assert cfg.chunks.max_events == 30
    assert cfg.encoding.encoding == "ponOHE"
    assert cfg.ae.latent == 75
    assert cfg.ae.lr == 1.0 and isinstance(cfg.ae.lr, float)  # an integer where a float is due is accepted
    assert cfg.gan.betas == (0.0, 0.9)
    # everything not in the file keeps its default
    assert cfg.events == Config().events
    assert cfg.gan.steps == Config().gan.steps


def test_override_list():
    cfg = Config().override(["chunks.chunk_seconds=0.5", "encoding.encoding=OHE"])
    assert cfg.chunks.chunk_seconds == 0.5
    assert cfg.encoding.encoding == "OHE"
    assert dataclasses.replace(cfg, chunks=ChunkConfig(), encoding=EncodingConfig()) == Config()


def test_override_does_not_change_the_original():
    base = Config()
    base.override(["chunks.max_events=3"])
    assert base.chunks.max_events == 15


def test_override_values_are_toml_literals_or_bare_words():
    cfg = Config().override(["ae.device=cpu", 'gan.device="cuda:1"', "gan.betas=[0.1, 0.2]", "ae.seed=7",
                             "chunks.chunk_seconds=1"])
    assert cfg.ae.device == "cpu"
    assert cfg.gan.device == "cuda:1"
    assert cfg.gan.betas == (0.1, 0.2)
    assert cfg.ae.seed == 7
    assert cfg.chunks.chunk_seconds == 1.0


def test_override_dict_skips_none():
    assert Config().override({"chunks.chunk_seconds": None, "ae.latent": 75}).ae.latent == 75
    assert Config().override({"chunks.chunk_seconds": None}).chunks == ChunkConfig()


@pytest.mark.parametrize("assignment, key", [
    ("chunks.chunk_seconds=0", "chunks.chunk_seconds"),
    ("chunks.chunk_seconds=-0.25", "chunks.chunk_seconds"),
    ("chunks.max_events=0", "chunks.max_events"),
    ("encoding.encoding=nonsense", "encoding.encoding"),
    ("events.pedal_bins=200", "events.pedal_bins"),
    ("corpus.validation_fraction=1.0", "corpus.validation_fraction"),
    ("corpus.workers=-1", "corpus.workers"),
    ("augment.transpose_semitones=30", "augment.transpose_semitones"),
    ("augment.tempo_range=0.5", "augment.tempo_range"),
    ("ae.latent=0", "ae.latent"),
    ("ae.lr=0", "ae.lr"),
    ("gan.window_chunks=50", "gan.window_chunks"),
    ("gan.betas=[0.5, 1.0]", "gan.betas"),
    ("gan.gp_weight=-1.0", "gan.gp_weight"),
    ("ae.latent=\"twenty\"", "ae.latent"),  # wrong type
    ("ar.carry=no", "ar.carry"),  # a true/false setting takes true or false only
    ("ar.carry=1", "ar.carry"),
    ("ar.intervals=true", "ar.intervals"),  # and a number takes no true or false
])
def test_invalid_value_names_the_key(assignment, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        Config().override([assignment])


@pytest.mark.parametrize("text, value", [("true", True), ("false", False), ("False", False), ("TRUE", True)])
def test_a_true_false_setting_reads_the_word_in_any_case(text, value):
    assert Config().override([f"ar.carry={text}"]).ar.carry is value  # "False" is not a truthy string


def test_unknown_encoding_lists_the_choices():
    with pytest.raises(ValueError, match=r"encoding\.encoding") as info:
        Config().override(["encoding.encoding=midi"])
    assert all(name in str(info.value) for name in ENCODINGS)


def test_direct_construction_is_validated():
    with pytest.raises(ValueError, match=r"chunks\.chunk_seconds"):
        ChunkConfig(chunk_seconds=0)
    with pytest.raises(ValueError, match=r"encoding\.encoding"):
        EncodingConfig(encoding="OHE91")


def test_fractions_must_leave_a_training_split():
    with pytest.raises(ValueError, match=r"corpus\."):
        Config().override(["corpus.validation_fraction=0.5", "corpus.test_fraction=0.5"])


def test_unknown_key_and_section():
    with pytest.raises(ValueError, match=r"chunks\.chunk_second\b"):
        Config().override(["chunks.chunk_second=0.5"])
    with pytest.raises(ValueError, match=r"model\.latent"):
        Config().override(["model.latent=5"])
    with pytest.raises(ValueError, match="expected section.key=value"):
        Config().override(["chunks.chunk_seconds"])
    with pytest.raises(ValueError, match="model"):
        Config.from_dict({"model": {"latent": 5}})
    with pytest.raises(ValueError, match="nope"):
        Config.from_dict({"chunks": {"nope": 1}})
    with pytest.raises(ValueError, match="chunks"):
        Config.from_dict({"chunks": 0.25})


def test_toml_errors_name_the_file(tmp_path):
    bad_syntax = tmp_path / "broken.toml"
    bad_syntax.write_text("[chunks\nchunk_seconds = = 0.5\n")
    with pytest.raises(ValueError, match="broken.toml"):
        Config.from_toml(bad_syntax)

    bad_value = tmp_path / "zero.toml"
    bad_value.write_text("[chunks]\nchunk_seconds = 0\n")
    with pytest.raises(ValueError, match=r"zero\.toml.*chunks\.chunk_seconds"):
        Config.from_toml(bad_value)

    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[chunks]\nwidth = 3\n")
    with pytest.raises(ValueError, match=r"unknown\.toml.*width.*known: \['chunk_seconds', 'max_events'\]"):
        Config.from_toml(unknown)  # nothing near: the known keys listed
    typo = tmp_path / "typo.toml"
    typo.write_text("[ar]\nhead_hiden = 3\n")
    with pytest.raises(ValueError, match=r"typo\.toml.*unknown key\(s\) \['head_hiden'\]; did you mean head_hiden → "
                                         r"head_hidden\?$"):
        Config.from_toml(typo)

    with pytest.raises(ValueError, match="absent.toml"):
        Config.from_toml(tmp_path / "absent.toml")


def test_rnn_section_reads_from_toml_and_validates(tmp_path):
    path = tmp_path / "rnn.toml"
    path.write_text("[rnn]\nmax_chunks = 128\n[gan]\nfinetune_ae = true\n")
    config = Config.from_toml(path)
    assert config.rnn.max_chunks == 128 and config.gan.finetune_ae
    assert Config.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="rnn.critic_heads"):
        config.override(["rnn.critic_heads=5"])


def test_sampling_numbers_must_be_finite():
    """`tsm generate --set ar.end_bias=inf` ended every piece after its first chunk; it is refused in one line."""
    for key in ("end_bias", "end_rise", "temperature", "mixture_temperature", "sample_seconds", "pedal_join_s"):
        for value in (float("inf"), float("nan")):
            with pytest.raises(ValueError, match=f"ar.{key}"):
                Config().override({f"ar.{key}": value})
    assert Config().override({"ar.end_bias": -3.0}).ar.end_bias == -3.0  # a negative bias is a later end, allowed
    with pytest.raises(ValueError, match="ar.end_rise"):  # a piece less likely to end the longer it runs: refused
        Config().override({"ar.end_rise": -0.5})


@pytest.mark.parametrize("value", ["-5", "18446744073709551616", "1099511627777"])
def test_a_seed_set_out_of_range_is_named(value):
    from timestepmusic.argtypes import SEED_LIMIT

    for key in ("gan.seed", "ae.seed"):
        with pytest.raises(ValueError, match=f"--set {key}={value}: a whole number from 0 to {SEED_LIMIT}"):
            Config().override([f"{key}={value}"])
    assert Config().override([f"gan.seed={SEED_LIMIT}"]).gan.seed == SEED_LIMIT


def test_a_set_that_is_refused_is_said_as_the_assignment():
    with pytest.raises(ValueError) as refused:
        Config().override(["ar.temperature=0.9", "ar.beat_echo=-1"])
    assert str(refused.value) == "--set ar.beat_echo=-1: must be ≥ 0 (0 = none), got -1.0"
    with pytest.raises(ValueError, match=r"^--set ar\.beat_ech=1: unknown setting; did you mean ar\.beat_echo"):
        Config().override(["ar.beat_ech=1"])
    with pytest.raises(ValueError, match=r"^config ar\.beat_echo: must be ≥ 0"):  # a flag's or a file's: the key
        Config().override({"ar.beat_echo": -1})


def test_an_unknown_set_names_the_sections_or_its_sections_settings_not_all_of_them():
    # `--set foo.bar=1` listed all 170 settings in one line
    with pytest.raises(ValueError) as refused:
        Config().override(["foo.bar=1"])
    assert str(refused.value) == ("--set foo.bar=1: unknown setting; no section [foo]; the sections: events, chunks, "
                                  "corpus, encoding, augment, ae, gan, rnn, ar")
    with pytest.raises(ValueError) as refused:
        Config().override(["chunks.qqqqqqqq=1"])
    assert str(refused.value) == ("--set chunks.qqqqqqqq=1: unknown setting; known in [chunks]: chunks.chunk_seconds, "
                                  "chunks.max_events")
