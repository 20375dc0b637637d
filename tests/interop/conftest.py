import pytest

from rnnlab.tasks.charlm import CharLM
from rnnlab.tasks.classify import SequenceClassifier

WORDS = ["abba", "baab", "ab", "ba", "aaab", "bbba", "abababab", "b", "a", "bab", "aba", "abbbbbbbbb"]
LABELS = ["x", "y", "x", "y", "x", "y", "x", "y", "x", "y", "x", "x"]


@pytest.fixture(scope="package")
def charlm_run(tmp_path_factory):
    """A character model (2-layer LSTM with an embedding) trained 3 steps, saved as a run."""
    folder = tmp_path_factory.mktemp("runs")
    corpus = folder / "corpus.txt"
    corpus.write_text("the king and the queen of my lord\n" * 40, encoding="utf-8")
    CharLM(hidden_size=12, num_layers=2, embedding_dim=6, seq_len=8, batch_size=4, max_steps=3, eval_every=3,
           sample_every=0, eval_chars=200).fit(corpus, run_dir=folder / "charlm", progress=False)
    return folder / "charlm"


@pytest.fixture(scope="package")
def classify_run(tmp_path_factory):
    """A text classifier (bidirectional GRU) trained one epoch, saved as a run."""
    folder = tmp_path_factory.mktemp("runs") / "classify"
    SequenceClassifier(cell="gru", bidirectional=True, hidden_size=6, embedding_dim=4, epochs=1,
                       val_fraction=0.0).fit(WORDS, LABELS).save(folder)
    return folder
