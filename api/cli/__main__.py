"""`python -m api.cli` runs `invtrack`."""

from api.cli.main import main

raise SystemExit(main())
