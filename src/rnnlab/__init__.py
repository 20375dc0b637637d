"""rnnlab: learn, check and train recurrent neural networks.

The NumPy engine lives in `rnnlab.nn` and `rnnlab.optim`; tasks in `rnnlab.tasks`.
"""

from rnnlab.errors import RnnlabError

__version__ = "0.1.0"
__all__ = ["RnnlabError", "__version__"]
