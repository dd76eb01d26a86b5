"""The demo campaigns' pictures, drawn here with Pillow: pictures of our own making.

Flat illustrations, 1600 x 900, made when the demo is loaded (no image file is shipped).
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw

WIDTH, HEIGHT = 1600, 900


def _sky(draw: ImageDraw.ImageDraw, top: tuple, bottom: tuple, height: int) -> None:
    for y in range(height):
        mix = y / height
        colour = tuple(int(top[i] + (bottom[i] - top[i]) * mix) for i in range(3))
        draw.line([(0, y), (WIDTH, y)], fill=colour)


def _ridge(draw, base: int, peaks: list[tuple[int, int]], colour: tuple) -> None:
    points = [(0, HEIGHT), (0, base), *peaks, (WIDTH, base), (WIDTH, HEIGHT)]
    draw.polygon(points, fill=colour)


def road_north_jpeg() -> bytes:
    """Dawn over mountains, a road running north to the horizon, people walking on it."""
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    _sky(draw, (245, 176, 110), (253, 226, 176), 560)
    draw.ellipse((1080, 250, 1300, 470), fill=(255, 243, 214))
    _ridge(draw, 470, [(220, 330), (470, 420), (760, 300), (1010, 430), (1300, 340)], (156, 87, 78))
    _ridge(draw, 540, [(160, 470), (520, 530), (900, 440), (1240, 520), (1500, 470)], (122, 62, 58))
    draw.rectangle((0, 560, WIDTH, HEIGHT), fill=(196, 150, 98))
    draw.polygon([(700, 560), (900, 560), (1280, HEIGHT), (320, HEIGHT)], fill=(92, 72, 62))
    draw.polygon([(795, 560), (805, 560), (830, HEIGHT), (770, HEIGHT)], fill=(236, 208, 160))
    rng = random.Random("caravan")  # the same walkers every time, not security
    for _walker in range(26):
        depth = rng.uniform(0.05, 1.0)
        y = 560 + depth * (HEIGHT - 600)
        half_road = 100 + depth * 380
        x = 800 + rng.uniform(-0.8, 0.8) * half_road
        size = 10 + depth * 46
        colour = rng.choice(
            [(164, 22, 26), (29, 78, 137), (31, 92, 58), (91, 42, 134), (40, 40, 40)]
        )
        draw.ellipse(
            (x - size * 0.22, y - size * 1.25, x + size * 0.22, y - size * 0.8), fill=(70, 45, 35)
        )
        draw.rounded_rectangle(
            (x - size * 0.3, y - size * 0.8, x + size * 0.3, y), radius=size * 0.15, fill=colour
        )
    return _jpeg(image)


def winter_coats_jpeg() -> bytes:
    """A snowy evening, and a rack of warm coats in many colours waiting for neighbors."""
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    _sky(draw, (27, 44, 84), (70, 104, 160), HEIGHT)
    rng = random.Random("coats")  # the same snowfall every time, not security
    for _flake in range(260):
        x, y, r = rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT), rng.uniform(2, 6)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(235, 242, 252))
    draw.ellipse((-300, 640, 900, 1200), fill=(236, 242, 250))
    draw.ellipse((600, 680, 1900, 1240), fill=(225, 233, 246))
    draw.rectangle((250, 220, 1350, 236), fill=(60, 60, 66))
    for post in (262, 1322):
        draw.rectangle((post, 220, post + 16, 760), fill=(60, 60, 66))
    colours = [
        (164, 22, 26),
        (224, 122, 32),
        (31, 92, 58),
        (29, 78, 137),
        (91, 42, 134),
        (200, 60, 110),
    ]
    for index, colour in enumerate(colours):
        left = 330 + index * 168
        draw.arc((left + 40, 200, left + 90, 250), 180, 360, fill=(40, 40, 40), width=6)
        draw.polygon(
            [(left + 20, 260), (left + 110, 260), (left + 140, 620), (left - 10, 620)], fill=colour
        )
        draw.rectangle((left - 30, 270, left + 10, 520), fill=colour)
        draw.rectangle((left + 120, 270, left + 160, 520), fill=colour)
        draw.line([(left + 65, 262), (left + 65, 620)], fill=(30, 30, 30), width=4)
        for button in range(4):
            y = 320 + button * 70
            draw.ellipse((left + 72, y, left + 84, y + 12), fill=(245, 235, 210))
    return _jpeg(image)


def _jpeg(image: Image.Image) -> bytes:
    output = io.BytesIO()
    image.save(output, format="JPEG", quality=85, optimize=True)
    return output.getvalue()
