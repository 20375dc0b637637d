"""Sequence-to-sequence scores: exact match, token (and character) error rate, BLEU and chrF, by length.

Each item has one predicted token list and one or more acceptable references (CMUdict spells
some words two ways): a prediction is right when it equals any of them, and its errors are
counted against the closest one, the reference at the smallest Levenshtein distance (on a tie,
the shorter). The token error rate is the sum of those distances over the sum of those
references' lengths, as speech recognition counts word error rate; it can exceed 1.

>>> scores = sequence_scores([["K", "AE", "T"], ["D", "AA", "G"]],
...                          [[["K", "AE", "T"]], [["D", "AO", "G"], ["D", "AA", "G", "Z"]]])
>>> scores["exact_match"], scores["token_error_rate"]  # 1 of 2 right; 1 substitution in 6 tokens
(0.5, 0.16666666666666666)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rapidfuzz.distance import Levenshtein

from rnnlab.errors import RnnlabError

# (label, longest length in the bucket): lengths up to 4 fall in "1-4", and so on
BUCKETS = [("1-4", 4), ("5-8", 8), ("9-12", 12), ("13-16", 16), ("17-24", 24), ("25-32", 32), ("33+", None)]


def sequence_scores(
    predictions: Sequence[Sequence[str]],
    references: Sequence[Sequence[Sequence[str]]],
    lengths: Sequence[int] | None = None,
    word_level: bool = False,
) -> dict[str, Any]:
    """Scores of N predicted token sequences against their references, as plain JSON-ready numbers.

    `predictions[i]`: the tokens predicted for item i (characters, or words when `word_level`).
    `references[i]`: a non-empty list of acceptable token lists for item i.
    `lengths[i]`: the source length of item i in tokens, for the `by_length` buckets; None buckets
    by the closest reference's length instead.

    Returns `sequences` (N), `exact_match` and `sequence_error_rate` (shares in [0, 1]),
    `token_error_rate`, and `by_length`: for each bucket holding items (1-4, 5-8, 9-12, 13-16,
    17-24, 25-32, 33+), its `length` label, `sequences`, `exact_match` and `token_error_rate`.
    With `word_level`, also `char_error_rate` (the same count on the tokens joined by spaces) and
    sacreBLEU's corpus `bleu` and `chrf` (0-100, default tokenizer) against all references; for character tokens
    those would only repeat `token_error_rate`, so they are left out.
    """
    items = _checked(predictions, references, lengths)
    distances, reference_lengths = zip(*(_closest(prediction, refs) for prediction, refs in items), strict=True)
    correct = [distance == 0 for distance in distances]
    scores: dict[str, Any] = {"sequences": len(items), **_rates(correct, distances, reference_lengths)}
    if word_level:
        joined = [(" ".join(prediction), [" ".join(ref) for ref in refs]) for prediction, refs in items]
        char_distances, char_lengths = zip(*(_closest(prediction, refs) for prediction, refs in joined), strict=True)
        scores["char_error_rate"] = sum(char_distances) / sum(char_lengths)
        scores.update(_sacrebleu_scores(joined))
    keys = [_bucket(length) for length in (reference_lengths if lengths is None else lengths)]
    scores["by_length"] = []
    for label, _ in BUCKETS:
        members = [i for i, key in enumerate(keys) if key == label]
        if members:
            rates = _rates([correct[i] for i in members], [distances[i] for i in members],
                           [reference_lengths[i] for i in members])
            scores["by_length"].append({"length": label, "sequences": len(members),
                                        "exact_match": rates["exact_match"],
                                        "token_error_rate": rates["token_error_rate"]})
    return scores


def _checked(
    predictions: Sequence[Sequence[str]],
    references: Sequence[Sequence[Sequence[str]]],
    lengths: Sequence[int] | None,
) -> list[tuple[list[str], list[list[str]]]]:
    """(prediction, references) per item as lists, after checking counts, references and lengths."""
    if len(predictions) != len(references):
        raise RnnlabError(f"{len(predictions)} predictions but {len(references)} reference sets; "
                          f"expected one set of references per prediction")
    if not predictions:
        raise RnnlabError("no predictions to score")
    if lengths is not None:
        if len(lengths) != len(predictions):
            raise RnnlabError(f"{len(lengths)} lengths for {len(predictions)} predictions; expected one per prediction")
        for i, length in enumerate(lengths):
            if isinstance(length, bool) or not isinstance(length, int) or length < 1:
                raise RnnlabError(f"item {i}: source length {length!r}, expected a positive integer")
    items = []
    for i, (prediction, refs) in enumerate(zip(predictions, references, strict=True)):
        if isinstance(refs, str) or not refs:
            raise RnnlabError(f"item {i}: expected a non-empty list of reference token lists, got {refs!r:.60}")
        refs = [list(ref) for ref in refs]
        if not all(refs):
            raise RnnlabError(f"item {i}: an empty reference; every reference needs at least one token")
        items.append((list(prediction), refs))
    return items


def _closest(prediction: Sequence[str], references: list) -> tuple[int, int]:
    """(edit distance, length) of the reference closest to `prediction`; on a tie, the shorter one."""
    return min((Levenshtein.distance(prediction, ref), len(ref)) for ref in references)


def _rates(correct: Sequence[bool], distances: Sequence[int], reference_lengths: Sequence[int]) -> dict[str, float]:
    exact_match = sum(correct) / len(correct)
    return {"exact_match": exact_match, "sequence_error_rate": 1.0 - exact_match,
            "token_error_rate": sum(distances) / sum(reference_lengths)}


def _bucket(length: int) -> str:
    return next(label for label, longest in BUCKETS if longest is None or length <= longest)


def _sacrebleu_scores(joined: list[tuple[str, list[str]]]) -> dict[str, float]:
    """Corpus BLEU and chrF (0-100) of the joined predictions against every reference."""
    import sacrebleu  # only word-level scores need it, and it is slow to import

    hypotheses = [prediction for prediction, _ in joined]
    most = max(len(refs) for _, refs in joined)
    # sacreBLEU takes one stream per reference slot; items with fewer references pad theirs with None
    streams = [[refs[k] if k < len(refs) else None for _, refs in joined] for k in range(most)]
    # effective order: a corpus whose predictions hold no 4-gram (all of 3 tokens or fewer) is scored on the orders
    # it has, not 0; on any other corpus the score is sacreBLEU's standard corpus BLEU
    bleu = sacrebleu.corpus_bleu(hypotheses, streams, use_effective_order=True)
    return {"bleu": float(bleu.score),
            "chrf": float(sacrebleu.corpus_chrf(hypotheses, streams).score)}
