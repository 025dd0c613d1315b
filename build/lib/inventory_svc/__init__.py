"""inventory_svc: catalog, stock per SKU and holds over gRPC."""
