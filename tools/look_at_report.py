"""Render reports as images, to look at them as support staff would see them.

    python tools/look_at_report.py --demo            # demo reports from the test fixtures
    python tools/look_at_report.py FILE.html FILE.pdf

HTML files are opened in headless Chromium (screen view, and its print view as PDF pages);
PDF files are rendered page by page with pdftoppm. The PNGs go to --out (default
/tmp/connectcheck-look). Needs the Debian packages chromium and poppler-utils.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.report.fixtures for --demo
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]


def chromium(args: list[str]) -> None:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        raise SystemExit("chromium is not installed (apt-get install -y --no-install-recommends chromium)")
    with tempfile.TemporaryDirectory(prefix="look-profile-") as profile:
        subprocess.run(
            [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )


def crop_bottom(png: Path) -> None:
    """Cut the empty page background below the report (the window was made tall enough for it)."""
    from PySide6.QtGui import QImage

    image = QImage(str(png))
    background = image.pixel(2, image.height() - 2)
    bottom = image.height() - 1
    while bottom > 0 and all(image.pixel(x, bottom) == background for x in range(0, image.width(), 7)):
        bottom -= 1
    image.copy(0, 0, image.width(), min(image.height(), bottom + 24)).save(str(png))


def pdf_pages(pdf: Path, out: Path, stem: str, dpi: int) -> list[Path]:
    if shutil.which("pdftoppm") is None:
        raise SystemExit(
            "pdftoppm is not installed (apt-get install -y --no-install-recommends poppler-utils)"
        )
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(out / stem)], check=True, timeout=120)
    return sorted(out.glob(f"{stem}-*.png"))


def look_html(path: Path, out: Path, width: int) -> list[Path]:
    screen = out / f"{path.stem}.screen.png"
    chromium([f"--window-size={width},9000", f"--screenshot={screen}", path.resolve().as_uri()])
    crop_bottom(screen)
    printed = out / f"{path.stem}.print.pdf"
    chromium(["--no-pdf-header-footer", f"--print-to-pdf={printed}", path.resolve().as_uri()])
    return [screen, *pdf_pages(printed, out, f"{path.stem}.print", 70)]


def demo(out: Path) -> list[Path]:
    """Demo reports built from the test fixtures: a troubled lesson and a check on weak Wi-Fi."""
    from tests.report.fixtures import steam_check, troubled_lesson

    from connectcheck.config.settings import Settings
    from connectcheck.core.model import WifiInfo
    from connectcheck.report import build_check_report, build_lesson_report, export_report

    settings = Settings()
    settings.set("report.tutor_label", "Tutor 0427")
    wifi = WifiInfo(
        interface="wlp3s0",
        ssid="Home-5G",
        signal_dbm=-74.0,
        signal_pct=38.0,
        link_rate_mbps=58.0,
        frequency_mhz=5180.0,
    )
    reports = {
        "demo-lesson": build_lesson_report(troubled_lesson(), settings),
        "demo-check": build_check_report(steam_check(ssid="Home-5G", wifi=wifi), settings),
    }
    files = []
    for stem, report in reports.items():
        for ext in ("html", "pdf", "json"):
            files.append(export_report(report, out / f"{stem}.{ext}"))
    return files


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="*", type=Path, help=".html or .pdf reports")
    parser.add_argument("--demo", action="store_true", help="also make and render demo reports")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "connectcheck-look")
    parser.add_argument("--width", type=int, default=1000, help="browser window width (default 1000)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    files = list(args.files) + (demo(args.out) if args.demo else [])
    for f in files:
        if f.suffix == ".html":
            images = look_html(f, args.out, args.width)
        elif f.suffix == ".pdf":
            images = pdf_pages(f, args.out, f.stem + ".pdf", 70)
        else:
            continue
        for image in images:
            print(image)
    return 0


if __name__ == "__main__":
    sys.exit(main())
