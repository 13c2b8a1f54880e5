"""The `searchapp` command line: thin commands over `searchapp` (the core), `ingest`,
`evaluation` and `ui`. The app is `cli.main.app`; one module per group of commands."""
