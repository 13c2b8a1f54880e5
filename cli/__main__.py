"""`python -m cli`: the same as the `searchapp` command."""

from cli.main import main

main()
