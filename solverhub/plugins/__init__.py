"""Built-in plugins, one subpackage each. Each registers through the same hooks a third-party plugin
uses (see solverhub.core.hookspecs); the list lives in solverhub.core.manager.BUILTIN_PLUGINS."""
