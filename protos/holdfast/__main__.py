"""`python -m holdfast`: the `holdfast` command (holdfast_cli.main); `holdfast` is also the
generated stubs' package, so this shim is the one hand-written, tracked file in it."""

from holdfast_cli.main import main

raise SystemExit(main())
