"""``python -m sentiment``: the same CLI as the ``sentiment`` console script."""

from sentiment.entry import main

main()
