"""The models behind understanding, loaded once per process: sentence embeddings and language ids.

They ship inside their registry packages (nothing is downloaded at run time) and
sit behind the core's small interfaces (`Embedder`, a language-guessing function),
so either can be replaced without touching the core.
"""
