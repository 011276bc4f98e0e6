"""Where a sequence-model run starts from: the run it resumes (RUN/last), the checkpoint it warm-starts from
(`--init-from`), and the autoencoder it trains over.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from ..autoencoder import Autoencoder, frozen_autoencoder_folder
from ..checkpoint import CONFIG, autoencoder_beside, load_matching, read_meta
from ..config import Config
from ..critic import CRITIC
from ..generation import checkpoint_config
from ..sequence import averaged_modules
from ..sequence.style_calibration import META_KEY as CALIBRATION
from ..shipped import arch_said, resolve_model, shipped_autoencoders

log = logging.getLogger(__name__)


def warm_start_source(init_from: str | Path, arch: str | None = None) -> dict:
    """The checkpoint a new run warm-starts from (`--init-from`): its folder, metadata and autoencoder folder;
    it must be of the arm `arch` where that is given."""
    folder, meta = read_meta(resolve_model(init_from, flag="--init-from"))
    if meta.get("kind") != "gan":
        raise ValueError(f"--init-from {init_from}: not a sequence model (kind={meta.get('kind')!r})")
    if "finetuned_sha256" in meta.get("autoencoder", {}):
        raise ValueError(f"--init-from {init_from}: it fine-tuned its autoencoder as it trained; warm starts take "
                         "models trained over a frozen one")
    if arch is not None and meta.get("arch", "conv") != arch:
        raise ValueError(f"--init-from {init_from}: {arch_said(meta.get('arch', 'conv'))}, not --arch {arch}")
    return {"folder": folder, "meta": meta, "autoencoder_folder": autoencoder_beside(folder)}


def check_warm_start_fits(source: dict, arm_class: type, config: Config, latent: int, init_from: str | Path) -> None:
    """ValueError where none of the warm start's weights fit the networks the new run builds (other sizes), said
    before the run's folder is made: with --overwrite the run there was deleted first. The networks are built here on
    the CPU and thrown away, the global random state kept (the run's own are built from its seed as before). An arm
    whose modules are not all there before its attach() (an arm of one's own may build one there, sized by the
    corpus) is not checked here: the loop checks it once attached, as it checks every arm."""
    with torch.random.fork_rng(devices=[]):
        try:
            trial = arm_class(config, latent, torch.device("cpu"))
            modules = trial.trained() | averaged_modules(trial)
        except Exception:  # noqa: BLE001 (one's own code may raise anything before attach: the loop's check, after it)
            log.info("--init-from %s: the arm's modules are not listed before it attaches; checked after", init_from,
                     exc_info=True)
            return
        copied, _ = load_matching(source["folder"], modules)
    if copied == 0:
        raise ValueError(none_fit(init_from))


def none_fit(init_from: str | Path) -> str:
    """The refusal of a warm start none of whose weights fit the new run's networks."""
    return f"--init-from {init_from}: none of its weights fit this run's networks (other sizes?); start without it"


def read_run(out: Path) -> dict:
    """The metadata of RUN/last, to resume it."""
    folder, meta = read_meta(out / "last")
    if meta.get("kind") != "gan":
        raise ValueError(f"{folder}: not a sequence-model run (kind={meta.get('kind')!r})")
    return meta | {"arch": meta.get("arch", "conv")}


def refuse_added(out: Path) -> None:
    """A resumed run replaces RUN/last, and RUN/best at each better validation, with checkpoints of its own, so what a
    tool added to either after training (train.critic's piece critic, train.style_calibration's curves) would go
    without a word: the run is refused in one line until that checkpoint is exported and the addition removed."""
    for name in ("last", "best"):
        folder = out / name
        added = (folder / CRITIC, "a critic", f"delete {folder / CRITIC}") if (folder / CRITIC).is_file() else None
        if added is None and (folder / CONFIG).is_file():
            try:
                calibrated = CALIBRATION in json.loads((folder / CONFIG).read_text())
            except (OSError, ValueError):  # (a damaged best is read, and said, where it is read)
                calibrated = False
            added = (folder / CONFIG, f"a style calibration ({CALIBRATION})",
                     f"delete the {CALIBRATION} entry of {folder / CONFIG}") if calibrated else None
        if added is not None:
            path, what, remove = added
            raise ValueError(f"{path}: {what} added to this checkpoint after training, which resuming would delete "
                             f"(the run replaces {name} as it goes on); keep the checkpoint as a model of its own "
                             f"(python -m timestepmusic.model_export {folder} {out}-{name}), {remove}, then resume")


def autoencoder_for_run(out: Path, ae_path: str | Path | None, meta: dict | None,
                        config: Config | None) -> tuple[Autoencoder, Config]:
    """The frozen autoencoder a run trains over, and the run's config.

    Resuming (`meta` given): the run's own copy in RUN/autoencoder, checked against the hash its
    checkpoint recorded, and the saved config. Otherwise: `ae_path`'s best checkpoint (else its last),
    with the autoencoder's settings copied into `config`.
    """
    if meta is not None:
        ae = Autoencoder.load(out / "autoencoder")
        if ae.weights_sha256 != meta["autoencoder"]["weights_sha256"]:
            raise ValueError(f"{out}: its autoencoder copy does not match the hash recorded in its checkpoint")
        return ae, checkpoint_config(meta)
    if ae_path is None:
        raise ValueError(f"train-gan needs --ae RUN (a trained autoencoder, or a shipped one: "
                         f"{', '.join(shipped_autoencoders())}), or --init-from MODEL (which brings its own), "
                         "unless resuming")
    # a run or checkpoint folder, a shipped autoencoder's name, or a sequence model's (its autoencoder, as reconstruct)
    ae = Autoencoder.load(frozen_autoencoder_folder(ae_path, "--ae"))
    config = (config or Config()).override({"ae." + k: v for k, v in ae.config.ae.__dict__.items()}
                                           | {"encoding." + k: v for k, v in ae.config.encoding.__dict__.items()})
    return ae, config
