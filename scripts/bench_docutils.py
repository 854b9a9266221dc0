#!/usr/bin/env python3
"""Times docutils and `flowgen check` over the same folder of documents.

Usage: bench_docutils.py CORPUS_DIR FLOWGEN_BINARY [RUNS]

docutils: `docutils.core.publish_doctree` on every file (the parse only, no writer),
in this process. flowgen: `flowgen check CORPUS_DIR` as a subprocess (read, resolve,
check and print the findings), its output discarded. Each is run RUNS times (default 1)
and the best time is reported (flowgen at least 5 times), with the throughput and the ratio.
"""
import glob
import os
import subprocess
import sys
import time


def best_of(runs, fn):
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    corpus, flowgen = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    files = sorted(glob.glob(os.path.join(corpus, "*.rst")))
    if not files:
        print(f"no *.rst in {corpus}", file=sys.stderr)
        return 2
    texts = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            texts.append(fh.read())
    size = sum(len(t.encode("utf-8")) for t in texts)

    import docutils
    import docutils.core

    # Quiet: the documents are valid RST; report nothing, halt on nothing.
    settings = {"report_level": 5, "halt_level": 5, "warning_stream": False}

    def docutils_all():
        for t in texts:
            docutils.core.publish_doctree(t, settings_overrides=settings)

    def flowgen_check():
        done = subprocess.run(
            [flowgen, "check", corpus],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # 0: no findings that fail; 1: errors. Anything else is a crash.
        if done.returncode not in (0, 1):
            raise SystemExit(f"flowgen check failed with exit code {done.returncode}")

    d = best_of(runs, docutils_all)
    f = best_of(max(runs, 5), flowgen_check)
    mb = size / 1e6
    print(f"corpus: {len(files)} documents, {size} bytes ({mb:.2f} MB)")
    print(f"docutils {docutils.__version__} publish_doctree: {d:.3f} s ({mb / d:.1f} MB/s), best of {runs}")
    print(f"flowgen check:                  {f:.3f} s ({mb / f:.1f} MB/s), best of {max(runs, 5)}")
    print(f"ratio: flowgen check is {d / f:.1f}x faster than docutils' parse alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
