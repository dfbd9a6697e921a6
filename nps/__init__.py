"""Shared, pure code of the NPS bot: used by the bot and by analytics (standard library and PyYAML only)."""
