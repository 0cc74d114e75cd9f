"""Fakes shared by the whole suite: helpdesk APIs, Slack, an OpenAI-compatible server, a clock."""
