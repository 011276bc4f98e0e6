"""A trained run exported as a model folder: what generation needs (the generator, its autoencoder, codebook and
description paths), without the critic or the optimizers' state."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .checkpoint import CONFIG, checkpoint_dir, read_meta
from .files import atomic_path, named
from .latents import CODEBOOK
from .sequence import AVERAGED_GENERATOR


def export_model(run: str | Path, dest: str | Path, description: str = "") -> Path:
    """Copy what generation needs (generator + its autoencoder, no critic or optimizer) into `dest`: a new or empty
    folder, or one an earlier export wrote (replaced whole); any other (the run itself, a user's folder) is refused in
    one line, not deleted."""
    weights = ("generator", AVERAGED_GENERATOR, "autoencoder", "codebook", "style_paths")  # (+ a fine-tuned autoencoder)
    exported = {f"{key}.safetensors" for key in weights} | {CODEBOOK, CONFIG, "autoencoder", ".DS_Store"}
    if Path(dest).exists():
        foreign = sorted(p.name for p in Path(dest).iterdir() if p.name not in exported) if Path(dest).is_dir() else []
        if not Path(dest).is_dir() or foreign:
            raise ValueError(f"{dest}: " + (f"holds {named(foreign, 1)}, which no export wrote (replacing the folder "
                                            "would delete it)" if foreign else "not a folder")
                             + "; give a new or empty folder to export into")
    folder, meta = read_meta(run if not (Path(run) / "best").is_dir() else Path(run) / "best")
    with atomic_path(dest) as tmp:
        tmp.mkdir()
        kept = [key for key in weights if key in meta["weights"]]  # (style_paths: an events arm with ar.style's)
        for key in kept:
            shutil.copy(folder / f"{key}.safetensors", tmp / f"{key}.safetensors")
        if "codebook" not in kept and (folder.parent / CODEBOOK).is_file():
            shutil.copy(folder.parent / CODEBOOK, tmp / CODEBOOK)
        ae_src = checkpoint_dir(folder.parent / "autoencoder")
        (tmp / "autoencoder").mkdir()
        shutil.copy(ae_src / "pisa.safetensors", tmp / "autoencoder" / "pisa.safetensors")
        ae_meta = json.loads((ae_src / "config.json").read_text())
        ae_meta["optimizers"] = {}
        (tmp / "autoencoder" / "config.json").write_text(json.dumps(ae_meta, indent=1))
        meta = dict(meta, optimizers={}, description=description)
        meta["weights"] = {key: meta["weights"][key] for key in kept}
        (tmp / "config.json").write_text(json.dumps(meta, indent=1))
    return Path(dest)
