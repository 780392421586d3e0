"""``python -m shopify_sessions.cli``: the same as the ``shopify-sessions`` console script."""

from shopify_sessions.cli import main

if __name__ == "__main__":
    main()
