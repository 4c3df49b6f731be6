import sys

from carsim.run import main

sys.exit(main())
