"""The one exception type a user should ever see: the CLI prints it as a single line, no traceback."""


class FervidError(Exception):
    """A problem with the user's input (a file, a folder, an option), stated so they can fix it."""
