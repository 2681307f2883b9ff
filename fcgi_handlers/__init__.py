"""fcgi_handlers: mod_python handlers in a FastCGI daemon behind Apache."""
from .build import prefer_source_when_asked

__version__ = "0.1.0"

prefer_source_when_asked()
