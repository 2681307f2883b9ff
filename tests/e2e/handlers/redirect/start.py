# a page the redirect test maps to api_surface::redirector
