"""Run the binding's unittest suite; the last line is "python: N passed, M failed".

    PYTHONPATH=build/python/<tag> python3 bindings/python/tests/run_tests.py [-k PATTERN]"""
import os
import sys
import time
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)


class Result(unittest.TextTestResult):
    pass


def main():
    loader = unittest.TestLoader()
    if len(sys.argv) > 2 and sys.argv[1] == "-k":
        loader.testNamePatterns = ["*%s*" % sys.argv[2]]
    suite = loader.discover(here, pattern="test_*.py", top_level_dir=here)
    t0 = time.time()
    res = unittest.TextTestRunner(verbosity=2, stream=sys.stdout, resultclass=Result).run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    skipped = len(res.skipped)
    passed = res.testsRun - failed - skipped
    import tcpsession
    print("python %s, tcpsession %s from %s, %.1f s, %d skipped" % (
        sys.version.split()[0], tcpsession.version(), os.path.dirname(tcpsession.__file__), time.time() - t0,
        skipped))
    print("python: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
