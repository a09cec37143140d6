"""Accuracy on held-out data: each part builds its evaluation at run time from ``../shared/data``
windows it was not tuned on, freezes a test split, and prints precision, recall and F1 with 95 %
intervals beside the previous release's figures.

    python -m benchmarks.accuracy            # every part in PARTS
    python -m benchmarks.accuracy.reprints   # one part, with its own options
    python -m benchmarks.accuracy.topics_stream  # topics on the stream set: every tag on 3 months of feeds
"""

PARTS = ["reprints", "topics", "topics_stream", "review"]
