"""Train (or resume) any sequence model over the chunk latents of a frozen or jointly fine-tuned autoencoder.

The arm (sequence/conv_gan.py, sequence/recurrent_gan.py, or any class registered with
`sequence.register`) gives the losses of one step; this loop owns everything around them: the run's copy
of its autoencoder, the latent cache and normaliser, resume, checkpoint metadata, held-out validation,
periodic MIDI samples, the time/step budget, Ctrl-C and torchrun. Everything random comes from one
torch.Generator whose state is checkpointed, so resume is exact.
Shapes: C corpus chunks, L latent, K codebook latents.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ..autoencoder import Autoencoder
from ..checkpoint import load_matching, load_rng, restore_training, start_run_folder, write_checkpoint
from ..checks import check_corpus_matches, check_resumed_corpus
from ..config import Config
from ..corpus import Corpus
from ..devices import pick_device, rng_kept, where_words
from ..generation import checkpoint_config
from ..latents import CODEBOOK, Normaliser, cached_latents, codebook_rows, split_rows, write_codebook
from ..midi_write import write_events
from ..piece_events import sampled_events
from ..sequence import LatentData, SequenceModel, Update, arch_class, averaged_modules, kept_modules
from ..sequence.autoregressive import WARMUP_STEPS
from ..sequence.base import arm_source, check_arm_class
from ..shipped import resolve_model
from .arm_settings import check_closing, warn_unread_settings
from .budget import Budget
from .distributed import Dist, from_environment
from .finetune import CodebookWeights, RealLatents, weights_hash
from .interrupts import ENDED_INTERRUPTED, STOPPED_AT_ONCE, StopNow, diverged, held_interrupts, stopped_by
from .log import MetricsLog, TrainingFigures
from .run_sources import autoencoder_for_run, check_warm_start_fits, none_fit, read_run, refuse_added, warm_start_source

log = logging.getLogger(__name__)
AE_VALIDATION_CHUNKS = 4096  # held-out chunks on which a fine-tuned autoencoder's drift is watched
SAMPLES_PER_CHECK = 4
NO_VALIDATION = ("; the corpus has no validation split (an arm's held_out() falls back to training rows, as "
                 "sequence/windows.split_samplers does for the built-in arms)")


@rng_kept  # training seeds torch's global stream (dropout, initial weights): a caller's is kept
def train_sequence_model(corpus_path: str | Path, ae_path: str | Path | None, out: str | Path,
                         config: Config | None = None, *, arch: str | None = None, resume: bool = False,
                         progress: bool = True, max_steps: int | None = None, max_seconds: float | None = None,
                         steps: int | None = None, compile_model: bool | None = None, device: str | None = None,
                         init_from: str | Path | None = None, overwrite: bool = False,
                         settings_given: list[str] | None = None) -> dict:
    """Train (or with `resume`, continue) a run of the arm `arch` (default conv) in `out`; returns the last metrics.

    Resuming keeps the run's architecture and settings (`arch` and `config` are read from RUN/last);
    `steps` sets a new total, `compile_model` turns gan.compile on or off and `device` moves the run (to a GPU
    machine, or back; None: the run's own setting). `max_steps` / `max_seconds`
    stop early after writing `last` (tests and time-boxed runs). `init_from` (a run, checkpoint or shipped
    model, new runs only) warm-starts: its arm (`arch` must agree where given) and settings (where `config`
    is None), its weights wherever names and shapes match, its normaliser, and its autoencoder unless
    `ae_path` is given (which must then be the same one). A new run refuses a folder that holds one unless
    `overwrite` (which deletes it), as `tsm train-gan` does. `settings_given`: the `--set section.key=value`
    assignments a new run's `config` was built with; those the arm never reads are warned of, after every refusal
    here (a refused run warns of nothing).
    """
    out = Path(out)
    corpus = Corpus.open(corpus_path)
    if not split_rows(corpus, "train").size:  # said before the run's folder is made, as train-ae does
        raise ValueError(f"{corpus.root}: no chunks in the training split")
    meta = read_run(out) if resume else None
    if meta is not None:
        check_resumed_corpus(meta, corpus, out)
        refuse_added(out)
    source = warm_start_source(init_from, arch) if init_from is not None and meta is None else None
    arch = meta["arch"] if meta else arch or (source["meta"].get("arch", "conv") if source else "conv")
    if source is not None:
        config = config or checkpoint_config(source["meta"])
        ae_path = source["autoencoder_folder"] if ae_path is None else ae_path
    ae, config = autoencoder_for_run(out, ae_path, meta, config)
    check_corpus_matches(ae.meta, corpus, "the autoencoder")  # (refusals before any warning: a refused run warns of nothing)
    check_closing(config, arch, fresh=meta is None and source is None)
    if source is not None and source["meta"]["autoencoder"]["weights_sha256"] != ae.weights_sha256:
        raise ValueError(f"--init-from {init_from}: it was trained over another autoencoder than {ae_path}; "
                         "leave out --ae to train over its own")
    saved_steps = config.gan.steps  # (a resumed run's own, before --steps)
    config = config.override({"gan.steps": steps, "gan.compile": compile_model,  # None leaves a setting as it is
                              "gan.device": device})
    g = config.gan
    arm_class = arch_class(arch)
    check_arm_class(arm_class)  # (before the run's folder is made)
    if source is not None:  # (before the run's folder is made: --overwrite deletes the run there)
        check_warm_start_fits(source, arm_class, config, ae.model.latent, init_from)
    ranks, device_name = from_environment(g.device)
    device = pick_device(device_name)
    if not resume:
        start_run_folder(out, overwrite=overwrite, ranks=ranks, reads={
            "the corpus": corpus.root, "the warm start": source["folder"] if source else None,
            "the autoencoder": resolve_model(ae_path, "--ae")})
    warn_unread_settings(arch, settings_given or [])  # (after every refusal, the run folder's: a refused run warns of nothing)
    if meta and steps is not None and steps != saved_steps and arch in ("ar", "events") and meta.get("step", 0) < steps:
        # (a run already at --steps trains nothing, said below: no learning rate of its jumps)
        log.warning("--steps %d: the learning rate's schedule (cosine decay to 10 %% at the last step) now runs to "
                    "step %d, not %d, so at step %d the learning rate jumps (with more steps, up: a warm restart); "
                    "--steps %d goes on exactly",
                    steps, steps, saved_steps, meta.get("step", 0), saved_steps)
    if arch in ("ar", "events") and (meta or {}).get("step", 0) < config.gan.steps < WARMUP_STEPS:
        log.warning("--steps %d ends within the learning rate's %d-step warm-up: it rises only to %.2g (ar.lr %g) and "
                    "never decays; give --steps above %d for the whole schedule", config.gan.steps, WARMUP_STEPS,
                    config.ar.lr * config.gan.steps / WARMUP_STEPS, config.ar.lr, WARMUP_STEPS)
    if not resume and ranks.main:  # the run keeps its own copy of the starting autoencoder; checkpoints name it by hash
        write_checkpoint(out, "autoencoder", ae.meta, {"pisa": ae.model})
    ranks.barrier()
    base_sha = ae.weights_sha256
    ae.model.to(device)

    # frozen: every chunk encoded once (cached); fine-tuning: encoded once only to fit the normaliser,
    # which then stays fixed so that the generator's output scale does not move under it
    train_rows = split_rows(corpus, "train")
    latents = cached_latents(ae, corpus, out) if meta is None or not g.finetune_ae else None  # [C, L]
    normaliser = Normaliser.from_dict((meta or source["meta"])["normaliser"]) if meta or source else \
        Normaliser.fit(latents[train_rows])
    book_rows = codebook_rows(train_rows, seed=g.seed)  # nearest real chunks, for snapped decoding
    if arm_class.snaps and ranks.main and not g.finetune_ae and not (out / CODEBOOK).is_file():
        write_codebook(out / CODEBOOK, torch.from_numpy(latents[book_rows]))
    cached = None if g.finetune_ae else normaliser.forward(torch.from_numpy(latents).to(device))  # [C, L]
    real_latents = RealLatents(corpus, ae, normaliser, cached, ranks)

    torch.manual_seed(g.seed)
    model: SequenceModel = arm_class(config, ae.model.latent, device)
    if not isinstance(getattr(model, "generator", None), torch.nn.Module):  # (sampling's; an AttributeError at the
        # first periodic sample)
        raise ValueError(f"the {arch} arm ({arm_source(arm_class)}) keeps no `generator` module, which sampling "
                         "reads (sequence/base.py's SequenceModel)")
    model.attach(LatentData(corpus, real_latents, ranks, device, g.finetune_ae))
    trained, optimizers = model.trained(), model.optimizers()
    averaged = averaged_modules(model)  # saved and restored beside the trained modules, without an optimizer
    if source is not None:
        copied, fresh = load_matching(source["folder"], trained | averaged)  # (some fit: check_warm_start_fits, where
        if copied == 0:  # it could build the arm before attach; here for one it could not)
            raise ValueError(none_fit(init_from))
        for key, module in averaged.items():  # a source without its weight average (a shipped model): start it here
            if not (source["folder"] / f"{key}.safetensors").is_file():
                module.load_state_dict(model.generator.state_dict())
        log.log(logging.WARNING if fresh else logging.INFO, "warm start from %s: %d tensors copied; fresh: %s",
                init_from, copied, ", ".join(fresh) or "none")
    if g.finetune_ae:
        trained, optimizers = trained | {"autoencoder": ae.model}, optimizers | {
            "autoencoder": torch.optim.Adam(ae.model.parameters(), lr=g.ae_lr)}
    rng = torch.Generator().manual_seed(g.seed)
    step, best, said_not_finite = 0, math.inf, False
    best_key = f"best_{model.held_out_key}"
    if meta is not None:
        restore_training(out / "last", meta, trained | averaged, optimizers)
        state = load_rng(out / "last")
        rng.set_state(state.get("batches", next(iter(state.values()), None)))  # older runs: "windows"/"sequences"
        step, best = meta["step"], meta[best_key]
    if g.compile:  # in place: the state dict keeps its names
        model.compile()
    ae_val_rows = None
    if g.finetune_ae:  # a fixed sample of validation chunks
        rows = split_rows(corpus, "validation")
        rows = rows if rows.size else train_rows
        order = torch.randperm(rows.size, generator=torch.Generator().manual_seed(g.seed + 3))
        ae_val_rows = torch.from_numpy(rows)[order[:AE_VALIDATION_CHUNKS]]
    metrics = MetricsLog(out / "metrics.jsonl", resumed_at=step if meta else None)
    figures = TrainingFigures(meta.get("figures_since_logged") if meta else None)  # a line's means go on over a resume
    trained_seconds = meta["trained"]["seconds"] if meta else 0.0
    initialised_from = meta.get("initialised_from") if meta else (
        {"model": str(init_from), "step": source["meta"].get("step")} if source else None)
    tuned_at: dict[int, tuple[CodebookWeights, str]] = {}  # step → (codebook, hash): `best` and `last` share them

    def save(name: str) -> None:
        if not ranks.main:
            return
        models, tuned = trained | averaged | kept_modules(model), {}
        if g.finetune_ae:  # the tuned autoencoder, and the codebook its own encoder gives (50k chunks encoded)
            if step not in tuned_at:
                tuned_at.clear()
                book = CodebookWeights(real_latents.encode(torch.from_numpy(book_rows))) if model.snaps else None
                tuned_at[step] = (book, weights_hash(ae.model))
            book, tuned_sha = tuned_at[step]
            models, tuned = models | ({"codebook": book} if book is not None else {}), {"finetuned_sha256": tuned_sha}
        write_checkpoint(out, name, {
            "kind": "gan", "arch": arch, "config": config.to_dict(), "normaliser": normaliser.to_dict(),
            "step": step, best_key: best, "figures_since_logged": figures.to_dict(),
            "autoencoder": {"weights_sha256": base_sha} | tuned,
            "corpus": {"root": str(corpus.root), "key": corpus.manifest["key"], "content": corpus.content_key,
                       "tracks": corpus.num_tracks,
                       "hours": sum(t["duration_s"] for t in corpus.tracks) / 3600},
            **({"initialised_from": initialised_from} if initialised_from else {}),
            "trained": {"steps": step, "seconds": trained_seconds + budget.seconds(), "device": str(device),
                        "world_size": ranks.world}},
            models, optimizers, {"batches": rng.get_state()})

    budget = Budget(max_steps, max_seconds)
    if resume and step >= g.steps and ranks.main:  # (said before any bar: a full one drawn around it said nothing)
        log.warning("%s is already at step %d of %d; nothing to train (give --steps above %d to train on)",
                    out, step, g.steps, step)
    bar = tqdm(total=g.steps, initial=step, desc=f"train {arch} ({where_words(device)})", unit="step",
               disable=not (progress and ranks.main) or step >= g.steps)
    last: dict = {}
    with held_interrupts() as interrupted:  # Ctrl-C held to a step's end: a whole step saved
        try:
            while step < g.steps:
                record, step_start = {}, time.perf_counter()
                for update in model.updates(step, rng):
                    if update.part not in optimizers:  # (a KeyError's traceback)
                        raise ValueError(f"the {arch} arm ({arm_source(type(model))}): an update names the part "
                                         f"{update.part!r}, which is none of its optimizers(): "
                                         f"{', '.join(name for name in optimizers if name != 'autoencoder')}")
                    apply(update, trained, optimizers, ranks)
                    record |= update.metrics
                    if update.ae_loss is not None:
                        record["ae_loss"] = float(update.ae_loss.detach()) * ranks.world / max(g.ae_weight, 1e-12)
                not_finite = [key for key, value in record.items() if not math.isfinite(value)]
                if ranks.agree(bool(not_finite))[0]:  # (every rank stops; nothing saved)
                    raise diverged(out, step + 1, f"{not_finite[0]} is {record[not_finite[0]]}" if not_finite
                                   else "on another rank")
                step += 1
                figures.add(record, time.perf_counter() - step_start)
                bar.update()
                if step % 10 == 0:
                    bar.set_postfix({key: f"{value:.4g}" for key, value in list(record.items())[:3]})
                if ranks.main and g.sample_every and step % g.sample_every == 0:  # before `last` is saved: a run
                    # killed between the two goes on from the step before and writes them again, never skips them
                    write_samples(model, normaliser, ae, out / "samples" / f"step_{step:06d}", g.seed + 1)
                validating = step % g.validate_every == 0 or step == g.steps
                if ranks.main and g.log_every and step % g.log_every == 0 and not validating:
                    metrics.write({"step": step} | figures.line())
                if ranks.main and validating:
                    last = {"step": step} | figures.line() | held_out(model, real_latents, ae_val_rows)
                    if model.held_out_key not in last:  # (a KeyError's traceback, at the first validation)
                        raise ValueError(f"the {arch} arm ({arm_source(type(model))}) has no figure named its "
                                         f"held_out_key {model.held_out_key!r} from held_out() or its updates' "
                                         f"metrics: {', '.join(key for key in last if key != 'step')}")
                    metrics.write(last)
                    score = last[model.held_out_key]
                    if not (math.isfinite(score) or said_not_finite):  # (no best is ever kept: say why, once)
                        said_not_finite = True
                        log.warning("%s: the held-out %s is %s at step %d, so no RUN/best is kept%s", out,
                                    model.held_out_key, score, step, NO_VALIDATION if
                                    corpus.tracks_in("validation").size == 0 else "")
                    score = score if getattr(model, "held_out_signed", False) else abs(score)
                    if score < best:
                        best = score
                        save("best")
                    save("last")
                if step < g.steps and budget.spent(step, ranks):  # (one spent at the last step: the run is complete)
                    save("last")
                    bar.close()  # (the warning on a line of its own, not appended to the progress bar)
                    if ranks.main:
                        metrics.write({"event": "stopped", "step": step})
                        log.warning("stopped early (its time or steps are up): saved %s/last at step %d of %d; --resume %s "
                                    "trains on%s", out, step, g.steps, out, "" if last or math.isfinite(best) else (
                                        f"; it has not validated yet (every {g.validate_every} steps), so it has no "
                                        "best checkpoint and no validation figures"))  # (a resumed run's: from before)
                    # (the figures of the last validation under their own step, not beside the step stopped at)
                    return {"step": step, "stopped": True} | ({"last_validation": last} if last else {})
                interrupted(ranks)  # (a Ctrl-C during the step: raised here, at its end, on every rank)
        except StopNow:
            log.warning(STOPPED_AT_ONCE, out)
            raise
        except KeyboardInterrupt as e:
            save("last")
            ranks.barrier()  # (no rank ends, and has the others stopped, before the first has saved)
            bar.close()
            if ranks.main:  # (the log says where the run stopped, as a --max-minutes stop does)
                metrics.write({"event": "interrupted", "step": step})
                log.warning("interrupted%s: saved %s/last at step %d", stopped_by(e), out, step)
            raise
        finally:
            bar.close()
        try:
            interrupted(ranks)  # (one during the last step: the run is complete and saved)
        except KeyboardInterrupt as e:
            if ranks.main:
                metrics.write({"event": "interrupted", "step": step})
                log.warning(ENDED_INTERRUPTED, stopped_by(e), out)
            raise
    return last


def apply(update: Update, trained: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
          ranks: Dist) -> None:
    """One optimizer step of `update.part`; with fine-tuning (`ae_loss`) the autoencoder's step from the same
    backward pass. Gradients are averaged over the ranks (each loss is its rank's share, pre-scaled)."""
    optimizer = optimizers[update.part]
    optimizer.zero_grad(set_to_none=True)
    if update.ae_loss is None:
        update.loss.backward()
    else:
        optimizers["autoencoder"].zero_grad(set_to_none=True)
        (update.loss + update.ae_loss * ranks.world).backward()
        ranks.average_gradients(trained["autoencoder"].parameters())
        optimizers["autoencoder"].step()
    ranks.average_gradients(trained[update.part].parameters())
    optimizer.step()


@torch.no_grad()
def held_out(model: SequenceModel, real_latents: RealLatents, ae_val_rows: torch.Tensor | None) -> dict:
    """The arm's held-out figures, and with fine-tuning the autoencoder's loss on fixed validation chunks."""
    modules = [m for m in model.trained().values() if m is not None]
    for m in modules:
        m.eval()
    result = model.held_out()
    for m in modules:
        m.train()
    if ae_val_rows is not None:
        result["ae_val_loss"] = real_latents.reconstruction_loss(ae_val_rows)
    return result


@torch.no_grad()
def write_samples(model: SequenceModel, normaliser: Normaliser, ae: Autoencoder, folder: Path, seed: int) -> None:
    """SAMPLES_PER_CHECK pieces from a fixed seed as MIDI, so that progress can be heard."""
    model.generator.eval()
    x, lengths = model.sample(SAMPLES_PER_CHECK, model.preview_chunks(ae.chunk_seconds), seed)  # [S, T, L], [S]
    model.generator.train()
    pieces = [piece[:length] for piece, length in zip(normaliser.inverse(x), lengths.tolist())]
    for i, events in enumerate(sampled_events(model, ae, pieces)):
        write_events(events, folder / f"sample_{i}.mid")
