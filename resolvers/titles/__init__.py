"""Conversation titles: generation (an OpenAI-compatible API or offline rules),
the read-once cache the gen_title route polls, and the background runner.
"""
