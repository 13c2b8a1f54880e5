"""The API's routes, one module per concern; `searchapp.api.app` includes them under /v1."""
