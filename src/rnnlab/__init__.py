"""rnnlab: learn, check and train recurrent neural networks.

The NumPy engine lives in `rnnlab.nn` (layers with hand-written backward passes) and
`rnnlab.optim`; the tasks are importable from the top level:

    from rnnlab import CharLM, Forecaster, SequenceClassifier, SequenceTagger
"""

from rnnlab.errors import RnnlabError
from rnnlab.tasks.charlm import CharLM
from rnnlab.tasks.classify import SequenceClassifier
from rnnlab.tasks.forecast import Forecaster
from rnnlab.tasks.tag import SequenceTagger

__version__ = "0.1.0"
__all__ = ["CharLM", "Forecaster", "RnnlabError", "SequenceClassifier", "SequenceTagger", "__version__"]
