"""Exporting a selection of conversations: LibreChat JSON, Markdown, JSONL, streamed."""
