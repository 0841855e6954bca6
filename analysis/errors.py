"""The one error of the analysis package: an input it cannot use."""


class InputError(ValueError):
    """A run file, table or argument that cannot be read as it should; the message names the file
    (with the line or key where known). The command-line entry points print it and exit with 2."""
