"""Screenshot a rendered report page with headless Chromium (for the README).

    python -m reports.screenshot OUT.png PAGE.html [--width 1200] [--max-height 2000] [--dark]

Opens ``PAGE.html`` from disk with no network (see :mod:`reports.browser`), fails if the page made
any network request or logged an error, and writes a PNG of its top ``--max-height`` pixels.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reports.browser import CHROMIUM, Chromium


def main(argv: list[str] | None = None) -> int:
    """Write the screenshot; exit 1 (and write nothing) if the page broke a report promise."""
    parser = argparse.ArgumentParser(prog="python -m reports.screenshot", description=__doc__)
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("page", type=Path, help="a rendered report page (.html)")
    parser.add_argument("--width", type=int, default=1200, help="viewport width in CSS pixels")
    parser.add_argument("--max-height", type=int, default=2000, help="crop to this many pixels")
    parser.add_argument("--dark", action="store_true", help="prefers-color-scheme: dark")
    parser.add_argument("--chromium", default=CHROMIUM, help="the Chromium executable")
    args = parser.parse_args(argv)
    page_path = args.page.resolve()
    if not page_path.is_file():
        parser.error(f"{page_path} does not exist")
    with Chromium(args.chromium) as browser:
        page = browser.open(
            page_path.as_uri(),
            width=args.width,
            height=min(args.max_height, 1000),
            color_scheme="dark" if args.dark else "light",
        )
        problems = page.log.problems()
        if problems:
            print("the page is not clean:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        page.screenshot(args.out, max_height=args.max_height)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
