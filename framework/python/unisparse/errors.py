"""Errors about the user's input: a bad file or argument. Command-line entry points print them and
exit with code 2, having written nothing."""

INPUT_ERROR_EXIT_CODE = 2


class InputError(Exception):
    """Bad input (argument, file, value); the message names the file, tensor or key at fault."""


class ModelFileError(InputError):
    """A model file that is missing, truncated, mis-shaped or of an unsupported kind."""

    def __init__(self, path, message):
        super().__init__(f"{path}: {message}")
        self.path = str(path)
