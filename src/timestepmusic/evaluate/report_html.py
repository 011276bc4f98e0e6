"""report.html: a report (the dict report.json holds) as one self-contained page, every figure and sound embedded
as a data URI (or the sounds linked, with --link-audio)."""
from __future__ import annotations

import base64
import html
import math
import os
from pathlib import Path
from urllib.parse import quote

import numpy as np

from .comparison import BASELINE, CEILING, GENERATED, TRAINING, folds_unit
from .descriptors import DESCRIPTOR_MEANING, DESCRIPTORS, SCALAR_DESCRIPTORS
from .stale import stale_banner

CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}
.note{color:#8a5a00}.flag{background:#fdd}.sample{margin:1.5em 0}"""


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, float):
        if abs(value) < 1e-9:  # numerical zero (a KL of 1e-18 between identical densities)
            return "0"
        return f"{value:.{digits}g}" if abs(value) >= 1e-3 else f"{value:.1e}"
    return html.escape(str(value))


def _data_uri(path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode('ascii')}"


def _descriptor_table(report: dict) -> str:
    rows = report["rows"]
    head = ["<tr><th rowspan=2>descriptor</th><th rowspan=2>unit</th><th rowspan=2>real mean ± sd</th>"]
    head += [f"<th colspan=3>{html.escape(r)}</th>" for r in rows] + [f"<th colspan=2>ceiling: {CEILING}</th></tr><tr>"]
    head += ["<th>mean ± sd</th><th>overlap</th><th>KL</th>"] * len(rows) + ["<th>overlap</th><th>KL</th></tr>"]
    body = []
    for name in SCALAR_DESCRIPTORS:
        d = report["descriptors"][name]
        cells = [html.escape(d["label"]), html.escape(d["unit"]), f"{_fmt(d['real']['mean'])} ± {_fmt(d['real']['std'])}"]
        for r in rows:
            c = d["rows"][r]
            cells += [f"{_fmt(c['mean'])} ± {_fmt(c['std'])}", _fmt(c["overlap"]), _fmt(c["kl"])]
        cells += [_fmt(d["ceiling"]["overlap"]), _fmt(d["ceiling"]["kl"])]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    def mean_overlap(overlaps) -> str:  # over the descriptors where it is defined, as the README's target reads it
        finite = [v for v in overlaps if v is not None and math.isfinite(v)]
        return f"<b>{_fmt(float(np.mean(finite)))}</b>" if finite else "—"

    described = report["descriptors"]
    means = [mean_overlap(described[n]["rows"][r]["overlap"] for n in SCALAR_DESCRIPTORS) for r in rows]
    body.append(f"<tr><td colspan=3><b>mean overlap</b> over the {len(SCALAR_DESCRIPTORS)} descriptors</td>"
                + "".join(f"<td></td><td>{m}</td><td></td>" for m in means)
                + f"<td>{mean_overlap(described[n]['ceiling']['overlap'] for n in SCALAR_DESCRIPTORS)}</td><td></td></tr>")
    return "<table id=descriptors>" + "".join(head) + "".join(body) + "</table>"


def _descriptor_meanings() -> str:
    """What each descriptor measures, in plain words, under the table."""
    items = "".join(f"<li><b>{html.escape(DESCRIPTORS[n][0])}</b>: {html.escape(DESCRIPTOR_MEANING[n])}</li>"
                    for n in SCALAR_DESCRIPTORS)
    return f"<h3>What each descriptor measures (in each excerpt)</h3><ul id=meanings>{items}</ul>"


def _spread(c: dict) -> str:
    """An accuracy, with its spread over the draws where it is a mean of several."""
    sd = c.get("accuracy_sd")
    if c.get("why"):  # no accuracy, and why (the trees on too few excerpts)
        return f"— ({html.escape(c['why'])})"
    return _fmt(c.get("accuracy")) + (f" ± {_fmt(sd)}" if c.get("repeats", 1) > 1 and sd is not None else "")


def _folds_said(classifier: dict, unit: str = "performance") -> str:
    """How the classifiers' folds fell: each real `unit` (piece or performance: comparison.folds_unit) and generated
    file whole, and the rows where it could not be (reports before the forty-eighth session say nothing of it)."""
    if not any("folds_grouped" in c for c in classifier.values()):
        return ""
    ungrouped = [html.escape(row) for row, c in classifier.items() if c.get("folds_grouped") is False]
    kept, siblings = (("piece (all its performances) and each generated file", "its siblings or on another "
                       "performance of its piece") if unit == "piece"
                      else ("performance (and each generated file)", "its siblings"))
    return (f" The folds keep each {kept} whole, so that no excerpt is tested by a classifier that trained on {siblings}"
            + (f"; except in the row{'s' * (len(ungrouped) > 1)} {' and '.join(ungrouped)}, where one side is a single "
               f"{unit} or file" if ungrouped else "") + ".")


def _p_said(classifier: dict, unit: str = "performance") -> str:
    """What the p-values count: whole `unit`s (pieces or performances) and generated files since the forty-ninth
    session (reports before it tested the excerpts as independent, and say nothing of it)."""
    if not any("p_groups" in c for c in classifier.values()):
        return ""
    return (f" Each p-value counts {unit}s and generated files, not excerpts: excerpts of one {unit} are "
            f"told right or wrong together, so the test flips the sign of each {unit}'s (and file's) excess over "
            "chance as one.")


def _p(value) -> str:
    """A p-value as the console says it: below 0.001 it is past what the test resolves (a 1e-4 is its floor)."""
    return "&lt; 0.001" if isinstance(value, float) and math.isfinite(value) and value < 0.001 else _fmt(value)


def _classifier_section(report: dict) -> str:
    trees = report.get("classifier_trees", {})  # absent from reports written before the trees test
    rows = []
    for row, c in report["classifier"].items():
        t = trees.get(row, {})
        rows.append(f"<tr><td>{html.escape(row)}</td><td>{_spread(c)}</td><td>{_p(c['p_value'])}</td>"
                    f"<td>{_spread(t)}</td><td>{_p(t.get('p_value'))}</td><td>{c['n_per_class']}</td></tr>")
    repeats = next(iter(report["classifier"].values()), {}).get("repeats", 1)
    averaged = (f" Each accuracy is the mean over {repeats} draws of which real excerpts balance the classes and how "
                "the folds fall (± their spread)." if repeats > 1 else "")
    averaged += _folds_said(report["classifier"], folds_unit(report)) + _p_said(report["classifier"], folds_unit(report))
    return ("<h2>Classifier two-sample tests</h2><p>Cross-validated accuracy of two classifiers telling the set from "
            "real excerpts by their descriptors (0.5 = indistinguishable, 1 = always told apart): a logistic regression "
            "and gradient-boosted trees, which also catch what no straight boundary separates. <b>Lower is better</b>: "
            f"the nearer both come to the {CEILING} row (two halves of real music, near 0.5), the harder the set is to "
            f"tell from real playing; the {BASELINE} row (near 1) is what a trivial generator scores. An accuracy below "
            "0.5 is not more real than real: read it as 0.5, and well below it as a set that shares music with the real "
            "excerpts (real files of the split it is compared with, for one). "
            "p (acc &gt; 0.5): how often an accuracy this far above 0.5 would come by chance were the set and the real "
            f"excerpts alike; a p near 0.05 is weak evidence, &lt; 0.001 a clear difference.{averaged}</p>"
            "<table id=classifier><tr><th rowspan=2>set</th><th colspan=2>logistic</th>"
            "<th colspan=2>boosted trees</th><th rowspan=2>excerpts per class</th></tr><tr><th>accuracy</th>"
            "<th>p (acc &gt; 0.5)</th><th>accuracy</th><th>p (acc &gt; 0.5)</th></tr>" + "".join(rows) + "</table>")


def _copy_section(copies: dict) -> str:
    if "generated" not in copies:
        return ""
    ref, esc = copies["real_reference"], html.escape
    transposed = ", any transposition up to ±5 semitones" if copies["transpose"] else ""
    rows = "".join(f"<tr{' class=flag' if c['flagged'] else ''}><td>{esc(c['excerpt'])}</td><td>{_fmt(c['similarity'])}</td>"
                   f"<td>{esc(c['nearest'])}</td><td>{_fmt(c['nearest_start_s'])}</td><td>{c['transpose']}</td></tr>"
                   for c in copies["generated"])
    return (f"<h2>Copy check</h2><p>Nearest chunk-aligned window of the {esc(copies['train_split'])} split by cosine "
            f"similarity of binary onset rolls (88 keys × chunks){transposed}; flagged at ≥ {_fmt(copies['threshold'])}: "
            f"<b>{copies['flagged']}</b> of {len(copies['generated'])}. For reference, real {esc(ref['split'])} "
            f"excerpts reach median {_fmt(ref['median'])}, max {_fmt(ref['max'])} ({ref['n']} excerpts).</p>"
            "<table id=copies><tr><th>excerpt</th><th>similarity</th><th>nearest training excerpt</th><th>at (s)</th>"
            f"<th>transpose</th></tr>{rows}</table>")


def _set_said(name: str, report: dict) -> str:
    """What a row of the excerpts table is, in a few words."""
    seconds, split = _fmt(report["seconds"]), html.escape(report["split"])
    said = {GENERATED: f"the files of {html.escape(str(report['generated_dir']))}, each cut into excerpts of {seconds} s",
            BASELINE: f"the floor: a trivial generator, {seconds} s of the corpus's short real chunks (a model's steps) from the "
                      f"{html.escape(report.get('train_split', 'train'))} split drawn at random and laid side by side "
                      "(real sounds, no continuity); any model should be far nearer real than this",
            TRAINING: f"real excerpts of the {html.escape(report.get('train_split', 'train'))} split, as many as the "
                      "generated ones: what a model that had learnt that split exactly would score here (where the "
                      "splits' music differs, told apart above 0.5)",
            "real A": f"one half of the real excerpts (split by {folds_unit(report)}) …",
            "real B": "… and the other: compared with each other, the ceiling (as alike as two sets of real music come)"}
    if name.startswith("real ("):
        return f"excerpts of {seconds} s of every performance of the {split} split: what each set is compared with"
    return said.get(name, "")


def render_html(report: dict) -> str:
    """The report as one HTML page, every image and sound inside it."""
    esc = html.escape
    stale = stale_banner(report["stale"]) if report.get("stale") else ""  # (tsm generate --overwrite replaced its files)
    parts = [f"<!doctype html><html><head><meta charset=utf-8><title>TimeStepMusic evaluation</title>"
             f"<style>{CSS}</style></head><body>{stale}<h1>Generated vs real: {esc(report['generated_dir'])}</h1>",
             f"<p>{report['files']['read']} generated file(s) read; real excerpts: the <b>{esc(report['split'])}</b> "
             f"split of {esc(report['corpus'])}; excerpts of {_fmt(report['seconds'])} s.</p>",
             "<table id=sets><tr><th>set</th><th>excerpts</th><th>what it is</th></tr>"
             + "".join(f"<tr><td>{esc(k)}</td><td>{v}</td><td>{_set_said(k, report)}</td></tr>"
                       for k, v in report["excerpts"].items()) + "</table>"]
    parts += [f"<p class=note>{esc(n)}</p>" for n in report["notes"]]
    if report["files"]["bad"]:
        parts.append("<h2>Files that could not be read</h2><ul>" + "".join(
            f"<li>{esc(b['file'])}: {esc(b['reason'])}</li>" for b in report["files"]["bad"]) + "</ul>")
    if report["files"].get("left_out"):  # (absent from reports written before it was said)
        parts.append("<h2>Notes left out of the files read</h2><p>Only the piano's notes are described; these files "
                     "hold others, which no descriptor counts:</p><ul>" + "".join(
                         f"<li>{esc(b['file'])}: {esc(b['notes'])}</li>" for b in report["files"]["left_out"]) + "</ul>")
    parts += ["<h2>Descriptors</h2><p>Each descriptor (listed under the table) is measured in every excerpt; the "
              "table compares how its values spread over the real excerpts with how they spread over each set's. "
              "<b>Overlap</b>: the area two smoothed histograms (Gaussian-KDE densities) share, from 0 (nothing in "
              "common) to 1 (the same distribution): <b>higher is better</b>. <b>KL</b>(real ‖ set), in nats: how "
              "poorly the set's distribution accounts for the real one, from 0 (the same) up: <b>lower is "
              "better</b>. A value of exactly 0 (a pedal never pressed) is compared as a point mass beside the "
              f"densities. The {BASELINE} columns show how far off a trivial generator is; the last two, the ceiling, "
              f"compare two halves of the real excerpts (split by {folds_unit(report)}): as alike as two sets of real music "
              "come. Mean ± sd: the descriptor's mean and standard deviation over the excerpts, in its unit.</p>",
              _descriptor_table(report), _descriptor_meanings()]
    parts.append(_classifier_section(report))
    parts.append(_copy_section(report["copies"]))
    densities = _data_uri(report["figures"]["densities"], "image/png")
    parts.append("<h2>Densities</h2><p>One panel per descriptor: how its values spread over the excerpts of each set "
                 "(smoothed histograms, so that a curve may run a little past a bound, a share above 1). <b>The nearer "
                 f"a set's curve lies to the real excerpts' (black, first in the legend), the better</b>; {BASELINE}, the "
                 "floor, shows where a trivial generator lies (the ceiling's two real halves are not drawn: the "
                 "table's last two columns). Where some "
                 "excerpts are exactly 0 (a pedal never pressed), they are counted apart, and the curves are of the "
                 "others: <i>at 0: a / b / c</i> gives each set's share of them, in the legend's order.</p>"
                 f"<img alt='descriptor densities' src='{densities}'>")
    shown = len(report["samples"])
    parts.append(f"<h2>Samples</h2><p>The first {shown} of the {report['files']['read']} generated files, as piano "
                 "rolls (keys by time, velocity as colour, the pedals' depth underneath).</p>" if shown
                 else "<h2>Samples</h2>")
    for s in report["samples"]:
        if s["audio"] and report.get("link_audio"):
            # (a URL: a '#' in a file's name would end its path there, a '%20' be read as a space)
            src = esc(quote(Path(os.path.relpath(s["audio"], report["out_dir"])).as_posix()))
        elif s["audio"]:
            src = _data_uri(s["audio"], "audio/wav")
        audio = (f"<audio controls src='{src}'></audio>" if s["audio"] else f"<p class=note>{esc(s['audio_note'])}</p>")
        parts.append(f"<div class=sample><h3>{esc(s['file'])}</h3>{audio}"
                     f"<img alt='piano roll of {esc(s['file'])}' src='{_data_uri(s['roll'], 'image/png')}'></div>")
    if report["training"]:
        parts.append("<h2>Training</h2>")
        for c in report["training"]:
            parts.append(f"<h3>{esc(c['run'])}</h3>" + (
                f"<img alt='training curves' src='{_data_uri(c['figure'], 'image/png')}'>" if c["figure"]
                else f"<p class=note>{esc(c['note'])}</p>"))
    return "\n".join(parts + ["</body></html>"])
