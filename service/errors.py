"""Errors a user can act on. The CLI and the API translate them at the edges."""


class HereinError(Exception):
    "Something went wrong in herein"


class IndexNotFound(HereinError):
    "No index at this path - run `herein build` first"


class IndexCorrupt(HereinError):
    "The index on disk is incomplete or damaged - run `herein build` again"


class ModelMismatch(HereinError):
    "The index was built with another embedding model - rebuild it or set HEREIN_MODEL to match"


class ModelNotFound(HereinError):
    "The embedding model could not be loaded - check HEREIN_MODEL"


class CorpusNotFound(HereinError):
    "The corpus folder does not exist - check --corpus / HEREIN_CORPUS_DIR"


class EmptyCorpus(HereinError):
    "The corpus has no readable documents - add .txt, .md, .html or .pdf files"


class BuildLocked(HereinError):
    "Another build is running on this index - wait for it to finish"


class DocumentNotFound(HereinError):
    "No document with this id in the index - list them with GET /v1/documents"


class LastDocument(HereinError):
    "The index's only document cannot be deleted - a build needs at least one to index"


class UnreadableDocument(HereinError):
    "This file cannot be read as a document; it is skipped"


class InvalidQuery(HereinError):
    "The question or its options are not usable - see the message for which"


class InvalidDataset(HereinError):
    "The eval dataset cannot be used - see the message for the file, line and value"


class GenerationNotFound(HereinError):
    "No such generation in this index - list them with `herein generations`"


class RebuildRunning(HereinError):
    "A rebuild is already running - wait for its job to finish"


class JobNotFound(HereinError):
    "No rebuild job with this id - jobs are kept in memory until the server restarts"


class UploadRefused(HereinError):
    "An uploaded file cannot be added to the corpus; nothing from its batch was written"


class BadFileName(UploadRefused):
    "A file name must be a plain name in the corpus: no folders, `/`, `\\`, `..` or dot-names"


class UnsupportedFileType(UploadRefused):
    "Only .txt, .md, .markdown, .html, .htm and .pdf files can be indexed"


class UnreadableUpload(UploadRefused):
    "An uploaded file cannot be read as a document of its type; it would only be skipped"


class FileTooLarge(UploadRefused):
    "The file is over the upload size cap (HEREIN_MAX_UPLOAD_BYTES)"


class FileExists(UploadRefused):
    "A file with this name is already in the corpus - pass ?overwrite=true to replace it"
