"""Digits drawn by writers the bundled model never saw: stroke paths and installed fonts, rendered like canvas drawings.

`stroke_digits()` draws each digit from a hand-made skeleton (lines and arcs) with a random slant,
squash, jitter, size, position and pen width, white ink on a black 280×280 canvas like the Draw
page's. `font_digits()` renders the digits in every installed DejaVu/Liberation font, thick and
thin, dark ink on light paper like a scan. Both return (images, labels) as uint8 arrays.
"""

import glob
import math

import numpy as np

CANVAS = 280


def _arc(cx, cy, rx, ry, start, end, steps=24):
    """Points on an ellipse; angles in degrees with y pointing down (−90 is the top)."""
    angles = np.radians(np.linspace(start, end, steps))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


# each digit: a list of strokes, each a list of (x, y) in a unit box
SKELETONS = {
    0: [_arc(0.5, 0.5, 0.3, 0.45, -90, 270, 40)],
    1: [[(0.38, 0.18), (0.52, 0.05), (0.52, 0.95)]],
    2: [_arc(0.5, 0.3, 0.27, 0.23, -170, 30) + [(0.2, 0.95), (0.84, 0.95)]],
    3: [_arc(0.5, 0.28, 0.25, 0.22, -160, 90) + _arc(0.5, 0.72, 0.28, 0.23, -90, 160)],
    4: [[(0.65, 0.05), (0.12, 0.66), (0.88, 0.66)], [(0.65, 0.05), (0.65, 0.95)]],
    5: [[(0.78, 0.05), (0.3, 0.05), (0.26, 0.45)] + _arc(0.5, 0.67, 0.29, 0.27, -125, 150)],
    6: [[(0.72, 0.04), (0.45, 0.25), (0.3, 0.5), (0.26, 0.72)] + _arc(0.5, 0.72, 0.24, 0.23, 180, 540, 40)],
    7: [[(0.12, 0.07), (0.86, 0.07), (0.42, 0.96)]],
    8: [_arc(0.5, 0.27, 0.22, 0.21, 90, 450, 36), _arc(0.5, 0.72, 0.27, 0.23, -90, 270, 36)],
    9: [_arc(0.5, 0.3, 0.25, 0.23, 0, 360, 36), [(0.75, 0.3), (0.72, 0.95)]],
}


def stroke_digit(digit, rng, canvas=CANVAS):
    """One digit drawn with a random hand: (canvas, canvas) uint8, white ink on black."""
    from PIL import Image, ImageDraw

    slant = rng.uniform(-0.3, 0.3)
    angle = math.radians(rng.uniform(-12, 12))
    width_scale = rng.uniform(0.65, 1.15)
    size = rng.uniform(0.45, 0.8) * canvas
    centre = canvas / 2 + rng.uniform(-0.12, 0.12, size=2) * canvas
    pen = int(rng.choice([10, 14, 18, 24, 30]))
    image = Image.new("L", (canvas, canvas), 0)
    draw = ImageDraw.Draw(image)
    for stroke in SKELETONS[digit]:
        points = []
        for x, y in stroke:
            x, y = (x - 0.5) * width_scale, y - 0.5
            x += slant * -y  # italic slant: the top leans right
            x, y = x * math.cos(angle) - y * math.sin(angle), x * math.sin(angle) + y * math.cos(angle)
            x, y = x + rng.normal(0, 0.012), y + rng.normal(0, 0.012)
            points.append((centre[0] + x * size, centre[1] + y * size))
        draw.line(points, fill=255, width=pen, joint="curve")
        for x, y in (points[0], points[-1]):  # round pen ends, like the canvas's brush
            draw.ellipse([x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2], fill=255)
    return np.asarray(image)


def stroke_digits(per_digit=20, seed=2026):
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for digit in range(10):
        for _ in range(per_digit):
            images.append(stroke_digit(digit, rng))
            labels.append(digit)
    return np.stack(images), np.array(labels)


FONT_PATTERNS = ("/usr/share/fonts/truetype/dejavu/*.ttf", "/usr/share/fonts/truetype/liberation/*.ttf")


def fonts():
    """Installed text fonts (the maths font is left out: its digits are not handwriting-like)."""
    found = sorted(p for pattern in FONT_PATTERNS for p in glob.glob(pattern) if "Math" not in p)
    return found


def font_digits(size=200, paper=240, ink=30):
    """Every digit in every installed font, thin and thick (a text outline), dark on light paper: (n, 280, 280) uint8."""
    from PIL import Image, ImageDraw, ImageFont

    images, labels, names = [], [], []
    for path in fonts():
        font = ImageFont.truetype(path, size)
        for stroke in (0, 8):
            for digit in range(10):
                image = Image.new("L", (CANVAS, CANVAS), paper)
                draw = ImageDraw.Draw(image)
                draw.text((CANVAS / 2, CANVAS / 2), str(digit), font=font, fill=ink, anchor="mm",
                          stroke_width=stroke, stroke_fill=ink)
                images.append(np.asarray(image))
                labels.append(digit)
                names.append(f"{path.rsplit('/', 1)[-1]} stroke {stroke}")
    if not images:
        return np.zeros((0, CANVAS, CANVAS), np.uint8), np.zeros(0, int), []
    return np.stack(images), np.array(labels), names


def accuracy(model, images, labels, box=20):
    """The share of images the model reads right after cnnlab's drawing preprocessing."""
    from cnnlab.insight import drawing

    inputs = np.stack([drawing.prepare(image, box=box).network_input for image in images])[..., np.newaxis]
    predicted = np.argmax(np.asarray(model(inputs, training=False)), axis=1)
    return float(np.mean(predicted == labels)), predicted
