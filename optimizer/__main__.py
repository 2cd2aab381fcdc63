"""``python -m optimizer`` is the same as the ``capalloc`` console script."""

from optimizer.cli import main

if __name__ == "__main__":
    main()
