from qmri.cli import main

raise SystemExit(main())
