"""The version of awing (awing_ext and training), defined here once: pyproject.toml reads it."""
__version__ = "0.3.0"
