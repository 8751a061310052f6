"""The program icons drawn at build time (installer/icons.py): real .ico and .icns files whose PNG
images Qt can read back at the sizes they claim."""

from __future__ import annotations

import struct
from pathlib import Path

import icons
from PySide6.QtGui import QImage

APP_SVG = Path(__file__).resolve().parents[2] / "resources" / "icons" / "app.svg"


def _image(data: bytes) -> QImage:
    image = QImage.fromData(data, "PNG")
    assert not image.isNull()
    return image


def _opaque_pixels(image: QImage) -> int:
    return sum(image.pixelColor(x, y).alpha() > 0
               for x in range(image.width()) for y in range(image.height()))


def test_the_svg_is_drawn_at_the_size_asked(qapp):
    image = _image(icons.render_png(APP_SVG, 48))
    assert (image.width(), image.height()) == (48, 48)
    assert _opaque_pixels(image) > 48 * 48 // 2  # the rounded square fills most of it


def test_the_windows_icon_holds_each_size(tmp_path, qapp):
    paths = icons.write_icons(APP_SVG, tmp_path)
    data = paths["ico"].read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind, count) == (0, 1, len(icons.ICO_SIZES))
    sizes = []
    for n in range(count):
        width, height, _, _, planes, bits, length, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * n)
        image = _image(data[offset:offset + length])
        side = width or 256
        assert (image.width(), image.height(), height or 256, planes, bits) == (side, side, side, 1, 32)
        sizes.append(side)
    assert sorted(sizes) == sorted(icons.ICO_SIZES)


def test_the_macos_icon_holds_each_element(tmp_path, qapp):
    data = icons.write_icons(APP_SVG, tmp_path)["icns"].read_bytes()
    assert data[:4] == b"icns" and struct.unpack_from(">I", data, 4)[0] == len(data)
    at, found = 8, {}
    while at < len(data):
        kind, length = data[at:at + 4], struct.unpack_from(">I", data, at + 4)[0]
        found[kind] = _image(data[at + 8:at + length]).width()
        at += length
    assert found == dict(icons.ICNS_TYPES)


def test_the_linux_icon_theme_folder(tmp_path, qapp):
    theme = icons.write_icons(APP_SVG, tmp_path)["hicolor"]
    for size in icons.HICOLOR_SIZES:
        image = QImage(str(theme / f"{size}x{size}" / "apps" / "connectcheck.png"))
        assert (image.width(), image.height()) == (size, size)
    assert (theme / "scalable" / "apps" / "connectcheck.svg").read_bytes() == APP_SVG.read_bytes()
