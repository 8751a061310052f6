"""The icons: every state drawn, legible at 16 px on light and dark taskbars, told apart by shape
as well as colour, and a monochrome template for the macOS menu bar."""

import itertools
import xml.etree.ElementTree as ET

import pytest
from PySide6.QtGui import QColor, QImage, QPainter

from connectcheck.ui import icons

LIGHT, DARK = QColor("#f3f3f3"), QColor("#202020")


def on(background: QColor, state: str, size: int = 16, template: bool = False) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(background)
    p = QPainter(image)
    p.drawPixmap(0, 0, icons.render(icons.icon_file(state, template=template), size))
    p.end()
    return image


def luminance(c: QColor) -> float:
    return 0.2126 * c.redF() + 0.7152 * c.greenF() + 0.0722 * c.blueF()


def pixels(image: QImage):
    return [image.pixelColor(x, y) for y in range(image.height()) for x in range(image.width())]


@pytest.mark.parametrize("state", icons.STATES)
def test_every_state_has_a_valid_svg_with_a_title(state):
    for template in (False, True):
        path = icons.icon_file(state, template=template)
        root = ET.parse(path).getroot()
        assert root.find("{http://www.w3.org/2000/svg}title").text.startswith("connectcheck")
        assert not icons.tray_icon(state).isNull()


@pytest.mark.parametrize("state", icons.STATES)
@pytest.mark.parametrize("background", [LIGHT, DARK], ids=["light taskbar", "dark taskbar"])
def test_legible_at_16_px(state, background):
    alone = icons.render(icons.icon_file(state), 16).toImage()
    footprint = [(x, y) for y in range(16) for x in range(16) if alone.pixelColor(x, y).alpha() >= 128]
    assert len(footprint) >= 0.5 * 256  # it fills most of its square
    image = on(background, state)
    inside = set(footprint)
    interior = [
        (x, y)
        for x, y in footprint  # away from the edge and its halo
        if all((x + dx, y + dy) in inside for dx in (-1, 0, 1) for dy in (-1, 0, 1))
    ]
    tones = sorted(luminance(image.pixelColor(x, y)) for x, y in interior)
    shape = tones[len(tones) // 2]
    # its mark stands out clearly from its shape ...
    mark = [t for t in tones if abs(t - shape) > 0.3]
    assert len(mark) >= 8
    # ... and the shape from the taskbar
    assert abs(shape - luminance(background)) > 0.2


def test_states_differ_in_shape_not_only_colour():
    """In grey (as a colour-blind tutor may see them) every two states still differ clearly."""
    grey = {s: [round(luminance(c), 1) for c in pixels(on(LIGHT, s))] for s in icons.STATES}
    for a, b in itertools.combinations(icons.STATES, 2):
        differing = sum(1 for x, y in zip(grey[a], grey[b], strict=True) if abs(x - y) >= 0.2)
        assert differing >= 20, (a, b, differing)


@pytest.mark.parametrize("state", icons.STATES)
def test_template_is_monochrome_with_transparency(state):
    image = icons.render(icons.icon_file(state, template=True), 32).toImage()
    colours = {(c.red(), c.green(), c.blue()) for c in pixels(image) if c.alpha() > 0}
    alphas = {c.alpha() for c in pixels(image)}
    assert colours == {(0, 0, 0)}
    assert 0 in alphas and 255 in alphas
    assert icons.icon(state, template=True).isMask()


def test_unknown_state_is_refused():
    with pytest.raises(ValueError):
        icons.tray_icon("purple")


def colourfulness(image: QImage) -> tuple[int, int, int]:
    """The colour of the shape: the commonest opaque colour."""
    from collections import Counter

    solid = Counter((c.red(), c.green(), c.blue()) for c in pixels(image) if c.alpha() == 255)
    return solid.most_common(1)[0][0]


@pytest.mark.parametrize("size", [16, 22, 32])
def test_failing_and_weak_are_drawn_differently_at_every_tray_size(size):
    failing = icons.render(icons.icon_file(icons.FAILING), size).toImage()
    weak = icons.render(icons.icon_file(icons.DEGRADED), size).toImage()
    differing = sum(1 for a, b in zip(pixels(failing), pixels(weak), strict=True) if a != b)
    assert differing >= size * size // 4
    assert icons.tray_icon(icons.FAILING).cacheKey() != icons.tray_icon(icons.DEGRADED).cacheKey()


def test_offline_is_not_a_calm_grey_like_not_checked():
    offline = colourfulness(icons.render(icons.icon_file(icons.OFFLINE), 32).toImage())
    unchecked = colourfulness(icons.render(icons.icon_file(icons.UNCHECKED), 32).toImage())
    distance = sum((a - b) ** 2 for a, b in zip(offline, unchecked, strict=True)) ** 0.5
    assert distance > 60, (offline, unchecked)
    r, g, b = offline
    assert max(r, g, b) - min(r, g, b) > 40  # a colour, not a grey


@pytest.mark.parametrize("template", [False, True])
@pytest.mark.parametrize("state", [icons.GOOD, icons.FAILING, icons.OFFLINE])
def test_an_old_result_is_drawn_faded_with_a_clock(state, template):
    path = icons.icon_file(state, template=template)
    fresh, old = icons.render(path, 32).toImage(), icons.render_stale(path, 32, template=template).toImage()

    def opaque(img):  # away from the clock's corner
        away = [(x, y) for y in range(32) for x in range(32) if x < 18 or y < 18]
        return sum(1 for x, y in away if img.pixelColor(x, y).alpha() >= 200)

    assert opaque(old) < opaque(fresh) * 0.3  # faded ...
    corner = [old.pixelColor(x, y).alpha() for x in range(22, 32) for y in range(22, 32)]
    assert sum(1 for a in corner if a >= 230) >= 20  # ... but the clock in its corner is solid
    assert icons.tray_icon(state, stale=True).cacheKey() != icons.tray_icon(state).cacheKey()
