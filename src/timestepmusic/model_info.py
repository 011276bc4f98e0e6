"""What a model is, for `tsm generate --info` (generate_info.py says it in words): how it was trained and samples,
its critic, its style calibration and the composers its description paths walk, as a dict of its settings."""
from __future__ import annotations

import math
from pathlib import Path

from .checkpoint import CONFIG, load_tensors, read_meta
from .config import Config
from .critic import PieceCritic
from .generation import EVENTS_ONLY, LATENTS_ONLY, checkpoint_config
from .sample_limits import arm_takes
from .sequence import arch_class
from .sequence.style_calibration import StyleCalibration
from .sequence.style_paths import StylePaths
from .shipped import resolve_model
from .train.log import read_metrics


def model_info(model: str | Path | None = None) -> dict:
    """How a model was trained and samples, for `tsm generate --info`. `trained` and `step` are those of the run
    that wrote the weights; a warm-started run names where it started (`initialised_from`), and a shipped
    model's description tells its whole history."""
    path = resolve_model(model)
    folder, meta = read_meta(path)
    if meta.get("kind") == "autoencoder":  # (its config reads as a conv model's: said, not described as one)
        raise ValueError(f"{model}: an autoencoder (for --ae of reconstruct and train-gan), not a model that "
                         "generates; --list names those")
    config = checkpoint_config(meta)
    arch = meta.get("arch", "conv")
    likelihood = arch in ("ar", "events")  # trained by gan.steps and gan.seed, otherwise by the ar section
    gan = meta["config"]["gan"]
    ar = config.to_dict()["ar"] if likelihood else None
    if ar is not None:
        other = set(LATENTS_ONLY if arch == "events" else EVENTS_ONLY)
        if arch == "ar" and ar["head"] == "dimwise":
            other.discard("head_hidden")  # the dimwise head's width too
        ar = {k: v for k, v in ar.items() if k not in other}
    trained = meta.get("trained")
    if trained is not None and meta.get("initialised_from"):
        trained = trained | {"note": "this run's own training, after its warm start (initialised_from); the "
                                     "description tells the whole history"}
    return {"model": str(folder), "arch": arch, "summary": meta.get("summary"), "trained": trained,
            "initialised_from": meta.get("initialised_from"),
            "corpus": meta.get("corpus"), "step": meta.get("step"),
            "gan": {k: gan[k] for k in ("steps", "seed", "validate_every") if k in gan} if likelihood else gan,
            "ar": ar,
            "chunks": meta["config"]["chunks"], "encoding": meta["config"]["encoding"]["encoding"],
            "latent": config.ae.latent, "recurrent": config.to_dict()["rnn"] if arch == "rnn" else None,
            "autoencoder_finetuned": "finetuned_sha256" in meta.get("autoencoder", {}),
            "description": meta.get("description"), "style_calibration": calibration_summary(meta, folder),
            "takes_key": arch == "events" and bool(ar["tonal"]),  # tsm generate --key: an events model with ar.tonal
            "takes_tempo": arch == "events" and ar["beat_echo"] > 0,  # --tempo: one sampled with the beat echo
            "critic": critic_summary(folder), "composers": composers_summary(folder, meta),
            "takes": takes_summary(arch, config), "best_validation": best_validation(folder, meta),
            "run": run_summary(folder)}


def best_validation(folder: Path, meta: dict) -> dict | None:
    """For `--info`: the best held-out figure of the run that wrote the checkpoint (its `best_val_…` entry: the
    run's best up to the checkpoint's step, as a shipped model keeps it too), and the step it was measured at where
    that is known (the run's RUN/best beside it, or the checkpoint itself when it is a `best`); None where the run
    had not validated."""
    key = next((k for k in meta if k.startswith("best_")), None)
    if key is None or not isinstance(meta[key], (int, float)) or not math.isfinite(meta[key]):
        return None
    said = {"figure": key.removeprefix("best_"), "value": meta[key], "step": None, "by_step": meta.get("step")}
    best = folder if folder.name == "best" else folder.parent / "best" if folder.name == "last" else None
    try:
        _, best_meta = read_meta(best) if best is not None and (best / CONFIG).is_file() else (None, {})
    except ValueError:  # (a damaged best is said where it is read)
        best_meta = {}
    if isinstance(best_meta.get(key), (int, float)) and best_meta[key] == meta[key]:
        said["step"] = best_meta.get("step")
    return said


def run_summary(folder: Path) -> dict | None:
    """For `--info` on a run's checkpoint (RUN/last or RUN/best): where the run's latest checkpoint stands, its step
    of gan.steps, and how it ended when it ended before its last step: "stopped" (its --max-minutes or --max-steps
    were up), "interrupted" (Ctrl-C), or None (still training, or killed), from RUN/metrics.jsonl's last event at
    that step. None for a folder that is no run's checkpoint (an exported or shipped model)."""
    if folder.name not in ("last", "best") or not (folder.parent / "last" / CONFIG).is_file():
        return None
    run = folder.parent
    try:
        _, last = read_meta(run / "last")
    except ValueError:
        return None
    step, steps = last.get("step"), last.get("config", {}).get("gan", {}).get("steps")
    events = [r for r in read_metrics(run / "metrics.jsonl") if "event" in r and r.get("step") == step]
    return {"folder": str(run), "step": step, "steps": steps, "ended": events[-1]["event"] if events else None}


def takes_summary(arch: str, config: Config) -> dict[str, bool]:
    """For `--info`: what tsm generate lets the model be asked (sample_limits.arm_takes, which its checks read), from
    the arm built as GANModel.load builds it, without its weights."""
    import torch

    return arm_takes(arch_class(arch)(config, config.ae.latent, torch.device("cpu"), training=False))


def composers_summary(folder: Path, meta: dict) -> dict[str, int] | str | None:
    """For `--info`: how many training performances of each composer a model's description paths walk (what
    `tsm generate --composer` takes); None where it keeps no paths, {} where they name no composers, and a line where
    they were written before they named any, or cannot be read."""
    if "style_paths" not in meta.get("weights", {}):
        return None
    try:
        paths = StylePaths.from_state(load_tensors(folder, "style_paths"))
    except ValueError as e:
        return f"error: {e}"
    if paths.labels is None:
        return ("unknown: written before paths named their performances; `python -m timestepmusic.train.style_paths "
                "MODEL CORPUS --relabel`")
    return paths.composers()


def critic_summary(folder: Path) -> dict | None:
    """What a model's critic (critic.py) keeps and how it was trained, for `--info`; None where it has none, and
    what is wrong with a damaged one."""
    try:
        critic = PieceCritic.load(folder)
    except ValueError as e:
        return {"error": str(e)}
    if critic is None:
        return None
    return {"kept_share": critic.kept_share, "window_s": critic.window_s, "temperature": round(critic.temperature, 4),
            "trained": critic.trained,
            "note": "with tsm generate --select, each drawn piece kept with probability min(1, exp(score - shift)), the "
                    "shift keeping kept_share of each draw on average"}


def calibration_summary(meta: dict, folder: Path) -> dict | None:
    """How a model's `--style` requests were calibrated (ar.request_calibrated), for `--info`: the attributes and how
    they were measured; None where they were not; a broken calibration: ValueError in one line."""
    calibration = StyleCalibration.of_model(meta, folder / CONFIG)
    if calibration is None:
        return None
    measured = {k: v for k, v in calibration.measured.items() if k != "means"}
    return {"attributes": sorted(calibration.curves), **measured,
            "note": "a --style request for these attributes, at this guidance, is told what played the asked value "
                    "when measured (pieces per told value, their seconds and sampling seed as given); the curves are "
                    "in config.json"}
