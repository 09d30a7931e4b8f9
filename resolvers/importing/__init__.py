"""Importing conversation exports (LibreChat, ChatGPT, Chatbot UI, Claude).

Storage-free: this package turns an uploaded file into LibreChat documents;
the caller writes them. See :func:`validate_import` and :func:`iter_import`.
"""

from .detection import ImportFormat, detect_format
from .documents import NO_PARENT, ParsedConversation
from .passes import ImportSummary, OpenStream, iter_import, validate_import
from .sources import DEFAULT_MAX_UNCOMPRESSED_BYTES

__all__ = [
    "DEFAULT_MAX_UNCOMPRESSED_BYTES",
    "NO_PARENT",
    "ImportFormat",
    "ImportSummary",
    "OpenStream",
    "ParsedConversation",
    "detect_format",
    "iter_import",
    "validate_import",
]
