"""herein: ask questions over a folder of documents, get cited passages back."""

__version__ = "0.1.0"
