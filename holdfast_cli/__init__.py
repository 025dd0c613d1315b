"""The `holdfast` command (docs/operators.md): the operations of holdfast_ops, stock reads and
writes, and catalog import and export, over the same settings as the services."""
