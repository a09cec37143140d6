"""Topic precision and recall on the stream set: every tag on three months of feeds.

``python -m benchmarks.accuracy.topics_stream`` is ``python -m benchmarks.accuracy.topics
--labels benchmarks/accuracy/topics-labels-stream.jsonl --stream 0``: the stream set's figures,
weighted back to the stream, and the census of every tag that this checkout and the previous
release make on the 162,694 items (about a minute). Extra arguments are passed on.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from benchmarks.accuracy import build_topic_labels, topics


def main(argv: Sequence[str] | None = None) -> int:
    """Run the topic benchmark on the stream set; returns its exit code."""
    extra = list(sys.argv[1:] if argv is None and __name__ == "__main__" else argv or [])
    return topics.main(["--labels", str(build_topic_labels.STREAM), "--stream", "0", *extra])


if __name__ == "__main__":
    sys.exit(main())
