"""The Upload page (the code is in ui/views/upload.py)."""

from ui.views.upload import render

render()
