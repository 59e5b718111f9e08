"""galaxy-xai: explaining what deep networks learn from galaxy images."""
__version__ = "0.1.0"
