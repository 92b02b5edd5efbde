"""Procedural scenes drawn with tensor ops, batched: paint_scenes(scene_ids) -> [B, 3, S, S].

Each painter takes (rng, n, S) and returns n different variations of its scene in [0, 1]; the
order of SCENES in captions.py is the id order, and PAINTERS follows it.
"""
from __future__ import annotations

from typing import Callable, Dict

import torch

from .captions import SCENE_NAMES
from .imageops import col, fractal_noise, grid, lerp, smoothstep, soft_blur, value_noise
from .rng import Rng

Painter = Callable[[Rng, int, int], torch.Tensor]


def _u(rng: Rng, n: int, lo: float, hi: float) -> torch.Tensor:
    return rng.uniform((n, 1, 1, 1), lo, hi)


def _jitter(rng: Rng, base, n: int, amount: float = 0.06) -> torch.Tensor:
    return (col(base, rng.device) + rng.uniform((n, 3, 1, 1), -amount, amount)).clamp(0, 1)


def _sky(rng: Rng, n: int, S: int, top, bottom, amount: float = 0.05) -> torch.Tensor:
    y, _ = grid(S, S, rng.device)
    return lerp(_jitter(rng, top, n, amount), _jitter(rng, bottom, n, amount), y).expand(n, 3, S, S)


def _clouds(rng: Rng, img: torch.Tensor, S: int, cover: float, region: torch.Tensor) -> torch.Tensor:
    n = img.shape[0]
    c = fractal_noise(rng, n, S, base_cells=3, octaves=4)
    cl = smoothstep(1 - cover, 1 - cover + 0.25, c) * region
    return lerp(img, torch.ones_like(img) * 0.97, cl * 0.9)


def _dots(rng: Rng, n: int, S: int, density: torch.Tensor, size: int = 1) -> torch.Tensor:
    """Sparse bright points [n,1,S,S] in [0,1]; density [n,1,1,1] is the fraction of lit cells."""
    cells = S // size
    lit = (rng.uniform((n, 1, cells, cells)) < density).float() * rng.uniform((n, 1, cells, cells), 0.4, 1.0)
    if size > 1:
        lit = torch.nn.functional.interpolate(lit, size=(S, S), mode="nearest")
    return lit


def beach(rng: Rng, n: int, S: int, sunset: bool = False) -> torch.Tensor:
    y, x = grid(S, S, rng.device)
    horizon = _u(rng, n, 0.3, 0.45)
    shore = horizon + _u(rng, n, 0.12, 0.22) + 0.025 * torch.sin(x * _u(rng, n, 6, 14) + _u(rng, n, 0, 6.3))
    if sunset:
        sky = _sky(rng, n, S, (0.35, 0.2, 0.45), (1.0, 0.55, 0.25))
        sea_c, sand_c = _jitter(rng, (0.25, 0.2, 0.35), n), _jitter(rng, (0.65, 0.45, 0.35), n)
    else:
        sky = _sky(rng, n, S, (0.35, 0.6, 0.95), (0.75, 0.88, 1.0))
        sky = _clouds(rng, sky, S, 0.3, (y < horizon).float())
        sea_c, sand_c = _jitter(rng, (0.1, 0.45, 0.7), n), _jitter(rng, (0.93, 0.84, 0.62), n)
    waves = value_noise(rng, n, S, 24) * 0.12
    sea = sea_c * (0.85 + waves + 0.15 * (y - horizon).clamp(0, 1))
    if sunset:
        sun_x, r = _u(rng, n, 0.25, 0.75), _u(rng, n, 0.06, 0.1)
        d = ((x - sun_x) ** 2 + (y - horizon + r * 0.3) ** 2).sqrt()
        sun = ((r - d) * S).clamp(0, 1)
        sky = lerp(sky, col((1.0, 0.85, 0.45), rng.device).expand_as(sky), sun * (y < horizon).float())
        glitter = (torch.abs(x - sun_x) < 0.06 * (1 + 3 * (y - horizon))).float() * value_noise(rng, n, S, 48)
        sea = sea + glitter * col((0.6, 0.4, 0.1), rng.device)
    sand = sand_c * (0.9 + 0.15 * fractal_noise(rng, n, S, 16, 3))
    foam = ((shore - y).abs() < 0.012).float()
    img = torch.where(y < horizon, sky, torch.where(y < shore, sea, sand))
    return lerp(img, torch.ones_like(img), foam * 0.8).clamp(0, 1)


def snow(rng: Rng, n: int, S: int) -> torch.Tensor:
    y, x = grid(S, S, rng.device)
    sky = _sky(rng, n, S, (0.62, 0.7, 0.82), (0.86, 0.9, 0.95))
    hill = _u(rng, n, 0.35, 0.55) + 0.06 * torch.sin(x * _u(rng, n, 3, 8) + _u(rng, n, 0, 6.3))
    ground = col((0.95, 0.97, 1.0), rng.device) - 0.12 * fractal_noise(rng, n, S, 6, 3) * col((1, 0.8, 0.5), rng.device) * 0.6
    img = torch.where(y < hill, sky, ground.expand(n, 3, S, S))
    flakes = soft_blur(_dots(rng, n, S, _u(rng, n, 0.01, 0.04)), 2)
    return lerp(img, torch.ones_like(img), (flakes * 3).clamp(0, 1)).clamp(0, 1)


def forest(rng: Rng, n: int, S: int) -> torch.Tensor:
    y, x = grid(S, S, rng.device)
    dev = rng.device
    canopy = fractal_noise(rng, n, S, 5, 4)
    base = lerp(_jitter(rng, (0.08, 0.25, 0.1), n), _jitter(rng, (0.3, 0.55, 0.2), n), canopy)
    light = value_noise(rng, n, S, 3) * 0.25
    img = base * (0.8 + light)
    k = 7
    pos = rng.uniform((n, k, 1, 1))
    width = rng.uniform((n, k, 1, 1), 0.015, 0.05)
    shade = rng.uniform((n, k, 1, 1), 0.5, 1.0)
    trunk = ((width - (x - pos).abs()) * S).clamp(0, 1) * shade           # [n,k,1,S]
    trunk_a, which = trunk.max(1, keepdim=True)
    trunk_c = col((0.32, 0.2, 0.1), dev) * (0.6 + 0.4 * trunk_a)
    img = lerp(img, trunk_c.expand_as(img), (trunk_a > 0).float().expand_as(img[:, :1]) * 0.95)
    ground_y = _u(rng, n, 0.72, 0.85)
    ground = _jitter(rng, (0.28, 0.22, 0.12), n) * (0.8 + 0.3 * fractal_noise(rng, n, S, 12, 3))
    return torch.where(y > ground_y, ground.expand(n, 3, S, S), img).clamp(0, 1)


def desert(rng: Rng, n: int, S: int) -> torch.Tensor:
    y, x = grid(S, S, rng.device)
    sky = _sky(rng, n, S, (0.45, 0.65, 0.9), (0.95, 0.9, 0.8))
    horizon = _u(rng, n, 0.35, 0.5)
    dune = torch.sin((x * _u(rng, n, 4, 9) + y * _u(rng, n, 8, 16)) + _u(rng, n, 0, 6.3)) * 0.5 + 0.5
    sand = _jitter(rng, (0.9, 0.68, 0.4), n) * (0.75 + 0.25 * dune) * (0.95 + 0.1 * value_noise(rng, n, S, 32))
    ridge = horizon + 0.04 * torch.sin(x * _u(rng, n, 2, 6) + _u(rng, n, 0, 6.3))
    img = torch.where(y < ridge, sky, sand)
    sun_x, sun_y = _u(rng, n, 0.1, 0.9), _u(rng, n, 0.06, 0.2)
    d = ((x - sun_x) ** 2 + (y - sun_y) ** 2).sqrt()
    img = lerp(img, col((1.0, 0.97, 0.8), rng.device).expand_as(img), ((0.05 - d) * S).clamp(0, 1))
    return img.clamp(0, 1)


def night_sky(rng: Rng, n: int, S: int) -> torch.Tensor:
    y, x = grid(S, S, rng.device)
    img = _sky(rng, n, S, (0.01, 0.02, 0.08), (0.08, 0.1, 0.28), 0.03)
    stars = _dots(rng, n, S, _u(rng, n, 0.004, 0.012))
    img = img + stars * 0.9
    mx, my, r = _u(rng, n, 0.15, 0.85), _u(rng, n, 0.1, 0.3), _u(rng, n, 0.05, 0.08)
    d = ((x - mx) ** 2 + (y - my) ** 2).sqrt()
    moon = ((r - d) * S).clamp(0, 1) * rng.bernoulli(0.6, (n, 1, 1, 1)).float()
    img = lerp(img, col((0.95, 0.93, 0.8), rng.device).expand_as(img), moon)
    hills = _u(rng, n, 0.75, 0.9) + 0.05 * torch.sin(x * _u(rng, n, 3, 9) + _u(rng, n, 0, 6.3))
    img = torch.where(y > hills, col((0.02, 0.03, 0.05), rng.device).expand_as(img), img)
    return img.clamp(0, 1)


def outer_space(rng: Rng, n: int, S: int) -> torch.Tensor:
    y, x = grid(S, S, rng.device)
    neb = fractal_noise(rng, n, S, 3, 4)
    neb_c = _jitter(rng, (0.35, 0.1, 0.5), n, 0.2)
    img = neb_c * smoothstep(0.45, 0.9, neb) * 0.8 + 0.01
    stars = _dots(rng, n, S, _u(rng, n, 0.006, 0.02))
    img = img + stars * (0.6 + 0.4 * rng.uniform((n, 3, 1, 1)))
    px, py, r = _u(rng, n, 0.0, 1.0), _u(rng, n, 0.0, 1.0), _u(rng, n, 0.08, 0.22)
    d = ((x - px) ** 2 + (y - py) ** 2).sqrt()
    planet = ((r - d) * S).clamp(0, 1) * rng.bernoulli(0.5, (n, 1, 1, 1)).float()
    shade = (1.2 - ((x - px + r * 0.4) ** 2 + (y - py + r * 0.4) ** 2).sqrt() / (r * 1.6)).clamp(0.15, 1)
    pc = _jitter(rng, (0.6, 0.45, 0.35), n, 0.3) * shade
    return lerp(img, pc, planet).clamp(0, 1)


def underwater(rng: Rng, n: int, S: int) -> torch.Tensor:
    y, x = grid(S, S, rng.device)
    img = _sky(rng, n, S, (0.15, 0.65, 0.75), (0.02, 0.18, 0.4))
    ang = _u(rng, n, -0.4, 0.4)
    rays = torch.sin((x + y * ang) * _u(rng, n, 15, 30) + _u(rng, n, 0, 6.3)) * 0.5 + 0.5
    img = img + (rays ** 6) * (1 - y) * 0.25
    caust = value_noise(rng, n, S, 20)
    img = img + smoothstep(0.6, 0.8, caust) * 0.08
    floor = _u(rng, n, 0.8, 0.95)
    sand = _jitter(rng, (0.55, 0.55, 0.4), n) * (0.8 + 0.2 * value_noise(rng, n, S, 24))
    img = torch.where(y > floor, sand.expand_as(img), img)
    bubbles = soft_blur(_dots(rng, n, S, _u(rng, n, 0.001, 0.004), 2), 3)
    return (img + (bubbles * 4).clamp(0, 1) * 0.5).clamp(0, 1)


def city_street(rng: Rng, n: int, S: int) -> torch.Tensor:
    y, x = grid(S, S, rng.device)
    dev = rng.device
    img = _sky(rng, n, S, (0.5, 0.65, 0.85), (0.85, 0.85, 0.9))
    m = 6
    col_idx = (x * m).floor().clamp(max=m - 1).long()                        # [1,1,1,S]
    heights = rng.uniform((n, m), 0.15, 0.55)                                 # building tops
    colors = rng.uniform((n, m, 3), 0.25, 0.75) * torch.tensor([1.0, 0.95, 0.9], device=dev)
    top = heights.gather(1, col_idx.view(1, S).expand(n, S)).view(n, 1, 1, S)
    bcol = colors.gather(1, col_idx.view(1, S, 1).expand(n, S, 3)).permute(0, 2, 1).view(n, 3, 1, S)
    wx, wy = (x * m * 4) % 1, (y * 24) % 1
    windows = ((wx > 0.25) & (wx < 0.75) & (wy > 0.3) & (wy < 0.75)).float()
    lit = (value_noise(rng, n, S, 16) > 0.5).float()
    wc = lerp(col((0.15, 0.2, 0.3), dev), col((1.0, 0.9, 0.55), dev), lit)
    building = lerp(bcol.expand(n, 3, S, S), wc.expand(n, 3, S, S), windows * 0.85)
    street_y = _u(rng, n, 0.62, 0.72)
    img = torch.where((y > top) & (y < street_y), building, img)
    walk = (y >= street_y) & (y < street_y + 0.07)
    road = col((0.22, 0.22, 0.24), dev) * (0.85 + 0.3 * value_noise(rng, n, S, 40))
    line = ((y - street_y - 0.2).abs() < 0.01).float() * (((x * 6 + _u(rng, n, 0, 1)) % 1) < 0.5).float()
    road = lerp(road, col((0.95, 0.85, 0.3), dev), line)
    img = torch.where(walk, col((0.6, 0.58, 0.55), dev).expand_as(img), torch.where(y >= street_y, road, img))
    return img.clamp(0, 1)


def kitchen_counter(rng: Rng, n: int, S: int) -> torch.Tensor:
    y, x = grid(S, S, rng.device)
    dev = rng.device
    tile = _jitter(rng, (0.88, 0.9, 0.88), n, 0.1)
    k = _u(rng, n, 6, 12)
    gx, gy = (x * k) % 1, (y * k) % 1
    grout = ((gx < 0.06) | (gy < 0.06)).float()
    wall = lerp(tile, col((0.55, 0.55, 0.52), dev), grout)
    top = _u(rng, n, 0.55, 0.7)
    marble = fractal_noise(rng, n, S, 4, 5)
    veins = (1 - (torch.sin(marble * 25) * 0.5 + 0.5) ** 0.1) * 0.3
    counter = _jitter(rng, (0.82, 0.8, 0.77), n, 0.12) * (1 - veins)
    edge = ((y - top).abs() < 0.02).float()
    img = torch.where(y < top, wall.expand(n, 3, S, S), counter.expand(n, 3, S, S))
    return lerp(img, img * 0.6, edge).clamp(0, 1)


def wooden_table(rng: Rng, n: int, S: int) -> torch.Tensor:
    y, x = grid(S, S, rng.device)
    wood = _jitter(rng, (0.55, 0.35, 0.18), n, 0.1)
    warp = fractal_noise(rng, n, S, 3, 3)
    grain = torch.sin((y * _u(rng, n, 30, 60) + warp * 6) * 2) * 0.5 + 0.5
    planks = (((x * _u(rng, n, 3, 6)) % 1) < 0.02).float()
    table = wood * (0.75 + 0.3 * grain) * (1 - 0.5 * planks)
    back = _u(rng, n, 0.0, 0.35) * rng.bernoulli(0.6, (n, 1, 1, 1)).float()
    wall = _jitter(rng, (0.85, 0.82, 0.75), n, 0.1).expand(n, 3, S, S)
    return torch.where(y < back, wall, table).clamp(0, 1)


def grass_field(rng: Rng, n: int, S: int, flowers: bool = False) -> torch.Tensor:
    y, x = grid(S, S, rng.device)
    dev = rng.device
    horizon = _u(rng, n, 0.25, 0.5)
    sky = _sky(rng, n, S, (0.35, 0.6, 0.95), (0.8, 0.9, 1.0))
    sky = _clouds(rng, sky, S, 0.35, (y < horizon).float())
    blades = torch.nn.functional.interpolate(rng.uniform((n, 1, S // 8, S)), size=(S, S), mode="bilinear",
                                             align_corners=False)
    grass = _jitter(rng, (0.3, 0.6, 0.2), n, 0.08) * (0.7 + 0.4 * blades) * (0.8 + 0.3 * (y - horizon).clamp(0, 1))
    img = torch.where(y < horizon, sky, grass)
    if flowers:
        spots = _dots(rng, n, S, _u(rng, n, 0.04, 0.09), 2) * (y > horizon + 0.03).float()
        hue = value_noise(rng, n, S, 6, 3)
        petal = lerp(col((1.0, 0.3, 0.5), dev), col((1.0, 0.95, 0.3), dev), hue[:, :1]) * 0.8 + hue * 0.2
        img = lerp(img, petal, (spots > 0).float())
    return img.clamp(0, 1)


def mountain_lake(rng: Rng, n: int, S: int) -> torch.Tensor:
    y, x = grid(S, S, rng.device)
    dev = rng.device
    img = _sky(rng, n, S, (0.4, 0.6, 0.9), (0.85, 0.9, 0.95))
    lake_y = _u(rng, n, 0.55, 0.68)
    k = 4
    px = rng.uniform((n, k, 1, 1))
    ph = rng.uniform((n, k, 1, 1), 0.15, 0.4)
    slope = rng.uniform((n, k, 1, 1), 0.8, 1.6)
    ridge = (lake_y - ph + slope * (x - px).abs()).min(1, keepdim=True).values   # top of mountains
    rock = _jitter(rng, (0.38, 0.4, 0.45), n, 0.08) * (0.8 + 0.3 * fractal_noise(rng, n, S, 8, 3))
    snowcap = (y < ridge + 0.06).float()
    mountain = lerp(rock, col((0.95, 0.96, 1.0), dev), snowcap)
    img = torch.where((y > ridge) & (y < lake_y), mountain, img)
    # reflection: the sky / mountain colour mirrored about the shore line, darker and bluer
    mirror_y = 2 * lake_y - y
    refl_m = (mirror_y > ridge).float()
    water = lerp(_jitter(rng, (0.3, 0.5, 0.75), n), rock * 0.7, refl_m * 0.7)
    water = water * (0.9 + 0.1 * torch.sin(y * 200 + value_noise(rng, n, S, 16) * 6))
    shore = (y > lake_y) & (y < lake_y + 0.015)
    img = torch.where(y >= lake_y, water, img)
    img = torch.where(shore, col((0.25, 0.4, 0.2), dev).expand_as(img), img)
    return img.clamp(0, 1)


def backdrop(color):
    def paint(rng: Rng, n: int, S: int) -> torch.Tensor:
        y, x = grid(S, S, rng.device)
        c = _jitter(rng, color, n, 0.07)
        vignette = 1 - 0.35 * ((x - 0.5) ** 2 + (y - _u(rng, n, 0.3, 0.6)) ** 2)
        grad = 1.08 - 0.16 * y * rng.bernoulli(0.5, (n, 1, 1, 1)).float()
        return (c * vignette * grad + 0.02 * (value_noise(rng, n, S, 8) - 0.5)).clamp(0, 1)
    return paint


def brick_wall(rng: Rng, n: int, S: int) -> torch.Tensor:
    y, x = grid(S, S, rng.device)
    dev = rng.device
    rows = _u(rng, n, 8, 14)
    r = y * rows
    row_i = r.floor()
    bx = x * rows / 2.2 + (row_i % 2) * 0.5
    mortar = (((r % 1) < 0.1) | ((bx % 1) < 0.05)).float()
    brick_id = (row_i * 37 + bx.floor() * 11)
    tint = (torch.sin(brick_id * 12.9898) * 43758.5453) % 1          # per-brick hash in [0, 1)
    brick = _jitter(rng, (0.62, 0.27, 0.18), n, 0.08) * (0.8 + 0.3 * tint)
    brick = brick * (0.9 + 0.15 * value_noise(rng, n, S, 32))
    img = lerp(brick, col((0.78, 0.76, 0.72), dev), mortar)
    floor_y = _u(rng, n, 0.7, 1.0)
    return torch.where(y > floor_y, col((0.35, 0.33, 0.3), dev).expand_as(img), img).clamp(0, 1)


def checkered_floor(rng: Rng, n: int, S: int) -> torch.Tensor:
    y, x = grid(S, S, rng.device)
    horizon = _u(rng, n, 0.3, 0.5)
    wall = _jitter(rng, (0.8, 0.78, 0.72), n, 0.12).expand(n, 3, S, S)
    depth = (y - horizon).clamp(min=1e-3)
    u = (x - 0.5) / depth * _u(rng, n, 0.3, 0.6)
    v = 1 / depth * _u(rng, n, 0.2, 0.4)
    check = ((u.floor() + v.floor()) % 2).float()
    c1 = _jitter(rng, (0.95, 0.95, 0.93), n, 0.05)
    c2 = rng.choice_colors(torch.tensor([[0.08, 0.08, 0.08], [0.7, 0.1, 0.1], [0.1, 0.2, 0.55]]), n)
    floor = lerp(c1, c2, check) * (0.7 + 0.3 * (y - horizon).clamp(0, 1) * 2).clamp(max=1)
    return torch.where(y > horizon, floor, wall).clamp(0, 1)


def cloudy_sky(rng: Rng, n: int, S: int) -> torch.Tensor:
    sky = _sky(rng, n, S, (0.25, 0.5, 0.9), (0.6, 0.78, 0.98))
    return _clouds(rng, sky, S, float(rng.uniform((1,), 0.35, 0.55)), torch.ones(1, 1, 1, 1, device=rng.device))


def autumn_leaves(rng: Rng, n: int, S: int) -> torch.Tensor:
    """A ground of fallen leaves: layers of leaf-sized blobs in autumn colours over soil."""
    palette = torch.tensor([[0.9, 0.45, 0.1], [0.75, 0.18, 0.08], [0.95, 0.75, 0.2],
                            [0.55, 0.3, 0.1], [0.85, 0.3, 0.05]])
    img = _jitter(rng, (0.3, 0.2, 0.1), n, 0.05) * (0.7 + 0.3 * value_noise(rng, n, S, 16))
    img = img.expand(n, 3, S, S)
    for _ in range(4):
        blob = value_noise(rng, n, S, int(rng.uniform((1,), 8, 14)))
        shape = smoothstep(0.52, 0.56, blob)
        vein = 1 - 0.25 * (smoothstep(0.56, 0.58, blob) - smoothstep(0.6, 0.62, blob)).abs()
        c = rng.choice_colors(palette, n) * (0.85 + 0.25 * blob) * vein
        shadow = smoothstep(0.48, 0.53, blob) * (1 - shape)
        img = lerp(img * (1 - 0.35 * shadow), c, shape)
    return img.clamp(0, 1)


def rainy_day(rng: Rng, n: int, S: int) -> torch.Tensor:
    y, x = grid(S, S, rng.device)
    img = _sky(rng, n, S, (0.45, 0.48, 0.52), (0.25, 0.27, 0.3))
    ground_y = _u(rng, n, 0.6, 0.75)
    wet = _jitter(rng, (0.2, 0.21, 0.23), n) * (0.8 + 0.5 * smoothstep(0.55, 0.75, value_noise(rng, n, S, 10)))
    img = torch.where(y > ground_y, wet, img)
    slant = _u(rng, n, 0.1, 0.3)
    streak_u = (x + y * slant) * _u(rng, n, 40, 70)
    column = (streak_u % 1) < 0.08
    gate = value_noise(rng, n, S, 24) > 0.6
    rain = (column & gate).float()
    return lerp(img, torch.full_like(img, 0.85), rain * 0.5).clamp(0, 1)


_BACKDROPS = {
    "red_backdrop": (0.8, 0.15, 0.15), "blue_backdrop": (0.15, 0.35, 0.8),
    "green_backdrop": (0.2, 0.65, 0.3), "yellow_backdrop": (0.95, 0.85, 0.2),
    "pink_backdrop": (0.98, 0.6, 0.75), "grey_backdrop": (0.55, 0.55, 0.55),
    "black_backdrop": (0.06, 0.06, 0.06), "purple_backdrop": (0.5, 0.25, 0.7),
    "orange_backdrop": (0.98, 0.55, 0.15),
}

PAINTERS: Dict[str, Painter] = {
    "beach": beach,
    "beach_sunset": lambda r, n, S: beach(r, n, S, sunset=True),
    "snow": snow, "forest": forest, "desert": desert, "night_sky": night_sky,
    "outer_space": outer_space, "underwater": underwater, "city_street": city_street,
    "kitchen_counter": kitchen_counter, "wooden_table": wooden_table, "grass_field": grass_field,
    "mountain_lake": mountain_lake,
    **{k: backdrop(v) for k, v in _BACKDROPS.items()},
    "brick_wall": brick_wall, "checkered_floor": checkered_floor, "cloudy_sky": cloudy_sky,
    "flower_field": lambda r, n, S: grass_field(r, n, S, flowers=True),
    "autumn_leaves": autumn_leaves, "rainy_day": rainy_day,
}
assert set(PAINTERS) == set(SCENE_NAMES), "every scene needs exactly one painter"
PAINTER_LIST = [PAINTERS[name] for name in SCENE_NAMES]

# Scenes where a soft drop shadow under the subject makes sense (there is a surface).
GROUND_SCENES = {SCENE_NAMES.index(s) for s in (
    "beach", "beach_sunset", "snow", "desert", "city_street", "kitchen_counter", "wooden_table",
    "grass_field", "checkered_floor", "flower_field", "autumn_leaves", "rainy_day", "brick_wall",
    *_BACKDROPS)}


def paint_scenes(rng: Rng, scene_ids: torch.Tensor, S: int) -> torch.Tensor:
    """[B, 3, S, S] backgrounds; one vectorised painter call per distinct scene id."""
    b = scene_ids.shape[0]
    out = torch.empty(b, 3, S, S, device=rng.device)
    ids = scene_ids.tolist()
    for sid in sorted(set(ids)):
        idx = torch.tensor([i for i, s in enumerate(ids) if s == sid], device=rng.device)
        out[idx] = PAINTER_LIST[sid](rng, len(idx), S).expand(len(idx), 3, S, S)
    return out
