"""Notebook solids: a Jupyter notebook run with papermill as a solid (`solidflow[notebook]`).

In the notebook, `from solidflow.integrations.notebook import yield_output` and call
`yield_output(value, "name")` for each output.
"""

from solidflow.integrations.notebook.api import yield_output
from solidflow.integrations.notebook.solid import notebook_solid

__all__ = ["notebook_solid", "yield_output"]
