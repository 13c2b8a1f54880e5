"""`python -m searchapp.cli`: the same as the `searchapp` command."""

from searchapp.cli.main import main

main()
