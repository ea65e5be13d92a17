"""Loading and validating the vetted content and the conversation flows.

`load_bundle` is the single entry point: the bot calls it at start-up and
`python -m bot validate` calls it to report problems to editors.
"""

from bot.content.loader import ContentError, load_bundle
from bot.content.problems import Problem

__all__ = ["ContentError", "Problem", "load_bundle"]
