import json
import random

import pytest

from rnnlab.errors import RnnlabError
from rnnlab.metrics.seq2seq import sequence_scores


def tokens(text: str) -> list[str]:
    return text.split()


def test_a_prediction_equal_to_any_reference_is_an_exact_match():
    predictions = [tokens("T AH M AA T OW"), tokens("K AE T"), tokens("D AO G")]
    references = [[tokens("T AH M EY T OW"), tokens("T AH M AA T OW")], [tokens("K AE T")], [tokens("D AA G")]]
    scores = sequence_scores(predictions, references)
    assert scores["sequences"] == 3
    assert scores["exact_match"] == pytest.approx(2 / 3)
    assert scores["sequence_error_rate"] == pytest.approx(1 / 3)
    assert scores["token_error_rate"] == pytest.approx(1 / 12)  # one substitution in 6 + 3 + 3 reference tokens


def test_token_errors_are_counted_against_the_closest_reference():
    # distances 2 (to D AO G Z, 4 tokens) and 1 (to D AO G, 3 tokens): the closer one counts, 1/3
    assert sequence_scores([tokens("D AA G")], [[tokens("D AO G Z"), tokens("D AO G")]])["token_error_rate"] == \
        pytest.approx(1 / 3)
    # a tie at distance 1 (D AA G Z, 4 tokens; D AO G, 3 tokens) goes to the shorter: 1/3, not 1/4
    assert sequence_scores([tokens("D AA G")], [[tokens("D AA G Z"), tokens("D AO G")]])["token_error_rate"] == \
        pytest.approx(1 / 3)


def test_the_token_error_rate_sums_distances_over_reference_lengths_and_can_exceed_one():
    scores = sequence_scores([list("kat"), [], list("abcdef")], [[list("cat")], [list("no")], [list("a")]])
    assert scores["token_error_rate"] == pytest.approx((1 + 2 + 5) / (3 + 2 + 1))
    assert scores["exact_match"] == 0.0


def test_character_tokens_get_no_char_error_rate_bleu_or_chrf():
    scores = sequence_scores([list("cat")], [[list("cat")]])
    assert set(scores) == {"sequences", "exact_match", "sequence_error_rate", "token_error_rate", "by_length"}


def test_by_length_buckets_by_source_length_and_lists_only_buckets_with_items():
    predictions = [list("ab"), list("ab"), list("xy"), list("ab"), list("ab")]
    references = [[list("ab")], [list("ac")], [list("xy")], [list("zz")], [list("ab")]]
    scores = sequence_scores(predictions, references, lengths=[1, 4, 5, 8, 33])
    assert scores["by_length"] == [
        {"length": "1-4", "sequences": 2, "exact_match": 0.5, "token_error_rate": pytest.approx(1 / 4)},
        {"length": "5-8", "sequences": 2, "exact_match": 0.5, "token_error_rate": pytest.approx(2 / 4)},
        {"length": "33+", "sequences": 1, "exact_match": 1.0, "token_error_rate": 0.0},
    ]


def test_by_length_without_lengths_uses_the_closest_references_length():
    predictions = [list("abcd"), list("abcde"), list("x" * 20)]
    references = [[list("abcd"), list("abcdefghij")], [list("abcdefghijkl"), list("abcdef")], [list("x" * 17)]]
    scores = sequence_scores(predictions, references)
    assert [(bucket["length"], bucket["sequences"]) for bucket in scores["by_length"]] == \
        [("1-4", 1), ("5-8", 1), ("17-24", 1)]


def test_word_level_adds_char_error_rate_bleu_and_chrf():
    predictions = [tokens("the cat sat on the mat"), tokens("the cat sit")]
    references = [[tokens("the cat sat on the mat")], [tokens("a dog barked"), tokens("the cat sat")]]
    scores = sequence_scores(predictions, references, word_level=True)
    assert scores["token_error_rate"] == pytest.approx(1 / 9)
    assert scores["char_error_rate"] == pytest.approx(1 / (22 + 11))  # "sit" vs "sat": 1 character
    assert 0 < scores["bleu"] < 100 and 0 < scores["chrf"] < 100


def test_a_perfect_word_level_prediction_scores_bleu_and_chrf_100():
    predictions = [tokens("the cat sat on the mat"), tokens("a dog")]  # the second has no 3- or 4-grams
    references = [[tokens("the cat sat on the mat")], [tokens("one dog ran"), tokens("a dog")]]
    scores = sequence_scores(predictions, references, word_level=True)
    assert scores["bleu"] == pytest.approx(100) and scores["chrf"] == pytest.approx(100)
    assert scores["char_error_rate"] == 0.0 and scores["exact_match"] == 1.0
    short = sequence_scores([tokens("a dog")], [[tokens("a dog")]], word_level=True)
    assert short["bleu"] == pytest.approx(100)  # not 0 for want of 4-grams


def test_scores_are_plain_json_numbers():
    scores = sequence_scores([tokens("a b")], [[tokens("a c")]], lengths=[2], word_level=True)
    assert json.loads(json.dumps(scores)) == scores
    assert all(type(scores[key]) is float for key in ("exact_match", "token_error_rate", "bleu", "chrf"))


@pytest.mark.parametrize("predictions, references, lengths, match", [
    ([list("ab")], [[list("ab")], [list("cd")]], None, "1 predictions but 2 reference sets"),
    ([], [], None, "no predictions"),
    ([list("ab")], [[]], None, "item 0: expected a non-empty list of reference"),
    ([list("ab")], ["ab"], None, "item 0: expected a non-empty list of reference"),
    ([list("ab")], [[list("ab"), []]], None, "item 0: an empty reference"),
    ([list("ab")], [[list("ab")]], [1, 2], "2 lengths for 1 predictions"),
    ([list("ab")], [[list("ab")]], [0], "item 0: source length 0"),
])
def test_bad_input_is_refused_on_one_line(predictions, references, lengths, match):
    with pytest.raises(RnnlabError, match=match) as error:
        sequence_scores(predictions, references, lengths)
    assert "\n" not in str(error.value)


def test_six_thousand_items_score_as_drawn():
    """Half the predictions copy a reference, half spoil one symbol with "Z" (which no reference holds)."""
    rng = random.Random(0)
    references = [[[rng.choice("ABCDEFGH") for _ in range(rng.randint(2, 12))] for _ in range(rng.randint(1, 3))]
                  for _ in range(6000)]
    spoiled = [rng.random() < 0.5 for _ in references]
    predictions = [refs[0][:-1] + ["Z"] if bad else refs[-1] for refs, bad in zip(references, spoiled, strict=True)]
    scores = sequence_scores(predictions, references, lengths=[len(refs[0]) for refs in references])
    assert scores["exact_match"] == pytest.approx(1 - sum(spoiled) / 6000)
