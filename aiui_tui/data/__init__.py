"""Built-in data: model kinds, app manifests, the catalog, the default config."""
