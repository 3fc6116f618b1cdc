"""Staff and developer tools, installed as console commands (pyproject.toml).

Each module has a ``main()``; ``make`` runs them as ``python -m ofr_tools.<name>``.
Several import Rasa (and with it TensorFlow and Sanic): their start-up notes and
deprecation warnings are kept out of the reports here, before any of them loads.
"""

import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
warnings.filterwarnings("ignore", category=DeprecationWarning)
