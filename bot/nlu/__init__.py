"""NLU components, named in config.yml.

Every Rasa process that loads a model imports this package (rasa run, shell, test):
the patches of Rasa's own code (bot/rasa_patches) are installed here.
"""

from bot.rasa_patches import install_all

install_all()
