"""The Telegram channel: webhook or polling input, formatted output, button payloads."""
