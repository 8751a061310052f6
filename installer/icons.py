"""The program icons each system wants, drawn from ``resources/icons/app.svg`` with Qt at build time
(no image tool needed, nothing binary kept in the repository):

* ``connectcheck.ico`` (Windows programs and the installer): PNG images of 16 to 256 pixels;
* ``connectcheck.icns`` (the macOS ``.app``): PNG images of 16 to 1024 pixels;
* ``hicolor/<n>x<n>/apps/connectcheck.png`` and ``hicolor/scalable/apps/connectcheck.svg`` (the
  Linux desktop entry, in the freedesktop icon theme layout).

The menu bar icon is not made here: the app draws it from ``resources/icons/template/`` (black
shapes that macOS tints, ``QIcon.setIsMask``).
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 256)
HICOLOR_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
# icns element types holding PNG data, and the pixel size of each
ICNS_TYPES = (
    (b"icp4", 16), (b"icp5", 32), (b"ic11", 32), (b"icp6", 64), (b"ic12", 64), (b"ic07", 128),
    (b"ic08", 256), (b"ic13", 256), (b"ic09", 512), (b"ic14", 512), (b"ic10", 1024),
)
NAME = "connectcheck"

_app = None  # the Qt application made here when there was none (SVG text needs one)


def render_png(svg: Path, size: int) -> bytes:
    """The SVG as a square PNG of ``size`` pixels, transparent around it."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    global _app
    if QGuiApplication.instance() is None:
        _app = QGuiApplication(["icons", "-platform", "offscreen"])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not an SVG Qt can draw")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def ico(pngs: dict[int, bytes]) -> bytes:
    """A Windows icon file holding PNG images (read by Windows Vista and later)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, images = b"", b""
    for size in sizes:
        data = pngs[size]
        side = 0 if size >= 256 else size  # 0 means 256
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset + len(images))
        images += data
    return header + entries + images


def icns(pngs: dict[int, bytes]) -> bytes:
    """A macOS icon file: one PNG element per type in :data:`ICNS_TYPES`."""
    body = b"".join(kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for kind, size in ICNS_TYPES)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def write_icons(svg: Path, out: Path) -> dict[str, Path]:
    """Write the .ico, the .icns and the hicolor theme folder into ``out``; their paths by kind."""
    out.mkdir(parents=True, exist_ok=True)
    sizes = sorted(set(ICO_SIZES) | set(HICOLOR_SIZES) | {s for _, s in ICNS_TYPES})
    pngs = {size: render_png(svg, size) for size in sizes}
    paths = {"ico": out / f"{NAME}.ico", "icns": out / f"{NAME}.icns", "hicolor": out / "hicolor"}
    paths["ico"].write_bytes(ico({s: pngs[s] for s in ICO_SIZES}))
    paths["icns"].write_bytes(icns(pngs))
    for size in HICOLOR_SIZES:
        folder = paths["hicolor"] / f"{size}x{size}" / "apps"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{NAME}.png").write_bytes(pngs[size])
    scalable = paths["hicolor"] / "scalable" / "apps"
    scalable.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(svg, scalable / f"{NAME}.svg")
    return paths
