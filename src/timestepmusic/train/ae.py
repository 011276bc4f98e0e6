"""Train the PISA autoencoder on a corpus: batches by tensor gathers, validation each epoch,
`last` and `best` checkpoints, metrics log, and resume that replays the same batches exactly.

Resume is exact because everything random is derived from (seed, epoch, batch): the chunk order of
an epoch and the augmentation of a batch. A checkpoint records the next batch to run.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ..batches import ChunkGatherer, batch_generator, epoch_order
from ..checkpoint import read_meta, restore_training, start_run_folder, write_checkpoint
from ..checks import check_corpus_matches, check_resumed_corpus
from ..config import Config
from ..corpus import Corpus
from ..devices import pick_device, rng_kept, where_words
from ..encoding import Encoding
from ..pisa import PISA
from .ae_validation import validate
from .budget import Budget
from .distributed import from_environment
from .interrupts import ENDED_INTERRUPTED, STOPPED_AT_ONCE, StopNow, diverged, held_interrupts, stopped_by
from .log import MetricsLog, TrainingFigures

log = logging.getLogger(__name__)


def read_run(out: Path) -> dict:
    """The metadata of RUN/last, to resume it."""
    folder, meta = read_meta(out / "last")
    if meta.get("kind") != "autoencoder":
        raise ValueError(f"{folder}: not an autoencoder run")
    return meta


@rng_kept  # training seeds torch's global stream (dropout, initial weights): a caller's is kept
def train_autoencoder(corpus_path: str | Path, out: str | Path, config: Config | None = None, *,
                      resume: bool = False, progress: bool = True, max_steps: int | None = None,
                      max_seconds: float | None = None, epochs: int | None = None, lr: float | None = None,
                      compile_model: bool | None = None, checkpoint_s: float | None = None,
                      device: str | None = None, overwrite: bool = False) -> dict:
    """Train (or with `resume`, continue) a PISA run in `out`. Returns the last metrics.

    `max_steps` / `max_seconds` stop early after writing `last` (for tests and time-boxed runs);
    `epochs` extends or shortens a resumed run; `lr` changes the learning rate from here on;
    `compile_model` turns `ae.compile` on or off (a resumed run otherwise keeps its saved setting);
    `checkpoint_s` changes `ae.checkpoint_every_s` likewise, and `device` moves a resumed run (None: the run's
    own setting). A new run refuses a folder that holds one unless
    `overwrite` (which deletes it), as `tsm train-ae` does.
    """
    out = Path(out)
    corpus = Corpus.open(corpus_path)
    start_epoch = start_batch = step = 0
    best = math.inf
    running: float | None = None  # moving average of the training loss, over the whole run
    meta = None
    if resume:
        meta = read_run(out)
        check_corpus_matches(meta, corpus, f"run {out}")
        check_resumed_corpus(meta, corpus, out)
        config = Config.from_dict(meta["config"])
        start_epoch, start_batch, step, best = meta["epoch"], meta["batch"], meta["step"], meta["best_val_loss"]
        running = meta.get("train_loss")  # the moving average goes on where it stopped
    config = config or corpus.config
    if epochs is not None:
        config = config.override({"ae.epochs": epochs})
    config = config.override({"ae.lr": lr, "ae.compile": compile_model,  # None leaves a setting as it is
                              "ae.checkpoint_every_s": checkpoint_s, "ae.device": device})
    config = config.override({"chunks.chunk_seconds": corpus.config.chunks.chunk_seconds,
                              "chunks.max_events": corpus.config.chunks.max_events,
                              "events.pedal_bins": corpus.config.events.pedal_bins})
    ae = config.ae
    ranks, device_name = from_environment(ae.device)
    device = pick_device(device_name)
    progress = progress and ranks.main
    if not resume:
        start_run_folder(out, overwrite=overwrite, reads={"the corpus": corpus.root}, ranks=ranks)
    gatherer = ChunkGatherer(corpus, device=device)
    encoding = Encoding(config.encoding.encoding, corpus.chunk_seconds, corpus.duration_fit, config.encoding.durations,
                        config.encoding.time_weight)
    train_tracks, train_chunks = (torch.from_numpy(a).to(device) for a in corpus.chunk_index("train"))
    val_tracks, val_chunks = (torch.from_numpy(a).to(device) for a in corpus.chunk_index("validation"))
    if train_tracks.numel() == 0:
        raise ValueError(f"{corpus.root}: no chunks in the training split")
    if val_tracks.numel() == 0:
        log.warning("corpus %s has no validation split; validating on the training chunks", corpus.root)
        val_tracks, val_chunks = train_tracks, train_chunks

    torch.manual_seed(ae.seed)
    model = PISA(features=encoding.dim, max_events=corpus.max_events, latent=ae.latent, hidden=ae.hidden,
                 bounded=ae.bounded_values).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=ae.lr, fused=True)  # bench/train_ae.py: 2.4 → 1.0 ms a step
    if meta is not None:
        restore_training(out / "last", meta, {"pisa": model}, {"pisa": optimizer})
        for group in optimizer.param_groups:
            group["lr"] = ae.lr
    if ae.compile:  # in place, so the state dict keeps its names
        model.compile()
    use_amp = device.type == "cuda"
    metrics = MetricsLog(out / "metrics.jsonl", resumed_at=step if meta else None)
    figures = TrainingFigures(meta.get("figures_since_logged") if meta else None)  # a line's means go on over a resume

    def save(name: str, epoch: int, batch: int, extra: dict | None = None) -> None:
        if not ranks.main:  # one writer; the others wait at the next barrier
            return
        write_checkpoint(out, name, {
            "kind": "autoencoder", "config": config.to_dict(), "encoding": encoding.to_dict(),
            "model": model.sizes_of(), "epoch": epoch, "batch": batch, "step": step, "best_val_loss": best,
            "train_loss": running, "figures_since_logged": figures.to_dict(),
            "corpus": {"root": str(corpus.root), "key": corpus.manifest["key"], "content": corpus.content_key},
            "trained": {"steps": step, "device": str(device), "world_size": ranks.world} | (extra or {})},
            {"pisa": model}, {"pisa": optimizer})

    n = train_tracks.shape[0]
    batches_per_epoch = math.ceil(n / ae.batch_chunks)
    augment = config.augment
    budget = Budget(max_steps, max_seconds)
    last_save = time.perf_counter()
    last = {}
    if resume and start_epoch >= ae.epochs and ranks.main:
        log.warning("%s is already at epoch %d of %d; nothing to train (give --epochs above %d to train on)",
                    out, start_epoch, ae.epochs, start_epoch)
    model.train()
    with held_interrupts() as interrupted:  # Ctrl-C held to a batch's end: a whole batch saved
        for epoch in range(start_epoch, ae.epochs):
            order = epoch_order(n, ae.seed, epoch).to(device)
            bar = tqdm(range(start_batch, batches_per_epoch), desc=f"epoch {epoch + 1}/{ae.epochs} ({where_words(device)})",
                       unit="batch", disable=not progress, initial=start_batch, total=batches_per_epoch)
            window_start, window_chunks = time.perf_counter(), 0
            try:
                for b in bar:
                    interrupted(ranks)  # (a Ctrl-C during the batch before: raised here, at its end, on every rank)
                    step_start = time.perf_counter()
                    idx = order[b * ae.batch_chunks:(b + 1) * ae.batch_chunks]
                    stretch = shift = None
                    if augment.tempo_range > 0 or augment.transpose_semitones > 0:
                        stretch, shift = gatherer.random_augmentation(idx.shape[0], augment, batch_generator(ae.seed, epoch, b))
                    mine = ranks.shard(torch.arange(idx.shape[0], device=device))  # this rank's slice of the global batch
                    batch = gatherer.gather(train_tracks[idx[mine]], train_chunks[idx[mine]],
                                            None if stretch is None else stretch[mine], None if shift is None else shift[mine])
                    x = encoding.encode(batch.ids, batch.offset_s, batch.duration_s, batch.intensity)  # [B, N, D]
                    totals = ranks.global_sums(batch.sizes.sum(), mine.shape[0]) if ranks.active else None
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                        noise_generator = batch_generator(ae.seed + 1, epoch, b) if ae.latent_noise > 0 else None
                        loss, parts = model.loss(x, batch.sizes, encoding, ae.size_loss_weight, totals,
                                                 ae.latent_noise, noise_generator)
                    optimizer.zero_grad(set_to_none=True)
                    (loss * ranks.world).backward()
                    ranks.average_gradients(model.parameters())
                    optimizer.step()
                    step += 1
                    window_chunks += idx.shape[0]
                    step_figures = batch_figures(loss, parts)
                    value = step_figures["batch_loss"]
                    if ranks.agree(not math.isfinite(value))[0]:  # (every rank stops; nothing saved)
                        raise diverged(out, step, f"the loss is {value}" if not math.isfinite(value)
                                       else "on another rank")
                    running = value if running is None else 0.98 * running + 0.02 * value
                    figures.add(step_figures, time.perf_counter() - step_start)
                    if ranks.main and ae.log_every and step % ae.log_every == 0 and b + 1 < batches_per_epoch:
                        metrics.write({"step": step} | figures.line())  # (an epoch's last batch: in the epoch's line)
                    if b % 20 == 0:
                        rate = window_chunks / max(time.perf_counter() - window_start, 1e-9)
                        bar.set_postfix(loss=f"{running:.4f}", chunks_s=f"{rate:,.0f}")
                    # every rank must agree on stopping and saving
                    stop, due = ranks.agree(budget.spent_here(step), time.perf_counter() - last_save >= ae.checkpoint_every_s)
                    if stop or (due and b + 1 < batches_per_epoch):  # at an epoch's end, `last` follows validation
                        save("last", epoch, b + 1)
                        ranks.barrier()
                        last_save = time.perf_counter()
                    if stop:
                        bar.close()  # (the warning on a line of its own, not appended to the progress bar)
                        if ranks.main:
                            # (the epoch under way counted from 1, as the warning and the epochs' records count)
                            metrics.write({"event": "stopped", "epoch": epoch + 1, "batch": b + 1, "step": step,
                                           "train_loss": running})
                            log.warning("stopped early (its time or steps are up): saved %s/last at epoch %d of %d, batch "
                                        "%d of %d; --resume %s trains on%s", out, epoch + 1, ae.epochs, b + 1,
                                        batches_per_epoch, out, "" if math.isfinite(best) else
                                        "; it has not finished an epoch yet, so it has no best checkpoint")
                        return {"step": step, "epoch": epoch + 1, "batch": b + 1, "train_loss": running, "stopped": True}
            except StopNow:
                log.warning(STOPPED_AT_ONCE, out)
                raise
            except KeyboardInterrupt as e:  # at the start of batch b: b is not trained yet
                save("last", epoch, b)
                ranks.barrier()  # (no rank ends, and has the others stopped, before the first has saved)
                bar.close()
                if ranks.main:  # (the log says where the run stopped, as a --max-minutes stop does)
                    metrics.write({"event": "interrupted", "epoch": epoch + 1, "batch": b, "step": step})
                    log.warning("interrupted%s: saved %s/last at epoch %d batch %d", stopped_by(e), out, epoch + 1, b)
                raise
            finally:
                bar.close()
            start_batch = 0
            if not ranks.main:
                ranks.barrier()  # rank 0 validates and writes the checkpoints
                continue
            val = validate(model, gatherer, encoding, val_tracks, val_chunks, ae.size_loss_weight)
            elapsed = time.perf_counter() - window_start
            last = {"epoch": epoch + 1, "step": step, "train_loss": running, "val_loss": val["loss"],
                    "val_element_loss": val["element_loss"], "val_size_accuracy": val["size_accuracy"],
                    "chunks_per_s": window_chunks / max(elapsed, 1e-9), "seconds": budget.seconds()} | figures.line()
            metrics.write(last)
            log.info("epoch %d: %s", epoch + 1, last)
            if val["loss"] < best:
                best = val["loss"]
                save("best", epoch + 1, 0, {"val": val})
            save("last", epoch + 1, 0, {"val": val})
            ranks.barrier()
            last_save = time.perf_counter()
        try:
            interrupted(ranks)  # (one during the last batch or its validation: the run is complete and saved)
        except KeyboardInterrupt as e:
            if ranks.main:
                metrics.write({"event": "interrupted", "epoch": ae.epochs, "batch": 0, "step": step})
                log.warning(ENDED_INTERRUPTED, stopped_by(e), out)
            raise
    return last


def batch_figures(loss: torch.Tensor, parts: dict[str, torch.Tensor]) -> dict[str, float]:
    """One batch's figures for the metrics log's lines, read off the device in one transfer."""
    values = torch.stack([loss.detach(), parts["element"], parts["size"], parts["size_accuracy"]]).float().tolist()
    return dict(zip(("batch_loss", "batch_element_loss", "batch_size_loss", "batch_size_accuracy"), values))
