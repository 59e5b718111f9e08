"""The project's three kinds of failure, each reported to the user as one sentence.

A stage entry point (`galaxy_xai.runtime.run`) prints the message of any of these without a
traceback: the sentence names the key, file or column and what was expected.
"""


class GalaxyXAIError(Exception):
    """Base of every failure the project reports as one sentence."""


class ParamError(GalaxyXAIError, ValueError):
    """A params.yaml key is missing, unknown, of the wrong type or out of range."""


class InputError(GalaxyXAIError, ValueError):
    """An input file, column, key or image is missing or malformed."""


class StaleOutputError(GalaxyXAIError):
    """An upstream stage's output is missing or does not match what this stage was asked for."""


class TrainingError(GalaxyXAIError):
    """A model's training diverged (its loss became NaN or infinite)."""
