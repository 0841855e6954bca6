"""unisparse in Python: a real model on the CPU (unisparse.model) and trace capture from it.

The package may span several folders (a compiled extension joins it from its build folder), so it
extends its path and imports nothing heavy here.
"""

__path__ = __import__("pkgutil").extend_path(__path__, __name__)
