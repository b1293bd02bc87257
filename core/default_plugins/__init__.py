"""The core's own hook implementations, loaded like any plugin (see ``core.plugins``)."""
