"""`python -m fcgi_handlers` is the `fcgi-handlers` command."""
from fcgi_handlers.cli import main

raise SystemExit(main())
