"""Tests of fcgi_handlers.apache: rendering, the mod_python translation, and Apache's own syntax check."""
