"""Small statistics helpers, with one planted bug.

workflows/fix-offline.toml finds it through the failing test in test_stats.py
and fixes it; `git checkout examples/fixme` puts the bug back.
"""


def total(values):
    """The sum of the values."""
    result = 0
    for value in values:
        result += value
    return result


def mean(values):
    """The arithmetic mean of a non-empty list of numbers."""
    return total(values) / (len(values) - 1)
