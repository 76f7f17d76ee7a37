"""Off-topic scoring: precision and recall on the test posts of tests/data/offtopic_labelled.json, for the
meaning scorer (app.spam.meaning) and the lexicon (app.spam.relevance) side by side, per subject group;
then what the model adds to a comment POST (median over 200 comments, with and without it, same run).

    .venv/bin/python bench/bench_offtopic.py            # the report
    .venv/bin/python bench/bench_offtopic.py --fit      # also fit the weights on the tuning posts

"Off-topic" is the positive class: precision is the share of held comments that were off-topic, recall
the share of off-topic comments that were held. The blog is every post of the set (a comment closer to
another post's subject counts against it); no moderator decisions are used (a fresh blog).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.spam import embedding, meaning, relevance  # noqa: E402

DATA = ROOT / "tests" / "data" / "offtopic_labelled.json"


def load() -> list[dict]:
    return json.loads(DATA.read_text())["posts"]


def post_vectors(posts: list[dict]) -> dict[int, meaning.PostVectors]:
    enc = embedding.encoder()
    found = {}
    for p in posts:
        pieces = meaning.passages_of(p["title"], p["body"], p.get("topics", ()))
        vectors = enc.encode_many([text for _, text in pieces])
        found[p["id"]] = meaning.PostVectors(
            str(p["id"]),
            p["title"],
            tuple(meaning.Passage(label, v) for (label, _), v in zip(pieces, vectors, strict=True)),
        )
    return found


def rows(posts: list[dict]):
    enc = embedding.encoder()
    vectors = post_vectors(posts)
    engagement = meaning.engagement_vectors()
    for p in posts:
        knowledge = meaning.Knowledge(vectors[p["id"]], list(vectors.values()), (), engagement)
        context = relevance.PostContext(p["title"], p["body"], p["references"], key=str(p["id"]))
        for c in p["comments"]:
            scored = meaning.score(c["text"], context, knowledge, vector=enc.encode(c["text"]))
            lexicon = relevance.score(c["text"], context)
            yield p, c, scored, lexicon


def fit(samples: list[tuple[dict[str, float], bool]]) -> None:
    names = ["post", "generic", "engaged", "other", "lexicon"]
    x = np.array([[f[n] for n in names] for f, _ in samples])
    y = np.array([1.0 if on else 0.0 for _, on in samples])
    x1 = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(x1.shape[1])
    for _ in range(20000):
        p = 1 / (1 + np.exp(-x1 @ w))
        w -= 0.5 * (x1.T @ (p - y) / len(y) + 0.001 * np.r_[0, w[1:]])
    print("fitted: bias and", names, np.round(w, 2))


def report(results, name: str, pick) -> None:
    by_group: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # tp, fp, fn
    for p, c, scored, lexicon in results:
        if p["split"] != "test":
            continue
        held = not pick(scored, lexicon).on_topic
        off = not c["on_topic"]
        counts = by_group[p["group"]]
        counts[0] += held and off
        counts[1] += held and not off
        counts[2] += off and not held
    total = [sum(v[i] for v in by_group.values()) for i in range(3)]
    print(f"\n{name}: off-topic precision / recall on the test posts")
    for group, (tp, fp, fn) in sorted(by_group.items()) + [("ALL", total)]:
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(
            f"  {group:24} precision {precision:.2f}  recall {recall:.2f}"
            f"  (held {tp + fp}, off-topic {tp + fn})"
        )


def main() -> None:
    posts = load()
    results = list(rows(posts))
    if "--fit" in sys.argv:
        fit([(s.features, c["on_topic"]) for p, c, s, _ in results if p["split"] == "tune"])
    if "--errors" in sys.argv:
        for p, c, s, _ in results:
            if s.on_topic != c["on_topic"]:
                print(p["split"], p["group"], "|", c["text"][:70], "|", s.score, s.drivers[:3])
    report(results, "meaning (app.spam.meaning)", lambda s, _: s)
    report(results, "lexicon (app.spam.relevance)", lambda _, lex: lex)


if __name__ == "__main__":
    main()
