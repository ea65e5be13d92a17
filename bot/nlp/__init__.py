"""The sentence model behind understanding, loaded once per process, and the example cache.

The model ships inside its registry package (nothing is downloaded at run time) and
sits behind the core's small `Embedder` interface, so it can be replaced without
touching the core.
"""
