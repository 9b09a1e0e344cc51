"""A metric across a model's versions as inline SVG: one point per version that has the metric, the versions
an alias holds marked and named, the better direction (from the policy) in the caption."""

from __future__ import annotations

from mlgate.catalog.html import e, num

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 640, 220, 56, 16, 24, 36


def chart(metric: str, points: list[tuple[int, float, list[str]]], direction: str | None, cid: str) -> str:
    """``points``: (version, value, aliases) in version order."""
    if not points:
        return ""
    values = [v for _, v, _ in points]
    lo, hi = min(values), max(values)
    if lo == hi:
        lo, hi = lo - 1 if lo == 0 else lo - abs(lo) * 0.05, hi + 1 if hi == 0 else hi + abs(hi) * 0.05
    span_x = max(1, len(points) - 1)

    def x(i: int) -> float:
        return PAD_L + (W - PAD_L - PAD_R) * (i / span_x if len(points) > 1 else 0.5)

    def y(v: float) -> float:
        return PAD_T + (H - PAD_T - PAD_B) * (1 - (v - lo) / (hi - lo))

    way = {"higher": "higher is better", "lower": "lower is better"}.get(direction or "", "direction unknown")
    title = f"{metric} across {len(points)} versions ({way})"
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (_, v, _) in enumerate(points))
    parts = [
        f'<figure class="chart"><svg viewBox="0 0 {W} {H}" role="img" aria-labelledby="{cid}-t" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="{cid}-t">{e(title)}</title>',
        f'<line class="axis" x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}"/>',
        f'<text class="tick" x="{PAD_L - 6}" y="{y(hi) + 4:.1f}" text-anchor="end">{num(hi)}</text>',
        f'<text class="tick" x="{PAD_L - 6}" y="{y(lo) + 4:.1f}" text-anchor="end">{num(lo)}</text>',
        f'<polyline class="series" points="{line}"/>',
    ]
    label_every = max(1, len(points) // 12)
    for i, (version, value, aliases) in enumerate(points):
        cls = "pt held" if aliases else "pt"
        held = f" ({', '.join(aliases)})" if aliases else ""
        parts.append(
            f'<circle class="{cls}" data-version="{version}" cx="{x(i):.1f}" cy="{y(value):.1f}" '
            f'r="{6 if aliases else 4}"><title>v{version}: {num(value)}{e(held)}</title></circle>'
        )
        if aliases:
            anchor = "end" if i == len(points) - 1 and len(points) > 1 else "start" if i == 0 else "middle"
            parts.append(
                f'<text class="alias-label" x="{x(i):.1f}" y="{max(12.0, y(value) - 10):.1f}" text-anchor="{anchor}">'
                f"{e(', '.join(aliases))}</text>"
            )
        if aliases or i % label_every == 0 or i == len(points) - 1:
            parts.append(
                f'<text class="tick" x="{x(i):.1f}" y="{H - PAD_B + 16}" text-anchor="middle">v{version}</text>'
            )
    parts.append(f"</svg><figcaption>{e(title)}</figcaption></figure>")
    return "".join(parts)
