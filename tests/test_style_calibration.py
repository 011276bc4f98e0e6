"""A `--style` request played as asked (ar.request_calibrated, sequence/style_calibration.py): the inverse of a
measured curve, what a calibrated request is told, a bad calibration refused in one line, the description of a
written piece as training's, and the tool that measures a model's curves and keeps them in its config.json."""
from __future__ import annotations

import json

import numpy as np
import pytest

from test_events_arm import TINY_EVENTS
from timestepmusic.config import Config
from timestepmusic.evaluate.played import played
from timestepmusic.midi import Events
from timestepmusic.sequence.style import ATTRIBUTES, PieceStyle
from timestepmusic.sequence.style_calibration import Curve, StyleCalibration
from timestepmusic.shipped import models_dir
from timestepmusic.train.sequence import train_sequence_model
from timestepmusic.train.style_calibration import main as calibrate_main
from timestepmusic.train.style_calibration import told_points


def curve(told, played) -> Curve:
    return Curve(np.array(told, dtype=float), np.array(played, dtype=float))


def test_a_request_is_told_what_played_it_between_and_past_the_measured_points():
    density = curve([1.0, 2.0, 3.0], [0.5, 1.5, 3.5])  # plays less than told low, more high
    assert density.inverse(1.0) == pytest.approx(1.5)  # halfway between the first two points' playing
    assert density.inverse(2.5) == pytest.approx(2.5)
    assert density.inverse(0.25) == pytest.approx(0.75)  # past the low end: moved as far as asked past it
    assert density.inverse(4.0) == pytest.approx(3.5)
    flat = curve([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 2.0, 3.0])  # told 2 and 3 played alike: their mean told
    assert flat.inverse(2.0) == pytest.approx(2.5) and flat.inverse(1.5) == pytest.approx(1.75)
    ends = curve([0.2, 0.4, 0.6, 0.8], [0.3, 0.3, 0.5, 0.6])  # told 0.2 already plays 0.3: below, from 0.2 on
    assert ends.inverse(0.25) == pytest.approx(0.15) and ends.inverse(0.7) == pytest.approx(0.9)


def test_a_calibrated_request_keeps_a_pedal_asked_up_and_stays_within_what_a_description_holds():
    calibration = StyleCalibration({"damper": curve([0.0, 0.5, 0.9], [0.0, 0.3, 0.8]),
                                    "register": curve([30.0, 60.0], [25.0, 65.0])}, {})
    told = calibration.told({"damper": 0.3, "register": 35.0, "loudness": 70.0})
    assert told == pytest.approx({"damper": 0.5, "register": 37.5, "loudness": 70.0})  # loudness: no curve
    assert calibration.told({"damper": 0.0}) == {"damper": 0.0}  # asked up, told up (ar.pedals_as_told)
    assert calibration.told({"damper": 0.9})["damper"] == pytest.approx(1.0)  # past the end: 0.9 + 0.1
    assert calibration.told({"damper": 1.0})["damper"] == 1.0  # 0.9 + 0.2, kept a share
    assert calibration.told({"register": 87.0})["register"] == 82.0  # 60 + (87 − 65), within the keys
    low = StyleCalibration({"damper": curve([0.2, 0.9], [0.3, 0.9])}, {})
    assert 0 < low.told({"damper": 0.05})["damper"] < 0.01  # asked pressed: never told the 0 that keeps it up


def test_a_bad_calibration_is_refused_in_one_line():
    good = {"told": [0.0, 1.0], "played": [0.0, 1.0]}
    for bad in ({}, {"curves": {"density": {"told": [1.0, 0.0], "played": [0.0, 1.0]}}},
                {"curves": {"density": {"told": [0.0, 1.0], "played": [1.0, 0.0]}}},
                {"curves": {"density": {"told": [0.0, 1.0], "played": [0.0]}}},
                {"curves": {"tempo": good}}, {"curves": {"density": "x"}}, "x", [],
                {"curves": {"density": {"told": [0.0, float("inf")], "played": [0.0, 1.0]}}},
                {"curves": {"density": good}, "measured": "x"}):
        with pytest.raises(ValueError, match="^model/config.json: style_calibration is not") as caught:
            StyleCalibration.from_dict(bad, "model/config.json")
        assert "\n" not in str(caught.value)
    assert StyleCalibration.from_dict({"curves": {"density": good}}, "x").curves["density"].inverse(0.5) == 0.5


def test_a_written_piece_is_described_as_training_describes_a_passage():
    notes = Events(ids=np.array([39, 40, 47, 88]), start_s=np.array([0.0, 1.0, 2.0, 0.0]),
                   duration_s=np.array([0.5, 0.5, 0.5, 2.0]), intensity=np.array([60, 80, 100, 127])).sorted()
    (row,) = played([notes], 4.0, ATTRIBUTES)
    got = dict(zip(ATTRIBUTES, row))
    assert got["register"] == pytest.approx((39 + 40 + 47) / 3) and got["loudness"] == pytest.approx(80)
    assert got["density"] == pytest.approx(np.log1p(3 / 4)) and got["damper"] == pytest.approx(0.5)
    assert got["stepwise"] == pytest.approx(0.5)  # 39 → 40 a step, 40 → 47 a leap
    assert got["half_pedal"] == pytest.approx(0.0)  # pressed at full depth
    assert np.isnan(played([Events([], [], [], [])], 4.0, ATTRIBUTES)[0, 0])  # no notes: no register
    held_on = Events(ids=np.array([40, 88]), start_s=np.array([0.0, 3.0]), duration_s=np.array([0.5, 5.0]),
                     intensity=np.array([60, 127]))
    (damper,) = played([held_on], 4.0, ("damper",))[0]
    assert damper == pytest.approx(0.25, abs=0.02)  # heard within the piece (its description would count 5 s: 1)


def test_told_points_span_the_bank_distinctly():
    points = told_points(np.concatenate([np.zeros(50), np.linspace(0, 1, 50)]), 9)
    assert points[0] == 0.0 and np.all(np.diff(points) > 0) and points[-1] < 1.0


@pytest.fixture(scope="module")
def styled_run(tiny_corpus, tiny_ae, tmp_path_factory):
    run = tmp_path_factory.mktemp("calibration") / "styled"
    config = Config().override(TINY_EVENTS | {"ar.style": True, "gan.steps": 2})
    train_sequence_model(tiny_corpus, tiny_ae, run, config, arch="events", progress=False)
    return run


def with_calibration(run, calibration: dict | str | None):
    meta_path = run / "last" / "config.json"
    meta = json.loads(meta_path.read_text())
    meta.pop("style_calibration", None)
    if calibration is not None:
        meta["style_calibration"] = calibration
    meta_path.write_text(json.dumps(meta))
    return meta_path


HAND_MADE = {"measured": {"guidance": 2.0, "seed": 0},
             "curves": {"register": {"told": [20.0, 60.0], "played": [10.0, 70.0]}}}


def test_the_tool_measures_a_model_and_keeps_its_curves(styled_run, tiny_corpus, tiny_ae, tmp_path, capsys):
    meta_path = with_calibration(styled_run, None)
    assert calibrate_main([str(styled_run), "-n", "2", "--points", "3", "--seconds", "1"]) == 0  # a run folder
    out, err = capsys.readouterr()
    assert str(meta_path) in out  # names the file it wrote: the run's last checkpoint's
    assert "are rough" in err  # 2 pieces of 1 s per value
    kept = json.loads(meta_path.read_text())["style_calibration"]
    assert kept["measured"]["pieces"] == 2 and kept["measured"]["guidance"] == 2.0
    assert set(kept["measured"]["means"]) == set(ATTRIBUTES) and set(kept["curves"]) <= set(ATTRIBUTES)
    for name, c in kept["curves"].items():
        assert np.all(np.diff(c["played"]) >= 0) and c["played"][-1] > c["played"][0], name  # rising, fitted
    assert calibrate_main([str(styled_run), "-n", "2"]) == 1  # calibrated already: refused without --overwrite
    assert "calibrated already" in capsys.readouterr().err
    for earlier in (HAND_MADE, "broken"):  # measured again as told, whatever calibration it had (even a broken one)
        with_calibration(styled_run, earlier)
        assert calibrate_main([str(styled_run), "-n", "2", "--points", "3", "--seconds", "1", "--overwrite"]) == 0
        assert json.loads(meta_path.read_text())["style_calibration"]["measured"] == kept["measured"]
    plain = Config().override(TINY_EVENTS | {"gan.steps": 2})
    train_sequence_model(tiny_corpus, tiny_ae, tmp_path / "plain", plain, arch="events", progress=False)
    capsys.readouterr()
    assert calibrate_main([str(tmp_path / "plain"), "-n", "32"]) == 1
    err = capsys.readouterr().err.strip()
    assert "follows no description" in err and len(err.splitlines()) == 1
    assert calibrate_main([str(tmp_path / "missing")]) == 1
    assert "no such model folder" in capsys.readouterr().err
    assert calibrate_main(["default"]) == 1  # a name is not a folder: shipped models are not calibrated in place
    assert calibrate_main([str(models_dir() / "default")]) == 1
    assert "a shipped model, not changed in place" in capsys.readouterr().err


def test_a_request_is_told_through_the_curves_at_the_guidance_they_were_measured_at(styled_run, monkeypatch, capsys,
                                                                                   caplog):
    from timestepmusic.cli import main
    from timestepmusic.generation import GANModel, set_sampling

    with_calibration(styled_run, HAND_MADE)
    model = GANModel.load(styled_run)
    asked = []
    choose = PieceStyle.choose
    monkeypatch.setattr(PieceStyle, "choose", lambda self, n, rng, request: asked.append(request) or
                        choose(self, n, rng, request))
    model.sample_latents(1, 1.0, seed=0, snap_to_real=False, style={"register": 40.0})
    assert asked[-1] == pytest.approx({"register": 40.0})  # played 40 when told 40 (halfway): told 40
    with caplog.at_level("INFO", logger="timestepmusic.sequence.events"):
        model.sample_latents(1, 1.0, seed=0, snap_to_real=False, style={"register": 55.0})
        assert asked[-1] == pytest.approx({"register": 50.0})
        assert "told register=71 (calibrated: what this model played when told each value, measured at guidance 2)" \
            in caplog.text  # -v says what was told, in MIDI notes, promising no more than was measured
        assert "beyond" not in caplog.text and "so that it plays" not in caplog.text
        model.sample_latents(1, 1.0, seed=0, snap_to_real=False, style={"register": 75.0})
        assert asked[-1] == pytest.approx({"register": 65.0})  # 60 + (75 − 70)
        model.sample_latents(2, 1.0, seed=1, snap_to_real=False, style={"register": 75.0})  # (the run's next batch)
    beyond = [r for r in caplog.records if "beyond" in r.getMessage()]
    assert [(r.levelname, r.getMessage()) for r in beyond] == [("WARNING", "--style register=96: beyond what this model "
                                                                "was measured to play (31 to 91): told by extrapolation, "
                                                                "it may not reach it")]  # said without -v, once
    model.sample_latents(1, 1.0, seed=0, snap_to_real=False, style={"register": 55.0}, guidance=1.0)
    assert asked[-1] == {"register": 55.0}  # measured at guidance 2, not 1: told as asked
    set_sampling(model, ["ar.request_calibrated=false"])
    with caplog.at_level("INFO", logger="timestepmusic.sequence.events"):
        model.sample_latents(1, 1.0, seed=0, snap_to_real=False, style={"register": 55.0})
    assert asked[-1] == {"register": 55.0} and "told as asked (ar.request_calibrated false)" in caplog.text
    assert main(["generate", "--model", str(styled_run), "--info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in info["style_calibration"].items() if k != "note"} == {"attributes": ["register"],
                                                                                   "guidance": 2.0, "seed": 0}


def test_a_model_with_a_bad_calibration_is_refused_in_one_line(styled_run, tmp_path, capsys):
    from timestepmusic.cli import main

    for broken in ({"curves": {"density": {"told": [2.0, 1.0], "played": [0.0, 1.0]}}}, "x", {"curves": None}, [1]):
        with_calibration(styled_run, broken)
        for command in (["generate", "--model", str(styled_run), "-n", "1", "--seconds", "1", "-o", str(tmp_path / "o")],
                        ["generate", "--model", str(styled_run), "--info"]):
            capsys.readouterr()
            assert main(command) == 2, (broken, command)
            err = capsys.readouterr().err.strip()
            assert "style_calibration is not" in err and len(err.splitlines()) == 1
    with_calibration(styled_run, None)
