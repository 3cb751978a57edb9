"""Print the fallback TwiML: ``python -m handset_gateway.fallback NUMBER``."""

from __future__ import annotations

import sys

from handset_gateway.fallback import build

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m handset_gateway.fallback +33XXXXXXXXX")
    print(build(sys.argv[1]))
