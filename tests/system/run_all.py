#!/usr/bin/env python3
"""Runs the appointd system tests and prints a final line "N passed, M failed[, K skipped]".

    python3 tests/system/run_all.py                 # every test_*.py here
    python3 tests/system/run_all.py test_api test_races.RaceTest.test_same_slot

Exits 0 only when nothing failed and something passed (everything skipped, e.g. no binary:
exit 1). A test counts once, however many of its subtests fail; a failing setUpClass counts
as one failure. A watchdog (APPOINTD_TEST_TIMEOUT seconds, default 1800) aborts a hung run; servers die with the runner (PR_SET_PDEATHSIG, see harness.py).
"""
import faulthandler
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class CountingResult(unittest.TextTestResult):
    """Records one outcome per test id: 'pass', 'fail' or 'skip' (fail wins)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes: dict[str, str] = {}

    def _mark(self, test, outcome):
        tid = test.test_case.id() if isinstance(test, unittest.case._SubTest) else test.id()
        if self.outcomes.get(tid) != "fail":
            self.outcomes[tid] = outcome

    def addSuccess(self, test):
        super().addSuccess(test)
        self._mark(test, "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._mark(test, "fail")

    def addError(self, test, err):
        super().addError(test, err)
        self._mark(test, "fail")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._mark(test, "skip")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._mark(test, "pass")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._mark(test, "fail")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._mark(subtest, "fail")


def main(argv: list[str]) -> int:
    faulthandler.dump_traceback_later(int(os.environ.get("APPOINTD_TEST_TIMEOUT", "1800")),
                                      exit=True)
    loader = unittest.TestLoader()
    if argv:
        names = [os.path.basename(a)[:-3] if a.endswith(".py") else a for a in argv]
        suite = loader.loadTestsFromNames(names)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=CountingResult)
    result = runner.run(suite)
    outcomes = list(result.outcomes.values())
    passed, failed, skipped = (outcomes.count(k) for k in ("pass", "fail", "skip"))
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
