"""Turning findings, reports and views into text, Markdown and JSON, with untrusted text escaped."""
