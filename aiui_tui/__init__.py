"""aiui-tui: run Stable Diffusion web UIs in Docker from one terminal dashboard."""

__version__ = "0.1.0"
