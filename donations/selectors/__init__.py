"""Every read the donations pages need, one module per sub-domain (see services/).

Selectors return evaluated data so templates run no query; they never import a service.
"""
