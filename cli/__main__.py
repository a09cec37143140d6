"""``python -m cli``: the ``newsmon`` command."""

from cli import main

if __name__ == "__main__":
    main()
