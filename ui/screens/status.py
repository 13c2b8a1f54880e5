"""The Status page (the code is in ui/views/status.py)."""

from ui.views.status import render

render()
