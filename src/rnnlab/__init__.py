"""rnnlab: learn, check and train recurrent neural networks.

The NumPy engine lives in `rnnlab.nn` (layers with hand-written backward passes) and
`rnnlab.optim`; the tasks are importable from the top level, and load on first use
(so `import rnnlab.nn` loads NumPy and the engine only):

    from rnnlab import CharLM, Forecaster, Seq2Seq, SequenceClassifier, SequenceTagger
"""

import importlib

from rnnlab.errors import RnnlabError

__version__ = "0.1.0"

_TASKS = {"CharLM": "rnnlab.tasks.charlm", "SequenceClassifier": "rnnlab.tasks.classify",
          "Forecaster": "rnnlab.tasks.forecast", "SequenceTagger": "rnnlab.tasks.tag",
          "Seq2Seq": "rnnlab.tasks.seq2seq"}
__all__ = ["CharLM", "Forecaster", "RnnlabError", "Seq2Seq", "SequenceClassifier", "SequenceTagger", "__version__"]


def __getattr__(name: str):
    if name in _TASKS:
        return getattr(importlib.import_module(_TASKS[name]), name)
    raise AttributeError(f"module 'rnnlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
