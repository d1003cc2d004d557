"""The one error type users see: a one-line message naming the problem."""


class CostError(ValueError):
    """A spec, size or option that cannot be evaluated; `str(err)` is the whole message."""
