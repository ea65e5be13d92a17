"""Adapters that connect people to the chat service: Telegram and a terminal chat."""
