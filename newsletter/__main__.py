"""`python -m newsletter` works the same as the `newsletter` command."""

from newsletter.cli import main

main(prog_name="newsletter")
