"""fcgi_handlers: mod_python handlers in a FastCGI daemon behind Apache."""
__version__ = "0.1.0"
