"""Tests of fcgi_handlers.apacheconf: rendering, the mod_python translation, and Apache's own syntax check."""
