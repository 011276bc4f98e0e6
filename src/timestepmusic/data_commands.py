"""`tsm prepare`, `tsm stats` and `tsm data check`: performances made into a corpus, a corpus's statistics, and
downloaded data checked before it is prepared. Thin over the API; heavy imports happen inside each command so that
`tsm --help` stays fast."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config_flags import config_from_flags


def cmd_prepare(args: argparse.Namespace) -> int:
    from .prepare_corpus import prepare
    from .stats import corpus_stats, format_stats, hours_said

    config = config_from_flags(args, {"chunk_seconds": "chunks.chunk_seconds", "max_events": "chunks.max_events",
                                      "pedal_bins": "events.pedal_bins", "workers": "corpus.workers"})
    missing = [source for source in args.sources if not Path(source).exists()]
    if missing:  # a source named on the command line, not a file found in one: a typo, said before anything is done
        raise ValueError(f"{missing[0]}: no such file or folder" + (f" (nor {', '.join(missing[1:])})"
                                                                   if len(missing) > 1 else "")
                         + "; nothing was prepared")
    report = prepare(args.sources, args.out, config, progress=not args.quiet)
    c = report.corpus
    if c.num_tracks == 0:
        for s in report.skipped:
            print(f"error: {s['file']}: {s['reason']}", file=sys.stderr)
        print(f"error: no usable performance in {', '.join(map(str, args.sources))}", file=sys.stderr)
        return 1
    for s in report.skipped:
        print(f"skipped {s['file']}: {s['reason']}", file=sys.stderr)
    hours = sum(t["duration_s"] for t in c.tracks) / 3600
    how = "reused cached corpus" if report.reused else f"parsed {report.parsed} file(s), {report.from_cache} from cache"
    print(f"{args.out}: {c.num_tracks} performances, {hours_said(hours)}, {int(c.ids.size):,} events, "
          f"{int(c.chunk_event_ptr.size - 1):,} chunks; {len(report.skipped)} skipped; {how} in {report.seconds:.2f} s")
    if not args.quiet:
        print(format_stats(corpus_stats(c)))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from .corpus import Corpus
    from .stats import corpus_stats, format_stats

    stats = corpus_stats(Corpus.open(args.corpus))
    print(json.dumps(stats, indent=1) if args.json else format_stats(stats))
    return 0


def cmd_data_check(args: argparse.Namespace) -> int:
    from .datacheck import check_data

    result = check_data(args.folder)
    print(json.dumps(result.to_dict(), indent=1) if args.json else result.format())
    return 0 if result.ok else 1
