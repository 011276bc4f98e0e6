"""The five encodings: exact inverses, distinct layouts, losses, and the log-normal duration fit."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from timestepmusic.encoding import DurationFit, Encoding
from timestepmusic.midi import NUM_IDS, NUM_KEYS
from timestepmusic.stage_configs import ENCODINGS

CHUNK_SECONDS = 0.25


def random_sets(seed: int, b: int = 64, n: int = 15):
    """Valid events [B, N]: ids 0–90, offsets in the chunk, durations 1 ms–30 s (log-uniform), intensity 1–127."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, NUM_IDS, (b, n))
    ids[0, : min(n, 4)] = [0, NUM_KEYS - 1, NUM_KEYS, NUM_IDS - 1][: min(n, 4)]  # the edges, always
    offset = rng.uniform(0, CHUNK_SECONDS, (b, n))
    duration = np.exp(rng.uniform(math.log(1e-3), math.log(30.0), (b, n)))
    intensity = rng.integers(1, 128, (b, n))
    intensity[0, :2] = [1, 127]
    return ids, offset, duration, intensity


def encoding_for(name: str, ids, duration) -> Encoding:
    """The encoding as training uses it: durations fitted on the (here: same) data."""
    return Encoding(name, CHUNK_SECONDS, DurationFit.fit(duration.ravel(), ids.ravel() < NUM_KEYS))


def encode(enc: Encoding, ids, offset, duration, intensity) -> torch.Tensor:
    return enc.encode(torch.from_numpy(ids), torch.from_numpy(offset), torch.from_numpy(duration),
                      torch.from_numpy(intensity))


@pytest.mark.parametrize("name", ENCODINGS)
def test_round_trip_ids_offsets_intensity(name):
    ids, offset, duration, intensity = random_sets(0)
    enc = encoding_for(name, ids, duration)
    x = encode(enc, ids, offset, duration, intensity)
    assert x.shape == (*ids.shape, enc.dim) and x.dtype == torch.float32
    got_ids, got_offset, got_duration, got_intensity = enc.decode(x)
    np.testing.assert_array_equal(got_ids.numpy(), ids)
    np.testing.assert_array_equal(got_intensity.numpy(), intensity)
    np.testing.assert_allclose(got_offset.numpy(), offset, rtol=0, atol=1e-6 * CHUNK_SECONDS)
    # a guard against gross errors; the exact bound is the next test's
    np.testing.assert_allclose(got_duration.numpy(), duration, rtol=1e-5)


def float32_duration_step(enc: Encoding, ids, duration) -> np.ndarray:
    """Relative duration error that one float32 step of the encoded CDF value amounts to: σ·Δu / φ(z)."""
    fit = enc.duration_fit
    note = ids < NUM_KEYS
    mu = np.where(note, fit.note_mu, fit.pedal_mu)
    sigma = np.where(note, fit.note_sigma, fit.pedal_sigma)
    z = (np.log(duration) - mu) / sigma
    u = norm.cdf(z).astype(np.float32)
    return sigma * np.spacing(u).astype(np.float64) / norm.pdf(z)


@pytest.mark.parametrize("name", ["pon", "OHE"])
def test_round_trip_durations_to_float32_resolution(name):
    # exact to 1e-6 relative, or to what one float32 step of the encoded value can carry (in the far tails)
    ids, offset, duration, intensity = random_sets(1, b=256)
    enc = encoding_for(name, ids, duration)
    _, _, got, _ = enc.decode(encode(enc, ids, offset, duration, intensity))
    relative = np.abs(got.numpy() - duration) / duration
    allowed = np.maximum(1e-6, float32_duration_step(enc, ids, duration))
    assert (relative <= allowed).all(), f"{(relative > allowed).sum()} durations off by up to {relative.max():.2e}"


def test_short_duration_survives_the_default_fit():
    # before a corpus fit (mu = -1, sigma = 1) a 1.4 ms note is z = -5.6: still a normal float32 CDF value
    enc = Encoding("pon", CHUNK_SECONDS, DurationFit())
    ids, offset, duration, intensity = (np.array([[40]]), np.array([[0.1]]), np.array([[0.0014]]), np.array([[64]]))
    _, _, got, _ = enc.decode(encode(enc, ids, offset, duration, intensity))
    assert got.item() == pytest.approx(0.0014, rel=1e-3)


@pytest.mark.parametrize("name", ENCODINGS)
def test_features_stay_in_range(name):
    ids, offset, duration, intensity = random_sets(2)
    x = encode(encoding_for(name, ids, duration), ids, offset, duration, intensity)
    assert torch.isfinite(x).all()
    assert x.min() >= -1 and x.max() <= 1
    assert (x[..., -2] >= 0).all()  # the duration is a CDF value


def test_dims_differ_per_encoding():
    dims = {name: Encoding(name, CHUNK_SECONDS, DurationFit()).dim for name in ENCODINGS}
    assert len(set(dims.values())) == len(ENCODINGS), dims
    assert dims["OHE"] == NUM_IDS + 3 and dims["none"] == 1 + 3 and dims["pon"] == 3 + 3
    for name in ENCODINGS:
        enc = Encoding(name, CHUNK_SECONDS, DurationFit())
        stops = [g[1:3] for g in enc.groups]
        assert stops[0][0] == 0 and stops[-1][1] == enc.dim
        assert all(a[1] == b[0] for a, b in zip(stops, stops[1:]))  # contiguous
        assert enc.groups[-1][0] == "time" and enc.groups[-1][2] - enc.groups[-1][1] == 3


def test_unknown_encoding_is_refused():
    with pytest.raises(ValueError, match="unknown encoding"):
        Encoding("OHE91", CHUNK_SECONDS, DurationFit())


@pytest.mark.parametrize("name", ENCODINGS)
def test_to_dict_round_trip(name):
    enc = Encoding(name, 0.5, DurationFit(-1.5, 0.7, -0.3, 1.9))
    again = Encoding.from_dict(enc.to_dict())
    assert again.to_dict() == enc.to_dict() and again.dim == enc.dim and again.groups == enc.groups


@pytest.mark.parametrize("name", ENCODINGS)
def test_decode_of_any_output_is_valid(name):
    enc = Encoding(name, CHUNK_SECONDS, DurationFit())
    x = torch.randn(32, 15, enc.dim, generator=torch.Generator().manual_seed(0)) * 3
    ids, offset, duration, intensity = enc.decode(x)
    assert ((ids >= 0) & (ids < NUM_IDS)).all()
    assert ((offset >= 0) & (offset < CHUNK_SECONDS)).all()
    assert (duration > 0).all() and torch.isfinite(duration).all()
    assert ((intensity >= 1) & (intensity <= 127)).all()


@pytest.mark.parametrize("name", ENCODINGS)
def test_loss(name):
    ids, offset, duration, intensity = random_sets(3, b=16)
    enc = encoding_for(name, ids, duration)
    target = encode(enc, ids, offset, duration, intensity)
    mask = torch.from_numpy(np.random.default_rng(3).random(ids.shape) < 0.7)
    # a perfect prediction: equal numbers, and one-hot groups as confident logits
    perfect = target.clone()
    for _, start, stop, kind in enc.groups:
        if kind == "ce":
            perfect[..., start:stop] = target[..., start:stop] * 100
    if all(kind == "mse" for *_, kind in enc.groups):
        assert enc.loss(target, target, mask).item() == 0.0
    assert enc.loss(perfect, target, mask).item() == pytest.approx(0.0, abs=1e-6)

    prediction = torch.randn(target.shape, generator=torch.Generator().manual_seed(1), requires_grad=True)
    loss = enc.loss(prediction, target, mask)
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    assert torch.isfinite(prediction.grad).all()
    assert (prediction.grad[~mask] == 0).all()  # padding does not train

    # what lies under the mask does not count
    changed = prediction.detach().clone()
    changed[~mask] = 1e3
    assert enc.loss(changed, target, mask).item() == pytest.approx(loss.item(), rel=1e-6)
    # and an empty mask gives 0, not NaN
    assert enc.loss(prediction, target, torch.zeros_like(mask)).item() == 0.0


def test_duration_fit_recovers_lognormal_parameters():
    rng = np.random.default_rng(4)
    n = 100_000
    is_note = rng.random(n) < 0.7
    duration = np.where(is_note, rng.lognormal(-1.2, 0.9, n), rng.lognormal(0.3, 1.4, n))
    fit = DurationFit.fit(duration, is_note)
    assert fit.note_mu == pytest.approx(-1.2, rel=0.02)
    assert fit.note_sigma == pytest.approx(0.9, rel=0.02)
    assert fit.pedal_mu == pytest.approx(0.3, rel=0.02)
    assert fit.pedal_sigma == pytest.approx(1.4, rel=0.02)
    assert DurationFit.from_dict(fit.to_dict()) == fit


def test_duration_fit_maps_the_median_to_one_half():
    fit = DurationFit(note_mu=math.log(0.2), note_sigma=0.8, pedal_mu=math.log(1.5), pedal_sigma=1.1)
    u = fit.to_unit(torch.tensor([0.2, 1.5, 0.2]), torch.tensor([True, False, False]))
    assert u[0].item() == pytest.approx(0.5, abs=1e-6) and u[1].item() == pytest.approx(0.5, abs=1e-6)
    assert u[2].item() < 0.5  # 0.2 s is a short pedal


def test_duration_fit_without_pedals_keeps_defaults():
    fit = DurationFit.fit(np.array([0.1, 0.2, 0.4]), np.array([True, True, True]))
    assert (fit.pedal_mu, fit.pedal_sigma) == (DurationFit().pedal_mu, DurationFit().pedal_sigma)
    assert fit.note_mu == pytest.approx(math.log(0.2))
