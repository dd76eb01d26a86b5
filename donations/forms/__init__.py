"""Forms read and check what a person typed; the services decide. One module per sub-domain."""
