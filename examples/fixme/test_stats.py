"""The tests that catch the planted bug: run with `python3 -m unittest` in this directory."""

import unittest

from stats import mean, total


class StatsTest(unittest.TestCase):
    def test_total(self):
        self.assertEqual(total([1, 2, 3]), 6)

    def test_mean(self):
        self.assertEqual(mean([2, 4, 6]), 4)

    def test_mean_of_one_value(self):
        self.assertEqual(mean([5]), 5)


if __name__ == "__main__":
    unittest.main()
