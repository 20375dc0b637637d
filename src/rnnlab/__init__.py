"""rnnlab: learn, check and train recurrent neural networks.

The NumPy engine lives in `rnnlab.nn` (layers with hand-written backward passes) and
`rnnlab.optim`; the tasks are importable from the top level:

    from rnnlab import CharLM, Forecaster
"""

from rnnlab.errors import RnnlabError
from rnnlab.tasks.charlm import CharLM
from rnnlab.tasks.forecast import Forecaster

__version__ = "0.1.0"
__all__ = ["CharLM", "Forecaster", "RnnlabError", "__version__"]
