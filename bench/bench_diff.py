"""How diff_html scales, against difflib on the same words.

Run: ``.venv/bin/python bench/bench_diff.py``. Builds prose-like HTML (paragraphs whose words follow a
Zipf-like mix of common and rare words, seeded so every run sees the same text), makes 50 scattered
word edits, and times ``diff_html`` against ``difflib.SequenceMatcher(None, old_words,
new_words).get_opcodes()`` on the same word lists, best of several repeats. difflib sees bare words
and does no HTML work at all, so the comparison flatters it.

Targets: at 100 KB, candor / difflib <= 0.5; candor at 1 MB / candor at 100 KB <= 12 (near-linear).
difflib is given a wall-clock cap at 1 MB (it runs in a child process that is killed at the cap).
"""

from __future__ import annotations

import difflib
import multiprocessing
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.corrections.diff import diff_html  # noqa: E402

SEED = 20240611
EDITS = 50
DIFFLIB_CAP_SECONDS = 120.0
COMMON = (
    "the of and to a in is that for it as was with be by on not he i this are or his from at which "
    "but have an they you were her she there been one all we their has would when if so no will more "
    "can said who what about out up them some could into only time new other than then also after "
    "first two may any these its over such our most even because people years report policy public"
).split()


def _vocabulary(rng: random.Random, rare: int = 30_000) -> tuple[list[str], list[float]]:
    """Common English words up front, then invented rare ones; weight 1/rank (Zipf, s=1.05)."""
    syllables = ["ka", "lo", "mi", "ran", "te", "vo", "su", "del", "phi", "gor", "an", "est", "ul", "bri"]
    invented: dict[str, None] = {}
    while len(invented) < rare:
        invented["".join(rng.choices(syllables, k=rng.randint(2, 4)))] = None
    words = COMMON + list(invented)
    return words, [1 / (rank + 1) ** 1.05 for rank in range(len(words))]


def build(size: int, rng: random.Random) -> tuple[list[list[str]], list[str], list[float]]:
    """Paragraphs of words, about ``size`` characters once rendered as HTML."""
    words, weights = _vocabulary(rng)
    paragraphs: list[list[str]] = []
    total = 0
    while total < size:
        para = rng.choices(words, weights, k=rng.randint(40, 120))
        paragraphs.append(para)
        total += sum(len(w) + 1 for w in para) + len("<p></p>\n")
    return paragraphs, words, weights


def edit(paragraphs: list[list[str]], words: list[str], rng: random.Random) -> list[list[str]]:
    """A copy with EDITS single words replaced, spread over the whole text."""
    edited = [list(p) for p in paragraphs]
    spots = rng.sample([(n, k) for n, p in enumerate(edited) for k in range(len(p))], EDITS)
    for n, k in spots:
        edited[n][k] = rng.choice([w for w in rng.sample(words, 5) if w != edited[n][k]])
    return edited


def to_html(paragraphs: list[list[str]]) -> str:
    return "".join(f"<p>{' '.join(p)}</p>\n" for p in paragraphs)


def best_of(repeats: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def _difflib_child(old: list[str], new: list[str], conn: object) -> None:
    elapsed = best_of(1, lambda: difflib.SequenceMatcher(None, old, new).get_opcodes())
    conn.send(elapsed)  # type: ignore[attr-defined]


def difflib_capped(old: list[str], new: list[str], cap: float) -> float | None:
    """difflib's time in a child process, or None if it had not finished within ``cap`` seconds."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_difflib_child, args=(old, new, child), daemon=True)
    proc.start()
    child.close()
    try:
        return parent.recv() if parent.poll(cap) else None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(1)


def case(size: int) -> tuple[str, str, list[str], list[str]]:
    rng = random.Random(SEED + size)
    paragraphs, words, _ = build(size, rng)
    edited = edit(paragraphs, words, rng)
    flat = lambda ps: [w for p in ps for w in p]  # noqa: E731
    return to_html(paragraphs), to_html(edited), flat(paragraphs), flat(edited)


def main() -> None:
    old_s, new_s, old_w, new_w = case(100_000)
    small = best_of(7, lambda: diff_html(old_s, new_s))
    small_ref = best_of(5, lambda: difflib.SequenceMatcher(None, old_w, new_w).get_opcodes())
    print(f"input 100KB: {len(old_s):,} chars, {len(old_w):,} words, {EDITS} edits")
    print(
        f"diff 100KB: candor {small:.4f}s difflib {small_ref:.4f}s ratio {small / small_ref:.2f}"
        f" (target <= 0.5)"
    )

    old_l, new_l, old_lw, new_lw = case(1_000_000)
    large = best_of(3, lambda: diff_html(old_l, new_l))
    print(f"input 1MB: {len(old_l):,} chars, {len(old_lw):,} words, {EDITS} edits")
    print(f"diff 1MB: candor {large:.4f}s; 1MB/100KB {large / small:.1f} (target <= 12)")
    large_ref = difflib_capped(old_lw, new_lw, DIFFLIB_CAP_SECONDS)
    if large_ref is None:
        print(
            f"diff 1MB: difflib did not finish within {DIFFLIB_CAP_SECONDS:.0f}s (single run);"
            f" ratio < {large / DIFFLIB_CAP_SECONDS:.4f}"
        )
    else:
        print(
            f"diff 1MB: candor {large:.4f}s difflib {large_ref:.4f}s (single run)"
            f" ratio {large / large_ref:.2f}; difflib 1MB/100KB {large_ref / small_ref:.1f}"
        )


if __name__ == "__main__":
    main()
