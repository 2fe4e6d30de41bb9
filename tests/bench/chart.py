#!/usr/bin/env python3
"""Draws latency against load from the benchmarks' JSON lines, as one SVG with two panels.

- Chat fan-out (`loadgen` lines): the p50 and p99 of each system against deliveries per second.
- Live typing (`typing` lines): the p50 and p99 of each system against the number of typing clients.

Standard library only. Usage:

    python3 tests/bench/chart.py docs/bench-data/chat-*.jsonl docs/bench-data/typing.jsonl > docs/latency-vs-load.svg

Lines that are not JSON objects (the generators' summaries) are skipped, and so are systems without a
colour below (the scale-out runs' `clusterN`, A/B runs' `relay-baseline`): the chart compares the relay with
the Node sync server and the chat ceiling. Several runs at one load are drawn as their median.
"""

import json
import math
import statistics
import sys
from collections import defaultdict

COLORS = {"relay": "#1f6feb", "ceiling": "#8b949e", "node": "#d1242f"}
WIDTH, HEIGHT = 980, 445
PANEL_W, PANEL_H = 400, 300
TOP, LEFT_PAD = 60, 70


def load(paths):
    chat = defaultdict(lambda: defaultdict(list))
    typing = defaultdict(lambda: defaultdict(list))
    for path in paths:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                run = json.loads(line)
                if run.get("system") not in COLORS:
                    continue
                if "offered_per_s" in run and not run.get("saturated"):
                    chat[run["system"]][run["delivered_per_s"]].append((run["p50_ms"], run["p99_ms"]))
                elif "keystrokes" in run and not run.get("saturated"):
                    typing[run["system"]][run["clients"]].append((run["p50_ms"], run["p99_ms"]))
    return chat, typing


def medians(series):
    return {
        system: sorted(
            (x, statistics.median(p for p, _ in runs), statistics.median(q for _, q in runs))
            for x, runs in points.items()
        )
        for system, points in series.items()
    }


def panel(origin_x, title, x_label, series, x_log):
    """One panel's SVG: log-scale latency (0.5 ms to 20 s) against load."""
    out = []
    xs = [x for points in series.values() for x, _, _ in points] or [1]
    x_min, x_max = min(xs), max(xs)
    if x_log:
        lo, hi = math.log10(x_min) - 0.1, math.log10(x_max) + 0.1
        fx = lambda x: origin_x + (math.log10(x) - lo) / (hi - lo) * PANEL_W
    else:
        lo, hi = 0, x_max * 1.08
        fx = lambda x: origin_x + (x - lo) / (hi - lo) * PANEL_W
    y_lo, y_hi = math.log10(0.5), math.log10(20000)
    fy = lambda ms: TOP + PANEL_H - (math.log10(max(ms, 0.5)) - y_lo) / (y_hi - y_lo) * PANEL_H

    out.append(f'<text x="{origin_x + PANEL_W / 2}" y="{TOP - 25}" text-anchor="middle" font-weight="bold">{title}</text>')
    out.append(f'<rect x="{origin_x}" y="{TOP}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#444"/>')
    for ms in [1, 10, 100, 1000, 10000]:
        y = fy(ms)
        label = f"{ms} ms" if ms < 1000 else f"{ms // 1000} s"
        out.append(f'<line x1="{origin_x}" x2="{origin_x + PANEL_W}" y1="{y}" y2="{y}" stroke="#ddd"/>')
        out.append(f'<text x="{origin_x - 6}" y="{y + 4}" text-anchor="end" font-size="11">{label}</text>')
    y100 = fy(100)
    out.append(
        f'<line x1="{origin_x}" x2="{origin_x + PANEL_W}" y1="{y100}" y2="{y100}" stroke="#d1242f" stroke-dasharray="4 3"/>'
    )
    out.append(f'<text x="{origin_x + PANEL_W - 4}" y="{y100 - 4}" text-anchor="end" font-size="10" fill="#d1242f">100 ms goal</text>')
    last = -1e9
    for x in sorted(set(xs)):
        if fx(x) - last < 34:
            continue  # too close to the previous label to read
        last = fx(x)
        label = f"{x / 1000:.0f}k" if x >= 1000 else f"{x:g}"
        out.append(f'<text x="{fx(x)}" y="{TOP + PANEL_H + 16}" text-anchor="middle" font-size="11">{label}</text>')
    out.append(f'<text x="{origin_x + PANEL_W / 2}" y="{TOP + PANEL_H + 36}" text-anchor="middle" font-size="12">{x_label}</text>')
    for system, points in sorted(series.items()):
        color = COLORS.get(system, "#000")
        for index, dash in ((1, ""), (2, ' stroke-dasharray="5 3"')):
            path = " ".join(f"{fx(p[0]):.1f},{fy(p[index]):.1f}" for p in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
            for p in points:
                out.append(f'<circle cx="{fx(p[0]):.1f}" cy="{fy(p[index]):.1f}" r="3" fill="{color}"/>')
    return out


def main(paths):
    chat, typing = load(paths)
    chat, typing = medians(chat), medians(typing)
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
    ]
    svg += panel(LEFT_PAD, "Chat fan-out, 1,000 clients in teams of 100", "deliveries per second", chat, True)
    svg += panel(LEFT_PAD + PANEL_W + 110, "Live typing, one document, 6 keystrokes/s each", "typing clients (M)", typing, False)
    legend_x, legend_y = LEFT_PAD, HEIGHT - 12
    for system in sorted(set(chat) | set(typing)):
        color = COLORS.get(system, "#000")
        svg.append(f'<line x1="{legend_x}" x2="{legend_x + 24}" y1="{legend_y - 4}" y2="{legend_y - 4}" stroke="{color}" stroke-width="2"/>')
        svg.append(f'<text x="{legend_x + 30}" y="{legend_y}">{system}</text>')
        legend_x += 110
    svg.append(f'<text x="{legend_x + 20}" y="{legend_y}">solid: p50 · dashed: p99 · medians of the runs at each load</text>')
    svg.append("</svg>")
    print("\n".join(svg))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
