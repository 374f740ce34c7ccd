"""``condense report DIR``: one self-contained HTML page of any folder the package writes."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write DIR/report.html: settings, results beside the baseline and the paper, curves, images",
        description=(
            "Write one self-contained report.html (images embedded, no network or JavaScript needed) for the "
            "--out directory of 'condense distill' (settings, result beside random real images and the paper, "
            "curves, the images at each evaluation point; also a run still in progress), 'condense coreset', "
            "'condense ablate' or 'condense reproduce' (the table beside the paper's figures, the chart, each row's "
            "images), 'condense continual' (accuracy per step, memory cost, class order) or 'condense nas' (each "
            "proxy's rank correlation, top-1 and cost, every candidate). The kind is detected from the files."
        ),
    )
    p.add_argument("directory", type=Path, metavar="DIR", help="a run, coreset, ablation, reproduce, continual or nas directory")
    p.add_argument("-o", "--output", type=Path, default=None, help="HTML file to write, or a directory to write report.html into (default: DIR/report.html)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..report import write_report

    print(f"wrote {write_report(args.directory, args.output)}")
    return 0
