"""The model package's errors, importable without torch (the fusion node's torch-free start raises them)."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, rebuilt or served as it is."""
