"""The built-in scenario plugins. Each is loaded through the ``suite`` entry-point group."""
