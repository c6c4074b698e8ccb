"""Collection rules for the doctests under src/ (tests/conftest.py holds the fixtures)."""

from __future__ import annotations


def _torchvision_usable() -> bool:
    # a torchvision built for another torch raises more than ImportError on import
    try:
        import torchvision.transforms.v2  # noqa: F401
    except Exception:
        return False
    return True


# arraymix.torchvision's doctests need torchvision; tests/test_torchvision.py
# is then skipped with the reason, so the gap is reported, not silent.
collect_ignore = [] if _torchvision_usable() else ["src/arraymix/torchvision.py"]
