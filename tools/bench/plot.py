"""plot.py - just enough plotting for docs/BENCHMARKS.md: horizontal bars and
lines on linear or log axes, written as PNG with the standard library only
(zlib). Text uses a 5x7 pixel font drawn here, upper case only.
"""
import math
import struct
import zlib

# 5x7 glyphs, one string of 7 rows of 5 columns each ('#' = ink).
_G = {
    " ": "..... ..... ..... ..... ..... ..... .....",
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
    "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####",
    "3": "####. ....# ....# .###. ....# ....# ####.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.",
    "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.",
    "9": ".###. #...# #...# .#### ....# ...#. .##..",
    "A": ".###. #...# #...# ##### #...# #...# #...#",
    "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.",
    "D": "###.. #..#. #...# #...# #...# #..#. ###..",
    "E": "##### #.... #.... ####. #.... #.... #####",
    "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####",
    "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.",
    "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
    "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.",
    "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.",
    "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    ".": "..... ..... ..... ..... ..... .##.. .##..",
    ",": "..... ..... ..... ..... .##.. ..#.. .#...",
    ":": "..... .##.. .##.. ..... .##.. .##.. .....",
    "%": "##..# ##..# ...#. ..#.. .#... #..## #..##",
    "/": "....# ....# ...#. ..#.. .#... #.... #....",
    "(": "...#. ..#.. .#... .#... .#... ..#.. ...#.",
    ")": ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
    "-": "..... ..... ..... ##### ..... ..... .....",
    "+": "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
    "=": "..... ..... ##### ..... ##### ..... .....",
    "_": "..... ..... ..... ..... ..... ..... #####",
    "<": "...#. ..#.. .#... #.... .#... ..#.. ...#.",
    ">": ".#... ..#.. ...#. ....# ...#. ..#.. .#...",
    "*": "..... ..#.. #.#.# .###. #.#.# ..#.. .....",
    "'": "..#.. ..#.. .#... ..... ..... ..... .....",
    "#": ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",
    "[": ".###. .#... .#... .#... .#... .#... .###.",
    "]": ".###. ...#. ...#. ...#. ...#. ...#. .###.",
    "?": ".###. #...# ....# ...#. ..#.. ..... ..#..",
    "!": "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",
}
FONT = {k: [row for row in v.split()] for k, v in _G.items()}
SCALE = 2
CW, CH = 6 * SCALE, 8 * SCALE     # advance and line height

PALETTE = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14),
           (148, 103, 189), (140, 86, 75), (127, 127, 127), (23, 190, 207)]
BLACK, GREY, LIGHT, WHITE = (0, 0, 0), (110, 110, 110), (225, 225, 225), (255, 255, 255)


class Canvas:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.px = bytearray(WHITE * (w * h))

    def dot(self, x, y, c):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = 3 * (y * self.w + x)
            self.px[i:i + 3] = bytes(c)

    def rect(self, x0, y0, x1, y1, c):
        x0, x1 = sorted((int(x0), int(x1)))
        y0, y1 = sorted((int(y0), int(y1)))
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, self.w - 1), min(y1, self.h - 1)
        row = bytes(c) * (x1 - x0 + 1)
        for y in range(y0, y1 + 1):
            i = 3 * (y * self.w + x0)
            self.px[i:i + len(row)] = row

    def line(self, x0, y0, x1, y1, c, width=2):
        x0, y0, x1, y1 = int(x0), int(y0), int(x1), int(y1)
        n = max(abs(x1 - x0), abs(y1 - y0), 1)
        for k in range(n + 1):
            x = x0 + (x1 - x0) * k // n
            y = y0 + (y1 - y0) * k // n
            self.rect(x, y, x + width - 1, y + width - 1, c)

    def text(self, x, y, s, c=BLACK, right=False, center=False):
        s = s.upper()
        if right:
            x -= len(s) * CW
        elif center:
            x -= len(s) * CW // 2
        for ch in s:
            g = FONT.get(ch, FONT["?"])
            for r, row in enumerate(g):
                for col, v in enumerate(row):
                    if v == "#":
                        self.rect(x + col * SCALE, y + r * SCALE,
                                  x + col * SCALE + SCALE - 1, y + r * SCALE + SCALE - 1, c)
            x += CW

    def png(self, path):
        raw = b"".join(b"\x00" + bytes(self.px[3 * y * self.w:3 * (y + 1) * self.w])
                       for y in range(self.h))

        def chunk(tag, data):
            return (struct.pack(">I", len(data)) + tag + data +
                    struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff))
        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n")
            f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)))
            f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
            f.write(chunk(b"IEND", b""))


def fmt(v):
    """A short number: 1.2M, 350K, 12, 0.45."""
    a = abs(v)
    if a >= 1e6:
        return "%.3gM" % (v / 1e6)
    if a >= 1e3:
        return "%.3gK" % (v / 1e3)
    if a >= 10 or a == 0:
        return "%.0f" % v
    return "%.2g" % v


class Axis:
    """Value to pixel on [p0, p1], linear or log10."""

    def __init__(self, lo, hi, p0, p1, log):
        self.log = log
        if log:
            lo, hi = math.log10(lo), math.log10(hi)
        if hi <= lo:
            hi = lo + 1
        self.lo, self.hi, self.p0, self.p1 = lo, hi, p0, p1

    def __call__(self, v):
        if self.log:
            v = math.log10(max(v, 1e-12))
        return self.p0 + (v - self.lo) / (self.hi - self.lo) * (self.p1 - self.p0)

    def ticks(self):
        if self.log:
            return [10.0 ** e for e in range(math.floor(self.lo), math.ceil(self.hi) + 1)]
        span = self.hi - self.lo
        step = 10 ** math.floor(math.log10(span / 5)) if span > 0 else 1
        for m in (1, 2, 5, 10):
            if span / (step * m) <= 6:
                step *= m
                break
        t, out = math.ceil(self.lo / step) * step, []
        while t <= self.hi + 1e-9:
            out.append(t)
            t += step
        return out


def hbars(path, title, rows, unit, log=True, width=900):
    """rows: (label, median, lo, hi, colour index); whiskers show lo..hi."""
    lw = max(len(r[0]) for r in rows) * CW + 16
    rm = 8 * CW + 16        # room for the value printed after the longest bar
    top, bh, gap = 40, 22, 10
    h = top + len(rows) * (bh + gap) + 50
    c = Canvas(width, h)
    c.text(10, 10, title)
    vals = [r[3] for r in rows] + [r[1] for r in rows]
    lo = min(r[2] for r in rows) if log else 0
    lo = 10 ** math.floor(math.log10(max(lo, 1e-9))) if log else 0
    hi = max(vals) * (1.6 if log else 1.15)
    ax = Axis(lo, hi, lw, width - rm, log)
    ybot = top + len(rows) * (bh + gap)
    for t in ax.ticks():
        x = ax(t)
        if lw <= x <= width - rm:
            c.rect(x, top - 4, x, ybot, LIGHT)
            c.text(int(x), ybot + 6, fmt(t), GREY, center=True)
    c.text(width - 20, ybot + 26, unit, GREY, right=True)
    for i, (label, med, rlo, rhi, col) in enumerate(rows):
        y = top + i * (bh + gap)
        c.text(lw - 10, y + 4, label, right=True)
        c.rect(lw, y, ax(med), y + bh, PALETTE[col % len(PALETTE)])
        c.rect(ax(rlo), y + bh // 2 - 1, ax(rhi), y + bh // 2, BLACK)
        c.rect(ax(rlo), y + 4, ax(rlo) + 1, y + bh - 4, BLACK)
        c.rect(ax(rhi), y + 4, ax(rhi) + 1, y + bh - 4, BLACK)
        c.text(int(max(ax(med), ax(rhi))) + 8, y + 4, fmt(med))
    c.png(path)


def lines(path, title, series, xlabel, ylabel, xlog=True, ylog=True, width=900, height=520,
          xticks=None):
    """series: (label, [(x, y), ...], colour index)."""
    left, right, top, bottom = 90, 20, 40, 60
    legend_h = len(series) * (CH + 6) + 10
    height += legend_h
    bottom += legend_h
    c = Canvas(width, height)
    c.text(10, 10, title)
    xs = [p[0] for s in series for p in s[1]]
    ys = [p[1] for s in series for p in s[1]]
    ylo = 10 ** math.floor(math.log10(min(ys))) if ylog else 0
    yhi = 10 ** math.ceil(math.log10(max(ys))) if ylog else max(ys) * 1.1
    ax = Axis(min(xs) if xlog else 0, max(xs), left, width - right, xlog)
    ay = Axis(ylo, yhi, height - bottom, top, ylog)
    for t in (xticks or ax.ticks()):
        x = ax(t)
        if left <= x <= width - right:
            c.rect(x, top, x, height - bottom, LIGHT)
            c.text(int(x), height - bottom + 8, fmt(t), GREY, center=True)
    for t in ay.ticks():
        y = ay(t)
        if top <= y <= height - bottom:
            c.rect(left, y, width - right, y, LIGHT)
            c.text(left - 6, int(y) - CH // 2, fmt(t), GREY, right=True)
    c.rect(left, height - bottom, width - right, height - bottom, GREY)
    c.rect(left, top, left, height - bottom, GREY)
    c.text(width - right, height - bottom + 28, xlabel, GREY, right=True)
    c.text(left + 6, top + 4, ylabel, GREY)
    for k, (label, pts, col) in enumerate(series):
        colour = PALETTE[col % len(PALETTE)]
        pts = sorted(pts)
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            c.line(ax(x0), ay(y0), ax(x1), ay(y1), colour)
        if len(pts) <= 30:
            for x, y in pts:
                c.rect(ax(x) - 3, ay(y) - 3, ax(x) + 3, ay(y) + 3, colour)
        ly = height - legend_h + 10 + k * (CH + 6)
        c.rect(left, ly + 4, left + 24, ly + 8, colour)
        c.text(left + 32, ly, label)
    c.png(path)
